"""The rules: one function per problem, each `rule(r: RunView) -> Finding | None`.

A rule reads the run (`reading.RunView`), compares with the numbers of `thresholds`, and
returns at most one `Finding` with the numbers it saw, plain words and a spec change to try.
`RULES` at the end lists them in the order their findings appear within one severity; a new
rule is a function here and an entry there.

    run status     failed, lost, interrupted
    the outcome    diverged, stuck (both explained by the ranked `causes`), overfitting, underfitting
    the steps      unstable (an oscillating validation loss, huge weight updates, a loss spike)
    the layers     vanishing/exploding gradients, dead ReLUs, saturated sigmoid/tanh units
    the curves     running (training-mode) vs inference-mode training loss
"""
from __future__ import annotations

import math

import numpy as np

from .causes import Cause, depth_causes, init_causes, input_causes, lr_causes, rank
from .finding import Finding, fmt, lr_set, rounded
from .reading import RunView
from .thresholds import (DEAD_FRACTION, DEFAULT_LR, EXPLODING_RATIO, FIRST_EPOCH_ALLOWANCE, OSCILLATION_JUMP,
                         OVERFIT_RISE, OVERFIT_TRAIN_FALL, RUNNING_GAP, SATURATED_FRACTION, SEVERAL_EPOCHS,
                         SMALL_MODEL_PARAMS, SPIKE_FACTOR, STILL_LEARNING, UNDERFIT_ACCURACY, UPDATE_RATIO_HUGE,
                         VANISHING_RATIO)

# ------------------------------------------------------------------ run status


def failed(r: RunView) -> Finding | None:
    """A failed run: its error is the only finding (`diagnose` reports nothing else)."""
    if r.status != "failed":
        return None
    return Finding("failed", "error", "The run failed", None, {},
                   f"The run stopped with an error: {r.run.get('error') or 'no message was stored'}.",
                   "fix the error above and run again")


def lost(r: RunView) -> Finding | None:
    if r.status != "lost":
        return None
    planned = r.planned_epochs
    of = f" of {planned}" if planned else ""
    return Finding(
        "lost", "error", f"The run was lost after {r.epochs}{of} epochs: the process running it is gone", None,
        {"epochs_run": r.epochs, **({"epochs_planned": planned} if planned else {})},
        f"The process that trained this run ended without recording how the run ended (it was killed, it "
        f"crashed, or its machine went down) after {r.epochs}{of} epochs. What is stored is partial: the "
        "history up to its last recorded epoch, and usually no trained model; the findings below, if any, "
        "describe only that part.", "run it again (mlplab run with the same spec)")


def interrupted(r: RunView) -> Finding | None:
    if r.status != "interrupted":
        return None
    planned = r.planned_epochs
    of = f" of {planned}" if planned else ""
    return Finding(
        "interrupted", "warning", f"Interrupted after {r.epochs}{of} epochs", None,
        {"epochs_run": r.epochs, **({"epochs_planned": planned} if planned else {})},
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
    nonfinite = "NaN" in how
    causes = rank(lr_causes(r) + init_causes(r) + input_causes(r))
    if not any(c.key in ("lr_too_high", "init_too_large", "unscaled_inputs") for c in causes):
        causes.append(Cause(1, "lr_too_high", f"the learning rate ({fmt(r.lr)}) may be too high for "
                            f"{r.optimizer} on this model", lr_set(r.lr / 10), {"learning_rate": r.lr}))
    causes = [c for c in causes if c.key not in ("lr_too_small",)]
    loss = r.train_loss
    finite = loss[np.isfinite(loss)]
    ev = {"epoch": epoch, "learning_rate": r.lr}
    if finite.size:
        ev["min_train_loss"] = rounded(finite.min())
        ev["last_train_loss"] = rounded(loss[-1])
    for c in causes[:1]:
        ev.update(c.evidence)
    top = causes[0]
    return Finding(
        "diverged", "error", f"Training diverged at epoch {epoch}: {how.split(' (')[0]}", epoch, ev,
        f"In epoch {epoch} {how}. The weights blew up, so the model's outputs are meaningless "
        + ("(NaN). " if nonfinite else "(a softmax certain of a wrong class). ") + f"Most likely cause: {top.text}."
        + ("" if len(causes) < 2 else " Also possible: " + "; ".join(c.text for c in causes[1:3]) + "."),
        top.suggestion, [c.text for c in causes])


def stuck(r: RunView) -> Finding | None:
    """Training accuracy still at chance after several epochs (`analysis.status.at_chance`)."""
    acc = r.train_acc
    if r.epochs < SEVERAL_EPOCHS or not acc.size or not math.isfinite(acc[-1]) or not r.near_chance(float(acc[-1])):
        return None
    causes = rank(input_causes(r) + init_causes(r) + lr_causes(r) + depth_causes(r))
    ev = {"train_accuracy": rounded(acc[-1]), "chance": rounded(r.chance), "epochs": r.epochs}
    if not causes:
        causes = [Cause(0, "unknown", "no single cause stands out in the statistics: check that the labels "
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


def overfitting(r: RunView) -> Finding | None:
    """The validation loss rose for several epochs after its best while the training loss kept falling."""
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


def underfitting(r: RunView) -> Finding | None:
    """Training accuracy above chance but low: still rising (train longer) or plateaued (a bigger model)."""
    acc = r.train_acc
    if (r.epochs < 2 or not acc.size or not math.isfinite(acc[-1]) or acc[-1] >= UNDERFIT_ACCURACY
            or r.near_chance(float(acc[-1]))):
        return None
    k = min(3, len(acc) - 1)
    slope = float((acc[-1] - acc[-1 - k]) / k)
    if not math.isfinite(slope):
        return None
    hidden = r.model.get("hidden") or []
    layers = r.model.get("layers")
    dense = [l.get("units") for l in layers or [] if l.get("type") == "dense"] if layers else hidden
    narrow = min(dense, default=0)
    small = (not dense) or narrow < r.num_classes or (r.run.get("params") or 1e9) < SMALL_MODEL_PARAMS
    ev = {"train_accuracy": rounded(acc[-1]), "accuracy_gain_per_epoch": rounded(slope), "epochs": r.epochs,
          "narrowest_hidden_layer": narrow}
    if slope > STILL_LEARNING:
        faster = f" (or {lr_set(r.lr * 3)})" if r.lr <= DEFAULT_LR.get(r.optimizer, 0.001) else ""
        return Finding(
            "underfitting", "warning",
            f"Underfitting: training accuracy only {acc[-1]:.1%} and still rising", r.epochs, ev,
            f"Even on its training data the model reaches only {acc[-1]:.1%}, and it was still gaining "
            f"{slope:.1%} per epoch when training ended: it has not trained long enough "
            f"(or the learning rate {fmt(r.lr)} makes progress slow)."
            + (f" Its narrowest hidden layer has only {narrow} units for {r.num_classes} classes, which "
               "also limits it." if dense and narrow < r.num_classes else ""),
            f"--set train.epochs={max(2 * r.epochs, 10)}" + faster)
    return Finding(
        "underfitting", "warning", f"Underfitting: training accuracy plateaued at {acc[-1]:.1%}", r.epochs, ev,
        f"The training accuracy stopped improving at {acc[-1]:.1%}: "
        + ("the model is too small to represent this problem" if small else
           "the model cannot fit even its training data with these settings") +
        " (a model that fits its training data poorly will not do better on new data).",
        "--set model.hidden=[128, 128]" if small else lr_set(r.lr * 3))


# ------------------------------------------------------------------ the steps

def unstable(r: RunView) -> Finding | None:
    """Steps too large, seen in the first of: an oscillating validation loss, huge updates, a loss spike."""
    return _oscillating(r) or _huge_steps(r) or _loss_spike(r)


def _oscillating(r: RunView) -> Finding | None:
    val = r.metric("val_loss")
    jumps = [i for i in range(1, len(val)) if np.isfinite(val[i]) and np.isfinite(val[i - 1])
             and val[i] > (1 + OSCILLATION_JUMP) * val[i - 1]]
    falls = [i for i in jumps if i + 1 < len(val) and val[i + 1] < val[i]]
    if len(falls) < 2:
        return None
    ev = {"jumps": len(jumps), "largest_jump": rounded(max(val[i] / val[i - 1] - 1 for i in jumps)),
          "learning_rate": r.lr}
    return Finding(
        "unstable", "warning", f"Unstable: validation loss jumps up and down ({len(jumps)} jumps over "
        f"{OSCILLATION_JUMP:.0%})", jumps[0] + 1, ev,
        "The validation loss keeps jumping up by more than a quarter and coming back down. Steps that are "
        "too large overshoot the minimum and bounce around it; a smaller learning rate (or a larger "
        "batch) gives smoother, usually better training.", lr_set(r.lr / 3))


def _huge_steps(r: RunView) -> Finding | None:
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
        epoch, {"max_update_ratio": rounded(biggest), "learning_rate": r.lr},
        "In a healthy run an epoch changes each weight matrix by a few percent of its size. Here a "
        "layer's weights moved by more than their own size in one epoch: the learning rate is so "
        "large that each step throws away what was learned.", lr_set(r.lr / 10))


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
    return Finding(
        "unstable", "warning", f"Unstable: the training loss jumped {factor:.3g}x in epoch {i + 1}", i + 1,
        {"lowest_loss_before": rounded(lows[i - 1]), "spike_loss": rounded(loss[i]),
         "last_train_loss": rounded(loss[-1]), "learning_rate": r.lr},
        f"In epoch {i + 1} the training loss rose from {lows[i - 1]:.3g} (its lowest so far) to {loss[i]:.3g}: "
        "a step far too large threw the weights out of the region they had found, "
        + ("and training then found its way back down (to {:.3g}).".format(loss[-1]) if recovered else
           "and the loss has not come back down.")
        + " A smaller learning rate avoids such blow-ups.", lr_set(r.lr / 10))


# ------------------------------------------------------------------ the layers

def gradients_across_depth(r: RunView) -> Finding | None:
    """The first layer's gradient orders of magnitude below (vanishing) or above (exploding) the last's."""
    ratio, epoch = r.grad_ratio()
    if not math.isfinite(ratio) or VANISHING_RATIO <= ratio <= EXPLODING_RATIO:
        return None
    g = r.stat("grad_norm")
    ev = {"grad_ratio_first_to_last": rounded(ratio), "layers": g.shape[1],
          "first_layer_grad_norm": rounded(np.nanmedian(g[:, 0])),
          "last_layer_grad_norm": rounded(np.nanmedian(g[:, -1]))}
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


def dead_units(r: RunView) -> Finding | None:
    """Most units of a ReLU layer output zero for every probe row at the end."""
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
        {"layer": j, "dead_fraction": rounded(last[j]), "dead_fraction_at_init": rounded(at_init),
         "learning_rate": r.lr},
        f"{last[j]:.0%} of the units of {name!r} output zero for every input of the probe batch. A ReLU unit "
        "whose input is always negative passes no signal and gets zero gradient, so it never comes back. "
        + ("They died during training, typically after a too-large step pushed their biases negative."
           if at_init < last[j] / 2 else "They were dead from the start: check the initialization."),
        lr_set(r.lr / 10) + " (or --set model.activation=leaky_relu, --set model.init=he_normal)")


def saturated_units(r: RunView) -> Finding | None:
    """Many sigmoid/tanh outputs of a layer sit at their limits at the end."""
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
        {"layer": j, "saturated_fraction": rounded(last[j])},
        f"{last[j]:.0%} of the outputs of {name!r} are within 1% of the {kind}'s limits, where its slope is "
        "almost zero: those units barely pass gradients back, so the layers before them learn very slowly."
        + (" The inputs are not scaled, which drives the first layer into saturation." if unscaled else ""),
        "--set data.scale=unit" if unscaled else "--set model.activation=relu --set model.init=he_normal")


# ------------------------------------------------------------------ the curves

def running_vs_inference(r: RunView) -> Finding | None:
    """Why, with dropout or batch-norm, Keras' running loss differs from the inference-mode train_loss (info)."""
    dropout, bn = r.regularizers
    running, inference = r.metric("loss"), r.metric("train_loss")
    if not (dropout or bn) or not running.size or inference.size != running.size:
        return None
    a, b = float(running[-1]), float(inference[-1])
    if not (math.isfinite(a) and math.isfinite(b)) or abs(a - b) < RUNNING_GAP * max(b, 1e-3):
        return None
    what = " and ".join(x for x, on in (("dropout", dropout), ("batch normalization", bn)) if on)
    accuracies = {key: rounded(values[-1]) for key, values in (("running_accuracy", r.metric("accuracy")),
                                                               ("inference_train_accuracy", r.metric("train_accuracy")))
                  if values.size}  # a history may hold losses only
    return Finding(
        "running_vs_inference", "info",
        f"Running training loss {a:.3g} vs {b:.3g} in inference mode ({what})", r.epochs,
        {"running_loss": rounded(a), "inference_train_loss": rounded(b), **accuracies},
        "The 'loss' Keras prints during an epoch is an average over the batches while the weights change, "
        f"computed in training mode: with {what} active"
        + (", a random part of the units is switched off for every batch" if dropout else "")
        + (", batch statistics replace the moving averages" if bn else "")
        + ". The inference-mode training loss (train_loss) uses the full network as it is used for "
        "prediction, so it is the one to compare with the validation loss. A training loss above the "
        "validation loss is expected here, not a bug.", "none needed: compare train_loss with val_loss")


# ------------------------------------------------------------------ the order

# What a run's status says comes first; `failed` is handled on its own (nothing else is reported).
STATUS_RULES = (lost, interrupted)
# Then these, in this order within one severity.
RULES = (diverged, stuck, overfitting, underfitting, unstable, gradients_across_depth,
         dead_units, saturated_units, running_vs_inference)
