"""The pieces every self-contained HTML page is made of: CSS, escaping, numbers, status badges,
figures as PNG data URIs, and the page shell (heading, navigation, sections).

No script and no external address: a page opens offline in any browser and can be mailed as is.
"""
from __future__ import annotations

import base64
import html
import io
import math
import time
from pathlib import Path
from typing import Callable

from ..analysis.status import STATUSES, worst

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px} h2{font-size:20px;border-bottom:2px solid #d8dce3;padding-bottom:4px;margin-top:36px}
h3{font-size:15px;margin:18px 0 6px}
section{background:#fff;border-radius:8px;padding:4px 20px 16px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.sub{color:#5a6272;margin:0 0 12px}
table{border-collapse:collapse;font-size:14px} td,th{padding:4px 12px 4px 0;text-align:left;vertical-align:top}
th{color:#5a6272;font-weight:600} table.grid td,table.grid th{border-bottom:1px solid #eceef2;padding-right:18px}
table.grid td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f0f2f5;padding:10px 12px;border-radius:6px;overflow-x:auto;font-size:12.5px;line-height:1.35}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.finding{border-left:6px solid #888;background:#fafbfc;border-radius:4px;padding:8px 14px;margin:12px 0}
.finding.error{border-color:#d1242f;background:#fff5f5} .finding.warning{border-color:#d4a72c;background:#fffbea}
.finding.info{border-color:#3b82f6;background:#f3f8ff}
.finding .title{font-weight:600;font-size:15px} .badge{display:inline-block;font-size:11px;font-weight:700;
text-transform:uppercase;border-radius:10px;padding:1px 8px;margin-right:8px;color:#fff;background:#888}
.error .badge{background:#d1242f} .warning .badge{background:#b7870f} .info .badge{background:#3b82f6}
.finding p{margin:6px 0} .finding code{background:#eef0f3;padding:1px 5px;border-radius:4px}
.evidence{font-size:12.5px;color:#444} .ok{color:#1a7f37;font-weight:600} .note{color:#7a808c;font-style:italic}
nav{font-size:13px;margin:8px 0 0} nav a{color:#2457c5;margin-right:10px;text-decoration:none}
"""


def esc(x) -> str:
    """Text (anything, as str) escaped for HTML, quotes included."""
    return html.escape(str(x), quote=True)


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


def num(x, digits: int = 4) -> str:
    """`number_text`, escaped for HTML."""
    return esc(number_text(x, digits))


def status_span(status: str) -> str:
    """A status badge in its colour (inline, so it shows in notebooks too)."""
    s = STATUSES[worst(status)]
    return (f'<span class="status-{s.word}" style="color:{s.color};background:{s.background};font-weight:700;'
            f'border-radius:8px;padding:0 6px">{esc(status)}</span>')


def health_span(row: dict) -> str:
    """A run's (or sweep row's) health as a badge in its colour, with the headline beside it unless the run
    is healthy; "–" while it trains (analysis.health)."""
    from ..analysis.health import LEVELS
    word, headline = row.get("health"), row.get("headline") or ""
    if word not in LEVELS:
        return esc(headline or "–")
    lv = LEVELS[word]
    badge = (f'<span class="health-{lv.word}" style="color:{lv.color};background:{lv.background};font-weight:700;'
             f'border-radius:8px;padding:0 6px" title="{esc(lv.meaning)}">{esc(word)}</span>')
    return badge if word == "ok" else f"{badge} {esc(headline)}"


def png_data_uri(fig, dpi: int = 80) -> str:
    buf = io.BytesIO()
    # no Software tag: the PNG would carry matplotlib's web address
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure_html(make: Callable, caption: str, *, width: int | None = None, heading: bool = False) -> str:
    """An embedded figure (`make()` draws it, or gives its PNG bytes), under an <h3> caption when
    `heading`; a one-line note instead when it cannot be drawn (a missing artifact or an odd model must
    not cost the whole page)."""
    try:
        made = make()
        uri = ("data:image/png;base64," + base64.b64encode(made).decode("ascii")) if isinstance(made, bytes) \
            else png_data_uri(made)
    except Exception as e:
        return f'<p class="note">{esc(caption)}: not available ({esc(type(e).__name__)}: {esc(str(e)[:200])})</p>'
    style = f' style="max-width:{width}px"' if width else ""
    return (f"<h3>{esc(caption)}</h3>" if heading else "") + f'<img alt="{esc(caption)}" src="{uri}"{style}>'


def page(kind: str, ref: str, name: str | None, sections: list[tuple[str, str, str]], css: str, *,
         head: str = "") -> str:
    """One self-contained HTML page: a heading, a navigation bar, then the sections (id, title, body);
    `head`: more of <head> (first, right after the charset)."""
    nav = "".join(f'<a href="#{sid}">{esc(title.split(" (")[0])}</a>' for sid, title, _ in sections)
    parts = "".join(f'<section id="{sid}"><h2>{esc(title)}</h2>{body}</section>' for sid, title, body in sections)
    title = f"mlplab {kind} {ref} · {name or ''}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{head}<title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{css}</style></head><body>'
            f"<main><h1>{esc(name or ref)}</h1><p class='sub'>mlplab {kind} report · {esc(ref)} · "
            f"generated {esc(time.strftime('%Y-%m-%d %H:%M'))}</p><nav>{nav}</nav>{parts}</main></body></html>\n")


def write_atomically(path, text: str) -> Path:
    """Write a page to `path` (its folder made) through a temporary file, so no reader sees half of it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
