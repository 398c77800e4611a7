"""Runs: the runs table, a run's page and JSON, its confusion cells, figures, files and report."""
from __future__ import annotations

import io
from pathlib import Path

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ..analysis.status import run_row
from ..errors import BadInput
from ..present.registry import FIGURE_NAMES, applicable, entry
from ..store import Store
from ..store.artifacts import HISTORY, INITIAL_WEIGHTS, MODEL, MODEL_SUMMARY, PREDICTIONS, SPEC, STATS
from ..stored.artifacts import read_progress
from .common import NotFound, Web, clean_history, finite, json_response, row_of, safe_artifact
from .live import live_line
from .tryit import reads_digits
from .repair import page_context as repair_context

DOWNLOADS = (SPEC, MODEL, HISTORY, PREDICTIONS, STATS, MODEL_SUMMARY)
# The registry's figures a run page shows (when they apply to the run; the curves and the confusion
# matrix are drawn by the page itself), and the file each needs beyond what the registry checks.
PAGE_FIGURES = ("mistakes", "training-statistics", "weights", "first-layer-weights", "hidden-representation",
                "decision-regions")
NEEDS_FILE = {"mistakes": PREDICTIONS, "training-statistics": STATS, "weights": INITIAL_WEIGHTS}
MAX_CELL_IMAGES = 120

router = APIRouter()


# ---------------------------------------------------------------- the runs table

def filtered_runs(store: Store, status=None, dataset=None, sweep=None, q=None, sort=None, desc=True,
                  limit=None, tag=None) -> list[dict]:
    sweep_id = store.resolve_sweep(sweep) if sweep else None
    rows = [row_of(r) for r in store.list_runs(status=status or None, dataset=dataset or None, sweep_id=sweep_id,
                                               tag=tag or None)]
    if q:
        ql = q.lower()
        rows = [r for r in rows if any(ql in str(r.get(k) or "").lower()
                                       for k in ("id", "name", "dataset", "model", "optimizer", "note"))]
    if sort:
        if sort not in rows[0] if rows else False:
            raise BadInput(f"sort {sort!r}: expected one of {', '.join(run_row({}).keys())}")
        rows.sort(key=lambda r: (r.get(sort) is None, r.get(sort) if r.get(sort) is not None else 0),
                  reverse=bool(desc))
    return rows[:limit] if limit else rows


@router.get("/", response_class=HTMLResponse)
def runs_page(request: Request, web: Web, status: str = "", dataset: str = "", sweep: str = "", q: str = "",
              tag: str = ""):
    rows = filtered_runs(web.store, status, dataset, sweep, q, tag=tag)
    everything = web.store.list_runs()
    return web.page(request, "runs.html", runs=rows, filters={"status": status, "dataset": dataset,
                                                                "sweep": sweep, "q": q, "tag": tag},
                    tags=web.store.all_tags(),
                    datasets=sorted({r["dataset"] for r in everything}),
                    statuses=sorted({r["status"] for r in everything}),
                    sweeps=web.store.list_sweeps())


@router.get("/api/runs")
def api_runs(web: Web, status: str = "", dataset: str = "", sweep: str = "", q: str = "", sort: str = "",
             desc: bool = True, limit: int | None = None, tag: str = ""):
    return json_response(filtered_runs(web.store, status, dataset, sweep, q, sort, desc, limit, tag))


# ---------------------------------------------------------------- one run

@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str, web: Web):
    from ..analysis.doctor import diagnose
    from ..stored import load_stats
    run = web.get_run(run_id)
    if run["status"] == "running":
        return RedirectResponse(f"/runs/{run['id']}/live", status_code=303)
    from ..stored import RunArtifacts
    findings = diagnose(run, load_stats(web.store, run["id"]))
    folder = web.store.artifacts / run["id"]
    has_model = RunArtifacts(web.store, run).has_model   # a sweep member's model.keras is made when asked for
    downloads = [n for n in DOWNLOADS if (folder / n).is_file() or (n == MODEL and has_model)]
    return web.page(request, "run.html", run=run, findings=findings, downloads=downloads,
                    spec_text=yaml.safe_dump(run.get("spec") or {}, sort_keys=False),
                    history=clean_history(run["history"]), digits=reads_digits(run), figures=page_figures(web.store, run),
                    has_model=has_model, **repair_context(web, run, findings))


def page_figures(store: Store, run: dict) -> list[tuple[str, str]]:
    """(name, caption) of the figures this run's page shows: those of PAGE_FIGURES that apply to it."""
    from ..stored import RunArtifacts
    folder = store.artifacts / run["id"]
    names = applicable(RunArtifacts(store, run))
    return [(n, entry(n).caption) for n in PAGE_FIGURES
            if n in names and (n not in NEEDS_FILE or (folder / NEEDS_FILE[n]).is_file())]


@router.get("/api/runs/{run_id}")
def api_run(run_id: str, web: Web):
    from ..analysis.doctor import diagnose
    from ..stored import load_stats
    run = web.get_run(run_id)
    findings = diagnose(run, load_stats(web.store, run["id"])) if run["status"] != "running" else []
    return json_response({**{k: finite(v) if isinstance(v, float) else v for k, v in run.items() if k != "history"},
                          "history": clean_history(run["history"]), "findings": [f.to_dict() for f in findings]})


@router.get("/api/runs/{run_id}/history")
def api_history(run_id: str, web: Web):
    run = web.get_run(run_id)
    epochs = ((run.get("spec") or {}).get("train") or {}).get("epochs")
    history = clean_history(run["history"])
    progress = read_progress(web.store, run["id"]) if run["status"] == "running" else None
    return json_response({"id": run["id"], "name": run["name"], "status": run["status"], "error": run.get("error"),
                          "epochs_run": run.get("epochs_run"), "epochs": epochs,
                          "result_epoch": ((run.get("summary") or {}).get("result") or {}).get("epoch"),
                          "test_accuracy": finite(run.get("test_accuracy")), "history": history, "progress": progress,
                          "line": live_line(run["id"], run["status"], history, epochs, progress)})


# ---------------------------------------------------------------- the confusion matrix and its cells

@router.get("/api/runs/{run_id}/confusion")
def api_confusion(run_id: str, web: Web):
    run = web.get_run(run_id)
    ev = (run.get("summary") or {}).get("evaluation") or {}
    if not ev.get("confusion_matrix"):
        raise NotFound(f"run {run['id']}: has no evaluation (status {run['status']})")
    names = ((run.get("summary") or {}).get("data") or {}).get("class_names") or \
        [str(i) for i in range(len(ev["confusion_matrix"]))]
    return json_response({"class_names": names, "matrix": ev["confusion_matrix"]})


@router.get("/api/runs/{run_id}/cell")
def api_cell(run_id: str, true: int, pred: int, web: Web, limit: int = 60):
    import numpy as np
    run = web.get_run(run_id)
    probs, y_true = predictions(web.store, run["id"])
    n_classes = probs.shape[1] if probs.ndim == 2 else 2
    if not (0 <= true < n_classes and 0 <= pred < n_classes):
        raise BadInput(f"cell ({true}, {pred}): expected classes 0..{n_classes - 1}")
    p = probs if probs.ndim == 2 and probs.shape[1] > 1 else np.stack([1 - probs.ravel(), probs.ravel()], 1)
    y_pred = p.argmax(axis=1)
    idx = np.where((y_true == true) & (y_pred == pred))[0]
    limit = max(1, min(int(limit), MAX_CELL_IMAGES))
    data = web.data.of_run(run)
    shape = data.info.image_shape
    return json_response({"true": true, "pred": pred, "count": int(len(idx)), "indices": idx[:limit].tolist(),
                          "confidence": [round(float(p[i, pred]), 4) for i in idx[:limit]],
                          "shape": list(shape) if shape else None, "images": cell_images(data, idx[:limit])})


def predictions(store: Store, run_id: str):
    """A run's stored test probabilities and true classes."""
    import numpy as np
    path = safe_artifact(store, run_id, PREDICTIONS)
    with np.load(path, allow_pickle=False) as z:
        return z["probabilities"], z["y_true"]


def cell_images(data, indices) -> list:
    """Test images as 0..255 integer grids ([] for data that are not images)."""
    import numpy as np
    shape = data.info.image_shape
    if shape is None:
        return []
    x = data.x_test[indices].reshape(-1, *shape)
    lo, hi = float(data.x_test.min()), float(data.x_test.max())
    return np.round((x - lo) / ((hi - lo) or 1) * 255).astype(int).tolist()


# ---------------------------------------------------------------- figures, files, the report

@router.get("/runs/{run_id}/figures/{name}.png")
def figure(run_id: str, name: str, web: Web):
    from ..present.report import figure_for
    from ..stored import RunArtifacts
    run = web.get_run(run_id)
    if name not in FIGURE_NAMES:
        raise NotFound(f"figure {name!r}: expected one of {', '.join(FIGURE_NAMES)}")
    if run["status"] in ("running",):
        raise NotFound(f"run {run['id']}: still running; figures appear when it ends")
    art = RunArtifacts(web.store, run)
    if name not in applicable(art):
        raise NotFound(f"figure {name} of run {run['id']}: does not apply to this run "
                       f"(its figures: {', '.join(applicable(art))})")
    try:  # figures are plain matplotlib Figures: no pyplot state, no lock between requests
        fig = figure_for(art, name)
    except (FileNotFoundError, KeyError) as e:
        raise NotFound(f"figure {name} of run {run['id']}: not available ({e})") from None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    return Response(buf.getvalue(), media_type="image/png", headers={"Cache-Control": "max-age=60"})


@router.get("/runs/{run_id}/files/{name:path}")
def artifact(run_id: str, name: str, web: Web):
    from ..stored import RunArtifacts, model_file
    run = web.get_run(run_id)
    if name == MODEL and run["status"] != "running" and RunArtifacts(web.store, run).has_model:
        try:   # a sweep member's model.keras is made from its stored weights on first download
            model_file(web.store, run)
        except OSError as e:
            raise NotFound(f"model.keras of run {run['id']}: cannot be written ({e.strerror or e})") from None
    path = safe_artifact(web.store, run["id"], name)
    return FileResponse(path, filename=f"{run['id']}-{path.name}",
                        media_type="text/plain" if path.suffix in (".yaml", ".csv", ".txt") else None)


@router.get("/runs/{run_id}/report", response_class=HTMLResponse)
def report(run_id: str, web: Web):
    from ..present.report import write_report
    run = web.get_run(run_id)
    path = write_report(web.store, run["id"])
    return HTMLResponse(Path(path).read_text(encoding="utf-8"))
