"""A finding, and how findings write their numbers.

A `Finding` is what every rule and check returns: a stable code, a severity, the numbers the
rule saw (`evidence`), plain words for a student, and concrete changes to try (`fixes`, written
out as `suggestion`). It is one of two kinds:

    cause     what is wrong with the set-up: the learning rate, the initialization, an
              activation, the loss, the data's scale, regularization, the batch size, the
              order or the labels of the data. `explains` names the symptoms it explains and
              `score` says how well the evidence supports it (the best-supported cause first).
    symptom   what training did: diverged, stuck, over/underfitting, unstable, dead or
              saturated units, vanishing/exploding gradients or activations, and the run
              statuses (failed, lost, interrupted). `explained_by` names the causes that
              explain it, best first; `causes` says the same in words.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

SEVERITIES = ("error", "warning", "info")   # most severe first
KINDS = ("cause", "symptom")


@dataclass
class Finding:
    code: str                     # stable identifier, e.g. "lr_too_high", "diverged", "overfitting"
    severity: str                 # "error" | "warning" | "info"
    title: str                    # one line
    epoch: int | None             # where it starts (1-based training epoch; 0 = at initialization)
    evidence: dict[str, float]    # the numbers the rule saw
    explanation: str              # plain words
    suggestion: str               # the fixes in words: "--set train.learning_rate=0.001 (or ...)"
    causes: list[str] = field(default_factory=list)  # symptoms: the explaining causes in words, best first
    kind: str = "symptom"         # "cause" | "symptom"
    explains: list[str] = field(default_factory=list)       # causes: codes of the symptoms they explain
    explained_by: list[str] = field(default_factory=list)   # symptoms: codes of their causes, best first
    fixes: list[dict[str, Any]] = field(default_factory=list)  # concrete spec changes, best first
    score: float = 0.0            # causes: how well the evidence supports it (higher first)

    def __post_init__(self):
        # a number a rule could not measure (None, NaN) is not evidence: leave it out
        self.evidence = {k: v for k, v in self.evidence.items() if not _unknown(v)}

    @property
    def problem(self) -> bool:
        """An error or a warning: something to fix (an "info" is a note)."""
        return self.severity != "info"

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


def one_digit(x: float) -> float:
    """A learning rate or factor rounded to one significant digit (0.0347 -> 0.03)."""
    return float(f"{float(x):.1g}")
