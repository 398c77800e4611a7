"""Configuration checks: mistakes visible in the spec before anything trains (as UMLAUT and
NeuraLint check a program's structure).

Each check is a pure function of the spec (through a `RunView`) and returns a cause finding,
or None. `preflight(experiment)` runs them on an `Experiment` before training (`mlplab run`
prints them on stderr as warnings and trains anyway: a valid run is never blocked); `diagnose`
runs them on a stored run's spec, where a check that explains a symptom rises to its severity
and one that explains nothing stays an "info" note.

    loss            mse (or another loss that does not fit a softmax classifier)
    activations     softmax or linear hidden layers; deep sigmoid/tanh stacks without batch-norm
    regularization  dropout above 0.5; an L1/L2 term that dominates the loss at initialization
    initialization  constant weights (zeros, ones, constant, equal random_uniform bounds, stddev 0)
    training        a learning rate outside its optimizer's sane range; a batch size of 1-3; no shuffling
    data            scale = "none" on image data; a validation split that leaves few training rows
"""
from __future__ import annotations

import numpy as np

from .causes import (STEP_SYMPTOMS, UNSCALED_SYMPTOMS, cause, init_fix, lower_lr, raise_lr, raw_pixels,
                     regularization_penalty)
from .finding import Finding, fmt, one_digit, rounded
from .reading import RunView
from .thresholds import (BATCH_TINY, BATCH_TINY_SCORE, DEEP_SATURATING, DROPOUT_HIGH, DROPOUT_SCORE, FEW_STEPS, L2_STRONG, LR_FAR, LR_RANGE,
                         REGULARIZATION_DOMINATES, REGULARIZATION_MODEST_SCORE, REGULARIZATION_SCORE, UNSCALED_SCORE,
                         VALIDATION_SPLIT_HIGH)



def wrong_loss(r: RunView) -> Finding | None:
    if r.loss_name != "mse":
        return None
    return cause(r, "wrong_loss", "the loss is mse, which does not fit a softmax classifier",
                 "Mean squared error on softmax probabilities gives a vanishing gradient exactly when the model is "
                 "confidently wrong; crossentropy is the loss a softmax output is made for (NeuraLint's "
                 "loss/last-layer rule).", [{"train.loss": "sparse_categorical_crossentropy"}],
                 # ranked below the rate, the initialization and L2: crossentropy alone was the best single
                 # change for none of the 4 unhealthy mse runs of the oracle benchmark's seed 0
                 {}, 2.0, ("underfitting", "stuck", "unstable", "vanishing_gradients"), title="Loss mse on a classifier")


def hidden_activation(r: RunView) -> Finding | None:
    """Softmax or linear hidden layers (a dense layer with no activation and no batch-norm after it)."""
    bad = [a for a in r.hidden_activations if a in ("softmax", "linear")]
    layers = r.model.get("layers") or []
    for i, layer in enumerate(layers):
        after = layers[i + 1] if i + 1 < len(layers) else {}
        if layer.get("type") == "dense" and not layer.get("activation") and not after.get("activation"):
            bad.append("linear")
    if not bad:
        return None
    kind = bad[0]
    why = ("a softmax squeezes a layer's outputs into probabilities that sum to 1, so the units compete "
           "instead of each detecting a feature, and the gradient through it is small" if kind == "softmax" else
           "linear layers stacked on each other collapse into one linear map: the network is no more than a "
           "logistic regression")
    return cause(r, "hidden_activation", f"{len(bad)} hidden layer(s) use a {kind} activation",
                 f"In a hidden layer {why}. Hidden layers need a non-linear activation such as ReLU (NeuraLint's "
                 "activation rules).", [{"model.activation": "relu"}], {}, 3.0,
                 ("underfitting", "stuck", "vanishing_gradients"),
                 note="" if not layers else 'set activation = "relu" on the hidden layers',
                 title=f"{kind.capitalize()} activation in hidden layers")


def deep_saturating(r: RunView) -> Finding | None:
    kinds = [a for a in r.hidden_activations if a in ("sigmoid", "tanh")]
    if len(kinds) < DEEP_SATURATING or r.regularizers[1]:
        return None
    return cause(r, "saturating_activation", f"the gradient fades on its way back through {len(kinds)} {kinds[0]} "
                 "layers without batch normalization",
                 "A sigmoid passes back at most a quarter of the gradient per layer (Glorot & Bengio, 2010): the "
                 "first layers of a deep stack barely learn.",
                 # batch-norm first: on the oracle's seed 1 it was a right fix for 7 of the 14 runs where a deep
                 # stack was the first cause named, ReLU with He initialization for 5
                 [{"model.batchnorm": True}, {"model.activation": "relu", "model.init": "he_normal"}],
                 {"saturating_layers": len(kinds)}, 2.5, ("vanishing_gradients", "stuck", "underfitting",
                                                          "saturated_units"),
                 title=f"Deep {kinds[0]} stack")


def slow_sigmoid(r: RunView) -> Finding | None:
    """Sigmoid hidden layers (any depth): outputs centred on 0.5 and a slope of at most 0.25 make learning slow."""
    kinds = [a for a in r.hidden_activations if a == "sigmoid"]
    if not kinds or len(kinds) >= DEEP_SATURATING:
        return None   # a deep stack: deep_saturating says more
    return cause(r, "slow_activation", f"{len(kinds)} sigmoid hidden layer(s): outputs centred on 0.5 and a slope of "
                 "at most 0.25 make each step small", "ReLU learns the same problem in fewer epochs; on the oracle "
                 "benchmark (bench/doctor_oracle.py) ReLU was the best single change for every underfitting sigmoid "
                 "net of seed 0, and a right fix for 12 of the 20 runs of seed 1 where sigmoid layers were the first "
                 "cause named (ReLU with He initialization for 10).", [{"model.activation": "relu"}],
                 {"sigmoid_layers": len(kinds)}, 3.0, ("underfitting", "stuck", "low_accuracy"),
                 title="Sigmoid hidden layers learn slowly")


def dropout_rates(r: RunView) -> list[float]:
    rates = [float(r.model.get("dropout") or 0.0)]
    rates += [float(l.get("rate") or 0.0) for l in r.model.get("layers") or [] if l.get("type") == "dropout"]
    return rates


def too_much_dropout(r: RunView) -> Finding | None:
    rate = max(dropout_rates(r))
    if rate <= DROPOUT_HIGH:
        return None
    return cause(r, "dropout_too_high", f"dropout drops {rate:.0%} of the units at every step",
                 "With more than half the units off, each step trains a small random part of the network and "
                 "the model underfits; 0.2-0.5 is the usual range for hidden layers.",
                 [{"model.dropout": 0.2}], {"dropout": rate}, DROPOUT_SCORE, ("underfitting", "stuck", "unstable"),
                 note="" if not r.model.get("layers") else "lower the rate of the dropout layers to 0.2",
                 title=f"Dropout {rate:g} too high")


def regularization_dominates(r: RunView) -> Finding | None:
    penalty, uniform = regularization_penalty(r)
    if penalty < REGULARIZATION_DOMINATES * uniform or penalty == 0:
        return None
    l1, l2 = float(r.model.get("l1") or 0.0), float(r.model.get("l2") or 0.0)
    shrink = 0.05 * uniform / penalty   # to a term of about 5 % of a uniform guess's loss
    fixes = ([{"model.l2": one_digit(l2 * shrink)}] if l2 else []) + ([{"model.l1": one_digit(l1 * shrink)}] if l1 else [])
    which = "L2" if l2 else "L1"
    return cause(r, "regularization_too_strong", f"the {which} term ({fmt(penalty)} at initialization) dominates the "
                 f"loss (a uniform guess costs {fmt(uniform)})",
                 "Training then mostly shrinks the weights towards zero instead of fitting the data: the model "
                 "underfits, and a large enough term reads as a loss that never comes down.",
                 fixes, {"l1": l1, "l2": l2, "regularization_at_init": rounded(penalty)},
                 REGULARIZATION_MODEST_SCORE if not l1 and l2 < L2_STRONG else REGULARIZATION_SCORE,
                 ("diverged", "stuck", "underfitting"), title=f"{which} regularization too strong")


def constant_init(r: RunView) -> Finding | None:
    inits = r.inits()
    const = [i for i in inits if i.get("name") in ("zeros", "ones", "constant")
             or (i.get("name") == "random_uniform" and float(i.get("minval", -0.05)) == float(i.get("maxval", 0.05)))
             or (i.get("name") in ("random_normal", "truncated_normal") and float(i.get("stddev", 0.05)) == 0.0)]
    w0 = r.stat_row("weight_norm")
    if not (const or (w0.size > 1 and np.all(w0[:-1] == 0))) or not r.has_hidden_layers:
        return None   # one layer of weights (softmax regression) has no hidden units whose symmetry could hold
    name = const[0].get("name") if const else "zeros"
    return cause(r, "constant_init", f"the weights start all equal (init = {name}"
                 + (f" from {const[0].get('minval')} to {const[0].get('maxval')}" if name == "random_uniform" else "")
                 + "): every unit in a layer computes the same thing and gets the same update, so they stay "
                 "identical (the symmetry is never broken)",
                 "Random initial weights make the units differ (NeuraLint's asymmetric-initialization rule).",
                 [init_fix(r)], {"initial_weight_norm_first_layer": rounded(w0[0]) if w0.size else float("nan")},
                 4.5, ("stuck", "underfitting", "dead_units", "vanishing_gradients", "saturated_units", "diverged",
                       "exploding_activations", "exploding_gradients", "unstable"),
                 title=f"Constant initialization ({name})")


def finite_loss(r: RunView) -> bool:
    return bool(r.train_loss.size) and bool(np.all(np.isfinite(r.train_loss)))


def learning_rate_range(r: RunView) -> Finding | None:
    lo, hi = LR_RANGE.get(r.optimizer, (1e-5, 1.0))
    if lo <= r.lr <= hi:
        return None
    low = r.lr < lo
    fixes = raise_lr(r) if low else lower_lr(r)
    return cause(r, "lr_too_low" if low else "lr_too_high",
                 f"the learning rate ({fmt(r.lr)}) is {'below' if low else 'above'} the usual range for "
                 f"{r.optimizer} ({fmt(lo)} to {fmt(hi)})",
                 "Too small a rate barely moves the weights in the epochs given; too large a rate overshoots. "
                 "UMLAUT's typical range for Adam is 1e-5 to 1e-2.", fixes,
                 {"learning_rate": r.lr, "range_low": lo, "range_high": hi},
                 5.0 if r.lr < lo / LR_FAR or r.lr > hi * LR_FAR else 2.5,   # far outside: the first thing to fix
                 (("stuck", "underfitting", "low_accuracy") + (("diverged",) if finite_loss(r) else ())) if low
                 else STEP_SYMPTOMS,   # too low a rate explains a finite loss that never came down (a status of diverged)
                 title=f"Learning rate {fmt(r.lr)} {'below' if low else 'above'} {r.optimizer}'s range")


def tiny_batch(r: RunView) -> Finding | None:
    if r.batch_size >= BATCH_TINY:
        return None
    return cause(r, "batch_too_small", f"the batch size is {r.batch_size}: every step follows "
                 f"{'one sample' if r.batch_size == 1 else f'{r.batch_size} samples'}",
                 "Steps that noisy overshoot at a learning rate that suits a batch of 32 (Keras' default), and an "
                 "epoch takes thousands of tiny steps. A batch of 32, or a learning rate ten times smaller, "
                 "trains smoothly.", [{"train.batch_size": 32}, {"train.learning_rate": one_digit(r.lr / 10)}],
                 {"batch_size": r.batch_size}, BATCH_TINY_SCORE,
                 ("unstable", "underfitting", "stuck", "diverged", "dead_units", "overfitting"),
                 title=f"Batch size {r.batch_size}")


def too_few_steps(r: RunView) -> Finding | None:
    """So few optimizer steps in the whole run (epochs x batches) that training has barely started."""
    rows = int(((r.run.get("summary") or {}).get("data") or {}).get("n_train") or 0)
    epochs = r.planned_epochs   # what the spec asks for (a run that diverged or stopped early took fewer)
    steps = epochs * -(-rows // r.batch_size) if rows else None
    if steps is None or steps >= FEW_STEPS or r.status == "diverged":
        return None
    fixes = ([{"train.batch_size": 32}] if r.batch_size > 32 else []) + [{"train.epochs": max(3 * epochs, 10)}]
    return cause(r, "too_few_steps", f"the run took only {steps} optimizer steps ({epochs} epochs of "
                 f"{-(-rows // r.batch_size)} batches of {r.batch_size} rows)",
                 "Each step moves the weights a little; a few dozen steps end training before it has started. "
                 "Smaller batches give more steps per epoch, more epochs more steps in all.",
                 fixes, {"steps": steps, "batch_size": r.batch_size, "epochs": epochs}, 2.5,
                 ("stuck", "underfitting", "low_accuracy"), title=f"Only {steps} training steps")


def unshuffled(r: RunView) -> Finding | None:
    if r.shuffle:
        return None
    return cause(r, "ordered_data", "the training rows are not shuffled (train.shuffle = false): every epoch sees "
                 "them in the file's order", "If the file is ordered (by class, say), each epoch ends on the same "
                 "classes and the model forgets the others.", [{"train.shuffle": True}], {}, 1.0,
                 ("unstable", "underfitting", "stuck", "overfitting"), title="Training rows not shuffled")


def small_training_split(r: RunView) -> Finding | None:
    split = float((r.spec.get("data") or {}).get("validation_split") or 0.0)
    if split <= VALIDATION_SPLIT_HIGH:
        return None
    return cause(r, "small_training_split", f"the validation split keeps {split:.0%} of the training rows for "
                 f"validation, so the model trains on {1 - split:.0%} of them",
                 "Few training rows are easy to memorize: the model overfits them and generalizes poorly. 0.1-0.2 "
                 "is the usual validation split.", [{"data.validation_split": 0.1}], {"validation_split": split}, 3.0,
                 ("overfitting", "underfitting"), title=f"Validation split {split:g} leaves little training data")


def unscaled_images(r: RunView) -> Finding | None:
    data = r.spec.get("data") or {}
    if not raw_pixels(r) or r.data_warned("unscaled_inputs"):
        return None   # on a stored run the data check's warning says it with the numbers
    return cause(r, "unscaled_inputs", f"the inputs are not scaled (scale = 'none' on {data.get('dataset')}'s "
                 "pixels)", "Large inputs push units into their flat regions and make the gradients badly sized "
                 "(UMLAUT's check: inputs outside [-1, 1]).", [{"data.scale": "unit"}], {}, UNSCALED_SCORE,
                 UNSCALED_SYMPTOMS,
                 title="Inputs not scaled")


CHECKS = (constant_init, learning_rate_range, tiny_batch, too_few_steps, wrong_loss, hidden_activation, deep_saturating,
          slow_sigmoid, too_much_dropout, regularization_dominates, unshuffled, small_training_split, unscaled_images)


def config_findings(r: RunView) -> list[Finding]:
    """Every configuration check that fires on the run's spec."""
    out = []
    for check in CHECKS:
        if (check in (hidden_activation, deep_saturating, slow_sigmoid, too_much_dropout) and not r.model_is_exact):
            continue   # an ml.fit model: its spec's model section is only an approximation
        if (f := check(r)) is not None:
            out.append(f)
    return out


def preflight(experiment) -> list[str]:
    """The configuration checks of an `Experiment` before training, one line each (warnings, never errors)."""
    r = RunView({"spec": experiment.resolved(), "status": "ok"}, None)
    return [f.causes[0] + (f"; try {f.suggestion}" if f.suggestion else "") for f in config_findings(r)]
