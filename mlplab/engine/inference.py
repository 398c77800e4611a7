"""A trained keras.Model in inference mode, as compiled functions: probabilities, layer outputs.

Eager Keras calls compile every operation separately; these compile the model once per
batch size and run it over fixed-size (padded) batches. Importing this module imports
neither JAX nor Keras (a figure that only reads stored probabilities stays light).
"""
from __future__ import annotations

import numpy as np

from ..errors import BadInput


def as_probabilities(p) -> np.ndarray:
    """(N, C) class probabilities; one sigmoid column becomes two."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1 or p.shape[1] == 1:
        p1 = p.reshape(-1)
        p = np.column_stack([1 - p1, p1])
    return p


def default_layer(model) -> int:
    """Index (in model.layers) of the last hidden layer: the last one before the output that is
    not dropout."""
    from . import backend as _backend  # noqa: F401  (JAX backend before keras)
    import keras
    candidates = [i for i, l in enumerate(model.layers[:-1]) if not isinstance(l, keras.layers.Dropout)]
    if not candidates:
        raise BadInput("the model has no hidden layer to embed")
    return candidates[-1]


EMBED_SAMPLES = 1000   # test samples a run's t-SNE shows: enough for the classes' clusters, 0.5-3.5 s of exact t-SNE


def layer_index(model, layer: int | str | None = None) -> int:
    """Index in model.layers of a layer given by index or name (default: the last hidden layer). A
    subclassed model has no graph of layers to read one from: BadInput."""
    if not getattr(model, "inputs", None):
        raise BadInput(f"model {type(model).__name__}: a subclassed model has no graph of layers, so a hidden "
                       "layer's output cannot be read; write it as a Sequential or functional model")
    if layer is None:
        return default_layer(model)
    if isinstance(layer, str):
        names = [l.name for l in model.layers]
        if layer not in names:
            raise BadInput(f"layer {layer!r}: not in the model; its layers are {', '.join(names)}")
        return names.index(layer)
    n = len(model.layers)
    if not -n <= int(layer) < n:
        raise BadInput(f"layer {layer}: the model has {n} layers; give an index from {-n} to {n - 1} or a name")
    return int(layer) % n


def layer_output(model, x, layer: int | str | None = None, *, batch_size: int = 512) -> np.ndarray:
    """Output of one layer (index or name; default: the last hidden layer) in inference mode, flattened."""
    from . import backend as _backend  # noqa: F401  (JAX backend before keras)
    import keras
    index = layer_index(model, layer)
    sub = model if index == len(model.layers) - 1 else keras.Model(model.inputs, model.layers[index].output)
    run = compiled_forward(sub, batch_size)
    out = run(np.asarray(x, dtype=np.float32))
    return out.reshape(len(out), -1)


def embedding_rows(n_rows: int, n: int = EMBED_SAMPLES, seed: int = 0) -> np.ndarray:
    """The rows (sorted) of the up to `n` samples a t-SNE shows, drawn with `seed`."""
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=min(n, n_rows), replace=False))


def hidden_sample(model, x, *, layer: int | str | None = None, n: int = EMBED_SAMPLES,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(rows, outputs, layer name): a layer's outputs (default: the last hidden layer) on the samples of
    `x` that embedding_rows picks, what a t-SNE of that layer embeds."""
    index = layer_index(model, layer)
    rows = embedding_rows(len(x), n, seed)
    return rows, layer_output(model, np.asarray(x)[rows], index), model.layers[index].name


def compiled_forward(model, batch_size: int):
    """The model in inference mode as one compiled function over fixed-size batches:
    eager Keras calls would compile every operation separately."""
    from . import backend as _backend  # noqa: F401
    import jax
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    forward = jax.jit(lambda xb: model.stateless_call(trainable, non_trainable, xb, training=False)[0])

    def run(x: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            pad = np.zeros((batch_size - len(xb),) + xb.shape[1:], xb.dtype)
            out.append(np.asarray(forward(np.concatenate([xb, pad])))[:len(xb)])
        return np.concatenate(out) if out else np.zeros((0, 1), np.float32)
    return run


def predict_probabilities(model, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """(N, C) class probabilities of a model for inputs x (one sigmoid unit becomes two columns)."""
    return as_probabilities(compiled_forward(model, min(batch_size, max(len(x), 1)))(np.asarray(x, np.float32)))
