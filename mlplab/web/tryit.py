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


def image_run(store: Store, r: dict) -> dict | None:
    """A finished run with a saved model whose input is an 8x8 or 28x28 image, as a row; else None.
    `ended_well`: its status says training ended well; `healthy`: that, and the doctor has no warning
    or error about its result either (analysis.health)."""
    data = (r.get("summary") or {}).get("data") or {}
    side = image_side(data.get("input_shape"))
    if r["status"] == "running" or not side or missing_folder(store, r["id"]) or not RunArtifacts(store, r).has_model:
        return None
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
            problem = f"run {run}: cannot be tried here (it needs a finished run with a saved model of 8x8 or 28x28 images)"
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
    return json_response(result.to_dict())
