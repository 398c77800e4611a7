"""A finding, and how findings write their numbers.

A `Finding` is what every rule returns: a stable code, a severity, the numbers the rule
saw (`evidence`), plain words for a student, and a concrete spec change to try.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SEVERITIES = ("error", "warning", "info")   # most severe first: the order `diagnose` lists findings in


@dataclass
class Finding:
    code: str                     # stable identifier, e.g. "diverged", "stuck", "overfitting"
    severity: str                 # "error" | "warning" | "info"
    title: str                    # one line
    epoch: int | None             # where it starts (1-based training epoch; 0 = at initialization)
    evidence: dict[str, float]    # the numbers the rule saw
    explanation: str              # plain words
    suggestion: str               # a concrete spec change, e.g. "--set train.learning_rate=0.001"
    causes: list[str] = field(default_factory=list)  # ranked likely causes (diverged, stuck)

    def __post_init__(self):
        # a number a rule could not measure (None, NaN) is not evidence: leave it out
        self.evidence = {k: v for k, v in self.evidence.items() if not _unknown(v)}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evidence"] = {k: _plain(v) for k, v in self.evidence.items()}
        return d


def _unknown(v: Any) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def _plain(v: Any) -> Any:
    """A JSON-ready evidence value (infinities spelled out)."""
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f if math.isfinite(f) else ("NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity"))


# ------------------------------------------------------------------ numbers in evidence and words

def rounded(x: float, digits: int = 4) -> float:
    """Round for evidence (keeps NaN/inf)."""
    x = float(x)
    if not math.isfinite(x) or x == 0:
        return x
    return float(f"{x:.{digits}g}")


def fmt(x: float) -> str:
    """A number in a sentence: three significant digits."""
    return f"{x:.3g}"


def lr_set(value: float) -> str:
    """The `--set` that changes the learning rate to `value`, rounded to one significant digit."""
    return f"--set train.learning_rate={float(f'{value:.1g}'):g}"
