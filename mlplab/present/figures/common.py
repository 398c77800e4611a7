"""What every figure module shares: empty-figure messages, image grids, class colours, None-safe arrays.

Figures are `matplotlib.figure.Figure` objects built directly (never pyplot), so drawing one
changes no global state: no backend is switched and nothing needs `plt.close`.
"""
from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure


def message(text: str, size=(6, 1.5)) -> Figure:
    """A figure that only says something (nothing to draw)."""
    fig = Figure(figsize=size)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    return fig


def image_grid(n: int, cell=(1.6, 1.9)) -> tuple[Figure, np.ndarray, int, int]:
    """A figure with a grid of at least `n` axes (axes off), a little wider than tall."""
    cols = max(1, min(n, math.ceil(math.sqrt(n * 1.5))))
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(cell[0] * cols, cell[1] * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes, rows, cols


def class_colors(n: int) -> list:
    """One colour per class (tab10, or tab20 past ten classes)."""
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def finite(values) -> np.ndarray:
    """A float array of `values`, None as NaN."""
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


def log_scale_if_wide(ax, values: np.ndarray, ratio: float = 50) -> None:
    """A log y axis when the positive finite values span more than `ratio` (a loss that fell far)."""
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / max(values.min(), 1e-12) > ratio:
        ax.set_yscale("log")
