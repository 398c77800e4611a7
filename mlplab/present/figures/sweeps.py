"""Sweep comparisons from a sweep's table rows: a heatmap over two swept keys, mean ± spread per configuration.

`rows` are the sweep's table rows: {values: {key: value}, <metric>: mean, <metric>_std: spread, status, ...}.
"""
from __future__ import annotations


import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ...analysis.sweep_importance import value_id
from .common import finite, message


def value_label(v) -> str:
    """A swept value as a tick label: 0.001, true, sgd(momentum=0.9)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        rest = ", ".join(f"{k}={value_label(x)}" for k, x in v.items() if k != "name")
        return f"{v.get('name', '')}({rest})" if rest else str(v.get("name", v))
    return str(v)


def _axis_values(rows, key) -> list:
    """The distinct values of one swept key: numbers ascending, anything else in first-seen order."""
    seen: dict = {}
    for row in rows:
        v = row["values"].get(key)
        seen.setdefault(value_id(v), v)
    values = list(seen.values())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        values.sort()
    return values


def _metric_value(row, metric) -> float:
    v = row.get(metric)
    return float("nan") if v is None else float(v)


def _missing_word(rows: list[dict]) -> str:
    """What a configuration without a finite value is: diverged, or simply without that metric."""
    return "NaN (diverged)" if any("diverged" in str(r.get("status") or "") for r in rows) else "no value"


# ---------------------------------------------------------------- heatmap

def _cells(rows, key_x, key_y, xs, ys, metric):
    """(rows per cell, the metric's mean per cell, a single row's spread per cell, which cells hold rows)."""
    ix = {value_id(v): i for i, v in enumerate(xs)}
    iy = {value_id(v): i for i, v in enumerate(ys)}
    cells: dict[tuple[int, int], list[dict]] = {}
    for row in rows:
        cells.setdefault((iy[value_id(row["values"].get(key_y))], ix[value_id(row["values"].get(key_x))]),
                         []).append(row)
    grid = np.full((len(ys), len(xs)), np.nan)
    spread = np.full_like(grid, np.nan)
    filled = np.zeros(grid.shape, bool)
    for (i, j), members in cells.items():
        filled[i, j] = True
        values = np.asarray([_metric_value(r, metric) for r in members])
        stds = np.asarray([_metric_value(r, metric + "_std") for r in members])
        if np.isfinite(values).any():
            grid[i, j] = np.nanmean(values)
        if len(members) == 1 and np.isfinite(stds[0]) and stds[0] > 0:
            spread[i, j] = stds[0]
    return cells, grid, spread, filled


def _write_cells(ax, cells, grid, spread, filled, vmin, vmax, lower_is_better) -> None:
    """Each cell's value (± spread), 'NaN (diverged)'/'no value' in red, nothing in an empty cell."""
    n_y, n_x = grid.shape
    if n_x * n_y > 144:
        return
    for i in range(n_y):
        for j in range(n_x):
            if not filled[i, j]:
                text, color = "", "black"
            elif not np.isfinite(grid[i, j]):
                text, color = _missing_word(cells[(i, j)]), "#d1242f"
            else:
                text = f"{grid[i, j]:.3f}" + (f"\n±{spread[i, j]:.3f}" if np.isfinite(spread[i, j]) else "")
                shade = (grid[i, j] - vmin) / (vmax - vmin)
                color = "black" if (shade > 0.55) != lower_is_better else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=11 if n_x <= 6 else 8, color=color)


def sweep_heatmap(rows: list[dict], key_x: str, key_y: str, metric: str = "val_accuracy") -> Figure:
    """The metric (mean over repeats/folds) over two swept keys, written in each cell; the best cell outlined.

    Numeric axes are categorical, ticks labelled with the values themselves, so log-spaced
    learning rates sit evenly. Several rows in one cell (a random sweep) are averaged; an empty
    or diverged cell is grey.
    """
    xs, ys = _axis_values(rows, key_x), _axis_values(rows, key_y)
    if not xs or not ys:
        return message("no configurations to draw")
    cells, grid, spread, filled = _cells(rows, key_x, key_y, xs, ys, metric)
    lower_is_better = "loss" in metric
    fig = Figure(figsize=(max(5.5, 1.4 * len(xs) + 3.0), max(3.2, 0.9 * len(ys) + 1.8)), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis_r" if lower_is_better else "viridis"].with_extremes(bad="#d9d9d9")
    finite_cells = grid[np.isfinite(grid)]
    vmin, vmax = (float(finite_cells.min()), float(finite_cells.max())) if finite_cells.size else (0.0, 1.0)
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    fig.colorbar(im, ax=ax, label=metric.replace("_", " "), shrink=0.9)
    _write_cells(ax, cells, grid, spread, filled, vmin, vmax, lower_is_better)
    if finite_cells.size:
        best = np.nanargmin(grid) if lower_is_better else np.nanargmax(grid)
        bi, bj = np.unravel_index(best, grid.shape)
        from matplotlib.patches import Rectangle
        ax.add_patch(Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, edgecolor="#d1242f", lw=3, zorder=3))
    ax.set_xticks(range(len(xs)), [value_label(v) for v in xs], fontsize=10,
                  rotation=30 if max(len(value_label(v)) for v in xs) > 8 else 0)
    ax.set_yticks(range(len(ys)), [value_label(v) for v in ys], fontsize=10)
    ax.set_xlabel(key_x)
    ax.set_ylabel(key_y)
    best_word = "lowest" if lower_is_better else "best"
    ax.set_title(f"{metric.replace('_', ' ')} (mean over repeats); {best_word} cell outlined", fontsize=10)
    return fig


# ---------------------------------------------------------------- spread

def sweep_spread(rows: list[dict], metric: str = "val_accuracy", *, labels: list[str] | None = None,
                 points: list[list[float]] | None = None) -> Figure:
    """Mean ± spread (standard deviation over repeats/folds) of the metric per configuration, best on top.

    `labels`: one name per row (default: the swept values); `points`: per row the individual runs'
    values, drawn as dots beside the error bar.
    """
    if not rows:
        return message("no configurations to draw")
    if labels is None:
        labels = [" ".join(f"{k.split('.')[-1]}={value_label(v)}" for k, v in r["values"].items()) for r in rows]
    means = np.asarray([_metric_value(r, metric) for r in rows])
    stds = np.nan_to_num(np.asarray([_metric_value(r, metric + "_std") for r in rows]))
    n = len(rows)
    fig = Figure(figsize=(9.5, max(2.4, 0.36 * n + 1.4)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(n)[::-1]                 # first row (the best) at the top
    ax.errorbar(means, y, xerr=stds, fmt="o", color="tab:blue", ecolor="tab:blue", elinewidth=2, capsize=4,
                ms=6, label="mean ± std", zorder=3)
    if points is not None:
        for yi, values in zip(y, points):
            v = finite(values)
            jitter = np.linspace(-0.18, 0.18, len(v)) if len(v) > 1 else np.zeros(len(v))
            ax.scatter(v, yi + jitter, s=14, color="tab:gray", alpha=0.8, zorder=2,
                       label="single runs" if yi == y[0] else None)
    if np.isfinite(means[0]):
        ax.axvline(means[0], color="tab:blue", lw=0.8, ls=":", alpha=0.7)   # the best mean, to compare against
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(f"{metric.replace('_', ' ')}")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="best")
    for yi, m, row in zip(y, means, rows):
        if not np.isfinite(m):
            ax.text(0.01, yi, _missing_word([row]), color="#d1242f", fontsize=8, va="center",
                    transform=ax.get_yaxis_transform())
    ax.set_title(f"{metric.replace('_', ' ')} per configuration: mean ± standard deviation over repeats/folds",
                 fontsize=10)
    return fig
