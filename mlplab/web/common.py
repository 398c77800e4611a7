"""What every page of the dashboard shares: ids, JSON, safe artifact paths, page rendering, the app's state.

Each app keeps its state (the store, the background jobs, the figure lock, the
data cache) in one `Dashboard` at ``app.state.dashboard``; routes receive it as
the `Web` dependency, so two apps never share anything.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from ..analysis.status import run_row
from ..store import Store, jsonable

if TYPE_CHECKING:
    from .jobs import Jobs
    from .limits import Limits
    from .security import Security

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


class NotFound(Exception):
    """A run, sweep, job, file or page that does not exist: a 404 page, or {"error": ...} under /api/."""


# ---------------------------------------------------------------- ids, numbers and JSON

def check_id(ref: str, noun: str = "run") -> str:
    if not isinstance(ref, str) or not ID_RE.match(ref):
        raise NotFound(f"{noun} {ref!r}: not a valid {noun} id")
    return ref


def finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def script_json(o: Any) -> Markup:
    """JSON for a <script type="application/json"> block: no HTML escaping, but no '<' either."""
    text = json.dumps(jsonable(o), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def json_response(doc: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable(doc), status_code=status)


def value_text(v: Any) -> str:
    """A spec value as pages show it: true/false for booleans (not 1/0), JSON for lists and tables,
    numbers as number_text writes them, '–' for none."""
    from ..present.html import number_text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(jsonable(v))
    return number_text(v)


def clean_history(h: dict) -> dict:
    """JSON-ready history: NaN/inf -> null (the charts skip gaps)."""
    return {k: [finite(float(v)) if isinstance(v, (int, float)) else v for v in vals] for k, vals in h.items()}


def row_of(r: dict) -> dict:
    """A stored run as one row of the runs table (NaN/inf -> None)."""
    return {k: finite(v) if isinstance(v, float) else v for k, v in run_row(r).items()}


def image_side(shape) -> int | None:
    """The side of a square 8x8 or 28x28 image input (flat or not), else None."""
    if not shape:
        return None
    n = 1
    for d in shape:
        n *= int(d)
    side = int(round(n ** 0.5))
    return side if side * side == n and side in (8, 28) else None


# ---------------------------------------------------------------- a run's files

def safe_artifact(store: Store, run_id: str, name: str) -> Path:
    """The file `name` inside the run's artifact folder, or NotFound.

    Rejects absolute paths, '..', backslashes, NUL, hidden (temp) files and any
    symlink on the way; the resolved path must stay inside the folder."""
    if (not name or "\0" in name or "\\" in name or name.startswith("/") or ":" in name
            or any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/"))):
        raise NotFound(f"artifact {name!r}: not a file of run {run_id}")
    folder = store.artifacts / run_id
    if not folder.is_dir() or folder.is_symlink():
        raise NotFound(f"run {run_id}: has no artifact folder")
    path = folder
    for part in name.split("/"):
        path = path / part
        try:
            st = os.lstat(path)
        except OSError:
            raise NotFound(f"artifact {name!r}: run {run_id} has no such file") from None
        if stat.S_ISLNK(st.st_mode):
            raise NotFound(f"artifact {name!r}: is a symlink; not served")
    real, root = os.path.realpath(path), os.path.realpath(folder)
    if os.path.commonpath([real, root]) != root or not stat.S_ISREG(os.lstat(path).st_mode):
        raise NotFound(f"artifact {name!r}: not a file of run {run_id}")
    return Path(real)


# ---------------------------------------------------------------- the app's state

class DataCache:
    """The last few experiments' data (the confusion-cell images), loaded once each."""

    def __init__(self, size: int = 3):
        self.size = size
        self.items: dict[str, Any] = {}
        self.lock = threading.Lock()

    def of_run(self, run: dict):
        from ..data import load_data
        from ..spec import stored_experiment
        exp = stored_experiment(run["spec"])
        key = json.dumps(exp.data.model_dump(mode="json"), sort_keys=True) + str(exp.model.convolutional)
        with self.lock:
            if key not in self.items:
                if len(self.items) >= self.size:
                    self.items.pop(next(iter(self.items)))
                self.items[key] = load_data(exp)
            return self.items[key]


@dataclass
class Dashboard:
    """One app's state: its store, its background jobs, its templates and caches."""
    store: Store
    jobs: "Jobs"
    templates: Jinja2Templates
    security: "Security"
    limits: "Limits"
    data: DataCache = field(default_factory=DataCache)
    facts: dict = field(default_factory=dict)   # data sets' sizes for the form's limits (limits.data_facts)

    def page(self, request: Request, name: str, code: int = 200, **ctx) -> HTMLResponse:
        """A rendered page; every page carries the CSRF token its forms and scripts send back."""
        return self.templates.TemplateResponse(request, name, {"home": str(self.store.home),
                                                               "csrf": self.security.csrf, **ctx},
                                               status_code=code, headers={"cache-control": "no-store"})

    def get_run(self, ref: str) -> dict:
        return self.store.get_run(check_id(ref))


def dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


Web = Annotated[Dashboard, Depends(dashboard)]
