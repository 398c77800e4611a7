"""A stored sweep -> one self-contained HTML report.

    path = write_sweep_report(store, "last")     # <store home>/sweeps/<sweep id>/report.html

Sections (SWEEP_SECTIONS): summary and best configuration, the comparison table (best
first), the seed-noise verdict, a heatmap when two keys vary, parallel coordinates, parameter
importance and slices (present.registry's sweep figures), overlaid learning curves,
mean ± spread over repeats, every member run with a relative link to its own report, the spec.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..analysis.health import with_health
from ..analysis.status import ranking_metric
from ..analysis.sweep_importance import value_id
from ..spec.sweep import fmt, short
from ..store import Store
from .html import figure_html, macros, number_text, page, write_atomically

MAX_CURVES = 12

@dataclass
class SweepPage:
    """What the sections of one sweep's report are built from."""
    store: Store
    sweep: dict
    out_dir: Path                 # where the page is written: links to run reports are relative to it

    def __post_init__(self):
        summary = self.sweep.get("summary") or {}
        self.summary = summary
        # the doctor's verdicts as the runs carry them now (store.health), not as when the sweep ended
        self.rows: list[dict] = with_health(summary.get("rows") or [], self.sweep.get("runs") or [])
        self.spec: dict = self.sweep.get("spec") or {}
        self.keys: list[str] = summary.get("keys") or list(((self.spec.get("sweep") or {}).get("grid") or {}))
        self.runs_by_id = {r["id"]: r for r in self.sweep.get("runs") or []}
        self.n_runs = max((len(r["runs"]) for r in self.rows), default=0)   # runs per configuration
        self.metric = ranking_metric(self.rows)
        self.best = self.rows[0] if self.rows else None
        # swept keys and configurations with results: the analysis figures (parallel coordinates, importance,
        # slices) have something to draw
        self.analysable = bool(self.keys and self.rows)

    def histories(self) -> dict[str, dict]:
        """Each run's history, read from the store once."""
        if not hasattr(self, "_histories"):
            self._histories = {rid: self.store.history(rid) for r in self.rows for rid in r["runs"]
                               if rid in self.runs_by_id}
        return self._histories


# ---------------------------------------------------------------- formatting

def config_label(values: dict, *, rank: int | None = None) -> str:
    text = " ".join(f"{short(k)}={fmt(v)}" for k, v in values.items())
    return f"#{rank} {text}" if rank is not None else text


def _config_value(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt(x)}" for k, x in v.items())
    return fmt(v)


def mean_spread(mean, std, n_runs: int) -> tuple[str, str | None]:
    """A mean and its spread over repeats as text: ('0.9371', '0.0099') for several runs, ('0.9371', None)
    for one, ('NaN', None) when not finite (a diverged run), ('–', None) when missing."""
    try:
        m = float(mean)
    except (TypeError, ValueError):
        return "–", None
    if not math.isfinite(m):
        return "NaN", None
    several = n_runs > 1 and std is not None and math.isfinite(float(std))
    return f"{m:.4f}", (f"{float(std):.4f}" if several else None)


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _heatmap_axes(rows: list[dict], keys: list[str]) -> tuple[str, str]:
    """Numbers (a learning rate) along x, names (an optimizer) down y; else the sweep's key order."""
    numeric = [k for k in keys if all(isinstance(r["values"].get(k), (int, float))
                                      and not isinstance(r["values"].get(k), bool) for r in rows)]
    if len(numeric) == 1:
        return numeric[0], next(k for k in keys if k != numeric[0])
    return keys[1], keys[0]


# ---------------------------------------------------------------- the sections: (title, body) or None

def summary_facts(p: SweepPage) -> list[tuple[str, object]]:
    """The sweep's facts, as its report's summary lists them (the HTML report and the PDF)."""
    sweep, spec, best = p.sweep, p.spec, p.best
    first_run = next(iter(p.runs_by_id.values()), {})
    sweep_cfg = spec.get("sweep") or {}
    repeat_word = (f"{sweep_cfg.get('repeats', 1)} repeat(s)"
                   + (f" × {sweep_cfg['folds']} folds" if sweep_cfg.get("folds") else ""))
    rows = [("sweep", sweep["id"]), ("name", sweep.get("name")), ("status", sweep.get("status") or ""),
            ("varying keys", ", ".join(p.keys) or "–"),
            ("configurations", f"{len(p.rows)} ({repeat_word} each)"),
            ("runs", f"{len(p.runs_by_id)} stored runs"),
            ("dataset", first_run.get("dataset") or (spec.get("data") or {}).get("dataset", "digits")),
            ("model", f"{first_run.get('model') or '?'}"
                      + (f" · {number_text(best['params'])} parameters" if best else "")),
            ("training time", f"{number_text(p.summary.get('seconds'), 3)} s for the whole sweep"),
            ("created", sweep.get("created"))]
    return rows


def _summary(p: SweepPage) -> tuple[str, str]:
    sweep, best, rows = p.sweep, p.best, summary_facts(p)
    best_facts = None
    if best:
        m, n = p.metric, len(best["runs"])
        best_facts = {"label": config_label(best["values"]), "metric": m.replace("_", " "), "n": n,
                      "score": mean_spread(best.get(m), best.get(m + "_std"), n),
                      "test": mean_spread(best.get("test_accuracy"), best.get("test_accuracy_std"), n)}
    return "Summary", macros("sweep.html.j2").summary(best_facts, rows, sweep.get("status"))


def _table_row(p: SweepPage, r: dict) -> dict:
    k = len(r["runs"])
    return {"is_best": r is p.best, "rank": r.get("rank", ""), "runs": r["runs"], "verdict": r,
            "config": [_config_value(r["values"].get(key)) for key in p.keys],
            "accuracies": [mean_spread(r.get(s + "_accuracy"), r.get(s + "_accuracy_std"), k)
                           for s in ("train", "val", "test")],
            "best_epoch": r.get("best_epoch"), "status": r.get("status", ""), "seconds": r.get("seconds"),
            "params": r.get("params")}


def _table(p: SweepPage) -> tuple[str, str]:
    ranked = ("validation accuracy" if p.metric == "val_accuracy"
              else "test accuracy (the sweep has no validation split)")
    rows = [_table_row(p, r) for r in p.rows]
    return (f"Comparison ({len(p.rows)} configurations)",
            macros("sweep.html.j2").table(ranked, [short(k) for k in p.keys], rows))


def noise_case(p: SweepPage) -> str:
    """What the seed-noise section says: the verdict's kind (larger, within), or why there is none."""
    note = p.summary.get("note")
    if note:
        return "larger" if "larger than" in note else "within"
    if p.n_runs > 1:
        return "one configuration" if len(p.rows) < 2 else "no spread"
    return "one run"


def _noise(p: SweepPage) -> tuple[str, str]:
    return "Differences vs seed noise", macros("sweep.html.j2").noise(
        noise_case(p), p.summary.get("note"), p.metric.replace("_", " "))


def heatmap_grid(p: SweepPage) -> tuple[str, str, int, int] | None:
    """(x key, y key, values on x, values on y) when exactly two keys vary, else None."""
    if len(p.keys) != 2 or not p.rows:
        return None
    kx, ky = _heatmap_axes(p.rows, p.keys)
    return (kx, ky, len({value_id(r["values"].get(kx)) for r in p.rows}),
            len({value_id(r["values"].get(ky)) for r in p.rows}))


def heatmap_figure(p: SweepPage):
    from . import figures   # matplotlib only when a sweep report is drawn
    kx, ky, _, _ = heatmap_grid(p)
    return figures.sweep_heatmap(p.rows, kx, ky, p.metric)


def curves_shown(p: SweepPage) -> tuple[dict, list[dict]]:
    """(the runs' histories, the configurations whose first run has one: the best MAX_CURVES)."""
    histories = p.histories()
    return histories, [r for r in p.rows if r["runs"] and r["runs"][0] in histories][:MAX_CURVES]


def curves_figure(p: SweepPage):
    from . import figures
    histories, shown = curves_shown(p)
    which = "Validation" if p.metric == "val_accuracy" else "Training"
    return figures.overlaid_curves([histories[r["runs"][0]] for r in shown],
                                   [config_label(r["values"], rank=r.get("rank")) for r in shown],
                                   title=f"{which} curves of {len(shown)} configurations")


def spread_figure(p: SweepPage):
    from . import figures
    points = [[((p.runs_by_id[rid].get("summary") or {}).get("result") or {}).get(p.metric, math.nan)
               for rid in r["runs"] if rid in p.runs_by_id] for r in p.rows]
    return figures.sweep_spread(p.rows, p.metric, labels=[config_label(r["values"], rank=r.get("rank"))
                                                          for r in p.rows], points=points)


def analysis_figure(name: str):
    def draw(p: SweepPage):
        from .registry import sweep_figure   # matplotlib only when a sweep report is drawn
        return sweep_figure(name, p.rows, p.keys, p.metric)
    return draw


def sweep_figures(p: SweepPage) -> list[tuple[str, object]]:
    """(caption, draw(page)) of every figure the sweep's report shows, in its order: one list for the HTML
    report and the PDF."""
    grid = heatmap_grid(p)
    return [(caption, draw) for caption, draw, shown in (
        ("heatmap", heatmap_figure, grid is not None and grid[2] <= 20 and grid[3] <= 20),
        ("parallel coordinates", analysis_figure("parallel-coordinates"), p.analysable),
        ("parameter importance", analysis_figure("importance"), p.analysable),
        ("slices", analysis_figure("slices"), p.analysable),
        ("overlaid learning curves", curves_figure, bool(curves_shown(p)[1])),
        ("spread", spread_figure, p.n_runs > 1)) if shown]


def _heatmap(p: SweepPage) -> tuple[str, str] | None:
    """Only when exactly two keys vary and they form a grid."""
    grid = heatmap_grid(p)
    if grid is None:
        return None
    kx, ky, nx, ny = grid
    ui = macros("sweep.html.j2")
    if nx > 20 or ny > 20:
        return "Heatmap", ui.too_sparse(nx, ny)
    figure = figure_html(lambda: heatmap_figure(p), "heatmap", width=max(520, 110 * nx + 300))
    return "Heatmap", ui.heatmap(p.metric.replace("_", " "), kx, ky, figure)


def _analysis_figure(p: SweepPage, name: str, caption: str) -> str:
    return figure_html(lambda: analysis_figure(name)(p), caption)


def _parallel(p: SweepPage) -> tuple[str, str] | None:
    if not p.analysable:
        return None
    return "Parallel coordinates", macros("sweep.html.j2").parallel(
        p.metric.replace("_", " "), _analysis_figure(p, "parallel-coordinates", "parallel coordinates"))


def _importance(p: SweepPage) -> tuple[str, str] | None:
    from ..analysis.sweep_importance import importance
    if not p.analysable:
        return None
    return "Parameter importance", macros("sweep.html.j2").importance(
        importance(p.rows, p.keys, p.metric).as_dict(), _analysis_figure(p, "importance", "parameter importance"))


def _slices(p: SweepPage) -> tuple[str, str] | None:
    if not p.analysable:
        return None
    return "Slices", macros("sweep.html.j2").slices(p.metric.replace("_", " "),
                                                     _analysis_figure(p, "slices", "slices"))


def _curves(p: SweepPage) -> tuple[str, str] | None:
    """The first run (seed) of each configuration, the best MAX_CURVES configurations."""
    _, shown = curves_shown(p)
    if not shown:
        return None
    which = "Validation" if p.metric == "val_accuracy" else "Training (no validation split)"
    figure = figure_html(lambda: curves_figure(p), "overlaid learning curves")
    return "Learning curves", macros("sweep.html.j2").curves(which, len(shown), len(p.rows), figure)


def _spread(p: SweepPage) -> tuple[str, str] | None:
    """Only with several runs per configuration (repeats or folds)."""
    if p.n_runs <= 1:
        return None
    figure = figure_html(lambda: spread_figure(p), "spread")
    return "Spread over repeats", macros("sweep.html.j2").spread(p.metric.replace("_", " "), figure)


def _run_row(p: SweepPage, rid: str, run: dict, cfg: dict | None) -> dict:
    target = p.store.artifacts / rid / "report.html"
    return {"id": rid, "config": config_label(cfg["values"], rank=cfg.get("rank")) if cfg else "–",
            "seed": (run.get("spec") or {}).get("seed", "–"), "status": run.get("status") or "", "verdict": run,
            "epochs": run.get("epochs_run"), "best_epoch": run.get("best_epoch"),
            "test_accuracy": run.get("test_accuracy"), "href": _rel(target, p.out_dir), "written": target.exists()}


def _runs(p: SweepPage) -> tuple[str, str]:
    """Every run, in table order (then any run of no configuration), with its own report."""
    config_of = {rid: r for r in p.rows for rid in r["runs"]}
    ordered = [rid for r in p.rows for rid in r["runs"]] + [rid for rid in p.runs_by_id if rid not in config_of]
    rows = [_run_row(p, rid, p.runs_by_id[rid], config_of.get(rid)) for rid in ordered if rid in p.runs_by_id]
    return f"Runs ({len(rows)})", macros("sweep.html.j2").runs(rows)


def _spec(p: SweepPage) -> tuple[str, str]:
    return "Spec", macros("common.html.j2").preformatted(yaml.safe_dump(p.spec, sort_keys=False))


BUILDERS = {"summary": _summary, "table": _table, "noise": _noise, "heatmap": _heatmap, "parallel": _parallel,
            "importance": _importance, "slices": _slices, "curves": _curves,
            "spread": _spread, "runs": _runs, "spec": _spec}
SWEEP_SECTIONS = tuple(BUILDERS)


def build_sweep_html(store: Store, sweep: dict, out_dir: Path) -> str:
    """The report of a sweep as one HTML page (links to run reports relative to `out_dir`)."""
    p = SweepPage(store, sweep, Path(out_dir))
    parts = []
    for sid, build in BUILDERS.items():
        made = build(p)
        if made is not None:
            parts.append((sid, *made))
    return page("sweep", sweep["id"], sweep.get("name"), parts, ["report.css", "sweep.css"])


def write_sweep_report(store: Store, sweep_ref: str, out_path: str | Path | None = None) -> Path:
    """Write a sweep's HTML report; default path: `<store home>/sweeps/<sweep id>/report.html`.

    Self-contained like the run report: the comparison table (best first), the seed-noise
    verdict, a heatmap when two keys vary, overlaid validation curves, mean ± spread over
    repeats, and relative links to every member run's own report.
    """
    sweep = store.get_sweep(sweep_ref)
    out = Path(out_path) if out_path is not None else store.home / "sweeps" / sweep["id"] / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = build_sweep_html(store, sweep, out.parent.resolve())
    return write_atomically(out, text)
