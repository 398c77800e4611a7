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

Time (`Estimate.seconds`): setting up (data, model, storing the run), compiling, then per epoch its
steps (a fixed overhead each, the step's floating-point work at this machine's rate, and the optimizer
reading and writing every parameter's copies) and its evaluation passes. The one estimate behind
`mlplab run/sweep --dry-run`, the New-run form's live estimate and the dashboard's budget; how close it
is to real runs: bench/cost.py.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..errors import BadInput
from ..spec import Experiment

WEIGHT_COPIES = 12   # float32 copies of the parameters a member holds while it trains

# This machine's kind of work, measured once with bench/cost.py on its TUNED runs (2 CPU cores shared with
# other work, XLA's CPU backend, no persistent compilation cache); its HELD_OUT runs check them. The figures
# quoted below were measured under other work's load; the same runs on the idle machine took about half as
# long, so every time constant sits between the two (about 1.6x faster than the loaded figures).
STEP_SECONDS = 19e-6          # a training step's fixed cost inside the compiled loop: what batch 1 pays
                              # (digits, 64 units, SGD, batch 1: 0.055 s an epoch of 1,294 steps and evaluation)
PARAM_SECONDS = 0.75e-9       # per parameter and step: reading the weights and updating them with their gradient
                              # (SGD at batch 1: MNIST 1024 units 0.85 ns a weight, 64 units 2.4 ns)
SLOT_PARAM_SECONDS = 4e-9     # with an optimizer's slots (Adam, RMSprop, Adagrad): MNIST 64 units, Adam, batch 1:
                              # 0.45 ms a step (8 ns a weight), SGD 0.155 ms; less on large layers
DENSE_FLOPS = 160e9           # floating-point operations per second of dense layers: MNIST 128-64, 512-256,
                              # Fashion 256 and MNIST 2048 at batch 64-256 reached 30-150 GFLOP/s once the
                              # optimizer's pass is counted apart (larger matrices run faster; the load varies)
CONV_FLOPS = 160e9            # of convolutions, plus per output value and row of a convolution or pooling:
IMAGE_VALUE_SECONDS = 2.8e-9  # XLA's CPU convolutions are bound by the values they write: 4.7-4.9 ns each
                              # in both CNNs tuned on (8 filters at batch 128; 16 and 16 filters at batch 32)
EPOCH_SECONDS = 0.003         # an epoch's own overhead on the host (metrics, statistics, the live checks)
COMPILE_SECONDS = 0.45        # compiling the training and evaluation programs (cold, no cache) quickly, as
                              # engine.layout.compile_quickly does for one dense net of little work (digits)
COMPILE_FULL_SECONDS = 1.0    # with XLA's backend optimizations: the rest (MNIST 128-64: 1.7 s in all)
QUICK_WORK = 1e11             # below it a dense net compiles quickly (engine.layout.QUICK_BELOW)
COMPILE_LAYER_SECONDS = 0.1   # and each layer more (a convolution counts three times: engine.xla_cpu)
SETUP_SECONDS = 1.1           # building the model, storing the run, the doctor's verdict (digits: 1.7 s)
SETUP_BYTES_PER_SECOND = 2.8e8    # reading and preparing the data, per float32 byte (MNIST: 4.2 s in all)
RUNTIME_BYTES = 520 * 10**6   # the process itself: Python, JAX, Keras and XLA's compiler (ru_maxrss of a
                              # digits run is 530-585 MB; MNIST runs peak at 1.06-1.16 GB)


class Layer(NamedTuple):
    params: int
    activations: int   # per row
    flops: int         # forward floating-point operations per row
    image: bool = False   # a convolution or pooling

    @property
    def seconds(self) -> float:
        """Forward seconds per row on this machine."""
        if self.image:
            return self.flops / CONV_FLOPS + self.activations * IMAGE_VALUE_SECONDS
        return self.flops / DENSE_FLOPS


@dataclass(frozen=True)
class Estimate:
    params: int
    train_rows: int     # after the validation split
    batch: int          # the batch size as trained: at most the training rows
    batch_bytes: int
    data_bytes: int
    work: float         # floating-point operations of the whole run
    epochs: int
    steps: int          # training steps per epoch
    step_seconds: float
    eval_seconds: float  # per epoch: the inference passes over the train sample, validation and test rows
    compile_seconds: float
    setup_seconds: float

    @property
    def weights_bytes(self) -> int:
        return 4 * WEIGHT_COPIES * self.params

    def memory(self, members: int = 1) -> int:
        """Bytes to train `members` such members together on the data."""
        return members * (self.weights_bytes + self.batch_bytes) + self.data_bytes

    @property
    def peak_bytes(self) -> int:
        """The training process' peak resident memory: the runtime and what it trains."""
        return RUNTIME_BYTES + self.memory()

    @property
    def epoch_seconds(self) -> float:
        return self.steps * self.step_seconds + self.eval_seconds

    @property
    def seconds(self) -> float:
        """The whole run, all its epochs (early stopping may end it sooner)."""
        return self.setup_seconds + self.compile_seconds + self.epochs * self.epoch_seconds

    def to_json(self) -> dict:
        return {"params": self.params, "memory_bytes": self.memory(), "peak_bytes": self.peak_bytes,
                "batch": self.batch, "steps_per_epoch": self.steps, "epochs": self.epochs,
                "epoch_seconds": round(self.epoch_seconds, 4), "compile_seconds": round(self.compile_seconds, 2),
                "setup_seconds": round(self.setup_seconds, 2), "seconds": round(self.seconds, 2),
                "flops": self.work}

    def text(self) -> str:
        """One line: parameters, memory, time per epoch and in all, compiling."""
        return (f"{self.params:,} parameters; memory about {size_text(self.peak_bytes)} "
                f"(training {size_text(self.memory())}); about {time_text(self.epoch_seconds)} per epoch "
                f"({self.steps:,} steps of {self.batch}), {time_text(self.seconds)} for {self.epochs} epoch{'s' * (self.epochs != 1)} "
                f"with {time_text(self.compile_seconds)} compiling")


def layer_sizes(exp: Experiment, input_shape: tuple[int, ...], classes: int) -> list[Layer]:
    """Parameters, activations and forward work per row of each layer as built, the output layer last;
    shapes propagated as Keras does (a dense layer acts on the last axis; images are flattened before the
    output). Work: 2 operations per weight used (a multiply and an add), one per activation."""
    shape, out = tuple(input_shape), []
    for layer in exp.model.spelled_out():
        params, flops = 0, 0
        if layer.type == "dense":
            params, flops = (shape[-1] + 1) * layer.units, 2 * math.prod(shape) * layer.units
            shape = (*shape[:-1], layer.units)
        elif layer.type == "conv2d" and len(shape) == 3:
            side = [(d - layer.kernel) // layer.strides + 1 if layer.padding == "valid" else -(-d // layer.strides)
                    for d in shape[:2]]
            params, shape = (layer.kernel ** 2 * shape[2] + 1) * layer.filters, (*(max(1, d) for d in side), layer.filters)
            flops = 2 * (params - layer.filters) * math.prod(shape[:2])
        elif layer.type == "max_pool" and len(shape) == 3:
            flops = math.prod(shape)
            shape = (max(1, shape[0] // layer.size), max(1, shape[1] // layer.size), shape[2])
        elif layer.type == "flatten":
            shape = (math.prod(shape),)
        elif layer.type == "batchnorm":
            params = 4 * shape[-1]
        out.append(Layer(params, math.prod(shape), flops + math.prod(shape), layer.type in ("conv2d", "max_pool")))
    outputs = 1 if exp.train.loss == "binary_crossentropy" else classes
    return [*out, Layer((math.prod(shape) + 1) * outputs, outputs, 2 * math.prod(shape) * outputs + outputs)]


def estimate(exp: Experiment, input_shape: tuple[int, ...], classes: int, rows: int, test_rows: int) -> Estimate:
    """Parameters, memory, work and time of this experiment on data of this shape (`rows`: training rows
    before the validation split), on this machine."""
    sizes = layer_sizes(exp, input_shape, classes)
    params, activations, features = sum(s.params for s in sizes), sum(s.activations for s in sizes), math.prod(input_shape)
    flops, row_seconds = sum(s.flops for s in sizes), sum(s.seconds for s in sizes)
    train_rows = rows - int(rows * exp.data.validation_split)
    batch = max(1, min(exp.train.batch_size, train_rows))
    evaluated = min(train_rows, 10_000) + (rows - train_rows) + test_rows   # inference after every epoch
    convs = sum(layer.type == "conv2d" for layer in exp.model.spelled_out())
    data_bytes = 4 * 2 * (rows + test_rows) * features
    return Estimate(params=params, train_rows=train_rows, batch=batch,
                    batch_bytes=4 * batch * (4 * features + 3 * activations), data_bytes=data_bytes,
                    work=float(exp.train.epochs * flops * (3 * train_rows + evaluated)), epochs=exp.train.epochs,
                    steps=-(-train_rows // batch),
                    step_seconds=STEP_SECONDS + 3 * row_seconds * batch
                    + (PARAM_SECONDS if exp.train.optimizer.name == "sgd" else SLOT_PARAM_SECONDS) * params,
                    eval_seconds=EPOCH_SECONDS + row_seconds * evaluated,
                    compile_seconds=compile_seconds(exp, params, train_rows, len(sizes) + 2 * convs),
                    setup_seconds=SETUP_SECONDS + data_bytes / SETUP_BYTES_PER_SECOND)


def data_shape(exp: Experiment) -> tuple:
    """(input shape, classes, training rows, test rows) of the data an experiment trains on, read, not
    prepared: flattened unless the model is convolutional."""
    from ..data import load_raw
    raw = load_raw(exp.data.dataset, {k: v for k, v in exp.data.options.items() if k not in ("folds", "fold")} or None)
    flatten = exp.data.flatten if exp.data.flatten is not None else not exp.model.convolutional
    shape = (math.prod(raw.x_train.shape[1:]),) if flatten or raw.image_shape is None else (*raw.image_shape, 1)
    return shape, len(raw.class_names), len(raw.x_train), len(raw.x_test)


def estimate_spec(exp: Experiment) -> Estimate:
    """The estimate of an experiment on its own data set."""
    return estimate(exp, *data_shape(exp))


def compile_seconds(exp: Experiment, params: int, train_rows: int, layers: int) -> float:
    """Cold compile seconds of one run's programs; `layers`: as built, a convolution counted three times."""
    quick = not exp.model.convolutional and 6.0 * params * train_rows * exp.train.epochs < QUICK_WORK
    return (COMPILE_SECONDS if quick else COMPILE_FULL_SECONDS) + COMPILE_LAYER_SECONDS * layers


def estimate_sweep(experiments: list[Experiment]) -> tuple[list[Estimate], float]:
    """Each run's estimate, and the seconds of them all: each run's epochs, plus setting up and compiling
    once per model structure, batch size and data set (a sweep trains those as one population)."""
    shapes: dict = {}
    estimates, groups = [], {}
    for exp in experiments:
        data_key = (exp.data.dataset, str(exp.data.options), exp.data.flatten, exp.model.convolutional)
        shape = shapes[data_key] = shapes.get(data_key) or data_shape(exp)
        est = estimate(exp, *shape)
        estimates.append(est)
        groups.setdefault((data_key, exp.model.model_dump_json(), est.batch), est)
    first = sum(e.setup_seconds + e.compile_seconds for e in groups.values())
    return estimates, first + sum(e.epochs * e.epoch_seconds for e in estimates)


def time_text(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.2g} min" if seconds >= 60 else f"{seconds:.2g} s"


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
