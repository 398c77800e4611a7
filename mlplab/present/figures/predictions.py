"""Prediction views of the test set: the confusion matrix, mistakes and successes, class probabilities."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ...engine.inference import as_probabilities
from ...errors import BadInput
from .common import draw_tiles, image_tiles, inch_canvas, message


def confusion_matrix(y_true, probabilities, class_names) -> Figure:
    """Counts (left) and rows normalised to recall per true class (right)."""
    names = list(class_names)
    k = len(names)
    pred = as_probabilities(probabilities).argmax(axis=1)
    y = np.asarray(y_true).astype(np.int64).ravel()
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (y, pred), 1)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(4.5, 0.45 * k + 2)
    fig = Figure(figsize=(2 * size + 1, size))
    rotate = max(map(len, names)) > 2
    label = 0.058 * max(map(len, names))                   # inches of the longest class name at 8 points
    left, bottom = 0.5 + label, 0.5 + (0.72 * label if rotate else 0.15)
    side = min(size - bottom - 0.75, (2 * size + 1) / 2 - left - 0.95)   # square cells; a colour bar beside each
    for i, (m, title, fmt) in enumerate(((cm, "counts", "d"), (norm, "normalised per true class", ".2f"))):
        x = i * (size + 0.5) + left
        ax = fig.add_axes(_box(fig, x, bottom, side, side))
        im = ax.imshow(m, cmap="Blues", vmin=0, vmax=m.max() if m.max() else 1)
        ax.set_xticks(range(k), names, rotation=45 if rotate else 0, ha="right" if rotate else "center", fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title, fontsize=10, y=1.0)
        if k <= 20:
            threshold = m.max() / 2
            for r in range(k):
                for c in range(k):
                    ax.text(c, r, format(m[r, c], fmt), ha="center", va="center", fontsize=7 if k > 10 else 8,
                            color="white" if m[r, c] > threshold else "black")
        fig.colorbar(im, cax=fig.add_axes(_box(fig, x + side + 0.15, bottom + 0.1 * side, 0.16, 0.8 * side)))
    fig.suptitle(f"Confusion matrix ({len(y)} test samples, accuracy {np.mean(pred == y):.1%})", fontsize=11)
    return fig


def _box(fig: Figure, left: float, bottom: float, width: float, height: float) -> tuple:
    """A rectangle given in inches from the figure's lower left corner, in figure fractions (add_axes')."""
    w, h = fig.get_size_inches()
    return left / w, bottom / h, width / w, height / h


def misclassified(x, y_true, probabilities, class_names, image_shape, *, mode: str = "confident", n: int = 16,
                  seed: int = 0) -> Figure:
    """Test images with predicted and true labels and both probabilities.

    mode "confident": the errors the model was surest of, ranked by P(predicted) - P(true);
    "random": a random sample of errors; "correct": the most confidently correct images.
    """
    p = as_probabilities(probabilities)
    y = np.asarray(y_true).astype(np.int64).ravel()
    names = list(class_names)
    pred = p.argmax(axis=1)
    rows = np.arange(len(y))
    margin = p[rows, pred] - p[rows, y]
    if mode == "confident":
        pick = np.flatnonzero(pred != y)
        pick = pick[np.argsort(-margin[pick], kind="stable")][:n]
        title = "Most confident mistakes (ranked by P(predicted) - P(true))"
    elif mode == "random":
        wrong = np.flatnonzero(pred != y)
        pick = np.random.default_rng(seed).choice(wrong, size=min(n, len(wrong)), replace=False) if len(wrong) else wrong
        title = "A random sample of mistakes"
    elif mode == "correct":
        right = np.flatnonzero(pred == y)
        pick = right[np.argsort(-p[right, y[right]], kind="stable")][:n]
        title = "Most confidently correct"
    else:
        raise BadInput(f"mode {mode!r}: expected confident, random or correct")
    if len(pick) == 0:
        return message(f"{title}: none")
    x = np.asarray(x)
    titles = [f"pred {names[pred[i]]} {p[i, pred[i]]:.2f}\ntrue {names[y[i]]} {p[i, y[i]]:.2f}" if pred[i] != y[i]
              else f"{names[y[i]]} {p[i, y[i]]:.3f}" for i in pick]
    total = int(np.sum(pred != y)) if mode != "correct" else int(np.sum(pred == y))
    return image_tiles([x[i].reshape(image_shape) for i in pick], titles,
                       colors=["red" if pred[i] != y[i] else "black" for i in pick],
                       suptitle=f"{title}: {len(pick)} of {total}")


def probability_bars(x, y_true, probabilities, class_names, image_shape, *, n: int = 6, seed: int = 0,
                     indices=None) -> Figure:
    """Each image beside a bar chart of its class probabilities: predicted bar red, true bar blue
    (a correct prediction's bar is blue). Everything in one Axes over the figure, in inches from its
    top left (a chart's bars are one BarContainer, its labels texts): one Axes per chart, with its
    ticks, took most of the figure's second."""
    p = as_probabilities(probabilities)
    y = np.asarray(y_true).astype(np.int64).ravel()
    names = list(class_names)
    k = len(names)
    if indices is None:
        indices = np.random.default_rng(seed).choice(len(y), size=min(n, len(y)), replace=False)
    indices = list(indices)
    cols = 3 if len(indices) > 2 else len(indices)
    rows = math.ceil(len(indices) / cols)
    fig = Figure(figsize=(4.2 * cols, 2.0 * rows + 0.4))
    x = np.asarray(x)
    boxes = [(4.2 * c + 0.1, 0.4 + 2.0 * r + 0.3, 1.35) for r, c in (divmod(s, cols) for s in range(len(indices)))]
    ax = draw_tiles(fig, [x[i].reshape(image_shape) for i in indices], boxes, [f"true: {names[y[i]]}" for i in indices])
    labels = names if max(map(len, names)) <= 2 else [str(j) for j in range(k)]
    step = 2.1 / k
    for slot, i in enumerate(indices):
        r, c = divmod(slot, cols)
        left, base, h = 4.2 * c + 1.95, 0.4 + 2.0 * r + 1.65, 1.3       # the chart: 2.1 x 1.3 inches
        pred = int(p[i].argmax())
        colors = ["lightgray"] * k
        colors[pred] = "red"
        colors[y[i]] = "blue"
        ax.bar(left + step * (np.arange(k) + 0.5), -p[i] * h, width=0.8 * step, bottom=base, color=colors)
        ax.add_patch(Rectangle((left, base - h), 2.1, h, fill=False, linewidth=0.8, edgecolor="black"))
        for j, label in enumerate(labels):
            ax.text(left + step * (j + 0.5), base + 0.04, label, ha="center", va="top", fontsize=7)
        if c == 0:
            for v in (0, 0.5, 1):
                ax.text(left - 0.05, base - v * h, f"{v:g}", ha="right", va="center", fontsize=7)
        ax.text(left + 1.05, base - h - 0.04, f"pred {names[pred]} {p[i, pred]:.2f}", ha="center", va="bottom",
                fontsize=8, color="black" if pred == y[i] else "red")
    fig.suptitle("Class probabilities (red: predicted, blue: true)", fontsize=11, y=1 - 0.1 / fig.get_figheight(),
                 va="top")
    return fig


def class_probability_histograms(y_true, probabilities, class_names) -> Figure:
    """Per class c: histogram of P(c) for samples of class c vs all other samples (log counts).

    Every panel in one Axes over the figure, in inches from its top left: a panel's histograms are two
    filled step outlines (`stairs`, heights log10 of the counts, empty bins on the floor), its labels
    texts. One Axes per class, each with log ticks, took most of the figure's time."""
    p = as_probabilities(probabilities)
    y = np.asarray(y_true).astype(np.int64).ravel()
    names = list(class_names)
    k = len(names)
    cols = min(5, k)
    rows = math.ceil(k / cols)
    fig = Figure(figsize=(3.0 * cols, 2.4 * rows + 0.5))
    w, h = fig.get_size_inches()
    ax = inch_canvas(fig)
    bins = np.linspace(0, 1, 21)
    counts = [(np.histogram(p[y == c, c], bins)[0], np.histogram(p[y != c, c], bins)[0]) for c in range(k)]
    top = math.log10(max([1] + [int(a.max()) for pair in counts for a in pair]) * 1.5)   # the panels' shared scale
    floor = math.log10(0.7)                                           # an empty bin's height: below one count
    pw, ph = 3.0 - 0.55, 2.4 - 0.62                                    # a panel's plot, inches
    def height(count):   # inches above a panel's floor
        return (np.log10(np.maximum(count, 0.7)) - floor) / (top - floor) * ph
    for c in range(k):
        r, col = divmod(c, cols)
        left, base = 0.45 + 3.0 * col, 0.6 + 2.4 * r + 0.3 + ph
        for values, color, alpha, label in ((counts[c][0], "tab:blue", 0.7, "its own class"),
                                            (counts[c][1], "tab:gray", 0.6, "others")):
            ax.stairs(base - height(values), left + bins * pw, baseline=base, fill=True, color=color, alpha=alpha,
                      label=label if c == 0 else None)
        ax.add_patch(Rectangle((left, base - ph), pw, ph, fill=False, linewidth=0.8, edgecolor="black"))
        ax.text(left + pw / 2, base - ph - 0.05, f"P({names[c]})", ha="center", va="bottom", fontsize=9)
        for v in (0, 0.5, 1):
            ax.text(left + v * pw, base + 0.04, f"{v:g}", ha="center", va="top", fontsize=7)
        if col == 0:
            for decade in range(0, int(top) + 1):
                ax.text(left - 0.05, float(base - height(10 ** decade)), f"{10 ** decade}", ha="right", va="center", fontsize=7)
    ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=((0.45 + pw) / w, 1 - (0.6 + 0.3) / h))
    fig.suptitle("Predicted probability of each class: its own samples vs the others (log counts)", fontsize=11,
                 y=1 - 0.12 / h, va="top")
    return fig
