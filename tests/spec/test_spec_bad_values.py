"""The spec refuses a bad value with one line: the field, the value as given, and what is allowed."""
import copy
import json

import numpy as np
import pytest

from mlplab.errors import BadInput
from mlplab.spec import INITIALIZERS, load_spec, validate
from test_spec import bad


# ---------------------------------------------------------------- bad values

# (overrides, field named first, the bad value as shown, words saying what is allowed)
BAD = [
    (["model.activation=rleu"], "model.activation", '"rleu"', '"relu", "sigmoid", "tanh"'),
    (["model.activation=3"], "model.activation", "3", '"relu"'),
    (["model.hidden=[0]"], "model.hidden", "[0]", "positive layer widths"),
    (["model.hidden=[64, -1]"], "model.hidden", "[64, -1]", "positive layer widths"),
    (['model.hidden="abc"'], "model.hidden", '"abc"', "a list of positive layer widths"),
    (["model.hidden=abc"], "model.hidden", '"abc"', "a list of positive layer widths, e.g. [128, 64]"),
    (["model.hidden=[1.5]"], "model.hidden[0]", "1.5", "positive whole number"),
    (["model.dropout=1.5"], "model.dropout", "1.5", "a number >= 0 and < 1"),
    (["model.dropout=-0.1"], "model.dropout", "-0.1", "a number >= 0 and < 1"),
    (["model.l2=-1"], "model.l2", "-1", "a number >= 0"),
    (["model.batchnorm=maybe"], "model.batchnorm", '"maybe"', "true or false"),
    (["model.init=foo"], "model.init.name", '"foo"', "glorot_uniform, glorot_normal, he_normal"),
    (['model.init={name="random_normal", stddev=-1}'], "model.init.stddev", "-1", "a number >= 0"),
    (['model.init={name="random_normal", stdev=1}'], "model.init.stdev", None, "did you mean stddev?"),
    (['model.init={name="glorot_uniform", stddev=1}'], "model.init.stddev", "1", "does not apply to glorot_uniform"),
    (["model.init=3"], "model.init", "3", "an initializer name"),
    (["train.optimizer=adamm"], "train.optimizer.name", '"adamm"', '"sgd", "adam", "adamw", "rmsprop" or "adagrad"'),
    (['train.optimizer={name="adam", momentum=0.9}'], "train.optimizer.momentum", "0.9",
     "does not apply to adam; adam takes learning_rate, amsgrad, beta_1, beta_2, epsilon"),
    (["train.optimizer=sgd", "train.optimizer.beta_1=0.9"], "train.optimizer.beta_1", "0.9",
     "does not apply to sgd; sgd takes learning_rate, momentum, nesterov"),
    (['train.optimizer={name="sgd", momentum=1.5}'], "train.optimizer.momentum", "1.5", "a number >= 0 and < 1"),
    (["train.optimizer=[1]"], "train.optimizer", "[1]", "an optimizer name (sgd, adam"),
    (["train.learning_rate=-1"], "train.learning_rate", "-1", "a number > 0"),
    (["train.learning_rate=0"], "train.learning_rate", "0", "a number > 0"),
    (["train.learning_rate=fast"], "train.learning_rate", '"fast"', "a number"),
    (["train.epochs=0"], "train.epochs", "0", "a whole number > 0"),
    (["train.epochs=2.5"], "train.epochs", "2.5", "a whole number"),
    (["train.epochs=true"], "train.epochs", "true", "a whole number, not true/false"),
    (["train.epochs=ten"], "train.epochs", '"ten"', "a whole number"),
    (["train.batch_size=0"], "train.batch_size", "0", "a whole number > 0"),
    (["train.loss=hinge"], "train.loss", '"hinge"', '"sparse_categorical_crossentropy"'),
    (['train.early_stopping={monitor="val_los"}'], "train.early_stopping.monitor", '"val_los"', '"val_loss"'),
    (['train.early_stopping={patience=-1}'], "train.early_stopping.patience", "-1", "a whole number >= 0"),
    (["train.early_stopping=maybe"], "train.early_stopping", '"maybe"', "or false to turn it off"),
    (['train.early_stopping={wait=3}'], "train.early_stopping.wait", None, "monitor, patience"),
    (["data.scale=minmax"], "data.scale", '"minmax"', '"unit", "symmetric", "standard" or "none"'),
    (["data.validation_split=1.0"], "data.validation_split", "1.0", "a number >= 0 and < 1"),
    (["data.validation_split=-0.5"], "data.validation_split", "-0.5", "a number >= 0 and < 1"),
    (["data.dataset=3"], "data.dataset", "3", "digits, mnist, fashion-mnist"),
    (["seed=-1"], "seed", "-1", "a whole number >= 0"),
    (["name=3"], "name", "3", "a string"),
    (["model.hiden=[1]"], "model.hiden", None, "did you mean hidden? expected one of hidden, activation"),
    (["train.epoch=3"], "train.epoch", None, "did you mean epochs?"),
    (["trian.epochs=3"], "trian", None, "did you mean train? expected one of name, seed, data, model, train, sweep"),
    (["model=3"], "model", "3", "a table of keys"),
    (['model.layers=[{type="dense"}]'], "model.layers[0].units", None, "a dense layer needs units"),
    (['model.layers=[{type="flatten"}, {type="conv2d"}]'], "model.layers[1].filters", None,
     "a conv2d layer needs filters"),
    (['model.layers=[{type="lstm", units=3}]'], "model.layers[0].type", '"lstm"', '"dense", "dropout"'),
    (['model.layers=[{type="dense", units=0}]'], "model.layers[0].units", "0", "a whole number > 0"),
    (['model.layers=[{type="dense", units=4, activation="rleu"}]'], "model.layers[0].activation", '"rleu"', '"relu"'),
    (['model.layers=[{type="dropout", rate=1}]'], "model.layers[0].rate", "1", "a number >= 0 and < 1"),
    (['model.layers=[{type="dropout", units=3}]'], "model.layers[0].units", "3",
     "does not apply to a dropout layer; it takes rate"),
    (['model.layers=[{type="dense", unit=3}]'], "model.layers[0].unit", None, "did you mean units?"),
    (['model.layers="abc"'], "model.layers", '"abc"', "a list of layer tables"),
    (['model.layers=[{type="conv2d", filters=8}]', "data.flatten=true"], "data.flatten", "true",
     "cannot feed a model with conv2d/max_pool layers"),
    (["sweep.grid=3"], "sweep.grid", "3", "a table of dotted keys to lists of values"),
    (['model.init={name="random_uniform", minval=0.1}'], "model.init.minval", "0.1", "a number <= maxval (0.05)"),
    (['model.init={name="random_uniform", minval=0.1, maxval=0}'], "model.init.maxval", "0", ">= minval (0.1)"),
]


@pytest.mark.parametrize("overrides, field, shown, allowed", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_value_message_names_field_value_and_what_is_allowed(overrides, field, shown, allowed):
    msg = bad(*overrides)
    if shown is None:
        assert msg.startswith(f"{field}: "), msg
    else:
        assert msg.startswith(f"{field} = {shown}: "), msg
    assert allowed in msg, msg


@pytest.mark.parametrize("key, value, shown, advice", [
    ("hidden", "[32]", "[32]", 'list the layers instead, e.g. { type = "dense", units = 64 }'),
    ("activation", "tanh", '"tanh"', "set activation on each layer"),
    ("dropout", "0.2", "0.2", 'add { type = "dropout", rate = ... } layers'),
    ("batchnorm", "true", "true", 'add { type = "batchnorm" } layers'),
])
def test_shorthand_keys_with_layers_are_refused(key, value, shown, advice):
    layers = 'model.layers=[{ type = "dense", units = 16 }]'
    assert bad(layers, f"model.{key}={value}") == \
        f"model.{key} = {shown}: does not apply when model.layers is given; {advice}"
    assert bad(f"model.{key}={value}", layers).startswith(f"model.{key} = {shown}: ")  # either order
    # the default value, written out, is still ignored: refused too
    default = {"hidden": "[64, 64]", "activation": "relu", "dropout": "0.0", "batchnorm": "false"}[key]
    assert bad(layers, f"model.{key}={default}").startswith(f"model.{key} = ")


def test_a_sweep_over_a_shorthand_key_with_layers_is_refused():
    from mlplab.spec.sweep import expand
    raw = {"model": {"layers": [{"type": "dense", "units": 8}]},
           "sweep": {"grid": {"model.activation": ["relu", "tanh"]}}}
    with pytest.raises(BadInput, match='model.activation = "relu": does not apply when model.layers is given'):
        expand(raw)


def test_init_and_regularizers_apply_with_layers_and_resolved_has_no_shorthand():
    exp = load_spec(None, ['model.layers=[{ type = "dense", units = 16 }, { type = "dropout", rate = 0.1 }]',
                           "model.init=he_normal", "model.l2=0.001", "model.l1=0.0001"])
    r = exp.resolved()
    assert set(r["model"]) == {"init", "l1", "l2", "layers"}
    assert r["model"]["init"] == {"name": "he_normal"} and r["model"]["l2"] == 0.001
    assert validate(copy.deepcopy(r)).resolved() == r
    assert "hidden" in load_spec().resolved()["model"]  # without layers the shorthand stays


@pytest.mark.parametrize("override, field", [
    ("train.learning_rate=inf", "train.learning_rate"), ("train.learning_rate=nan", "train.learning_rate"),
    ("train.learning_rate=-inf", "train.learning_rate"), ("model.l2=inf", "model.l2"), ("model.l1=nan", "model.l1"),
    ("model.dropout=nan", "model.dropout"), ("data.validation_split=nan", "data.validation_split"),
    ('model.init={ name = "random_normal", stddev = inf }', "model.init.stddev"),
    ('model.init={ name = "random_normal", mean = nan }', "model.init.mean"),
    ('model.init={ name = "constant", value = inf }', "model.init.value"),
    ('train.optimizer={ name = "sgd", momentum = nan }', "train.optimizer.momentum"),
    ('train.optimizer={ name = "adam", epsilon = inf }', "train.optimizer.epsilon"),
    ('train.optimizer={ name = "adamw", weight_decay = inf }', "train.optimizer.weight_decay"),
    ("train.early_stopping.min_delta=inf", "train.early_stopping.min_delta"),
    ('model.layers=[{ type = "dense", units = 4, l2 = inf }]', "model.layers[0].l2"),
    ('model.layers=[{ type = "dropout", rate = nan }]', "model.layers[0].rate"),
    ("train.epochs=inf", "train.epochs"), ("model.hidden=[nan]", "model.hidden[0]"),
])
def test_infinity_and_nan_are_refused_for_every_number(override, field):
    shown = override.rsplit("=", 1)[1].strip(" {}[]")
    assert bad(override) == f"{field} = {shown}: expected a finite number, not inf or nan"


def test_infinity_in_a_file_is_refused(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[data]\ndataset = \"cosine2d\"\na = inf\n")
    assert bad(path=p) == "data.a = inf: expected a finite number, not inf or nan"
    y = tmp_path / "s.yaml"
    y.write_text("model:\n  l2: .nan\n")
    assert bad(path=y) == "model.l2 = nan: expected a finite number, not inf or nan"


INIT_PARAMETERS = {"mean": 0.1, "stddev": 0.2, "minval": -0.3, "maxval": 0.4, "value": 0.5}


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_every_initializer_resolves_and_reruns(name):
    given = {k: INIT_PARAMETERS[k] for k in INITIALIZERS[name]}
    table = ", ".join([f'name = "{name}"'] + [f"{k} = {v}" for k, v in given.items()])
    for override in (f"model.init={name}", f"model.init={{ {table} }}"):
        for spec in ([override], [override, 'model.layers=[{ type = "dense", units = 4, init = "zeros" }]']):
            r = load_spec(None, spec).resolved()
            assert json.loads(json.dumps(r)) == r
            assert validate(copy.deepcopy(r)).resolved() == r
            init = r["model"]["init"]
            assert init["name"] == name and set(init) == {"name", *INITIALIZERS[name]}
    exp = load_spec(None, [f"model.init={{ {table} }}"])
    assert {k: getattr(exp.model.init, k) for k in given} == given
    assert {k: exp.resolved()["model"]["init"][k] for k in given} == given


@pytest.mark.parametrize("init, value", [('{ name = "constant", value = 0.1 }', 0.1), ('"constant"', 0.0),
                                         ('"ones"', 1.0), ('"zeros"', 0.0)])
def test_constant_initializers_build_a_model(init, value):
    from mlplab.engine.models import build_model
    exp = load_spec(None, [f"model.init={init}", "model.hidden=[3]"])
    model = build_model(exp.model, (2,), 2, exp.train.loss, 0)
    assert np.allclose(model.layers[0].get_weights()[0], value)


def test_unknown_top_level_section_in_a_file(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[training]\nepochs = 3\n")
    assert bad(path=p) == "training: unknown key; did you mean train? expected one of name, seed, data, model, train, sweep"


def test_conv_model_keeps_images_unless_told():
    exp = load_spec(None, ['model.layers=[{ type = "conv2d", filters = 8 }, { type = "max_pool" }]'])
    assert exp.model.convolutional and exp.data.flatten is None
    assert load_spec(None, ['model.layers=[{ type = "conv2d", filters = 8 }]', "data.flatten=false"]).data.flatten is False


def test_display_name_is_derived_from_the_spec():
    assert load_spec().display_name == "digits-64-64-relu-adam"
    assert load_spec(None, ["model.hidden=[]", "train.optimizer=sgd", "data.dataset=mnist"]).display_name == \
        "mnist-logistic-sgd"
    assert load_spec(None, ['model.layers=[{ type = "conv2d", filters = 8 }, { type = "max_pool" }, '
                            '{ type = "dense", units = 16 }]']).display_name == "digits-conv8-pool-16-adam"
    assert load_spec(None, ["name=given"]).display_name == "given"
