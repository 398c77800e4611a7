"""The catalog is the one list of names and defaults: the engine implements every entry, Keras agrees
with every default, and the spec accepts exactly what the catalog says each name takes."""
import ast
import itertools
import sys
from pathlib import Path
from typing import get_args

import jax.numpy as jnp
import numpy as np
import pytest

from mlplab import catalog
from mlplab.engine import models, optimizers
from mlplab.errors import BadInput
from mlplab.spec import Init, Layer, ModelSpec, load_spec, validate
from mlplab.spec.schema import Data, EarlyStopping, Optimizer, Train

import keras  # after mlplab, which selects the JAX backend

OPTIMIZER_NAMES = list(catalog.OPTIMIZERS)
INITIALIZER_NAMES = list(catalog.INITIALIZERS)
LAYER_TYPES = list(catalog.LAYER_KEYS)


def test_the_catalog_is_plain_data_from_the_standard_library_alone():
    tree = ast.parse(Path(catalog.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] or "." for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    assert not [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]


# ---------------------------------------------------------------- optimizers

def test_every_catalog_optimizer_is_implemented_by_the_engine():
    assert set(optimizers.BUILDERS) == set(catalog.OPTIMIZERS) == set(catalog.OPTIMIZER_CLASSES)
    assert optimizers.NAMES == tuple(catalog.OPTIMIZERS)
    assert optimizers.STATIC == set(catalog.STATIC_OPTIONS)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_every_optimizer_takes_a_step_with_every_structural_option(name):
    static = [k for k in catalog.OPTIMIZERS[name] if k in catalog.STATIC_OPTIONS]
    params, grads = [jnp.ones((2, 3)), jnp.ones(3)], [jnp.full((2, 3), 0.5), jnp.full(3, -0.5)]
    for values in itertools.product([False, True], repeat=len(static)):
        opt = optimizers.make(name, **dict(zip(static, values)))
        hyper = optimizers.hyperparameters(name)
        new, state = opt.update(grads, opt.init(params, hyper), params, hyper)
        assert int(state["iterations"]) == 1
        assert all(np.all(np.isfinite(p)) and not np.allclose(p, q) for p, q in zip(new, params))


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_optimizer_defaults_are_the_defaults_of_the_keras_class(name):
    cls = getattr(keras.optimizers, catalog.OPTIMIZER_CLASSES[name])
    config = cls().get_config()                      # Keras' own defaults, as the class instantiates them
    ours = catalog.OPTIMIZERS[name]
    for key, value in ours.items():
        assert key in config, key
        if isinstance(value, bool):
            assert config[key] is value, key
        else:
            assert type(value) is float and config[key] == pytest.approx(value, rel=1e-6), key  # lr is float32
    given = cls(**ours).get_config()                 # each is a constructor argument of that class
    assert {k: v for k, v in given.items() if k != "name"} == {k: v for k, v in config.items() if k != "name"}
    assert type(optimizers.keras_optimizer(name, {})) is cls


def test_static_options_are_the_boolean_parameters():
    booleans = {k for params in catalog.OPTIMIZERS.values() for k, v in params.items() if isinstance(v, bool)}
    assert booleans == set(catalog.STATIC_OPTIONS)
    every = {k for params in catalog.OPTIMIZERS.values() for k in params}
    assert set(catalog.OPTIMIZER_BOUNDS) <= every


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_spec_accepts_exactly_the_catalog_parameters_of_an_optimizer(name):
    takes = catalog.OPTIMIZERS[name]
    for key, value in takes.items():
        exp = validate({"train": {"optimizer": {"name": name, key: value}}})
        assert exp.train.optimizer.settings() == takes
    others = {k: v for other in catalog.OPTIMIZERS.values() for k, v in other.items() if k not in takes}
    for key, value in others.items():
        with pytest.raises(BadInput, match=rf"^train\.optimizer\.{key} = .*: does not apply to {name}; "):
            validate({"train": {"optimizer": {"name": name, key: value}}})
    resolved = load_spec(None, [f"train.optimizer={name}"]).resolved()["train"]["optimizer"]
    assert resolved == {"name": name, **takes}


def test_spec_optimizer_has_one_field_per_catalog_parameter():
    every = {k for params in catalog.OPTIMIZERS.values() for k in params}
    assert set(Optimizer.model_fields) == {"name"} | every
    assert get_args(Optimizer.model_fields["name"].annotation) == tuple(catalog.OPTIMIZERS)


# ---------------------------------------------------------------- initializers

@pytest.mark.parametrize("name", INITIALIZER_NAMES)
def test_every_initializer_builds_with_keras_defaults(name):
    built = models.initializer(Init(name=name))
    cls = getattr(keras.initializers, catalog.INITIALIZER_CLASSES[name])
    assert type(built) is cls
    keras_defaults = cls().get_config()
    assert {k: keras_defaults[k] for k in catalog.INITIALIZERS[name]} == catalog.INITIALIZERS[name]
    assert models.draw(built, (3, 2), np.random.default_rng(0)).shape == (3, 2)


@pytest.mark.parametrize("name", INITIALIZER_NAMES)
def test_spec_accepts_exactly_the_catalog_parameters_of_an_initializer(name):
    takes = catalog.INITIALIZERS[name]
    init = validate({"model": {"init": name}}).model.init
    assert {k: getattr(init, k) for k in takes} == takes
    assert init.model_dump() == {"name": name, **takes}
    for key, value in takes.items():
        assert getattr(validate({"model": {"init": {"name": name, key: value}}}).model.init, key) == value
    others = {k: v for other in catalog.INITIALIZERS.values() for k, v in other.items() if k not in takes}
    for key, value in others.items():
        with pytest.raises(BadInput, match=rf"^model\.init\.{key} = .*: does not apply to {name}; it takes"):
            validate({"model": {"init": {"name": name, key: value}}})


def test_spec_init_has_one_field_per_catalog_parameter():
    every = {k for params in catalog.INITIALIZERS.values() for k in params}
    assert set(Init.model_fields) == {"name"} | every
    assert set(catalog.INITIALIZER_CLASSES) == set(catalog.INITIALIZERS)


# ---------------------------------------------------------------- layers

def test_every_layer_type_has_a_builder():
    assert set(models.LAYER_BUILDERS) == set(catalog.LAYER_KEYS)
    assert set(catalog.LAYER_NEEDS) <= set(catalog.LAYER_KEYS) and set(catalog.IMAGE_LAYERS) <= set(catalog.LAYER_KEYS)
    for kind, needs in catalog.LAYER_NEEDS.items():
        assert set(needs) <= set(catalog.LAYER_KEYS[kind])


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_every_layer_type_builds(kind):
    layer = Layer(type=kind, **catalog.LAYER_NEEDS.get(kind, {}))
    model = models.build_model(ModelSpec(layers=[layer]), (8, 8, 1), 3)
    assert f"{kind}_1" in [k.name for k in model.layers]
    assert model.output_shape == (None, 3)


@pytest.mark.parametrize("kind", LAYER_TYPES)
def test_spec_accepts_exactly_the_catalog_keys_of_a_layer_type(kind):
    takes = catalog.LAYER_KEYS[kind]
    needs = catalog.LAYER_NEEDS.get(kind, {})
    example = {"units": 4, "activation": "tanh", "init": "zeros", "l1": 0.1, "l2": 0.1, "filters": 4, "kernel": 2,
               "strides": 2, "padding": "same", "size": 3, "rate": 0.5}
    assert set(example) == set(Layer.model_fields) - {"type"}
    for key in takes:
        layer = Layer.model_validate({"type": kind, **needs, key: example[key]})
        assert key in layer.model_dump()
    for key in set(example) - set(takes):
        with pytest.raises(BadInput, match=rf"^model\.layers\[0\]\.{key} = .*: does not apply to a {kind} layer"):
            validate({"model": {"layers": [{"type": kind, **needs, key: example[key]}]}})
    for key in needs:
        with pytest.raises(BadInput, match=rf"^model\.layers\[0\]\.{key}: missing: a {kind} layer needs {key}"):
            validate({"model": {"layers": [{"type": kind}]}})
    assert ModelSpec(layers=[Layer(type=kind, **needs)]).convolutional == (kind in catalog.IMAGE_LAYERS)


# ---------------------------------------------------------------- the other names

def test_spec_choices_are_the_catalog_names():
    assert get_args(ModelSpec.model_fields["activation"].annotation) == catalog.ACTIVATIONS
    assert get_args(Layer.model_fields["type"].annotation) == tuple(catalog.LAYER_KEYS)
    assert get_args(Train.model_fields["loss"].annotation) == catalog.LOSSES
    assert get_args(EarlyStopping.model_fields["monitor"].annotation) == catalog.MONITORS
    assert get_args(Data.model_fields["scale"].annotation) == catalog.SCALES
