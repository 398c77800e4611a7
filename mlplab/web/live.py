"""The live pages that watch a dashboard's jobs (web/jobs.py), and the Stop button."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from .common import Dashboard, NotFound, Web, check_id, json_response
from .jobs import Job

router = APIRouter()


def job_of(web: Dashboard, job_id: str) -> Job:
    job = web.jobs.get(check_id(job_id, "job"))
    if job is None:
        raise NotFound(f"job {job_id!r}: no such job (jobs are kept while the server runs)")
    return job


def job_doc(web, job: Job) -> dict:
    run_id = web.jobs.find_run(web.store, job)
    return {"job": job.id, "state": job.state, "position": web.jobs.position(job), "run_id": run_id,
            "running": job.state in ("queued", "running"), "stoppable": job.state in ("queued", "running")
            and not job.stop_requested, "stopping": job.stop_requested and job.state == "running",
            "returncode": job.returncode, "error": job.error, "log": job.tail(), "repair_of": job.repair_of}


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def live_page(request: Request, run_id: str, web: Web):
    run = web.get_run(run_id)
    job = web.jobs.job_of_run(run["id"])
    return web.page(request, "live.html", run_id=run["id"], job_id=job.id if job else None, title=run["name"])


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, web: Web):
    job = job_of(web, job_id)
    return web.page(request, "live.html", run_id=web.jobs.find_run(web.store, job), job_id=job.id,
                    title=job.name or "new run")


@router.get("/api/jobs/{job_id}")
def api_job(job_id: str, web: Web):
    return json_response(job_doc(web, job_of(web, job_id)))


@router.post("/jobs/{job_id}/stop")
def stop_job(request: Request, job_id: str, web: Web):
    job = job_of(web, job_id)
    web.jobs.stop(job)
    if "application/json" in request.headers.get("accept", ""):
        return json_response(job_doc(web, job))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
