"""A run page's Repair: `mlplab doctor RUN --fix` as a dashboard job, and the stored report it leaves.

POST /runs/{id}/repair queues the repair in the one-job-at-a-time queue (web/jobs.py; stoppable as
any job). It trains the doctor's top candidate fixes on the run's own spec (training/repair.py) and
stores the report as the run's `repair.json`, which the run page shows: first, above the findings, the
fix the repair answered with (or that none helped), each finding's fix that the repair tried marked with
what it did; then each candidate's change, accuracy before and after, what it leaves and its verdict.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ..errors import BadInput
from ..stored.repair_report import MEASURES, Candidate, RepairReport, declined, first_fix, load_report
from .common import Dashboard, Web, finite, json_response
from .live import job_doc

router = APIRouter()


def unfinished(c: Candidate) -> bool:
    """A candidate the repair's Stop cut short (interrupted) or never started: it was not judged."""
    return not c.error and (c.status == "interrupted" or c.status is None)


def verdict_of(report: RepairReport, c: Candidate) -> str:
    if c.error:
        return "could not train"
    if unfinished(c):
        return "stopped before it finished" if c.run_id else "not trained: the repair was stopped"
    return report.mark(c)


def stopped(report: RepairReport) -> bool:
    """A repair stopped before its candidates finished: it judged nothing."""
    return any(unfinished(c) for c in report.candidates) and report.best is None


def verdict_text(report: RepairReport) -> str:
    """The report's verdict; a repair stopped before its candidates finished judges nothing."""
    if stopped(report):
        return "the repair was stopped before its candidates finished: nothing was judged; repair again for a verdict"
    return report.verdict()


def tried(report: RepairReport | None, findings) -> list[str | None]:
    """For each finding, what the repair found of its first fix when it tried it, else None: the run page
    marks the finding's suggestion with it."""
    return [report.tried(f.fixes[0]) if report and f.fixes else None for f in findings]


def page_context(web: Dashboard, run: dict, findings) -> dict:
    """What the run page's Repair section, and the repair's line above the findings, show."""
    report = load_report(web.store, run["id"])
    rows = []
    if report is not None:
        best = report.best
        rows = [{"text": c.text, "cause": c.cause, "run_id": c.run_id, "status": c.status, "error": c.error,
                 "before": finite(report.before), "after": finite(getattr(c, report.measure)),
                 "test": finite(c.test_accuracy), "problems": c.problems, "verdict": verdict_of(report, c),
                 "best": best is not None and c is best}
                for c in report.candidates]
    answer = None
    if report is not None and not stopped(report):
        best = report.best
        answer = {"best": best, "measure": MEASURES[report.measure], "before": finite(report.before),
                  "after": finite(getattr(best, report.measure)) if best else None,
                  "tried": [c.text for c in report.candidates if not c.error]}
    return {"repair": report, "repair_rows": rows, "repair_verdict": verdict_text(report) if report else None,
            "repair_answer": answer, "repair_tried": tried(report, findings),
            "repair_measure": MEASURES[report.measure] if report else None,
            "repair_job": web.jobs.repair_job(run["id"]),
            "repairable": (repairable := declined(run, findings) is None),
            "repair_first": first_fix(findings) if repairable else None,
            "repair_of": (run.get("summary") or {}).get("repair_of")}


@router.post("/runs/{run_id}/repair")
def start_repair(request: Request, run_id: str, web: Web):
    from ..analysis.doctor import diagnose
    from ..stored import load_stats
    run = web.get_run(run_id)
    reason = declined(run, diagnose(run, load_stats(web.store, run["id"])) if run["status"] != "running" else [])
    if reason:
        raise BadInput(f"repair of run {run['id']}: {reason}")
    job = web.jobs.submit_repair(run["id"], f"repair of {run['name']}")
    if "application/json" in request.headers.get("accept", ""):
        return json_response(job_doc(web, job))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
