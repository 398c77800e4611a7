"""The data checks' warnings (`run["warnings"]`, written by `mlplab.data`) that no finding explains yet.

A warning a finding already names (a cause of a stuck run, the explanation of saturated units)
is not repeated; every other one becomes a "data_check" warning of its own, with a suggestion.
"""
from __future__ import annotations

from .finding import Finding
from .reading import RunView


def data_checks(r: RunView, findings: list[Finding]) -> list[Finding]:
    """One finding per data-check warning that none of `findings` mentions."""
    used = {w for w in r.warnings if any(w.split(":")[0] in " ".join(f.causes) + f.explanation for f in findings)}
    return [Finding("data_check", "warning", f"Data check: {w.split(':')[0]}", None, {},
                    f"The data check says: {w}.", _suggestion(w))
            for w in r.warnings if w not in used]


def _suggestion(w: str) -> str:
    if "scale = 'none'" in w:
        return "--set data.scale=unit"
    if "imbalance" in w:
        return "look at per-class recall (mlplab show) rather than overall accuracy"
    if "shuffle" in w or "ordered" in w:
        return "shuffle the training rows before splitting (or --set data.validation_split=0)"
    return "check the data"
