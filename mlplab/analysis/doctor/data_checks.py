"""The data checks' warnings (`run["warnings"]`, written by `mlplab.data`) as causes, by their codes
(`data.prepare.WARNING_CODES`, stored in the run's summary), never by their wording.

Unscaled inputs, inputs scaled twice, rows ordered by class, class imbalance: each warning
becomes a cause finding with the symptoms it can explain and a fix; any other warning a
"data_check" finding of its own. "The validation rows hold no class X" is believed only when a
random split would almost never miss those classes (`ordered_by_class`).
"""
from __future__ import annotations

import math

from .causes import SIGNAL_SYMPTOMS, UNSCALED_SYMPTOMS, cause
from .finding import Finding, rounded
from .reading import RunView
from .thresholds import ORDERED_CHANCE, UNSCALED_SCORE


def chance_of_missing(r: RunView) -> float:
    """How likely a random validation split of this size misses every class it missed (1.0 when unknown)."""
    train, val = r.class_counts.get("train") or [], r.class_counts.get("val") or []
    n_val, total = sum(val), sum(train) + sum(val)
    if not train or len(val) != len(train) or not n_val or not total:
        return 1.0
    log_p = sum(n_val * math.log1p(-min((t + v) / total, 1 - 1e-12)) for t, v in zip(train, val) if v == 0)
    return math.exp(log_p)


def _one(r: RunView, code: str, w: str) -> Finding | None:
    head = w.split(":")[0]
    if code == "unscaled_inputs":
        return cause(r, "unscaled_inputs", f"the inputs are not scaled ({head})", "Large inputs push units into their "
                     "flat regions and make the gradients badly sized (UMLAUT's check: inputs outside [-1, 1]).",
                     [{"data.scale": "unit"}], {}, UNSCALED_SCORE,
                     UNSCALED_SYMPTOMS,
                     title="Inputs not scaled")
    if code in ("inputs_tiny", "inputs_all_zero"):
        return cause(r, "inputs_scaled_twice", f"the inputs are tiny ({head}): they were probably scaled twice, so the "
                     "network sees almost nothing", "Scale the raw data once.", [{"data.scale": "unit"}], {}, 3.5,
                     SIGNAL_SYMPTOMS, note="scale the raw data only once", title="Inputs scaled twice")
    if code == "validation_class_missing":
        chance = chance_of_missing(r)
        if chance > ORDERED_CHANCE:
            return None   # a random split misses a class this often: no evidence of order
        return cause(r, "ordered_data", f"the training rows are ordered by class ({head})",
                     "The validation split takes the last rows, so it holds a few classes only and its numbers "
                     "(and early stopping on them) say little" + ("; without shuffling, every epoch also ends on "
                                                                   "the same classes" if not r.shuffle else "") + ".",
                     [{"train.shuffle": True}], {"chance_of_split_by_luck": rounded(chance)}, 3.5,
                     ("unstable", "underfitting", "overfitting", "stuck"),
                     note="shuffle the rows of the data file before splitting", title="Data ordered by class",
                     severity="warning")   # the validation numbers say little, however training went
    if code == "class_imbalance":
        return cause(r, "class_imbalance", f"the classes are imbalanced ({w.split(';')[0]})", "Overall accuracy hides "
                     "how the small classes fare.", [], {}, 2.0, ("underfitting",),
                     note="look at per-class recall (mlplab show) rather than overall accuracy",
                     title="Class imbalance")
    return Finding("data_check", "warning", f"Data check: {head}", None, {}, f"The data check says: {w}.",
                   "check the data", [w], kind="cause")


def data_findings(r: RunView) -> list[Finding]:
    """One finding per data-check warning (none for a class missing from a split by chance)."""
    return [f for code, w in r.data_warnings if (f := _one(r, code, w)) is not None]
