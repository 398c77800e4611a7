"""What one compiled population program is made of: the static Program, each Member's dynamic
values, the Outcome per member, and the jitted functions (Compiled) that train and evaluate
a stack of members.

A *program* is what must be static for one compiled JAX program: the Keras model's
structure, the optimizer class and its structural options, the loss, batch size and
epochs. A *member* is what may differ inside it: initial weights, optimizer
hyperparameters (learning rate, momentum, betas, ...), L1/L2 factors and the shuffle
seed. The step is pure, `update(state, batch) -> state` (engine.member_math), mapped over the
members and run over the batches of an epoch as the program's Layout says (engine.layout).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import jax.numpy as jnp
import keras
import numpy as np

from . import optimizers, probe
from .layout import QUICK, Layout, choose, lift
from .member_math import MemberMath, loop, unrolled
from .xla_cpu import for_xla_cpu


@dataclass(frozen=True)
class EarlyStopping:
    """Stop a member when `monitor` has not improved by more than min_delta for `patience` epochs
    (Keras' rule); restore_best: end with its best epoch's weights."""
    monitor: str = "val_loss"
    patience: int = 3
    min_delta: float = 0.0
    restore_best: bool = True


@dataclass(frozen=True)
class StepRules:
    """What a Keras optimizer adds around its update (ml.fit of a compiled model), as Keras' apply does:
    schedule, a per-step learning rate (a keras LearningRateSchedule, called with the step count);
    clip, ("clipnorm" | "global_clipnorm" | "clipvalue", value); weight_decay, decoupled, for
    optimizers other than AdamW (whose own hyperparameter it is)."""
    schedule: Callable | None = None
    clip: tuple[str, float] | None = None
    weight_decay: float | None = None


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
    rules: StepRules | None = None   # a lone Keras optimizer's extras (populations from specs have none)


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


def _optimizer(program: Program):
    """The program's optimizer, with its step rules and the model's variable constraints (Keras applies both
    in its optimizer's apply)."""
    kinds = [(name, dict(static)) for name, static in program.optimizers]
    if len(kinds) > 1:
        return optimizers.mixed(kinds)
    rules = program.rules or StepRules()
    constraints = [v.constraint for v in program.model.trainable_variables]
    return optimizers.applied(optimizers.make(kinds[0][0], **kinds[0][1]), rules.schedule, rules.clip,
                              rules.weight_decay, constraints)


class Compiled:
    """The jitted functions of one program and Layout, built once and reused across populations,
    chunks and epochs: `probe`, `gradients` and `evaluate` of a stack of members, and `steps(counts,
    shared)`, one population's functions (StackSteps)."""

    def __init__(self, program: Program, num_classes: int, regularized: tuple[bool, ...] = (),
                 layout: Layout | None = None):
        self.program, self.regularized = program, regularized
        self.layout = layout = layout or choose(program.model)
        self.jit = functools.partial(jax.jit, compiler_options=QUICK if layout.quick else None)
        self.opt = _optimizer(program)
        self.math = math_ = MemberMath(program.model, program.loss, num_classes, self.opt, regularized,
                                       layout.for_cpu)
        rewrite = for_xla_cpu if layout.for_cpu else (lambda fn: fn)
        vectorize = layout.vectorize
        self.probe = self.jit(lift(rewrite(probe.make_probe(program.model, math_.inference_objective)),
                                   (0, 0, 0, 0, None, None), vectorize))
        # compiled only when asked (EpochView.gradients)
        self.gradients = self.jit(lift(rewrite(jax.grad(math_.inference_objective)), (0, 0, 0, None, None),
                                       vectorize))
        self.evaluate = self.jit(lift(math_.evaluate, (0, 0, 0, None, None, None, None), vectorize),
                                 static_argnums=6)
        # a vectorized mixed population keeps each optimizer kind's state for its own members only
        self.by_kind = vectorize and self.opt.by_kind is not None
        self.opt_init = self.jit(self.opt.by_kind.init, static_argnums=0) if self.by_kind else \
            self.jit(lift(self.opt.init, (0, 0), vectorize))
        self.where = self.jit(_select, static_argnums=3)   # per member: new where a mask says, else old
        self._steps: dict[tuple, StackSteps] = {}

    @property
    def shares_batches(self) -> bool:
        """Can members that see the same batches share them (one wide matmul)?"""
        return self.layout.vectorize and self.layout.steps.kind == "scan"

    def steps(self, counts: tuple[int, ...], shared: bool) -> StackSteps:
        """The step functions of a population: counts, its members per optimizer kind (in runs); shared:
        every member takes the same batches."""
        key = (counts if self.by_kind else None, shared)
        if key not in self._steps:
            self._steps[key] = StackSteps(self, *key)
        return self._steps[key]


class StackSteps:
    """A population's functions of a stack of members, jitted for its Layout: `init` the optimizer state,
    `advance` a segment of an epoch's steps, `last_step` its short last batch, `select` per member. A
    member's step is lifted over the stack (engine.layout.lift); a vectorized mixed population (counts)
    runs each optimizer kind on its own members in every step and keeps each kind's state for them."""

    def __init__(self, compiled: Compiled, counts: tuple[int, ...] | None, shared: bool):
        math_, layout, jit = compiled.math, compiled.layout, compiled.jit
        self.compiled, self.counts = compiled, counts
        rows = None if shared else 0
        self.kind, self.k = layout.steps.kind, layout.steps.k
        if counts is not None:   # the stack's own step, looped
            step = math_.stack_step(counts, shared)
            self.step = jit(step)
            self.loop = jit(loop(step))
            self.chunk = jit(unrolled(step, self.k))
            self.single = self.chunk if self.k == 1 else jit(unrolled(step, 1))
            return
        members, axes = (0, 0, None, None, rows, rows), (0, 0, None, None, rows, rows, None)
        self.step = jit(lift(math_.step, members, layout.vectorize))
        self.loop = jit(lift(loop(math_.step), axes + (None,), layout.vectorize))
        self.chunk = jit(lift(unrolled(math_.step, self.k), axes, layout.vectorize))
        self.single = self.chunk if self.k == 1 else jit(lift(unrolled(math_.step, 1), axes, layout.vectorize))

    def advance(self, state, consts, x, y, batches, weights, start: int, count: int):
        """`count` steps from step `start`: batches/weights (P, steps, B), or (steps, B) when shared. Only
        dispatches (JAX is asynchronous)."""
        if self.kind == "scan":
            return self.loop(state, consts, x, y, batches, weights, np.int32(start), np.int32(count))
        k = self.k
        for at in range(start, start + count - count % k, k):
            state = self.chunk(state, consts, x, y, batches, weights, np.int32(at))
        for at in range(start + count - count % k, start + count):
            state = self.single(state, consts, x, y, batches, weights, np.int32(at))
        return state

    def last_step(self, state, consts, x, y, rows, weight):
        """One step on the epoch's short last batch: rows/weight (P, rest), or (rest,) when shared."""
        return self.step(state, consts, x, y, rows, weight)

    def init(self, trainable, hyper):
        """The optimizer state of the stack."""
        init = self.compiled.opt_init
        return init(self.counts, trainable, hyper) if self.counts is not None else init(trainable, hyper)

    def select(self, mask, new, old):
        """Per member, `new` where `mask` else `old`: states or weights of the stack."""
        return self.compiled.where(mask, new, old, self.counts)


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
