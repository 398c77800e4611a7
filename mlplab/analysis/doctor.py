"""The training doctor: plain-word findings about a stored run.

    findings = diagnose(store.get_run(run_id), stats)   # stats: the run's stats.json, or None
    findings = training.artifacts.load_findings(store, "last")   # the same, reading the store

Each rule looks at the data checks (`run["warnings"]`), the history and the
per-epoch statistics of `engine.probe`, and returns at most one `Finding`
with the numbers it saw (`evidence`), an explanation a student understands,
and a concrete spec change to try (`suggestion`). A healthy run gets no
warnings or errors (at most an "info"). Divergence and chance level come from
`analysis.status` (the rule that sets the run's status), so the doctor calls a run
diverged exactly when its status says so; lost and interrupted runs say so too.

Only the standard library and numpy are used: no Keras, no JAX, so `mlplab
show` and the dashboard stay fast.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .status import at_chance, chance_level, divergence

SEVERITIES = ("error", "warning", "info")
# Keras' default learning rates: how far a spec is from the usual setting.
DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001, "adagrad": 0.001}
CLIP_LOSS = -math.log(1e-7)  # crossentropy of a sample whose true-class probability is clipped to 1e-7

# thresholds (why these values: see the comments at each rule)
SEVERAL_EPOCHS = 3
DEAD_FRACTION = 0.5
SATURATED_FRACTION = 0.4
VANISHING_RATIO = 1e-2
EXPLODING_RATIO = 1e2
UPDATE_RATIO_HUGE = 1.0
OVERFIT_RISE = 0.10
OSCILLATION_JUMP = 0.25


@dataclass
class Finding:
    code: str                     # stable identifier, e.g. "diverged", "stuck", "overfitting"
    severity: str                 # "error" | "warning" | "info"
    title: str                    # one line
    epoch: int | None             # where it starts (1-based training epoch; 0 = at initialization)
    evidence: dict[str, float]    # the numbers the rule saw
    explanation: str              # plain words
    suggestion: str               # a concrete spec change, e.g. "--set train.learning_rate=0.001"
    causes: list[str] = field(default_factory=list)  # ranked likely causes (diverged, stuck)

    def __post_init__(self):
        # a number a rule could not measure (None, NaN) is not evidence: leave it out
        self.evidence = {k: v for k, v in self.evidence.items() if not _unknown(v)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evidence"] = {k: _plain(v) for k, v in self.evidence.items()}
        return d


def _unknown(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else ("NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity"))


def _r(x: float, digits: int = 4) -> float:
    """Round for evidence (keeps NaN/inf)."""
    x = float(x)
    if not math.isfinite(x) or x == 0:
        return x
    return float(f"{x:.{digits}g}")


# ------------------------------------------------------------------ reading a run

class _Run:
    """What the rules read, computed once: plain numpy arrays, NaN where absent."""

    def __init__(self, run: dict, stats: dict | None):
        self.run = run
        self.spec = run.get("spec") or {}
        self.status = run.get("status") or "ok"
        h = run.get("history") or {}
        self.h = {k: np.asarray([np.nan if v is None else v for v in vals], float) for k, vals in h.items()
                  if isinstance(vals, list)}
        self.epochs = len(self.h.get("loss", []))
        summary = run.get("summary") or {}
        data = summary.get("data") or {}
        self.class_names = data.get("class_names") or []
        counts = (data.get("class_counts") or {}).get("train") or []
        self.num_classes = max(len(self.class_names) or len(counts), 2)
        self.chance = chance_level(counts, self.num_classes)   # the same chance level as the run's status
        self.warnings = list(run.get("warnings") or [])
        train = self.spec.get("train") or {}
        opt = train.get("optimizer") or {}
        if isinstance(opt, str):
            opt = {"name": opt}
        self.optimizer = opt.get("name", "adam")
        self.lr = float(opt.get("learning_rate") or DEFAULT_LR.get(self.optimizer, 0.001))
        self.loss_name = train.get("loss", "sparse_categorical_crossentropy")
        self.early_stopping = train.get("early_stopping") or None
        model = self.spec.get("model") or {}
        self.model = model
        self.stats = stats or {}
        self.weights = list(self.stats.get("weights") or [])
        self.layers = list(self.stats.get("layers") or [])

    # history
    def metric(self, *names: str) -> np.ndarray:
        for n in names:
            a = self.h.get(n)
            if a is not None and a.size and not np.all(np.isnan(a)):
                return a
        return np.zeros(0)

    @property
    def train_loss(self) -> np.ndarray:
        return self.metric("train_loss", "loss")

    @property
    def train_acc(self) -> np.ndarray:
        return self.metric("train_accuracy", "accuracy")

    # statistics: (epochs, units) arrays, NaN for null
    def stat(self, name: str) -> np.ndarray:
        rows = self.stats.get(name)
        if not rows:
            return np.zeros((0, 0))
        return np.asarray([[np.nan if v is None else v for v in row] for row in rows], float)

    @property
    def stat_epochs(self) -> list[int]:
        return list(self.stats.get("epoch") or [])

    # the spec
    def inits(self) -> list[dict]:
        out = [_init_dict(self.model.get("init"))]
        for layer in self.model.get("layers") or []:
            if layer.get("init"):
                out.append(_init_dict(layer["init"]))
        return out

    @property
    def hidden_activations(self) -> list[str]:
        if self.model.get("layers"):
            return [l.get("activation") for l in self.model["layers"] if l.get("activation")]
        return [self.model.get("activation", "relu")] * len(self.model.get("hidden") or [])

    @property
    def regularizers(self) -> tuple[bool, bool]:
        """(has dropout, has batch-norm)"""
        layers = self.model.get("layers") or []
        dropout = bool(self.model.get("dropout")) or any(l.get("type") == "dropout" and l.get("rate") for l in layers)
        bn = bool(self.model.get("batchnorm")) or any(l.get("type") == "batchnorm" for l in layers)
        return dropout, bn

    @property
    def crossentropy(self) -> bool:
        return "crossentropy" in self.loss_name

    def near_chance(self, acc: float) -> bool:
        return at_chance(acc, self.chance)

    def divergence(self) -> tuple[int, str] | None:
        """(epoch, how) when the run diverged, by the rule that sets the run's status."""
        found = divergence(self.run.get("history") or {}, self.num_classes, self.chance, self.crossentropy)
        if found is None and self.status == "diverged":   # e.g. NaN weights with a finite loss
            how = self.run.get("error") or "the loss or the weights became NaN/infinite"  # the engine's words
            return max(self.epochs, 1), how.rstrip(".")
        return found


def _init_dict(init: Any) -> dict:
    if isinstance(init, str):
        return {"name": init}
    return dict(init or {"name": "glorot_uniform"})


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _lr_set(value: float) -> str:
    return f"--set train.learning_rate={float(f'{value:.1g}'):g}"


# ------------------------------------------------------------------ causes

@dataclass
class _Cause:
    score: float
    key: str
    text: str
    suggestion: str
    evidence: dict[str, float] = field(default_factory=dict)


def _cause_inputs(r: _Run) -> list[_Cause]:
    out = []
    for w in r.warnings:
        if "scale = 'none'" in w:
            out.append(_Cause(3, "unscaled_inputs", f"the inputs are not scaled ({w.split(':')[0]}): large inputs "
                              "push units into their flat regions and make the gradients badly sized",
                              "--set data.scale=unit"))
        elif "scaled twice" in w or "all zero" in w:
            out.append(_Cause(3, "inputs_scaled_twice", f"the inputs are tiny ({w.split(':')[0]}): they were probably "
                              "scaled twice, so the network sees almost nothing", "--set data.scale=unit (and "
                              "scale the raw data only once)"))
    return out


def _first_layer(r: _Run, name: str, epoch_row: int = 0) -> np.ndarray:
    a = r.stat(name)
    return a[epoch_row] if a.size and len(a) > epoch_row else np.zeros(0)


def _cause_init(r: _Run) -> list[_Cause]:
    out = []
    names = [i.get("name") for i in r.inits()]
    w0 = _first_layer(r, "weight_norm")
    const = [n for n in names if n in ("zeros", "ones", "constant")]
    if const or (w0.size and np.all(w0[:-1] == 0)):
        out.append(_Cause(4, "constant_init",
                          f"the weights start all equal (init = {const[0] if const else 'zeros'}): every unit in a "
                          "layer computes the same thing and gets the same update, so they stay identical "
                          "(the symmetry is never broken)",
                          "--set model.init=he_normal" if "relu" in r.hidden_activations else "--set model.init=glorot_uniform",
                          {"initial_weight_norm_first_layer": _r(w0[0]) if w0.size else float("nan")}))
        return out
    std0 = _first_layer(r, "activation_std")
    mean0 = _first_layer(r, "activation_mean")
    sat0 = _first_layer(r, "saturated_fraction")
    stddevs = [float(i.get("stddev", 0.05)) for i in r.inits() if i.get("name") in ("random_normal", "truncated_normal")]
    ranges = [max(abs(float(i.get("minval", -0.05))), abs(float(i.get("maxval", 0.05))))
              for i in r.inits() if i.get("name") == "random_uniform"]
    scale = max(stddevs + ranges, default=None)
    big_acts = (mean0.size and (not np.all(np.isfinite(mean0)) or np.nanmax(np.abs(mean0)) > 100
                                or np.nanmax(np.abs(std0)) > 100))
    saturated0 = sat0.size and np.nanmax(np.nan_to_num(sat0, nan=0.0)) > 0.5
    if (scale is not None and scale >= 1) or big_acts or saturated0 or (w0.size and not np.all(np.isfinite(w0))):
        ev = {"init_scale": _r(scale) if scale is not None else float("nan")}
        if mean0.size:
            ev["initial_activation_mean_max"] = _r(np.nanmax(np.abs(mean0))) if np.any(np.isfinite(mean0)) else float("inf")
        out.append(_Cause(3, "init_too_large",
                          "the initial weights are far too large: activations explode (or sigmoid/tanh units "
                          "saturate) before training even starts",
                          "--set model.init=he_normal" if "relu" in r.hidden_activations else "--set model.init=glorot_uniform",
                          ev))
    tiny_acts = std0.size and np.all(np.isfinite(std0)) and std0[-1] < 1e-3 and np.all(np.nan_to_num(w0) > 0)
    if (scale is not None and scale < 1e-3) or tiny_acts:
        out.append(_Cause(3, "init_too_small",
                          "the initial weights are far too small: the signal shrinks layer after layer, so the "
                          "output barely depends on the input and the gradients vanish",
                          "--set model.init=he_normal" if "relu" in r.hidden_activations else "--set model.init=glorot_uniform",
                          {"init_scale": _r(scale) if scale is not None else float("nan"),
                           "initial_activation_std_last_layer": _r(std0[-1]) if std0.size else float("nan")}))
    return out


def _cause_lr(r: _Run) -> list[_Cause]:
    out = []
    ratio = r.stat("update_ratio")[1:]
    default = DEFAULT_LR.get(r.optimizer, 0.001)
    if ratio.size:
        finite = ratio[np.isfinite(ratio)]
        biggest = float(finite.max()) if finite.size else float("nan")
        loss = r.train_loss
        clipped = r.crossentropy and loss.size and np.nanmax(np.nan_to_num(loss, nan=0)) > 0.5 * CLIP_LOSS
        if biggest > UPDATE_RATIO_HUGE or (clipped and r.lr >= 3 * default) or r.lr >= 30 * default:
            out.append(_Cause(3.5 if biggest > UPDATE_RATIO_HUGE else 2.5, "lr_too_high",
                              f"the learning rate ({_fmt(r.lr)}) is too high for {r.optimizer}"
                              + (f" with {len(r.hidden_activations)} hidden layers" if len(r.hidden_activations) > 4 else "")
                              + (f": one epoch moved the weights by up to {_fmt(biggest)} times their own size, "
                                 "so each step overshoots" if math.isfinite(biggest) else
                                 ": each step overshoots until the weights are no longer finite numbers"),
                              _lr_set(r.lr / 10),
                              {"learning_rate": r.lr, "max_update_ratio": _r(biggest), "default_learning_rate": default}))
        moving = ratio[:, :]
        med = float(np.nanmedian(np.nanmax(moving, axis=1))) if np.any(np.isfinite(moving)) else float("nan")
        grads = r.stat("grad_norm")[1:]
        # a tiny step with a real gradient is a small learning rate; with no gradient it is something else
        has_grad = grads.size and np.nanmedian(np.nanmax(np.nan_to_num(grads), axis=1)) > 1e-3
        if math.isfinite(med) and med < 1e-4 and has_grad and not out:
            out.append(_Cause(3, "lr_too_small",
                              f"the learning rate ({_fmt(r.lr)}) is far too small: an epoch changes the weights by "
                              f"only {_fmt(med)} of their size, so training barely moves",
                              _lr_set(max(r.lr * 100, default)),
                              {"learning_rate": r.lr, "median_update_ratio": _r(med)}))
    elif r.lr >= 30 * default:
        out.append(_Cause(2, "lr_too_high", f"the learning rate ({_fmt(r.lr)}) is far above the usual "
                          f"{_fmt(default)} for {r.optimizer}", _lr_set(r.lr / 10), {"learning_rate": r.lr}))
    return out


def _grad_ratio(r: _Run) -> tuple[float, int | None]:
    """Median over epochs of |grad first kernel| / |grad last kernel|, and the first epoch it is extreme."""
    g = r.stat("grad_norm")
    if g.size == 0 or g.shape[1] < 3:  # a gradient ratio across depth needs at least two hidden kernels
        return float("nan"), None
    first, last = g[:, 0], g[:, -1]
    ok = np.isfinite(first) & np.isfinite(last) & (last > 1e-8)
    if not ok.any():
        return float("nan"), None
    ratio = np.where(ok, first / np.where(ok, last, 1), np.nan)
    med = float(np.nanmedian(ratio))
    extreme = np.flatnonzero(ok & ((ratio < VANISHING_RATIO) | (ratio > EXPLODING_RATIO)))
    epochs = r.stat_epochs
    return med, (epochs[extreme[0]] if extreme.size and epochs else None)


def _cause_depth(r: _Run) -> list[_Cause]:
    out = []
    ratio, _ = _grad_ratio(r)
    sat = r.stat("saturated_fraction")
    sat_max = float(np.nanmax(sat[-1])) if sat.size and np.any(np.isfinite(sat[-1])) else 0.0
    if (math.isfinite(ratio) and ratio < VANISHING_RATIO) or sat_max >= SATURATED_FRACTION:
        out.append(_Cause(2.5, "vanishing_gradients",
                          "the gradient fades on its way back to the first layers"
                          + (f" (first layer gets {_fmt(ratio)} of the last layer's gradient)" if math.isfinite(ratio) else "")
                          + (f"; {sat_max:.0%} of some sigmoid/tanh layer's outputs are saturated" if sat_max >= SATURATED_FRACTION else "")
                          + ", so the early layers do not learn",
                          "--set model.activation=relu --set model.init=he_normal",
                          {"grad_ratio_first_to_last": _r(ratio), "max_saturated_fraction": _r(sat_max)}))
    dead = r.stat("dead_fraction")
    if dead.size and np.any(np.isfinite(dead[-1])):
        d = float(np.nanmax(dead[-1]))
        if d >= DEAD_FRACTION:
            out.append(_Cause(2.5 + d, "dead_relus",
                              f"{d:.0%} of the units of a ReLU layer never fire: a dead unit passes no signal "
                              "and gets no gradient, so it can never recover",
                              _lr_set(r.lr / 10) + " (or --set model.activation=leaky_relu)",
                              {"max_dead_fraction": _r(d)}))
    return out


def _rank(causes: list[_Cause]) -> list[_Cause]:
    seen, out = set(), []
    for c in sorted(causes, key=lambda c: -c.score):
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out


# ------------------------------------------------------------------ rules

def _diverged(r: _Run) -> Finding | None:
    found = r.divergence()
    if found is None:
        return None
    epoch, how = found
    nonfinite = "NaN" in how
    causes = _rank(_cause_lr(r) + _cause_init(r) + _cause_inputs(r))
    if not any(c.key == "lr_too_high" for c in causes) and not any(c.key in ("init_too_large", "unscaled_inputs")
                                                                   for c in causes):
        causes.append(_Cause(1, "lr_too_high", f"the learning rate ({_fmt(r.lr)}) may be too high for "
                             f"{r.optimizer} on this model", _lr_set(r.lr / 10), {"learning_rate": r.lr}))
    causes = [c for c in causes if c.key not in ("lr_too_small",)]
    loss = r.train_loss
    finite = loss[np.isfinite(loss)]
    ev = {"epoch": epoch, "learning_rate": r.lr}
    if finite.size:
        ev["min_train_loss"] = _r(finite.min())
        ev["last_train_loss"] = _r(loss[-1])
    for c in causes[:1]:
        ev.update(c.evidence)
    top = causes[0]
    return Finding(
        "diverged", "error", f"Training diverged at epoch {epoch}: {how.split(' (')[0]}", epoch, ev,
        f"In epoch {epoch} {how}. The weights blew up, so the model's outputs are meaningless "
        + ("(NaN). " if nonfinite else "(a softmax certain of a wrong class). ") + f"Most likely cause: {top.text}."
        + ("" if len(causes) < 2 else " Also possible: " + "; ".join(c.text for c in causes[1:3]) + "."),
        top.suggestion, [c.text for c in causes])


def _stuck(r: _Run) -> Finding | None:
    acc = r.train_acc
    if r.epochs < SEVERAL_EPOCHS or not acc.size or not math.isfinite(acc[-1]) or not r.near_chance(float(acc[-1])):
        return None
    causes = _rank(_cause_inputs(r) + _cause_init(r) + _cause_lr(r) + _cause_depth(r))
    ev = {"train_accuracy": _r(acc[-1]), "chance": _r(r.chance), "epochs": r.epochs}
    if not causes:
        causes = [_Cause(0, "unknown", "no single cause stands out in the statistics: check that the labels "
                         "match the inputs and try a smaller learning rate with Adam",
                         "--set train.optimizer=adam --set train.learning_rate=0.001")]
    for c in causes:
        ev.update(c.evidence)
    top = causes[0]
    ranked = "".join(f" ({i + 1}) {c.text}." for i, c in enumerate(causes))
    return Finding(
        "stuck", "error", f"Stuck near chance: training accuracy {acc[-1]:.1%} after {r.epochs} epochs "
        f"(chance is {r.chance:.0%})", None, ev,
        f"After {r.epochs} epochs the model is no better than guessing the most common class "
        f"({r.chance:.0%}) even on its own training data, so it has not learned anything yet. "
        f"Likely causes, most likely first:{ranked}", top.suggestion, [c.text for c in causes])


def _overfitting(r: _Run) -> Finding | None:
    val, train = r.metric("val_loss"), r.train_loss
    if val.size < SEVERAL_EPOCHS + 1 or not np.all(np.isfinite(val)) or not np.all(np.isfinite(train)):
        return None
    best = int(np.nanargmin(val))
    since = len(val) - 1 - best
    tail = val[-min(3, since):] if since else val[-1:]
    rise = float(np.nanmean(tail) / val[best] - 1) if val[best] > 0 else 0.0
    fell = train.size == val.size and train[-1] < 0.8 * train[best]
    if since < SEVERAL_EPOCHS or rise < OVERFIT_RISE or not fell:
        return None
    epoch = best + 1
    vacc, tacc = r.metric("val_accuracy"), r.train_acc
    gap = float(tacc[-1] - vacc[-1]) if vacc.size and tacc.size else float("nan")
    ev = {"best_epoch": epoch, "best_val_loss": _r(val[best]), "last_val_loss": _r(val[-1]),
          "val_loss_rise": _r(rise), "train_loss_at_best": _r(train[best]), "last_train_loss": _r(train[-1]),
          "accuracy_gap": _r(gap), "epochs_since_best": since}
    restored = bool(r.early_stopping and r.early_stopping.get("restore_best") and r.run.get("best_epoch") == epoch)
    dropout, _ = r.regularizers
    suggestion = ("--set train.epochs=%d" % epoch if not r.early_stopping
                  else "--set model.dropout=0.3" if not dropout else "--set model.l2=0.0001")
    if not r.early_stopping:
        suggestion += " (or --set train.early_stopping=true)"
    return Finding(
        "overfitting", "info" if restored else "warning",
        f"Overfitting from epoch {epoch}: validation loss rose {rise:.0%} while training loss kept falling",
        epoch, ev,
        f"Validation loss was lowest at epoch {epoch} ({val[best]:.3g}) and has risen since "
        f"(to {val[-1]:.3g}) while the training loss kept falling ({train[best]:.3g} -> {train[-1]:.3g}): "
        "the model is memorising the training rows instead of learning what generalises. "
        + ("Early stopping restored the weights of that epoch, so the saved model is the good one. "
           if restored else f"Stopping at epoch {epoch} would have kept the best model. ")
        + "Remedies: early stopping, dropout, L2 weight decay, a smaller network, or more training data.",
        suggestion)


def _underfitting(r: _Run) -> Finding | None:
    acc = r.train_acc
    if r.epochs < 2 or not acc.size or not math.isfinite(acc[-1]) or acc[-1] >= 0.85 or r.near_chance(float(acc[-1])):
        return None
    k = min(3, len(acc) - 1)
    slope = float((acc[-1] - acc[-1 - k]) / k)
    if not math.isfinite(slope):
        return None
    hidden = r.model.get("hidden") or []
    dense = [l.get("units") for l in r.model.get("layers") or [] if l.get("type") == "dense"] if r.model.get("layers") else hidden
    narrow = min(dense, default=0)
    small = (not dense) or narrow < r.num_classes or (r.run.get("params") or 1e9) < 2000
    ev = {"train_accuracy": _r(acc[-1]), "accuracy_gain_per_epoch": _r(slope), "epochs": r.epochs,
          "narrowest_hidden_layer": narrow}
    if slope > 0.005:
        return Finding(
            "underfitting", "warning",
            f"Underfitting: training accuracy only {acc[-1]:.1%} and still rising", r.epochs, ev,
            f"Even on its training data the model reaches only {acc[-1]:.1%}, and it was still gaining "
            f"{slope:.1%} per epoch when training ended: it has not trained long enough "
            f"(or the learning rate {_fmt(r.lr)} makes progress slow)."
            + (f" Its narrowest hidden layer has only {narrow} units for {r.num_classes} classes, which "
               "also limits it." if dense and narrow < r.num_classes else ""),
            f"--set train.epochs={max(2 * r.epochs, 10)}" + (f" (or {_lr_set(r.lr * 3)})" if r.lr <= DEFAULT_LR.get(r.optimizer, 0.001) else ""))
    return Finding(
        "underfitting", "warning", f"Underfitting: training accuracy plateaued at {acc[-1]:.1%}", r.epochs, ev,
        f"The training accuracy stopped improving at {acc[-1]:.1%}: "
        + ("the model is too small to represent this problem" if small else
           "the model cannot fit even its training data with these settings") +
        " (a model that fits its training data poorly will not do better on new data).",
        "--set model.hidden=[128, 128]" if small else _lr_set(r.lr * 3))


FIRST_EPOCH_ALLOWANCE = 3.0


SPIKE_FACTOR = 10.0   # a training loss 10x above its lowest so far: a blow-up short of divergence


def _unstable(r: _Run) -> Finding | None:
    return _oscillating(r) or _huge_steps(r) or _loss_spike(r)


def _oscillating(r: _Run) -> Finding | None:
    val = r.metric("val_loss")
    jumps = [i for i in range(1, len(val)) if np.isfinite(val[i]) and np.isfinite(val[i - 1])
             and val[i] > (1 + OSCILLATION_JUMP) * val[i - 1]]
    falls = [i for i in jumps if i + 1 < len(val) and val[i + 1] < val[i]]
    if len(falls) < 2:
        return None
    ev = {"jumps": len(jumps), "largest_jump": _r(max(val[i] / val[i - 1] - 1 for i in jumps)), "learning_rate": r.lr}
    return Finding(
        "unstable", "warning", f"Unstable: validation loss jumps up and down ({len(jumps)} jumps over "
        f"{OSCILLATION_JUMP:.0%})", jumps[0] + 1, ev,
        "The validation loss keeps jumping up by more than a quarter and coming back down. Steps that are "
        "too large overshoot the minimum and bounce around it; a smaller learning rate (or a larger "
        "batch) gives smoother, usually better training.", _lr_set(r.lr / 3))


def _huge_steps(r: _Run) -> Finding | None:
    # small initial weights may well move by their own size in the first epoch (Adam on 60k
    # rows does): there, only a move of several times their size counts
    ratio = r.stat("update_ratio")[1:]
    ratio = np.where(np.isfinite(ratio), ratio, np.nan)
    if not ratio.size or not np.any(np.isfinite(ratio)):
        return None
    allowed = ratio / np.where(np.arange(len(ratio)) == 0, FIRST_EPOCH_ALLOWANCE, 1.0)[:, None]
    huge = np.flatnonzero(np.nan_to_num(allowed, nan=0.0).max(axis=1) > UPDATE_RATIO_HUGE)
    if not huge.size:
        return None
    epochs = r.stat_epochs[1:]
    epoch = epochs[huge[0]] if epochs else int(huge[0]) + 1
    biggest = float(np.nanmax(ratio[huge]))
    return Finding(
        "unstable", "warning", f"Unstable: one epoch moved weights by {biggest:.3g} times their size",
        epoch, {"max_update_ratio": _r(biggest), "learning_rate": r.lr},
        "In a healthy run an epoch changes each weight matrix by a few percent of its size. Here a "
        "layer's weights moved by more than their own size in one epoch: the learning rate is so "
        "large that each step throws away what was learned.", _lr_set(r.lr / 10))


def _loss_spike(r: _Run) -> Finding | None:
    loss = r.train_loss
    lows = np.minimum.accumulate(np.where(np.isfinite(loss), loss, np.inf)) if loss.size else loss
    spikes = [i for i in range(1, len(loss)) if np.isfinite(loss[i]) and loss[i] > 1.0
              and loss[i] > SPIKE_FACTOR * lows[i - 1]]
    if not spikes:
        return None
    i = spikes[0]
    factor = float(loss[i] / lows[i - 1])
    recovered = bool(np.isfinite(loss[-1]) and loss[-1] < loss[i] / SPIKE_FACTOR ** 0.5)
    return Finding(
        "unstable", "warning", f"Unstable: the training loss jumped {factor:.3g}x in epoch {i + 1}", i + 1,
        {"lowest_loss_before": _r(lows[i - 1]), "spike_loss": _r(loss[i]), "last_train_loss": _r(loss[-1]),
         "learning_rate": r.lr},
        f"In epoch {i + 1} the training loss rose from {lows[i - 1]:.3g} (its lowest so far) to {loss[i]:.3g}: "
        "a step far too large threw the weights out of the region they had found, "
        + ("and training then found its way back down (to {:.3g}).".format(loss[-1]) if recovered else
           "and the loss has not come back down.")
        + " A smaller learning rate avoids such blow-ups.", _lr_set(r.lr / 10))


def _dead_units(r: _Run) -> Finding | None:
    dead = r.stat("dead_fraction")
    if not dead.size or not np.any(np.isfinite(dead[-1])):
        return None
    last = np.nan_to_num(dead[-1], nan=0.0)
    j = int(np.argmax(last))
    if last[j] < DEAD_FRACTION:
        return None
    rows = np.flatnonzero(np.nan_to_num(dead[:, j], nan=0.0) >= DEAD_FRACTION)
    epochs = r.stat_epochs
    epoch = epochs[rows[0]] if epochs else None
    at_init = float(np.nan_to_num(dead[0, j]))
    name = r.layers[j]["name"] if j < len(r.layers) else f"layer {j + 1}"
    return Finding(
        "dead_units", "warning", f"Dead ReLUs: {last[j]:.0%} of the units of layer {name!r} never fire", epoch,
        {"layer": j, "dead_fraction": _r(last[j]), "dead_fraction_at_init": _r(at_init), "learning_rate": r.lr},
        f"{last[j]:.0%} of the units of {name!r} output zero for every input of the probe batch. A ReLU unit "
        "whose input is always negative passes no signal and gets zero gradient, so it never comes back. "
        + ("They died during training, typically after a too-large step pushed their biases negative."
           if at_init < last[j] / 2 else "They were dead from the start: check the initialization."),
        _lr_set(r.lr / 10) + " (or --set model.activation=leaky_relu, --set model.init=he_normal)")


def _saturated_units(r: _Run) -> Finding | None:
    sat = r.stat("saturated_fraction")
    if not sat.size or not np.any(np.isfinite(sat[-1])):
        return None
    last = np.nan_to_num(sat[-1], nan=0.0)
    j = int(np.argmax(last))
    if last[j] < SATURATED_FRACTION:
        return None
    rows = np.flatnonzero(np.nan_to_num(sat[:, j], nan=0.0) >= SATURATED_FRACTION)
    epochs = r.stat_epochs
    name = r.layers[j]["name"] if j < len(r.layers) else f"layer {j + 1}"
    kind = r.layers[j]["kind"] if j < len(r.layers) else "sigmoid"
    unscaled = any("scale = 'none'" in w for w in r.warnings)
    return Finding(
        "saturated_units", "warning", f"Saturated units: {last[j]:.0%} of {kind} outputs in {name!r} sit at "
        "their limits", epochs[rows[0]] if epochs else None,
        {"layer": j, "saturated_fraction": _r(last[j])},
        f"{last[j]:.0%} of the outputs of {name!r} are within 1% of the {kind}'s limits, where its slope is "
        "almost zero: those units barely pass gradients back, so the layers before them learn very slowly."
        + (" The inputs are not scaled, which drives the first layer into saturation." if unscaled else ""),
        "--set data.scale=unit" if unscaled else "--set model.activation=relu --set model.init=he_normal")


def _gradients_across_depth(r: _Run) -> Finding | None:
    ratio, epoch = _grad_ratio(r)
    if not math.isfinite(ratio) or VANISHING_RATIO <= ratio <= EXPLODING_RATIO:
        return None
    g = r.stat("grad_norm")
    ev = {"grad_ratio_first_to_last": _r(ratio), "layers": g.shape[1],
          "first_layer_grad_norm": _r(np.nanmedian(g[:, 0])), "last_layer_grad_norm": _r(np.nanmedian(g[:, -1]))}
    if ratio < VANISHING_RATIO:
        return Finding(
            "vanishing_gradients", "warning",
            f"Vanishing gradients: the first layer gets {ratio:.2g} of the last layer's gradient", epoch, ev,
            f"Going backwards through {g.shape[1]} weight layers, the gradient shrinks at every layer "
            "(a sigmoid's slope is at most 0.25), so the first layers hardly change and the deep network "
            "learns like a shallow one, or not at all.",
            "--set model.activation=relu --set model.init=he_normal (or --set model.batchnorm=true, "
            "or --set train.optimizer=adam)")
    return Finding(
        "exploding_gradients", "warning",
        f"Exploding gradients: the first layer gets {ratio:.3g} times the last layer's gradient", epoch, ev,
        "Going backwards through the network, the gradient grows at every layer, so the first layers take "
        "huge steps while the last ones barely move. Smaller initial weights or batch normalization keep "
        "the gradient the same size across depth.",
        "--set model.init=glorot_uniform (or --set model.batchnorm=true)")


def _running_vs_inference(r: _Run) -> Finding | None:
    dropout, bn = r.regularizers
    running, inference = r.metric("loss"), r.metric("train_loss")
    if not (dropout or bn) or not running.size or inference.size != running.size:
        return None
    a, b = float(running[-1]), float(inference[-1])
    if not (math.isfinite(a) and math.isfinite(b)) or abs(a - b) < 0.1 * max(b, 1e-3):
        return None
    what = " and ".join(x for x, on in (("dropout", dropout), ("batch normalization", bn)) if on)
    return Finding(
        "running_vs_inference", "info",
        f"Running training loss {a:.3g} vs {b:.3g} in inference mode ({what})", r.epochs,
        {"running_loss": _r(a), "inference_train_loss": _r(b),
         "running_accuracy": _r(r.metric("accuracy")[-1]), "inference_train_accuracy": _r(r.metric("train_accuracy")[-1])},
        "The 'loss' Keras prints during an epoch is an average over the batches while the weights change, "
        f"computed in training mode: with {what} active"
        + (", a random part of the units is switched off for every batch" if dropout else "")
        + (", batch statistics replace the moving averages" if bn else "")
        + ". The inference-mode training loss (train_loss) uses the full network as it is used for "
        "prediction, so it is the one to compare with the validation loss. A training loss above the "
        "validation loss is expected here, not a bug.", "none needed: compare train_loss with val_loss")


def _data_checks(r: _Run, used: set[str]) -> list[Finding]:
    out = []
    for w in r.warnings:
        if w in used:
            continue
        out.append(Finding("data_check", "warning", f"Data check: {w.split(':')[0]}", None, {},
                           f"The data check says: {w}.", _data_suggestion(w)))
    return out


def _data_suggestion(w: str) -> str:
    if "scale = 'none'" in w:
        return "--set data.scale=unit"
    if "imbalance" in w:
        return "look at per-class recall (mlplab show) rather than overall accuracy"
    if "shuffle" in w or "ordered" in w:
        return "shuffle the training rows before splitting (or --set data.validation_split=0)"
    return "check the data"


def _planned_epochs(r: _Run) -> int | None:
    epochs = (r.spec.get("train") or {}).get("epochs")
    return epochs if isinstance(epochs, int) else None


def _lost(r: _Run) -> Finding | None:
    if r.status != "lost":
        return None
    planned = _planned_epochs(r)
    of = f" of {planned}" if planned else ""
    return Finding(
        "lost", "error", f"The run was lost after {r.epochs}{of} epochs: the process running it is gone", None,
        {"epochs_run": r.epochs, **({"epochs_planned": planned} if planned else {})},
        f"The process that trained this run ended without recording how the run ended (it was killed, it "
        f"crashed, or its machine went down) after {r.epochs}{of} epochs. What is stored is partial: the "
        "history up to its last recorded epoch, and usually no trained model; the findings below, if any, "
        "describe only that part.", "run it again (mlplab run with the same spec)")


def _interrupted(r: _Run) -> Finding | None:
    if r.status != "interrupted":
        return None
    planned = _planned_epochs(r)
    of = f" of {planned}" if planned else ""
    return Finding(
        "interrupted", "warning", f"Interrupted after {r.epochs}{of} epochs", None,
        {"epochs_run": r.epochs, **({"epochs_planned": planned} if planned else {})},
        f"The run was stopped (Ctrl-C or the Stop button) after {r.epochs}{of} epochs, so its results are "
        "those of a partly trained model: the curves, the test accuracy and the other findings describe "
        "training only up to that point.", "run it again to train all its epochs")


RULES = (_diverged, _stuck, _overfitting, _underfitting, _unstable, _gradients_across_depth,
         _dead_units, _saturated_units, _running_vs_inference)


def diagnose(run: dict, stats: dict | None = None) -> list[Finding]:
    """Findings for a stored run (`Store.get_run`) and its statistics (stats.json), most severe first."""
    r = _Run(run, stats)
    if r.status == "failed":
        return [Finding("failed", "error", "The run failed", None, {},
                        f"The run stopped with an error: {run.get('error') or 'no message was stored'}.",
                        "fix the error above and run again")]
    findings: list[Finding] = [f for f in (_lost(r), _interrupted(r)) if f is not None]
    for rule in RULES:
        f = rule(r)
        if f is not None:
            findings.append(f)
    codes = {f.code for f in findings}
    if "diverged" in codes:
        # after a blow-up the other numbers describe garbage: keep what explains it
        findings = [f for f in findings if f.code in ("diverged", "data_check", "lost", "interrupted")]
    elif "stuck" in codes:
        findings = [f for f in findings if f.code not in ("underfitting",)]
    used = {w for w in r.warnings if any(w.split(":")[0] in " ".join(f.causes) + f.explanation for f in findings)}
    findings += _data_checks(r, used)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: order[f.severity])
