"""Causes seen in a run's statistics and curves: what explains the symptoms of `rules`/`layers`.

Each function looks at the run and returns cause findings (`cause` builds them): the learning
rate (steps larger than the weights, or barely moving them), the initialization (far too large
or far too small), activations that fade the gradient through depth, the labels (noisier than
the test labels, or unrelated to the inputs), the model's size and the number of epochs. Each
names the symptoms it can explain (`explains`) and a base score (how strongly the evidence alone
points at it); `ranking` links them to the symptoms present and orders them. The configuration
checks (`config`) and the data checks (`data_checks`) are causes too, read from the spec and
the data's warnings.
"""
from __future__ import annotations

import math

import numpy as np

from .finding import Finding, fmt, one_digit, rounded
from .reading import RunView
from .thresholds import (ACTIVATION_HUGE, ACTIVATION_TINY, CLIP_LOSS, DEAD_FRACTION, DEFAULT_LR, FIRST_EPOCH_ALLOWANCE,
                         GAP_LABELS, GRADIENT_PRESENT, INIT_SCALE_HUGE, INIT_SCALE_TINY, LR_FAR, LR_HIGH,
                         LR_HIGH_UNSCALED_SCORE, LR_RANGE, MEMORIZED, NARROW, BOTTLENECK_SCORE,
                         SATURATED_AT_INIT, SATURATED_FRACTION, SMALL_MODEL_PARAMS, STILL_LEARNING,
                         REGULARIZATION_DOMINATES, UNDERFIT_ACCURACY, UPDATE_RATIO_HUGE, UPDATE_RATIO_TINY, VANISHING_RATIO)

IMAGE_SETS = {"digits": 64, "mnist": 784, "fashion-mnist": 784}   # built-in image sets and their input size
NOT_LINEAR = {"cosine2d"}   # built-in sets no line separates (thresholds.EASY_BASELINE)

# what each kind of cause can explain (symptom codes)
STEP_SYMPTOMS = ("diverged", "stuck", "unstable", "dead_units", "exploding_gradients", "underfitting")
SIGNAL_SYMPTOMS = ("stuck", "underfitting", "vanishing_gradients", "saturated_units", "dead_units")
# Large inputs make steps too large and push units to their limits; they do not explain a slow learner:
# scaling raw pixels to [0, 1] slows a run whose learning rate was set for them (bench/doctor_oracle.py).
UNSCALED_SYMPTOMS = ("diverged", "unstable", "dead_units", "exploding_gradients", "vanishing_gradients",
                     "saturated_units", "exploding_activations")


def cause(r: RunView, code: str, text: str, more: str, fixes: list, evidence: dict, score: float,
          explains: tuple[str, ...], note: str = "", title: str | None = None, severity: str = "info") -> Finding:
    """A cause finding: `text` is the cause in a phrase (what symptoms list), `more` the why. Its
    severity rises to that of the worst symptom it explains (`ranking`); `severity` is its own."""
    safe = r.fixes(*fixes)
    return Finding(code, severity, title or text[0].upper() + text[1:], None, evidence,
                   f"{text[0].upper()}{text[1:]}. {more}".strip(), r.suggestion(safe, note), [text],
                   kind="cause", explains=list(explains), fixes=safe, score=score)


def _dense_shapes(r: RunView) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of each dense kernel, the output layer's included; fan_in 0 when unknown."""
    summary = (r.run.get("summary") or {}).get("data") or {}
    shape = summary.get("input_shape")
    size = int(np.prod(shape)) if shape else IMAGE_SETS.get(str((r.spec.get("data") or {}).get("dataset")), 0)
    classes = r.num_classes if r.class_names else 10
    sizes = [size, *r.hidden_widths, classes]
    return list(zip(sizes[:-1], sizes[1:]))


def regularization_penalty(r: RunView) -> tuple[float, float]:
    """(L1 + L2 term at initialization, log C): measured from the initial weight norms when the run has
    statistics, else estimated for Glorot-scale weights (the sum of W**2 of a fan_in x fan_out kernel is about
    2 fan_in fan_out / (fan_in + fan_out))."""
    l1, l2 = float(r.model.get("l1") or 0.0), float(r.model.get("l2") or 0.0)
    classes = r.num_classes if r.class_names else 10
    w0 = r.stat_row("weight_norm")
    if w0.size and np.all(np.isfinite(w0)):
        squares = float(np.sum(w0 ** 2))
        params = sum(a * b for a, b in _dense_shapes(r)) or 1
        absolute = math.sqrt(squares * params)   # |W|_1 <= sqrt(n) |W|_2: an upper estimate
    else:
        shapes = [(a, b) for a, b in _dense_shapes(r) if a]
        squares = sum(2 * a * b / (a + b) for a, b in shapes)
        absolute = sum(a * b * math.sqrt(6 / (a + b)) / 2 for a, b in shapes)   # E|w| of Glorot's uniform
    return l2 * squares + l1 * absolute, math.log(max(classes, 2))


def lr_fix(r: RunView, factor: float) -> dict:
    return {"train.learning_rate": one_digit(r.lr * factor)}


def lower_lr(r: RunView) -> list[dict]:
    """A smaller learning rate: Adam at its default first (for Adam itself, its default when that is below the
    run's rate), then the optimizer's default, then a tenth of the rate. On the oracle benchmark
    (bench/doctor_oracle.py, seed 1, 600 runs), of the runs whose first cause was too high a rate: Adam at
    0.001 was a right fix for 34 of 45, a tenth of the rate for 14; with SGD+momentum, RMSprop or Adagrad 10 of
    12 against 4 (runs 80-385); with plain SGD 5 of 7 against 2 (seed 2: 1 of 1, a tie)."""
    tenth = one_digit(r.lr / 10)
    default = DEFAULT_LR.get(r.optimizer, 0.001)
    adam = [{"train.optimizer": "adam", "train.learning_rate": 0.001}] if r.optimizer != "adam" else []
    return adam + [{"train.learning_rate": v} for v in ((default, tenth) if default < r.lr else (tenth,))]


def raise_lr(r: RunView) -> list[dict]:
    """A larger learning rate: the optimizer's default, then a few times that (SGD-like optimizers take 10x).
    SGD and Adagrad far below their rate learn fastest with Adam at its default (bench/doctor_oracle.py:
    switching to Adam was within noise of the best single change in 4 of 4 such runs of seed 0)."""
    default = DEFAULT_LR.get(r.optimizer, 0.001)
    adam = [{"train.optimizer": "adam", "train.learning_rate": 0.001}] if r.optimizer in ("sgd", "adagrad") else []
    return adam + [{"train.learning_rate": default},
            {"train.learning_rate": one_digit(default * (10 if r.optimizer in ("sgd", "adagrad") else 3))}]


def init_fix(r: RunView) -> dict:
    return {"model.init": "he_normal" if "relu" in r.hidden_activations else "glorot_uniform"}


# ------------------------------------------------------------------ learning rate

def lr_too_high(r: RunView) -> Finding | None:
    """Steps larger than the weights (update ratio above 1), or a rate far above the default."""
    ratio = r.stat("update_ratio")[1:]
    default = DEFAULT_LR.get(r.optimizer, 0.001)
    finite = ratio[np.isfinite(ratio)] if ratio.size else ratio
    biggest = float(finite.max()) if finite.size else float("nan")
    loss = r.train_loss
    clipped = r.crossentropy and loss.size and np.nanmax(np.nan_to_num(loss, nan=0)) > 0.5 * CLIP_LOSS
    penalty, uniform = regularization_penalty(r)
    # weights that start tiny, or that a strong L1/L2 term shrinks, move by many times their size without
    # any step being too large
    huge = (bool(ratio.size and np.nanmax(np.nan_to_num(allowance(ratio), nan=0.0)) > UPDATE_RATIO_HUGE)
            and init_too_small(r) is None and penalty < REGULARIZATION_DOMINATES * uniform)
    lo, hi = LR_RANGE.get(r.optimizer, (0, 1.0))
    if r.lr < lo or not (huge or (clipped and r.lr >= LR_HIGH * default) or r.lr > hi):
        return None   # a rate below its usual range is never too high, whatever made the weights jump
    deep = len(r.hidden_activations) > 4
    how = (f": one epoch moved the weights by up to {fmt(biggest)} times their own size, so each step overshoots"
           if huge else ": the loss jumped to where a softmax is confidently wrong" if clipped and r.lr >= LR_HIGH * default
           else f": above the usual {fmt(lo)} to {fmt(hi)} for {r.optimizer}")
    return cause(r, "lr_too_high", f"the learning rate ({fmt(r.lr)}) is too high for {r.optimizer}"
                 + (f" with {len(r.hidden_activations)} hidden layers" if deep else "") + how,
                 "Steps that large throw away what was learned and can kill ReLU units or blow the loss up.",
                 lower_lr(r), {"learning_rate": r.lr, "max_update_ratio": rounded(biggest),
                                    "default_learning_rate": default},
                 5.0 if r.lr > LR_FAR * hi else LR_HIGH_UNSCALED_SCORE if r.lr <= hi and r.status == "diverged" and raw_pixels(r)
                 else 3.5 if huge else 2.5, STEP_SYMPTOMS,
                 title=f"Learning rate too high ({fmt(r.lr)} for {r.optimizer})")


def raw_pixels(r: RunView) -> bool:
    """Are the inputs unscaled (the data check says so, or a built-in image set read with scale = none)?"""
    data = r.spec.get("data") or {}
    return r.data_warned("unscaled_inputs") or (data.get("scale") == "none" and str(data.get("dataset")) in IMAGE_SETS)


def allowance(ratio: np.ndarray) -> np.ndarray:
    """Update ratios per epoch with the first epoch's allowance taken off (small initial weights may move a lot)."""
    return ratio / np.where(np.arange(len(ratio)) == 0, FIRST_EPOCH_ALLOWANCE, 1.0)[:, None]


def lr_too_low(r: RunView) -> Finding | None:
    """Weights that barely move though the gradient is there, or a slow climb at a rate far below the default."""
    ratio = r.stat("update_ratio")[1:]
    default = DEFAULT_LR.get(r.optimizer, 0.001)
    med = float(np.nanmedian(np.nanmax(ratio, axis=1))) if ratio.size and np.any(np.isfinite(ratio)) else float("nan")
    grads = r.stat("grad_norm")[1:]
    has_grad = grads.size and np.nanmedian(np.nanmax(np.nan_to_num(grads), axis=1)) > GRADIENT_PRESENT
    tiny = math.isfinite(med) and med < UPDATE_RATIO_TINY and has_grad
    acc = r.train_acc
    slow = (r.lr <= default / 10 and acc.size >= 2 and math.isfinite(acc[-1]) and acc[-1] < UNDERFIT_ACCURACY)
    if not (tiny or slow):
        return None
    return cause(r, "lr_too_low", f"the learning rate ({fmt(r.lr)}) is far too small"
                 + (f": an epoch changes the weights by only {fmt(med)} of their size, so training barely moves"
                    if tiny else f" ({fmt(r.lr / default)} of {r.optimizer}'s usual {fmt(default)})"),
                 "Each step is so small that the epochs end long before the weights get anywhere.",
                 raise_lr(r),
                 {"learning_rate": r.lr, "median_update_ratio": rounded(med)}, 3.0 if tiny else 2.5,
                 ("stuck", "underfitting"), title=f"Learning rate too low ({fmt(r.lr)} for {r.optimizer})")


# ------------------------------------------------------------------ initialization

def init_scale(r: RunView) -> float | None:
    """The largest stddev/bound of a random_normal/truncated_normal/random_uniform initializer."""
    stddevs = [float(i.get("stddev", 0.05)) for i in r.inits() if i.get("name") in ("random_normal", "truncated_normal")]
    ranges = [max(abs(float(i.get("minval", -0.05))), abs(float(i.get("maxval", 0.05))))
              for i in r.inits() if i.get("name") == "random_uniform"]
    return max(stddevs + ranges, default=None)


def init_too_large(r: RunView) -> Finding | None:
    scale = init_scale(r)
    w0, std0, mean0 = r.stat_row("weight_norm"), r.stat_row("activation_std"), r.stat_row("activation_mean")
    sat0 = r.stat_row("saturated_fraction")
    big_acts = bool(mean0.size and (not np.all(np.isfinite(mean0)) or np.nanmax(np.abs(mean0)) > ACTIVATION_HUGE
                                    or np.nanmax(np.abs(std0)) > ACTIVATION_HUGE))
    saturated0 = bool(sat0.size and np.nanmax(np.nan_to_num(sat0, nan=0.0)) > SATURATED_AT_INIT)
    if r.data_warned("unscaled_inputs"):
        big_acts = saturated0 = False   # unscaled inputs explain large first activations (data_checks)
    if not ((scale is not None and scale >= INIT_SCALE_HUGE) or big_acts or saturated0
            or (w0.size and not np.all(np.isfinite(w0)))):
        return None
    ev = {"init_scale": rounded(scale) if scale is not None else float("nan")}
    if mean0.size:
        ev["initial_activation_mean_max"] = (rounded(np.nanmax(np.abs(mean0))) if np.any(np.isfinite(mean0))
                                             else float("inf"))
    return cause(r, "init_too_large", "the initial weights are far too large: activations explode (or "
                 "sigmoid/tanh units saturate) before training even starts",
                 "Weights of Glorot's or He's scale keep each layer's output about the size of its input.",
                 [init_fix(r), {"model.batchnorm": True}], ev, 3.0,
                 ("diverged", "exploding_activations", "exploding_gradients", "unstable")
                 + SIGNAL_SYMPTOMS, title="Initial weights far too large")


def init_too_small(r: RunView) -> Finding | None:
    scale = init_scale(r)
    w0, std0 = r.stat_row("weight_norm"), r.stat_row("activation_std")
    tiny_acts = bool(std0.size and np.all(np.isfinite(std0)) and std0[-1] < ACTIVATION_TINY
                     and np.all(np.nan_to_num(w0) > 0))
    if not ((scale is not None and scale < INIT_SCALE_TINY) or tiny_acts) or not r.has_hidden_layers:
        return None   # one layer of weights (softmax regression) has no depth for the signal to fade through
    return cause(r, "init_too_small", "the initial weights are far too small: the signal shrinks layer after "
                 "layer, so the output barely depends on the input and the gradients vanish",
                 "Weights of Glorot's or He's scale keep the signal the same size through the layers.",
                 [init_fix(r), {"model.batchnorm": True}],
                 {"init_scale": rounded(scale) if scale is not None else float("nan"),
                                 "initial_activation_std_last_layer": rounded(std0[-1]) if std0.size else float("nan")},
                 3.0, SIGNAL_SYMPTOMS, title="Initial weights far too small")


def init_shifted(r: RunView) -> Finding | None:
    """A normal initializer whose mean is far from zero: most weights start with one sign."""
    shifted = [i for i in r.inits() if i.get("name") in ("random_normal", "truncated_normal")
               and abs(float(i.get("mean", 0.0))) > max(2 * float(i.get("stddev", 0.05)), 0.01)]
    if not shifted:
        return None
    mean = float(shifted[0].get("mean", 0.0))
    return cause(r, "init_shifted", f"the initial weights are shifted to one sign (mean {fmt(mean)}, stddev "
                 f"{fmt(float(shifted[0].get('stddev', 0.05)))})",
                 "Weights that start mostly " + ("negative" if mean < 0 else "positive") + " push every unit's input "
                 "the same way: ReLUs start dead (or saturate), and the units start alike.",
                 [init_fix(r)], {"init_mean": mean}, 3.5,
                 ("dead_units", "stuck", "underfitting", "exploding_activations", "saturated_units", "diverged"),
                 title="Initial weights shifted")


# ------------------------------------------------------------------ depth and activations

def fading_gradient(r: RunView) -> Finding | None:
    """Sigmoid/tanh layers that saturate or pass back a vanishing gradient through depth."""
    kinds = [a for a in r.hidden_activations if a in ("sigmoid", "tanh")]
    ratio, _ = r.grad_ratio()
    sat = r.stat("saturated_fraction")
    sat_max = float(np.nanmax(sat[-1])) if sat.size and np.any(np.isfinite(sat[-1])) else 0.0
    vanishing = math.isfinite(ratio) and ratio < VANISHING_RATIO
    if not kinds or not (vanishing or sat_max >= SATURATED_FRACTION):
        return None
    return cause(r, "saturating_activation", "the gradient fades on its way back to the first layers"
                 + (f" (the first layer gets {fmt(ratio)} of the last layer's gradient)" if vanishing else "")
                 + (f"; {sat_max:.0%} of a {kinds[0]} layer's outputs are saturated" if sat_max >= SATURATED_FRACTION
                    else "") + f", through {len(kinds)} {kinds[0]} layers, so the early layers do not learn",
                 "A sigmoid passes back at most a quarter of the gradient per layer, less where it saturates; "
                 "ReLU with He initialization, or batch normalization, keeps it flowing.",
                 [{"model.activation": "relu", "model.init": "he_normal"}, {"model.batchnorm": True}],
                 {"grad_ratio_first_to_last": rounded(ratio), "max_saturated_fraction": rounded(sat_max)},
                 3.0 if vanishing else 2.0, ("vanishing_gradients", "stuck", "underfitting", "saturated_units"),
                 title=f"{kinds[0].capitalize()} activations fade the gradient through depth")


# ------------------------------------------------------------------ labels, size, epochs

def labels_unrelated(r: RunView) -> Finding | None:
    """Training accuracy climbs while validation and test stay at chance: memorized labels."""
    train, val, test = r.final("train_accuracy"), r.final("val_accuracy"), r.final("test_accuracy")
    held = [a for a in (val, test) if math.isfinite(a)]
    if not (math.isfinite(train) and held and train >= r.chance + MEMORIZED and all(r.near_chance(a) for a in held)):
        return None
    return cause(r, "labels_unrelated", "the labels do not match the inputs: the model memorizes its training rows "
                 f"({train:.0%}) but is at chance on rows it has not seen ({max(held):.0%})",
                 "Nothing about the inputs predicts these labels (shuffled or random labels, or inputs and labels "
                 "from different files), so no setting of the model can generalize.", [],
                 {"train_accuracy": rounded(train), "held_out_accuracy": rounded(max(held)), "chance": rounded(r.chance)},
                 4.0, ("overfitting", "stuck", "underfitting"), note="check that each label belongs to its input",
                 title="Labels unrelated to the inputs", severity="error")


def noisy_labels(r: RunView) -> Finding | None:
    """Validation rows (from the training file) scored far below the test rows: noisy training labels."""
    val, test = r.final("val_accuracy"), r.final("test_accuracy")
    if not (math.isfinite(val) and math.isfinite(test)) or test - val < GAP_LABELS or r.near_chance(val):
        return None
    if 0 in (r.class_counts.get("val") or [1]) or r.data_warned("validation_class_missing"):
        return None   # validation rows missing classes score differently for that reason (data_checks)
    return cause(r, "noisy_labels", f"the training labels are noisier than the test labels: validation rows, taken "
                 f"from the training file, score {val:.0%} against {test:.0%} on the test set",
                 "Rows whose label is wrong cap what the model can get right on them and invite it to memorize "
                 "noise; early stopping (on by default) and regularization limit the damage, but no setting "
                 "removes it.", [],
                 {"val_accuracy": rounded(val), "test_accuracy": rounded(test)}, 3.5,
                 ("overfitting", "underfitting", "unstable"), note="clean the training labels",
                 title="Noisy training labels", severity="warning")


def model_too_small(r: RunView) -> Finding | None:
    """A hidden layer so narrow it is a bottleneck however long the model trains (narrower than the classes; of
    NARROW units or fewer, or none on data no line separates, it comes first), or few weights and a plateau. The
    fix widens every hidden layer to at least 64 units and keeps the depth."""
    acc, dense = r.train_acc, r.hidden_widths
    narrow = min(dense, default=0)
    # no hidden layer is a bottleneck on data no line separates (cosine2d); on the built-in image sets such a
    # model is the easy baseline itself (thresholds.EASY_BASELINE): a run far below it was held back by something else
    dataset = str((r.spec.get("data") or {}).get("dataset"))
    tiny = narrow <= NARROW if dense else dataset in NOT_LINEAR
    bottleneck = tiny or bool(dense) and narrow < r.num_classes
    k = min(3, len(acc) - 1)
    plateau = k >= 1 and float(acc[-1] - acc[-1 - k]) / k <= STILL_LEARNING
    few = (r.run.get("params") or 1e9) < SMALL_MODEL_PARAMS if dense else dataset not in IMAGE_SETS
    if not r.model_is_exact or not acc.size or not (bottleneck or (few and plateau)):
        return None
    return cause(r, "model_too_small", f"the model is too small for this problem ({r.run.get('params') or '?'} weights"
                 + (f"; its narrowest hidden layer has {narrow} units for {r.num_classes} classes" if dense else
                    "; no hidden layer") + ")",
                 "A model this small cannot represent the classes however long it trains.",
                 [{"model.hidden": [max(w, 64) for w in dense] or [64]}],
                 {"narrowest_hidden_layer": narrow, "params": r.run.get("params")},
                 BOTTLENECK_SCORE if tiny else 3.0 if bottleneck else 2.5, ("underfitting", "stuck") if tiny
                 else ("underfitting",), title="Model too small")


def too_few_epochs(r: RunView) -> Finding | None:
    acc = r.train_acc
    if len(acc) < 2 or not math.isfinite(acc[-1]):
        return None
    k = min(3, len(acc) - 1)
    slope = float((acc[-1] - acc[-1 - k]) / k)
    if not (math.isfinite(slope) and slope > STILL_LEARNING):
        return None
    # Faster steps first: on the oracle benchmark (bench/doctor_oracle.py, seed 0) a still-learning run was
    # brought furthest by Adam (for SGD and Adagrad, whose Keras default 0.001 crawls) or a larger rate, in 5
    # of 6 runs; twice the epochs was never within noise of the best single change.
    faster = ([{"train.optimizer": "adam", "train.learning_rate": 0.001}] if r.optimizer in ("sgd", "adagrad")
              else [lr_fix(r, 3)] if r.lr <= DEFAULT_LR.get(r.optimizer, 0.001) and r.batch_size >= 8 else [])
    return cause(r, "too_few_epochs", f"training ended while the model was still learning ({slope:.1%} training "
                 "accuracy per epoch over the last epochs)", "Larger steps or more epochs let it finish.",
                 faster + [{"train.epochs": max(3 * r.epochs, 10)}],
                 {"accuracy_gain_per_epoch": rounded(slope)}, 1.5,
                 ("underfitting", "low_accuracy"), title="Too few epochs")


def dead_from_start(r: RunView) -> bool:
    """Were most units of some ReLU layer already dead at initialization?"""
    d0 = r.stat_row("dead_fraction")
    relu = [j for j in range(len(d0)) if r.layer_kind(j) == "relu"]
    return any(np.nan_to_num(d0[j]) >= DEAD_FRACTION for j in relu)


CAUSES = (lr_too_high, lr_too_low, init_too_large, init_too_small, init_shifted, fading_gradient, labels_unrelated, noisy_labels,
          model_too_small, too_few_epochs)
