"""A sweep's analysis from its table rows: parallel coordinates, parameter importance, per-key slices.

`rows` are the sweep's table rows, best first ({values: {key: value}, <metric>: mean, rank, ...});
`metric` is the sweep's ranking metric (analysis.status.rank). Numeric keys spanning 10x or more
(learning rates) are drawn on a log axis, names and tables (optimizers) as evenly spaced categories
(analysis.sweep_importance.scale: the same reading the importance uses).
"""
from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ...analysis.sweep_importance import Importance, is_number, scale, value_id
from ...spec.sweep import short
from .common import message
from .sweeps import value_label

BEST = "#d1242f"
MISSING = "#9a9a9a"
MAX_TICKS = 8


def _metric_word(metric: str) -> str:
    return metric.replace("_", " ").replace("val ", "validation ")


def _metric(rows: list[dict], metric: str) -> np.ndarray:
    return np.asarray([float(r[metric]) if is_number(r.get(metric)) else math.nan for r in rows], float)


def key_axis(values: list) -> tuple[np.ndarray, list[float], list[str], str]:
    """Each value's position in 0..1 on its axis, the tick positions and labels, and the axis' scale."""
    kind = scale(values)
    if kind == "categorical":
        distinct = list({value_id(v): v for v in values}.values())
        at = {value_id(v): (1 - i / (len(distinct) - 1) if len(distinct) > 1 else 0.5)   # the best's on top
              for i, v in enumerate(distinct)}
        ticks = [at[value_id(v)] for v in distinct]
        return np.asarray([at[value_id(v)] for v in values]), ticks, [value_label(v) for v in distinct], kind
    x = np.asarray(values, float)
    t = np.log10(x) if kind == "log" else x
    lo, hi = float(t.min()), float(t.max())
    pos = (t - lo) / (hi - lo) if hi > lo else np.full(len(t), 0.5)
    distinct = sorted(set(values))
    if len(distinct) > MAX_TICKS:
        distinct = [min(values), float(np.median(values)), max(values)]
    tt = np.log10(np.asarray(distinct, float)) if kind == "log" else np.asarray(distinct, float)
    ticks = list((tt - lo) / (hi - lo)) if hi > lo else [0.5] * len(distinct)
    return pos, ticks, [value_label(float(f"{v:.3g}")) for v in distinct], kind


def parallel_coordinates(rows: list[dict], keys: list[str], metric: str) -> Figure:
    """One vertical axis per swept key and one for the metric; each configuration a line through its
    values, coloured by the metric, the best (rank 1) in red on top. A configuration without a finite
    metric (diverged) is grey, below the metric axis."""
    if not rows or not keys:
        return message("no configurations to draw")
    y = _metric(rows, metric)
    finite = y[np.isfinite(y)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    metric_pos = np.where(np.isfinite(y), (y - lo) / span if hi > lo else 0.5, -0.1)
    axes = [key_axis([(r.get("values") or {}).get(k) for r in rows]) for k in keys]
    columns = np.column_stack([a[0] for a in axes] + [metric_pos])
    fig = Figure(figsize=(max(6.0, 2.0 * (len(keys) + 1) + 1.5), 4.4), layout="constrained")
    ax = fig.subplots()
    cmap, norm = matplotlib.colormaps["viridis"], matplotlib.colors.Normalize(lo, hi if hi > lo else lo + 1)
    xs = np.arange(len(keys) + 1)
    order = sorted(range(len(rows)), key=lambda i: y[i] if np.isfinite(y[i]) else -math.inf)
    for i in order:   # worst first: the best lines are drawn last, on top
        best = rows[i].get("rank") == 1
        color = BEST if best else (cmap(norm(y[i])) if np.isfinite(y[i]) else MISSING)
        ax.plot(xs, columns[i], color=color, lw=3 if best else 1.4, alpha=1 if best else 0.8,
                zorder=4 if best else 2, ls="-" if np.isfinite(y[i]) else "--")
    for x, (_, ticks, labels, kind) in zip(xs, axes):
        _axis(ax, x, ticks, labels)
    metric_ticks = np.linspace(lo, hi, 5) if hi > lo else np.asarray([lo])
    _axis(ax, xs[-1], list((metric_ticks - lo) / span) if hi > lo else [0.5], [f"{v:.3f}" for v in metric_ticks])
    if not np.isfinite(y).all():
        ax.text(xs[-1] + 0.06, -0.1, "NaN (diverged)", fontsize=8, va="center", color=MISSING)
    ax.set_xticks(xs, [short(k) + (" (log)" if a[3] == "log" else "") for k, a in zip(keys, axes)]
                  + [_metric_word(metric)], fontsize=9)
    ax.xaxis.tick_top()
    ax.set_xlim(-0.15, xs[-1] + 0.6)
    ax.set_ylim(-0.16 if not np.isfinite(y).all() else -0.05, 1.05)
    ax.set_yticks([])
    for side in ("left", "right", "bottom", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{len(rows)} configurations by {_metric_word(metric)} (the sweep's ranking); best in red",
                 fontsize=10)
    return fig


def _axis(ax, x: float, ticks: list[float], labels: list[str]) -> None:
    ax.axvline(x, color="#444", lw=1, zorder=1)
    for t, label in zip(ticks, labels):
        ax.plot([x - 0.03, x], [t, t], color="#444", lw=1, zorder=1)
        ax.text(x + 0.05, t, label, fontsize=8, va="center", ha="left", zorder=5,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5})


def importance_bars(imp: Importance) -> Figure:
    """Each key's share of the metric's variance (first-order, %) with the share chance alone gives
    (a grey tick), and what no single key explains (interactions and noise)."""
    if not imp.keys:
        return message("no swept keys")
    labels = [short(k.key) + (" (ranges)" if k.binned else "") for k in imp.keys] + ["interactions / rest"]
    shares = [100 * k.share for k in imp.keys] + [100 * imp.rest]
    fig = Figure(figsize=(7.0, 1.2 + 0.45 * len(labels)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(labels))[::-1]
    colors = ["tab:blue" if k.informative else "#9ecae1" for k in imp.keys] + ["#cccccc"]
    ax.barh(y, shares, color=colors)
    for yi, k in zip(y, imp.keys):
        ax.plot([100 * k.chance] * 2, [yi - 0.4, yi + 0.4], color="#555", lw=2)
    for yi, s in zip(y, shares):
        ax.text(min(s, 100) + 1, yi, f"{s:.0f} %", va="center", fontsize=9)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, 112)
    ax.set_xlabel(f"share of the variance of {_metric_word(imp.metric)} over {imp.n} configurations (%)")
    ax.grid(alpha=0.3, axis="x")
    title = "Parameter importance (first-order, fANOVA main effects); grey tick: what chance alone gives"
    ax.set_title(title + ("\n" + imp.note if imp.note and len(imp.note) < 110 else ""), fontsize=9)
    return fig


def slices(rows: list[dict], keys: list[str], metric: str) -> Figure:
    """The metric against each swept key alone (one panel per key): every configuration a dot, the
    mean per value a line (when values were tried more than once), the best in red. Learning rates on a log axis, names as categories."""
    if not rows or not keys:
        return message("no configurations to draw")
    y = _metric(rows, metric)
    cols = min(3, len(keys))
    nrows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(3.6 * cols + 0.6, 3.0 * nrows + 0.5), layout="constrained")
    panels = np.atleast_1d(fig.subplots(nrows, cols, sharey=True, squeeze=False)).ravel()
    best = [i for i, r in enumerate(rows) if r.get("rank") == 1]
    for ax, key in zip(panels, keys):
        _slice(ax, [(r.get("values") or {}).get(key) for r in rows], y, best)
        ax.set_xlabel(short(key))
        ax.grid(alpha=0.3)
    for ax in panels[len(keys):]:
        ax.set_visible(False)
    for ax in panels[::cols]:
        ax.set_ylabel(_metric_word(metric))
    missing = int((~np.isfinite(y)).sum())
    drawn = f"; {missing} without a finite value not drawn)" if missing else ")"
    fig.suptitle(f"{_metric_word(metric)} per value of each key\n(dots: configurations, line: mean, red star: best"
                 + drawn, fontsize=10)
    return fig


def _slice(ax, values: list, y: np.ndarray, best: list[int]) -> None:
    kind = scale(values)
    ok = np.isfinite(y)
    if kind == "categorical":
        distinct = list({value_id(v): v for v in values}.values())
        at = {value_id(v): i for i, v in enumerate(distinct)}
        x = np.asarray([at[value_id(v)] for v in values], float)
        jitter = (np.arange(len(x)) % 5 - 2) * 0.04
        ax.set_xticks(range(len(distinct)), [value_label(v) for v in distinct], fontsize=8,
                      rotation=30 if max(len(value_label(v)) for v in distinct) > 8 else 0)
        ax.set_xlim(-0.5, len(distinct) - 0.5)
    else:
        x, jitter = np.asarray(values, float), 0.0
        if kind == "log":
            ax.set_xscale("log")
    ax.scatter((x + jitter)[ok], y[ok], s=22, color="tab:blue", alpha=0.75, zorder=3)
    groups = sorted({float(v) for v in x[ok]})
    if len(groups) < ok.sum():   # values tried more than once (a grid): their means, joined
        means = [float(np.mean(y[ok][x[ok] == g])) for g in groups]
        ax.plot(groups, means, color="tab:orange", lw=1.6, marker="_", ms=14, zorder=2)
    for i in best:
        if ok[i]:
            ax.scatter([x[i]], [y[i]], s=70, color=BEST, marker="*", zorder=4)
