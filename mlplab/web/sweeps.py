"""Sweeps (the list, a sweep's table, heatmap, analysis figures and curves, its JSON) and comparing chosen runs."""
from __future__ import annotations

import json

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ..analysis.health import with_health
from ..analysis.status import ranking_metric
from ..analysis.sweep_importance import importance
from ..errors import BadInput
from ..present.registry import SWEEP_REGISTRY
from ..spec.schema import SHORTHAND
from .common import Dashboard, NotFound, Web, check_id, clean_history, finite, json_response, row_of, value_text

router = APIRouter()
NOT_USED = "not used: model.layers"   # a compare cell of a key the run's model ignores


# ---------------------------------------------------------------- compare

def compare_doc(web: Dashboard, ids: list[str]) -> tuple[list[dict], dict]:
    """The runs named by ?run=ID&run=ID (or ?run=ID,ID) and their comparison."""
    from ..analysis.compare import comparison
    ids = [i for part in ids for i in part.split(",") if i]
    if len(ids) < 2:
        raise BadInput("compare: select at least two runs (?run=ID&run=ID)")
    if len(ids) > 12:
        raise BadInput(f"compare: {len(ids)} runs selected; compare at most 12")
    runs = [web.get_run(i) for i in ids]
    return runs, comparison(runs)


def shown_differences(runs: list[dict], differences: dict[str, list]) -> dict[str, list]:
    """The spec differences as the compare page shows them. A model written with `model.layers` ignores
    the shorthand keys (model.hidden, activation, dropout, batchnorm): for such a run the cell is
    NOT_USED, and the row is left out unless the other runs differ in it."""
    with_layers = [((r.get("spec") or {}).get("model") or {}).get("layers") is not None for r in runs]
    out = {}
    for key, values in differences.items():
        if any(with_layers) and key.startswith("model.") and key[len("model."):] in SHORTHAND:
            rest = {json.dumps(v, sort_keys=True) for v, layers in zip(values, with_layers) if not layers}
            if len(rest) <= 1:
                continue
            values = [NOT_USED if layers else v for v, layers in zip(values, with_layers)]
        out[key] = values
    return out


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, web: Web, run: list[str] | None = Query(None)):
    runs, doc = compare_doc(web, run or [])
    doc = {**doc, "differences": shown_differences(runs, doc["differences"])}
    return web.page(request, "compare.html", runs=runs, doc=doc, not_used=NOT_USED,
                    curves=[{"label": f"{r['id']} {r['name']}", "history": clean_history(r["history"])}
                            for r in runs])


@router.get("/api/compare")
def api_compare(web: Web, run: list[str] | None = Query(None)):
    runs, doc = compare_doc(web, run or [])
    return json_response({**doc, "histories": [clean_history(r["history"]) for r in runs]})


# ---------------------------------------------------------------- sweeps

@router.get("/sweeps", response_class=HTMLResponse)
def sweeps_page(request: Request, web: Web):
    return web.page(request, "sweeps.html", sweeps=sweep_rows(web, limit=200))


def sweep_rows(web: Dashboard, limit: int) -> list[dict]:
    """Each sweep with its member count, swept keys and best configuration (by its ranking metric)."""
    out = []
    for s in web.store.list_sweeps()[:limit]:
        sw = web.store.get_sweep(s["id"])
        summary = sw.get("summary") or {}
        rows = summary.get("rows") or []
        metric = summary.get("ranked_by") or ranking_metric(rows)
        best = summary.get("best") or (rows[0] if rows else None) or {}
        out.append({**s, "members": len(sw["runs"]), "configurations": len(rows), "keys": summary.get("keys") or [],
                    "metric": metric, "best": finite(best.get(metric)), "best_values": best.get("values") or {}})
    return out


@router.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
def sweep_page(request: Request, sweep_id: str, web: Web):
    sw = web.store.get_sweep(check_id(sweep_id, "sweep"))
    summary = sw.get("summary") or {}
    keys, rows = summary.get("keys") or [], with_health(summary.get("rows") or [], sw["runs"])
    curves = [{"label": f"{r['id']} {r['name']}", "history": clean_history(web.store.history(r["id"]))}
              for r in sw["runs"][:30]]
    ranked_by = summary.get("ranked_by") or ranking_metric(rows)
    imp = importance(rows, keys, ranked_by).as_dict() if keys and rows else None
    return web.page(request, "sweep.html", sweep=sw, keys=keys, rows=rows, heat=heatmap(keys, rows),
                    curves=curves, note=summary.get("note"), ranked_by=ranked_by, importance=imp,
                    figures=SWEEP_REGISTRY.values() if keys and rows else ())


@router.get("/sweeps/{sweep_id}/figures/{name}.png")
def sweep_figure_png(sweep_id: str, name: str, web: Web):
    """A figure of the sweep's registry (parallel coordinates, importance, slices), drawn from its table."""
    from ..present.registry import sweep_figure
    from ..present.stored_figure import render_png   # matplotlib only when a figure is drawn
    sw = web.store.get_sweep(check_id(sweep_id, "sweep"))
    if name not in SWEEP_REGISTRY:
        raise NotFound(f"sweep figure {name!r}: expected one of {', '.join(SWEEP_REGISTRY)}")
    summary = sw.get("summary") or {}
    rows = summary.get("rows") or []
    if not rows or not summary.get("keys"):
        raise NotFound(f"sweep {sw['id']}: no configurations with results to draw")
    fig = sweep_figure(name, rows, summary["keys"], summary.get("ranked_by") or ranking_metric(rows))
    return Response(render_png(fig), media_type="image/png", headers={"Cache-Control": "max-age=60"})


@router.get("/api/sweeps/{sweep_id}")
def api_sweep(sweep_id: str, web: Web):
    sw = web.store.get_sweep(check_id(sweep_id, "sweep"))
    with_health((sw.get("summary") or {}).get("rows") or [], sw["runs"])   # the verdicts the runs carry now
    sw["runs"] = [row_of(r) for r in sw["runs"]]
    return json_response(sw)


def heatmap(keys: list[str], rows: list[dict]) -> dict | None:
    """A 2-key sweep as a grid of the validation (else test) accuracy."""
    if len(keys) != 2 or not rows:
        return None
    metric = ranking_metric(rows)

    def value(r: dict, key: str) -> str:
        return value_text(r.get(key, (r.get("values") or {}).get(key)))
    xs = list(dict.fromkeys(value(r, keys[1]) for r in rows))
    ys = list(dict.fromkeys(value(r, keys[0]) for r in rows))
    grid = {(value(r, keys[0]), value(r, keys[1])): r.get(metric) for r in rows}
    return {"metric": metric, "x_key": keys[1], "y_key": keys[0], "xs": xs, "ys": ys,
            "cells": [[finite(grid.get((y, x))) for x in xs] for y in ys]}
