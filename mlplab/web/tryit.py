"""Try it: draw a digit (or upload an image) and see what a run's model makes of it."""
from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from ..analysis.status import STATUSES
from ..errors import BadInput
from ..store import Store
from .common import Web, check_id, image_side, json_response, row_of

router = APIRouter()


def image_runs(store: Store) -> list[dict]:
    """Healthy finished runs with a saved model whose input is an 8x8 or 28x28 image."""
    out = []
    for r in store.list_runs(limit=500):
        data = (r.get("summary") or {}).get("data") or {}
        side = image_side(data.get("input_shape"))
        if STATUSES[r["status"]].healthy and r["status"] != "running" and side \
                and (store.artifacts / r["id"] / "model.keras").is_file():
            out.append({**row_of(r), "side": side})
    return out


@router.get("/try", response_class=HTMLResponse)
def try_page(request: Request, web: Web, run: str = ""):
    runs = image_runs(web.store)
    return web.page(request, "try.html", runs=runs, selected=run or (runs[0]["id"] if runs else ""))


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
