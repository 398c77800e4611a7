"""The New-run form: validated as `mlplab run --set KEY=VALUE` validates a spec, plus the dashboard's
limits (web/limits.py); every problem is shown beside its field. Data come from the named data sets
or from files uploaded through this page into the store (``<home>/uploads/``), never from a path.
"""
from __future__ import annotations

import dataclasses
import os
import re
import stat
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ..errors import BadInput
from .common import Dashboard, Web
from .limits import Limits, data_facts, estimate, problems

router = APIRouter()

BUILT_IN = ("digits", "mnist", "fashion-mnist", "cosine2d")
UPLOADS = "uploads"                      # the folder of uploaded data files, in the store's home
UPLOAD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.(npz|csv)$")
MAX_FIELD = 1_000_000                    # characters of one form value

FORM_FIELDS = [
    # (dotted key, label, kind, default, choices)
    ("name", "name", "text", "", None),
    ("data.dataset", "dataset", "select", "digits", None),
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
KEYS = [k for k, *_ in FORM_FIELDS]


# ---------------------------------------------------------------- data: named sets and uploaded files

def uploads_folder(web: Dashboard) -> Path:
    return Path(web.store.home) / UPLOADS


def uploaded_files(web: Dashboard) -> list[str]:
    """The data files uploaded into the store, as the form names them ("uploads/NAME")."""
    folder = uploads_folder(web)
    if not folder.is_dir():
        return []
    return sorted(f"{UPLOADS}/{p.name}" for p in folder.iterdir()
                  if UPLOAD_NAME.match(p.name) and stat.S_ISREG(os.lstat(p).st_mode))


def dataset_of(web: Dashboard, value: str) -> str:
    """The data.dataset a form value stands for: a named set, or the path of an uploaded file."""
    if value in BUILT_IN:
        return value
    if value in uploaded_files(web):
        return str(uploads_folder(web) / value.split("/", 1)[1])
    raise BadInput(f"data.dataset = {value[:200]!r}: the dashboard trains on {', '.join(BUILT_IN)} or a file "
                   "uploaded on this page (other files and folders: mlplab run)")


def form_fields(web: Dashboard) -> list[tuple]:
    """FORM_FIELDS with the choices filled in: data sets (uploads too), activations, initializers, optimizers."""
    from ..spec import ACTIVATIONS, INITIALIZERS, OPTIMIZERS
    choices = {"data.dataset": [*BUILT_IN, *uploaded_files(web)], "model.activation": list(ACTIVATIONS),
               "model.init": list(INITIALIZERS), "train.optimizer": list(OPTIMIZERS)}
    return [(k, label, kind, default, choices.get(k, c)) for k, label, kind, default, c in FORM_FIELDS]


# ---------------------------------------------------------------- form values -> a spec, and every problem

def spec_from_form(form: dict[str, str]) -> dict:
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
        set_dotted(raw, key, value if kind == "select" or key == "name" else parse_value(value))
    return raw


def field_of(message: str) -> str:
    """Which form field a spec error names ('train.epochs = 0: ...' -> 'train.epochs'); '_form' if none."""
    keys = sorted(KEYS, key=len, reverse=True)
    for k in keys:
        if message.startswith(k) or message.startswith("train.optimizer.learning_rate") and k == "train.learning_rate":
            return k
    for k in keys:  # a sub-key of a field: model.init.stddev, train.early_stopping.patience
        if message.startswith(k.split(".")[0] + "." + k.split(".")[-1]):
            return k
    return "_form"


def drop(raw: dict, key: str) -> None:
    """Remove one dotted key from a raw spec (its default takes over)."""
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(parts[-1], None)


def check_form(web: Dashboard, values: dict[str, str], limits: Limits):
    """(experiment, {field: message} for every problem found): the experiment is None when the spec itself
    is invalid, and is given with the problems when it is only beyond the limits."""
    from ..spec import validate
    errors: dict[str, str] = {}
    raw = spec_from_form(values)
    try:
        raw.setdefault("data", {})["dataset"] = dataset_of(web, values.get("data.dataset", ""))
    except BadInput as e:
        errors["data.dataset"] = str(e)
        drop(raw, "data.dataset")
    exp = None
    for _ in range(len(KEYS) + 1):  # each bad field is reported, then left at its default to find the next
        try:
            exp = validate(raw)
            break
        except BadInput as e:
            key = field_of(str(e))
            if key in errors or key == "_form":
                errors.setdefault("_form", str(e))
                break
            errors[key] = str(e)
            drop(raw, key)
    if exp is None or "data.dataset" in errors:
        return None, errors
    try:
        facts = dataclasses.replace(data_facts(exp.data.dataset, web.facts), name=values["data.dataset"])
        over = problems(exp, facts, limits)
    except BadInput as e:  # an uploaded file that does not read as data
        over = {"data.dataset": str(e)}
    for key, message in over.items():
        errors.setdefault(key, message)
    return exp, errors


def form_estimate(web: Dashboard, values: dict[str, str]) -> dict:
    """The New-run form's live estimate (analysis.cost, as `mlplab run --dry-run`): one line, its numbers,
    and the form's problems."""
    exp, errors = check_form(web, values, web.limits)
    if exp is None:
        return {"estimate": None, "errors": errors}
    est = estimate(exp, data_facts(exp.data.dataset, web.facts))
    return {"estimate": est.text(), "seconds": est.seconds, "peak_bytes": est.peak_bytes, "errors": errors}


# ---------------------------------------------------------------- routes

def form_page(request: Request, web: Dashboard, values: dict, errors: dict, code: int = 200) -> HTMLResponse:
    return web.page(request, "new.html", code, fields=form_fields(web), values=values, errors=errors,
                    limits=web.limits, queue=web.jobs.summary())


@router.get("/new", response_class=HTMLResponse)
def new_page(request: Request, web: Web, dataset: str = ""):
    values = {k: d for k, _l, _k, d, _c in FORM_FIELDS}
    if dataset in uploaded_files(web):
        values["data.dataset"] = dataset
    return form_page(request, web, values, {})


@router.post("/new", response_class=HTMLResponse)
async def new_submit(request: Request, web: Web):
    import anyio
    form = await request.form()
    missing = [k for k, _label, kind, *_ in FORM_FIELDS if kind != "checkbox" and k not in form]
    if missing:  # an empty or foreign body never becomes a default run
        raise BadInput(f"new run: the form is incomplete (missing {', '.join(missing[:4])}"
                       f"{' ...' if len(missing) > 4 else ''}); fill it in at /new")
    values = {k: str(form.get(k, "")) for k in KEYS}
    too_long = {k: f"{k}: {len(v):,} characters; the form takes at most {MAX_FIELD:,}" for k, v in values.items()
                if len(v) > MAX_FIELD}
    if too_long:
        return form_page(request, web, {k: v[:200] for k, v in values.items()}, too_long, 400)
    exp, errors = await anyio.to_thread.run_sync(check_form, web, values, web.limits)
    if not errors:
        try:
            job = web.jobs.submit(exp.resolved())
        except BadInput as e:  # the queue is full, or the server is stopping
            errors["_form"] = str(e)
    if errors:
        return form_page(request, web, values, errors, 400)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/api/estimate")
async def live_estimate(request: Request, web: Web):
    """What the form's values would cost, as they change (the form's own page posts them)."""
    import anyio
    form = await request.form()
    values = {k: str(form.get(k, ""))[:MAX_FIELD] for k in KEYS}
    return await anyio.to_thread.run_sync(form_estimate, web, values)


@router.post("/data/upload", response_class=HTMLResponse)
async def upload(request: Request, web: Web):
    """A data file (.npz or .csv) into <home>/uploads/, checked by reading it as mlplab reads data."""
    import anyio
    form = await request.form()
    file = form.get("file")
    values = {k: d for k, _l, _k, d, _c in FORM_FIELDS}
    try:
        if file is None or isinstance(file, str) or not file.filename:
            raise BadInput("upload: choose a .npz or .csv file")
        name = Path(file.filename.replace("\\", "/")).name
        if not UPLOAD_NAME.match(name):
            raise BadInput(f"upload {name[:80]!r}: expected a .npz or .csv file named with letters, digits, "
                           "'.', '_' or '-' (at most 64 characters)")
        target = uploads_folder(web) / name
        if target.exists() or target.is_symlink():
            raise BadInput(f"upload {name!r}: the store already holds a file of that name (runs may use it); "
                           "rename yours")
        data = await file.read(web.limits.max_upload + 1)
        if len(data) > web.limits.max_upload:
            raise BadInput(f"upload {name!r}: larger than {web.limits.max_upload // 2**20} MB")
        await anyio.to_thread.run_sync(store_upload, target, data)
    except BadInput as e:
        return form_page(request, web, values, {"upload": str(e)}, 400)
    return RedirectResponse(f"/new?dataset={UPLOADS}/{name}", status_code=303)


def store_upload(target: Path, data: bytes) -> None:
    """Write, then read it back as data: a file mlplab cannot read is not kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    check = target.with_name(f".check-{target.name}")  # hidden while checked; read under its own suffix
    try:
        check.write_bytes(data)
        data_facts(str(check))
        os.replace(check, target)
    except BadInput as e:
        raise BadInput(str(e).replace(str(check), target.name)) from None
    finally:
        check.unlink(missing_ok=True)
