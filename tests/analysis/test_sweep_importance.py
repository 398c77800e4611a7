"""Parameter importance of a sweep (analysis.sweep_importance) on constructed tables: exact shares, notes."""
import math

import numpy as np
import pytest

from mlplab.analysis.sweep_importance import MIN_CONFIGS, importance, levels, scale, share_of

OPT, LR = "train.optimizer", "train.learning_rate"


def grid(score, optimizers=("sgd", "adam"), rates=(0.001, 0.01, 0.1, 1.0)):
    """A full optimizer x learning-rate grid whose val_accuracy is score(optimizer, rate)."""
    return [{"values": {OPT: o, LR: lr}, "val_accuracy": score(o, lr)} for o in optimizers for lr in rates]


def by_key(imp):
    return {k.key: k for k in imp.keys}


def test_a_metric_that_depends_on_one_key_only_is_all_that_key():
    imp = importance(grid(lambda o, lr: 0.9 if o == "adam" else 0.5), [OPT, LR], "val_accuracy")
    k = by_key(imp)
    assert k[OPT].share == pytest.approx(1.0) and k[LR].share == pytest.approx(0.0)
    assert [x.key for x in imp.keys] == [OPT, LR] and imp.rest == pytest.approx(0.0)
    assert imp.n == 8 and imp.note is None
    assert k[OPT].informative and not k[LR].informative


def test_additive_effects_split_the_variance_exactly_and_an_interaction_is_the_rest():
    # additive: optimizer +-0.1, rate effects -0.2, 0, 0, +0.2 -> SS: opt 8*0.01=0.08, lr 2*(0.04+0.04)=0.16
    lr_effect = {0.001: -0.2, 0.01: 0.0, 0.1: 0.0, 1.0: 0.2}
    rows = grid(lambda o, lr: 0.5 + (0.1 if o == "adam" else -0.1) + lr_effect[lr])
    k = by_key(importance(rows, [OPT, LR], "val_accuracy"))
    assert k[OPT].share == pytest.approx(0.08 / 0.24) and k[LR].share == pytest.approx(0.16 / 0.24)
    # pure interaction (xor-like): no main effect at all, everything is the rest
    sign = {0.001: 1, 0.01: -1, 0.1: 1, 1.0: -1}
    imp = importance(grid(lambda o, lr: 0.5 + 0.1 * sign[lr] * (1 if o == "adam" else -1)), [OPT, LR], "val_accuracy")
    assert all(x.share == pytest.approx(0.0) for x in imp.keys) and imp.rest == pytest.approx(1.0)
    assert imp.note.startswith("100 % of the variance is explained by no key alone: the keys interact")


def test_share_is_the_correlation_ratio():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    # groups {1,2} and {3,4}: means 1.5, 3.5 around 2.5 -> between 4, total 5
    assert share_of(y, [0, 0, 1, 1]) == pytest.approx(4 / 5)
    assert share_of(np.ones(4), [0, 0, 1, 1]) == 0.0


def test_too_few_configurations_are_said():
    rows = grid(lambda o, lr: 0.9 if o == "adam" else 0.5, rates=(0.01, 0.1))
    imp = importance(rows, [OPT, LR], "val_accuracy")
    assert imp.n == 4 < MIN_CONFIGS and "only 4 configurations: too few" in imp.note
    assert by_key(imp)[OPT].share == pytest.approx(1.0)      # still computed, with the note beside it
    assert by_key(imp)[OPT].chance == pytest.approx(1 / 3)


def test_a_value_tried_once_is_said_and_a_random_numeric_key_is_grouped_into_ranges():
    rng = np.random.default_rng(0)
    rates = list(10 ** rng.uniform(-4, -1, 16))
    rows = [{"values": {LR: lr, "model.dropout": d}, "test_accuracy": 0.5 + 0.1 * math.log10(lr)}
            for lr, d in zip(rates, [0.0, 0.5] * 8)]
    imp = importance(rows, [LR, "model.dropout"], "test_accuracy")
    k = by_key(imp)
    assert k[LR].binned and k[LR].groups == 4 and k[LR].smallest == 4 and k[LR].scale == "log"
    assert k[LR].share > 0.85 and k[LR].informative              # monotone in the rate: ranges explain most
    assert not k["model.dropout"].binned and k["model.dropout"].groups == 2
    assert imp.note is None
    cats = [{"values": {"act": a}, "val_accuracy": v} for a, v in zip("abcdefgh", np.linspace(0.1, 0.8, 8))]
    note = importance(cats, ["act"], "val_accuracy").note
    assert note.startswith("act: a value tried by a single configuration")


def test_a_diverged_configuration_counts_as_the_worst_and_is_said():
    rows = grid(lambda o, lr: 0.9 if o == "adam" else 0.5)
    rows[0]["val_accuracy"] = float("nan")        # sgd at 0.001: diverged in its first epoch
    imp = importance(rows, [OPT, LR], "val_accuracy")
    assert "1 configuration without a finite validation accuracy (diverged) counted as the worst" in imp.note
    assert by_key(imp)[OPT].share == pytest.approx(1.0)     # sgd's worst stays sgd's value
    same = importance(grid(lambda o, lr: 0.7), [OPT, LR], "val_accuracy")
    assert "same validation accuracy" in same.note and same.rest == 0.0


def test_scales_and_levels():
    assert scale([0.001, 0.01, 0.1]) == "log" and scale([0.0, 0.5]) == "linear" and scale([32, 64]) == "linear"
    assert scale(["sgd", "adam"]) == "categorical" and scale([True, False]) == "categorical"
    assert scale([{"name": "sgd", "momentum": 0.9}, "adam"]) == "categorical"
    assert levels([[64], [64, 64], [64]]) == ([0, 1, 0], False)
    assert levels([]) == ([], False)
    assert importance([], [OPT], "val_accuracy").keys[0].share == 0.0
