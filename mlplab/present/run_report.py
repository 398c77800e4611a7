"""A stored run -> one self-contained HTML report.

    path = write_report(Store(), "last")                 # artifacts/<run>/report.html
    path = write_report(store, run_id, "run.html")

The file holds everything: inline CSS, figures as base64 PNG, no script and no
external address, so it opens offline in any browser and can be mailed as is.
Order: summary, findings, spec, then the sections of LAYOUT, each with the figures of
the registry (present.registry) that belong to it and apply to the run (image figures
only for image data, decision regions only for 2-feature data, model views only when
a model is stored). A figure that cannot be drawn (a failed run has no predictions)
becomes a one-line note in its section instead of failing the whole report.

The report of a run that has ended is a stored view: `report.html` in its artifact folder
carries the key it was made for (the run's state, the t-SNE sample count, the doctor's
findings) and is served as it is while that key holds; its figures are the registry's stored
PNGs, so a new report of a run whose figures were seen before only assembles the page.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from ..analysis.doctor import Finding, diagnose
from ..store import Store
from ..store.artifacts import MODEL_SUMMARY
from ..stored import RunArtifacts
from . import views
from .html import figure_html, macros, number_text, page, write_atomically
from .registry import EMBED_SAMPLES, REGISTRY, FigureEntry, figure_png, run_traits, stored_png

REPORT = "report.html"


@dataclass
class RunPage:
    """What the sections of one run's report are built from."""
    art: RunArtifacts
    findings: list[Finding]
    traits: frozenset[str]                                  # run_traits(art): image, 2d, model
    options: dict[str, dict] = field(default_factory=dict)  # figure name -> options over the registry's


@dataclass(frozen=True)
class Section:
    """One section of the report: its own content (if any), then the registry's figures that belong to it.

    A section with no content of its own is shown only when one of its figures applies to the run."""
    id: str
    title: str | Callable[[RunPage], str]
    body: Callable[[RunPage], str | None] | None = None
    intro: str = ""   # a line above the figures (text), when there are any


# ---------------------------------------------------------------- content of the sections

def summary_html(run: dict) -> str:
    """The run's key facts as a two-column table (also the API's `Run._repr_html_`)."""
    return macros("common.html.j2").facts(summary_rows(run))


def summary_rows(run: dict) -> list[tuple[str, object]]:
    """The run's key facts, (label, value): the report's summary table and the PDF's title page."""
    s = run.get("summary") or {}
    data = s.get("data") or {}
    rows = [
        ("run", run["id"]), ("name", run.get("name")), ("status", run.get("status") or ""),
        ("dataset", f"{run.get('dataset')} ({data.get('n_train', '?')} train / {data.get('n_val', '?')} validation / "
                    f"{data.get('n_test', '?')} test rows, {len(data.get('class_names') or [])} classes)"),
        ("model", f"{run.get('model')} · {number_text(run.get('params'))} parameters"),
        ("optimizer", f"{run.get('optimizer')}, learning rate {number_text(run.get('learning_rate'))}"),
        ("epochs", f"{run.get('epochs_run')} run, best epoch {number_text(run.get('best_epoch'))}"),
        ("result", f"the weights of {(s.get('result') or {}).get('weights', '–')}"),
        ("test accuracy", number_text(run.get("test_accuracy"))), ("test loss", number_text(run.get("test_loss"))),
        ("training time", f"{number_text(run.get('seconds'), 3)} s"), ("created", run.get("created")),
    ]
    if run.get("error"):
        rows.append(("error", run["error"]))
    return rows


def _findings(p: RunPage) -> str:
    return macros("run.html.j2").findings(p.findings)


def _spec(p: RunPage) -> str:
    spec_text = yaml.safe_dump(p.art.run.get("spec") or {}, sort_keys=False)
    return macros("run.html.j2").spec(spec_text, p.art.folder / "spec.yaml")


def _data(p: RunPage) -> str:
    run = p.art.run
    info = (run.get("summary") or {}).get("data") or {}
    counts = info.get("class_counts") or {}
    rows = [(name, [counts.get(s, [0] * 999)[i] for s in ("train", "val", "test")])
            for i, name in enumerate(info.get("class_names") or [])]
    return macros("run.html.j2").data(info, run.get("warnings") or [], rows)


def _per_class(p: RunPage) -> str:
    per = ((p.art.run.get("summary") or {}).get("evaluation") or {}).get("per_class") or []
    return macros("run.html.j2").per_class(per)


def _model(p: RunPage) -> str | None:
    summary_txt = p.art.folder / MODEL_SUMMARY
    return macros("common.html.j2").preformatted(summary_txt.read_text()) if summary_txt.exists() else None


# ---------------------------------------------------------------- the layout

LAYOUT: tuple[Section, ...] = (
    Section("summary", "Summary", lambda p: summary_html(p.art.run)),
    Section("findings", lambda p: f"Findings ({len(p.findings)})", _findings),
    Section("spec", "Spec", _spec),
    Section("data", "Data", _data),
    Section("learning-curves", "Learning curves",
            intro="train (running) is the average Keras prints during an epoch; train (inference) "
                  "is measured after the epoch with dropout off and batch-norm moving statistics on."),
    Section("confusion-matrix", "Confusion matrix"),
    Section("per-class", "Per-class scores", _per_class),
    Section("mistakes", "Mistakes and confident successes"),
    Section("probabilities", "Class probabilities of test images"),
    Section("class-histograms", "Predicted probability per class"),
    Section("weights", "Weights"),
    Section("training-statistics", "Training statistics"),
    Section("hidden-representation", "Hidden representation",
            intro="PCA to 50 dimensions, then t-SNE, of the last hidden layer's output on test samples."),
    Section("decision-regions", "Decision regions"),
    Section("model", "Model", _model),
)


def sections() -> tuple[Section, ...]:
    """LAYOUT, plus a section of its own (before "model") for each registry figure whose section it lacks."""
    known = {s.id for s in LAYOUT}
    extra = {e.report_section: Section(e.report_section, e.caption) for e in REGISTRY.values()
             if e.report_section not in known}
    at = next(i for i, s in enumerate(LAYOUT) if s.id == "model")
    return LAYOUT[:at] + tuple(extra.values()) + LAYOUT[at:]


SECTIONS: tuple[str, ...] = tuple(s.id for s in sections())


def report_figures(section: Section, p: RunPage) -> list[tuple[FigureEntry, dict]]:
    """The section's figures that apply to the run, each with the options the report draws it with."""
    return [(e, {**e.report, **p.options.get(e.name, {})}) for e in REGISTRY.values()
            if e.report_section == section.id and e.applies(p.traits)]


def section_html(section: Section, p: RunPage) -> str | None:
    """A section's content and its figures that apply to the run; None when it has neither."""
    body = section.body(p) if section.body else None
    figures = report_figures(section, p)
    if body is None and not figures:
        return None
    heading = body is not None or len(figures) > 1   # captions only where a figure is not the section itself
    drawn = [figure_html(lambda e=e, o=o: figure_png(p.art, e.name, **o), e.caption, width=e.width, heading=heading)
             for e, o in figures]
    return macros("run.html.j2").section(body, section.intro, drawn)


def build_html(art: RunArtifacts, findings: list[Finding], *, embed_samples: int = EMBED_SAMPLES) -> str:
    """The report of a run as one HTML page; `embed_samples`: test samples in the t-SNE. A run that
    has ended gets its stored report when it is still current, else one made now and stored."""
    key = report_key(art, findings, embed_samples)
    if key is None:
        return assemble(art, findings, embed_samples, None)
    path = art.folder / REPORT
    text = stored_report(path, key)
    if text is None:
        with views.key_lock(path):
            text = stored_report(path, key)
            if text is None:
                text = assemble(art, findings, embed_samples, key)
                try:
                    art.store.write_artifact(art.id, REPORT, text)
                except OSError:   # a read-only store: the page is made, not kept
                    pass
    return text


def assemble(art: RunArtifacts, findings: list[Finding], embed_samples: int, key: str | None) -> str:
    """Make the page (its figures from the stored views), the figures not yet stored drawn by two
    processes where one can be started (see _second_drawer)."""
    p = RunPage(art, findings, run_traits(art), {"hidden-representation": {"n": embed_samples}})
    stop = _second_drawer(p)
    parts = []
    try:
        for section in sections():
            content = section_html(section, p)
            if content is not None:
                title = section.title(p) if callable(section.title) else section.title
                parts.append((section.id, title, content))
    finally:
        if stop is not None:
            stop()
    return page("run", art.run["id"], art.run.get("name"), parts, ["report.css"], view_key=key)


def _second_drawer(p: RunPage) -> Callable[[], object] | None:
    """Draw the report's figures from both ends at once; returns what stops the second drawer.

    This process draws them in report order; a second one (present.ahead) from the last, the t-SNE
    first, each storing what it draws as the figure's view. Whoever reaches a figure first draws it
    (the other waits for the view's lock and reads it); the second process stops where it finds one
    stored, having met this one. It is started where it can help: a run whose views are kept, a
    store this process can write, more than one core, this process without JAX (a new `mlplab
    report`: in one with JAX, a notebook, only the t-SNE moves, to a thread), and two figures to draw."""
    pending = [(e.name, o) for s in sections() for e, o in report_figures(s, p)
               if stored_png(p.art, e.name, **o) is None]
    if len(pending) < 2 or not views.cacheable(p.art) or not os.access(p.art.store.home, os.W_OK):
        return None
    if "jax" not in sys.modules and (os.cpu_count() or 1) > 1:
        proc = subprocess.Popen([sys.executable, "-m", "mlplab.present.ahead", str(p.art.store.home), p.art.id,
                                 json.dumps(pending[::-1])], stdout=subprocess.DEVNULL)

        def stop() -> None:   # every figure is stored by now; it would only stop at the next one
            proc.terminate()
            proc.wait()
        return stop
    entry = REGISTRY["hidden-representation"]
    options = dict(pending).get(entry.name)
    if options is None:
        return None

    def work() -> None:
        try:
            figure_png(p.art, entry.name, **options)
        except Exception:   # the report's own call meets it again and writes its note
            pass
    thread = threading.Thread(target=work, name="mlplab-report-embedding", daemon=True)
    thread.start()
    return thread.join


def report_key(art: RunArtifacts, findings: list[Finding], embed_samples: int) -> str | None:
    """What a stored report must have been made for to be served (None: a running run, never stored)."""
    if not views.cacheable(art):
        return None
    return views.digest([views.run_state(art), int(embed_samples), repr(list(findings))])


_KEY = re.compile(r'<meta name="mlplab-view" content="([^"]*)">')


def stored_report(path: Path, key: str) -> str | None:
    """The stored report at `path` if it was made for `key`."""
    try:
        with open(path, encoding="utf-8") as f:
            found = _KEY.search(f.read(4096))
            if found is None or found.group(1) != key:
                return None
            f.seek(0)
            return f.read()
    except OSError:
        return None


def write_report(store: Store, run_ref: str, out_path: str | Path | None = None, *,
                 embed_samples: int = EMBED_SAMPLES) -> Path:
    """Write the run's HTML report; default path: the run's artifact folder, `report.html` (a run that
    has ended: the stored report, made only if missing or out of date)."""
    run = store.get_run(run_ref)
    art = RunArtifacts(store, run)
    findings = diagnose(run, art.stats)
    text = build_html(art, findings, embed_samples=embed_samples)
    if out_path is not None:
        return write_atomically(out_path, text)
    key = report_key(art, findings, embed_samples)
    if key is not None and stored_report(art.folder / REPORT, key) is not None:
        return art.folder / REPORT
    return store.write_artifact(run["id"], REPORT, text)
