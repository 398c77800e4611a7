"""The symptoms inside the network, from `engine.probe`'s per-layer statistics.

    gradients      vanishing or exploding across depth (first vs last kernel)
    units          dead ReLUs (only "relu": leaky_relu, elu, gelu and selu pass gradients for negative
                   inputs), saturated sigmoid/tanh units
    activations    exploding outputs (variance above DeepDiagnosis' bound)
    the curves     running (training-mode) vs inference-mode training loss (an info)
"""
from __future__ import annotations

import math

import numpy as np

from .causes import dead_from_start, init_fix, lr_fix
from .finding import Finding, rounded
from .reading import RunView
from .rules import symptom
from .thresholds import (ACTIVATION_VARIANCE_HIGH, DEAD_FRACTION, EXPLODING_RATIO, RUNNING_GAP, SATURATED_FRACTION,
                         VANISHING_RATIO)


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
        return symptom(
            r, "vanishing_gradients", "warning",
            f"Vanishing gradients: the first layer gets {ratio:.2g} of the last layer's gradient", epoch, ev,
            f"Going backwards through {g.shape[1]} weight layers, the gradient shrinks at every layer, so the "
            "first layers hardly change and the deep network learns like a shallow one, or not at all.",
            [{"model.activation": "relu", "model.init": "he_normal"}, {"model.batchnorm": True},
             {"train.optimizer": "adam", "train.learning_rate": 0.001}])
    return symptom(
        r, "exploding_gradients", "warning",
        f"Exploding gradients: the first layer gets {ratio:.3g} times the last layer's gradient", epoch, ev,
        "Going backwards through the network, the gradient grows at every layer, so the first layers take huge "
        "steps while the last ones barely move. Smaller initial weights or batch normalization keep the gradient "
        "the same size across depth.", [{"model.init": "glorot_uniform"}, {"model.batchnorm": True}])


def _worst(r: RunView, name: str, kinds: tuple[str, ...]) -> tuple[np.ndarray, int] | None:
    """A statistic restricted to layers of the given activation kinds, and the worst layer at the end."""
    a = r.stat(name)
    if not a.size or not np.any(np.isfinite(a[-1])):
        return None
    keep = np.array([r.layer_kind(j) in kinds if r.layers else True for j in range(a.shape[1])])
    a = np.where(keep[None, :], np.nan_to_num(a, nan=0.0), 0.0)
    return a, int(np.argmax(a[-1]))


def _over(r: RunView, name: str, kinds: tuple[str, ...], threshold: float) -> tuple[np.ndarray, int, int | None] | None:
    """(the statistic, its worst layer, the epoch it first reached `threshold` there) when that layer ends at
    or above it; else None."""
    found = _worst(r, name, kinds)
    if found is None or found[0][-1, found[1]] < threshold:
        return None
    a, j = found
    epochs = r.stat_epochs
    return a, j, epochs[np.flatnonzero(a[:, j] >= threshold)[0]] if epochs else None


def dead_units(r: RunView) -> Finding | None:
    """Most units of a ReLU layer output zero for every probe row at the end."""
    found = _over(r, "dead_fraction", ("relu",), DEAD_FRACTION)
    if found is None:
        return None
    dead, j, since = found
    at_init, last = float(dead[0, j]), float(dead[-1, j])
    from_start = at_init >= last / 2 or dead_from_start(r)
    name = r.layer_name(j)
    fixes = ([init_fix(r), {"model.activation": "leaky_relu"}] if from_start
             else [lr_fix(r, 0.1), {"model.activation": "leaky_relu"}])
    return symptom(
        r, "dead_units", "warning", f"Dead ReLUs: {last:.0%} of the units of layer {name!r} never fire", since,
        {"layer": j, "dead_fraction": rounded(last), "dead_fraction_at_init": rounded(at_init), "learning_rate": r.lr},
        f"{last:.0%} of the units of {name!r} output zero for every input of the probe batch. A ReLU unit whose "
        "input is always negative passes no signal and gets zero gradient, so it never comes back. "
        + ("They were dead from the start: the initial weights (or the inputs' scale) put them there, not the "
           "training steps." if from_start else
           "They died during training, typically after a too-large step pushed their biases negative."), fixes)


def saturated_units(r: RunView) -> Finding | None:
    """Many sigmoid/tanh outputs of a layer sit at their limits at the end."""
    found = _over(r, "saturated_fraction", ("sigmoid", "tanh"), SATURATED_FRACTION)
    if found is None:
        return None
    sat, j, since = found
    name, kind = r.layer_name(j), r.layer_kind(j) or "sigmoid"
    return symptom(
        r, "saturated_units", "warning", f"Saturated units: {sat[-1, j]:.0%} of {kind} outputs in {name!r} sit at "
        "their limits", since, {"layer": j, "saturated_fraction": rounded(sat[-1, j])},
        f"{sat[-1, j]:.0%} of the outputs of {name!r} are within 1% of the {kind}'s limits, where its slope is "
        "almost zero: those units barely pass gradients back, so the layers before them learn very slowly.",
        [{"model.activation": "relu", "model.init": "he_normal"}, {"model.batchnorm": True}])


def exploding_activations(r: RunView) -> Finding | None:
    """A hidden layer's outputs with a variance above ACTIVATION_VARIANCE_HIGH (see thresholds)."""
    std = r.stat("activation_std")
    if not std.size:
        return None
    var = np.nan_to_num(std, nan=0.0, posinf=np.inf) ** 2
    rows, cols = np.nonzero(var > ACTIVATION_VARIANCE_HIGH)
    if not rows.size:
        return None
    row = int(rows[0])
    j = int(np.argmax(var[row]))
    epochs = r.stat_epochs
    first, deepest = float(std[row, 0]), float(std[row, j])
    relu = "relu" in r.hidden_activations
    fixes = [{"model.batchnorm": True}] + ([{"model.init": "he_normal"}] if relu else []) + [{"model.init": "glorot_uniform"}]
    return symptom(
        r, "exploding_activations", "warning", f"Exploding activations: outputs of {r.layer_name(j)!r} spread to "
        f"{deepest:.3g}", epochs[row] if epochs else None,
        {"layer": j, "activation_std": rounded(deepest), "first_layer_activation_std": rounded(first),
         "layers": std.shape[1]},
        f"The outputs of {r.layer_name(j)!r} have a standard deviation of {deepest:.3g} (the first hidden layer's: "
        f"{first:.3g}); healthy layers stay near 1. Outputs that large make the softmax certain of "
        "its guesses and the gradients badly sized; each layer multiplying the signal's size compounds with depth.",
        fixes)


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
