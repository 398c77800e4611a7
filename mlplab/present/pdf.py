"""A run's or a sweep's report as one PDF (what a course's students hand in): `mlplab report RUN --pdf`,
`run.report("x.pdf")`, `mlplab report --sweep SWEEP --pdf`, `sweep.report("x.pdf")`.

    path = write_run_pdf(store, "last")               # artifacts/<run>/report.pdf
    path = write_run_pdf(store, run_id, "run.pdf")
    path = write_sweep_pdf(store, "last")             # sweeps/<sweep>/report.pdf

A sweep's PDF: a title page with its facts and every configuration, best first, then each figure of its
HTML report (present.sweep_report.sweep_figures: one list for both).

Pages: a title page with the run's facts (the report's summary) and the doctor's findings as text (more
pages when they do not fit), then each figure of the HTML report, in its order, one a page at the
figure's own size. Drawn by matplotlib's PdfPages from the same registry entries and options as the HTML
report: no browser and no dependency beyond matplotlib. A figure that cannot be drawn is a one-line page
saying why, as it is a note in the HTML report.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable, Iterable

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from ..analysis.doctor import Finding, diagnose
from ..store import Store
from ..stored import RunArtifacts
from .figures.common import fit_title, message
from .html import number_text, write_atomically
from .registry import EMBED_SAMPLES, run_traits
from .run_report import RunPage, report_figures, sections, summary_rows
from .sweep_report import SweepPage, config_label, mean_spread, summary_facts, sweep_figures

PDF = "report.pdf"
PAGE = (8.27, 11.69)            # A4 portrait, inches
MARGIN = 0.7                    # inches on every side of a text page
STYLES = {"title": (16, "bold"), "heading": (12, "bold"), "strong": (9.5, "bold"), "text": (9.5, "normal")}


def summary_lines(title: str, facts: list[tuple[str, object]]) -> list[tuple[str, str, float]]:
    """A title page's start, as (style, text, indent in inches): the title, then the facts under "Summary"."""
    return [("title", title, 0.0), ("text", "", 0.0), ("heading", "Summary", 0.0),
            *(("text", f"{label}: {number_text(value)}", 0.0) for label, value in facts)]


def text_lines(title: str, facts: list[tuple[str, object]], findings: list[Finding]) -> list[tuple[str, str, float]]:
    """What a title page says, as (style, text, indent in inches): the heading, the facts, the findings."""
    lines = summary_lines(title, facts)
    lines += [("text", "", 0.0), ("heading", f"Findings ({len(findings)})", 0.0)]
    if not findings:
        lines.append(("text", "none: the doctor has nothing to say about this run", 0.0))
    for f in findings:
        where = f" (from epoch {f.epoch})" if f.epoch else ""
        lines += [("strong", f"{f.severity}: {f.title}{where}", 0.0), ("text", f.explanation, 0.2)]
        if f.suggestion:
            lines.append(("text", f"Try: {f.suggestion}", 0.2))
        lines.append(("text", "", 0.0))
    return lines


def text_pages(lines: list[tuple[str, str, float]]) -> list[Figure]:
    """A4 pages of text: each line wrapped to the page's width, a new page where one is full."""
    pages: list[Figure] = []
    y = PAGE[1]                                  # inches from the top of the current page: full, so a new one
    for style, text, indent in lines:
        size, weight = STYLES[style]
        wrapped = fit_title(text, PAGE[0] - 2 * MARGIN - indent, size) if text else ""
        for line in wrapped.split("\n"):
            step = size * 1.45 / 72
            if y + step > PAGE[1] - MARGIN:
                pages.append(Figure(figsize=PAGE))
                y = MARGIN
            pages[-1].text((MARGIN + indent) / PAGE[0], 1 - (y + size / 72) / PAGE[1], line, fontsize=size,
                           fontweight=weight, va="baseline")
            y += step
    return pages


def drawn(draw: Callable[[], Figure], caption: str) -> Figure:
    """The figure, or a page saying why it could not be drawn (a failed run has no predictions)."""
    try:
        return draw()
    except Exception as e:
        return message(fit_title(f"{caption}: not drawn ({type(e).__name__}: {str(e)[:200]})", 5.6, 10))


def run_figures(art: RunArtifacts, findings: list[Finding], embed_samples: int = EMBED_SAMPLES
                ) -> Iterable[Figure]:
    """The HTML report's figures of the run, in its order, drawn with the same options (one at a time)."""
    p = RunPage(art, findings, run_traits(art), {"hidden-representation": {"n": embed_samples}})
    for section in sections():
        for e, options in report_figures(section, p):
            yield drawn(lambda e=e, o=options: e.draw(art, **o), e.caption)


def pdf_bytes(title: str, pages: Iterable[Figure]) -> bytes:
    """The pages as one PDF document (matplotlib's PdfPages), titled `title`."""
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "mlplab"}) as pdf:
        for fig in pages:
            pdf.savefig(fig)
    return buf.getvalue()


def run_pdf(store: Store, run_ref: str, *, embed_samples: int = EMBED_SAMPLES) -> tuple[dict, bytes]:
    """(the run, its report as PDF bytes)."""
    run = store.get_run(run_ref)
    art = RunArtifacts(store, run)
    findings = diagnose(run, art.stats)
    title = f"mlplab run {run['id']}" + (f" · {run['name']}" if run.get("name") else "")
    pages = [*text_pages(text_lines(title, summary_rows(run), findings)), *run_figures(art, findings, embed_samples)]
    return run, pdf_bytes(title, pages)


def sweep_lines(title: str, p: SweepPage) -> list[tuple[str, str, float]]:
    """What a sweep's title page says: its facts, then each configuration, best first, as ranked."""
    metric = p.metric.replace("_", " ")
    lines = summary_lines(title, summary_facts(p))
    if p.summary.get("note"):
        lines += [("text", "", 0.0), ("text", p.summary["note"], 0.0)]
    lines += [("text", "", 0.0), ("heading", f"Configurations, best first (by {metric})", 0.0)]
    for r in p.rows:
        score, spread = mean_spread(r.get(p.metric), r.get(p.metric + "_std"), len(r["runs"]))
        lines.append(("text", f"{r.get('rank', '')}. {config_label(r['values'])}: {score}"
                              + (f" ± {spread}" if spread else "") + f" ({r.get('status', '')})", 0.0))
    return lines


def write_sweep_pdf(store: Store, sweep_ref: str, out_path: str | os.PathLike | None = None) -> Path:
    """Write a sweep's report as a PDF: its facts and configurations, then each figure of its HTML report;
    default path: `report.pdf` beside the sweep's HTML report (<store home>/sweeps/<id>/)."""
    sweep = store.get_sweep(sweep_ref)
    p = SweepPage(store, sweep, store.home)
    title = f"mlplab sweep {sweep['id']}" + (f" · {sweep['name']}" if sweep.get("name") else "")
    pages = [*text_pages(sweep_lines(title, p)),
             *(drawn(lambda d=draw: d(p), caption) for caption, draw in sweep_figures(p))]
    return write_atomically(out_path or store.home / "sweeps" / sweep["id"] / PDF, pdf_bytes(title, pages))


def write_run_pdf(store: Store, run_ref: str, out_path: str | os.PathLike | None = None, *,
                  embed_samples: int = EMBED_SAMPLES) -> Path:
    """Write the run's report as a PDF; default path: `report.pdf` in the run's artifact folder."""
    run, data = run_pdf(store, run_ref, embed_samples=embed_samples)
    if out_path is None:
        return store.write_artifact(run["id"], PDF, data)
    return write_atomically(out_path, data)
