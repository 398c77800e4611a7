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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import yaml

from . import figures
from .diagnose import Finding, diagnose, load_stats
from .store import Store

SECTIONS = ("summary", "findings", "spec", "data", "learning-curves", "confusion-matrix", "per-class",
            "mistakes", "probabilities", "class-histograms", "weights", "training-statistics",
            "hidden-representation", "decision-regions", "model")


@dataclass
class RunArtifacts:
    """Everything the figures of one run need, loaded lazily from the store."""
    store: Store
    run: dict

    def __post_init__(self):
        self.id = self.run["id"]
        self.folder = self.store.artifact_dir(self.id)
        self._cache: dict = {}

    def _once(self, key: str, load: Callable):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    @property
    def stats(self) -> dict | None:
        return self._once("stats", lambda: load_stats(self.store, self.id))

    @property
    def predictions(self) -> tuple[np.ndarray, np.ndarray]:
        def load():
            with np.load(self.folder / "predictions.npz") as z:
                return z["probabilities"], z["y_true"]
        return self._once("predictions", load)

    @property
    def experiment(self):
        from .spec import validate
        return self._once("experiment", lambda: validate(self.run["spec"]))

    @property
    def data(self):
        from .runner import load_data
        return self._once("data", lambda: load_data(self.experiment))

    @property
    def model(self):
        def load():
            from . import _backend  # noqa: F401  (JAX backend before keras)
            import keras
            return keras.models.load_model(self.folder / "model.keras", compile=False)
        return self._once("model", load)

    @property
    def initial_weights(self) -> dict[str, np.ndarray]:
        def load():
            with np.load(self.folder / "weights_init.npz") as z:
                return {k: z[k] for k in z.files}
        return self._once("initial", load)

    @property
    def final_weights(self) -> dict[str, np.ndarray]:
        return self._once("final", lambda: {v.path: np.asarray(v.value) for v in self.model.trainable_variables})

    @property
    def class_names(self) -> list[str]:
        return list((self.run.get("summary") or {}).get("data", {}).get("class_names") or self.data.info.class_names)

    @property
    def image_shape(self):
        return self.data.info.image_shape

    @property
    def n_features(self) -> int:
        shape = (self.run.get("summary") or {}).get("data", {}).get("input_shape") or self.data.info.input_shape
        return int(np.prod(shape))


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
.status-ok,.status-stopped{color:#1a7f37;font-weight:700} .status-diverged,.status-failed{color:#d1242f;font-weight:700}
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
        ("status", f'<span class="status-{_e(run.get("status"))}">{_e(run.get("status"))}</span>'),
        ("dataset", f"{run.get('dataset')} ({data.get('n_train', '?')} train / {data.get('n_val', '?')} validation / "
                    f"{data.get('n_test', '?')} test rows, {len(data.get('class_names') or [])} classes)"),
        ("model", f"{run.get('model')} · {_num(run.get('params'))} parameters"),
        ("optimizer", f"{run.get('optimizer')}, learning rate {_num(run.get('learning_rate'))}"),
        ("epochs", f"{run.get('epochs_run')} run, best epoch {_num(run.get('best_epoch'))}"),
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

    nav = "".join(f'<a href="#{sid}">{_e(title.split(" (")[0])}</a>' for sid, title, _ in sections)
    parts = "".join(f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>' for sid, title, body in sections)
    title = f"mlplab run {run['id']} · {run.get('name') or ''}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f"<main><h1>{_e(run.get('name') or run['id'])}</h1><p class='sub'>mlplab run report · {_e(run['id'])} · "
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
