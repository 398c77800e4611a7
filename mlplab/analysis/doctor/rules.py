"""The symptoms a run's status and curves show: one function per problem, `rule(r) -> Finding | None`.

A symptom says what happened, with the numbers it saw; its own fixes are the fallback used
when no cause explains it (`ranking` links the causes and puts theirs first). The symptoms of
the layers (gradients, dead and saturated units, activations) are in `layers`.

    run status     failed, lost, interrupted
    the outcome    diverged, stuck, overfitting (validation-loss trend or accuracy gap), underfitting
    the steps      unstable (oscillating validation loss or accuracy, huge weight updates, a loss spike)
"""
from __future__ import annotations

import math

import numpy as np

from ..status import noise
from .causes import allowance, init_too_small, lower_lr, lr_fix
from .finding import Finding, fmt, rounded
from .reading import RunView
from .thresholds import (DEFAULT_LR, EASY_BASELINE, FAR_BELOW, FAR_BELOW_SE, GAP_HIGH_ACCURACY, GAP_LARGE, GAP_WHEN_HIGH, GAP_WHEN_LOW,
                         LEARNED_LITTLE, OSCILLATION_AMPLITUDE, OSCILLATION_JUMP, OSCILLATION_SHARE, OVERFIT_RISE,
                         OVERFIT_TRAIN_FALL, SEVERAL_EPOCHS, SPIKE_FACTOR, STILL_LEARNING, UNDERFIT_ACCURACY,
                         UNDERFIT_POOR, UPDATE_RATIO_HUGE)


def symptom(r: RunView, code: str, severity: str, title: str, epoch: int | None, evidence: dict, explanation: str,
            fixes: list = (), note: str = "") -> Finding:
    safe = r.fixes(*fixes)
    return Finding(code, severity, title, epoch, evidence, explanation, r.suggestion(safe, note), fixes=safe)


# ------------------------------------------------------------------ run status

def failed(r: RunView) -> Finding | None:
    """A failed run: its error is the only finding (`diagnose` reports nothing else)."""
    if r.status != "failed":
        return None
    return Finding("failed", "error", "The run failed", None, {},
                   f"The run stopped with an error: {r.run.get('error') or 'no message was stored'}.",
                   "fix the error above and run again")


def _partial(r: RunView) -> tuple[str, dict]:
    planned = r.planned_epochs
    return (f" of {planned}" if planned else ""), {"epochs_run": r.epochs, **({"epochs_planned": planned} if planned else {})}


def lost(r: RunView) -> Finding | None:
    if r.status != "lost":
        return None
    of, ev = _partial(r)
    return Finding(
        "lost", "error", f"The run was lost after {r.epochs}{of} epochs: the process running it is gone", None, ev,
        f"The process that trained this run ended without recording how the run ended (it was killed, it "
        f"crashed, or its machine went down) after {r.epochs}{of} epochs. What is stored is partial: the "
        "history up to its last recorded epoch, and usually no trained model; the findings below, if any, "
        "describe only that part.", "run it again (mlplab run with the same spec)")


def interrupted(r: RunView) -> Finding | None:
    if r.status != "interrupted":
        return None
    of, ev = _partial(r)
    return Finding(
        "interrupted", "warning", f"Interrupted after {r.epochs}{of} epochs", None, ev,
        f"The run was stopped (Ctrl-C or the Stop button) after {r.epochs}{of} epochs, so its results are "
        "those of a partly trained model: the curves, the test accuracy and the other findings describe "
        "training only up to that point.", "run it again to train all its epochs")


# ------------------------------------------------------------------ the outcome

def diverged(r: RunView) -> Finding | None:
    """The run diverged, by the rule that sets its status (`analysis.status.divergence`)."""
    found = r.divergence()
    if found is None:
        return None
    epoch, how = found
    loss = r.train_loss
    finite = loss[np.isfinite(loss)]
    ev = {"epoch": epoch, "learning_rate": r.lr}
    if finite.size:
        ev["min_train_loss"] = rounded(finite.min())
        ev["last_train_loss"] = rounded(loss[-1])
    return symptom(r, "diverged", "error", f"Training diverged at epoch {epoch}: {how.split(' (')[0]}", epoch, ev,
                   f"In epoch {epoch} {how}. The weights blew up, so the model's outputs are meaningless "
                   + ("(NaN)." if "NaN" in how else "(a softmax certain of a wrong class)."), lower_lr(r))


def stuck(r: RunView) -> Finding | None:
    """Training accuracy at chance when training ended (`analysis.status.at_chance`), after any number of
    epochs: a model that learned nothing is never healthy, however short its training."""
    acc = r.train_acc
    if not acc.size or not math.isfinite(acc[-1]) or not r.near_chance(float(acc[-1])):
        return None
    return symptom(r, "stuck", "error", f"Stuck near chance: training accuracy {acc[-1]:.1%} after {r.epochs} epochs "
                   f"(chance is {r.chance:.0%})", None,
                   {"train_accuracy": rounded(acc[-1]), "chance": rounded(r.chance), "epochs": r.epochs},
                   f"After {r.epochs} epochs the model is no better than guessing the most common class "
                   f"({r.chance:.0%}) even on its own training data, so it has not learned anything yet.")


def easy_baseline(r: RunView) -> float | None:
    """What the easiest model reaches on this built-in data set (thresholds.EASY_BASELINE), else None."""
    data = r.spec["data"]
    name = str(data.get("dataset", "")).strip().lower()
    if name == "cosine2d" and float(data.get("noise") or 0.0) > 0.3:
        return None
    return EASY_BASELINE.get(name)


def _below_baseline(r: RunView) -> bool:
    """Below the easy baseline by more than the noise of the held-out rows: the validation and test rows pooled
    (the baseline is a test accuracy; on digits the 143 validation rows alone leave a noise of 2.4 points)."""
    baseline = easy_baseline(r)
    if baseline is None:
        return False
    pooled = [(acc, n) for split in ("val", "test")
              if math.isfinite(acc := r.final(f"{split}_accuracy")) and (n := sum(r.class_counts.get(split) or []))]
    if not pooled:
        held = _held_out(r)[1]
        return math.isfinite(held) and held < baseline - FAR_BELOW
    n = sum(n for _, n in pooled)
    held = sum(acc * n for acc, n in pooled) / n
    return held < baseline - max(FAR_BELOW, FAR_BELOW_SE * math.sqrt(baseline * (1 - baseline) / n))


def learned_little(r: RunView) -> bool:
    """Is the held-out accuracy so far less than halfway from chance to perfect (or unknown)?"""
    held = _held_out(r)[1]
    return not math.isfinite(held) or held < r.chance + LEARNED_LITTLE * (1 - r.chance)


def low_accuracy(r: RunView) -> Finding | None:
    """The result's held-out accuracy is far below its data set's easy baseline, or less than halfway from
    chance to perfect: whatever the curves look like, the model learned little."""
    where, held = _held_out(r)
    if not math.isfinite(held) or r.near_chance(held):
        return None   # at chance: stuck, or labels unrelated to the inputs, say it
    baseline, below_baseline = easy_baseline(r), _below_baseline(r)
    if not (below_baseline or learned_little(r)):
        return None
    ev = {f"{where}_accuracy": rounded(held), "chance": rounded(r.chance),
          **({"easy_baseline": baseline} if baseline is not None else {})}
    than = (f"a model with no hidden layer reaches about {baseline:.0%} on {r.spec['data']['dataset']}"
            if below_baseline else f"chance is {r.chance:.0%}")
    return symptom(r, "low_accuracy", "warning", f"Low accuracy: {held:.1%} on the {where} rows ({than})", None, ev,
                   f"The model the run ends with gets {held:.1%} of the {where} rows right, while {than}: it "
                   "learned far less than this data allows.",
                   [{"train.epochs": max(3 * r.epochs, 10)}, {"train.optimizer": "adam", "train.learning_rate": 0.001},
                    {"data.scale": "unit"}])


def _held_out(r: RunView) -> tuple[str, float]:
    val = r.final("val_accuracy")
    return ("validation", val) if math.isfinite(val) else ("test", r.final("test_accuracy"))


def overfitting(r: RunView) -> Finding | None:
    """The validation loss rose after its best while the training loss kept falling, or a large accuracy gap."""
    where, held = _held_out(r)
    if math.isfinite(held) and r.near_chance(held):
        return None   # nothing generalizes at all: the labels, not overfitting (causes.labels_unrelated)
    rose = _accuracy_rose_after_loss_best(r)   # then the accuracy gap alone judges it
    return (None if rose else _rising_validation_loss(r)) or _accuracy_gap(r, where, held, rose)


def _regularize(r: RunView, stop_early: bool) -> list[dict]:
    dropout, _ = r.regularizers
    stop = [{"train.early_stopping": True}] if stop_early else []
    return stop + ([] if dropout else [{"model.dropout": 0.3}]) + [{"model.l2": 0.0001}]


def _accuracy_rose_after_loss_best(r: RunView) -> bool:
    """Validation accuracy ended higher than at the validation loss's best epoch: the loss rose from growing
    confidence on the rows the model gets wrong, not from losing rows it got right, and stopping at that
    epoch (early stopping on val_loss) would have kept a less accurate model."""
    val, acc = r.metric("val_loss"), r.metric("val_accuracy")
    if not val.size or acc.size != val.size or not (np.all(np.isfinite(val)) and np.all(np.isfinite(acc))):
        return False
    return bool(acc[-1] > acc[int(np.argmin(val))])


def _accuracy_lost(r: RunView, best: int) -> bool:
    """Did the validation accuracy fall after epoch `best` by more than the noise of the validation rows
    (analysis.status.noise: two standard errors of the difference, at least a point)? Unknown counts as lost. On
    the oracle's seed 1 (600 runs) the 5 runs warned of a rising validation loss were all healthy: no single
    change (early stopping and dropout included) beat them beyond the noise; their accuracy had fallen 0.3-2.1
    points, on 143 validation rows where the noise is 2.4-5.7."""
    acc = r.metric("val_accuracy")
    n = sum(r.class_counts.get("val") or [])
    if acc.size <= best or not n or not np.all(np.isfinite(acc)):
        return True
    return float(acc[best] - acc[-1]) > noise(float(acc[best]), float(acc[-1]), n)


def _rising_validation_loss(r: RunView) -> Finding | None:
    val, train = r.metric("val_loss"), r.train_loss
    if val.size < SEVERAL_EPOCHS + 1 or not np.all(np.isfinite(val)) or not np.all(np.isfinite(train)):
        return None
    best = int(np.nanargmin(val))
    since = len(val) - 1 - best
    tail = val[-min(3, since):] if since else val[-1:]
    rise = float(np.nanmean(tail) / val[best] - 1) if val[best] > 0 else 0.0
    fell = train.size == val.size and train[-1] < OVERFIT_TRAIN_FALL * train[best]
    if since < SEVERAL_EPOCHS or rise < OVERFIT_RISE or not fell:
        return None
    epoch = best + 1
    vacc, tacc = r.metric("val_accuracy"), r.train_acc
    gap = float(tacc[-1] - vacc[-1]) if vacc.size and tacc.size else float("nan")
    ev = {"best_epoch": epoch, "best_val_loss": rounded(val[best]), "last_val_loss": rounded(val[-1]),
          "val_loss_rise": rounded(rise), "train_loss_at_best": rounded(train[best]),
          "last_train_loss": rounded(train[-1]), "accuracy_gap": rounded(gap), "epochs_since_best": since}
    restored = bool(r.early_stopping and r.early_stopping.get("restore_best") and r.run.get("best_epoch") == epoch)
    lost = _accuracy_lost(r, best)
    regularize = _regularize(r, stop_early=True)
    fixes = regularize[:1] + ([{"train.epochs": epoch}] if not r.early_stopping else []) + regularize[1:]
    return symptom(
        r, "overfitting", "info" if restored or not lost else "warning",
        f"Overfitting from epoch {epoch}: validation loss rose {rise:.0%} while training loss kept falling", epoch, ev,
        f"Validation loss was lowest at epoch {epoch} ({val[best]:.3g}) and has risen since "
        f"(to {val[-1]:.3g}) while the training loss kept falling ({train[best]:.3g} -> {train[-1]:.3g}): "
        "the model is memorising the training rows instead of learning what generalises. "
        + ("Early stopping restored the weights of that epoch, so the saved model is the good one. "
           if restored else f"Stopping at epoch {epoch} would have kept the best model. " if lost else
           f"Its validation accuracy held ({vacc[best]:.1%} then, {vacc[-1]:.1%} now, within the noise of the "
           "validation rows): the loss rose from growing confidence on the rows it gets wrong, and stopping at "
           f"epoch {epoch} would have saved time rather than accuracy. ")
        + "Remedies: early stopping, dropout, L2 weight decay, a smaller network, or more training data.", fixes)


def _accuracy_gap(r: RunView, where: str, held: float, rose: bool) -> Finding | None:
    train, val_loss = r.final("train_accuracy"), r.metric("val_loss")
    if not (math.isfinite(train) and math.isfinite(held)):
        return None
    if val_loss.size and np.isfinite(val_loss[-1]) and val_loss[-1] <= np.nanmin(val_loss):
        return None   # still improving on new rows: a gap while both rise is early training, not overfitting
    gap = train - held
    if gap < (GAP_WHEN_HIGH if train > GAP_HIGH_ACCURACY else GAP_WHEN_LOW):
        return None
    ev = {"train_accuracy": rounded(train), f"{where}_accuracy": rounded(held), "accuracy_gap": rounded(gap)}
    epoch = None
    if rose:   # memorising began where the validation loss turned; its accuracy still rose
        epoch = int(np.argmin(val_loss)) + 1
        ev.update({"val_loss_best_epoch": epoch, "val_loss_rise": rounded(val_loss[-1] / val_loss[epoch - 1] - 1)})
    return symptom(
        r, "overfitting", "warning" if gap >= GAP_LARGE else "info",
        f"Overfitting: training accuracy {train:.1%}, {where} accuracy {held:.1%}", epoch,
        ev, f"The model gets {train:.1%} of its training rows right but only {held:.1%} of the {where} rows: "
        f"a gap of {gap:.1%} means it has learned its training rows rather than what generalises "
        "(AUTOTRAINER's train/test gap). "
        + (f"Its validation loss rose after epoch {epoch} while its validation accuracy kept rising: growing "
           "confidence on the rows it gets wrong, so stopping early would keep a less accurate model. Remedies: "
           "dropout, L2 weight decay, a smaller network, or more training data." if rose
           else "Remedies: dropout, L2 weight decay, early stopping, a smaller network, or more training data."),
        _regularize(r, stop_early=not rose))


def underfitting(r: RunView) -> Finding | None:
    """Training accuracy above chance but low: still rising (train longer) or plateaued."""
    acc = r.train_acc
    if (r.epochs < 2 or not acc.size or not math.isfinite(acc[-1]) or acc[-1] >= UNDERFIT_ACCURACY
            or r.near_chance(float(acc[-1]))):
        return None
    k = min(3, len(acc) - 1)
    slope = float((acc[-1] - acc[-1 - k]) / k)
    if not math.isfinite(slope):
        return None
    ev = {"train_accuracy": rounded(acc[-1]), "accuracy_gain_per_epoch": rounded(slope), "epochs": r.epochs}
    rising = slope > STILL_LEARNING
    fallback = ([{"train.epochs": max(2 * r.epochs, 10)}] if rising else
                [{"train.optimizer": "adam", "train.learning_rate": 0.001}] if r.optimizer != "adam" else
                [lr_fix(r, 3)] if r.lr < DEFAULT_LR.get(r.optimizer, 0.001) else [{"model.hidden": [128, 128]}])
    poor = acc[-1] < UNDERFIT_POOR or learned_little(r) or _below_baseline(r)
    return symptom(
        r, "underfitting", "warning" if poor else "info", f"Underfitting: training accuracy only {acc[-1]:.1%}"
        + (" and still rising" if rising else ", plateaued"), r.epochs, ev,
        f"Even on its training data the model reaches only {acc[-1]:.1%}"
        + (f", and it was still gaining {slope:.1%} per epoch when training ended." if rising else
           ", and it has stopped improving.")
        + " A model that fits its training data poorly will not do better on new data.", fallback)


# ------------------------------------------------------------------ the steps

def unstable(r: RunView) -> Finding | None:
    """Steps too large: an oscillating validation loss or accuracy, huge updates, or a loss spike."""
    return _oscillating(r) or _oscillating_accuracy(r) or _huge_steps(r) or _loss_spike(r)


def _oscillating(r: RunView) -> Finding | None:
    val = r.metric("val_loss")
    jumps = [i for i in range(1, len(val)) if np.isfinite(val[i]) and np.isfinite(val[i - 1])
             and val[i] > (1 + OSCILLATION_JUMP) * val[i - 1]]
    falls = [i for i in jumps if i + 1 < len(val) and val[i + 1] < val[i]]
    if len(falls) < max(2, OSCILLATION_SHARE * len(val)):
        return None   # a small validation set's loss may jump now and then: only a habit counts
    ev = {"jumps": len(jumps), "largest_jump": rounded(max(val[i] / val[i - 1] - 1 for i in jumps)),
          "learning_rate": r.lr}
    return symptom(r, "unstable", "warning", f"Unstable: validation loss jumps up and down ({len(jumps)} jumps over "
                   f"{OSCILLATION_JUMP:.0%})", jumps[0] + 1, ev,
                   "The validation loss keeps jumping up by more than a quarter and coming back down. Steps that are "
                   "too large overshoot the minimum and bounce around it; a smaller learning rate (or a larger "
                   "batch) gives smoother, usually better training.", [lr_fix(r, 1 / 3)])


def _oscillating_accuracy(r: RunView) -> Finding | None:
    """AUTOTRAINER's unstable accuracy: local maxima and minima far apart in a fifth of the epochs or more."""
    acc = r.train_acc
    if len(acc) < 5 or not np.all(np.isfinite(acc)):
        return None
    peaks = [acc[i] for i in range(1, len(acc) - 1) if acc[i] >= acc[i - 1] and acc[i] >= acc[i + 1]]
    dips = [acc[i] for i in range(1, len(acc) - 1) if acc[i] <= acc[i - 1] and acc[i] <= acc[i + 1]]
    swings = sum(1 for p, d in zip(peaks, dips) if p - d >= OSCILLATION_AMPLITUDE)
    if swings < max(2, OSCILLATION_SHARE * len(acc)):
        return None
    return symptom(r, "unstable", "warning", f"Unstable: training accuracy swings by {OSCILLATION_AMPLITUDE:.0%} "
                   f"or more {swings} times", None, {"swings": swings, "learning_rate": r.lr,
                                                     "batch_size": r.batch_size},
                   "The training accuracy keeps rising and falling from epoch to epoch: the steps are too large or "
                   "too noisy to settle (AUTOTRAINER's oscillating-accuracy check).", [lr_fix(r, 1 / 3)])


def _huge_steps(r: RunView) -> Finding | None:
    if init_too_small(r) is not None:
        return None   # weights that start tiny move by many times their size in healthy steps
    ratio = r.stat("update_ratio")[1:]
    ratio = np.where(np.isfinite(ratio), ratio, np.nan)
    if not ratio.size or not np.any(np.isfinite(ratio)):
        return None
    huge = np.flatnonzero(np.nan_to_num(allowance(ratio), nan=0.0).max(axis=1) > UPDATE_RATIO_HUGE)
    if not huge.size:
        return None
    epochs = r.stat_epochs[1:]
    epoch = epochs[huge[0]] if epochs else int(huge[0]) + 1
    biggest = float(np.nanmax(ratio[huge]))
    return symptom(r, "unstable", "warning", f"Unstable: one epoch moved weights by {biggest:.3g} times their size",
                   epoch, {"max_update_ratio": rounded(biggest), "learning_rate": r.lr},
                   "In a healthy run an epoch changes each weight matrix by a few percent of its size. Here a "
                   "layer's weights moved by more than their own size in one epoch: each step throws away what "
                   "was learned.", [lr_fix(r, 0.1)])


def _loss_spike(r: RunView) -> Finding | None:
    loss = r.train_loss
    lows = np.minimum.accumulate(np.where(np.isfinite(loss), loss, np.inf)) if loss.size else loss
    spikes = [i for i in range(1, len(loss)) if np.isfinite(loss[i]) and loss[i] > 1.0
              and loss[i] > SPIKE_FACTOR * lows[i - 1]]
    if not spikes:
        return None
    i = spikes[0]
    factor = float(loss[i] / lows[i - 1])
    recovered = bool(np.isfinite(loss[-1]) and loss[-1] < loss[i] / SPIKE_FACTOR ** 0.5)
    return symptom(
        r, "unstable", "warning", f"Unstable: the training loss jumped {factor:.3g}x in epoch {i + 1}", i + 1,
        {"lowest_loss_before": rounded(lows[i - 1]), "spike_loss": rounded(loss[i]),
         "last_train_loss": rounded(loss[-1]), "learning_rate": r.lr},
        f"In epoch {i + 1} the training loss rose from {lows[i - 1]:.3g} (its lowest so far) to {loss[i]:.3g}: "
        "a step far too large threw the weights out of the region they had found, "
        + (f"and training then found its way back down (to {fmt(loss[-1])})." if recovered else
           "and the loss has not come back down.")
        + " A smaller learning rate avoids such blow-ups.", [lr_fix(r, 0.1)])
