"""What a run costs before anything is built: parameters, memory and work, from the spec and the data's
shape alone (no Keras model, no allocation), and this machine's memory.

    est = estimate(exp, input_shape=(784,), classes=10, rows=60_000, test_rows=10_000)
    fits(est)                     # BadInput (one line) when it cannot fit in this machine's memory

Memory: weights, gradients, optimizer slots and the best/initial copies (about 12 float32 copies of the
parameters, as training.population sizes a member), a batch with every layer's activations forward and
backward, and the data as float32. The batch is at most the training rows (as Keras: a larger
batch_size trains on all of them at once). Work: 6 x parameters x training rows per epoch (a forward and
backward pass) plus the per-epoch evaluation passes. The dashboard adds its own budget (web/limits.py);
every path that trains (run, sweep, ml.fit) refuses what this machine cannot hold.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from ..spec import Experiment

WEIGHT_COPIES = 12   # float32 copies of the parameters a member holds while it trains


@dataclass(frozen=True)
class Estimate:
    params: int
    train_rows: int     # after the validation split
    batch: int          # the batch size as trained: at most the training rows
    batch_bytes: int
    data_bytes: int
    work: float         # floating-point operations

    @property
    def weights_bytes(self) -> int:
        return 4 * WEIGHT_COPIES * self.params

    def memory(self, members: int = 1) -> int:
        """Bytes to train `members` such members together on the data."""
        return members * (self.weights_bytes + self.batch_bytes) + self.data_bytes


def layer_sizes(exp: Experiment, input_shape: tuple[int, ...], classes: int) -> list[tuple[int, int]]:
    """(parameters, activations per row) of each layer as built, the output layer last; shapes propagated
    as Keras does (a dense layer acts on the last axis; images are flattened before the output)."""
    shape, out = tuple(input_shape), []
    for layer in exp.model.spelled_out():
        params = 0
        if layer.type == "dense":
            params, shape = (shape[-1] + 1) * layer.units, (*shape[:-1], layer.units)
        elif layer.type == "conv2d" and len(shape) == 3:
            side = [(d - layer.kernel) // layer.strides + 1 if layer.padding == "valid" else -(-d // layer.strides)
                    for d in shape[:2]]
            params, shape = (layer.kernel ** 2 * shape[2] + 1) * layer.filters, (*(max(1, d) for d in side), layer.filters)
        elif layer.type == "max_pool" and len(shape) == 3:
            shape = (max(1, shape[0] // layer.size), max(1, shape[1] // layer.size), shape[2])
        elif layer.type == "flatten":
            shape = (math.prod(shape),)
        elif layer.type == "batchnorm":
            params = 4 * shape[-1]
        out.append((params, math.prod(shape)))
    outputs = 1 if exp.train.loss == "binary_crossentropy" else classes
    return [*out, ((math.prod(shape) + 1) * outputs, outputs)]


def estimate(exp: Experiment, input_shape: tuple[int, ...], classes: int, rows: int, test_rows: int) -> Estimate:
    """Parameters, memory and work of this experiment on data of this shape (`rows`: training rows before
    the validation split)."""
    sizes = layer_sizes(exp, input_shape, classes)
    params, activations, features = sum(p for p, _ in sizes), sum(a for _, a in sizes), math.prod(input_shape)
    train_rows = rows - int(rows * exp.data.validation_split)
    batch = max(1, min(exp.train.batch_size, train_rows))
    evaluated = min(train_rows, 10_000) + (rows - train_rows) + test_rows   # inference after every epoch
    return Estimate(params=params, train_rows=train_rows, batch=batch,
                    batch_bytes=4 * batch * (4 * features + 3 * activations),
                    data_bytes=4 * 2 * (rows + test_rows) * features,
                    work=float(exp.train.epochs * (6 * params * train_rows + 2 * params * evaluated)))


def size_text(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        return min(total, int(limit)) if limit.isdigit() else total
    except OSError:
        return total


def fits(exp: Experiment, est: Estimate, members: int = 1, memory: int | None = None) -> None:
    """BadInput, one line (the estimate, the machine's memory, what to change), when training `members` of
    `exp` together needs more memory than this machine (or `memory` bytes) has."""
    memory = machine_memory() if memory is None else memory
    if est.memory(members) <= memory:
        return
    field = "train.batch_size" if est.batch_bytes > est.weights_bytes + est.data_bytes else \
        "model.layers" if exp.model.layers is not None else "model.hidden"
    change = {"train.batch_size": f"a smaller batch (train.batch_size = {exp.train.batch_size})",
              "model.hidden": "fewer or narrower layers", "model.layers": "fewer or narrower layers"}[field]
    raise BadInput(f"{field}: training needs about {size_text(est.memory(members))} of memory ({est.params:,} parameters: "
                   f"{size_text(est.weights_bytes)} with gradients and optimizer state; a batch "
                   f"{size_text(est.batch_bytes)}; the data {size_text(est.data_bytes)}); this machine has "
                   f"{size_text(memory)}: {change}")
