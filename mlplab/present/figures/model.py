"""Model views: weights before and after training, the first layer's weights as images, per-layer
training statistics, a hidden layer's embedding and, for 2-feature data, the decision regions. Only
what needs the model itself (embedding, decision regions) runs it, through engine.inference (JAX is
imported on first use); the weight figures read stored arrays.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ...analysis.embedding import tsne_points
from ...engine.inference import hidden_sample, predict_probabilities
from ...errors import BadInput
from .common import class_colors, finite, fit_title, fixed_layout, grid_shape, inch_canvas, log_y, message


def _short(name: str) -> str:
    parts = name.split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else name


def _kernel_pairs(initial: dict, final: dict) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, initial, trained) of each matrix/kernel (ndim >= 2), matched by order."""
    return [(n, np.asarray(a), np.asarray(b)) for (n, a), b in zip(initial.items(), final.values())
            if np.ndim(a) >= 2]


def _violins(ax, pos, initial: list, trained: list, *, offset: float = 0.6, width: float = 1.1) -> None:
    """Initial (grey) and trained (blue) violins side by side around each position."""
    for shift, data, color in ((-offset, initial, "tab:gray"), (offset, trained, "tab:blue")):
        parts = ax.violinplot(data, positions=np.asarray(pos) + shift, widths=width, showmedians=True)
        for body in parts["bodies"]:
            body.set_facecolor(color)
            body.set_alpha(0.6)


def weight_distributions(initial: dict, final: dict, *, per_layer: bool = True, max_points: int = 20000,
                         seed: int = 0) -> Figure:
    """Violin plots per weight matrix: at initialization vs after training.

    `initial` and `final`: {variable name: array}, matched by order (names may differ between
    a model and its reloaded copy); only matrices/kernels (ndim >= 2) are drawn. Default: one small
    axis per layer, each with its own y range, so a layer with small weights is not flattened by a
    wide one (the first layer of 64 inputs against an output layer); `per_layer=False`: every layer on
    one shared axis, their scales compared.
    """
    pairs = _kernel_pairs(initial, final)
    if not pairs:
        return message("no weight matrices")
    rng = np.random.default_rng(seed)

    def sample(a):
        a = a.ravel().astype(np.float64)
        a = a[np.isfinite(a)]
        if a.size > max_points:
            a = rng.choice(a, max_points, replace=False)
        return a if a.size else np.zeros(1)
    initial_samples = [sample(a) for _, a, _ in pairs]          # all initial first: the sample drawn as before
    samples = list(zip(initial_samples, [sample(b) for _, _, b in pairs]))
    if per_layer:
        return _per_layer_violins(pairs, samples)
    width = max(6, 1.8 * len(pairs) + 2)
    fig = Figure(figsize=(width, 4.2), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(len(pairs)) * 3.0
    _violins(ax, pos, [s[0] for s in samples], [s[1] for s in samples])
    for color, label in (("tab:gray", "initial"), ("tab:blue", "trained")):
        ax.plot([], [], color=color, lw=6, alpha=0.6, label=label)
    ax.set_xticks(pos, [f"{_short(n)}\n{'x'.join(map(str, a.shape))}" for n, a, _ in pairs], fontsize=8)
    ax.set_ylabel("weight value")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    ax.set_title(fit_title("Weight distributions per layer: at initialization vs after training", width - 0.3, 11),
                 fontsize=11, y=1.0)
    return fig


def _per_layer_violins(pairs: list, samples: list) -> Figure:
    """One axis per layer (up to 6 a row), each scaled to its own weights: initial and trained violins."""
    cols = min(len(pairs), 6)
    rows = math.ceil(len(pairs) / cols)
    width = max(6.0, 1.9 * cols + 0.6)
    fig = Figure(figsize=(width, 2.9 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(pairs):]:
        ax.axis("off")
    for k, (ax, (name, a, _), (init, trained)) in enumerate(zip(axes.flat, pairs, samples)):
        _violins(ax, [0.0], [init], [trained])
        ax.set_xticks([-0.6, 0.6], ["initial", "trained"], fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3, axis="y")
        ax.set_title(fit_title(f"{_short(name)} {'x'.join(map(str, a.shape))}", (width - 0.6) / cols - 0.15, 9),
                     fontsize=9, y=1.0)
        if k % cols == 0:
            ax.set_ylabel("weight value")
    fig.suptitle(fit_title("Weight distributions, one axis per layer (each its own range): at initialization vs "
                           "after training", width - 0.3, 11), fontsize=11)
    return fig


def training_statistics(stats: dict) -> Figure:
    """Per layer over epochs: gradient norm, update/weight ratio, dead ReLU and saturated fractions."""
    epochs = list(stats.get("epoch") or [])
    if not epochs:
        return message("no training statistics recorded")
    weights = [_short(w) for w in stats.get("weights") or []]
    layers = [f"{l['name']} ({l['kind']})" for l in stats.get("layers") or []]
    panels = [("grad_norm", "gradient norm (probe batch)", weights, True),
              ("update_ratio", "update size / weight size per epoch", weights, True),
              ("dead_fraction", "dead ReLU fraction", layers, False),
              ("saturated_fraction", "saturated sigmoid/tanh fraction", layers, False)]
    panels = [p for p in panels if stats.get(p[0]) and any(v is not None for row in stats[p[0]] for v in row)]
    rows, cols = math.ceil(len(panels) / 2), min(2, len(panels))
    fig = Figure(figsize=(5.5 * cols, 3.6 * rows))
    fixed_layout(fig, rows, cols, top=0.7)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (key, title, names, log) in zip(axes.flat, panels):
        a = np.asarray([finite(row) for row in stats[key]])
        start = 1 if key == "update_ratio" else 0  # no update before the first epoch
        colors = class_colors(a.shape[1]) if a.shape[1] <= 20 else [
            matplotlib.colormaps["plasma"](j / a.shape[1]) for j in range(a.shape[1])]
        for j in range(a.shape[1]):
            ax.plot(epochs[start:], a[start:, j], marker="o" if len(epochs) <= 30 else None, ms=3,
                    color=colors[j], label=names[j] if j < len(names) else str(j))
        vals = a[start:][np.isfinite(a[start:])]
        if log and vals.size and (vals > 0).any():
            log_y(ax)
        if not log:
            ax.set_ylim(-0.03, 1.03)
        ax.set_title(title, fontsize=10, y=1.0)   # placed, not searched for: half the layout's time
        ax.set_xlabel("epoch (0 = initialization)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2 if a.shape[1] > 6 else 1)
    fig.suptitle("Training statistics per layer", fontsize=11)
    return fig


# ---------------------------------------------------------------- first-layer weights as images

def first_layer_weights(weights: dict, image_shape, class_names=(), *, n: int = 36) -> Figure:
    """The first layer's weights as images, one tile per unit (up to `n`, in the layer's order).

    `weights`: {variable name: array} in the model's order (weights_final.npz); the first matrix
    or kernel is the first layer's. A dense layer on flattened HxW images: each unit's incoming
    weights reshaped to HxW (channel 1 when there are several), a unit's receptive field; when that
    layer is the only one (a logistic regression) its units are the classes, each tile the class's
    template, titled by class name. A conv layer: its k x k filters on input channel 1.

    Diverging colours centred at 0 (red positive, blue negative, white 0), each tile scaled to its
    own largest |weight|, shown under its name: what a tile shows is its unit's pattern, and units'
    scales differ widely (a nearly dead unit would be a blank tile on a shared scale), while the
    sign, which a shared or a per-tile scale both keep, stays readable in every tile.
    """
    if n < 1:
        raise BadInput(f"n={n}: expected at least 1 unit to show")
    kernels = [(name, np.asarray(a, dtype=np.float64)) for name, a in weights.items() if np.ndim(a) >= 2]
    if not kernels:
        return message("no weight matrices")
    if not image_shape:
        return message("the inputs are not images")
    name, kernel = kernels[0]
    images, labels, what = _unit_images(kernel, tuple(image_shape), len(kernels) == 1, list(class_names))
    if images is None:
        return message(f"first layer {_short(name)}: {what}")
    shown = f", the first {n} shown" if len(images) > n else ""
    heading = (f"First-layer weights ({_short(name)} {'x'.join(map(str, kernel.shape))}): {what}{shown}\n"
               "red > 0 > blue; each tile scaled to its own largest |w|")
    return _weight_tiles(images[:n], labels[:n], heading)


def _unit_images(kernel: np.ndarray, image_shape: tuple, only_layer: bool, class_names: list):
    """(images, labels, what they are) of a first layer's kernel; images None, with the reason, when its
    weights are not images."""
    h, w = image_shape[:2]
    if kernel.ndim == 4:                                   # conv: (k, k, input channels, filters)
        kh, kw, channels, filters = kernel.shape
        note = f", input channel 1 of {channels}" if channels > 1 else ""
        return ([kernel[:, :, 0, j] for j in range(filters)], [f"filter {j}" for j in range(filters)],
                f"{filters} filters {kh}x{kw}{note}")
    if kernel.ndim == 2 and kernel.shape[0] % (h * w) == 0:   # dense on flattened (h, w, channels) images
        channels, units = kernel.shape[0] // (h * w), kernel.shape[1]
        images = [kernel[:, j].reshape(h, w, channels)[..., 0] for j in range(units)]
        note = f", input channel 1 of {channels}" if channels > 1 else ""
        if only_layer and len(class_names) == units:
            return images, [str(c) for c in class_names], f"class templates (logistic regression){note}"
        return images, [f"unit {j}" for j in range(units)], f"the receptive fields of {units} units{note}"
    return None, [], f"its weights {'x'.join(map(str, kernel.shape))} are not one {h}x{w} image per unit"


def _weight_tiles(images: list, labels: list, heading: str) -> Figure:
    """Every tile in one Axes over the whole figure, each image an AxesImage of its own (its array and colour
    limits can be read back) in a diverging colour map symmetric about 0 per tile, in a thin frame, under its
    label and its largest |weight|. One Axes, not one per tile: 36 tiles drew in about a second, now a fifth."""
    cols, rows = grid_shape(len(images))
    cell_w, cell_h = 1.15, 1.35
    fig_w = max(cols * cell_w, 5.5) + 0.2
    heading = fit_title(heading, fig_w - 0.2, 10)
    head = 0.2 + (heading.count("\n") + 1) * 10 * 1.3 / 72     # inches above the first row's titles
    fig = Figure(figsize=(fig_w, rows * cell_h + head))
    fig_h = fig.get_figheight()
    side, x0 = cell_w - 0.2, (fig_w - cols * cell_w) / 2
    ax = inch_canvas(fig)
    for k, (image, label) in enumerate(zip(images, labels)):
        r, c = divmod(k, cols)
        left, top = x0 + c * cell_w + 0.1, head + r * cell_h + (cell_h - side - 0.05)
        h, w = image.shape[:2]
        iw, ih = side * w / max(h, w), side * h / max(h, w)      # the longer side fills the cell
        x, y = left + (side - iw) / 2, top + (side - ih) / 2
        finite = np.abs(image[np.isfinite(image)])              # a diverged run's NaN/inf: shown blank
        m = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        ax.imshow(image, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest", aspect="auto",
                  extent=(x, x + iw, y + ih, y))
        ax.add_patch(Rectangle((x, y), iw, ih, fill=False, linewidth=0.6, edgecolor="0.3"))
        ax.text(left + side / 2, y - 0.04, f"{fit_title(label, cell_w, 7.5)}\nmax |w| {m:.2g}", fontsize=7.5,
                ha="center", va="bottom")
    fig.suptitle(heading, fontsize=10, y=1 - 0.08 / fig_h, va="top")
    return fig


# ---------------------------------------------------------------- hidden representation

@dataclass
class Embedding:
    """2-D t-SNE points of a layer's outputs, the classes of the samples they show, the layer's name."""
    points: np.ndarray
    labels: np.ndarray
    layer: str


def embedding_points(model, x, y, *, layer: int | str | None = None, n: int = 1000, seed: int = 0,
                     perplexity: float = 30.0) -> Embedding:
    """t-SNE of a layer's outputs (after PCA to 50 dimensions) for up to `n` samples."""
    rows, h, name = hidden_sample(model, x, layer=layer, n=n, seed=seed)
    points = tsne_points(h, seed=seed, perplexity=perplexity)
    return Embedding(points, np.asarray(y).astype(np.int64).ravel()[rows][:len(points)], name)


def embedding_figure(points, labels, class_names, layer: str) -> Figure:
    """The t-SNE points coloured by class (no points: the layer's outputs were all the same)."""
    if len(points) == 0:
        return message(f"layer {layer!r}: all outputs are the same; nothing to embed")
    names = list(class_names)
    colors = class_colors(len(names))
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    for c in np.unique(labels):
        m = labels == c
        ax.scatter(points[m, 0], points[m, 1], s=6, alpha=0.7, color=colors[c], label=names[c])
    ax.legend(fontsize=8, markerscale=2.5, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(fit_title(f"t-SNE of layer {layer!r} ({len(points)} test samples)", 6.6, 11), fontsize=11, y=1.0)
    return fig


def embedding(model, x, y, class_names, *, layer: int | str | None = None, n: int = 1000, seed: int = 0,
              perplexity: float = 30.0) -> Figure:
    """t-SNE (after PCA to 50 dimensions) of a layer's outputs for up to `n` samples, coloured by class."""
    e = embedding_points(model, x, y, layer=layer, n=n, seed=seed, perplexity=perplexity)
    return embedding_figure(e.points, e.labels, class_names, e.layer)


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
    colors = class_colors(k)
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
