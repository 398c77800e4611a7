"""A stored sweep -> one self-contained HTML report.

    path = write_sweep_report(store, "last")     # <store home>/sweeps/<sweep id>/report.html

Sections (SWEEP_SECTIONS): summary and best configuration, the comparison table (best
first), the seed-noise verdict, a heatmap when two keys vary, overlaid learning curves,
mean ± spread over repeats, every member run with a relative link to its own report, the spec.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..analysis.health import with_health
from ..analysis.status import ranking_metric
from ..spec.sweep import fmt, short
from ..store import Store
from .html import CSS, esc, figure_html, health_span, num, page, status_span, write_atomically

MAX_CURVES = 12

SWEEP_CSS = """
table.grid tr.best td{background:#eaf6ec;font-weight:600} table.grid td:first-child,table.grid th:first-child{padding-left:10px}
table.grid tr.best td:first-child{box-shadow:inset 4px 0 #1a7f37}
.pm{color:#7a808c;font-weight:400;font-size:12px} .verdict{font-size:15px;padding:10px 14px;border-radius:6px;margin:12px 0}
.verdict.larger{background:#eaf6ec;border-left:6px solid #1a7f37} .verdict.within{background:#fffbea;border-left:6px solid #d4a72c}
.verdict.none{background:#f3f8ff;border-left:6px solid #3b82f6} td.finding-cell{max-width:260px;font-size:12.5px} td code{white-space:nowrap}
.best-name{font-size:16px;font-weight:600} a{color:#2457c5}
"""


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

    def histories(self) -> dict[str, dict]:
        return {rid: self.store.history(rid) for r in self.rows for rid in r["runs"] if rid in self.runs_by_id}


# ---------------------------------------------------------------- formatting

def config_label(values: dict, *, rank: int | None = None) -> str:
    text = " ".join(f"{short(k)}={fmt(v)}" for k, v in values.items())
    return f"#{rank} {text}" if rank is not None else text


def _config_value(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt(x)}" for k, x in v.items())
    return fmt(v)


def _pm(mean, std, n_runs: int) -> str:
    """'0.9371 ± 0.0099' for several runs, '0.9371' for one, 'NaN' when missing."""
    try:
        m = float(mean)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(m):
        return '<span class="status-diverged">NaN</span>'
    text = f"{m:.4f}"
    if n_runs > 1 and std is not None and math.isfinite(float(std)):
        text += f' <span class="pm">± {float(std):.4f}</span>'
    return text


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _json_key(v) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _heatmap_axes(rows: list[dict], keys: list[str]) -> tuple[str, str]:
    """Numbers (a learning rate) along x, names (an optimizer) down y; else the sweep's key order."""
    numeric = [k for k in keys if all(isinstance(r["values"].get(k), (int, float))
                                      and not isinstance(r["values"].get(k), bool) for r in rows)]
    if len(numeric) == 1:
        return numeric[0], next(k for k in keys if k != numeric[0])
    return keys[1], keys[0]


# ---------------------------------------------------------------- the sections: (title, body) or None

def _summary(p: SweepPage) -> tuple[str, str]:
    sweep, spec, best = p.sweep, p.spec, p.best
    first_run = next(iter(p.runs_by_id.values()), {})
    sweep_cfg = spec.get("sweep") or {}
    repeat_word = (f"{sweep_cfg.get('repeats', 1)} repeat(s)"
                   + (f" × {sweep_cfg['folds']} folds" if sweep_cfg.get("folds") else ""))
    items = [("sweep", sweep["id"]), ("name", sweep.get("name")),
             ("status", status_span(sweep.get("status") or "")),
             ("varying keys", ", ".join(p.keys) or "–"),
             ("configurations", f"{len(p.rows)} ({repeat_word} each)"),
             ("runs", f"{len(p.runs_by_id)} stored runs"),
             ("dataset", first_run.get("dataset") or (spec.get("data") or {}).get("dataset", "digits")),
             ("model", f"{first_run.get('model') or '?'}" + (f" · {num(best['params'])} parameters" if best else "")),
             ("training time", f"{num(p.summary.get('seconds'), 3)} s for the whole sweep"),
             ("created", sweep.get("created"))]
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{v if k == 'status' else esc(v)}</td></tr>" for k, v in items)
    if best:
        m, n = p.metric, len(best["runs"])
        best_text = (f'<p class="best-name">Best configuration: {esc(config_label(best["values"]))}</p>'
                     f"<p class='sub'>{esc(m.replace('_', ' '))} {_pm(best.get(m), best.get(m + '_std'), n)}"
                     f" · test accuracy {_pm(best.get('test_accuracy'), best.get('test_accuracy_std'), n)}"
                     f" · mean of {n} run(s)</p>")
    else:
        best_text = (f'<p class="note">No results stored: the sweep ended with status '
                     f'{esc(sweep.get("status"))}.</p>')
    return "Summary", best_text + f"<table>{cells}</table>"


def _table_row(p: SweepPage, r: dict) -> str:
    k = len(r["runs"])
    links = " ".join(f'<a href="#run-{esc(rid)}">{i + 1}</a>' for i, rid in enumerate(r["runs"]))
    return (f'<tr class="{"best" if r is p.best else ""}"><td class="num">{esc(r.get("rank", ""))}</td>'
            + "".join(f"<td>{esc(_config_value(r['values'].get(key)))}</td>" for key in p.keys)
            + "".join(f'<td class="num">{_pm(r.get(s + "_accuracy"), r.get(s + "_accuracy_std"), k)}</td>'
                      for s in ("train", "val", "test"))
            + f'<td class="num">{num(r.get("best_epoch"), 3)}</td><td>{status_span(r.get("status", ""))}</td>'
              f'<td class="num">{num(r.get("seconds"), 3)}</td><td class="num">{num(r.get("params"))}</td>'
              f'<td class="finding-cell">{health_span(r)}</td><td>{links}</td></tr>')


def _table(p: SweepPage) -> tuple[str, str]:
    title = f"Comparison ({len(p.rows)} configurations)"
    if not p.rows:
        return title, '<p class="note">no comparison table: the sweep has no results</p>'
    ranked = ("validation accuracy" if p.metric == "val_accuracy"
              else "test accuracy (the sweep has no validation split)")
    head = ("<tr><th>#</th>" + "".join(f"<th>{esc(short(k))}</th>" for k in p.keys)
            + "<th>train acc.</th><th>val. acc.</th><th>test acc.</th><th>best epoch</th><th>status</th>"
              "<th>seconds</th><th>params</th><th>health (the doctor)</th><th>runs</th></tr>")
    body = "".join(_table_row(p, r) for r in p.rows)
    return title, (f"<p class='sub'>Ranked by {esc(ranked)}, best first (highlighted). "
                   f"Accuracies are each run's result: the weights it ends with (the best epoch's when early "
                   f"stopping restores them, else the last epoch's); ± is the standard deviation over "
                   f"repeats/folds. Seconds are the training time of the runs' populations (members trained "
                   f"together share it).</p><table class='grid'>{head}{body}</table>")


def _noise(p: SweepPage) -> tuple[str, str]:
    note = p.summary.get("note")
    if note:
        kind = "larger" if "larger than" in note else "within"
        body = f'<div class="verdict {kind}">{esc(note)}</div>'
        if kind == "within":
            body += ("<p class='sub'>The top configurations are not told apart by this sweep: "
                     "more repeats (<code>sweep.repeats</code>) or folds would narrow the spread.</p>")
    elif p.n_runs > 1 and len(p.rows) < 2:
        body = '<div class="verdict none">Only one configuration: nothing to compare with the seed noise.</div>'
    elif p.n_runs > 1:
        body = ('<div class="verdict none">No verdict: the best configuration\'s runs show no spread in '
                f'{esc(p.metric.replace("_", " "))}, so the seed noise cannot be estimated from them.</div>')
    else:
        body = ('<div class="verdict none">One run per configuration: the seed noise is unknown, so small '
                'differences may be luck. Set <code>sweep.repeats = 3</code> (or <code>sweep.folds = 5</code>) '
                'to measure it.</div>')
    return "Differences vs seed noise", body


def _heatmap(p: SweepPage) -> tuple[str, str] | None:
    """Only when exactly two keys vary and they form a grid."""
    from . import figures   # matplotlib only when a sweep report is drawn
    if len(p.keys) != 2 or not p.rows:
        return None
    rows, metric = p.rows, p.metric
    kx, ky = _heatmap_axes(rows, p.keys)
    nx = len({_json_key(r["values"].get(kx)) for r in rows})
    ny = len({_json_key(r["values"].get(ky)) for r in rows})
    if nx > 20 or ny > 20:
        return "Heatmap", (f'<p class="note">{nx} × {ny} distinct values (a random sweep): too sparse for a '
                           f"heatmap; see the table.</p>")
    return "Heatmap", (f"<p class='sub'>{esc(metric.replace('_', ' '))} over {esc(kx)} × {esc(ky)}; each cell is "
                       f"the mean over its repeats (± their standard deviation), the best cell outlined in red.</p>"
                       + figure_html(lambda: figures.sweep_heatmap(rows, kx, ky, metric), "heatmap",
                                     width=max(520, 110 * nx + 300)))


def _curves(p: SweepPage) -> tuple[str, str] | None:
    """The first run (seed) of each configuration, the best MAX_CURVES configurations."""
    from . import figures   # matplotlib only when a sweep report is drawn
    histories = p.histories()
    shown = [r for r in p.rows if r["runs"] and r["runs"][0] in histories][:MAX_CURVES]
    if not shown:
        return None
    more = len(p.rows) - len(shown)
    which = "Validation" if p.metric == "val_accuracy" else "Training (no validation split)"
    intro = (f"<p class='sub'>{which} loss and accuracy per epoch, the first run (seed) of each "
             "configuration" + (f"; only the best {len(shown)} of {len(p.rows)} configurations are drawn"
                                 if more > 0 else "") + ".</p>")
    curves = figure_html(lambda: figures.overlaid_curves(
        [histories[r["runs"][0]] for r in shown], [config_label(r["values"], rank=r.get("rank")) for r in shown],
        title=f"{which.split(' ')[0]} curves of {len(shown)} configurations"), "overlaid learning curves")
    return "Learning curves", intro + curves


def _spread(p: SweepPage) -> tuple[str, str] | None:
    """Only with several runs per configuration (repeats or folds)."""
    from . import figures   # matplotlib only when a sweep report is drawn
    if p.n_runs <= 1:
        return None
    rows, metric = p.rows, p.metric
    points = [[((p.runs_by_id[rid].get("summary") or {}).get("result") or {}).get(metric, math.nan)
               for rid in r["runs"] if rid in p.runs_by_id] for r in rows]
    return "Spread over repeats", (
        f"<p class='sub'>Mean ± standard deviation of {esc(metric.replace('_', ' '))} over each "
        f"configuration's runs (grey dots: single runs). Bars that overlap are not told apart.</p>"
        + figure_html(lambda: figures.sweep_spread(
            rows, metric, labels=[config_label(r["values"], rank=r.get("rank")) for r in rows], points=points),
            "spread"))


def _run_row(p: SweepPage, rid: str, run: dict, cfg: dict | None) -> str:
    target = p.store.artifacts / rid / "report.html"
    link = f'<a href="{esc(_rel(target, p.out_dir))}">report</a>'
    if not target.exists():
        link += f' <span class="note">(not written yet: <code>mlplab report {esc(rid)}</code>)</span>'
    return (f'<tr id="run-{esc(rid)}"><td><code>{esc(rid)}</code></td>'
            f"<td>{esc(config_label(cfg['values'], rank=cfg.get('rank')) if cfg else '–')}</td>"
            f'<td class="num">{esc((run.get("spec") or {}).get("seed", "–"))}</td>'
            f"<td>{status_span(run.get('status') or '')}</td><td class='finding-cell'>{health_span(run)}</td>"
            f"<td class='num'>{num(run.get('epochs_run'))}</td>"
            f"<td class='num'>{num(run.get('best_epoch'))}</td><td class='num'>{num(run.get('test_accuracy'))}</td>"
            f"<td>{link}</td></tr>")


def _runs(p: SweepPage) -> tuple[str, str]:
    """Every run, in table order (then any run of no configuration), with its own report."""
    config_of = {rid: r for r in p.rows for rid in r["runs"]}
    ordered = [rid for r in p.rows for rid in r["runs"]] + [rid for rid in p.runs_by_id if rid not in config_of]
    rows = [_run_row(p, rid, p.runs_by_id[rid], config_of.get(rid)) for rid in ordered if rid in p.runs_by_id]
    return f"Runs ({len(rows)})", (
        "<p class='sub'>Every member of the sweep is an ordinary run; its report lies in its artifact "
        "folder (links are relative file paths).</p><table class='grid'><tr><th>run</th><th>configuration"
        "</th><th>seed</th><th>status</th><th>health</th><th>epochs</th><th>best epoch</th><th>test acc.</th>"
        f"<th>report</th></tr>{''.join(rows)}</table>")


def _spec(p: SweepPage) -> tuple[str, str]:
    return "Spec", f"<pre>{esc(yaml.safe_dump(p.spec, sort_keys=False))}</pre>"


BUILDERS = {"summary": _summary, "table": _table, "noise": _noise, "heatmap": _heatmap, "curves": _curves,
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
    return page("sweep", sweep["id"], sweep.get("name"), parts, CSS + SWEEP_CSS)


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
