"""Figures as matplotlib `Figure` objects (Agg backend, no pyplot state).

Each function returns a Figure; the caller saves it (`fig.savefig(path)`)
or embeds it. Figures are built with `matplotlib.figure.Figure` directly, so
they are never registered with pyplot and need no `plt.close`.
"""
from __future__ import annotations

import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..engine.inference import as_probabilities, default_layer, layer_output, predict_probabilities
from ..errors import BadInput


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
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    for c in np.unique(y[rows]):
        pick = rows[y[rows] == c]
        ax.scatter(points[pick, 0], points[pick, 1], s=8, alpha=0.7,
                   color=cmap(int(c) % cmap.N), label=names[c])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if len(rows):
        ax.legend(fontsize=8, markerscale=2)
    ax.set_title(f"{len(rows)} points of {subject}", fontsize=10)
    return fig


# ---------------------------------------------------------------- helpers

def _image_grid(n: int, cell=(1.6, 1.9)) -> tuple[Figure, np.ndarray, int, int]:
    cols = max(1, min(n, math.ceil(math.sqrt(n * 1.5))))
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(cell[0] * cols, cell[1] * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes, rows, cols


def _message(text: str, size=(6, 1.5)) -> Figure:
    fig = Figure(figsize=size)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    return fig


def _class_colors(n: int):
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _finite(values) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


# ---------------------------------------------------------------- learning curves

def learning_curves(history: dict, *, best_epoch: int | None = None, stopped_epoch: int | None = None,
                    title: str | None = None) -> Figure:
    """Loss and accuracy per epoch: running train (as Keras prints it), inference-mode train,
    validation and test; the best epoch and the early-stopping point marked."""
    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    n = len(history.get("loss") or [])
    epochs = np.asarray(history.get("epoch") or range(1, n + 1))
    lines = [("", "train (running)", dict(color="tab:blue", ls=":", alpha=0.8)),
             ("train_", "train (inference)", dict(color="tab:blue")),
             ("val_", "validation", dict(color="tab:orange")),
             ("test_", "test", dict(color="tab:green", ls="--"))]
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for prefix, label, style in lines:
            values = history.get(prefix + metric)
            if values and len(values) == len(epochs):
                ax.plot(epochs, _finite(values), marker="o" if len(epochs) <= 30 else None, ms=3,
                        label=label, **style)
        if best_epoch:
            ax.axvline(best_epoch, color="black", lw=1, ls="--", label=f"best epoch ({best_epoch})")
        if stopped_epoch and stopped_epoch != best_epoch:
            ax.axvline(stopped_epoch, color="red", lw=1, ls=":", label=f"early stop ({stopped_epoch})")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if metric == "loss":
            vals = np.concatenate([_finite(history.get(p + "loss") or []) for p, _, _ in lines])
            vals = vals[np.isfinite(vals) & (vals > 0)]
            if vals.size and vals.max() / max(vals.min(), 1e-12) > 50:
                ax.set_yscale("log")
        else:
            ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    fig.suptitle(title or "Learning curves", fontsize=11)
    return fig


# ---------------------------------------------------------------- confusion matrix

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
    fig = Figure(figsize=(2 * size + 1, size), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, m, title, fmt in ((axes[0], cm, "counts", "d"), (axes[1], norm, "normalised per true class", ".2f")):
        im = ax.imshow(m, cmap="Blues", vmin=0, vmax=m.max() if m.max() else 1)
        ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right", fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title, fontsize=10)
        if k <= 20:
            threshold = m.max() / 2
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, format(m[i, j], fmt), ha="center", va="center", fontsize=7 if k > 10 else 8,
                            color="white" if m[i, j] > threshold else "black")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(f"Confusion matrix ({len(y)} test samples, accuracy {np.mean(pred == y):.1%})", fontsize=11)
    return fig


# ---------------------------------------------------------------- image galleries

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
        return _message(f"{title}: none")
    fig, axes, _, _ = _image_grid(len(pick))
    x = np.asarray(x)
    for ax, i in zip(axes.flat, pick):
        ax.imshow(x[i].reshape(image_shape), cmap="gray", interpolation="nearest")
        wrong = pred[i] != y[i]
        text = (f"pred {names[pred[i]]} {p[i, pred[i]]:.2f}\ntrue {names[y[i]]} {p[i, y[i]]:.2f}" if wrong
                else f"{names[y[i]]} {p[i, y[i]]:.3f}")
        ax.set_title(text, fontsize=8, color="red" if wrong else "black")
    fig.suptitle(f"{title}: {len(pick)} of {int(np.sum(pred != y)) if mode != 'correct' else int(np.sum(pred == y))}",
                 fontsize=11)
    return fig


def probability_bars(x, y_true, probabilities, class_names, image_shape, *, n: int = 6, seed: int = 0,
                     indices=None) -> Figure:
    """Each image beside a bar chart of its class probabilities: predicted bar red, true bar blue
    (a correct prediction's bar is blue)."""
    p = as_probabilities(probabilities)
    y = np.asarray(y_true).astype(np.int64).ravel()
    names = list(class_names)
    k = len(names)
    if indices is None:
        indices = np.random.default_rng(seed).choice(len(y), size=min(n, len(y)), replace=False)
    indices = list(indices)
    cols = 3 if len(indices) > 2 else len(indices)
    rows = math.ceil(len(indices) / cols)
    fig = Figure(figsize=(4.2 * cols, 2.0 * rows + 0.4), layout="constrained")
    grid = fig.subplots(rows, 2 * cols, squeeze=False, gridspec_kw={"width_ratios": [1, 1.6] * cols})
    for ax in grid.flat:
        ax.axis("off")
    x = np.asarray(x)
    for slot, i in enumerate(indices):
        r, c = divmod(slot, cols)
        ax_img, ax_bar = grid[r, 2 * c], grid[r, 2 * c + 1]
        ax_img.imshow(x[i].reshape(image_shape), cmap="gray", interpolation="nearest")
        ax_img.set_title(f"true: {names[y[i]]}", fontsize=8)
        ax_bar.axis("on")
        pred = int(p[i].argmax())
        colors = ["lightgray"] * k
        colors[pred] = "red"
        colors[y[i]] = "blue"
        ax_bar.bar(range(k), p[i], color=colors)
        ax_bar.set_ylim(0, 1)
        ax_bar.set_xticks(range(k), names if max(map(len, names)) <= 2 else range(k), fontsize=7)
        ax_bar.tick_params(axis="y", labelsize=7)
        ax_bar.set_title(f"pred {names[pred]} {p[i, pred]:.2f}", fontsize=8,
                         color="black" if pred == y[i] else "red")
    fig.suptitle("Class probabilities (red: predicted, blue: true)", fontsize=11)
    return fig


def class_probability_histograms(y_true, probabilities, class_names) -> Figure:
    """Per class c: histogram of P(c) for samples of class c vs all other samples (log counts)."""
    p = as_probabilities(probabilities)
    y = np.asarray(y_true).astype(np.int64).ravel()
    names = list(class_names)
    k = len(names)
    cols = min(5, k)
    rows = math.ceil(k / cols)
    fig = Figure(figsize=(3.0 * cols, 2.4 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax in axes.flat[k:]:
        ax.axis("off")
    for c, ax in zip(range(k), axes.flat):
        ax.hist(p[y == c, c], bins=bins, color="tab:blue", alpha=0.7, label=f"class {names[c]}")
        ax.hist(p[y != c, c], bins=bins, color="tab:gray", alpha=0.6, label="others")
        ax.set_yscale("log")
        ax.set_title(f"P({names[c]})", fontsize=9)
        ax.tick_params(labelsize=7)
        if c == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Predicted probability of each class: its own samples vs the others (log counts)", fontsize=11)
    return fig


# ---------------------------------------------------------------- weights and training statistics

def _short(name: str) -> str:
    parts = name.split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else name


def weight_distributions(initial: dict, final: dict, *, max_points: int = 20000, seed: int = 0) -> Figure:
    """Violin plots per weight matrix: at initialization vs after training.

    `initial` and `final`: {variable name: array}, matched by order (names may differ between
    a model and its reloaded copy); only matrices/kernels (ndim >= 2) are drawn.
    """
    pairs = [(n, np.asarray(a), np.asarray(b)) for (n, a), b in zip(initial.items(), final.values())
             if np.ndim(a) >= 2]
    if not pairs:
        return _message("no weight matrices")
    rng = np.random.default_rng(seed)

    def sample(a):
        a = a.ravel().astype(np.float64)
        a = a[np.isfinite(a)]
        if a.size > max_points:
            a = rng.choice(a, max_points, replace=False)
        return a if a.size else np.zeros(1)

    fig = Figure(figsize=(max(6, 1.8 * len(pairs) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(len(pairs)) * 3.0
    for offset, idx, color, label in ((-0.6, 1, "tab:gray", "initial"), (0.6, 2, "tab:blue", "trained")):
        data = [sample(p[idx]) for p in pairs]
        parts = ax.violinplot(data, positions=pos + offset, widths=1.1, showmedians=True)
        for body in parts["bodies"]:
            body.set_facecolor(color)
            body.set_alpha(0.6)
        ax.plot([], [], color=color, lw=6, alpha=0.6, label=label)
    ax.set_xticks(pos, [f"{_short(n)}\n{'x'.join(map(str, a.shape))}" for n, a, _ in pairs], fontsize=8)
    ax.set_ylabel("weight value")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    ax.set_title("Weight distributions per layer: at initialization vs after training", fontsize=11)
    return fig


def training_statistics(stats: dict) -> Figure:
    """Per layer over epochs: gradient norm, update/weight ratio, dead ReLU and saturated fractions."""
    epochs = list(stats.get("epoch") or [])
    if not epochs:
        return _message("no training statistics recorded")
    weights = [_short(w) for w in stats.get("weights") or []]
    layers = [f"{l['name']} ({l['kind']})" for l in stats.get("layers") or []]
    panels = [("grad_norm", "gradient norm (probe batch)", weights, True),
              ("update_ratio", "update size / weight size per epoch", weights, True),
              ("dead_fraction", "dead ReLU fraction", layers, False),
              ("saturated_fraction", "saturated sigmoid/tanh fraction", layers, False)]
    panels = [p for p in panels if stats.get(p[0]) and any(v is not None for row in stats[p[0]] for v in row)]
    fig = Figure(figsize=(5.5 * min(2, len(panels)), 3.6 * math.ceil(len(panels) / 2)), layout="constrained")
    axes = fig.subplots(math.ceil(len(panels) / 2), min(2, len(panels)), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (key, title, names, log) in zip(axes.flat, panels):
        a = np.asarray([_finite(row) for row in stats[key]])
        start = 1 if key == "update_ratio" else 0  # no update before the first epoch
        colors = _class_colors(a.shape[1]) if a.shape[1] <= 20 else [
            matplotlib.colormaps["plasma"](j / a.shape[1]) for j in range(a.shape[1])]
        for j in range(a.shape[1]):
            ax.plot(epochs[start:], a[start:, j], marker="o" if len(epochs) <= 30 else None, ms=3,
                    color=colors[j], label=names[j] if j < len(names) else str(j))
        vals = a[start:][np.isfinite(a[start:])]
        if log and vals.size and (vals > 0).any():
            ax.set_yscale("log")
        if not log:
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch (0 = initialization)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2 if a.shape[1] > 6 else 1)
    fig.suptitle("Training statistics per layer", fontsize=11)
    return fig


# ---------------------------------------------------------------- hidden representation

def embedding(model, x, y, class_names, *, layer: int | str | None = None, n: int = 2000, seed: int = 0,
              perplexity: float = 30.0) -> Figure:
    """t-SNE (after PCA to 50 dimensions) of a layer's outputs for up to `n` samples, coloured by class."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    y = np.asarray(y).astype(np.int64).ravel()
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(y), size=min(n, len(y)), replace=False))
    index = default_layer(model) if layer is None else layer
    h = layer_output(model, np.asarray(x)[pick], index).astype(np.float64)
    name = model.layers[index].name if isinstance(index, int) else index
    h = np.nan_to_num(h)
    if h.shape[1] > 50 and len(h) > 50:
        h = PCA(n_components=50, random_state=seed).fit_transform(h)
    if len(h) < 5 or np.allclose(h, h[0]):
        return _message(f"layer {name!r}: all outputs are the same; nothing to embed")
    points = TSNE(n_components=2, perplexity=min(perplexity, (len(h) - 1) / 3), init="pca",
                  random_state=seed).fit_transform(h)
    names = list(class_names)
    colors = _class_colors(len(names))
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    for c in np.unique(y[pick]):
        m = y[pick] == c
        ax.scatter(points[m, 0], points[m, 1], s=6, alpha=0.7, color=colors[c], label=names[c])
    ax.legend(fontsize=8, markerscale=2.5, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"t-SNE of layer {name!r} ({len(pick)} test samples)", fontsize=11)
    return fig


# ---------------------------------------------------------------- 2-D decision regions

def decision_regions(model, x, y, class_names, *, resolution: int = 200, curves_a: float | None = None,
                     max_points: int = 2000, seed: int = 0) -> Figure:
    """For 2-feature data: the predicted class over a grid (left) and the probability map (right:
    P(class 1) for two classes, else the top probability), with the training points on top.
    `curves_a`: for cosine2d (unscaled), also draw the true curves x2 = cos(x1) and x2 = a + cos(x1)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if x.shape[1] != 2:
        raise BadInput(f"decision regions need 2 input features, the data has {x.shape[1]}")
    y = np.asarray(y).astype(np.int64).ravel()
    names = list(class_names)
    k = len(names)
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-6)
    g1 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    g2 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(g1, g2)
    p = predict_probabilities(model, np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float32))
    pred = p.argmax(axis=1).reshape(xx.shape)
    colors = _class_colors(k)
    from matplotlib.colors import ListedColormap
    rng = np.random.default_rng(seed)
    show = rng.choice(len(y), size=min(max_points, len(y)), replace=False)
    fig = Figure(figsize=(12, 5), layout="constrained")
    axes = fig.subplots(1, 2)
    axes[0].contourf(xx, yy, pred, levels=np.arange(k + 1) - 0.5, cmap=ListedColormap(colors[:k]), alpha=0.35)
    if k == 2:
        surface, label, cmap = p[:, 1].reshape(xx.shape), f"P({names[1]})", "RdBu_r"
    else:
        surface, label, cmap = p.max(axis=1).reshape(xx.shape), "top class probability", "viridis"
    im = axes[1].contourf(xx, yy, surface, levels=np.linspace(0, 1, 21), cmap=cmap)
    if k == 2:
        axes[1].contour(xx, yy, surface, levels=[0.5], colors="black", linewidths=1.2)
    fig.colorbar(im, ax=axes[1], label=label)
    for ax, title in zip(axes, ("decision regions", "probability map")):
        for c in range(k):
            m = y[show] == c
            ax.scatter(x[show][m, 0], x[show][m, 1], s=7, color=colors[c], edgecolor="black", linewidth=0.2,
                       label=names[c])
        if curves_a is not None:
            t = np.linspace(g1[0], g1[-1], 400)
            ax.plot(t, np.cos(t), color="black", lw=1.2, ls="--", label="true curves")
            ax.plot(t, curves_a + np.cos(t), color="black", lw=1.2, ls="--")
        ax.set_xlim(g1[0], g1[-1])
        ax.set_ylim(g2[0], g2[-1])
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle("Decision regions over the input plane, training points on top", fontsize=11)
    return fig


# ---------------------------------------------------------------- several runs: comparison and sweeps


def _run_styles(n: int) -> list[dict]:
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
        values = _finite(history.get(key) or [])
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
        return _message("no runs to compare")
    metrics = tuple(metrics)
    legend_width = min(6.0, 0.8 + 0.075 * max(len(str(label)) for label in labels))   # inches, outside the axes
    fig = Figure(figsize=(5.2 * len(metrics) + legend_width, 4.4), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    styles = _run_styles(len(histories))
    for ax, metric in zip(axes, metrics):
        drawn: list[np.ndarray] = []
        keys: list[str] = []
        for history, label, style in zip(histories, labels, styles):
            found = _curve(history, metric)
            if found is None:
                continue
            key, values = found
            epochs = _finite(history.get("epoch") or range(1, len(values) + 1))
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
            vals = np.concatenate(drawn) if drawn else np.zeros(0)
            vals = vals[np.isfinite(vals) & (vals > 0)]
            if vals.size and vals.max() / max(vals.min(), 1e-12) > 50:
                ax.set_yscale("log")
        elif "accuracy" in metric:
            ax.set_ylim(-0.02, 1.02)
        if not drawn:
            ax.text(0.5, 0.5, f"no run has {metric_label(metric)}", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(_panel_label(metric, keys), fontsize=10)
    handles, names = axes[0].get_legend_handles_labels()
    if handles:
        # one legend for all panels, outside the axes: labels of sweep configurations are long
        fig.legend(handles, names, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(title or f"Learning curves of {len(histories)} runs", fontsize=11)
    return fig


def _value_key(v):
    """A hashable, comparable identity for a swept value (values may be lists or tables)."""
    import json
    return json.dumps(v, sort_keys=True, default=str)


def _value_label(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        rest = ", ".join(f"{k}={_value_label(x)}" for k, x in v.items() if k != "name")
        return f"{v.get('name', '')}({rest})" if rest else str(v.get("name", v))
    return str(v)


def _axis_values(rows, key) -> list:
    """The distinct values of one swept key: numbers ascending, anything else in first-seen order."""
    seen: dict = {}
    for row in rows:
        v = row["values"].get(key)
        seen.setdefault(_value_key(v), v)
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


def sweep_heatmap(rows: list[dict], key_x: str, key_y: str, metric: str = "val_accuracy") -> Figure:
    """The metric (mean over repeats/folds) over two swept keys, written in each cell; the best cell outlined.

    `rows` are the sweep's table rows ({values: {key: value}, <metric>: mean, <metric>_std: spread}).
    Numeric axes are categorical, ticks labelled with the values themselves, so log-spaced
    learning rates sit evenly. Several rows in one cell (a random sweep) are averaged; an empty
    or diverged cell is grey.
    """
    xs, ys = _axis_values(rows, key_x), _axis_values(rows, key_y)
    if not xs or not ys:
        return _message("no configurations to draw")
    ix = {_value_key(v): i for i, v in enumerate(xs)}
    iy = {_value_key(v): i for i, v in enumerate(ys)}
    cells: dict[tuple[int, int], list[dict]] = {}
    for row in rows:
        cells.setdefault((iy[_value_key(row["values"].get(key_y))], ix[_value_key(row["values"].get(key_x))]),
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
    lower_is_better = "loss" in metric
    fig = Figure(figsize=(max(5.5, 1.4 * len(xs) + 3.0), max(3.2, 0.9 * len(ys) + 1.8)), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis_r" if lower_is_better else "viridis"].with_extremes(bad="#d9d9d9")
    finite = grid[np.isfinite(grid)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    fig.colorbar(im, ax=ax, label=metric.replace("_", " "), shrink=0.9)
    small = len(xs) * len(ys) <= 144
    for i in range(len(ys)):
        for j in range(len(xs)):
            if not small:
                break
            if not filled[i, j]:
                text, color = "", "black"
            elif not np.isfinite(grid[i, j]):
                text, color = _missing_word(cells[(i, j)]), "#d1242f"
            else:
                text = f"{grid[i, j]:.3f}" + (f"\n±{spread[i, j]:.3f}" if np.isfinite(spread[i, j]) else "")
                shade = (grid[i, j] - vmin) / (vmax - vmin)
                color = "black" if (shade > 0.55) != lower_is_better else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=11 if len(xs) <= 6 else 8, color=color)
    if finite.size:
        best = np.nanargmin(grid) if lower_is_better else np.nanargmax(grid)
        bi, bj = np.unravel_index(best, grid.shape)
        from matplotlib.patches import Rectangle
        ax.add_patch(Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, edgecolor="#d1242f", lw=3, zorder=3))
    ax.set_xticks(range(len(xs)), [_value_label(v) for v in xs], fontsize=10,
                  rotation=30 if max(len(_value_label(v)) for v in xs) > 8 else 0)
    ax.set_yticks(range(len(ys)), [_value_label(v) for v in ys], fontsize=10)
    ax.set_xlabel(key_x)
    ax.set_ylabel(key_y)
    best_word = "lowest" if lower_is_better else "best"
    ax.set_title(f"{metric.replace('_', ' ')} (mean over repeats); {best_word} cell outlined", fontsize=10)
    return fig


def sweep_spread(rows: list[dict], metric: str = "val_accuracy", *, labels: list[str] | None = None,
                 points: list[list[float]] | None = None) -> Figure:
    """Mean ± spread (standard deviation over repeats/folds) of the metric per configuration, best on top.

    `labels`: one name per row (default: the swept values); `points`: per row the individual runs'
    values, drawn as dots beside the error bar.
    """
    if not rows:
        return _message("no configurations to draw")
    if labels is None:
        labels = [" ".join(f"{k.split('.')[-1]}={_value_label(v)}" for k, v in r["values"].items()) for r in rows]
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
            v = _finite(values)
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
