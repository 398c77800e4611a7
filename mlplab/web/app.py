"""The dashboard: a thin FastAPI layer over the run store.

    app = create_app("mlplab-runs")          # then uvicorn.run(app, host="127.0.0.1")

Pages are rendered on the server (Jinja2); the small scripts in static/ draw the
curves, sort the runs table, poll live runs and run the drawing canvas. Nothing
is fetched from the internet. Library errors become a 400/404 page or JSON
``{"error": ...}``; no request can take the server down.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import BadInput
from ..analysis.status import STATUSES, ranking_metric, run_row, status_css, worst
from ..store import Store, jsonable

HERE = Path(__file__).parent
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
DOWNLOADS = ("spec.yaml", "model.keras", "history.csv", "predictions.npz", "stats.json", "summary.txt")
FIGURE_NAMES = ("confusion-matrix", "mistakes", "random-mistakes", "correct", "probabilities", "class-histograms",
                "weights", "training-statistics", "hidden-representation", "decision-regions", "samples",
                "learning-curves")
MAX_CELL_IMAGES = 120
_figure_lock = threading.Lock()  # matplotlib's pyplot state is not thread-safe


class NotFound(Exception):
    pass


# ---------------------------------------------------------------- helpers

def _check_id(ref: str, noun: str = "run") -> str:
    if not isinstance(ref, str) or not ID_RE.match(ref):
        raise NotFound(f"{noun} {ref!r}: not a valid {noun} id")
    return ref


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == int(f) and abs(f) < 1e12:
        return str(int(f))
    return f"{f:.{digits}g}"


def _script_json(o: Any) -> Markup:
    """JSON for a <script type="application/json"> block: no HTML escaping, but no '<' either."""
    text = json.dumps(jsonable(o), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _json(doc: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable(doc), status_code=status)


def _clean_history(h: dict) -> dict:
    """JSON-ready history: NaN/inf -> null (the charts skip gaps)."""
    return {k: [_finite(float(v)) if isinstance(v, (int, float)) else v for v in vals] for k, vals in h.items()}


def safe_artifact(store: Store, run_id: str, name: str) -> Path:
    """The file `name` inside the run's artifact folder, or NotFound.

    Rejects absolute paths, '..', backslashes, NUL, hidden (temp) files and any
    symlink on the way; the resolved path must stay inside the folder."""
    if (not name or "\0" in name or "\\" in name or name.startswith("/") or ":" in name
            or any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/"))):
        raise NotFound(f"artifact {name!r}: not a file of run {run_id}")
    folder = store.artifacts / run_id
    if not folder.is_dir() or folder.is_symlink():
        raise NotFound(f"run {run_id}: has no artifact folder")
    path = folder
    for part in name.split("/"):
        path = path / part
        try:
            st = os.lstat(path)
        except OSError:
            raise NotFound(f"artifact {name!r}: run {run_id} has no such file") from None
        if stat.S_ISLNK(st.st_mode):
            raise NotFound(f"artifact {name!r}: is a symlink; not served")
    real, root = os.path.realpath(path), os.path.realpath(folder)
    if os.path.commonpath([real, root]) != root or not stat.S_ISREG(os.lstat(path).st_mode):
        raise NotFound(f"artifact {name!r}: not a file of run {run_id}")
    return Path(real)


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


def _form_fields() -> list[tuple]:
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


# ---------------------------------------------------------------- the app

def create_app(home: str | os.PathLike | None = None) -> FastAPI:
    store = Store(home)
    home_path = store.home
    jobs = Jobs(home_path)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["num"] = _num
    templates.env.filters["badge"] = worst  # the status word whose colour a (combined) status shows
    templates.env.globals["status_css"] = status_css()
    templates.env.filters["tojson_safe"] = _script_json

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        jobs.stop_all()  # no orphaned training processes when the server stops

    app = FastAPI(title="mlplab", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store, app.state.jobs = store, jobs
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    data_cache: dict[str, Any] = {}
    data_lock = threading.Lock()

    def page(request: Request, name: str, code: int = 200, **ctx) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"home": str(home_path), **ctx}, status_code=code)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def error(request: Request, status: int, message: str) -> Response:
        if is_api(request):
            return _json({"error": message}, status)
        return page(request, "error.html", status, status=status, message=message)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, e: NotFound):
        return error(request, 404, str(e))

    @app.exception_handler(BadInput)
    async def _bad_input(request: Request, e: BadInput):
        text = str(e)
        return error(request, 404 if ("no such" in text or "no runs" in text or "there are no" in text) else 400, text)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, e: RequestValidationError):
        parts = []
        for err in e.errors()[:3]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
            parts.append(f"{loc}: {err.get('msg')}")
        return error(request, 400, "bad request: " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        message = "page not found" if e.status_code == 404 else str(e.detail)
        return error(request, e.status_code, message)

    @app.exception_handler(Exception)
    async def _crash(request: Request, e: Exception):
        return error(request, 500, f"internal error: {type(e).__name__}: {str(e)[:300]}")

    def get_run(ref: str) -> dict:
        return store.get_run(_check_id(ref))

    def row_of(r: dict) -> dict:
        return {k: _finite(v) if isinstance(v, float) else v for k, v in run_row(r).items()}

    def experiment_data(run: dict):
        from ..data import load_data
        from ..spec import stored_experiment
        exp = stored_experiment(run["spec"])
        key = json.dumps(exp.data.model_dump(mode="json"), sort_keys=True) + str(exp.model.convolutional)
        with data_lock:
            if key not in data_cache:
                if len(data_cache) >= 3:
                    data_cache.pop(next(iter(data_cache)))
                data_cache[key] = load_data(exp)
            return data_cache[key]

    def predictions(run_id: str):
        import numpy as np
        path = safe_artifact(store, run_id, "predictions.npz")
        with np.load(path, allow_pickle=False) as z:
            return z["probabilities"], z["y_true"]

    # ------------------------------------------------------------ runs

    def filtered_runs(status=None, dataset=None, sweep=None, q=None, sort=None, desc=True, limit=None) -> list[dict]:
        sweep_id = store.resolve_sweep(sweep) if sweep else None
        rows = [row_of(r) for r in store.list_runs(status=status or None, dataset=dataset or None,
                                                    sweep_id=sweep_id)]
        if q:
            ql = q.lower()
            rows = [r for r in rows if any(ql in str(r.get(k) or "").lower()
                                           for k in ("id", "name", "dataset", "model", "optimizer"))]
        if sort:
            if sort not in rows[0] if rows else False:
                raise BadInput(f"sort {sort!r}: expected one of {', '.join(run_row({}).keys())}")
            rows.sort(key=lambda r: (r.get(sort) is None, r.get(sort) if r.get(sort) is not None else 0),
                      reverse=bool(desc))
        return rows[:limit] if limit else rows

    @app.get("/", response_class=HTMLResponse)
    def runs_page(request: Request, status: str = "", dataset: str = "", sweep: str = "", q: str = ""):
        rows = filtered_runs(status, dataset, sweep, q)
        everything = store.list_runs()
        return page(request, "runs.html", runs=rows, filters={"status": status, "dataset": dataset,
                                                                "sweep": sweep, "q": q},
                    datasets=sorted({r["dataset"] for r in everything}),
                    statuses=sorted({r["status"] for r in everything}),
                    sweeps=store.list_sweeps())

    @app.get("/api/runs")
    def api_runs(status: str = "", dataset: str = "", sweep: str = "", q: str = "", sort: str = "",
                 desc: bool = True, limit: int | None = None):
        return _json(filtered_runs(status, dataset, sweep, q, sort, desc, limit))

    @app.get("/api/runs/{run_id}")
    def api_run(run_id: str):
        from ..analysis.doctor import diagnose
        from ..training.artifacts import load_stats
        run = get_run(run_id)
        findings = diagnose(run, load_stats(store, run["id"])) if run["status"] != "running" else []
        return _json({**{k: _finite(v) if isinstance(v, float) else v for k, v in run.items() if k != "history"},
                      "history": _clean_history(run["history"]), "findings": [f.to_dict() for f in findings]})

    @app.get("/api/runs/{run_id}/history")
    def api_history(run_id: str):
        run = get_run(run_id)
        epochs = ((run.get("spec") or {}).get("train") or {}).get("epochs")
        return _json({"id": run["id"], "name": run["name"], "status": run["status"], "error": run.get("error"),
                      "epochs_run": run.get("epochs_run"), "epochs": epochs,
                      "test_accuracy": _finite(run.get("test_accuracy")), "history": _clean_history(run["history"])})

    @app.get("/api/runs/{run_id}/confusion")
    def api_confusion(run_id: str):
        run = get_run(run_id)
        ev = (run.get("summary") or {}).get("evaluation") or {}
        if not ev.get("confusion_matrix"):
            raise NotFound(f"run {run['id']}: has no evaluation (status {run['status']})")
        names = ((run.get("summary") or {}).get("data") or {}).get("class_names") or \
            [str(i) for i in range(len(ev["confusion_matrix"]))]
        return _json({"class_names": names, "matrix": ev["confusion_matrix"]})

    @app.get("/api/runs/{run_id}/cell")
    def api_cell(run_id: str, true: int, pred: int, limit: int = 60):
        import numpy as np
        run = get_run(run_id)
        probs, y_true = predictions(run["id"])
        n_classes = probs.shape[1] if probs.ndim == 2 else 2
        if not (0 <= true < n_classes and 0 <= pred < n_classes):
            raise BadInput(f"cell ({true}, {pred}): expected classes 0..{n_classes - 1}")
        p = probs if probs.ndim == 2 and probs.shape[1] > 1 else np.stack([1 - probs.ravel(), probs.ravel()], 1)
        y_pred = p.argmax(axis=1)
        idx = np.where((y_true == true) & (y_pred == pred))[0]
        limit = max(1, min(int(limit), MAX_CELL_IMAGES))
        data = experiment_data(run)
        shape = data.info.image_shape
        images = []
        if shape is not None:
            x = data.x_test[idx[:limit]].reshape(-1, *shape)
            lo, hi = float(data.x_test.min()), float(data.x_test.max())
            images = np.round((x - lo) / ((hi - lo) or 1) * 255).astype(int).tolist()
        return _json({"true": true, "pred": pred, "count": int(len(idx)), "indices": idx[:limit].tolist(),
                      "confidence": [round(float(p[i, pred]), 4) for i in idx[:limit]],
                      "shape": list(shape) if shape else None, "images": images})

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, run_id: str):
        from ..analysis.doctor import diagnose
        from ..training.artifacts import load_stats
        run = get_run(run_id)
        if run["status"] == "running":
            return RedirectResponse(f"/runs/{run['id']}/live", status_code=303)
        findings = diagnose(run, load_stats(store, run["id"]))
        folder = store.artifacts / run["id"]
        downloads = [n for n in DOWNLOADS if (folder / n).is_file()]
        data = (run.get("summary") or {}).get("data") or {}
        image = bool(data.get("input_shape")) and len(data.get("input_shape")) in (1, 3) and \
            _side(data.get("input_shape")) is not None
        two_d = data.get("input_shape") == [2]
        return page(request, "run.html", run=run, findings=findings, downloads=downloads,
                    spec_text=yaml.safe_dump(run.get("spec") or {}, sort_keys=False),
                    history=_clean_history(run["history"]), image=image, two_d=two_d,
                    has_model=(folder / "model.keras").is_file())

    @app.get("/runs/{run_id}/live", response_class=HTMLResponse)
    def live_page(request: Request, run_id: str):
        run = get_run(run_id)
        return page(request, "live.html", run_id=run["id"], job_id=None, title=run["name"])

    @app.get("/runs/{run_id}/figures/{name}.png")
    def figure(run_id: str, name: str):
        from ..present.report import figure_for
        from ..training.artifacts import RunArtifacts
        run = get_run(run_id)
        if name not in FIGURE_NAMES:
            raise NotFound(f"figure {name!r}: expected one of {', '.join(FIGURE_NAMES)}")
        if run["status"] in ("running",):
            raise NotFound(f"run {run['id']}: still running; figures appear when it ends")
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        with _figure_lock:
            try:
                fig = figure_for(RunArtifacts(store, run), name)
            except (FileNotFoundError, KeyError) as e:
                raise NotFound(f"figure {name} of run {run['id']}: not available ({e})") from None
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
            plt.close(fig)
        return Response(buf.getvalue(), media_type="image/png", headers={"Cache-Control": "max-age=60"})

    @app.get("/runs/{run_id}/files/{name:path}")
    def artifact(run_id: str, name: str):
        run = get_run(run_id)
        path = safe_artifact(store, run["id"], name)
        return FileResponse(path, filename=f"{run['id']}-{path.name}",
                            media_type="text/plain" if path.suffix in (".yaml", ".csv", ".txt") else None)

    @app.get("/runs/{run_id}/report", response_class=HTMLResponse)
    def report(run_id: str):
        from ..present.report import write_report
        run = get_run(run_id)
        with _figure_lock:
            path = write_report(store, run["id"])
        return HTMLResponse(Path(path).read_text(encoding="utf-8"))

    # ------------------------------------------------------------ compare and sweeps

    def _compare_doc(ids: list[str]) -> tuple[list[dict], dict]:
        from ..analysis.compare import comparison
        ids = [i for part in ids for i in part.split(",") if i]
        if len(ids) < 2:
            raise BadInput("compare: select at least two runs (?run=ID&run=ID)")
        if len(ids) > 12:
            raise BadInput(f"compare: {len(ids)} runs selected; compare at most 12")
        runs = [get_run(i) for i in ids]
        return runs, comparison(runs)

    @app.get("/compare", response_class=HTMLResponse)
    def compare_page(request: Request, run: list[str] | None = Query(None)):
        runs, doc = _compare_doc(run or [])
        return page(request, "compare.html", runs=runs, doc=doc,
                    curves=[{"label": f"{r['id']} {r['name']}", "history": _clean_history(r["history"])}
                            for r in runs])

    @app.get("/api/compare")
    def api_compare(run: list[str] | None = Query(None)):
        runs, doc = _compare_doc(run or [])
        return _json({**doc, "histories": [_clean_history(r["history"]) for r in runs]})

    @app.get("/sweeps", response_class=HTMLResponse)
    def sweeps_page(request: Request):
        return page(request, "sweeps.html", sweeps=store.list_sweeps())

    def _sweep(ref: str) -> dict:
        return store.get_sweep(_check_id(ref, "sweep"))

    @app.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
    def sweep_page(request: Request, sweep_id: str):
        sw = _sweep(sweep_id)
        summary = sw.get("summary") or {}
        keys, rows = summary.get("keys") or [], summary.get("rows") or []
        heat = _heatmap(keys, rows)
        curves = [{"label": f"{r['id']} {r['name']}", "history": _clean_history(store.history(r["id"]))}
                  for r in sw["runs"][:30]]
        ranked_by = summary.get("ranked_by") or ranking_metric(rows)
        return page(request, "sweep.html", sweep=sw, keys=keys, rows=rows, heat=heat, curves=curves,
                    note=summary.get("note"), ranked_by=ranked_by)

    @app.get("/api/sweeps/{sweep_id}")
    def api_sweep(sweep_id: str):
        sw = _sweep(sweep_id)
        sw["runs"] = [row_of(r) for r in sw["runs"]]
        return _json(sw)

    # ------------------------------------------------------------ new runs and live pages

    @app.get("/new", response_class=HTMLResponse)
    def new_page(request: Request):
        values = {k: d for k, _l, _k, d, _c in FORM_FIELDS}
        return page(request, "new.html", fields=_form_fields(), values=values, errors={})

    @app.post("/new", response_class=HTMLResponse)
    async def new_submit(request: Request):
        from ..spec import validate
        form = await request.form()
        values = {k: str(form.get(k, "")) for k, *_ in FORM_FIELDS}
        errors: dict[str, str] = {}
        try:
            raw, _ = spec_from_form(values)
            exp = validate(raw)
        except BadInput as e:
            errors[field_of(str(e))] = str(e)
            return page(request, "new.html", 400, fields=_form_fields(), values=values, errors=errors)
        job = jobs.start(exp.resolved())
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: str):
        job = jobs.get(_check_id(job_id, "job"))
        return page(request, "live.html", run_id=jobs.find_run(store, job), job_id=job.id, title="new run")

    @app.get("/api/jobs/{job_id}")
    def api_job(job_id: str):
        job = jobs.get(_check_id(job_id, "job"))
        run_id = jobs.find_run(store, job)
        return _json({"job": job.id, "run_id": run_id, "running": job.proc.poll() is None,
                      "returncode": job.returncode, "error": job.error, "log": job.tail()})

    # ------------------------------------------------------------ try it

    def _image_runs() -> list[dict]:
        out = []
        for r in store.list_runs(limit=500):
            data = (r.get("summary") or {}).get("data") or {}
            side = _side(data.get("input_shape"))
            if STATUSES[r["status"]].healthy and r["status"] != "running" and side \
                    and (store.artifacts / r["id"] / "model.keras").is_file():
                out.append({**row_of(r), "side": side})
        return out

    @app.get("/try", response_class=HTMLResponse)
    def try_page(request: Request, run: str = ""):
        runs = _image_runs()
        return page(request, "try.html", runs=runs, selected=run or (runs[0]["id"] if runs else ""))

    @app.post("/api/predict")
    async def api_predict(run: str = Form(...), image: UploadFile = File(...)):
        from ..predict import MAX_BYTES, run_model
        _check_id(run)
        data = await image.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise BadInput(f"upload: larger than {MAX_BYTES // 2**20} MB; upload a smaller image")
        import anyio
        model = await anyio.to_thread.run_sync(run_model, store, run)
        result = await anyio.to_thread.run_sync(model.predict_image, data, image.filename or "upload")
        return _json(result.to_dict())

    @app.get("/healthz")
    def health():
        return {"ok": True}

    return app


def _side(shape) -> int | None:
    if not shape:
        return None
    n = 1
    for d in shape:
        n *= int(d)
    side = int(round(n ** 0.5))
    return side if side * side == n and side in (8, 28) else None


def _heatmap(keys: list[str], rows: list[dict]) -> dict | None:
    """A 2-key sweep as a grid of the validation (else test) accuracy."""
    if len(keys) != 2 or not rows:
        return None
    metric = ranking_metric(rows)

    def label(v):
        return json.dumps(v) if isinstance(v, (dict, list)) else str(v)
    xs = list(dict.fromkeys(label(r.get(keys[1], (r.get("values") or {}).get(keys[1]))) for r in rows))
    ys = list(dict.fromkeys(label(r.get(keys[0], (r.get("values") or {}).get(keys[0]))) for r in rows))
    grid = {(label(r.get(keys[0], (r.get("values") or {}).get(keys[0]))),
             label(r.get(keys[1], (r.get("values") or {}).get(keys[1])))): r.get(metric) for r in rows}
    return {"metric": metric, "x_key": keys[1], "y_key": keys[0], "xs": xs, "ys": ys,
            "cells": [[_finite(grid.get((y, x))) for x in xs] for y in ys]}
