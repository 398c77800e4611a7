"""Keras' optimizers as pure JAX functions whose hyperparameters are data.

A Keras optimizer bakes `beta_1`, `momentum`, `rho`, ... in as Python floats,
so a population whose members differ in them would need one compiled
program per member. Here every numeric hyperparameter is a JAX scalar in a
`hyper` dict (vmap gives each member its own) and only the structural
options in `STATIC` (`nesterov`, `amsgrad`, `centered`) shape the program.

In the optax style an optimizer is a pair of pure functions::

    opt = make("sgd", nesterov=True)
    hyper = hyperparameters("sgd", learning_rate=0.1, momentum=0.9)
    state = opt.init(params, hyper)
    params, state = opt.update(grads, state, params, hyper)

The maths follows `keras/src/optimizers/{sgd,adam,adamw,rmsprop,adagrad}.py`
and `base_optimizer.py` (Keras 3) operation for operation, so a member gives
the numbers `keras.optimizers.X(...).apply_gradients` gives (to float32
rounding: Keras computes `1 - beta` from the Python float, we from the
float32 scalar).

The names, Keras' defaults and the structural options are catalog data
(mlplab/catalog.py); this module is their implementation: an optimizer is
its catalog entry plus its builder in `BUILDERS`. Keras' defaults are what
this module supports. Not supported (all off by
default in Keras): `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema` /
`ema_momentum` / `ema_overwrite_frequency`, `loss_scale_factor`,
`gradient_accumulation_steps`, learning-rate schedules or callables,
`weight_decay` on optimizers other than AdamW, `exclude_from_weight_decay`
(Keras excludes nothing by default, and neither do we: biases decay too),
variable constraints, `None` gradients, and variables with
`overwrite_with_gradient`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from . import backend as _backend  # noqa: F401  (selects the JAX backend before keras loads)
from .layout import lift
from ..catalog import OPTIMIZER_CLASSES, OPTIMIZERS, STATIC_OPTIONS
from ..errors import BadInput

NAMES = tuple(OPTIMIZERS)

# Structural options: they change which state exists or which formula runs,
# so they are part of the compiled program (a population shares them).
STATIC = frozenset(STATIC_OPTIONS)


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise BadInput(
            f"optimizer {name!r} is not known; use one of {', '.join(NAMES)}"
        )


def defaults(name: str) -> dict[str, float | bool]:
    """Keras' default for every parameter of optimizer `name` (a fresh dict)."""
    _check_name(name)
    return dict(OPTIMIZERS[name])


def hyperparameters(name: str, **values: float) -> dict[str, jax.Array]:
    """The `hyper` dict for `name`: Keras' defaults, overridden by `values`,
    as float32 scalars. Static options are not hyperparameters; pass them
    to `make`."""
    known = {k: v for k, v in defaults(name).items() if k not in STATIC}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise BadInput(
            f"{name}: unknown hyperparameter(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(known)}"
        )
    known.update(values)
    return {k: jnp.asarray(v, jnp.float32) for k, v in known.items()}


class ByKind(NamedTuple):
    """Several optimizer kinds on a stack of members in runs by kind (see `mixed`)."""

    init: Callable[..., Any]     # init(counts, params, hyper)
    update: Callable[..., Any]   # update(counts, grads, state, params, hyper) -> (params, state)


class Optimizer(NamedTuple):
    """A pair of pure functions (optax style); state is a dict of arrays."""

    init: Callable[[list[jax.Array], dict], Any]
    update: Callable[[list, Any, list, dict], tuple[list, Any]]
    by_kind: ByKind | None = None   # several kinds (`mixed`) on a stack of members


# --- helpers ---------------------------------------------------------------


def _h(hyper: dict, key: str, like: jax.Array) -> jax.Array:
    # Keras casts each hyperparameter to the variable's dtype (ops.cast).
    return jnp.asarray(hyper[key]).astype(like.dtype)


def _zeros(params):
    return [jnp.zeros_like(p) for p in params]


def _iterations() -> jax.Array:
    # Keras' `iterations` variable: dtype "int" is int32 on JAX.
    return jnp.zeros((), jnp.int32)


# --- the pieces: one variable's step, applied to every variable ------------


def _per_variable(slots: Callable[[list, dict], dict[str, list]], step: Callable) -> Optimizer:
    """An optimizer from one variable's step (optax's idea: the maths of one piece, the bookkeeping
    once). `slots(params, hyper)`: the state kept per variable ({name: [array per variable]});
    `step(g, p, slots, hyper, iterations)` -> (new p, its new slots) for one variable, g already
    cast to its dtype as Keras casts it."""
    def init(params, hyper):
        return {"iterations": _iterations(), **slots(params, hyper)}

    def update(grads, state, params, hyper):
        names = [k for k in state if k != "iterations"]
        new_params, new_slots = [], {k: [] for k in names}
        for i, (g, p) in enumerate(zip(grads, params)):
            p, own = step(g.astype(p.dtype), p, {k: state[k][i] for k in names}, hyper, state["iterations"])
            new_params.append(p)
            for k in names:
                new_slots[k].append(own[k])
        return new_params, {"iterations": state["iterations"] + 1, **new_slots}

    return Optimizer(init, update)


def _slots(*names: str) -> Callable[[list, dict], dict[str, list]]:
    """Zero-initialised slots of these names."""
    return lambda params, hyper: {k: _zeros(params) for k in names}


def _decayed(step: Callable) -> Callable:
    """`step` after decoupled weight decay (base_optimizer._apply_weight_decay, before the update
    step: variable - variable * wd * lr, applied to every variable)."""
    def decayed(g, p, slots, hyper, it):
        return step(g, p - p * _h(hyper, "weight_decay", p) * _h(hyper, "learning_rate", p), slots, hyper, it)
    return decayed


# --- SGD -------------------------------------------------------------------


def _sgd(nesterov: bool = False) -> Optimizer:
    # Keras only creates `momentums` when momentum != 0 (a Python test); here
    # momentum is data, so the buffer always exists. With momentum 0 the
    # formula reduces exactly to Keras' plain step: m = m*0 - g*lr and
    # p + (-(g*lr)) == p - g*lr.
    def step(g, p, slots, hyper, it):
        lr, mu = _h(hyper, "learning_rate", p), _h(hyper, "momentum", p)
        m = slots["momentum"] * mu - g * lr
        return (p + (m * mu - g * lr) if nesterov else p + m), {"momentum": m}

    return _per_variable(_slots("momentum"), step)


# --- Adam / AdamW ----------------------------------------------------------


def _adam_step(amsgrad: bool) -> Callable:
    def step(g, p, slots, hyper, it):
        lr = _h(hyper, "learning_rate", p)
        b1, b2, eps = _h(hyper, "beta_1", p), _h(hyper, "beta_2", p), _h(hyper, "epsilon", p)
        local_step = (it + 1).astype(p.dtype)
        alpha = lr * jnp.sqrt(1 - jnp.power(b2, local_step)) / (1 - jnp.power(b1, local_step))
        m = slots["momentum"] + (g - slots["momentum"]) * (1 - b1)
        v = slots["velocity"] + (jnp.square(g) - slots["velocity"]) * (1 - b2)
        new = {"momentum": m, "velocity": v}
        if amsgrad:
            new["velocity_hat"] = v = jnp.maximum(slots["velocity_hat"], v)
        return p - (m * alpha) / (jnp.sqrt(v) + eps), new
    return step


def _adam(amsgrad: bool = False) -> Optimizer:
    return _per_variable(_slots("momentum", "velocity", *(["velocity_hat"] if amsgrad else [])), _adam_step(amsgrad))


def _adamw(amsgrad: bool = False) -> Optimizer:
    return _per_variable(_slots("momentum", "velocity", *(["velocity_hat"] if amsgrad else [])),
                         _decayed(_adam_step(amsgrad)))


# --- RMSprop ---------------------------------------------------------------


def _rmsprop(centered: bool = False) -> Optimizer:
    # As for SGD, the momentum buffer always exists; with momentum 0,
    # m = 0*m + increment and p - m == p - increment, Keras' plain step.
    def step(g, p, slots, hyper, it):
        lr, rho = _h(hyper, "learning_rate", p), _h(hyper, "rho", p)
        mu, eps = _h(hyper, "momentum", p), _h(hyper, "epsilon", p)
        v = rho * slots["velocity"] + (1 - rho) * jnp.square(g)
        new = {"velocity": v}
        if centered:
            new["average_gradient"] = a = rho * slots["average_gradient"] + (1 - rho) * g
            denominator = v - jnp.square(a) + eps
        else:
            denominator = v + eps
        new["momentum"] = m = mu * slots["momentum"] + (lr * g) / jnp.sqrt(denominator)
        return p - m, new

    return _per_variable(_slots("velocity", "momentum", *(["average_gradient"] if centered else [])), step)


# --- Adagrad ---------------------------------------------------------------


def _adagrad() -> Optimizer:
    def slots(params, hyper):
        return {"accumulator": [jnp.full_like(p, _h(hyper, "initial_accumulator_value", p)) for p in params]}

    def step(g, p, slots, hyper, it):
        acc = slots["accumulator"] + jnp.square(g)
        return p - (_h(hyper, "learning_rate", p) * g) / jnp.sqrt(acc + _h(hyper, "epsilon", p)), {"accumulator": acc}

    return _per_variable(slots, step)


# --- around an update: what Keras' apply does besides the optimizer's step ----


def _clip_by_norm(g, clipnorm):
    """BaseOptimizer._clip_by_norm, operation for operation."""
    l2sum = jnp.sum(jnp.square(g), keepdims=True)
    pred = l2sum > 0
    l2norm = jnp.where(pred, jnp.sqrt(jnp.where(pred, l2sum, jnp.ones_like(l2sum))), l2sum)
    return (g * clipnorm) / jnp.maximum(l2norm, clipnorm)


def clipped(grads: list, clip: tuple[str, float] | None) -> list:
    """Gradients clipped as Keras' _clip_gradients: per variable by norm, by their global norm, or by value."""
    if clip is None:
        return grads
    kind, value = clip
    if kind == "clipnorm":
        return [_clip_by_norm(g, value) for g in grads]
    if kind == "global_clipnorm":
        from keras.src.optimizers.base_optimizer import clip_by_global_norm
        return clip_by_global_norm(grads, value)
    return [jnp.clip(g, -value, value) for g in grads]


def applied(opt: Optimizer, schedule: Callable | None = None, clip: tuple[str, float] | None = None,
            weight_decay: float | None = None, constraints: list | None = None) -> Optimizer:
    """`opt` inside Keras' apply: gradients clipped, the learning rate of this step (`schedule(step)`),
    decoupled weight decay, the update, then each variable's constraint. Without any, `opt` itself."""
    if schedule is None and clip is None and weight_decay is None and not any(constraints or []):
        return opt

    def update(grads, state, params, hyper):
        if schedule is not None:   # Keras: the schedule of the iterations before this step
            hyper = {**hyper, "learning_rate": schedule(state["iterations"])}
        grads = clipped(grads, clip)
        if weight_decay is not None:
            params = [p - p * jnp.asarray(weight_decay, p.dtype) * _h(hyper, "learning_rate", p) for p in params]
        params, state = opt.update(grads, state, params, hyper)
        return [c(p) if c is not None else p for p, c in zip(params, constraints or [None] * len(params))], state

    return Optimizer(opt.init, update, opt.by_kind)


# --- public constructors ---------------------------------------------------


def make(name: str, **static: bool) -> Optimizer:
    """The pure-function optimizer `name`; `static` sets its structural
    options (`nesterov` for sgd, `amsgrad` for adam/adamw, `centered` for
    rmsprop), Keras' defaults otherwise."""
    _check_name(name)
    allowed = {k for k in OPTIMIZERS[name] if k in STATIC}
    unknown = sorted(set(static) - allowed)
    if unknown:
        raise BadInput(
            f"{name}: {', '.join(unknown)} is not a structural option of this optimizer; "
            f"allowed: {', '.join(sorted(allowed)) or 'none'}"
        )
    options = {k: bool(OPTIMIZERS[name][k]) for k in allowed}
    options.update({k: bool(v) for k, v in static.items()})
    return BUILDERS[name](**options)


# Each catalog optimizer's builder: its structural options -> the pair of functions.
BUILDERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": _sgd,
    "adam": _adam,
    "adamw": _adamw,
    "rmsprop": _rmsprop,
    "adagrad": _adagrad,
}


def keras_optimizer(name: str, hyper: dict):
    """The equivalent `keras.optimizers.Optimizer` (e.g. to compile a saved
    model). `hyper` holds scalar hyperparameters (one member's, not a
    population's) and may also hold the static options; missing keys take
    Keras' defaults."""
    import keras

    _check_name(name)
    unknown = sorted(set(hyper) - set(OPTIMIZERS[name]))
    if unknown:
        raise BadInput(
            f"{name}: unknown parameter(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(OPTIMIZERS[name])}"
        )
    kwargs: dict[str, float | bool] = {}
    for key, value in hyper.items():
        if key in STATIC:
            kwargs[key] = bool(value)
        else:
            # Keras insists on Python floats (SGD rejects a numpy momentum).
            kwargs[key] = float(jnp.asarray(value).reshape(()))
    return getattr(keras.optimizers, OPTIMIZER_CLASSES[name])(**kwargs)


def mixed(kinds: list[tuple[str, dict[str, bool]]]) -> Optimizer:
    """Several optimizers in one population: member i runs the update of kind
    `hyper["kind"]` (an index into `kinds`). Every kind's update is computed and
    each member's own is selected, so a sweep over optimizers compiles once; the
    selected numbers are exactly that optimizer's. `hyper` must hold every
    kind's hyperparameters (unused ones may be any value)."""
    opts = [make(name, **static) for name, static in kinds]

    def init(params, hyper):
        return [opt.init(params, hyper) for opt in opts]

    def update(grads, state, params, hyper):
        outs = [opt.update(grads, s, params, hyper) for opt, s in zip(opts, state)]
        new_params = outs[0][0]
        for k, (p, _) in enumerate(outs[1:], start=1):
            new_params = [jnp.where(hyper["kind"] == k, a, b) for a, b in zip(p, new_params)]
        return new_params, [s for _, s in outs]

    # A stack of members (axis 0) in runs of one kind, counts[k] members of kind k in kind order: each
    # kind's state is kept for its own run only (None for a kind without members), and each run gets its
    # own kind's update, not every kind's. The same numbers as `update` member by member.
    def runs(counts):
        start = 0
        for opt, count in zip(opts, counts):
            yield opt, slice(start, start + count)
            start += count

    def cut(run, *trees):
        return [jax.tree.map(lambda a: a[run], tree) for tree in trees]

    def stack_init(counts, params, hyper):
        return [lift(opt.init, (0, 0), True)(*cut(run, params, hyper)) if run.stop > run.start else None
                for opt, run in runs(counts)]

    def stack_update(counts, grads, state, params, hyper):
        new_params, new_state = [], []
        for (opt, run), s in zip(runs(counts), state):
            if run.stop == run.start:
                new_state.append(None)
                continue
            g, p, h = cut(run, grads, params, hyper)
            p, s = lift(opt.update, (0, 0, 0, 0), True)(g, s, p, h)
            new_params.append(p)
            new_state.append(s)
        return [jnp.concatenate(parts) for parts in zip(*new_params)], new_state

    return Optimizer(init, update, ByKind(stack_init, stack_update))
