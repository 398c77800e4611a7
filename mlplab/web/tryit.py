"""Try it: draw a digit (or upload an image) and see what a run's model makes of it."""
from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from ..analysis.health import unhealthy
from ..analysis.status import STATUSES
from ..errors import BadInput
from ..store import Store
from ..stored import RunArtifacts, missing_folder
from .common import Web, check_id, image_side, json_response, row_of

router = APIRouter()
DIGITS = [str(i) for i in range(10)]


def reads_digits(r: dict) -> bool:
    """Was the run trained on digits: 8x8 or 28x28 images of ten classes named 0..9 (digits, mnist; not
    fashion-mnist, whose classes are clothes)? Only those are offered a canvas to draw a digit on."""
    data = (r.get("summary") or {}).get("data") or {}
    return image_side(data.get("input_shape")) is not None and [str(c) for c in data.get("class_names") or ()] == DIGITS


def image_run(store: Store, r: dict) -> dict | None:
    """A finished run with a saved model that reads 8x8 or 28x28 digits, as a row; else None.
    `ended_well`: its status says training ended well; `healthy`: that, and the doctor has no warning
    or error about its result either (analysis.health)."""
    if r["status"] == "running" or not reads_digits(r) or missing_folder(store, r["id"]) or \
            not RunArtifacts(store, r).has_model:
        return None
    side = image_side(r["summary"]["data"]["input_shape"])
    row = row_of(r)
    ended_well = STATUSES[r["status"]].healthy
    return {**row, "side": side, "ended_well": ended_well, "healthy": ended_well and not unhealthy(row)}


def image_runs(store: Store) -> list[dict]:
    """The image runs whose training ended well, newest first: what Try it offers (those the doctor
    warns about too: their labels say so, and the page warns when one is chosen)."""
    rows = (image_run(store, r) for r in store.list_runs(limit=500))
    return [row for row in rows if row and row["ended_well"]]


@router.get("/try", response_class=HTMLResponse)
def try_page(request: Request, web: Web, run: str = ""):
    """Try it: the newest healthy run by default (its status and the doctor's verdict both good, else the
    newest); ?run=ID (a run page's "try it" link) opens that run, even an unhealthy one (with a warning),
    or says why it cannot."""
    runs, problem = image_runs(web.store), None
    selected = next((r["id"] for r in runs if r["healthy"]), runs[0]["id"] if runs else "")
    if run:
        chosen = image_run(web.store, web.get_run(run))
        if chosen is None:
            problem = (f"run {run}: cannot be tried here (drawing needs a finished run with a saved "
                       "model of 8x8 or 28x28 images of the digits 0-9; mlplab predict takes any image run)")
        else:
            selected = chosen["id"]
            if chosen["id"] not in {r["id"] for r in runs}:
                runs.insert(0, chosen)
    return web.page(request, "try.html", runs=runs, selected=selected, problem=problem)


@router.post("/api/predict")
async def api_predict(web: Web, run: str = Form(...), image: UploadFile = File(...)):
    from ..predict import MAX_BYTES, run_model
    check_id(run)
    data = await image.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise BadInput(f"upload: larger than {MAX_BYTES // 2**20} MB; upload a smaller image")
    import anyio
    model = await anyio.to_thread.run_sync(run_model, web.store, run)
    result = await anyio.to_thread.run_sync(model.predict_image, data, image.filename or "upload")
    return json_response({**result.to_dict(), "warning": model.warning})   # a diverged run's model: one line
