"""What a run started from the dashboard may ask for: the spec's own rules (as `mlplab run`
checks them) plus a budget, so that one form cannot take the machine down.

    facts = data_facts("digits")                  # rows, features, classes of a data set
    est = estimate(exp, facts)                    # parameters, bytes, seconds on this machine
    problems(exp, facts, Limits())                # {"model.hidden": "...", ...}: one line per field

The estimate is analysis.cost's, the one every run is checked with and `mlplab run --dry-run`
prints (weights and optimizer state, a batch's activations, the data; the time from this
machine's measured rates, each step's overhead included, so batch size 1 counts).

The CLI has none of these limits (it refuses only what this machine's memory cannot hold):
what the dashboard refuses, `mlplab run` still trains.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..analysis.cost import Estimate, estimate as cost_estimate, size_text, time_text
from ..spec import Experiment


@dataclass(frozen=True)
class Limits:
    max_epochs: int = 1000
    max_layers: int = 16
    max_width: int = 4096
    max_params: int = 10_000_000
    max_memory: int = 2 * 2**30          # bytes one job may need
    max_seconds: float = 2 * 3600        # estimated seconds of one job on this machine
    max_queued: int = 8                  # runs waiting behind the one that trains
    max_upload: int = 200 * 2**20        # bytes of one uploaded data file (and of any request body)
    max_name: int = 120                  # characters of a run name


@dataclass(frozen=True)
class DataFacts:
    """What the limits need to know of a data set."""
    name: str
    rows: int           # training rows, before the validation split
    test_rows: int
    features: int
    classes: int


def data_facts(dataset: str, cache: dict | None = None) -> DataFacts:
    """Rows, features and classes of a built-in data set or a file; `cache` (the app's) keeps them per
    file version, so that a form is checked without reading MNIST again."""
    from ..data import load_raw
    path = Path(dataset)
    key = (dataset, path.stat().st_mtime_ns if path.is_file() else None)
    if cache is not None and key in cache:
        return cache[key]
    raw = load_raw(dataset)
    facts = DataFacts(str(dataset), len(raw.x_train), len(raw.x_test), math.prod(raw.x_train.shape[1:]),
                      len(raw.class_names))
    if cache is not None:
        cache[key] = facts
    return facts


def estimate(exp: Experiment, facts: DataFacts) -> Estimate:
    """Parameters, memory and work of the form's experiment on these data (analysis.cost, as every run)."""
    return cost_estimate(exp, (facts.features,), facts.classes, facts.rows, facts.test_rows)


def problems(exp: Experiment, facts: DataFacts, limits: Limits) -> dict[str, str]:
    """What this experiment asks for beyond the dashboard's limits: {form field: one line}."""
    out: dict[str, str] = {}
    m, t = exp.model, exp.train
    if exp.name is not None and len(exp.name) > limits.max_name:
        out["name"] = f"name: {len(exp.name)} characters; the dashboard takes at most {limits.max_name}"
    if t.epochs > limits.max_epochs:
        out["train.epochs"] = (f"train.epochs = {t.epochs}: the dashboard trains at most {limits.max_epochs} "
                               "epochs (early stopping usually ends far sooner); longer runs: mlplab run")
    if len(m.hidden) > limits.max_layers:
        out["model.hidden"] = (f"model.hidden: {len(m.hidden)} layers; the dashboard builds at most "
                               f"{limits.max_layers} hidden layers")
    elif max(m.hidden, default=0) > limits.max_width:
        out["model.hidden"] = (f"model.hidden: a layer of {max(m.hidden)} units; the dashboard builds layers "
                               f"of at most {limits.max_width} units")
    est = estimate(exp, facts)
    if t.batch_size > est.train_rows:
        out["train.batch_size"] = (f"train.batch_size = {t.batch_size}: more than the {est.train_rows} training "
                                   f"rows of {facts.name} (after the validation split); expected 1..{est.train_rows}")
    if "model.hidden" not in out and est.params > limits.max_params:
        out["model.hidden"] = (f"model.hidden = {m.hidden}: {est.params:,} parameters on {facts.name} "
                               f"({facts.features} inputs, {facts.classes} classes); the dashboard's budget is "
                               f"{limits.max_params:,}")
    if est.memory() > limits.max_memory:
        field = "train.batch_size" if est.batch_bytes > est.weights_bytes else "model.hidden"
        out.setdefault(field, f"needs about {size_text(est.memory())} of memory (weights and optimizer state "
                              f"{size_text(est.weights_bytes)}, a batch {size_text(est.batch_bytes)}, the data "
                              f"{size_text(est.data_bytes)}); the dashboard's budget is "
                              f"{size_text(limits.max_memory)}")
    if est.seconds > limits.max_seconds and "train.epochs" not in out and "model.hidden" not in out:
        field = "train.batch_size" if t.batch_size < 32 and "train.batch_size" not in out else "train.epochs"
        out[field] = (f"{field} = {getattr(t, field.split('.')[1])}: about {time_text(est.seconds)} on this "
                      f"machine ({time_text(est.epoch_seconds)} per epoch: {est.steps:,} steps of {est.batch}); "
                      f"the dashboard's budget is {time_text(limits.max_seconds)} (a larger batch, fewer epochs "
                      "or a smaller net, or mlplab run)")
    return out
