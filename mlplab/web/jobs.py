"""Runs started from the dashboard: a queue of `mlplab run` processes, one training at a time, each
stoppable, and the live pages that watch them.

A job is one `mlplab run SPEC` subprocess (a crash stays there). Jobs wait in a queue (at most
`Limits.max_queued`) and one worker thread starts them one after another. Stop sends the process
SIGINT, which the CLI turns into status `interrupted` (as Ctrl-C); after `STOP_GRACE` seconds it
is killed and its run marked interrupted. When the server stops, queued jobs are cancelled and the
running one is stopped the same way; if the server dies without stopping (kill -9), the kernel
sends the job SIGINT (Linux' parent-death signal). No run of the dashboard is left `running`.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..errors import BadInput
from ..store import Store
from .common import NotFound, Web, check_id, json_response

router = APIRouter()
STOP_GRACE = 15.0  # seconds from SIGINT to SIGKILL


# How a job starts `mlplab run`: first asking Linux to send it SIGINT (the CLI's Ctrl-C) when the
# dashboard's worker thread ends (PR_SET_PDEATHSIG), so that a dashboard killed with -9 leaves no
# training behind; done in the child, not in a preexec_fn, which is unsafe in a threaded server.
LAUNCH = """
import ctypes, os, runpy, signal, sys
try:
    ctypes.CDLL(None).prctl(1, int(signal.SIGINT))
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(130)
sys.argv = ["mlplab", *sys.argv[2:]]
runpy.run_module("mlplab.cli", run_name="__main__", alter_sys=True)
"""


@dataclass
class Job:
    id: str
    spec_path: Path
    log_path: Path
    name: str = ""
    state: str = "queued"            # queued -> running -> done, or queued -> cancelled
    created: float = field(default_factory=time.time)
    proc: subprocess.Popen | None = None
    started: float | None = None
    run_id: str | None = None
    returncode: int | None = None
    error: str | None = None
    stop_requested: bool = False

    def tail(self, n: int = 6) -> list[str]:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return lines[-n:]


class Jobs:
    """The dashboard's runs: a queue, one worker thread, one training process at a time."""

    def __init__(self, home: Path, max_queued: int = 8):
        self.home, self.max_queued = home, max_queued
        self.jobs: dict[str, Job] = {}
        self.queue: collections.deque[Job] = collections.deque()
        self.current: Job | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="mlplab-web-jobs-"))
        self.cond = threading.Condition()
        self.worker: threading.Thread | None = None
        self.closed = False

    def submit(self, spec: dict) -> Job:
        """Queue a resolved spec; BadInput when the queue is full or the server is stopping."""
        with self.cond:
            if self.closed:
                raise BadInput("new run: the server is stopping")
            if len(self.queue) >= self.max_queued:
                raise BadInput(f"new run: {len(self.queue)} runs are already waiting (at most {self.max_queued}); "
                               "wait for one to finish or stop one")
            job_id = uuid.uuid4().hex[:12]
            job = Job(job_id, self.folder / f"{job_id}.yaml", self.folder / f"{job_id}.log", name=spec.get("name", ""))
            job.spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
            self.jobs[job_id] = job
            self.queue.append(job)
            if self.worker is None:
                self.worker = threading.Thread(target=self._work, name="mlplab-web-jobs", daemon=True)
                self.worker.start()
            self.cond.notify_all()
        return job

    def _work(self) -> None:
        """Start queued jobs one after another (this thread is their parent: see parent_death_signal)."""
        while True:
            with self.cond:
                while not self.queue and not self.closed:
                    self.cond.wait()
                if self.closed:
                    return
                job = self.current = self.queue.popleft()
                job.state, job.started = "running", time.time()
                try:
                    job.proc = self._spawn(job)
                except OSError as e:
                    job.state, job.error, self.current = "done", f"could not start: {e}", None
                    continue
            job.returncode = job.proc.wait()
            self.settle(job)
            with self.cond:
                job.state, self.current = "done", None
                self.cond.notify_all()

    def _spawn(self, job: Job) -> subprocess.Popen:
        env = {**os.environ, "MLPLAB_HOME": str(self.home)}
        with open(job.log_path, "wb") as log:
            return subprocess.Popen([sys.executable, "-c", LAUNCH, str(os.getpid()), "run", str(job.spec_path),
                                     "--home", str(self.home)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def find_run(self, store: Store, job: Job) -> str | None:
        if job.run_id is None and job.proc is not None:
            job.run_id = store.run_of_process(job.proc.pid, job.started - 2)
        return job.run_id

    def settle(self, job: Job) -> None:
        """After the process ended: the job's error, and its run never left `running`."""
        store = Store(self.home)
        try:
            run_id = self.find_run(store, job)
            tail = [ln for ln in job.tail(20) if ln.strip()]
            last = tail[-1] if tail else f"exit code {job.returncode}"
            if run_id is None:
                if job.stop_requested:
                    job.error = "stopped before its run began"
                elif job.returncode != 0:
                    job.error = last
                return
            status = store.get_run(run_id)["status"]  # "lost" if a reader saw the dead process first
            if job.stop_requested and status in ("running", "lost"):  # killed after Stop: we know why it ended
                store.set_status(run_id, "interrupted", error="stopped from the dashboard")
            elif status == "running":  # crashed before it could say so
                store.set_status(run_id, "lost", error=f"lost: the training process ended ({last})")
        finally:
            store.close()

    def get(self, job_id: str) -> Job:
        with self.cond:
            job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"job {job_id!r}: no such job (jobs are kept while the server runs)")
        return job

    def position(self, job: Job) -> int | None:
        """1 for the next to start, ...; None when not waiting."""
        with self.cond:
            return list(self.queue).index(job) + 1 if job in self.queue else None

    def summary(self) -> dict:
        with self.cond:
            return {"running": self.current.id if self.current else None, "queued": len(self.queue),
                    "max_queued": self.max_queued}

    def job_of_run(self, run_id: str) -> Job | None:
        with self.cond:
            return next((j for j in self.jobs.values() if j.run_id == run_id), None)

    def stop(self, job: Job) -> None:
        """Cancel a queued job; interrupt a running one (SIGINT, then SIGKILL after STOP_GRACE)."""
        with self.cond:
            if job.state == "queued":
                self.queue.remove(job)
                job.state, job.error = "cancelled", "cancelled before it started"
                return
            if job.state != "running" or job.stop_requested or job.proc is None:
                return
            job.stop_requested = True
            interrupt(job.proc)
        timer = threading.Timer(STOP_GRACE, kill, (job.proc,))
        timer.daemon = True
        timer.start()

    def stop_all(self, grace: float = STOP_GRACE) -> None:
        """Server shutdown: cancel the queue, stop the running job, leave no run `running`."""
        with self.cond:
            self.closed = True
            for job in self.queue:
                job.state, job.error = "cancelled", "cancelled: the server stopped"
            self.queue.clear()
            current = self.current
            if current is not None and current.proc is not None and current.proc.poll() is None:
                current.stop_requested = True
                interrupt(current.proc)
            self.cond.notify_all()
        if current is not None and current.proc is not None:
            try:
                current.proc.wait(grace)
            except subprocess.TimeoutExpired:
                kill(current.proc)
        if self.worker is not None:
            self.worker.join(grace)


def interrupt(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGINT)  # the CLI's Ctrl-C: the run ends `interrupted`
        except ProcessLookupError:
            pass


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- live pages and the Stop button

def job_doc(web, job: Job) -> dict:
    run_id = web.jobs.find_run(web.store, job)
    return {"job": job.id, "state": job.state, "position": web.jobs.position(job), "run_id": run_id,
            "running": job.state in ("queued", "running"), "stoppable": job.state in ("queued", "running")
            and not job.stop_requested, "stopping": job.stop_requested and job.state == "running",
            "returncode": job.returncode, "error": job.error, "log": job.tail()}


@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def live_page(request: Request, run_id: str, web: Web):
    run = web.get_run(run_id)
    job = web.jobs.job_of_run(run["id"])
    return web.page(request, "live.html", run_id=run["id"], job_id=job.id if job else None, title=run["name"])


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, web: Web):
    job = web.jobs.get(check_id(job_id, "job"))
    return web.page(request, "live.html", run_id=web.jobs.find_run(web.store, job), job_id=job.id,
                    title=job.name or "new run")


@router.get("/api/jobs/{job_id}")
def api_job(job_id: str, web: Web):
    return json_response(job_doc(web, web.jobs.get(check_id(job_id, "job"))))


@router.post("/jobs/{job_id}/stop")
def stop_job(request: Request, job_id: str, web: Web):
    job = web.jobs.get(check_id(job_id, "job"))
    web.jobs.stop(job)
    if "application/json" in request.headers.get("accept", ""):
        return json_response(job_doc(web, job))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)
