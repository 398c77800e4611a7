"""Experiment.model -> a real keras.Model.

It reads the validated model section (spec.ModelSpec, its layers spec.Layer, their spec.Init) by
attribute; the engine imports nothing from spec/.

The output layer comes from the data: softmax over the classes, or one sigmoid
unit for binary cross-entropy. Weights are initialised exactly as a Keras
notebook would after `keras.utils.set_random_seed(seed)`. Layers are named by
type and position (dense_1, batchnorm_1, dropout_1, conv2d_1, ..., output), so
the summary, stats.json, model.keras and every figure name them alike however
often the model is built.
"""
from __future__ import annotations

import io
import math
import random
import re
from contextlib import contextmanager, redirect_stdout
from typing import Any, Callable

from . import backend as _backend  # noqa: F401  (KERAS_BACKEND=jax before keras)
import keras
import numpy as np

from keras.src.backend.common.variables import initialize_all_variables  # deferred init (see `initialize`)
from keras.src.initializers.random_initializers import compute_fans

from ..catalog import INITIALIZERS
from ..errors import BadInput

# spec's classes, read by attribute: the engine imports nothing from spec/ (these names document the types)
ModelSpec = Layer = Init = Any


def initializer(init: Init) -> keras.initializers.Initializer:
    """The Keras initializer of a spec's init, with the parameters its name takes."""
    params = {k: getattr(init, k) for k in INITIALIZERS[init.name]}
    return keras.initializers.get({"class_name": init.name, "config": params})


def regularizer(l1: float, l2: float) -> keras.regularizers.Regularizer | None:
    return keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None


def _activation(name: str | None) -> Any:
    return "leaky_relu" if name == "leaky_relu" else name


class _Names:
    """Stable layer names: type and position within the model (dense_1, dense_2, batchnorm_1, ...).

    Keras numbers auto-named layers per process, so a model built twice would get
    dense_2/dense_3 the second time; these names depend on the spec alone."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def __call__(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{kind}_{self.counts[kind]}"


def _keras_layer(layer: Layer, m: ModelSpec, name: _Names) -> list[keras.layers.Layer]:
    # The initializer is made for every layer, weighted or not: an unseeded Keras initializer draws
    # its seed from Python's `random`, as a dropout layer's seed generator does, so skipping it would
    # change the dropout seeds a spec has always had.
    weights = {"kernel_initializer": initializer(layer.init or m.init),
               "kernel_regularizer": regularizer(layer.l1 or m.l1, m.l2 if layer.l2 is None else layer.l2)}
    return LAYER_BUILDERS[layer.type](layer, weights, name)


def _dense(layer: Layer, weights: dict, name: _Names) -> list[keras.layers.Layer]:
    return [keras.layers.Dense(layer.units, activation=_activation(layer.activation), **weights, name=name("dense"))]


def _conv2d(layer: Layer, weights: dict, name: _Names) -> list[keras.layers.Layer]:
    return [keras.layers.Conv2D(layer.filters, layer.kernel, strides=layer.strides, padding=layer.padding,
                                activation=_activation(layer.activation), **weights, name=name("conv2d"))]


def _batchnorm(layer: Layer, weights: dict, name: _Names) -> list[keras.layers.Layer]:
    # optionally followed by the activation of the dense layer before it
    out: list[keras.layers.Layer] = [keras.layers.BatchNormalization(name=name("batchnorm"))]
    if layer.activation:
        out.append(keras.layers.Activation(_activation(layer.activation), name=name("activation")))
    return out


# Each catalog layer type (catalog.LAYER_KEYS): a spec layer, the initializer and regularizer of its
# weights (kernel_initializer, kernel_regularizer) and the namer -> the Keras layers it stands for.
LAYER_BUILDERS: dict[str, Callable[[Layer, dict, _Names], list[keras.layers.Layer]]] = {
    "dense": _dense,
    "dropout": lambda layer, weights, name: [keras.layers.Dropout(layer.rate, name=name("dropout"))],
    "batchnorm": _batchnorm,
    "conv2d": _conv2d,
    "max_pool": lambda layer, weights, name: [keras.layers.MaxPooling2D(layer.size, name=name("max_pool"))],
    "flatten": lambda layer, weights, name: [keras.layers.Flatten(name=name("flatten"))],
}


def _describe_layer(layer: Layer) -> str:
    """e.g. "max_pool size 2", "conv2d kernel 3, padding valid"."""
    if layer.type == "max_pool":
        return f"max_pool size {layer.size}"
    if layer.type == "conv2d":
        stride = f", strides {layer.strides}" if layer.strides != 1 else ""
        return f"conv2d kernel {layer.kernel}{stride}, padding {layer.padding}"
    return layer.type


def _fix(layer: Layer, side: int, pooled: bool) -> str:
    """What would let `layer` fit an input whose smaller side is `side` pixels."""
    pool = ", or remove a pooling layer before it" if pooled else ""
    if layer.type == "conv2d" and side >= 1:
        return f'use kernel <= {side} or padding = "same"{pool}'
    return 'remove a pooling layer, or give the conv2d layers padding = "same"'


def _check_shapes(placed: list[tuple[int, Layer, keras.layers.Layer]], input_shape: tuple[int, ...]) -> None:
    """BadInput naming the first spec layer whose input is too small for it (a conv/pool stack
    that shrinks the images below one pixel)."""
    shape: tuple = (None, *input_shape)
    for index, spec, layer in placed:
        try:
            out = tuple(layer.compute_output_shape(shape))
            bad = any(d is not None and d <= 0 for d in out[1:])
        except ValueError:
            bad = True
        if bad:
            dims = "x".join(str(d) for d in shape[1:])
            side = min(shape[1:3]) if len(shape) == 4 else 0
            pooled = any(s.type == "max_pool" for i, s, _ in placed if i < index)
            raise BadInput(f"model.layers[{index}] ({_describe_layer(spec)}): its input is {dims}, too small "
                           f"for it (the model's input is {'x'.join(map(str, input_shape))}); "
                           f"{_fix(spec, side, pooled)}")
        shape = out


@contextmanager
def seeded(seed: int):
    """Inside: Python's, NumPy's and Keras' global generators as `keras.utils.set_random_seed(seed)` sets
    them (unseeded Keras layers draw their seeds from Python's); after: the caller's, as they were."""
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
    from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED
    keys = (GLOBAL_RANDOM_SEED, GLOBAL_SEED_GENERATOR)
    saved = random.getstate(), np.random.get_state(), [global_state.get_global_attribute(k) for k in keys]
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        for key, value in zip(keys, saved[2]):
            global_state.set_global_attribute(key, value)


def build_model(m: ModelSpec, input_shape: tuple[int, ...], num_classes: int,
                loss: str = "sparse_categorical_crossentropy", seed: int = 0) -> keras.Model:
    """A Sequential model for the spec; same seed, same initial weights, same layer names."""
    if loss == "binary_crossentropy" and num_classes != 2:
        raise BadInput(f"train.loss = \"binary_crossentropy\": needs two classes, the data has {num_classes}; "
                       "use sparse_categorical_crossentropy")
    with seeded(seed):   # dropout seed states as a notebook would have them
        return _build(m, input_shape, num_classes, loss, seed)


def _build(m, input_shape: tuple[int, ...], num_classes: int, loss: str, seed: int) -> keras.Model:
    name = _Names()
    placed = [(i, layer, k) for i, layer in enumerate(m.spelled_out()) for k in _keras_layer(layer, m, name)]
    _check_shapes(placed, input_shape)
    layers: list[keras.layers.Layer] = [keras.Input(shape=input_shape), *(k for _, _, k in placed)]
    if len(input_shape) > 1 and not any(isinstance(x, keras.layers.Flatten) for x in layers):
        layers.append(keras.layers.Flatten(name=name("flatten")))
    out_units, out_act = (1, "sigmoid") if loss == "binary_crossentropy" else (num_classes, "softmax")
    layers.append(keras.layers.Dense(out_units, activation=out_act, kernel_initializer=initializer(m.init),
                                     kernel_regularizer=regularizer(m.l1, m.l2 if m.output_l2 is None else m.output_l2),
                                     name="output"))
    try:
        with keras.StatelessScope(initialize_variables=False):  # variables wait for `initialize` instead of one compile per eager op
            model = keras.Sequential(layers, name="mlplab")
    except ValueError as e:  # anything _check_shapes did not foresee
        raise BadInput(f"model.layers: cannot be built on inputs of shape {input_shape}: "
                       f"{_first_sentence(e)}") from None
    initialize(model, seed)
    return model


def _first_sentence(e: Exception) -> str:
    """The first non-empty line of a Keras error, without its terminal colour codes."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(e).splitlines()]
    text = " ".join(line for line in lines if line and not line.startswith("Exception encountered"))
    return text.split("Arguments received")[0].strip()[:300] or type(e).__name__


def _truncated(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal truncated at two standard deviations (as Keras' truncated_normal)."""
    x = rng.standard_normal(shape)
    while (bad := np.abs(x) > 2).any():
        x[bad] = rng.standard_normal(int(bad.sum()))
    return x


def draw(init: keras.initializers.Initializer, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    """A value for a variable, drawn with numpy the way the Keras initializer draws it.

    The distributions are Keras' (VarianceScaling fans and truncation included);
    numpy draws them because compiling JAX's random kernels costs seconds per shape.
    """
    if isinstance(init, keras.initializers.VarianceScaling):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[init.mode]
        scale = init.scale / max(1.0, n)
        if init.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            return rng.uniform(-limit, limit, shape)
        if init.distribution == "truncated_normal":
            return _truncated(rng, shape) * math.sqrt(scale) / 0.87962566103423978
        return rng.standard_normal(shape) * math.sqrt(scale)
    if isinstance(init, keras.initializers.RandomNormal):
        return rng.normal(init.mean, init.stddev, shape)
    if isinstance(init, keras.initializers.TruncatedNormal):
        return _truncated(rng, shape) * init.stddev + init.mean
    if isinstance(init, keras.initializers.RandomUniform):
        return rng.uniform(init.minval, init.maxval, shape)
    if isinstance(init, (keras.initializers.Zeros, keras.initializers.Ones, keras.initializers.Constant)):
        return np.full(shape, {keras.initializers.Zeros: 0.0, keras.initializers.Ones: 1.0}.get(
            type(init), getattr(init, "value", 0.0)))
    return np.asarray(init(shape))


def initialize(model: keras.Model, seed: int) -> None:
    """Give a model built in a StatelessScope its initial values, drawn from `seed`.

    Variable k draws from its own stream (seed, k): the same seed gives the same
    weights, and a change in one layer leaves the others' draws alone.
    """
    pending = [v for v in model.variables if getattr(v, "_value", 0) is None]
    for k, v in enumerate(pending):
        init = v._initializer
        if isinstance(init, keras.initializers.Initializer):
            value = draw(init, tuple(v.shape), np.random.default_rng([seed, k]))
        else:  # dropout seed states: a closure returning [seed, 0]
            value = init(tuple(v.shape), dtype=v.dtype)
        v._initializer = lambda *_, _value=np.asarray(value, dtype=v.dtype), **__: _value
    initialize_all_variables()


def summary(model: keras.Model) -> str:
    """`model.summary()` as text (same parameter counts as Keras prints)."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        model.summary(line_length=80, print_fn=lambda text, **_: print(text))   # not rich's Jupyter display
    return buf.getvalue()


def count_params(model: keras.Model) -> int:
    return int(model.count_params())


def weights(model: keras.Model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return ([np.asarray(v.value) for v in model.trainable_variables],
            [np.asarray(v.value) for v in model.non_trainable_variables])


def set_weights(model: keras.Model, trainable: list, non_trainable: list) -> None:
    for v, a in zip(model.trainable_variables, trainable):
        v.assign(a)
    for v, a in zip(model.non_trainable_variables, non_trainable):
        v.assign(a)


def regularization(model: keras.Model) -> list[tuple[float, float]]:
    """(l1, l2) per trainable variable, from the Keras regularizers on them."""
    out = []
    for v in model.trainable_variables:
        reg = getattr(v, "regularizer", None)
        if reg is None:
            out.append((0.0, 0.0))
        elif isinstance(reg, (keras.regularizers.L1, keras.regularizers.L2, keras.regularizers.L1L2)):
            cfg = reg.get_config()
            out.append((float(cfg.get("l1", 0.0)), float(cfg.get("l2", 0.0))))
        else:
            raise BadInput(f"model variable {v.path}: regularizer {type(reg).__name__} is not supported; "
                           "use L1, L2 or L1L2")
    return out
