"""Data samples: a grid of images (or a scatter of non-image data), optionally with predictions."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...analysis.embedding import pca
from ...errors import BadInput
from .common import class_colors, grid_shape, image_tiles


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
    titles, colors = [], []
    for i in chosen:
        title, color = names[y[i]], "black"
        if probabilities is not None:
            p = np.asarray(probabilities[i])
            pred = int(np.argmax(p))
            title = f"{names[y[i]]} → {names[pred]} {p[pred]:.2f}"
            color = "black" if pred == y[i] else "red"
        titles.append(title)
        colors.append(color)
    return image_tiles([x[i].reshape(image_shape) for i in chosen], titles, colors=colors, cell=(1.5, 1.7),
                       suptitle=f"{len(chosen)} random samples of {subject}", suptitle_size=10)


def _scatter(x, y, names, rows, subject) -> Figure:
    flat = x.reshape(len(x), -1).astype(np.float64)
    if flat.shape[1] == 2:
        points, labels = flat, ("x1", "x2")
    else:
        points = pca(flat, 2)
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


def indexed_samples(x, y, class_names, image_shape, index: int, *, count: int = 1, split: str = "train") -> Figure:
    """Rows index .. index+count-1 of a split in order, large, each with its row number and label
    (what `plt.imshow(x_train[500]); plt.title(y_train[500])` shows in a notebook)."""
    x, y = np.asarray(x), np.asarray(y).astype(np.int64).ravel()
    if not 0 <= index < len(y):
        raise BadInput(f"--index {index}: expected 0..{len(y) - 1} (the {split} split has {len(y)} rows)")
    if count < 1:
        raise BadInput(f"--count {count}: expected a whole number >= 1")
    rows = np.arange(index, min(index + count, len(y)))
    if image_shape is None:
        return _scatter(x, y, list(class_names), rows, f"{split} rows {rows[0]}..{rows[-1]}")
    cols, nrows = grid_shape(len(rows))
    side = 4.0 if len(rows) == 1 else 2.2
    fig = Figure(figsize=(side * cols, (side + 0.4) * nrows), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, rows):
        ax.imshow(x[i].reshape(image_shape), cmap="gray", interpolation="nearest")
        ax.set_title(f"{split}[{i}]: {class_names[y[i]]}", fontsize=10 if len(rows) == 1 else 8)
    return fig


def dataset_samples(ds, split: str = "train", *, index: int | None = None, count: int | None = None,
                    class_index: int | None = None, seed: int = 0) -> Figure:
    """A Dataset's rows `index`.. (large, in order) or `count` random samples (of one class), from a
    split: `mlplab data show` and the API's `ds.show(...)`."""
    x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    info = ds.info
    if index is not None:
        return indexed_samples(x, y, info.class_names, info.image_shape, index, count=count or 1, split=split)
    return sample_grid(x, y, info.class_names, info.image_shape, n=count or 25, class_index=class_index, seed=seed)
