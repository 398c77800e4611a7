"""The dashboard: a thin FastAPI layer over the run store.

    app = create_app("mlplab-runs")          # then uvicorn.run(app, host="127.0.0.1")

Pages are rendered on the server (Jinja2); the small scripts in static/ draw the
curves, sort the runs table, poll live runs and run the drawing canvas. Nothing
is fetched from the internet. Library errors become a 400/404 page or JSON
``{"error": ...}``; no request can take the server down.

One router per resource: runs (runs.py), sweeps and compare (sweeps.py), new
runs (form.py), the jobs that train them (jobs.py) and their live pages (live.py), Try it (tryit.py); what they share is in
common.py, and each app's state in its `common.Dashboard`.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..analysis.health import LEVELS, health_css
from ..analysis.status import STATUSES, status_css, worst
from ..errors import BadInput
from ..store import Store
from . import form, jobs, labels, live, repair, runs, security, sweeps, tryit
from ..present.html import number_text
from .common import Dashboard, NotFound, json_response, script_json, value_text
from .limits import Limits
from .security import Forbidden, Guard, Security, TooLarge, status_title

HERE = Path(__file__).parent


def create_app(home: str | os.PathLike | None = None, *, token: str | bool = True, host: str = "127.0.0.1",
               allowed_hosts: tuple[str, ...] = (), limits: Limits | None = None) -> FastAPI:
    """The dashboard of the store at `home`.

    token: True draws a secret token (``app.state.security.token``; the URL to open is
    ``http://HOST:PORT/?token=TOKEN``), a string is the token, False means none (``--no-token``).
    host: the address the server listens on; Host headers other than this machine's localhost
    names, loopback addresses, `host` and `allowed_hosts` are refused (see security.py).
    limits: what a run started from the New-run form may ask for (see limits.py).
    """
    store = Store(home)
    secret = secrets.token_urlsafe(32) if token is True else (token or None)
    guard = Security.create(secret, host, allowed_hosts)
    limits = limits or Limits()
    web = Dashboard(store=store, jobs=jobs.Jobs(store.home, limits.max_queued), templates=templates(),
                    security=guard, limits=limits)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        import anyio
        await anyio.to_thread.run_sync(web.jobs.stop_all)  # no training process or `running` run left behind

    app = FastAPI(title="mlplab", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
                  dependencies=[Depends(security.require_csrf)])
    app.state.dashboard = web
    app.state.store, app.state.jobs, app.state.security = web.store, web.jobs, guard
    app.add_middleware(Guard, security=guard, max_body=limits.max_upload + 2**20)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    add_error_handlers(app)
    for module in (runs, labels, repair, sweeps, live, form, tryit, security):
        app.include_router(module.router)
    app.add_api_route("/healthz", health, methods=["GET"])
    return app


def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=str(HERE / "templates"))
    t.env.filters["num"] = number_text
    t.env.filters["value"] = value_text   # spec values: booleans as true/false
    t.env.filters["badge"] = worst  # the status word whose colour a (combined) status shows
    t.env.globals["status_css"] = status_css() + health_css()
    t.env.globals["statuses"] = {w: {"healthy": s.healthy, "meaning": s.meaning} for w, s in STATUSES.items()}
    t.env.globals["healths"] = {w: lv.meaning for w, lv in LEVELS.items()}   # the doctor's verdict words
    t.env.globals["health_order"] = list(LEVELS)   # least to most severe: how a health column sorts
    t.env.filters["tojson_safe"] = script_json
    t.env.globals["status_title"] = status_title   # an error page's heading: the status and its meaning
    return t


def health():
    return {"ok": True}


# ---------------------------------------------------------------- errors: a page, or {"error": ...} under /api/

def error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return json_response({"error": message}, status)
    web: Dashboard = request.app.state.dashboard
    return web.page(request, "error.html", status, status=status, message=message)


async def not_found(request: Request, e: NotFound):
    return error(request, 404, str(e))


async def forbidden(request: Request, e: Forbidden):
    return error(request, 403, str(e))


async def too_large(request: Request, e: TooLarge):
    return error(request, 413, str(e))


async def bad_input(request: Request, e: BadInput):
    text = str(e)
    return error(request, 404 if ("no such" in text or "no runs" in text or "there are no" in text) else 400, text)


async def bad_request(request: Request, e: RequestValidationError):
    parts = []
    for err in e.errors()[:3]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
        parts.append(f"{loc}: {err.get('msg')}")
    return error(request, 400, "bad request: " + "; ".join(parts))


async def http_error(request: Request, e: StarletteHTTPException):
    message = "page not found" if e.status_code == 404 else str(e.detail)
    return error(request, e.status_code, message)


async def crash(request: Request, e: Exception):
    return error(request, 500, f"internal error: {type(e).__name__}: {str(e)[:300]}")


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(TooLarge, too_large)
    app.add_exception_handler(BadInput, bad_input)
    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)
