"""What one compiled population program is made of: the static Program, each Member's dynamic
values, the Outcome per member, and the jitted functions (Compiled) that train and evaluate
a stack of members.

A *program* is what must be static for one compiled JAX program: the Keras model's
structure, the optimizer class and its structural options, the loss, batch size and
epochs. A *member* is what may differ inside it: initial weights, optimizer
hyperparameters (learning rate, momentum, betas, ...), L1/L2 factors and the shuffle
seed. The step is pure, `update(state, batch) -> state` (engine.member_math), mapped over the
members (vmap or lax.map) and run over the batches of an epoch in one of the ways `Steps` names:
a loop on device over any run of the epoch's steps (the default), or straight-line
chunks of k steps per call.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import jax.numpy as jnp
import keras
import numpy as np

from . import optimizers, probe
from .member_math import MemberMath
from .xla_cpu import for_xla_cpu
from ..spec import EarlyStopping


@dataclass(frozen=True)
class Program:
    """The static part of a group of members."""
    model: keras.Model
    optimizers: tuple[tuple[str, tuple], ...]   # (name, static options as sorted items); several: a mixed population
    loss: str = "sparse_categorical_crossentropy"
    batch_size: int = 32
    epochs: int = 20
    shuffle: bool = True
    early_stopping: EarlyStopping | None = None


@dataclass
class Member:
    """The dynamic part: what one member of the population brings."""
    trainable: list[np.ndarray]
    non_trainable: list[np.ndarray]
    hyper: dict[str, float]                   # optimizer numeric hyperparameters (+ "kind" in a mixed population)
    regularization: list[tuple[float, float]]  # (l1, l2) per trainable variable
    seed: int                                 # shuffle stream
    schedule: dict | None = None              # learning rate per epoch (engine.schedules), None: constant


@dataclass
class Outcome:
    """What training did to one member."""
    history: dict[str, list[float]]
    status: str                  # ok | stopped | diverged | interrupted
    epochs_run: int
    best_epoch: int | None       # 1-based, by the early-stopping monitor (val_loss when off)
    trainable: list[np.ndarray]
    non_trainable: list[np.ndarray]
    test_probabilities: np.ndarray
    seconds: float
    stats: dict[str, list] = field(default_factory=dict)  # per epoch (0 = initial), see engine.probe
    result: dict[str, float] = field(default_factory=dict)  # the final weights' train/val/test loss and accuracy
    diverged_how: str | None = None  # why it diverged: non-finite numbers, or what `diverged` said
    compile_seconds: float = 0.0  # of `seconds`, compiling the population's program (shared by its members)


@dataclass(frozen=True)
class Steps:
    """How an epoch's steps run. "scan": one loop on device over any run of steps (the host
    picks how many per call, for progress); "unrolled": k steps as straight-line code per
    call (k = 1: a call per step). Every way computes the same steps, so the same numbers
    to float rounding."""
    kind: str = "scan"
    k: int = 1

    @classmethod
    def parse(cls, text: str) -> Steps:
        """"scan", "step" or "unrolled:K" (the MLPLAB_STEPS environment variable)."""
        kind, _, k = text.strip().partition(":")
        if kind == "scan" and not k:
            return cls()
        if kind == "step" and not k:
            return cls("unrolled", 1)
        if kind == "unrolled" and k.isdigit() and int(k) >= 1:
            return cls("unrolled", int(k))
        raise ValueError(f"steps {text!r}: expected \"scan\", \"step\" or \"unrolled:K\" (K >= 1)")


def choose_steps(model: keras.Model) -> Steps:
    """The fastest way measured for this program (2 CPU cores; bench/epoch.py, bench/cnn.py): a loop
    on device for every model. Convolutions in a loop were 4.5x slower than per-step calls on CPU;
    with the step rewritten by `for_xla_cpu` (on CPU) the loop is the fastest for them too.
    MLPLAB_STEPS overrides it for every program ("step", "unrolled:8")."""
    wanted = os.environ.get("MLPLAB_STEPS")
    return Steps.parse(wanted) if wanted else Steps()


# ---------------------------------------------------------------- the compiled program

# Measured on 2 CPU cores: XLA's batched matmuls only pay off for small dense nets (48 digits
# MLPs of 9k weights: vmap 8.3 s vs map 9.0 s for a sweep); for MNIST-size layers a loop over
# members with plain matmuls is much faster (8 members of 235k weights: map 16 s, vmap 24 s,
# one run at a time 27 s). Either way the population is one compiled program.
VECTORIZE_BELOW = 50_000  # parameters per member


def _over_members(fn: Callable, in_axes: tuple, vectorize: bool) -> Callable:
    """`fn` over the members (axis 0 of the args whose in_axes is 0): `jax.vmap` when
    vectorizing, else `jax.lax.map` (members one after another inside the program).
    A population of one runs unbatched."""
    batched = jax.vmap(fn, in_axes=in_axes)

    def one_by_one(*args):
        def member(member_args):
            it = iter(member_args)
            return fn(*[next(it) if ax == 0 else a for a, ax in zip(args, in_axes)])
        return jax.lax.map(member, [a for a, ax in zip(args, in_axes) if ax == 0])

    def call(*args):
        size = next(jax.tree.leaves(a)[0].shape[0] for a, ax in zip(args, in_axes) if ax == 0)
        if size != 1:
            return batched(*args) if vectorize else one_by_one(*args)
        squeeze = [jax.tree.map(lambda v: v[0], a) if ax == 0 else a for a, ax in zip(args, in_axes)]
        return jax.tree.map(lambda v: v[None], fn(*squeeze))
    return call


def _uses_batch_statistics(model: keras.Model) -> bool:
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in model._flatten_layers())


def _optimizer(program: Program):
    kinds = [(name, dict(static)) for name, static in program.optimizers]
    return optimizers.make(kinds[0][0], **kinds[0][1]) if len(kinds) == 1 else optimizers.mixed(kinds)


def _rewrite_for_cpu(model: keras.Model) -> bool:
    """Could the model hold what engine.xla_cpu rewrites (convolutions, pooling)? Dense layers cannot,
    and skip the extra trace; any other layer might."""
    plain = (keras.layers.Dense, keras.layers.Dropout, keras.layers.Activation, keras.layers.BatchNormalization,
             keras.layers.Flatten, keras.layers.InputLayer, keras.layers.Reshape)
    layers = model._flatten_layers(include_self=False)
    return jax.default_backend() == "cpu" and not all(isinstance(layer, plain) for layer in layers)


# XLA's CPU backend optimizations (LLVM's passes) are half of compiling a program: a digits MLP's
# programs compile in 2.5 s instead of 4.5 s without them, and a single member's elementwise code then
# runs up to ~30 % slower (matmuls are library calls either way). A population's batched matmuls are
# not: 48 digits MLPs trained 2.5x slower. So: one member, and training small next to compiling:
# under QUICK_BELOW floating-point operations (about 2 s on 2 cores).
QUICK_BELOW = 1e11
QUICK = {"xla_backend_optimization_level": 0}


def compile_quickly(model: keras.Model, members: int, rows: int, epochs: int) -> bool:
    """Compile without backend optimizations (QUICK)? On CPU, for one member of a dense net whose
    training, about 6 x weights x rows x epochs operations, is under QUICK_BELOW (a conv's work is
    not its weights x rows: those compile fully)."""
    return (jax.default_backend() == "cpu" and members == 1 and not _rewrite_for_cpu(model)
            and 6.0 * model.count_params() * rows * epochs < QUICK_BELOW)


def vectorize_members(model: keras.Model, platform: str | None = None) -> bool:
    """vmap the members (one wide program) or map over them one after another (see VECTORIZE_BELOW)?
    On a GPU always: one member's matmuls leave most of it idle, and the population's memory is
    bounded by training.population's budget. On CPU: dense nets below VECTORIZE_BELOW parameters."""
    if (platform or jax.default_backend()) == "gpu":
        return True
    dense_only = all(isinstance(layer, (keras.layers.Dense, keras.layers.Dropout, keras.layers.Activation,
                                        keras.layers.BatchNormalization)) for layer in model.layers)
    return dense_only and model.count_params() < VECTORIZE_BELOW


class Compiled:
    """The jitted functions of one program; built once, reused across chunks and epochs.

    `advance(state, consts, x, y, batches, weights, start, count)` runs `count` steps of an
    epoch from `start` in the program's `Steps` way; it only dispatches (JAX is asynchronous).
    for_cpu: rewrite the steps and the probe for XLA's CPU compiler (engine.xla_cpu; default: on CPU,
    for models with other layers than dense ones). quick: compile without backend optimizations
    (see compile_quickly)."""

    def __init__(self, program: Program, num_classes: int, regularized: tuple[bool, ...] = (),
                 steps: Steps | None = None, for_cpu: bool | None = None, quick: bool = False):
        jit = functools.partial(jax.jit, compiler_options=QUICK if quick else None)
        self.program = program
        self.regularized = regularized
        self.opt = _optimizer(program)
        self.steps = steps or choose_steps(program.model)
        for_cpu = _rewrite_for_cpu(program.model) if for_cpu is None else for_cpu
        math_ = MemberMath(program.model, program.loss, num_classes, self.opt, regularized, for_cpu)
        # A padded last batch is exact when rows do not see each other; batch-norm
        # statistics do, so those models take the short last batch as a separate step.
        self.pad_last_batch = not _uses_batch_statistics(program.model)
        self.vectorize = vectorize = vectorize_members(program.model)
        members = (0, 0, None, None, 0, 0)
        member_probe = probe.make_probe(program.model, math_.inference_objective)
        self.probe = jit(_over_members(for_xla_cpu(member_probe) if for_cpu else member_probe,
                                       (0, 0, 0, 0, None, None), vectorize))
        gradients = jax.grad(math_.inference_objective)   # compiled only when asked (live TensorBoard)
        self.gradients = jit(_over_members(for_xla_cpu(gradients) if for_cpu else gradients, (0, 0, 0, None, None),
                                           vectorize))
        # a vectorized mixed population keeps each optimizer kind's state for its own members only
        self.by_kind = vectorize and self.opt.by_kind is not None
        self._init = jit(self.opt.by_kind.init, static_argnums=0) if self.by_kind else \
            jit(_over_members(self.opt.init, (0, 0), vectorize))
        # vectorized: a loop over steps of the stack (stack_update: each optimizer kind on its own members);
        # else a loop over members, each looping over its steps (a population of one drops the member axis)
        if vectorize:
            stack = functools.partial(jit, static_argnames=("counts", "shared"))
            self.step = stack(lambda state, consts, x, y, idx, weight, counts, shared: math_.stack_update(
                state, consts, x[idx], y[idx], weight, counts, shared))
            if self.steps.kind == "scan":
                self.loop = stack(math_.stack_steps)
            else:
                self.chunk = stack(math_.stack_unrolled(self.steps.k))
                self.single = self.chunk if self.steps.k == 1 else stack(math_.stack_unrolled(1))
        else:
            self.step = jit(_over_members(math_.step, members, vectorize))
            if self.steps.kind == "scan":
                self.loop = jit(_over_members(math_.steps, members + (None, None), vectorize))
            else:
                self.chunk = jit(_over_members(math_.unrolled(self.steps.k), members + (None,), vectorize))
                self.single = self.chunk if self.steps.k == 1 else jit(
                    _over_members(math_.unrolled(1), members + (None,), vectorize))
        self.evaluate = jit(_over_members(math_.evaluate, (0, 0, 0, None, None, None, None), vectorize),
                            static_argnums=6)
        self._select = jit(_select, static_argnums=3)

    @property
    def shares_batches(self) -> bool:
        """Can members that see the same batches share them (one wide matmul)?"""
        return self.vectorize and self.steps.kind == "scan"

    def advance(self, state, consts, x, y, batches, weights, start: int, count: int, shared: bool = False,
                counts: tuple[int, ...] | None = None):
        """`count` steps from step `start`: batches/weights (P, steps, B), or (steps, B) when shared;
        counts: members per optimizer kind, in runs (a vectorized mixed population; see stack_update)."""
        stack = self._stack(shared, counts)
        if self.steps.kind == "scan":
            return self.loop(state, consts, x, y, batches, weights, np.int32(start), np.int32(count), **stack)
        k = self.steps.k
        for at in range(start, start + count - count % k, k):
            state = self.chunk(state, consts, x, y, batches, weights, np.int32(at), **stack)
        for at in range(start + count - count % k, start + count):
            state = self.single(state, consts, x, y, batches, weights, np.int32(at), **stack)
        return state

    def last_step(self, state, consts, x, y, rows, weight, shared: bool = False,
                  counts: tuple[int, ...] | None = None):
        """One step on the epoch's short last batch: rows/weight (P, rest), or (rest,) when shared."""
        return self.step(state, consts, x, y, rows, weight, **self._stack(shared, counts))

    def _stack(self, shared: bool, counts: tuple[int, ...] | None) -> dict:
        """The static arguments of a vectorized program's steps (a loop over members takes none)."""
        return {"counts": counts, "shared": shared} if self.vectorize else {}

    def init(self, trainable, hyper, counts: tuple[int, ...]):
        """The optimizer state of a stack of members (counts: members per optimizer kind, in runs)."""
        return self._init(counts, trainable, hyper) if self.by_kind else self._init(trainable, hyper)

    def select(self, mask, new, old, counts: tuple[int, ...]):
        """Per member, `new` where `mask` else `old`: states or weights of a stack (counts as for `init`)."""
        return self._select(mask, new, old, counts if self.by_kind else None)


def _select(mask, new, old, counts=None):
    """Per member, `new` where `mask` else `old` (states or weights; every array has a row per member), a
    state's by-kind optimizer state (a list over kinds, each of its kind's run of members: `counts`) by its
    run of the mask."""
    def pick(m):
        return lambda a, b: jnp.where(m.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)
    if counts is None or "opt" not in new:
        return jax.tree.map(pick(mask), new, old)
    ends = np.cumsum(counts)
    opt = [jax.tree.map(pick(mask[end - count:end]), a, b)
           for a, b, count, end in zip(new["opt"], old["opt"], counts, ends)]
    rest = [{k: v for k, v in tree.items() if k != "opt"} for tree in (new, old)]
    return {**jax.tree.map(pick(mask), *rest), "opt": opt}


def regularized_variables(members: list[Member]) -> tuple[bool, ...]:
    """Per trainable variable: does any member put an L1/L2 term on it?"""
    return tuple(any(a or b for a, b in factors) for factors in zip(*(m.regularization for m in members)))
