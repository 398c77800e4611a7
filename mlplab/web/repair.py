"""A run page's Repair: `mlplab doctor RUN --fix` as a dashboard job, and the stored report it leaves.

POST /runs/{id}/repair queues the repair in the one-job-at-a-time queue (web/jobs.py; stoppable as
any job). It trains the doctor's top candidate fixes on the run's own spec (training/repair.py) and
stores the report as the run's `repair.json`, which the run page shows: each candidate's change,
test accuracy before and after and verdict, and the fix that resolved the problem, or that none did.
"""
from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ..errors import BadInput
from ..store import Store
from ..training.repair import Candidate, RepairReport, declined
from .common import Dashboard, Web, finite, json_response
from .jobs import job_doc

router = APIRouter()
REPORT = "repair.json"


def stored_report(store: Store, run_id: str) -> RepairReport | None:
    """The run's latest repair (repair.json) as a RepairReport; None when there is none or it cannot be read."""
    try:
        doc = json.loads((store.artifacts / run_id / REPORT).read_text())
        doc.pop("best", None)

        def number(v) -> float:
            return float("nan") if v is None else float(v)
        candidates = [Candidate(**{**c, "test_accuracy": number(c.get("test_accuracy"))})
                      for c in doc.pop("candidates", [])]
        return RepairReport(**{**doc, "test_accuracy": number(doc.get("test_accuracy"))}, candidates=candidates)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def unfinished(c: Candidate) -> bool:
    """A candidate the repair's Stop cut short (interrupted) or never started: it was not judged."""
    return not c.error and (c.status == "interrupted" or c.status is None)


def verdict_of(c: Candidate) -> str:
    if c.error:
        return "could not train"
    if unfinished(c):
        return "stopped before it finished" if c.run_id else "not trained: the repair was stopped"
    return "resolved" if c.resolved else "improved" if c.improved else "did not help"


def verdict_text(report: RepairReport) -> str:
    """The report's verdict; a repair stopped before its candidates finished judges nothing."""
    if any(unfinished(c) for c in report.candidates) and report.best is None:
        return "the repair was stopped before its candidates finished: nothing was judged; repair again for a verdict"
    return report.verdict()


def page_context(web: Dashboard, run: dict, findings) -> dict:
    """What the run page's Repair section shows."""
    report = stored_report(web.store, run["id"])
    rows = []
    if report is not None:
        best = report.best
        rows = [{"text": c.text, "cause": c.cause, "run_id": c.run_id, "status": c.status, "error": c.error,
                 "before": finite(report.test_accuracy), "after": finite(c.test_accuracy),
                 "problems": c.problems, "verdict": verdict_of(c), "best": best is not None and c is best}
                for c in report.candidates]
    return {"repair": report, "repair_rows": rows, "repair_verdict": verdict_text(report) if report else None,
            "repair_job": web.jobs.repair_job(run["id"]),
            "repairable": declined(run, findings) is None, "repair_of": (run.get("summary") or {}).get("repair_of")}


@router.post("/runs/{run_id}/repair")
def start_repair(request: Request, run_id: str, web: Web):
    from ..analysis.doctor import diagnose
    from ..training.artifacts import load_stats
    run = web.get_run(run_id)
    reason = declined(run, diagnose(run, load_stats(web.store, run["id"])) if run["status"] != "running" else [])
    if reason:
        raise BadInput(f"repair of run {run['id']}: {reason}")
    job = web.jobs.submit_repair(run["id"], f"repair of {run['name']}")
    if "application/json" in request.headers.get("accept", ""):
        return json_response(job_doc(web, job))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
