"""The training doctor: plain-word findings about a stored run.

    findings = diagnose(store.get_run(run_id), stats)   # stats: the run's stats.json, or None
    findings = training.artifacts.load_findings(store, "last")   # the same, reading the store

Each rule looks at the data checks (`run["warnings"]`), the history and the
per-epoch statistics of `engine.probe`, and returns at most one `Finding`
with the numbers it saw (`evidence`), an explanation a student understands,
and a concrete spec change to try (`suggestion`). A healthy run gets no
warnings or errors (at most an "info"). Divergence and chance level come from
`analysis.status` (the rule that sets the run's status), so the doctor calls a run
diverged exactly when its status says so; lost and interrupted runs say so too.

The doctor is pure: functions of the run record and its statistics, never a Store.
Only the standard library and numpy are used: no Keras, no JAX, so `mlplab
show` and the dashboard stay fast. Read top-down:

    finding.py      Finding, SEVERITIES, how evidence and suggestions write numbers
    thresholds.py   every number a rule compares with, and where it comes from
    reading.py      RunView: the run record and stats.json as arrays and spec facts
    causes.py       the ranked likely causes that explain a diverged or stuck run
    rules.py        one function per rule, and RULES, their order
    data_checks.py  the data checks' warnings no finding explains
    __init__.py     diagnose: run the rules, keep what matters, most severe first
"""
from __future__ import annotations

from .finding import SEVERITIES, Finding
from .reading import RunView
from .data_checks import data_checks
from .rules import RULES, STATUS_RULES, failed

__all__ = ["Finding", "SEVERITIES", "diagnose"]


def diagnose(run: dict, stats: dict | None = None) -> list[Finding]:
    """Findings for a stored run (`Store.get_run`) and its statistics (stats.json), most severe first."""
    r = RunView(run, stats)
    failure = failed(r)
    if failure is not None:
        return [failure]
    findings = [f for rule in STATUS_RULES + RULES if (f := rule(r)) is not None]
    codes = {f.code for f in findings}
    if "diverged" in codes:
        # after a blow-up the other numbers describe garbage: keep what explains it
        findings = [f for f in findings if f.code in ("diverged", "data_check", "lost", "interrupted")]
    elif "stuck" in codes:
        findings = [f for f in findings if f.code not in ("underfitting",)]
    findings += data_checks(r, findings)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: order[f.severity])
