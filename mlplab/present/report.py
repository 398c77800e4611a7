"""Self-contained HTML reports of stored runs and sweeps: the names others import, in one place.

    write_report(store, "last")                 # present.run_report: one run, every figure that applies
    write_sweep_report(store, "last")           # present.sweep_report: table, noise verdict, heatmap, curves

The pieces live in present.html (numbers, figures, the page shell), present/templates (the markup,
autoescaped Jinja2, and the CSS), present.run_report,
present.sweep_report and present.registry (a run's figures by name: figure_for, FIGURE_NAMES).
"""
from .html import png_data_uri
from .registry import FIGURE_NAMES, figure_for
from .run_report import SECTIONS, build_html, summary_html, write_report
from .sweep_report import SWEEP_SECTIONS, build_sweep_html, write_sweep_report

FIGURES = FIGURE_NAMES   # the older name of the registry's list

__all__ = ["FIGURES", "FIGURE_NAMES", "SECTIONS", "SWEEP_SECTIONS", "build_html",
           "build_sweep_html", "figure_for", "png_data_uri", "summary_html", "write_report", "write_sweep_report"]
