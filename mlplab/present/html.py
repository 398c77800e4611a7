"""The pieces every self-contained HTML page is made of: numbers as pages show them, figures as PNG
data URIs, the page shell, and the Jinja2 templates (present/templates/) that hold all the markup.

No script and no external address: a page opens offline in any browser and can be mailed as is.
Templates are autoescaped: a value is escaped unless it is a macro's output (already HTML).
"""
from __future__ import annotations

import base64
import functools
import io
import math
import time
from pathlib import Path
from typing import Callable

from ..analysis.status import STATUSES, worst

TEMPLATES = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=None)
def environment():
    """The reports' Jinja2 environment (jinja2 imported here: importing present/ does not import it)."""
    import jinja2

    from ..analysis.health import LEVELS
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters.update(num=number_text, badge=worst)   # badge: the word whose colour a (combined) status shows
    env.globals.update(statuses=STATUSES, healths=LEVELS)
    return env


def macros(template: str):
    """A template's macros as attributes (`macros("run.html.j2").finding(f)`); each returns HTML (Markup)."""
    return environment().get_template(template).module


def number_text(x, digits: int = 4) -> str:
    """A number as reports and pages show it: '–' for None, NaN/inf spelled out, whole numbers
    without decimals, else `digits` significant digits (text that is no number comes back as is)."""
    if x is None:
        return "–"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return "NaN" if math.isnan(f) else ("inf" if f > 0 else "-inf")
    if f == int(f) and abs(f) < 1e12:
        return str(int(f))
    return f"{f:.{digits}g}"


def png_data_uri(fig, dpi: int = 80) -> str:
    buf = io.BytesIO()
    # no Software tag: the PNG would carry matplotlib's web address
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure_html(make: Callable, caption: str, *, width: int | None = None, heading: bool = False) -> str:
    """An embedded figure (`make()` draws it, or gives its PNG bytes), under an <h3> caption when
    `heading`; a one-line note instead when it cannot be drawn (a missing artifact or an odd model must
    not cost the whole page)."""
    common = macros("common.html.j2")
    try:
        made = make()
        uri = ("data:image/png;base64," + base64.b64encode(made).decode("ascii")) if isinstance(made, bytes) \
            else png_data_uri(made)
    except Exception as e:
        return common.unavailable(caption, f"{type(e).__name__}: {str(e)[:200]}")
    return common.figure(caption, uri, width, heading)


def page(kind: str, ref: str, name: str | None, sections: list[tuple[str, str, str]], stylesheets: list[str], *,
         view_key: str | None = None) -> str:
    """One self-contained HTML page: a heading, a navigation bar, then the sections (id, title, body: HTML);
    `stylesheets`: files of present/templates/ inlined; `view_key`: what a stored page was made for."""
    return environment().get_template("page.html.j2").render(
        kind=kind, ref=ref, name=name, sections=sections, stylesheets=stylesheets, view_key=view_key,
        generated=time.strftime("%Y-%m-%d %H:%M"))


def write_atomically(path, content: str | bytes) -> Path:
    """Write a page (text, as UTF-8) or a document (bytes: a PDF) to `path` (its folder made) through a
    temporary file, so no reader sees half of it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    tmp.replace(out)
    return out
