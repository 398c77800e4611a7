"""Names, tags, notes and deleting, from the dashboard (the store checks every value: store.labels).

    POST /runs/{id}/labels      name, tags (typed: 'keep, best'), note: the run page's form
    POST /runs/{id}/delete      the run page's Delete (its rows and folder; refused while it runs)
    POST /api/runs/tag          run=ID (repeated), tag=TAG (one): the runs list's "Tag selected"
    POST /api/runs/delete       run=ID (repeated): the runs list's "Delete selected"

All of them pass the dashboard's CSRF and Origin checks (web/security.py), as every POST does.
"""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from ..errors import BadInput
from ..store.labels import check_tags, split_tags
from .common import Web, check_id, json_response

router = APIRouter()


async def form_of(request: Request) -> FormData:
    try:
        return await request.form()
    except Exception:   # a body that is no form: the fields are simply missing
        return FormData()


def text_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def picked(form: FormData) -> list[str]:
    ids = [check_id(v) for v in form.getlist("run") if isinstance(v, str)]
    if not ids:
        raise BadInput("run: select at least one run")
    return ids


@router.post("/runs/{run_id}/labels")
async def save_labels(request: Request, run_id: str, web: Web):
    run = web.get_run(run_id)
    form = await form_of(request)
    name, tags, note = (text_field(form, k) for k in ("name", "tags", "note"))
    if name is not None and name.strip() != run["name"]:
        web.store.rename("run", run["id"], name)
    if tags is not None:
        web.store.set_tags("run", run["id"], split_tags(tags))
    if note is not None:
        web.store.note("run", run["id"], note)
    return RedirectResponse(f"/runs/{run['id']}", status_code=303)


@router.post("/runs/{run_id}/delete")
def delete_run(run_id: str, web: Web):
    run = web.get_run(run_id)
    web.store.delete_runs([run["id"]])
    return RedirectResponse("/", status_code=303)


@router.post("/api/runs/tag")
async def tag_runs(request: Request, web: Web):
    form = await form_of(request)
    ids = [web.store.resolve(i) for i in picked(form)]   # every one exists before any is tagged
    tags = check_tags([text_field(form, "tag") or ""])
    return json_response({"tags": {i: web.store.tag("run", i, add=tags) for i in ids}})


@router.post("/api/runs/delete")
async def delete_runs(request: Request, web: Web):
    ids = picked(await form_of(request))
    return json_response({"deleted": web.store.delete_runs(ids)})
