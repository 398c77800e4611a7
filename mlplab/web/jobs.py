"""New runs from the dashboard: the form, the background `mlplab run` processes and the live pages."""
from __future__ import annotations

import os
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


# ---------------------------------------------------------------- background runs

@dataclass
class Job:
    id: str
    spec_path: Path
    log_path: Path
    proc: subprocess.Popen
    started: float = field(default_factory=time.time)
    run_id: str | None = None
    returncode: int | None = None
    error: str | None = None

    def tail(self, n: int = 6) -> list[str]:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return lines[-n:]


class Jobs:
    """Runs started from the dashboard: one `mlplab run` subprocess each (a crash stays there)."""

    def __init__(self, home: Path):
        self.home = home
        self.jobs: dict[str, Job] = {}
        self.folder = Path(tempfile.mkdtemp(prefix="mlplab-web-jobs-"))
        self.lock = threading.Lock()

    def start(self, spec: dict) -> Job:
        job_id = uuid.uuid4().hex[:12]
        spec_path = self.folder / f"{job_id}.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        log_path = self.folder / f"{job_id}.log"
        env = {**os.environ, "MLPLAB_HOME": str(self.home)}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "mlplab.cli", "run", str(spec_path), "--home",
                                     str(self.home)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
        job = Job(job_id, spec_path, log_path, proc)
        with self.lock:
            self.jobs[job_id] = job
        threading.Thread(target=self._watch, args=(job,), daemon=True).start()
        return job

    def find_run(self, store: Store, job: Job) -> str | None:
        if job.run_id is None:
            job.run_id = store.run_of_process(job.proc.pid, job.started - 2)
        return job.run_id

    def _watch(self, job: Job) -> None:
        job.returncode = job.proc.wait()
        store = Store(self.home)
        try:
            run_id = self.find_run(store, job)
            tail = [ln for ln in job.tail(20) if ln.strip()]
            last = tail[-1] if tail else f"exit code {job.returncode}"
            if job.returncode not in (0, 1) and run_id is None:
                job.error = last
            if run_id is not None:
                run = store.get_run(run_id)
                if run["status"] == "running":  # killed, or crashed before the store could say so
                    store.set_status(run_id, "lost", error=f"lost: the training process ended ({last})")
            elif job.returncode != 0:
                job.error = last
        finally:
            store.close()

    def get(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"job {job_id!r}: no such job (jobs are kept while the server runs)")
        return job

    def stop_all(self) -> None:
        for job in list(self.jobs.values()):
            if job.proc.poll() is None:
                job.proc.terminate()


# ---------------------------------------------------------------- the new-run form

FORM_FIELDS = [
    # (dotted key, label, kind, default, choices)
    ("name", "name", "text", "", None),
    ("data.dataset", "dataset", "select", "digits", ["digits", "mnist", "fashion-mnist", "cosine2d"]),
    ("data.scale", "scale", "select", "unit", ["unit", "symmetric", "standard", "none"]),
    ("data.validation_split", "validation split", "number", "0.1", None),
    ("model.hidden", "hidden layers", "text", "64, 64", None),
    ("model.activation", "activation", "select", "relu", None),
    ("model.init", "initializer", "select", "glorot_uniform", None),
    ("model.dropout", "dropout", "number", "0.0", None),
    ("model.batchnorm", "batch norm", "checkbox", "", None),
    ("model.l2", "L2", "number", "0.0", None),
    ("train.optimizer", "optimizer", "select", "adam", None),
    ("train.learning_rate", "learning rate", "number", "0.001", None),
    ("train.epochs", "epochs", "number", "20", None),
    ("train.batch_size", "batch size", "number", "32", None),
    ("train.early_stopping", "early stopping", "checkbox", "on", None),
    ("seed", "seed", "number", "0", None),
]


def form_fields() -> list[tuple]:
    """FORM_FIELDS with the spec's choices of activation, initializer and optimizer filled in."""
    from ..spec import ACTIVATIONS, INITIALIZERS, OPTIMIZERS
    choices = {"model.activation": list(ACTIVATIONS), "model.init": list(INITIALIZERS),
               "train.optimizer": list(OPTIMIZERS)}
    return [(k, label, kind, default, choices.get(k, c)) for k, label, kind, default, c in FORM_FIELDS]


def spec_from_form(form: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """Form values -> raw spec dict, read as `--set KEY=VALUE` reads values (TOML)."""
    from ..spec import parse_value, set_dotted
    raw: dict = {}
    for key, _label, kind, _default, _choices in FORM_FIELDS:
        value = form.get(key)
        if kind == "checkbox":
            set_dotted(raw, key, bool(value))
            continue
        value = (value or "").strip()
        if value == "":
            continue
        if key == "model.hidden" and not value.startswith("["):
            value = f"[{value}]"
        set_dotted(raw, key, value if kind in ("select",) or key == "name" else parse_value(value))
    return raw, {}


def field_of(message: str) -> str:
    """Which form field a spec error names ('train.epochs = 0: ...' -> 'train.epochs')."""
    keys = sorted((k for k, *_ in FORM_FIELDS), key=len, reverse=True)
    for k in keys:
        if message.startswith(k) or message.startswith("train.optimizer.learning_rate") and k == "train.learning_rate":
            return k
    for k in keys:  # a sub-key of a field: model.init.stddev, train.early_stopping.patience
        if message.startswith(k.split(".")[0] + "." + k.split(".")[-1]):
            return k
    return "_form"


@router.get("/new", response_class=HTMLResponse)
def new_page(request: Request, web: Web):
    values = {k: d for k, _l, _k, d, _c in FORM_FIELDS}
    return web.page(request, "new.html", fields=form_fields(), values=values, errors={})


@router.post("/new", response_class=HTMLResponse)
async def new_submit(request: Request, web: Web):
    from ..spec import validate
    form = await request.form()
    values = {k: str(form.get(k, "")) for k, *_ in FORM_FIELDS}
    errors: dict[str, str] = {}
    try:
        raw, _ = spec_from_form(values)
        exp = validate(raw)
    except BadInput as e:
        errors[field_of(str(e))] = str(e)
        return web.page(request, "new.html", 400, fields=form_fields(), values=values, errors=errors)
    job = web.jobs.start(exp.resolved())
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# ---------------------------------------------------------------- live pages

@router.get("/runs/{run_id}/live", response_class=HTMLResponse)
def live_page(request: Request, run_id: str, web: Web):
    run = web.get_run(run_id)
    return web.page(request, "live.html", run_id=run["id"], job_id=None, title=run["name"])


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, web: Web):
    job = web.jobs.get(check_id(job_id, "job"))
    return web.page(request, "live.html", run_id=web.jobs.find_run(web.store, job), job_id=job.id, title="new run")


@router.get("/api/jobs/{job_id}")
def api_job(job_id: str, web: Web):
    job = web.jobs.get(check_id(job_id, "job"))
    run_id = web.jobs.find_run(web.store, job)
    return json_response({"job": job.id, "run_id": run_id, "running": job.proc.poll() is None,
                          "returncode": job.returncode, "error": job.error, "log": job.tail()})
