"""A stored run -> one self-contained HTML report.

    path = write_report(Store(), "last")                 # artifacts/<run>/report.html
    path = write_report(store, run_id, "run.html")

The file holds everything: inline CSS, figures as base64 PNG, no script and no
external address, so it opens offline in any browser and can be mailed as is.
Order: summary, findings, spec, then every figure that applies to the run
(image figures only for image data, decision regions only for 2-feature data).
A figure that cannot be drawn (a failed run has no model) becomes a one-line
note in its section instead of failing the whole report.
"""
from __future__ import annotations

import base64
import html
import io
import math
import time
from pathlib import Path
from typing import Callable

import yaml

from . import figures
from ..analysis.doctor import Finding, diagnose
from ..analysis.status import STATUSES, ranking_metric, worst
from ..store import Store
from ..training.artifacts import RunArtifacts

SECTIONS = ("summary", "findings", "spec", "data", "learning-curves", "confusion-matrix", "per-class",
            "mistakes", "probabilities", "class-histograms", "weights", "training-statistics",
            "hidden-representation", "decision-regions", "model")


# ---------------------------------------------------------------- figures of a run

def figure_for(art: RunArtifacts, name: str, **options):
    """One figure of a stored run by name (see `FIGURES`); options go to the figure function."""
    h = art.run.get("history") or {}
    stopped = art.run.get("epochs_run") if art.run.get("status") == "stopped" else None
    if name == "samples":
        d = art.data
        return figures.sample_grid(d.x_train, d.y_train, art.class_names, art.image_shape, **options)
    if name == "class-samples":
        d = art.data
        return figures.sample_grid(d.x_train, d.y_train, art.class_names, art.image_shape,
                                   class_index=options.pop("class_index", 0), **options)
    if name == "learning-curves":
        return figures.learning_curves(h, best_epoch=art.run.get("best_epoch"), stopped_epoch=stopped, **options)
    probs, y_true = art.predictions if name in ("confusion-matrix", "mistakes", "random-mistakes", "correct",
                                                "probabilities", "class-histograms") else (None, None)
    if name == "confusion-matrix":
        return figures.confusion_matrix(y_true, probs, art.class_names)
    if name in ("mistakes", "random-mistakes", "correct"):
        mode = {"mistakes": "confident", "random-mistakes": "random", "correct": "correct"}[name]
        return figures.misclassified(art.data.x_test, y_true, probs, art.class_names, art.image_shape, mode=mode,
                                     **options)
    if name == "probabilities":
        return figures.probability_bars(art.data.x_test, y_true, probs, art.class_names, art.image_shape, **options)
    if name == "class-histograms":
        return figures.class_probability_histograms(y_true, probs, art.class_names)
    if name == "weights":
        return figures.weight_distributions(art.initial_weights, art.final_weights, **options)
    if name == "training-statistics":
        return figures.training_statistics(art.stats or {})
    if name == "hidden-representation":
        return figures.embedding(art.model, art.data.x_test, art.data.y_test, art.class_names, **options)
    if name == "decision-regions":
        exp = art.experiment
        a = None
        if exp.data.dataset == "cosine2d" and exp.data.scale == "none":
            a = float(exp.data.options.get("a", 1.0))
        return figures.decision_regions(art.model, art.data.x_train, art.data.y_train, art.class_names,
                                        curves_a=a, **options)
    raise ValueError(f"figure {name!r}: expected one of {', '.join(FIGURES)}")


FIGURES = ("samples", "class-samples", "learning-curves", "confusion-matrix", "mistakes", "random-mistakes",
           "correct", "probabilities", "class-histograms", "weights", "training-statistics",
           "hidden-representation", "decision-regions")


def png_data_uri(fig, dpi: int = 80) -> str:
    buf = io.BytesIO()
    # no Software tag: the PNG would carry matplotlib's web address
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:20px;border-bottom:2px solid #d8dce3;padding-bottom:4px;margin-top:36px}
h3{font-size:15px;margin:18px 0 6px}
section{background:#fff;border-radius:8px;padding:4px 20px 16px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.sub{color:#5a6272;margin:0 0 12px}
table{border-collapse:collapse;font-size:14px} td,th{padding:4px 12px 4px 0;text-align:left;vertical-align:top}
th{color:#5a6272;font-weight:600} table.grid td,table.grid th{border-bottom:1px solid #eceef2;padding-right:18px}
table.grid td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f0f2f5;padding:10px 12px;border-radius:6px;overflow-x:auto;font-size:12.5px;line-height:1.35}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.finding{border-left:6px solid #888;background:#fafbfc;border-radius:4px;padding:8px 14px;margin:12px 0}
.finding.error{border-color:#d1242f;background:#fff5f5} .finding.warning{border-color:#d4a72c;background:#fffbea}
.finding.info{border-color:#3b82f6;background:#f3f8ff}
.finding .title{font-weight:600;font-size:15px} .badge{display:inline-block;font-size:11px;font-weight:700;
text-transform:uppercase;border-radius:10px;padding:1px 8px;margin-right:8px;color:#fff;background:#888}
.error .badge{background:#d1242f} .warning .badge{background:#b7870f} .info .badge{background:#3b82f6}
.finding p{margin:6px 0} .finding code{background:#eef0f3;padding:1px 5px;border-radius:4px}
.evidence{font-size:12.5px;color:#444} .ok{color:#1a7f37;font-weight:600} .note{color:#7a808c;font-style:italic}
nav{font-size:13px;margin:8px 0 0} nav a{color:#2457c5;margin-right:10px;text-decoration:none}
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _num(x, digits: int = 4) -> str:
    if x is None:
        return "–"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return _e(x)
    if not math.isfinite(f):
        return "NaN" if math.isnan(f) else ("inf" if f > 0 else "-inf")
    if f == int(f) and abs(f) < 1e12:
        return str(int(f))
    return f"{f:.{digits}g}"


def _summary_html(run: dict) -> str:
    s = run.get("summary") or {}
    data = s.get("data") or {}
    rows = [
        ("run", run["id"]), ("name", run.get("name")),
        ("status", _status_span(run.get("status") or "")),
        ("dataset", f"{run.get('dataset')} ({data.get('n_train', '?')} train / {data.get('n_val', '?')} validation / "
                    f"{data.get('n_test', '?')} test rows, {len(data.get('class_names') or [])} classes)"),
        ("model", f"{run.get('model')} · {_num(run.get('params'))} parameters"),
        ("optimizer", f"{run.get('optimizer')}, learning rate {_num(run.get('learning_rate'))}"),
        ("epochs", f"{run.get('epochs_run')} run, best epoch {_num(run.get('best_epoch'))}"),
        ("result", f"the weights of {(s.get('result') or {}).get('weights', '–')}"),
        ("test accuracy", _num(run.get("test_accuracy"))), ("test loss", _num(run.get("test_loss"))),
        ("training time", f"{_num(run.get('seconds'), 3)} s"), ("created", run.get("created")),
    ]
    if run.get("error"):
        rows.append(("error", run["error"]))
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{v if k == 'status' else _e(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _finding_html(f: Finding) -> str:
    ev = ", ".join(f"{_e(k)} = {_e(_num(v))}" for k, v in f.evidence.items())
    where = f" · from epoch {f.epoch}" if f.epoch is not None else ""
    return (f'<div class="finding {_e(f.severity)}"><div class="title"><span class="badge">{_e(f.severity)}</span>'
            f'{_e(f.title)}</div><p>{_e(f.explanation)}</p>'
            f'<p><b>Try:</b> <code>{_e(f.suggestion)}</code></p>'
            + (f'<p class="evidence">code <code>{_e(f.code)}</code>{_e(where)} · evidence: {ev}</p>' if ev else
               f'<p class="evidence">code <code>{_e(f.code)}</code>{_e(where)}</p>') + "</div>")


def _per_class_html(run: dict) -> str:
    per = ((run.get("summary") or {}).get("evaluation") or {}).get("per_class") or []
    if not per:
        return '<p class="note">no evaluation stored</p>'
    head = "<tr><th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th></tr>"
    body = "".join(f"<tr><td>{_e(p['class'])}</td>" + "".join(
        f'<td class="num">{_num(p[k], 3)}</td>' for k in ("precision", "recall", "f1", "support")) + "</tr>"
        for p in per)
    return f'<table class="grid">{head}{body}</table>'


def _img(art: RunArtifacts, name: str, caption: str = "", *, width: int | None = None, **options) -> str:
    try:
        fig = figure_for(art, name, **options)
        uri = png_data_uri(fig)
    except Exception as e:  # a missing artifact or an odd model must not cost the whole report
        return f'<p class="note">{_e(caption or name)}: not available ({_e(type(e).__name__)}: {_e(str(e)[:200])})</p>'
    alt = _e(caption or name)
    style = f' style="max-width:{width}px"' if width else ""
    return (f"<h3>{_e(caption)}</h3>" if caption else "") + f'<img alt="{alt}" src="{uri}"{style}>'


def build_html(art: RunArtifacts, findings: list[Finding], *, embed_samples: int = 2000) -> str:
    run = art.run
    data_info = (run.get("summary") or {}).get("data") or {}
    try:
        is_image = art.image_shape is not None
        n_features = art.n_features
    except Exception:
        is_image, n_features = False, 0
    has_model = (art.folder / "model.keras").exists()
    sections: list[tuple[str, str, str]] = []

    sections.append(("summary", "Summary", _summary_html(run)))
    if findings:
        body = "".join(_finding_html(f) for f in findings)
    else:
        body = '<p class="ok">No problems found: the training looks healthy.</p>'
    sections.append(("findings", f"Findings ({len(findings)})", body))
    spec_text = yaml.safe_dump(run.get("spec") or {}, sort_keys=False)
    sections.append(("spec", "Spec", f"<pre>{_e(spec_text)}</pre><p class='sub'>Re-run it with "
                     f"<code>mlplab run {_e(art.folder / 'spec.yaml')}</code></p>"))

    warnings = "".join(f"<li>{_e(w)}</li>" for w in run.get("warnings") or [])
    counts = data_info.get("class_counts") or {}
    count_rows = "".join(f"<tr><td>{_e(n)}</td>" + "".join(f'<td class="num">{_num(counts.get(s, [0] * 999)[i])}</td>'
                                                           for s in ("train", "val", "test")) + "</tr>"
                         for i, n in enumerate(data_info.get("class_names") or []))
    data_body = (f"<p class='sub'>{_e(data_info.get('name'))} from {_e(data_info.get('source'))}; inputs "
                 f"{_e(data_info.get('input_shape'))}, scale {_e(data_info.get('scale'))}, values "
                 f"{_num(data_info.get('value_min'))}..{_num(data_info.get('value_max'))}</p>"
                 + (f"<p><b>Data checks:</b></p><ul>{warnings}</ul>" if warnings else "")
                 + f'<table class="grid"><tr><th>class</th><th>train</th><th>validation</th><th>test</th></tr>'
                   f"{count_rows}</table>"
                 + _img(art, "samples", "Random training samples", width=520 if is_image else 640)
                 + (_img(art, "class-samples", f"Samples of class {(data_info.get('class_names') or ['0'])[0]}",
                         class_index=0, n=16, width=420) if is_image else ""))
    sections.append(("data", "Data", data_body))
    sections.append(("learning-curves", "Learning curves",
                     "<p class='sub'>train (running) is the average Keras prints during an epoch; train "
                     "(inference) is measured after the epoch with dropout off and batch-norm moving statistics on."
                     "</p>" + _img(art, "learning-curves")))
    sections.append(("confusion-matrix", "Confusion matrix", _img(art, "confusion-matrix")))
    sections.append(("per-class", "Per-class scores", _per_class_html(run)))
    if is_image:
        sections.append(("mistakes", "Mistakes and confident successes",
                         _img(art, "mistakes", "Most confident mistakes") + _img(art, "random-mistakes",
                                                                                 "Random mistakes")
                         + _img(art, "correct", "Most confidently correct")))
        sections.append(("probabilities", "Class probabilities of test images", _img(art, "probabilities", n=9)))
    sections.append(("class-histograms", "Predicted probability per class", _img(art, "class-histograms")))
    if has_model:
        sections.append(("weights", "Weights", _img(art, "weights")))
    sections.append(("training-statistics", "Training statistics", _img(art, "training-statistics")))
    if has_model:
        sections.append(("hidden-representation", "Hidden representation",
                         "<p class='sub'>PCA to 50 dimensions, then t-SNE, of the last hidden layer's output "
                         "on test samples.</p>" + _img(art, "hidden-representation", n=embed_samples)))
        if n_features == 2:
            sections.append(("decision-regions", "Decision regions", _img(art, "decision-regions")))
    summary_txt = art.folder / "summary.txt"
    if summary_txt.exists():
        sections.append(("model", "Model", f"<pre>{_e(summary_txt.read_text())}</pre>"))

    return _page("run", run["id"], run.get("name"), sections, CSS)


def _page(kind: str, ref: str, name: str | None, sections: list[tuple[str, str, str]], css: str) -> str:
    """One self-contained HTML page: a heading, a navigation bar, then the sections (id, title, body)."""
    nav = "".join(f'<a href="#{sid}">{_e(title.split(" (")[0])}</a>' for sid, title, _ in sections)
    parts = "".join(f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>' for sid, title, body in sections)
    title = f"mlplab {kind} {ref} · {name or ''}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{css}</style></head><body>'
            f"<main><h1>{_e(name or ref)}</h1><p class='sub'>mlplab {kind} report · {_e(ref)} · "
            f"generated {_e(time.strftime('%Y-%m-%d %H:%M'))}</p><nav>{nav}</nav>{parts}</main></body></html>\n")


def write_report(store: Store, run_ref: str, out_path: str | Path | None = None, *,
                 embed_samples: int = 2000) -> Path:
    """Write the run's HTML report; default path: the run's artifact folder, `report.html`."""
    run = store.get_run(run_ref)
    art = RunArtifacts(store, run)
    findings = diagnose(run, art.stats)
    text = build_html(art, findings, embed_samples=embed_samples)
    if out_path is None:
        return store.write_artifact(run["id"], "report.html", text)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out


# ---------------------------------------------------------------- the sweep report

SWEEP_SECTIONS = ("summary", "table", "noise", "heatmap", "curves", "spread", "runs", "spec")
MAX_CURVES = 12

SWEEP_CSS = """
table.grid tr.best td{background:#eaf6ec;font-weight:600} table.grid td:first-child,table.grid th:first-child{padding-left:10px}
table.grid tr.best td:first-child{box-shadow:inset 4px 0 #1a7f37}
.pm{color:#7a808c;font-weight:400;font-size:12px} .verdict{font-size:15px;padding:10px 14px;border-radius:6px;margin:12px 0}
.verdict.larger{background:#eaf6ec;border-left:6px solid #1a7f37} .verdict.within{background:#fffbea;border-left:6px solid #d4a72c}
.verdict.none{background:#f3f8ff;border-left:6px solid #3b82f6} td.finding-cell{max-width:260px;font-size:12.5px} td code{white-space:nowrap}
.best-name{font-size:16px;font-weight:600} a{color:#2457c5}
"""


def _config_label(values: dict, *, rank: int | None = None) -> str:
    from ..spec.sweep import fmt, short
    text = " ".join(f"{short(k)}={fmt(v)}" for k, v in values.items())
    return f"#{rank} {text}" if rank is not None else text


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


def _status_span(status: str) -> str:
    """A status badge in its colour (inline, so it shows in notebooks too)."""
    s = STATUSES[worst(status)]
    return (f'<span class="status-{s.word}" style="color:{s.color};background:{s.background};font-weight:700;'
            f'border-radius:8px;padding:0 6px">{_e(status)}</span>')


def _fig_html(make: Callable, caption: str, *, width: int | None = None) -> str:
    """An embedded figure, or a one-line note when it cannot be drawn."""
    try:
        uri = png_data_uri(make())
    except Exception as e:  # a figure must not cost the whole report
        return f'<p class="note">{_e(caption)}: not available ({_e(type(e).__name__)}: {_e(str(e)[:200])})</p>'
    style = f' style="max-width:{width}px"' if width else ""
    return f'<img alt="{_e(caption)}" src="{uri}"{style}>'


def _rel(target: Path, start: Path) -> str:
    import os
    return Path(os.path.relpath(Path(target).resolve(), Path(start).resolve())).as_posix()


def _heatmap_axes(rows: list[dict], keys: list[str]) -> tuple[str, str]:
    """Numbers (a learning rate) along x, names (an optimizer) down y; else the sweep's key order."""
    numeric = [k for k in keys if all(isinstance(r["values"].get(k), (int, float))
                                      and not isinstance(r["values"].get(k), bool) for r in rows)]
    if len(numeric) == 1:
        return numeric[0], next(k for k in keys if k != numeric[0])
    return keys[1], keys[0]


def build_sweep_html(store: Store, sweep: dict, out_dir: Path) -> str:
    from ..spec.sweep import short
    summary = sweep.get("summary") or {}
    rows: list[dict] = summary.get("rows") or []
    spec = sweep.get("spec") or {}
    keys: list[str] = summary.get("keys") or list(((spec.get("sweep") or {}).get("grid") or {}))
    runs_by_id = {r["id"]: r for r in sweep.get("runs") or []}
    n_runs = max((len(r["runs"]) for r in rows), default=0)
    metric = ranking_metric(rows)
    ranked = ("validation accuracy" if metric == "val_accuracy"
              else "test accuracy (the sweep has no validation split)")
    histories = {rid: store.history(rid) for r in rows for rid in r["runs"] if rid in runs_by_id}

    def run_report(run_id: str) -> Path:
        return store.artifacts / run_id / "report.html"

    sections: list[tuple[str, str, str]] = []

    # summary
    best = rows[0] if rows else None
    first_run = next(iter(runs_by_id.values()), {})
    sweep_cfg = spec.get("sweep") or {}
    repeat_word = (f"{sweep_cfg.get('repeats', 1)} repeat(s)"
                   + (f" × {sweep_cfg['folds']} folds" if sweep_cfg.get("folds") else ""))
    items = [("sweep", sweep["id"]), ("name", sweep.get("name")),
             ("status", _status_span(sweep.get("status") or "")),
             ("varying keys", ", ".join(keys) or "–"),
             ("configurations", f"{len(rows)} ({repeat_word} each)"),
             ("runs", f"{len(runs_by_id)} stored runs"),
             ("dataset", first_run.get("dataset") or (spec.get("data") or {}).get("dataset", "digits")),
             ("model", f"{first_run.get('model') or '?'}" + (f" · {_num(best['params'])} parameters" if best else "")),
             ("training time", f"{_num(summary.get('seconds'), 3)} s for the whole sweep"),
             ("created", sweep.get("created"))]
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{v if k == 'status' else _e(v)}</td></tr>" for k, v in items)
    if best:
        best_text = (f'<p class="best-name">Best configuration: {_e(_config_label(best["values"]))}</p>'
                     f"<p class='sub'>{_e(metric.replace('_', ' '))} {_pm(best.get(metric), best.get(metric + '_std'), len(best['runs']))}"
                     f" · test accuracy {_pm(best.get('test_accuracy'), best.get('test_accuracy_std'), len(best['runs']))}"
                     f" · mean of {len(best['runs'])} run(s)</p>")
    else:
        best_text = (f'<p class="note">No results stored: the sweep ended with status '
                     f'{_e(sweep.get("status"))}.</p>')
    sections.append(("summary", "Summary", best_text + f"<table>{cells}</table>"))

    # comparison table
    if rows:
        head = ("<tr><th>#</th>" + "".join(f"<th>{_e(short(k))}</th>" for k in keys)
                + "<th>train acc.</th><th>val. acc.</th><th>test acc.</th><th>best epoch</th><th>status</th>"
                  "<th>seconds</th><th>params</th><th>doctor's finding</th><th>runs</th></tr>")
        body = []
        for r in rows:
            k = len(r["runs"])
            links = " ".join(f'<a href="#run-{_e(rid)}">{i + 1}</a>' for i, rid in enumerate(r["runs"]))
            body.append(
                f'<tr class="{"best" if r is best else ""}"><td class="num">{_e(r.get("rank", ""))}</td>'
                + "".join(f"<td>{_e(_config_value(r['values'].get(key)))}</td>" for key in keys)
                + "".join(f'<td class="num">{_pm(r.get(s + "_accuracy"), r.get(s + "_accuracy_std"), k)}</td>'
                          for s in ("train", "val", "test"))
                + f'<td class="num">{_num(r.get("best_epoch"), 3)}</td><td>{_status_span(r.get("status", ""))}</td>'
                  f'<td class="num">{_num(r.get("seconds"), 3)}</td><td class="num">{_num(r.get("params"))}</td>'
                  f'<td class="finding-cell">{_e(r.get("finding") or "–")}</td><td>{links}</td></tr>')
        table_html = (f"<p class='sub'>Ranked by {_e(ranked)}, best first (highlighted). "
                      f"Accuracies are each run's result: the weights it ends with (the best epoch's when early "
                      f"stopping restores them, else the last epoch's); ± is the standard deviation over "
                      f"repeats/folds. Seconds are the training time of the runs' populations (members trained "
                      f"together share it).</p><table class='grid'>{head}{''.join(body)}</table>")
    else:
        table_html = '<p class="note">no comparison table: the sweep has no results</p>'
    sections.append(("table", f"Comparison ({len(rows)} configurations)", table_html))

    # seed noise
    note = summary.get("note")
    if note:
        kind = "larger" if "larger than" in note else "within"
        noise_html = f'<div class="verdict {kind}">{_e(note)}</div>'
        if kind == "within":
            noise_html += ("<p class='sub'>The top configurations are not told apart by this sweep: "
                           "more repeats (<code>sweep.repeats</code>) or folds would narrow the spread.</p>")
    elif n_runs > 1 and len(rows) < 2:
        noise_html = '<div class="verdict none">Only one configuration: nothing to compare with the seed noise.</div>'
    elif n_runs > 1:
        noise_html = ('<div class="verdict none">No verdict: the best configuration\'s runs show no spread in '
                      f'{_e(metric.replace("_", " "))}, so the seed noise cannot be estimated from them.</div>')
    else:
        noise_html = ('<div class="verdict none">One run per configuration: the seed noise is unknown, so small '
                      'differences may be luck. Set <code>sweep.repeats = 3</code> (or <code>sweep.folds = 5</code>) '
                      'to measure it.</div>')
    sections.append(("noise", "Differences vs seed noise", noise_html))

    # heatmap: exactly two keys that form a grid
    if len(keys) == 2 and rows:
        kx, ky = _heatmap_axes(rows, keys)
        nx = len({_json_key(r["values"].get(kx)) for r in rows})
        ny = len({_json_key(r["values"].get(ky)) for r in rows})
        if nx <= 20 and ny <= 20:
            body = (f"<p class='sub'>{_e(metric.replace('_', ' '))} over {_e(kx)} × {_e(ky)}; each cell is the "
                    f"mean over its repeats (± their standard deviation), the best cell outlined in red.</p>"
                    + _fig_html(lambda: figures.sweep_heatmap(rows, kx, ky, metric), "heatmap",
                                width=max(520, 110 * nx + 300)))
        else:
            body = (f'<p class="note">{nx} × {ny} distinct values (a random sweep): too sparse for a heatmap; '
                    f"see the table.</p>")
        sections.append(("heatmap", "Heatmap", body))

    # overlaid curves of the first run of each configuration
    shown = [r for r in rows if r["runs"] and r["runs"][0] in histories][:MAX_CURVES]
    if shown:
        more = len(rows) - len(shown)
        which = "Validation" if metric == "val_accuracy" else "Training (no validation split)"
        intro = (f"<p class='sub'>{which} loss and accuracy per epoch, the first run (seed) of each "
                 "configuration" + (f"; only the best {len(shown)} of {len(rows)} configurations are drawn"
                                     if more > 0 else "") + ".</p>")
        curves = _fig_html(lambda: figures.overlaid_curves(
            [histories[r["runs"][0]] for r in shown], [_config_label(r["values"], rank=r.get("rank")) for r in shown],
            title=f"{which.split(' ')[0]} curves of {len(shown)} configurations"), "overlaid learning curves")
        sections.append(("curves", "Learning curves", intro + curves))

    # mean ± spread over repeats / folds
    if n_runs > 1:
        points = [[((runs_by_id[rid].get("summary") or {}).get("result") or {}).get(metric, math.nan)
                   for rid in r["runs"] if rid in runs_by_id] for r in rows]
        sections.append(("spread", "Spread over repeats",
                         f"<p class='sub'>Mean ± standard deviation of {_e(metric.replace('_', ' '))} over each "
                         f"configuration's runs (grey dots: single runs). Bars that overlap are not told apart.</p>"
                         + _fig_html(lambda: figures.sweep_spread(
                             rows, metric, labels=[_config_label(r["values"], rank=r.get("rank")) for r in rows],
                             points=points), "spread")))

    # every run, with its own report
    config_of = {rid: r for r in rows for rid in r["runs"]}
    run_rows = []
    ordered = [rid for r in rows for rid in r["runs"]] + [rid for rid in runs_by_id if rid not in config_of]
    for rid in ordered:
        run = runs_by_id.get(rid)
        if run is None:
            continue
        target = run_report(rid)
        link = f'<a href="{_e(_rel(target, out_dir))}">report</a>'
        if not target.exists():
            link += f' <span class="note">(not written yet: <code>mlplab report {_e(rid)}</code>)</span>'
        cfg = config_of.get(rid)
        run_rows.append(
            f'<tr id="run-{_e(rid)}"><td><code>{_e(rid)}</code></td>'
            f"<td>{_e(_config_label(cfg['values'], rank=cfg.get('rank')) if cfg else '–')}</td>"
            f'<td class="num">{_e((run.get("spec") or {}).get("seed", "–"))}</td>'
            f"<td>{_status_span(run.get('status') or '')}</td><td class='num'>{_num(run.get('epochs_run'))}</td>"
            f"<td class='num'>{_num(run.get('best_epoch'))}</td><td class='num'>{_num(run.get('test_accuracy'))}</td>"
            f"<td>{link}</td></tr>")
    runs_html = ("<p class='sub'>Every member of the sweep is an ordinary run; its report lies in its artifact "
                 "folder (links are relative file paths).</p><table class='grid'><tr><th>run</th><th>configuration"
                 "</th><th>seed</th><th>status</th><th>epochs</th><th>best epoch</th><th>test acc.</th>"
                 f"<th>report</th></tr>{''.join(run_rows)}</table>")
    sections.append(("runs", f"Runs ({len(run_rows)})", runs_html))
    sections.append(("spec", "Spec", f"<pre>{_e(yaml.safe_dump(spec, sort_keys=False))}</pre>"))

    return _page("sweep", sweep["id"], sweep.get("name"), sections, CSS + SWEEP_CSS)


def _json_key(v) -> str:
    import json
    return json.dumps(v, sort_keys=True, default=str)


def _config_value(v) -> str:
    from ..spec.sweep import fmt
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt(x)}" for k, x in v.items())
    return fmt(v)


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
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
