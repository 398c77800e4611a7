"""How a population's program runs: every execution strategy the engine has, chosen in one place.

Each strategy gives the same numbers (to float rounding); each was chosen by a measurement on
2 CPU cores, cited where it is decided below. `choose` decides them once, from the model, the
population and the platform; `Compiled` (engine.program) builds its jitted functions from the
result, and `lift` is the one place where a member's function becomes the population's: vmap,
a loop over members, or a lone member without its member axis.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import keras


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

    @property
    def multiple(self) -> int:
        """Steps per call: segments of an epoch come in multiples of it."""
        return self.k if self.kind == "unrolled" else 1


@dataclass(frozen=True)
class Layout:
    """A program's strategies (what its compiled functions are; `Compiled` is keyed by it):
    vectorize: vmap the members (one wide program), else a loop over them inside the program;
    steps: how an epoch's steps run; for_cpu: rewrite the math for XLA's CPU compiler
    (engine.xla_cpu); quick: compile without backend optimizations; pad_last_batch: the short
    last batch padded to a full one (exact unless rows see each other, as in batch-norm)."""
    vectorize: bool = True
    steps: Steps = Steps()
    for_cpu: bool = False
    quick: bool = False
    pad_last_batch: bool = True


# ---------------------------------------------------------------- the choices and their measurements

# XLA's batched matmuls only pay off for small dense nets (48 digits MLPs of 9k weights: vmap 8.3 s vs
# map 9.0 s for a sweep); for MNIST-size layers a loop over members with plain matmuls is much faster
# (8 members of 235k weights: map 16 s, vmap 24 s, one run at a time 27 s). Either way the population
# is one compiled program.
VECTORIZE_BELOW = 50_000  # parameters per member

# XLA's CPU backend optimizations (LLVM's passes) are half of compiling a program: a digits MLP's
# programs compile in 2.5 s instead of 4.5 s without them, and a single member's elementwise code then
# runs up to ~30 % slower (matmuls are library calls either way). A population's batched matmuls are
# not: 48 digits MLPs trained 2.5x slower. So: one member, and training small next to compiling:
# under QUICK_BELOW floating-point operations (about 2 s on 2 cores).
QUICK_BELOW = 1e11
QUICK = {"xla_backend_optimization_level": 0}

DENSE = (keras.layers.Dense, keras.layers.Dropout, keras.layers.Activation, keras.layers.BatchNormalization)
PLAIN = DENSE + (keras.layers.Flatten, keras.layers.InputLayer, keras.layers.Reshape)


def _layers(model: keras.Model) -> list:
    return model._flatten_layers(include_self=False)


def _sees_the_batch(layer) -> bool:
    """Does a row's result depend on the other rows of its batch (so padding rows would change it)?
    Batch-norm's statistics, and an activity regularizer's loss (divided by the batch's size)."""
    return isinstance(layer, keras.layers.BatchNormalization) or getattr(layer, "activity_regularizer", None) is not None


def choose_steps() -> Steps:
    """A loop on device for every model (2 CPU cores; bench/epoch.py, bench/cnn.py): convolutions in a
    loop were 4.5x slower than per-step calls on CPU; with the step rewritten by `for_xla_cpu` the loop
    is the fastest for them too. MLPLAB_STEPS overrides it for every program ("step", "unrolled:8")."""
    wanted = os.environ.get("MLPLAB_STEPS")
    return Steps.parse(wanted) if wanted else Steps()


def rewrite_for_cpu(model: keras.Model, platform: str) -> bool:
    """Could the model hold what engine.xla_cpu rewrites (convolutions, pooling)? Dense layers cannot,
    and skip the extra trace; any other layer might."""
    return platform == "cpu" and not all(isinstance(layer, PLAIN) for layer in _layers(model))


def vectorize_members(model: keras.Model, platform: str | None = None) -> bool:
    """vmap the members or loop over them (see VECTORIZE_BELOW)? On a GPU always: one member's matmuls
    leave most of it idle, and the population's memory is bounded by training.population's budget.
    On CPU: dense nets below VECTORIZE_BELOW parameters."""
    if (platform or jax.default_backend()) == "gpu":
        return True
    return all(isinstance(layer, DENSE) for layer in model.layers) and model.count_params() < VECTORIZE_BELOW


def compile_quickly(model: keras.Model, members: int, rows: int, epochs: int, platform: str | None = None) -> bool:
    """Compile without backend optimizations (QUICK)? On CPU, for one member of a dense net whose
    training, about 6 x weights x rows x epochs operations, is under QUICK_BELOW (a conv's work is
    not its weights x rows: those compile fully)."""
    platform = platform or jax.default_backend()
    return (platform == "cpu" and members == 1 and not rewrite_for_cpu(model, platform)
            and 6.0 * model.count_params() * rows * epochs < QUICK_BELOW)


def choose(model: keras.Model, members: int = 2, rows: int = 0, epochs: int = 0, platform: str | None = None,
           **chosen) -> Layout:
    """The fastest layout measured for this model and population (members, training rows, epochs);
    `chosen` fixes any of Layout's fields instead (tests and benchmarks compare them)."""
    platform = platform or jax.default_backend()
    layout = Layout(vectorize=vectorize_members(model, platform), steps=choose_steps(),
                    for_cpu=rewrite_for_cpu(model, platform),
                    quick=compile_quickly(model, members, rows, epochs, platform),
                    pad_last_batch=not any(_sees_the_batch(layer) for layer in _layers(model)))
    return replace(layout, **chosen)


# ---------------------------------------------------------------- the one place members are lifted

def lift(fn: Callable, in_axes: tuple, vectorize: bool) -> Callable:
    """`fn` of one member over a stack of members (axis 0 of the args whose in_axes is 0): `jax.vmap`
    when vectorizing, else `jax.lax.map` (members one after another inside the program). A stack of
    one runs unbatched: its member axis is dropped and put back."""
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
