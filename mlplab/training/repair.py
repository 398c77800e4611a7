"""Verified repair: train the doctor's top candidate fixes together and answer with the one that works best.

    report = repair(store, "last")            # mlplab doctor RUN --fix, ml.load_run(...).repair()
    report.best                               # the answer: the candidate to use, or None (none helped)
    print(report)                             # before/after for every candidate, then the verdict

The candidates are the first fixes of the run's ranked findings (causes first), each applied to
the run's own resolved spec: the same seed, data and epochs, so only the fix differs. A candidate that
runs the original's very programs (the same model, optimizer and shapes: a new learning rate, initializer
or input scaling) trains alone, so the compilation cache that holds the original's programs skips
compiling; the others train together (one population per structure). They are stored as
ordinary runs named "repair of <id>: <fix>" with `summary["repair_of"]` pointing back; the report
is stored with the original run as `repair.json` (the latest repair), which the run page and
`mlplab doctor RUN` show first.

How the candidates are judged, and the report: stored.repair_report.
"""
from __future__ import annotations

import copy
import time
from typing import Callable

from ..analysis.doctor import diagnose
from ..analysis.doctor.fixes import cli_text, python_text
from ..errors import BadInput
from ..spec import set_dotted, stored_experiment
from ..store import Store
from ..store.artifacts import REPAIR
from ..stored import load_findings, load_stats
from ..stored.repair_report import CANDIDATES, Candidate, RepairReport, candidate_fixes, declined, judge, number


def shares_programs(original, experiment) -> bool:   # population and runner import JAX: only when repairing
    from .population import shares_programs
    return shares_programs(original, experiment)


def run_experiments(experiments, store, **kw):
    from .runner import run_experiments
    return run_experiments(experiments, store, **kw)


def _experiment(run: dict, fix: dict, text: str):
    raw = copy.deepcopy(run["spec"])
    raw.pop("sweep", None)
    for key, value in fix.items():
        set_dotted(raw, key, value)
    raw["name"] = f"repair of {run['id']}: {text}"
    return stored_experiment(raw)


def _train(original, experiments: list, repairs: list[dict], store: Store, on_epoch, on_start) -> list:
    """Train the candidates: those that run the original's very programs alone, each alone (the compilation
    cache holds them since the original ran: nothing to compile), the others together (one program per
    structure). Each run's summary gets its `repair_of` (`repairs`, in the candidates' order) as it is
    created. Their results in the candidates' order."""
    shared = [shares_programs(original, e) for e in experiments]
    rest = [e for e, s in zip(experiments, shared) if not s]
    batches = [[e] for e, s in zip(experiments, shared) if s] + ([rest] if rest else [])
    repair_of = {id(e): {"repair_of": r} for e, r in zip(experiments, repairs)}
    results = []
    for batch in batches:
        results += run_experiments(batch, store, on_epoch=on_epoch, on_start=on_start,
                                   summaries=[repair_of[id(e)] for e in batch])
        if any(r.status == "interrupted" for r in results):
            break   # Ctrl-C: train nothing more
    order = {id(e): i for i, e in enumerate(experiments)}
    return sorted(results, key=lambda r: order[id(r.experiment)])


def _measure(run: dict) -> tuple[str, int | None]:
    """What a run's candidates are compared on, and on how many rows: validation accuracy on its validation
    rows, or test accuracy on its test rows when it has no validation split."""
    data = (run.get("summary") or {}).get("data") or {}
    counts = data.get("class_counts") or {}

    def rows(split: str) -> int | None:
        n = sum(counts[split]) if counts.get(split) else data.get(f"n_{split}")
        return int(n) if n else None
    result = (run.get("summary") or {}).get("result") or {}
    if rows("val") or result.get("val_accuracy") is not None:
        return "val_accuracy", rows("val")
    return "test_accuracy", rows("test")


def repair(store: Store, run_ref: str, *, candidates: int = CANDIDATES,
           on_epoch: Callable | None = None, on_start: Callable | None = None) -> RepairReport:
    """Train the top `candidates` fixes of a stored run's findings as repairs of it, and judge each."""
    run = store.get_run(run_ref)
    if run["status"] == "running":
        raise BadInput(f"run {run['id']}: still running; repair it when it has ended")
    keras_model = (run.get("summary") or {}).get("keras_model")
    findings = diagnose(run, load_stats(store, run["id"]))
    measure, rows = _measure(run)
    classes = len(((run.get("summary") or {}).get("data") or {}).get("class_names") or [])
    report = RepairReport(run["id"], run["status"], number(run.get("test_accuracy")),
                          [f.code for f in findings if f.problem], original_seconds=run.get("seconds"),
                          val_accuracy=number(((run.get("summary") or {}).get("result") or {}).get("val_accuracy")),
                          measure=measure, rows=rows, chance=1 / classes if classes else 0.0)
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
        results = _train(_experiment(run, {}, "the original"), [e for _, e in trainable],
                         [{"run": run["id"], "fix": c.fix, "cause": c.cause} for c, _ in trainable], store, on_epoch,
                         on_start)
        report.seconds = time.perf_counter() - started
        if len(results) < len(trainable) or any(r.status == "interrupted" for r in results):
            raise KeyboardInterrupt   # stopped: nothing is judged, the last finished repair report stays
        for (c, _), result in zip(trainable, results):
            c.run_id, c.status, c.test_accuracy = result.run_id, result.status, float(result.test_accuracy)
            c.val_accuracy = number((result.result or {}).get("val_accuracy"))
            c.problems = [f.code for f in load_findings(store, result.run_id) if f.problem]
            judge(c, report)
        store.write_json(run["id"], REPAIR, report.to_dict())   # the latest repair: the run page, mlplab doctor
    return report
