"""What one compiled population program is made of: the static Program, each Member's dynamic
values, the Outcome per member, and the jitted functions (Compiled) that train and evaluate
a stack of members.

A *program* is what must be static for one compiled JAX program: the Keras model's
structure, the optimizer class and its structural options, the loss, batch size and
epochs. A *member* is what may differ inside it: initial weights, optimizer
hyperparameters (learning rate, momentum, betas, ...), L1/L2 factors and the shuffle
seed. The step is pure, `update(state, batch) -> state`, mapped over the members
(vmap or lax.map) and run over the batches of an epoch in one of the ways `Steps` names:
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


# ---------------------------------------------------------------- losses

def _targets(loss: str, y: jax.Array, num_classes: int) -> jax.Array:
    if loss in ("categorical_crossentropy", "mse"):
        return jax.nn.one_hot(y, num_classes)
    if loss == "binary_crossentropy":
        return y[:, None].astype("float32")
    return y


def _per_sample_loss(loss: str) -> Callable:
    return {
        "sparse_categorical_crossentropy": keras.losses.sparse_categorical_crossentropy,
        "categorical_crossentropy": keras.losses.categorical_crossentropy,
        "binary_crossentropy": keras.losses.binary_crossentropy,
        "mse": keras.losses.mean_squared_error,
    }[loss]


def _correct(loss: str, probs: jax.Array, y: jax.Array) -> jax.Array:
    pred = (probs[:, 0] > 0.5).astype("int32") if loss == "binary_crossentropy" else jnp.argmax(probs, -1)
    return (pred == y).astype("float32")


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


class MemberMath:
    """The pure, traceable functions of one member; `Compiled` maps them over the population.

    regularized: which trainable variables carry an L1/L2 term (static: the rest are skipped).
    for_cpu: rewrite the step for XLA's CPU compiler (engine.xla_cpu: convolutions, max-pool gradients)."""

    def __init__(self, model: keras.Model, loss: str, num_classes: int, opt, regularized: tuple[bool, ...],
                 for_cpu: bool = False):
        self.model, self.loss, self.num_classes, self.opt = model, loss, num_classes, opt
        self.regularized = regularized
        self.per_sample = _per_sample_loss(loss)
        self.train_step = for_xla_cpu(self.update) if for_cpu else self.update
        self.train_gradients = for_xla_cpu(self.gradients) if for_cpu else self.gradients

    def penalty(self, trainable, reg):
        l1, l2 = reg
        return sum(a * jnp.sum(jnp.abs(w)) + b * jnp.sum(jnp.square(w))
                   for w, a, b, on in zip(trainable, l1, l2, self.regularized) if on)

    def forward(self, trainable, non_trainable, x, training):
        return self.model.stateless_call(trainable, non_trainable, x, training=training)

    def gradients(self, state, consts, xb, yb, weight):
        """The batch's loss and its gradients (weight: 1 for real rows, 0 for padding):
        ((loss, (probabilities, new non-trainable state)), gradients)."""
        target = _targets(self.loss, yb, self.num_classes)

        def objective(trainable):
            probs, non_trainable = self.forward(trainable, state["non_trainable"], xb, True)
            value = jnp.sum(self.per_sample(target, probs) * weight) / jnp.sum(weight) \
                + self.penalty(trainable, consts["reg"])
            return value, (probs, non_trainable)
        return jax.value_and_grad(objective, has_aux=True)(state["trainable"])

    def sums(self, state, yb, weight, value, probs):
        """The running sums after a step, as Keras prints them: batch losses weighted by batch size."""
        n = jnp.sum(weight)
        return {"loss_sum": state["loss_sum"] + value * n,
                "correct": state["correct"] + jnp.sum(_correct(self.loss, probs, yb) * weight),
                "seen": state["seen"] + n}

    def update(self, state, consts, xb, yb, weight):
        """One optimizer step of one member on a batch. No masking: members share no arithmetic, so a NaN
        cannot spread, and a member that stops or diverges is put back to its last good state once per
        epoch (`train`)."""
        (value, (probs, non_trainable)), grads = self.gradients(state, consts, xb, yb, weight)
        params, opt_state = self.opt.update(grads, state["opt"], state["trainable"], consts["hyper"])
        return {"trainable": params, "non_trainable": non_trainable, "opt": opt_state,
                **self.sums(state, yb, weight, value, probs)}

    def stack_update(self, state, consts, xb, yb, weight, counts, shared):
        """One optimizer step of a stack of members (axis 0) on their batches (one batch for all when
        `shared`). A mixed population's members come in runs of one optimizer kind, counts[k] of kind k,
        and each run gets its own kind's update only (optimizers.mixed's by_kind), not every kind's.
        A stack of one runs unbatched."""
        rows = None if shared else 0
        if self.alone(state):
            one = jax.tree.map(lambda a: a[0], (state, consts))
            batch = (xb, yb, weight) if shared else jax.tree.map(lambda a: a[0], (xb, yb, weight))
            return jax.tree.map(lambda a: a[None], self.train_step(*one, *batch))
        weights = {k: state[k] for k in ("trainable", "non_trainable")}
        (value, (probs, non_trainable)), grads = jax.vmap(self.train_gradients, in_axes=(0, 0, rows, rows, rows))(
            weights, consts, xb, yb, weight)
        if self.opt.by_kind is None:
            params, opt_state = jax.vmap(self.opt.update)(grads, state["opt"], state["trainable"], consts["hyper"])
        else:
            params, opt_state = self.opt.by_kind[1](counts, grads, state["opt"], state["trainable"], consts["hyper"])
        running = {k: state[k] for k in ("loss_sum", "correct", "seen")}
        return {"trainable": params, "non_trainable": non_trainable, "opt": opt_state,
                **jax.vmap(self.sums, in_axes=(0, rows, rows, 0, 0))(running, yb, weight, value, probs)}

    def step(self, state, consts, x, y, idx, weight):
        """idx: (B,) rows of this member's batch."""
        return self.train_step(state, consts, x[idx], y[idx], weight)

    def steps(self, state, consts, x, y, batches, weights, start, count):
        """Steps start .. start+count-1 of the epoch's batches (steps, B), as one loop on device."""
        def body(i, carry):
            return self.step(carry, consts, x, y, batches[i], weights[i])
        return jax.lax.fori_loop(start, start + count, body, state)

    def alone(self, state) -> bool:
        """A stack of one member (of one optimizer kind): it runs unbatched."""
        return jax.tree.leaves(state)[0].shape[0] == 1 and self.opt.by_kind is None

    def stack_steps(self, state, consts, x, y, batches, weights, start, count, counts, shared):
        """Steps start .. start+count-1 of a stack of members as one loop on device: batches and weights
        (P, steps, B), or (steps, B) when every member takes the same rows (`shared`: the batch is not
        batched over members, so the first layer is one wide matmul). A stack of one drops its member axis
        outside the loop."""
        if self.alone(state) and not shared:
            one = jax.tree.map(lambda a: a[0], (state, consts, batches, weights))
            return jax.tree.map(lambda a: a[None], self.steps(*one[:2], x, y, *one[2:], start, count))

        def body(i, carry):
            return self.stack_row_step(carry, consts, x, y, batches, weights, i, counts, shared)
        return jax.lax.fori_loop(start, start + count, body, state)

    def stack_row_step(self, state, consts, x, y, batches, weights, i, counts, shared):
        idx, weight = (batches[i], weights[i]) if shared else (batches[:, i], weights[:, i])
        return self.stack_update(state, consts, x[idx], y[idx], weight, counts, shared)

    def stack_unrolled(self, k: int) -> Callable:
        """Steps start .. start+k-1 of a stack as straight-line code."""
        def run(state, consts, x, y, batches, weights, start, counts, shared):
            for j in range(k):
                state = self.stack_row_step(state, consts, x, y, batches, weights, start + j, counts, shared)
            return state
        return run

    def unrolled(self, k: int) -> Callable:
        """Steps start .. start+k-1 as straight-line code (no loop for XLA to compile)."""
        def run(state, consts, x, y, batches, weights, start):
            for j in range(k):
                state = self.step(state, consts, x, y, batches[start + j], weights[start + j])
            return state
        return run

    def evaluate(self, trainable, non_trainable, reg, x, y, split, test_rows):
        """Inference-mode loss and accuracy per split, the test rows' probabilities, and whether
        the weights are finite. x: (chunks, C, ...) rows of every split, padded; split: which
        split a row is in (3 = padding)."""
        def body(sums, chunk):
            xc, yc, sc = chunk
            probs, _ = self.forward(trainable, non_trainable, xc, False)
            losses = self.per_sample(_targets(self.loss, yc, self.num_classes), probs)
            one_hot = jax.nn.one_hot(sc, 3)
            right = _correct(self.loss, probs, yc)
            return sums + jnp.stack([losses @ one_hot, right @ one_hot, jnp.sum(one_hot, 0)]), probs
        sums, probs = jax.lax.scan(body, jnp.zeros((3, 3)), (x, y, split))
        count = jnp.maximum(sums[2], 1.0)
        probs = probs.reshape((-1,) + probs.shape[2:])[test_rows[0]:test_rows[0] + test_rows[1]]
        finite = jnp.isfinite(sum(jnp.sum(w) for w in trainable))
        return sums[0] / count + self.penalty(trainable, reg), sums[1] / count, probs, finite

    def inference_objective(self, trainable, non_trainable, reg, x, y):
        probs, _ = self.forward(trainable, non_trainable, x, False)
        return jnp.mean(self.per_sample(_targets(self.loss, y, self.num_classes), probs)) + self.penalty(trainable, reg)


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
        self.init = jit(self.opt.by_kind[0], static_argnums=0) if self.by_kind else \
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
        self.select = jit(_select, static_argnums=3)

    @property
    def shares_batches(self) -> bool:
        """Can members that see the same batches share them (one wide matmul)?"""
        return self.vectorize and self.steps.kind == "scan"

    def advance(self, state, consts, x, y, batches, weights, start: int, count: int, shared: bool = False,
                counts: tuple[int, ...] | None = None):
        """`count` steps from step `start`: batches/weights (P, steps, B), or (steps, B) when shared;
        counts: members per optimizer kind, in runs (a vectorized mixed population; see stack_update)."""
        stack = {"counts": counts, "shared": shared} if self.vectorize else {}
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
        stack = {"counts": counts, "shared": shared} if self.vectorize else {}
        return self.step(state, consts, x, y, rows, weight, **stack)


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
