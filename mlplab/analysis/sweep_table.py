"""The table that answers a sweep: one row per configuration, best first.

Every number is the runs' result (analysis.status): the weights each run ends with.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..spec.sweep import Config
from .status import combined, rank

def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def table(configs: list[Config], results: list[list[Any]]) -> list[dict[str, Any]]:
    """One row per configuration (mean and spread over repeats and folds), best first
    (mlplab.status.rank). Every number is the runs' result (mlplab.status): the weights
    each run ends with, exactly what `runs`, `show` and the API report for them.

    results[i] are the RunResults of configs[i]'s experiments.
    """
    rows = []
    for config, runs in zip(configs, results):
        row: dict[str, Any] = {"values": config.values, "runs": [r.run_id for r in runs]}
        for split in ("train", "val", "test"):
            mean, std = _mean_std([r.result.get(f"{split}_accuracy", math.nan) for r in runs])
            row[f"{split}_accuracy"], row[f"{split}_accuracy_std"] = mean, std
        row["val_loss"] = _mean_std([r.result.get("val_loss", math.nan) for r in runs])[0]
        row["result_epoch"] = _mean_std([r.result.get("epoch") or math.nan for r in runs])[0]
        row["best_epoch"] = _mean_std([r.best_epoch or math.nan for r in runs])[0]
        row["status"] = combined([r.status for r in runs])
        row["seconds"] = float(sum(r.seconds for r in runs))
        row["params"] = runs[0].params
        rows.append(row)
    return rank(rows)[0]


def noise_note(rows: list[dict[str, Any]]) -> str | None:
    """Is the best configuration ahead by more than the seed noise? (repeats > 1 only)"""
    key = rank(rows)[1] if rows else "val_accuracy"
    if len(rows) < 2 or not rows[0][f"{key}_std"] or len(rows[0]["runs"]) < 2:
        return None
    best, second = rows[0], rows[1]
    gap = best[key] - second[key]
    noise = max(best[f"{key}_std"], second[f"{key}_std"])
    verdict = "larger than" if gap > 2 * noise else "within"
    return (f"best vs second: {key.replace('_', ' ').replace('val ', 'validation ')} gap {gap:.4f}, "
            f"seed spread {noise:.4f}: the difference is {verdict} the seed noise")
