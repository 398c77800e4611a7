"""What every figure module shares: empty-figure messages, image tiles, class colours, None-safe arrays,
titles wrapped to fit.

Figures are `matplotlib.figure.Figure` objects built directly (never pyplot), so drawing one
changes no global state: no backend is switched and nothing needs `plt.close`.
"""
from __future__ import annotations

import math
import textwrap

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath
from matplotlib.ticker import LogFormatter


def message(text: str, size=(6, 1.5)) -> Figure:
    """A figure that only says something (nothing to draw)."""
    fig = Figure(figsize=size)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    return fig


def fit_title(text: str, width: float, size: float) -> str:
    """`text` wrapped into lines that fit `width` inches at `size` points, so a long run name or layer
    path wraps instead of running off the figure's edge. The text's width is measured in the font's
    own metrics (no renderer needed), its average character sets the line length, and 10 % is
    kept spare (rendered glyphs at 80-100 dpi come out ~6 % wider). Existing line breaks are kept;
    a word longer than a line is split."""
    text = str(text)
    flat = text.replace("\n", " ")
    if not flat.strip():
        return text
    points = TextToPath().get_text_width_height_descent(flat, FontProperties(size=size), ismath=False)[0]
    chars = max(8, int(0.9 * width * 72 / (points / len(flat))))
    return "\n".join(textwrap.fill(line, chars, break_on_hyphens=False) or line for line in text.split("\n"))


def grid_shape(n: int) -> tuple[int, int]:
    """(columns, rows) of a grid of `n` panels, as square as possible: from square (9 -> 3 x 3) to twice as
    wide, the fewest empty cells (8 -> 4 x 2), the squarer of equals (5 -> 3 x 2)."""
    if n <= 1:
        return 1, 1
    cols = min(range(math.ceil(math.sqrt(n)), math.ceil(math.sqrt(2 * n)) + 1),
               key=lambda c: math.ceil(n / c) * c - n)
    return cols, math.ceil(n / cols)


def image_tiles(images, titles, *, colors=None, cell=(1.6, 1.9), cols: int | None = None, suptitle: str = "",
                suptitle_size: float = 11, title_size: float = 8) -> Figure:
    """Images in a grid, each under its title (see `draw_tiles`): it looks as a grid of one Axes per
    image, and draws several times faster (no layout to solve, no ticks, one image to resample).

    `cell`: inches per image and its title; `cols`: images per row (default: grid_shape's, as square as
    possible). The suptitle wraps to the figure's width (a long one over few images was cut on both sides)."""
    n = len(images)
    cols = cols or grid_shape(n)[0]
    rows = max(1, math.ceil(n / cols))
    cw, ch = cell
    lines = max((str(t).count("\n") + 1 for t in titles), default=1)
    title_h = lines * title_size * 1.25 / 72 + 0.06             # inches of title above each image
    side = max(0.2, min(cw - 0.1, ch - title_h - 0.08))          # the image's longer side, inches
    suptitle = fit_title(suptitle, cols * cw - 0.2, suptitle_size) if suptitle else ""
    head = (suptitle.count("\n") + 1) * suptitle_size * 1.3 / 72 + 0.25 if suptitle else 0.05
    fig = Figure(figsize=(cols * cw, rows * ch + head))
    boxes = [(c * cw + (cw - side) / 2, head + r * ch + title_h, side) for r, c in (divmod(k, cols) for k in range(n))]
    draw_tiles(fig, images, boxes, titles, colors=colors, title_size=title_size)
    if suptitle:
        fig.suptitle(suptitle, fontsize=suptitle_size, y=1 - 0.12 / fig.get_figheight(), va="top")
    return fig


def inch_canvas(fig: Figure, zorder: float = 0):
    """One Axes over the whole figure, without frame or ticks, whose data units are inches from the figure's
    top-left corner: a figure drawn by hand in one Axes (a few Axes with their ticks were most of a figure's
    drawing time)."""
    width, height = fig.get_size_inches()
    ax = fig.add_axes((0, 0, 1, 1), zorder=zorder)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    return ax


def draw_tiles(fig: Figure, images, boxes, titles=None, *, colors=None, title_size: float = 8):
    """Draw images into a figure as one picture: one Axes over the whole figure (behind any other)
    showing one image that holds every tile, each scaled to its own range as imshow scales an image,
    nearest-neighbour, on white; each title just above its image.

    `boxes`: (left, top, side) in inches from the figure's top-left corner; `side` is the image's
    longer side. Returns the Axes."""
    width, height = fig.get_size_inches()
    images = [np.asarray(im, dtype=np.float64) for im in images]
    h, w = images[0].shape[:2] if images else (1, 1)
    zoom = max(1, math.ceil(64 / max(h, w)))                      # montage pixels per image pixel
    per_inch = zoom * max(h, w) / min(b[2] for b in boxes) if boxes else 1.0
    montage = np.full((round(height * per_inch) + 1, round(width * per_inch) + 1), np.nan)
    ax = inch_canvas(fig, zorder=-1)
    for k, (im, (left, top, side)) in enumerate(zip(images, boxes)):
        lo, hi = np.nanmin(im), np.nanmax(im)
        tile = (im - lo) / (hi - lo) if hi > lo else np.zeros_like(im)
        size = max(1, round(side * per_inch / max(tile.shape)))    # montage pixels per image pixel
        tile = np.kron(tile, np.ones((size, size)))
        y0, x0 = round(top * per_inch), round(left * per_inch)
        montage[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile[:montage.shape[0] - y0, :montage.shape[1] - x0]
        if titles is not None:
            ax.text(left + side / 2, top - 0.03, titles[k], ha="center", va="bottom", fontsize=title_size,
                    color=(colors[k] if colors is not None else "black"))
    ax.imshow(montage, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto",
              extent=(0, montage.shape[1] / per_inch, montage.shape[0] / per_inch, 0))
    return ax


def fixed_layout(fig: Figure, rows: int, cols: int, *, left: float = 0.8, right: float = 0.25, bottom: float = 0.6,
                 top: float = 0.6, wgap: float = 0.9, hgap: float = 0.9) -> None:
    """A grid's margins and gaps in inches, set once (`subplots_adjust`, before `fig.subplots`): room for tick
    labels, axis labels, titles and the suptitle, without a layout engine, whose extra drawing pass to measure
    them was a third to half of a figure's time."""
    w, h = fig.get_size_inches()
    width = (w - left - right - wgap * (cols - 1)) / cols
    height = (h - top - bottom - hgap * (rows - 1)) / rows
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=wgap / width, hspace=hgap / height)


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
        log_y(ax)


class PlainLogFormatter(LogFormatter):
    """The ticks matplotlib labels on a log axis, labelled as plain numbers ("100", "0.04")."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def log_y(ax) -> None:
    """A log y axis labelled in plain text: matplotlib's default labels are mathtext, whose parser
    costs about a second the first time a process draws one."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(PlainLogFormatter(10))
    ax.yaxis.set_minor_formatter(PlainLogFormatter(10, labelOnlyBase=False))
