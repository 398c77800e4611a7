"""Learning curves: one run's loss and accuracy per epoch, and several runs overlaid."""
from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .common import finite, fixed_layout, log_scale_if_wide, message

# (history key prefix, legend label, line style) of one run's curves
CURVES = (("", "train (running)", dict(color="tab:blue", ls=":", alpha=0.8)),
          ("train_", "train (inference)", dict(color="tab:blue")),
          ("val_", "validation", dict(color="tab:orange")),
          ("test_", "test", dict(color="tab:green", ls="--")))


def accuracy_limits(values) -> tuple[float, float]:
    """An accuracy axis fitted to its finite values (5 % of their span around them, at least 0.01) and kept
    within 0..1 (a hair more, so that a line at 1.0 stays visible): 1.0 is the cap, not the floor, so curves
    between 0.90 and 0.98 do not look flat. The dashboard's charts fit theirs alike (web/static/app.js)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return -0.02, 1.02
    pad = max(0.05 * (v.max() - v.min()), 0.01)
    return max(v.min() - pad, -0.01), min(v.max() + pad, 1.01)


def learning_curves(history: dict, *, best_epoch: int | None = None, stopped_epoch: int | None = None,
                    title: str | None = None) -> Figure:
    """Loss and accuracy per epoch: running train (as Keras prints it), inference-mode train,
    validation and test; the best epoch and the early-stopping point marked; with a learning-rate
    schedule, a third panel shows the rate each epoch trained with."""
    rates = history.get("learning_rate")
    fig = Figure(figsize=(15 if rates else 11, 4))
    fixed_layout(fig, 1, 3 if rates else 2, top=0.45)
    axes = fig.subplots(1, 3 if rates else 2)
    n = len(history.get("loss") or [])
    epochs = np.asarray(history.get("epoch") or range(1, n + 1))
    if rates:
        learning_rates(axes[2], epochs, rates)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, label, style in CURVES:
            values = history.get(prefix + metric)
            if values and len(values) == len(epochs):
                ax.plot(epochs, finite(values), marker="o" if len(epochs) <= 30 else None, ms=3,
                        label=label, **style)
        if best_epoch:
            ax.axvline(best_epoch, color="black", lw=1, ls="--", label=f"best epoch ({best_epoch})")
        if stopped_epoch and stopped_epoch != best_epoch:
            ax.axvline(stopped_epoch, color="red", lw=1, ls=":", label=f"early stop ({stopped_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        drawn = np.concatenate([finite(history.get(p + metric) or []) for p, _, _ in CURVES])
        if metric == "loss":
            log_scale_if_wide(ax, drawn)
        else:
            ax.set_ylim(*accuracy_limits(drawn))
        ax.legend(fontsize=8)
    fig.suptitle(title or "Learning curves", fontsize=11)
    return fig


def learning_rates(ax, epochs: np.ndarray, rates: list[float]) -> None:
    """The learning rate per epoch (a schedule's), on a log axis when it spans a decade or more."""
    ax.plot(epochs, rates, marker="o" if len(epochs) <= 30 else None, ms=3, color="tab:purple", drawstyle="steps-mid")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    positive = [r for r in rates if r > 0]
    if positive and max(positive) >= 10 * min(positive):
        ax.set_yscale("log")


# ---------------------------------------------------------------- several runs

def run_styles(n: int) -> list[dict]:
    """One colour per run; past ten runs the line style changes too, so no two runs look alike."""
    cmap = matplotlib.colormaps["tab10"]
    styles = ("-", "--", ":", "-.")
    return [dict(color=cmap(i % 10), ls=styles[(i // 10) % len(styles)]) for i in range(n)]


def metric_label(key: str) -> str:
    """What a history key measures: "val_loss" -> "val loss"; the running "loss" -> "train loss (running)"."""
    return f"train {key} (running)" if key in ("loss", "accuracy") else key.replace("_", " ")


def _curve(history: dict, metric: str) -> tuple[str, np.ndarray] | None:
    """The run's `metric`, or its running train counterpart when the run has none ("val_loss" -> "loss")."""
    for key in (metric, metric.split("_", 1)[1] if metric.startswith(("val_", "test_")) else metric):
        values = finite(history.get(key) or [])
        if values.size and np.isfinite(values).any():
            return key, values
    return None


def _panel_label(metric: str, keys: list[str]) -> str:
    """A panel's title: what its lines are (the asked-for metric, the fallbacks drawn instead, or both)."""
    drawn = list(dict.fromkeys(keys)) or [metric]
    if metric in drawn and len(drawn) > 1:
        return f"{metric_label(metric)} (dash-dot: {'; '.join(metric_label(k) for k in drawn if k != metric)})"
    return "; ".join(metric_label(k) for k in drawn)


def overlaid_curves(histories: list[dict], labels: list[str], *, metrics=("val_loss", "val_accuracy"),
                    title: str | None = None) -> Figure:
    """Learning curves of several runs on shared axes: one panel per metric, one colour per run.

    A run without the metric (no validation split) is drawn with its running train metric
    instead ("val_loss" -> "loss"), dashed-dotted and marked "(train)" in the legend; each
    panel's title and y axis say what its lines are.
    """
    if len(histories) != len(labels):
        raise ValueError(f"{len(histories)} histories but {len(labels)} labels")
    if not histories:
        return message("no runs to compare")
    metrics = tuple(metrics)
    legend_width = min(6.0, 0.8 + 0.075 * max(len(str(label)) for label in labels))   # inches, outside the axes
    fig = Figure(figsize=(5.2 * len(metrics) + legend_width, 4.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    styles = run_styles(len(histories))
    for ax, metric in zip(axes, metrics):
        _overlay_panel(ax, metric, histories, labels, styles)
    handles, names = axes[0].get_legend_handles_labels()
    if handles:
        # one legend for all panels, outside the axes: labels of sweep configurations are long
        fig.legend(handles, names, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(title or f"Learning curves of {len(histories)} runs", fontsize=11)
    return fig


def _overlay_panel(ax, metric: str, histories: list[dict], labels: list[str], styles: list[dict]) -> None:
    """One metric of every run on one axes (a run without it: its running train counterpart, dash-dot)."""
    drawn: list[np.ndarray] = []
    keys: list[str] = []
    for history, label, style in zip(histories, labels, styles):
        found = _curve(history, metric)
        if found is None:
            continue
        key, values = found
        epochs = finite(history.get("epoch") or range(1, len(values) + 1))
        if len(epochs) != len(values):
            epochs = np.arange(1, len(values) + 1)
        fallback = key != metric
        ax.plot(epochs, values, marker="o" if len(values) <= 30 else None, ms=3, lw=1.6,
                label=f"{label} (train)" if fallback else label,
                **(dict(style, ls="-.") if fallback else style))
        drawn.append(values)
        keys.append(key)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(_panel_label(metric, keys))
    ax.grid(alpha=0.3)
    if "loss" in metric:
        log_scale_if_wide(ax, np.concatenate(drawn) if drawn else np.zeros(0))
    elif "accuracy" in metric:
        ax.set_ylim(*accuracy_limits(np.concatenate(drawn) if drawn else np.zeros(0)))
    if not drawn:
        ax.text(0.5, 0.5, f"no run has {metric_label(metric)}", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(_panel_label(metric, keys), fontsize=10)
