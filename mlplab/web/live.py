"""The live pages that watch a dashboard's jobs (web/jobs.py), and the Stop button."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..present.html import number_text
from .common import Dashboard, NotFound, Web, check_id, json_response
from .jobs import Job

router = APIRouter()
# the accuracy a live page quotes, first found first: validation, else the training rows'
ACCURACIES = (("val_accuracy", "validation accuracy"), ("train_accuracy", "training accuracy"),
              ("accuracy", "training accuracy (running mean)"))


def duration_text(seconds: float) -> str:
    """45 -> '45s', 77 -> '1m17s', 3725 -> '1h02m'."""
    s = int(round(seconds))
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s // 60 % 60:02d}m"


def step_text(g: dict) -> list[str]:
    """Inside a long epoch (engine.progress.StepProgress.to_json): its steps, rate, compiling and ETAs; the run's
    ETA only once an epoch has finished (the engine gives none before: a rate measured while compiling is not one)."""
    if g.get("phase") == "evaluating":
        return ["evaluating train/val/test rows"]
    parts = [f"step {g['step']}/{g['steps']}"]
    if g.get("samples_per_second"):
        parts.append(f"{g['samples_per_second']:,.0f} samples/s")
    if g.get("compile_seconds", 0) >= 0.5:
        parts.append(f"compiling {g['compile_seconds']:.1f}s")
    if g.get("eta_seconds") is not None:
        parts.append(f"epoch ETA {duration_text(g['eta_seconds'])}")
    if g.get("run_eta_seconds") is not None and g["epoch"] < g["epochs"]:
        parts.append(f"run ETA {duration_text(g['run_eta_seconds'])}")
    return parts


def live_line(run_id: str, status: str, history: dict, epochs: int | None, progress: dict | None) -> str:
    """The live page's line: the epoch running (1-based: epoch 1 while the first trains) of all, inside a long
    epoch its steps and ETAs, and the last finished epoch's accuracy, saying which one it is."""
    done = len(history.get("epoch") or [])
    total = epochs or done
    running = status == "running" and done < total
    parts = [f"epoch {done + 1 if running else done} of {total}"]
    if running and progress and progress.get("epoch") == done + 1:
        parts += step_text(progress)
    key, label = next(((k, w) for k, w in ACCURACIES if history.get(k)), (None, ""))
    if key:
        parts.append(f"{label} {number_text(history[key][-1])}" + (f" after epoch {done}" if running else ""))
    return f"run {run_id}: " + " · ".join(parts)


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
