"""The training doctor: plain-word findings about a stored run, causes before symptoms.

    findings = diagnose(store.get_run(run_id), stats)   # stats: the run's stats.json, or None
    findings = stored.load_findings(store, "last")   # the same, reading the store
    lines = preflight(experiment)                       # configuration checks before training
    findings = live_check(run_so_far, stats_so_far)     # the cheap rules, between epochs

Symptoms (what training did: diverged, stuck, a low accuracy, over/underfitting, unstable, dead or
saturated units, vanishing/exploding gradients or activations) come from the history and the per-epoch
statistics of `engine.probe`; those of the statistics are problems only when the result is poor too
(`graded`), as the oracle benchmark (bench/doctor_oracle.py) that calibrates the thresholds shows; causes (the learning rate, initialization, activations, loss,
data scale and order, labels, regularization, batch size) from the same numbers, the spec
(configuration checks) and the data checks (`run["warnings"]`). Each symptom names the causes
that explain it; the best-supported cause comes first, with concrete fixes that differ from
the run's own settings. A healthy run gets no warnings or errors (at most an "info").
Divergence and chance level come from `analysis.status`, so the doctor calls a run diverged
exactly when its status says so; lost and interrupted runs say so too.

The doctor is pure: functions of the run record and its statistics, never a Store. Only the
standard library and numpy are used: no Keras, no JAX, so `mlplab show` and the dashboard stay
fast. Read top-down:

    finding.py      Finding (cause or symptom), SEVERITIES, how evidence writes numbers
    fixes.py        fixes: safe against the run's settings, written as --set or ml.fit arguments
    thresholds.py   every number a rule compares with, and the paper or measurement it comes from
    reading.py      RunView: the run record and stats.json as arrays and spec facts
    causes.py       causes seen in the statistics and curves
    config.py       configuration checks on the spec (and `preflight` for an Experiment)
    data_checks.py  the data checks' warnings as causes
    rules.py        symptoms of the outcome and the steps
    layers.py       symptoms inside the network
    ranking.py      link causes and symptoms, score, order
    __init__.py     diagnose
"""
from __future__ import annotations

from .causes import CAUSES
from .config import config_findings, preflight
from .data_checks import data_findings
from .finding import KINDS, SEVERITIES, Finding
from .layers import dead_units, exploding_activations, gradients_across_depth, running_vs_inference, saturated_units
from .ranking import link, ordered
from .reading import RunView
from .rules import (diverged, failed, interrupted, learned_little, lost, low_accuracy, overfitting, stuck, underfitting,
                    unstable)

__all__ = ["DOCTOR_VERSION", "Finding", "KINDS", "SEVERITIES", "diagnose", "live_check", "preflight"]

# Raised whenever a rule or threshold changes what `diagnose` says: a verdict stored with a run under an
# older version is recomputed when next read.
DOCTOR_VERSION = 5

# What a run's status says comes first; `failed` is handled on its own (nothing else is reported).
STATUS_RULES = (lost, interrupted)
# The symptoms, in the order they appear within one severity.
SYMPTOMS = (diverged, stuck, low_accuracy, overfitting, underfitting, unstable, gradients_across_depth, dead_units,
            saturated_units, exploding_activations, running_vs_inference)


# The cheap rules a run can be warned about while it trains (as AUTOTRAINER does): what the network's
# statistics already show after an epoch, when its accuracy so far is poor too. Divergence needs none:
# the engine stops the run on it.
LIVE_RULES = (dead_units, saturated_units, gradients_across_depth, exploding_activations)


def live_check(run: dict, stats: dict | None) -> list[Finding]:
    """The warnings and errors of LIVE_RULES on a run still training (its history and statistics so
    far): numpy over a few numbers per layer, nothing that slows an epoch."""
    r = RunView({**run, "status": "running"}, stats)
    if stuck(r) is None and not learned_little(r):
        return []   # the statistics are out of the ordinary, but the model learns well so far (see `graded`)
    found = [f for rule in LIVE_RULES if (f := rule(r)) is not None]
    return [f for f in found if f.severity in ("warning", "error")]


# What the result shows, and what the network's statistics show on the way. A statistic out of the ordinary
# is a problem only when the result is poor too: the oracle benchmark (bench/doctor_oracle.py) finds healthy
# runs, which no single change improves, with weights that move several times their size in an epoch (small
# initial weights), saturated tanh units or a gradient ratio across depth beyond the papers' bounds.
OUTCOME = ("diverged", "stuck", "low_accuracy", "overfitting", "underfitting")
PROCESS = ("unstable", "vanishing_gradients", "exploding_gradients", "dead_units", "saturated_units",
           "exploding_activations")


def graded(symptoms: list[Finding]) -> list[Finding]:
    """The process symptoms of a run whose result shows no problem become notes ("info")."""
    if any(f.code in OUTCOME and f.problem for f in symptoms):
        return symptoms
    for f in symptoms:
        if f.code in PROCESS and f.problem:
            f.severity = "info"
            f.explanation += " The run still ended with a good result, so this is a note, not a problem."
    return symptoms


def diagnose(run: dict, stats: dict | None = None) -> list[Finding]:
    """Findings for a stored run (`Store.get_run`) and its statistics (stats.json): the status first, then
    the most severe, causes before the symptoms they explain."""
    r = RunView(run, stats)
    failure = failed(r)
    if failure is not None:
        return [failure]
    status = [f for rule in STATUS_RULES if (f := rule(r)) is not None]
    symptoms = [f for rule in SYMPTOMS if (f := rule(r)) is not None]
    codes = {f.code for f in symptoms}
    if "diverged" in codes:
        # after a blow-up the other numbers describe garbage: keep what explains it
        symptoms = [f for f in symptoms if f.code == "diverged"]
    elif "stuck" in codes:
        symptoms = [f for f in symptoms if f.code not in ("underfitting", "low_accuracy")]
    elif any(f.code in ("underfitting", "overfitting") and f.problem for f in symptoms):
        symptoms = [f for f in symptoms if f.code != "low_accuracy"]   # they say more precisely why
    symptoms = graded(symptoms)
    observed = [f for check in CAUSES if (f := check(r)) is not None]
    causes = link(r, symptoms, config_findings(r) + data_findings(r), observed)
    return ordered(status + causes + symptoms)
