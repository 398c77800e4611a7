"""Who may use the dashboard: Jupyter's model for a local server that other web pages must not drive.

    security = Security.create(token="...", host="127.0.0.1")   # token=None: no token (mlplab serve --no-token)
    app.add_middleware(Guard, security=security)

Every request passes `Guard` (an ASGI middleware), in this order:

1. Host allow-list: the Host header must name this machine as the browser sees it: localhost
   (and *.localhost), a loopback address (127.0.0.1, ::1), the --host the server listens on, or a
   name given with --allow-host. Anything else is a 403: a page on evil.example.com whose DNS
   answer changes to 127.0.0.1 (DNS rebinding) reaches the server, but with its own Host.
2. The token: printed in the URL `mlplab serve` shows (?token=...); the first visit sets an
   HttpOnly, SameSite=Strict cookie and redirects to the same URL without the token. Scripts and
   curl may send ``Authorization: token TOKEN`` instead. Without either: the login page (HTML)
   or ``{"error": ...}`` under /api/, 403. /static/, /login and /healthz need no token.
3. State-changing requests (POST, PUT, PATCH, DELETE) must come from the dashboard's own pages:
   the Origin header (else the Referer) must be this server's origin; and, checked by
   `require_csrf` (an app-wide dependency), carry the CSRF token: the form field ``_csrf`` or
   the header ``X-CSRF-Token``. Another local origin (localhost:8000 is the same *site* as
   localhost:8765, so SameSite does not stop its cookies) fails both; a no-cors fetch or an
   auto-submitting form cannot read the token from our pages.
4. What another site's page asked for (`fetch_site_problem`): browsers say who sent a request in
   Sec-Fetch-Site. same-origin (our own pages) and none (the address bar, a bookmark, the printed
   URL) go on; so does a request without the header (curl, scripts, older browsers: the token rules
   hold them). same-site (a page on another local port: it gets our cookie) and cross-site go on
   only as a top-level GET navigation (a link followed) to a page that starts no heavy work
   (`HEAVY`: reports, figures such as a t-SNE, a confusion cell's images, files made when asked for);
   images, scripts, fetches, frames and forms from them are refused, so they cannot make the machine
   work. Requests carrying the token (Authorization header, ?token=) prove who sent them.
5. Every response gets X-Frame-Options DENY, a Content-Security-Policy (scripts and everything
   else from this server only, no framing), X-Content-Type-Options nosniff, Referrer-Policy
   same-origin (our own posts keep their Origin; nothing leaks to other sites) and
   Cross-Origin-Resource/Opener-Policy same-origin.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import http
import ipaddress
import json
import secrets
import socket
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import Headers

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PREFIXES = ("/static/",)
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
CSRF_FIELD, CSRF_HEADER = "_csrf", "x-csrf-token"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})

# GETs that start heavy work: a report (HTML or PDF), a figure (a t-SNE takes seconds), a confusion cell's
# images (the data set is loaded), a file made on first download; only the dashboard's own pages ask for them
HEAVY = re.compile(r"/(report|figures|cell|files)(/|\.|$)")
OWN_SITES = frozenset({"same-origin", "none"})

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class Forbidden(Exception):
    """A request the security rules refuse: 403, a page or {"error": ...} under /api/."""


class TooLarge(Exception):
    """A request body over the limit: 413."""


def host_name(host_header: str) -> str:
    """'LocalHost:8765' -> 'localhost'; '[::1]:8765' -> '::1'; '' for a malformed header."""
    h = (host_header or "").strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return h[1:end] if end > 0 else ""
    name = h.rsplit(":", 1)[0] if h.count(":") == 1 else h
    return name.rstrip(".")


def is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class Security:
    """The rules of one app: its token (None: none), the Host names it answers, its derived secrets."""
    token: str | None
    hosts: frozenset[str]
    any_ip: bool        # listening on every interface: IP-literal Hosts are this machine's addresses
    secret: bytes       # what the cookie value and the CSRF token derive from

    @classmethod
    def create(cls, token: str | None, host: str = "127.0.0.1", allowed_hosts=()) -> "Security":
        """token: the secret (None: no token); host: the --host the server listens on."""
        names = {"localhost", host_name(host)}
        names |= {host_name(h) for h in allowed_hosts if h}
        wildcard = host.strip().lower() in WILDCARD_HOSTS
        if wildcard:  # listening everywhere: this machine's own names are its addresses too
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        secret = (token or secrets.token_urlsafe(32)).encode()
        return cls(token or None, frozenset(n for n in names - WILDCARD_HOSTS if n), wildcard, secret)

    def derive(self, purpose: str) -> str:
        return hmac.new(self.secret, purpose.encode(), hashlib.sha256).hexdigest()

    @property
    def csrf(self) -> str:
        return self.derive("csrf")

    @property
    def cookie_value(self) -> str:
        return self.derive("cookie")

    def host_allowed(self, name: str) -> bool:
        return bool(name) and (name in self.hosts or name.endswith(".localhost") or is_loopback(name)
                               or (self.any_ip and is_ip(name)))

    def token_ok(self, given: str | None) -> bool:
        return self.token is None or (bool(given) and hmac.compare_digest(given.encode(), self.token.encode()))


def cookie_name(host_header: str) -> str:
    """One cookie per port: browsers share a host's cookies across ports (Jupyter does the same)."""
    port = (host_header or "").rsplit(":", 1)[-1] if (host_header or "").rsplit("]", 1)[-1].count(":") else "80"
    return f"mlplab-{port if port.isdigit() else '80'}"


def header_token(headers: Headers) -> str | None:
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") and value.strip() else None


def cookie_of(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def same_origin(url: str, scheme: str, host_header: str) -> bool:
    """Is `url` (an Origin or a Referer) of this server, as the browser addressed it?"""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == scheme and parts.netloc.lower() == (host_header or "").lower() and bool(parts.netloc)


def origin_problem(headers: Headers, scheme: str) -> str | None:
    """Why a state-changing request does not come from our own pages (None: it does)."""
    host, origin, referer = headers.get("host", ""), headers.get("origin"), headers.get("referer")
    if origin is not None:
        return None if same_origin(origin, scheme, host) else f"origin {origin[:100]!r} is not this dashboard"
    if referer:
        return None if same_origin(referer, scheme, host) else "the request comes from another site (Referer)"
    return "no Origin or Referer: state-changing requests must come from the dashboard's own pages"


def fetch_site_problem(headers: Headers, method: str, path: str) -> str | None:
    """Why a request that another site's page sent is refused (None: it goes on); rule 4 above."""
    site = headers.get("sec-fetch-site")
    if site is None or site in OWN_SITES:
        return None
    followed = (method in SAFE_METHODS and headers.get("sec-fetch-mode") == "navigate"
                and headers.get("sec-fetch-dest") == "document")
    if followed and not HEAVY.search(path):
        return None
    return (f"refused: {path[:100]} was asked for by another site's page (Sec-Fetch-Site: {site[:20]}); "
            "open it from the dashboard's own pages")


# ---------------------------------------------------------------- the middleware

class Guard:
    """ASGI middleware applying the rules above to every HTTP request."""

    def __init__(self, app, security: Security, max_body: int = 256 * 2**20):
        self.app, self.security, self.max_body = app, security, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":  # the dashboard has none
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        answer = self.check(scope, headers)
        if answer is not None:
            status, body, extra = answer
            await respond(send, status, body, extra, scope["path"].startswith("/api/"))
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await respond(send, 413, f"request body over {self.max_body // 2**20} MB", {},
                          scope["path"].startswith("/api/"))
            return
        await self.app(scope, capped(receive, self.max_body), with_headers(send))

    def check(self, scope, headers: Headers):
        """(status, message, extra headers) to answer instead of the app, or None to go on."""
        sec, path, method = self.security, scope["path"], scope["method"]
        host = host_name(headers.get("host", ""))
        if not sec.host_allowed(host):
            return 403, (f"host {headers.get('host', '')[:100]!r} is not allowed: open the dashboard as "
                         f"http://127.0.0.1:PORT/ or http://localhost:PORT/ (or start mlplab serve with "
                         f"--allow-host NAME)"), {}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        name = cookie_name(headers.get("host", ""))
        by_header = sec.token is not None and sec.token_ok(header_token(headers))
        by_cookie = sec.token is None or hmac.compare_digest(cookie_of(headers, name) or "", sec.cookie_value)
        scope.setdefault("state", {})["token_header"] = by_header
        if method in SAFE_METHODS and "token" in query and sec.token is not None:
            if not sec.token_ok(query["token"]):
                return 403, "wrong token: open the URL mlplab serve printed", {}
            if not path.startswith("/api/"):  # a page: set the cookie, drop the token from the address bar
                rest = urlencode([(k, v) for k, v in parse_qsl(scope["query_string"].decode("latin-1"))
                                  if k != "token"])
                cookie = f"{name}={sec.cookie_value}; HttpOnly; SameSite=Strict; Path=/"
                here = "/" + quote(path).lstrip("/")  # never "//host": a redirect stays on this server
                return 303, "", {"location": here + (f"?{rest}" if rest else ""), "set-cookie": cookie}
            by_header = True
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        problem = None if by_header or public else fetch_site_problem(headers, method, path)
        if problem:
            return 403, problem, {}
        if not (by_header or by_cookie or public):
            return 403, "LOGIN", {}
        if method not in SAFE_METHODS:  # scripts with the token header may send neither Origin nor Referer
            problem = origin_problem(headers, scope.get("scheme", "http"))
            unnamed = headers.get("origin") is None and headers.get("referer") is None
            if problem and not (by_header and unnamed):
                return 403, f"refused: {problem}", {}
        return None


def capped(receive, limit: int):
    """receive, raising TooLarge once the body passes `limit` bytes (chunked bodies have no length)."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise TooLarge(f"request body over {limit // 2**20} MB")
        return message
    return wrapped


def with_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
            message = {**message, "headers": list(message.get("headers", [])) + extra}
        await send(message)
    return wrapped


async def respond(send, status: int, message: str, extra: dict, api: bool) -> None:
    if status == 303:
        body, kind = b"", "text/plain"
    elif api:
        text = "this dashboard needs its token (Authorization: token TOKEN)" if message == "LOGIN" else message
        body, kind = json.dumps({"error": text}).encode(), "application/json"
    else:
        body, kind = (login_page() if message == "LOGIN" else refusal_page(status, message)).encode(), "text/html; charset=utf-8"
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store")]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await with_headers(send)({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · mlplab</title>'
        '<link rel="stylesheet" href="/static/style.css"></head><body><header><a class="brand" href="/">mlplab</a>'
        '</header><main><section class="error-page">{body}</section></main></body></html>')


def login_page(problem: str = "") -> str:
    note = f'<p class="error-text">{html.escape(problem)}</p>' if problem else ""
    body = note + ('<h1 id="login">This dashboard needs its token</h1><p>Open the URL <code>mlplab serve</code> printed '
            '(it ends in <code>?token=...</code>), or paste the token:</p>'
            '<form method="post" action="/login"><input type="password" name="token" autocomplete="off" '
            'size="50" autofocus> <button type="submit">Open</button></form>')
    return PAGE.format(title="token", body=body)


def status_title(status: int) -> str:
    """'413 — request entity too large': what an error page is titled (the status and its meaning)."""
    try:
        return f"{status} — {http.HTTPStatus(status).phrase.lower()}"
    except ValueError:
        return f"{status} — error"


def refusal_page(status: int, message: str) -> str:
    return PAGE.format(title=status, body=f'<h1>{html.escape(status_title(status))}</h1>'
                                          f'<p id="error-message">{html.escape(message)}</p>')


# ---------------------------------------------------------------- CSRF tokens (an app-wide dependency)

async def require_csrf(request: Request) -> None:
    """State-changing requests carry the CSRF token (form field _csrf or header X-CSRF-Token).

    Requests authenticated with an Authorization header need none: a browser sends that header
    cross-origin only after a CORS preflight, which this server never grants."""
    if request.method in SAFE_METHODS or request.url.path == "/login" or \
            request.scope.get("state", {}).get("token_header"):
        return
    sec: Security = request.app.state.security
    given = request.headers.get(CSRF_HEADER)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given is None and kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = (await request.form()).get(CSRF_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), sec.csrf.encode()):
        raise Forbidden("refused: missing or wrong CSRF token (state-changing requests must come from the "
                        "dashboard's own pages)")


# ---------------------------------------------------------------- the login form (the token pasted by hand)

router = APIRouter()


@router.post("/login")
async def login(request: Request):
    sec: Security = request.app.state.security
    form = await request.form()
    if not sec.token_ok(str(form.get("token") or "")):
        return HTMLResponse(login_page("wrong token: copy it from the URL mlplab serve printed"), 403)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(cookie_name(request.headers.get("host", "")), sec.cookie_value, httponly=True,
                        samesite="strict", path="/")
    return response
