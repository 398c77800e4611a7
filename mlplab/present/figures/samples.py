"""Data samples: a grid of images (or a scatter of non-image data), optionally with predictions."""
from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from ...errors import BadInput
from .common import class_colors


def sample_grid(x, y, class_names, image_shape, *, n=25, class_index=None, seed=0,
                probabilities=None) -> Figure:
    """A grid of `n` random samples (of one class when `class_index` is given).

    Images (flat rows or (H, W[, 1])) are drawn in grey with their label as
    title; with `probabilities` (N, classes) the title also shows the
    predicted class and its probability, in red when it is wrong.
    Non-image data (`image_shape` None) is drawn as a scatter of all the
    selected points coloured by class: the two features themselves, or the
    first two principal components when there are more.
    """
    x = np.asarray(x)
    y = np.asarray(y).astype(np.int64).ravel()
    names = list(class_names)
    if class_index is not None and not (0 <= int(class_index) < len(names)):
        raise BadInput(f"class index {class_index}: expected 0..{len(names) - 1} "
                       f"({len(names)} classes)")
    rows = np.arange(len(y)) if class_index is None else np.flatnonzero(y == int(class_index))
    subject = "all classes" if class_index is None else f"class {names[int(class_index)]!r}"

    if image_shape is None:
        return _scatter(x, y, names, rows, subject)

    rng = np.random.default_rng(seed)
    chosen = rng.choice(rows, size=min(n, len(rows)), replace=False) if len(rows) else rows
    if len(chosen) == 0:
        fig = Figure(figsize=(4, 2))
        fig.text(0.5, 0.5, f"no samples of {subject}", ha="center", va="center")
        return fig
    cols = math.ceil(math.sqrt(len(chosen)))
    nrows = math.ceil(len(chosen) / cols)
    fig = Figure(figsize=(1.5 * cols, 1.7 * nrows), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, chosen):
        ax.imshow(x[i].reshape(image_shape), cmap="gray", interpolation="nearest")
        title, color = names[y[i]], "black"
        if probabilities is not None:
            p = np.asarray(probabilities[i])
            pred = int(np.argmax(p))
            title = f"{names[y[i]]} → {names[pred]} {p[pred]:.2f}"
            color = "black" if pred == y[i] else "red"
        ax.set_title(title, fontsize=8, color=color)
    fig.suptitle(f"{len(chosen)} random samples of {subject}", fontsize=10)
    return fig


def _scatter(x, y, names, rows, subject) -> Figure:
    flat = x.reshape(len(x), -1).astype(np.float64)
    if flat.shape[1] == 2:
        points, labels = flat, ("x1", "x2")
    else:
        from sklearn.decomposition import PCA
        n_comp = min(2, flat.shape[1], len(flat))
        points = PCA(n_components=n_comp).fit_transform(flat)
        if points.shape[1] < 2:
            points = np.column_stack([points, np.zeros(len(points))])
        labels = ("PC 1", "PC 2")
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.subplots()
    colors = class_colors(len(names))
    for c in np.unique(y[rows]):
        pick = rows[y[rows] == c]
        ax.scatter(points[pick, 0], points[pick, 1], s=8, alpha=0.7, color=colors[int(c)], label=names[c])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if len(rows):
        ax.legend(fontsize=8, markerscale=2)
    ax.set_title(f"{len(rows)} points of {subject}", fontsize=10)
    return fig
