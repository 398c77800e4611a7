"""A matplotlib Figure whose PNG is already known: what figure_for returns for a stored view.

    fig = StoredFigure(png, draw)          # draw() -> the real Figure, called only if needed
    fig.savefig(buf, format="png", dpi=80) # the stored bytes: no drawing, no data loaded
    fig.axes                               # anything else draws the real figure first, then is its

The dashboard saves a figure as PNG at `DPI` (as the report embeds it and a notebook shows it):
that call is answered with the stored bytes. Any other use (its axes, `canvas.draw()`, another
format or resolution) draws the real figure once and forwards every attribute to it, so a user
can still change and save it as any matplotlib Figure; once changed, `savefig` renders again.
"""
from __future__ import annotations

import io
import os
import struct
from typing import Callable

from matplotlib.figure import Figure

DPI = 80                                     # the resolution views are stored at
PNG_METADATA = {"Software": None}            # no Software tag: the PNG would carry matplotlib's web address



def render_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as the PNG every view stores (and the report embeds); afterwards the figure is
    marked unchanged (`stale` False), so any later change to it shows (matplotlib sets it again)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata=PNG_METADATA)
    fig.stale = False
    return buf.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("not a PNG")
    return struct.unpack(">II", png[16:24])


class StoredFigure(Figure):
    """A Figure that is its stored PNG until it is used as a figure (see the module's doc)."""

    def __init__(self, png: bytes, draw: Callable[[], Figure] | None = None, *, real: Figure | None = None,
                 name: str = "figure"):
        # Figure.__init__ is not called: until drawn, the shell holds only the PNG and how to draw it
        d = object.__getattribute__(self, "__dict__")
        d.update(_view_png=png, _view_draw=draw, _view_real=real, _view_name=name)

    def __getattribute__(self, name: str):
        d = object.__getattribute__(self, "__dict__")
        if name in _OWN or name in d or (name.startswith("__") and name.endswith("__")):
            return object.__getattribute__(self, name)
        if name.startswith("_repr_") or name.startswith("_ipython_"):
            raise AttributeError(name)   # what a notebook probes for must not draw the figure
        return getattr(object.__getattribute__(self, "real")(), name)

    def __setattr__(self, name: str, value) -> None:
        if name.startswith("_repr_") or name in object.__getattribute__(self, "__dict__"):
            object.__setattr__(self, name, value)   # e.g. the API's `_repr_png_`: kept on the shell
        else:
            setattr(self.real(), name, value)

    @property
    def drawn(self) -> bool:
        return self._view_real is not None

    @property
    def stored_png(self) -> bytes:
        return self._view_png

    def real(self) -> Figure:
        """The real matplotlib Figure, drawn on first use."""
        if self._view_real is None:
            if self._view_draw is None:
                raise RuntimeError(f"{self._view_name}: stored figure without a way to draw it")
            object.__getattribute__(self, "__dict__")["_view_real"] = self._view_draw()
        return self._view_real

    def _repr_html_(self):
        return None if self._view_real is None else self._view_real._repr_html_()

    def __repr__(self) -> str:
        w, h = png_size(self._view_png)
        state = "drawn" if self.drawn else "stored"
        return f"<StoredFigure {self._view_name!r} {w}x{h} px ({state})>"

    __str__ = __repr__

    def savefig(self, fname, **kwargs) -> None:
        """As Figure.savefig; a PNG at the stored resolution of an unchanged figure is the stored bytes."""
        if self._serves(fname, kwargs):
            if hasattr(fname, "write"):
                fname.write(self._view_png)
            else:
                with open(os.fspath(fname), "wb") as f:
                    f.write(self._view_png)
            return
        self.real().savefig(fname, **kwargs)

    def _serves(self, fname, kwargs: dict) -> bool:
        if self._view_real is not None and self._view_real.stale:
            return False                                # changed since its PNG was made
        rest = dict(kwargs)
        fmt = rest.pop("format", None)
        if fmt is None:
            fmt = os.fspath(fname).rsplit(".", 1)[-1] if isinstance(fname, (str, os.PathLike)) else "png"
        dpi = rest.pop("dpi", None)
        metadata = rest.pop("metadata", None)
        bbox = rest.pop("bbox_inches", None)  # "tight" would only trim the thin margin constrained layout leaves
        return (str(fmt).lower() == "png" and isinstance(dpi, (int, float)) and float(dpi) == DPI
                and metadata in (None, PNG_METADATA) and bbox in (None, "tight") and not rest)


_OWN = frozenset(vars(StoredFigure)) | {"__class__", "__dict__"}   # the shell's own; the rest is the real figure's
