"""Which rows a population's program takes: each member's shuffled batches of an epoch, and the rows
evaluated in inference mode after each epoch (engine.train feeds both to engine.program's functions).
"""
from __future__ import annotations

import math

from . import backend as _backend  # noqa: F401
import jax.numpy as jnp
import numpy as np

from ..data import Dataset
from .program import Member

EVAL_CHUNK = 2048          # rows per inference-mode batch
TRAIN_EVAL_ROWS = 10_000   # inference-mode train metrics: a fixed sample of at most this many rows


def epoch_batches(members: list[Member], n: int, batch_size: int, epoch: int, shuffle: bool, pad: bool) -> list:
    """Per member row order for this epoch, cut into (P, steps, B) batches and padding weights.

    Each member shuffles with its own stream (seed, epoch), so it sees the same
    batches in a population as alone. With pad=False the short last batch comes
    back separately as a (P, rest) array.
    """
    order = np.stack([np.random.default_rng((m.seed, epoch)).permutation(n) if shuffle else np.arange(n)
                      for m in members]).astype("int32")
    P = len(members)
    steps, rest = divmod(n, batch_size)
    weights = np.ones((P, n), "float32")
    if rest and pad:
        fill = batch_size - rest
        order = np.concatenate([order, np.zeros((P, fill), "int32")], axis=1)
        weights = np.concatenate([weights, np.zeros((P, fill), "float32")], axis=1)
        steps, rest = steps + 1, 0
    cut = steps * batch_size
    full = [a[:, :cut].reshape(P, steps, batch_size) for a in (order, weights)]
    last = (order[:, cut:], weights[:, cut:]) if rest else None
    return [full, last]


def evaluation_rows(data: Dataset) -> tuple:
    """Every row evaluated each epoch, in padded chunks: a fixed sample of the training
    rows (at most TRAIN_EVAL_ROWS), the validation rows, the test rows."""
    n = len(data.x_train)
    sample = np.sort(np.random.default_rng(0).permutation(n)[:TRAIN_EVAL_ROWS]) if n > TRAIN_EVAL_ROWS else slice(None)
    parts = [(data.x_train[sample], data.y_train[sample]), (data.x_val, data.y_val), (data.x_test, data.y_test)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    split = np.concatenate([np.full(len(p[1]), i, "int32") for i, p in enumerate(parts)])
    size = min(EVAL_CHUNK, len(x))
    count = math.ceil(len(x) / size)
    pad = count * size - len(x)
    x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]).reshape((count, size) + x.shape[1:])
    y = np.concatenate([y, np.zeros(pad, y.dtype)]).reshape(count, size)
    split = np.concatenate([split, np.full(pad, 3, "int32")]).reshape(count, size)
    test_rows = (len(parts[0][1]) + len(parts[1][1]), len(parts[2][1]))
    return jnp.asarray(x), jnp.asarray(y), jnp.asarray(split), test_rows
