"""Causes before symptoms: link each symptom to the causes that explain it, score and order them.

A cause explains a symptom when the symptom's code is among those it can explain and the
evidence allows it (units dead from initialization were not killed by the learning rate). Its
score is its base score plus EXPLAINS_ERROR for each error and EXPLAINS_WARNING for each warning
it explains; its severity that of the worst symptom it explains (at least its own). A cause seen
only in the statistics that explains nothing is dropped; a configuration or data check that
explains nothing stays, as a note. A symptom gets its causes in words (best first), their
evidence, and the best cause's fixes before its own; a diverged or stuck run with no cause in
sight gets a fallback cause, so it always says what to try.

The order: the run's status (failed, lost, interrupted) first, then by severity, causes before
symptoms, the better-supported cause first.
"""
from __future__ import annotations

from .causes import cause, lower_lr
from .finding import SEVERITIES, Finding, fmt
from .reading import RunView
from .thresholds import EXPLAINS_ERROR, EXPLAINS_WARNING

STATUS_CODES = ("failed", "lost", "interrupted")
WEIGHT = {"error": EXPLAINS_ERROR, "warning": EXPLAINS_WARNING, "info": 0.0}
STEP_CAUSES = ("lr_too_high", "batch_too_small")


def plausible(c: Finding, s: Finding) -> bool:
    """Does cause `c` explain symptom `s`, and does the evidence allow it? A cause of underfitting or of a
    stuck run explains a low accuracy too."""
    if s.code not in c.explains and not (s.code == "low_accuracy" and {"underfitting", "stuck"} & set(c.explains)):
        return False
    if (c.code in STEP_CAUSES and s.code == "dead_units"
            and s.evidence.get("dead_fraction_at_init", 0) >= s.evidence.get("dead_fraction", 1) / 2):
        return False   # units dead at initialization: no step killed them
    if c.code in STEP_CAUSES and s.code == "exploding_activations" and s.epoch == 0:
        return False   # exploded before the first step
    return True


def merged(causes: list[Finding]) -> list[Finding]:
    """One finding per cause code: the best-supported one, knowing every symptom either could explain."""
    by: dict[str, Finding] = {}
    for c in causes:
        old = by.get(c.code)
        if old is None:
            by[c.code] = c
            continue
        best, other = (c, old) if c.score >= old.score else (old, c)   # a tie: the later (observed) one
        best.explains = list(dict.fromkeys(best.explains + other.explains))
        best.evidence = {**other.evidence, **best.evidence}
        if SEVERITIES.index(other.severity) < SEVERITIES.index(best.severity):
            best.severity = other.severity
        by[c.code] = best
    return list(by.values())


def fallback(r: RunView, s: Finding) -> Finding | None:
    """What to try when nothing explains a diverged or stuck run."""
    if s.code == "diverged":
        return cause(r, "lr_too_high", f"the learning rate ({fmt(r.lr)}) may be too high for {r.optimizer} on this "
                     "model", "Nothing else in the statistics explains the blow-up.", lower_lr(r),
                     {"learning_rate": r.lr}, 1.0, ("diverged",), title=f"Learning rate {fmt(r.lr)} may be too high")
    if s.code == "stuck":
        return cause(r, "unknown", "no single cause stands out in the statistics", "Check that the labels match the "
                     "inputs; a standard set-up (Adam at 0.001, ReLU with He initialization) is the next thing to try.",
                     [{"train.optimizer": "adam", "train.learning_rate": 0.001},
                      {"model.activation": "relu", "model.init": "he_normal"}, {"model.batchnorm": True}],
                     {}, 0.5, ("stuck",), note="check that the labels match the inputs", title="No clear cause")
    return None


def _explain(s: Finding, by: list[Finding]) -> None:
    s.explained_by = [c.code for c in by]
    s.causes = [c.causes[0] for c in by if c.causes]
    for c in by:
        s.evidence = {**c.evidence, **s.evidence}
    top = by[0]
    s.explanation += f" Most likely cause: {s.causes[0]}." + (
        " Also possible: " + "; ".join(s.causes[1:3]) + "." if len(s.causes) > 1 else "")
    s.fixes = top.fixes + [f for f in s.fixes if f not in top.fixes]
    s.suggestion = top.suggestion or s.suggestion


def link(r: RunView, symptoms: list[Finding], standing: list[Finding], observed: list[Finding]) -> list[Finding]:
    """Link causes and symptoms (in place); returns the causes worth reporting."""
    stays = {c.code for c in standing}
    causes = merged(standing + observed)
    for s in symptoms:
        if s.code in ("diverged", "stuck") and not any(plausible(c, s) for c in causes):
            if (extra := fallback(r, s)) is not None:
                causes = merged(causes + [extra])
    for c in causes:
        explained = [s for s in symptoms if plausible(c, s)]
        c.explains = list(dict.fromkeys(s.code for s in explained))
        c.score += sum(WEIGHT[s.severity] for s in explained)
        worst = min([SEVERITIES.index(c.severity)] + [SEVERITIES.index(s.severity) for s in explained])
        c.severity = SEVERITIES[worst]
    kept = [c for c in causes if c.explains or c.code in stays or c.severity != "info"]
    for s in symptoms:
        by = sorted((c for c in kept if s.code in c.explains), key=lambda c: -c.score)
        if by:
            _explain(s, by)
    return kept


def ordered(findings: list[Finding]) -> list[Finding]:
    """Status first; then by severity, causes before symptoms, better-supported causes first."""
    def key(item):
        i, f = item
        return (f.code not in STATUS_CODES, SEVERITIES.index(f.severity), f.kind != "cause", -f.score, i)
    return [f for _, f in sorted(enumerate(findings), key=key)]
