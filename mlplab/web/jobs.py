"""Runs started from the dashboard: a queue of `mlplab run` processes, one training at a time, each
stoppable (the live pages that watch them: web/live.py).

A job is one `mlplab run SPEC` subprocess (a crash stays there), or one `mlplab doctor RUN --fix`
(a repair: it trains a few candidate runs together; see web/repair.py). Jobs wait in a queue (at most
`Limits.max_queued`) and one worker thread starts them one after another. Stop sends the process
SIGINT, which the CLI turns into status `interrupted` (as Ctrl-C); after `STOP_GRACE` seconds it
is killed and its run marked interrupted. When the server stops, queued jobs are cancelled, the
running one is stopped the same way and the jobs' spec and log files are removed; if the server
dies without stopping (kill -9), the kernel sends the job SIGINT (Linux' parent-death signal).
No run of the dashboard is left `running`.
"""
from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import BadInput
from ..store import Store

STOP_GRACE = 15.0  # seconds from SIGINT to SIGKILL


# How a job starts `mlplab run`: first asking Linux to send it SIGINT (the CLI's Ctrl-C) when the
# dashboard's worker thread ends (PR_SET_PDEATHSIG), so that a dashboard killed with -9 leaves no
# training behind; done in the child, not in a preexec_fn, which is unsafe in a threaded server.
# SIGINT is Python's Ctrl-C again in the child: a dashboard started in the background (`mlplab serve &`,
# nohup) ignores SIGINT, and children inherit that, so Stop would not stop them.
LAUNCH = """
import ctypes, os, runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
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
    args: list[str]                  # the command line after `mlplab`: ["run", SPEC] or ["doctor", RUN, "--fix"]
    log_path: Path
    name: str = ""
    repair_of: str | None = None     # the run a repair job repairs
    spec_path: Path | None = None    # a run job's spec file
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
        job_id = uuid.uuid4().hex[:12]
        spec_path = self.folder / f"{job_id}.yaml"
        try:
            spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        except OSError:   # the folder is removed when the server stops
            raise BadInput("new run: the server is stopping") from None
        return self.enqueue(Job(job_id, ["run", str(spec_path)], self.folder / f"{job_id}.log",
                                name=spec.get("name", ""), spec_path=spec_path), "new run")

    def submit_repair(self, run_id: str, name: str) -> Job:
        """Queue `mlplab doctor RUN --fix`; BadInput when one for this run already waits or runs, or as submit."""
        job_id = uuid.uuid4().hex[:12]
        return self.enqueue(Job(job_id, ["doctor", run_id, "--fix"], self.folder / f"{job_id}.log", name=name,
                                repair_of=run_id), f"repair of run {run_id}")

    def repair_job(self, run_id: str) -> Job | None:
        """The repair of this run that is waiting or running, if any."""
        with self.cond:
            return next((j for j in self.jobs.values() if j.repair_of == run_id and j.state in ("queued", "running")),
                        None)

    def enqueue(self, job: Job, what: str) -> Job:
        with self.cond:
            if self.closed:
                raise BadInput(f"{what}: the server is stopping")
            other = self.repair_job(job.repair_of) if job.repair_of else None
            if other is not None:
                raise BadInput(f"{what}: already {other.state} (job {other.id}); wait for it to end or stop it")
            if len(self.queue) >= self.max_queued:
                raise BadInput(f"{what}: {len(self.queue)} jobs are already waiting (at most {self.max_queued}); "
                               "wait for one to finish or stop one")
            self.jobs[job.id] = job
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
            return subprocess.Popen([sys.executable, "-c", LAUNCH, str(os.getpid()), *job.args,
                                     "--home", str(self.home)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def find_run(self, store: Store, job: Job) -> str | None:
        if job.run_id is None and job.proc is not None:
            job.run_id = store.run_of_process(job.proc.pid, job.started - 2)
        return job.run_id

    def job_runs(self, store: Store, job: Job) -> list[str]:
        """The runs the job's process created: a run job's one, a repair's candidates (newest first)."""
        run_id = self.find_run(store, job)
        if job.repair_of is None or run_id is None:
            return [run_id] if run_id else []
        since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(job.started - 2))
        return [r["id"] for r in store.list_runs() if r.get("pid") == job.proc.pid
                and r.get("host") == socket.gethostname() and (r.get("created") or "") >= since]

    def settle(self, job: Job) -> None:
        """After the process ended: the job's error, and its runs never left `running`."""
        store = Store(self.home)
        try:
            run_ids = self.job_runs(store, job)
            tail = [ln for ln in job.tail(20) if ln.strip()]
            last = tail[-1] if tail else f"exit code {job.returncode}"
            if not run_ids:
                if job.stop_requested:
                    job.error = "stopped before its run began"
                elif job.returncode != 0:
                    job.error = last
                return
            for run_id in run_ids:
                status = store.get_run(run_id)["status"]  # "lost" if a reader saw the dead process first
                if job.stop_requested and status in ("running", "lost"):  # killed after Stop: we know why it ended
                    store.set_status(run_id, "interrupted", error="stopped from the dashboard")
                elif status == "running":  # crashed before it could say so
                    store.set_status(run_id, "lost", error=f"lost: the training process ended ({last})")
            if job.repair_of and (job.stop_requested or job.returncode != 0):   # a stopped repair may exit 0
                job.error = "stopped from the dashboard" if job.stop_requested else last
        finally:
            store.close()

    def get(self, job_id: str) -> Job | None:
        """The job, or None: no such job (jobs are kept while the server runs)."""
        with self.cond:
            return self.jobs.get(job_id)

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
            return next((j for j in self.jobs.values() if j.run_id == run_id and j.repair_of is None), None)

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
        shutil.rmtree(self.folder, ignore_errors=True)   # the jobs' specs and logs


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
