"""The likely causes of a diverged or stuck run, ranked: what those two rules explain a run with.

Each family below (inputs, initialization, learning rate, depth) looks at the run and returns
the `Cause`s it sees, each with a score (how likely, set by hand: from 4 for weights that start
all equal, which no step size can fix, down to the rules' fallbacks), plain words, a spec change
and its evidence. `rank` orders them, most likely first, one per key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .finding import fmt, lr_set, rounded
from .reading import RunView
from .thresholds import (ACTIVATION_HUGE, ACTIVATION_TINY, CLIP_LOSS, DEAD_FRACTION, DEFAULT_LR,
                         GRADIENT_PRESENT, INIT_SCALE_HUGE, INIT_SCALE_TINY, LR_FAR_TOO_HIGH, LR_HIGH,
                         SATURATED_AT_INIT, SATURATED_FRACTION, UPDATE_RATIO_HUGE, UPDATE_RATIO_TINY,
                         VANISHING_RATIO)


@dataclass
class Cause:
    score: float
    key: str
    text: str
    suggestion: str
    evidence: dict[str, float] = field(default_factory=dict)


def rank(causes: list[Cause]) -> list[Cause]:
    """Most likely first; of two causes with one key, the likelier."""
    seen, out = set(), []
    for c in sorted(causes, key=lambda c: -c.score):
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out


# ------------------------------------------------------------------ inputs

def input_causes(r: RunView) -> list[Cause]:
    """Unscaled or twice-scaled inputs, as the data checks (in `mlplab.data`) word them."""
    out = []
    for w in r.warnings:
        if "scale = 'none'" in w:
            out.append(Cause(3, "unscaled_inputs", f"the inputs are not scaled ({w.split(':')[0]}): large inputs "
                             "push units into their flat regions and make the gradients badly sized",
                             "--set data.scale=unit"))
        elif "scaled twice" in w or "all zero" in w:
            out.append(Cause(3, "inputs_scaled_twice", f"the inputs are tiny ({w.split(':')[0]}): they were probably "
                             "scaled twice, so the network sees almost nothing", "--set data.scale=unit (and "
                             "scale the raw data only once)"))
    return out


# ------------------------------------------------------------------ initialization

def init_causes(r: RunView) -> list[Cause]:
    """Weights that start all equal (and nothing else), or start far too large or far too small."""
    constant = _constant_init(r)
    if constant is not None:
        return [constant]
    return [c for c in (_init_too_large(r), _init_too_small(r)) if c is not None]


def _init_suggestion(r: RunView) -> str:
    return "--set model.init=he_normal" if "relu" in r.hidden_activations else "--set model.init=glorot_uniform"


def _init_scale(r: RunView) -> float | None:
    """The largest stddev/bound of a random_normal/truncated_normal/random_uniform initializer (Keras' default: 0.05)."""
    stddevs = [float(i.get("stddev", 0.05)) for i in r.inits() if i.get("name") in ("random_normal", "truncated_normal")]
    ranges = [max(abs(float(i.get("minval", -0.05))), abs(float(i.get("maxval", 0.05))))
              for i in r.inits() if i.get("name") == "random_uniform"]
    return max(stddevs + ranges, default=None)


def _constant_init(r: RunView) -> Cause | None:
    names = [i.get("name") for i in r.inits()]
    w0 = r.stat_row("weight_norm")
    const = [n for n in names if n in ("zeros", "ones", "constant")]
    if not (const or (w0.size and np.all(w0[:-1] == 0))):
        return None
    return Cause(4, "constant_init",
                 f"the weights start all equal (init = {const[0] if const else 'zeros'}): every unit in a "
                 "layer computes the same thing and gets the same update, so they stay identical "
                 "(the symmetry is never broken)",
                 _init_suggestion(r),
                 {"initial_weight_norm_first_layer": rounded(w0[0]) if w0.size else float("nan")})


def _init_too_large(r: RunView) -> Cause | None:
    scale = _init_scale(r)
    w0 = r.stat_row("weight_norm")
    std0 = r.stat_row("activation_std")
    mean0 = r.stat_row("activation_mean")
    sat0 = r.stat_row("saturated_fraction")
    big_acts = (mean0.size and (not np.all(np.isfinite(mean0)) or np.nanmax(np.abs(mean0)) > ACTIVATION_HUGE
                                or np.nanmax(np.abs(std0)) > ACTIVATION_HUGE))
    saturated0 = sat0.size and np.nanmax(np.nan_to_num(sat0, nan=0.0)) > SATURATED_AT_INIT
    if not ((scale is not None and scale >= INIT_SCALE_HUGE) or big_acts or saturated0
            or (w0.size and not np.all(np.isfinite(w0)))):
        return None
    ev = {"init_scale": rounded(scale) if scale is not None else float("nan")}
    if mean0.size:
        ev["initial_activation_mean_max"] = (rounded(np.nanmax(np.abs(mean0))) if np.any(np.isfinite(mean0))
                                             else float("inf"))
    return Cause(3, "init_too_large",
                 "the initial weights are far too large: activations explode (or sigmoid/tanh units "
                 "saturate) before training even starts",
                 _init_suggestion(r), ev)


def _init_too_small(r: RunView) -> Cause | None:
    scale = _init_scale(r)
    w0 = r.stat_row("weight_norm")
    std0 = r.stat_row("activation_std")
    tiny_acts = (std0.size and np.all(np.isfinite(std0)) and std0[-1] < ACTIVATION_TINY
                 and np.all(np.nan_to_num(w0) > 0))
    if not ((scale is not None and scale < INIT_SCALE_TINY) or tiny_acts):
        return None
    return Cause(3, "init_too_small",
                 "the initial weights are far too small: the signal shrinks layer after layer, so the "
                 "output barely depends on the input and the gradients vanish",
                 _init_suggestion(r),
                 {"init_scale": rounded(scale) if scale is not None else float("nan"),
                  "initial_activation_std_last_layer": rounded(std0[-1]) if std0.size else float("nan")})


# ------------------------------------------------------------------ learning rate

def lr_causes(r: RunView) -> list[Cause]:
    """A learning rate too high (steps larger than the weights, or far above the default) or far too small."""
    ratio = r.stat("update_ratio")[1:]
    default = DEFAULT_LR.get(r.optimizer, 0.001)
    if not ratio.size:   # no statistics: only the spec can tell
        if r.lr >= LR_FAR_TOO_HIGH * default:
            return [Cause(2, "lr_too_high", f"the learning rate ({fmt(r.lr)}) is far above the usual "
                          f"{fmt(default)} for {r.optimizer}", lr_set(r.lr / 10), {"learning_rate": r.lr})]
        return []
    too_high = _lr_too_high(r, ratio, default)
    if too_high is not None:
        return [too_high]
    too_small = _lr_too_small(r, ratio, default)
    return [too_small] if too_small is not None else []


def _lr_too_high(r: RunView, ratio: np.ndarray, default: float) -> Cause | None:
    finite = ratio[np.isfinite(ratio)]
    biggest = float(finite.max()) if finite.size else float("nan")
    loss = r.train_loss
    clipped = r.crossentropy and loss.size and np.nanmax(np.nan_to_num(loss, nan=0)) > 0.5 * CLIP_LOSS
    if not (biggest > UPDATE_RATIO_HUGE or (clipped and r.lr >= LR_HIGH * default)
            or r.lr >= LR_FAR_TOO_HIGH * default):
        return None
    deep = len(r.hidden_activations) > 4
    return Cause(3.5 if biggest > UPDATE_RATIO_HUGE else 2.5, "lr_too_high",
                 f"the learning rate ({fmt(r.lr)}) is too high for {r.optimizer}"
                 + (f" with {len(r.hidden_activations)} hidden layers" if deep else "")
                 + (f": one epoch moved the weights by up to {fmt(biggest)} times their own size, "
                    "so each step overshoots" if math.isfinite(biggest) else
                    ": each step overshoots until the weights are no longer finite numbers"),
                 lr_set(r.lr / 10),
                 {"learning_rate": r.lr, "max_update_ratio": rounded(biggest), "default_learning_rate": default})


def _lr_too_small(r: RunView, ratio: np.ndarray, default: float) -> Cause | None:
    med = float(np.nanmedian(np.nanmax(ratio, axis=1))) if np.any(np.isfinite(ratio)) else float("nan")
    grads = r.stat("grad_norm")[1:]
    # a tiny step with a real gradient is a small learning rate; with no gradient it is something else
    has_grad = grads.size and np.nanmedian(np.nanmax(np.nan_to_num(grads), axis=1)) > GRADIENT_PRESENT
    if not (math.isfinite(med) and med < UPDATE_RATIO_TINY and has_grad):
        return None
    return Cause(3, "lr_too_small",
                 f"the learning rate ({fmt(r.lr)}) is far too small: an epoch changes the weights by "
                 f"only {fmt(med)} of their size, so training barely moves",
                 lr_set(max(r.lr * 100, default)),
                 {"learning_rate": r.lr, "median_update_ratio": rounded(med)})


# ------------------------------------------------------------------ depth

def depth_causes(r: RunView) -> list[Cause]:
    """A gradient that fades on its way back (or saturated units), and ReLUs that died."""
    out = []
    ratio, _ = r.grad_ratio()
    sat = r.stat("saturated_fraction")
    sat_max = float(np.nanmax(sat[-1])) if sat.size and np.any(np.isfinite(sat[-1])) else 0.0
    if (math.isfinite(ratio) and ratio < VANISHING_RATIO) or sat_max >= SATURATED_FRACTION:
        out.append(Cause(2.5, "vanishing_gradients",
                         "the gradient fades on its way back to the first layers"
                         + (f" (first layer gets {fmt(ratio)} of the last layer's gradient)"
                            if math.isfinite(ratio) else "")
                         + (f"; {sat_max:.0%} of some sigmoid/tanh layer's outputs are saturated"
                            if sat_max >= SATURATED_FRACTION else "")
                         + ", so the early layers do not learn",
                         "--set model.activation=relu --set model.init=he_normal",
                         {"grad_ratio_first_to_last": rounded(ratio), "max_saturated_fraction": rounded(sat_max)}))
    dead = r.stat("dead_fraction")
    if dead.size and np.any(np.isfinite(dead[-1])):
        d = float(np.nanmax(dead[-1]))
        if d >= DEAD_FRACTION:
            out.append(Cause(2.5 + d, "dead_relus",
                             f"{d:.0%} of the units of a ReLU layer never fire: a dead unit passes no signal "
                             "and gets no gradient, so it can never recover",
                             lr_set(r.lr / 10) + " (or --set model.activation=leaky_relu)",
                             {"max_dead_fraction": rounded(d)}))
    return out
