"""The report of a verified repair (`mlplab doctor RUN --fix`, training.repair trains it), read back by the
CLI, the API and the dashboard: the candidates, how they are judged, and why a run has nothing to repair.

The candidates are compared on the *validation* accuracy of their result (test accuracy only when the
run has no validation split; the report says which): the test rows stay for reporting. Of the candidates
that end ok or stopped and beat the original by more than noise (`helped`), the answer (`choose`) is
the most accurate one, unless another is within noise of it and simpler (changes fewer spec keys).
Noise is two standard errors of the difference of two accuracies on the same n rows,
2 sqrt((p1 (1 - p1) + p2 (1 - p2)) / n), and at least MIN_NOISE. A warning the answer still has is
reported with it ("leaves: ..."), it does not disqualify it: a fix that trains better with a warning
left beats a warning-free one that trains worse. A candidate that diverged or failed is never the
answer, nor one that is not better than the original beyond noise ("no candidate helped").
Each candidate is *improved* when it helped and *resolved* when it helped and the doctor finds no error
or warning left in it (a warning about the data file itself that the original had too, such as rows
ordered by class, does not count: no spec change can remove it).
The report is stored with the original run as repair.json (the latest repair).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..analysis.doctor.fixes import cli_text
from ..analysis.status import MIN_NOISE, noise
from ..store import Store, loads
from ..store.artifacts import REPAIR

CANDIDATES = 3        # how many fixes `mlplab doctor --fix` tries by default
ENDED_WELL = ("ok", "stopped")   # the statuses a candidate must end with to be the answer
MEASURES = {"val_accuracy": "validation accuracy", "test_accuracy": "test accuracy"}


@dataclass
class Candidate:
    fix: dict                      # dotted spec key -> value
    text: str                      # the fix as --set options (or ml.fit arguments)
    cause: str                     # the code of the finding it comes from
    run_id: str | None = None
    status: str | None = None
    test_accuracy: float = float("nan")
    problems: list[str] = field(default_factory=list)   # codes of the errors and warnings left
    resolved: bool = False         # it helped and left no error or warning
    improved: bool = False         # it helped: ended ok or stopped, better than the original beyond noise
    error: str | None = None       # why it could not be trained
    val_accuracy: float = float("nan")   # its result's (what candidates are compared on, with a validation split)


def helped(c: Candidate, before: float, rows: int | None, measure: str = "val_accuracy") -> bool:
    """The candidate ended ok or stopped and beat the original's `before` by more than noise."""
    p = getattr(c, measure)
    return (not c.error and c.status in ENDED_WELL and p is not None and math.isfinite(p)
            and p - before > noise(p, before, rows))


def choose(before: float, candidates, rows: int | None, measure: str = "val_accuracy") -> Candidate | None:
    """The answer among trained candidates: of those that helped (ended ok or stopped, better than `before`
    beyond noise), the most accurate on `measure`, unless another is within noise of it and simpler (fewer
    changed keys; among equally simple ones the more accurate, then the earlier). None when none helped.
    The errors or warnings a candidate leaves do not count here: the verdict reports them."""
    good = [c for c in candidates if helped(c, before, rows, measure)]
    if not good:
        return None
    top = max(good, key=lambda c: getattr(c, measure))
    near = [c for c in good if getattr(top, measure) - getattr(c, measure) <= noise(getattr(top, measure),
                                                                                    getattr(c, measure), rows)]
    return min(near, key=lambda c: (len(c.fix), -getattr(c, measure)))


@dataclass
class RepairReport:
    run_id: str
    status: str                    # the original run's
    test_accuracy: float
    problems: list[str]            # the original run's errors and warnings
    candidates: list[Candidate] = field(default_factory=list)
    seconds: float = 0.0           # wall time of training the candidates
    original_seconds: float | None = None   # the original run's training time, as stored
    note: str = ""                 # why nothing was tried, when nothing was
    val_accuracy: float = float("nan")      # the original run's result's
    measure: str = "test_accuracy"  # what the candidates are compared on: val_accuracy, or test_accuracy without
    rows: int | None = None         # a validation split; and on how many rows (the noise's n)
    chance: float = 0.0             # stands in for the original's accuracy when it has none (1 / classes)

    @property
    def before(self) -> float:
        """The original's accuracy on the measure the candidates are compared on (chance if it has none)."""
        v = getattr(self, self.measure)
        return float(v) if v is not None and math.isfinite(v) else self.chance

    @property
    def best(self) -> Candidate | None:
        """The answer (see `choose`), or None: no candidate helped."""
        return choose(self.before, self.candidates, self.rows, self.measure)

    @property
    def top(self) -> Candidate | None:
        """The most accurate candidate that helped (the answer unless a simpler one is within noise of it)."""
        good = [c for c in self.candidates if helped(c, self.before, self.rows, self.measure)]
        return max(good, key=lambda c: getattr(c, self.measure)) if good else None

    @property
    def measure_name(self) -> str:
        return MEASURES[self.measure] + ("" if self.measure == "val_accuracy" else " (the run has no validation split)")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["best"] = asdict(self.best) if self.best else None
        return d

    def _acc(self, c) -> str:
        """A candidate's (or the original's) accuracy on the measure, with its test accuracy beside it."""
        if self.measure == "test_accuracy":
            return f"test accuracy {_acc(c.test_accuracy)}"
        return f"validation accuracy {_acc(c.val_accuracy)} (test {_acc(c.test_accuracy)})"

    def verdict(self) -> str:
        if self.note:
            return self.note
        best, m = self.best, self.measure
        if best is None:
            if not any(c.status in ENDED_WELL and not c.error for c in self.candidates):
                return "no candidate helped: none ended ok or stopped"
            rows = f"on {self.rows} rows" if self.rows else "on rows of unknown number"
            return (f"no candidate helped: none beat the original's {self.measure_name} {_acc(self.before)} "
                    f"by more than noise (2 standard errors {rows}, at least {MIN_NOISE * 100:g} point)")
        after = getattr(best, m)
        line = (f"the answer: {best.text}: {MEASURES[m]} {_acc(self.before)} -> {_acc(after)}"
                + ("" if m == "test_accuracy" else f" (test {_acc(self.test_accuracy)} -> {_acc(best.test_accuracy)})")
                + (" (the run has no validation split)" if m == "test_accuracy" else "")
                + (f"; leaves: {', '.join(best.problems)}" if best.problems else "; no error or warning left"))
        top = self.top
        if top is not None and top is not best:
            line += (f"; simpler than {top.text} ({_acc(getattr(top, m))}), which is within noise "
                     f"({_acc(noise(getattr(top, m), after, self.rows))})")
        return line + f" (run {best.run_id})"

    def mark(self, c: Candidate) -> str:
        """One candidate's verdict in a word or three."""
        word = "resolved" if c.resolved else "improved" if c.improved else "did not help"
        return word + (" (the answer)" if c is self.best else "")

    def tried(self, fix: dict) -> str | None:
        """What the repair found of a finding's fix, to show beside it ("the repair's answer", "the repair tried
        it: did not help (diverged)"), or None when it was not tried or not judged."""
        c = next((c for c in self.candidates if c.fix == fix and c.status and not c.error), None)
        if c is None or c.status == "interrupted":
            return None
        if c is self.best:
            return "the repair's answer"
        return (f"the repair tried it: {self.mark(c)}" + ("" if c.status in ENDED_WELL else f" ({c.status})"))

    def __str__(self) -> str:
        lines = [f"before: {self.status}, {self._acc(self)}, problems: {', '.join(self.problems) or 'none'}"]
        for c in self.candidates:
            lines.append(f"  {c.text}: " + (f"could not train ({c.error})" if c.error else
                         f"{c.status}, {self._acc(c)}, problems: {', '.join(c.problems) or 'none'} -> {self.mark(c)}"))
        return "\n".join(lines + [self.verdict()])


def _acc(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.4f}"


# The top two causes' first fixes together come before the top cause's alone when the second cause is about as well
# supported (its score at least PAIR_SHARE of the first's). On the oracle benchmark's seed 1 (bench/doctor_oracle.py,
# 600 runs), putting every such pair first made the first fix right for 48 more runs and 23 fewer (of 380); with
# the second at 0.7 of the first or more, 43 more and 9 fewer; a pair with a symptom's own fix, 3 more and 12 fewer.
PAIR_SHARE = 0.7


def candidate_fixes(findings, limit: int = CANDIDATES) -> list[tuple[dict, str]]:
    """(fix, code) to try, best first: the top cause's first fix; it together with the next one (the second cause's
    first fix, else the first own fix of a symptom it explains) when they set different keys, first when the next
    is a cause about as well supported (PAIR_SHARE); that next one; the causes' alternatives; the fixes of
    symptoms no cause explains. Without repeats, at most `limit`."""
    problems = [f for f in findings if f.problem and f.fixes]
    causes = [f for f in problems if f.kind == "cause"]
    firsts = [(c.fixes[0], c.code) for c in causes]
    own = [(x, s.code) for s in problems if s.kind == "symptom" and s.explained_by for x in s.fixes
           if all(x not in c.fixes for c in causes)]
    alone = [(x, s.code) for s in problems if s.kind == "symptom" and not s.explained_by for x in s.fixes]
    ranked = (firsts + own + alone)[:1]
    following = (firsts[1:] + own + alone)[:1]
    if ranked and following and not set(ranked[0][0]) & set(following[0][0]):
        pair = ({**ranked[0][0], **following[0][0]}, f"{ranked[0][1]}+{following[0][1]}")
        close = len(causes) > 1 and causes[1].score >= PAIR_SHARE * causes[0].score
        ranked.insert(0 if close else 1, pair)
    ranked += firsts[1:] + [(x, c.code) for c in causes for x in c.fixes[1:]] + own + alone
    out: list[tuple[dict, str]] = []
    for fix, code in ranked:
        if fix not in [x for x, _ in out]:
            out.append((fix, code))
    return out[:limit]


def first_fix(findings) -> str | None:
    """The first fix to try (`candidate_fixes`' first), as `--set` options: what `mlplab doctor` and the run page
    show, and what `--fix` trains first. None when there is nothing to try."""
    fixes = candidate_fixes(findings, 1)
    return cli_text(fixes[0][0]) if fixes else None


# data-file warnings no spec change can remove: still there after a repair, they do not count against it
DATA_FILE_CODES = ("ordered_data", "class_imbalance", "data_check")


def judge(c: Candidate, report: RepairReport) -> None:
    """Whether a trained candidate improved on the original, and resolved it (improved, no problem left)."""
    c.problems = [p for p in c.problems if not (p in DATA_FILE_CODES and p in report.problems)]
    c.improved = helped(c, report.before, report.rows, report.measure)
    c.resolved = c.improved and not c.problems


# why there is nothing to repair, by the run's status: it has no finished training to compare fixes with
NOT_ENDED = {
    "running": "the run is still running; repair it when it has ended",
    "failed": "the run failed with an error: fix the error and run it again; there is no training to repair",
    "lost": "the run was lost (its process ended before it finished): run it again; there is no training to repair",
    "interrupted": "the run was interrupted before it finished: run it again; a repair compares fixes with a "
                   "finished run",
}


def declined(run: dict, findings) -> str | None:
    """Why a run has nothing `repair` could train (the report's note, one line), or None: it has fixes to try.
    The dashboard offers its Repair button, and `mlplab doctor` its --fix hint, by the same answer."""
    keras_model = (run.get("summary") or {}).get("keras_model")
    top = next((f for f in findings if f.problem), None)
    if run["status"] in NOT_ENDED:
        return NOT_ENDED[run["status"]]
    if top is None:
        return "nothing to repair: the doctor finds no error or warning"
    if keras_model and not keras_model.get("spec_is_exact"):
        return ("trained with ml.fit on your own Keras model, which mlplab cannot rebuild from its spec: "
                "apply the suggestions in Python")
    if top.kind == "cause" and not top.fixes:
        return f"no fix to try: the most likely cause ({top.code}) needs a change outside the spec: {top.suggestion}"
    if not candidate_fixes(findings):
        return "no fix to try: the findings need a change outside the spec (see their suggestions)"
    return None


def number(v) -> float:
    return float("nan") if v is None else float(v)


def load_report(store: Store, run_id: str) -> RepairReport | None:
    """The run's latest repair (repair.json) as a RepairReport, its candidates judged by the current rule;
    None when there is none or it cannot be read. (A report written before candidates were compared on
    validation accuracy has no `measure`: it is judged on test accuracy.)"""
    try:
        doc = loads((store.artifacts / run_id / REPAIR).read_text())
        doc.pop("best", None)
        numbers = ("test_accuracy", "val_accuracy")
        candidates = [Candidate(**{**c, **{k: number(c.get(k)) for k in numbers}})
                      for c in doc.pop("candidates", [])]
        report = RepairReport(**{**doc, **{k: number(doc.get(k)) for k in numbers}}, candidates=candidates)
        if report.measure not in MEASURES:
            return None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    for c in report.candidates:
        judge(c, report)
    return report
