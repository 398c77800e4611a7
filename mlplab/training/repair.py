"""Verified repair: train the doctor's top candidate fixes together and report which one works.

    report = repair(store, "last")            # mlplab doctor RUN --fix, ml.load_run(...).repair()
    report.best                               # the candidate that resolved the problem, or None
    print(report)                             # before/after for every candidate

The candidates are the first fixes of the run's ranked findings (causes first), each applied to
the run's own resolved spec: the same seed, data and epochs, so only the fix differs. A candidate that
runs the original's very programs (the same model, optimizer and shapes: a new learning rate, initializer
or input scaling) trains alone, so the compilation cache that holds the original's programs skips
compiling; the others train together (one population per structure). They are stored as
ordinary runs named "repair of <id>: <fix>" with `summary["repair_of"]` pointing back; the report
is stored with the original run as `repair.json` (the latest repair).

A candidate *resolves* the problem when its run ends ok or stopped, the doctor finds no error or
warning in it (a warning about the data file itself that the original had too, such as rows
ordered by class, does not count: no spec change can remove it), and its test accuracy is not
worse than the original's. It *improved* things when
its test accuracy rose by at least IMPROVED. The report's answer is the resolving candidate with
the best test accuracy; a candidate that did not help is never presented as the answer.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from ..analysis.doctor import diagnose
from ..analysis.doctor.fixes import cli_text, python_text
from ..errors import BadInput
from ..spec import set_dotted, stored_experiment
from ..store import Store
from .artifacts import load_findings, load_stats
from .population import shares_programs
from .runner import run_experiments

IMPROVED = 0.01       # test accuracy points a candidate must gain to count as an improvement
CANDIDATES = 3        # how many fixes `mlplab doctor --fix` tries by default


@dataclass
class Candidate:
    fix: dict                      # dotted spec key -> value
    text: str                      # the fix as --set options (or ml.fit arguments)
    cause: str                     # the code of the finding it comes from
    run_id: str | None = None
    status: str | None = None
    test_accuracy: float = float("nan")
    problems: list[str] = field(default_factory=list)   # codes of the errors and warnings left
    resolved: bool = False
    improved: bool = False
    error: str | None = None       # why it could not be trained


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

    @property
    def best(self) -> Candidate | None:
        """The resolving candidate with the best test accuracy, or None."""
        good = [c for c in self.candidates if c.resolved]   # the simpler fix unless the other is clearly better
        return max(good, key=lambda c: c.test_accuracy - 0.005 * len(c.fix)) if good else None

    @property
    def most_improved(self) -> Candidate | None:
        better = [c for c in self.candidates if c.improved]
        return max(better, key=lambda c: c.test_accuracy) if better else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["best"] = asdict(self.best) if self.best else None
        return d

    def verdict(self) -> str:
        if self.note:
            return self.note
        if self.best:
            return (f"resolved by {self.best.text}: test accuracy {_acc(self.test_accuracy)} -> "
                    f"{_acc(self.best.test_accuracy)}, no error or warning left (run {self.best.run_id})")
        if self.most_improved:
            c = self.most_improved
            return (f"no candidate resolved it; {c.text} improved test accuracy {_acc(self.test_accuracy)} -> "
                    f"{_acc(c.test_accuracy)} but leaves {', '.join(c.problems) or 'a worse status'}")
        return "no candidate helped: none resolved the problem or improved the test accuracy"

    def __str__(self) -> str:
        lines = [f"before: {self.status}, test accuracy {_acc(self.test_accuracy)}, "
                 f"problems: {', '.join(self.problems) or 'none'}"]
        for c in self.candidates:
            mark = "resolved" if c.resolved else "improved" if c.improved else "did not help"
            lines.append(f"  {c.text}: " + (f"could not train ({c.error})" if c.error else
                         f"{c.status}, test accuracy {_acc(c.test_accuracy)}, problems: "
                         f"{', '.join(c.problems) or 'none'} -> {mark}"))
        return "\n".join(lines + [self.verdict()])


def _acc(v: float) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.4f}"


def candidate_fixes(findings, limit: int = CANDIDATES) -> list[tuple[dict, str]]:
    """(fix, code) to try, best first: the top cause's first fix; it together with the next one (the second cause's
    first fix, else the first own fix of a symptom it explains) when they set different keys; that next one; the
    causes' alternatives; the fixes of symptoms no cause explains. Without repeats, at most `limit`."""
    problems = [f for f in findings if f.problem and f.fixes]
    causes = [f for f in problems if f.kind == "cause"]
    firsts = [(c.fixes[0], c.code) for c in causes]
    own = [(x, s.code) for s in problems if s.kind == "symptom" and s.explained_by for x in s.fixes
           if all(x not in c.fixes for c in causes)]
    alone = [(x, s.code) for s in problems if s.kind == "symptom" and not s.explained_by for x in s.fixes]
    ranked = (firsts + own + alone)[:1]
    following = (firsts[1:] + own + alone)[:1]
    if ranked and following and not set(ranked[0][0]) & set(following[0][0]):
        ranked.append(({**ranked[0][0], **following[0][0]}, f"{ranked[0][1]}+{following[0][1]}"))
    ranked += firsts[1:] + [(x, c.code) for c in causes for x in c.fixes[1:]] + own + alone
    out: list[tuple[dict, str]] = []
    for fix, code in ranked:
        if fix not in [x for x, _ in out]:
            out.append((fix, code))
    return out[:limit]


def _experiment(run: dict, fix: dict, text: str):
    raw = copy.deepcopy(run["spec"])
    raw.pop("sweep", None)
    for key, value in fix.items():
        set_dotted(raw, key, value)
    raw["name"] = f"repair of {run['id']}: {text}"
    return stored_experiment(raw)


def _train(original, experiments: list, store: Store, on_epoch, on_start) -> list:
    """Train the candidates: those that run the original's very programs alone, each alone (the compilation
    cache holds them since the original ran: nothing to compile), the others together (one program per
    structure). Their results in the candidates' order."""
    shared = [shares_programs(original, e) for e in experiments]
    rest = [e for e, s in zip(experiments, shared) if not s]
    batches = [[e] for e, s in zip(experiments, shared) if s] + ([rest] if rest else [])
    results = []
    for batch in batches:
        results += run_experiments(batch, store, on_epoch=on_epoch, on_start=on_start)
        if any(r.status == "interrupted" for r in results):
            break   # Ctrl-C: train nothing more
    order = {id(e): i for i, e in enumerate(experiments)}
    return sorted(results, key=lambda r: order[id(r.experiment)])


def _link(store: Store, run_id: str, repair_of: dict) -> None:
    """Record in the candidate run's summary which run and fix it repairs."""
    r = store.get_run(run_id)
    store.finish_run(run_id, status=r["status"], epochs_run=r.get("epochs_run") or 0, best_epoch=r.get("best_epoch"),
                     seconds=r.get("seconds") or 0.0, test_loss=r.get("test_loss"), test_accuracy=r.get("test_accuracy"),
                     params=r.get("params"), warnings=r.get("warnings") or [],
                     summary={**(r.get("summary") or {}), "repair_of": repair_of}, error=r.get("error"))


# data-file warnings no spec change can remove: still there after a repair, they do not count against it
DATA_FILE_CODES = ("ordered_data", "class_imbalance", "data_check")


def _judge(c: Candidate, report: RepairReport) -> None:
    before = report.test_accuracy
    c.problems = [p for p in c.problems if not (p in DATA_FILE_CODES and p in report.problems)]
    ok = c.status in ("ok", "stopped")
    not_worse = not math.isfinite(before) or (math.isfinite(c.test_accuracy) and c.test_accuracy >= before)
    c.resolved = ok and not c.problems and not_worse
    c.improved = ok and math.isfinite(c.test_accuracy) and (not math.isfinite(before) or c.test_accuracy >= before + IMPROVED)


def declined(run: dict, findings) -> str | None:
    """Why a run has nothing `repair` could train (the report's note), or None: it has fixes to try.
    The dashboard offers its Repair button by the same answer."""
    keras_model = (run.get("summary") or {}).get("keras_model")
    top = next((f for f in findings if f.problem), None)
    if run["status"] == "running":
        return "the run is still running; repair it when it has ended"
    if run["status"] == "failed":
        return "the run failed with an error: fix the error, there is no training to repair"
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


def repair(store: Store, run_ref: str, *, candidates: int = CANDIDATES,
           on_epoch: Callable | None = None, on_start: Callable | None = None) -> RepairReport:
    """Train the top `candidates` fixes of a stored run's findings as repairs of it, and judge each."""
    run = store.get_run(run_ref)
    if run["status"] == "running":
        raise BadInput(f"run {run['id']}: still running; repair it when it has ended")
    keras_model = (run.get("summary") or {}).get("keras_model")
    findings = diagnose(run, load_stats(store, run["id"]))
    test = run.get("test_accuracy")
    report = RepairReport(run["id"], run["status"], float("nan") if test is None else float(test),
                          [f.code for f in findings if f.problem], original_seconds=run.get("seconds"))
    report.note = declined(run, findings) or ""
    fixes = [] if report.note else candidate_fixes(findings, candidates)
    text = python_text if keras_model else cli_text
    report.candidates = [Candidate(fix, text(fix), code) for fix, code in fixes]
    trainable = []
    for c in report.candidates:
        try:
            trainable.append((c, _experiment(run, c.fix, c.text)))
        except BadInput as e:
            c.error = str(e)
    if trainable:
        started = time.perf_counter()
        results = _train(_experiment(run, {}, "the original"), [e for _, e in trainable], store, on_epoch, on_start)
        report.seconds = time.perf_counter() - started
        for (c, _), result in zip(trainable, results):
            _link(store, result.run_id, {"run": run["id"], "fix": c.fix, "cause": c.cause})
        if len(results) < len(trainable) or any(r.status == "interrupted" for r in results):
            raise KeyboardInterrupt   # stopped: nothing is judged, the last finished repair report stays
        for (c, _), result in zip(trainable, results):
            c.run_id, c.status, c.test_accuracy = result.run_id, result.status, float(result.test_accuracy)
            c.problems = [f.code for f in load_findings(store, result.run_id) if f.problem]
            _judge(c, report)
        store.write_json(run["id"], "repair.json", report.to_dict())   # the latest repair, for the dashboard
    return report
