"""The dashboard's security rules through TestClient (no training): the token, the Host allow-list,
CSRF (Origin/Referer + token) on every state-changing request, and the security headers.

A browser-level check of the same rules (a cross-origin page, a foreign Host) is in
test_web_browser.py.
"""
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from mlplab.web import create_app  # noqa: E402

TOKEN = "s3cret-token"
BASE = "http://127.0.0.1:8765"
FORM = {"name": "", "data.dataset": "digits", "data.scale": "unit", "data.validation_split": "0.1",
        "model.hidden": "8", "model.activation": "relu", "model.init": "glorot_uniform", "model.dropout": "0",
        "model.l2": "0", "train.optimizer": "adam", "train.learning_rate": "0.001", "train.epochs": "1",
        "train.batch_size": "32", "seed": "0"}
BAD_FORM = {**FORM, "train.epochs": "0"}  # gets past the security rules, then refused by validation: no job


@pytest.fixture
def app(tmp_path):
    return create_app(tmp_path / "store", token=TOKEN)


@pytest.fixture
def anonymous(app):
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def browser(app):
    """A browser that opened the printed URL: it holds the cookie, nothing else."""
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        assert c.get(f"/?token={TOKEN}").status_code == 200
        yield c


def no_jobs(app) -> bool:
    return not app.state.jobs.jobs and app.state.store.list_runs() == []


# ---------------------------------------------------------------- the token

def test_pages_and_json_need_the_token(anonymous, app):
    r = anonymous.get("/")
    assert r.status_code == 403 and 'id="login"' in r.text and app.state.security.csrf not in r.text
    r = anonymous.get("/api/runs")
    assert r.status_code == 403 and "token" in r.json()["error"]
    for url in ("/runs/x", "/new", "/try", "/sweeps", "/jobs/abc", "/api/jobs/abc"):
        assert anonymous.get(url).status_code == 403, url
    assert anonymous.get("/?token=wrong").status_code == 403
    assert anonymous.get("/static/style.css").status_code == 200  # the login page's style
    assert anonymous.get("/healthz").json() == {"ok": True}


def test_the_printed_url_sets_an_httponly_strict_cookie_and_drops_the_token(anonymous):
    r = anonymous.get(f"/?status=ok&token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?status=ok"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("mlplab-8765=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie                     # the cookie is derived from the token, not the token
    assert anonymous.get("/").status_code == 200   # the cookie alone opens the pages now
    r = anonymous.get(f"//evil.example.com/?token={TOKEN}", follow_redirects=False)
    assert r.headers["location"].startswith("/") and not r.headers["location"].startswith("//")


def test_scripts_may_send_the_token_as_a_header(anonymous):
    assert anonymous.get("/api/runs", headers={"Authorization": f"token {TOKEN}"}).json() == []
    assert anonymous.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert anonymous.get("/api/runs", headers={"Authorization": "token nope"}).status_code == 403
    assert anonymous.get(f"/api/runs?token={TOKEN}").json() == []


def test_the_login_form(anonymous):
    r = anonymous.post("/login", data={"token": "nope"}, headers={"Origin": BASE})
    assert r.status_code == 403 and "wrong token" in r.text
    assert anonymous.post("/login", data={"token": TOKEN}, headers={"Origin": "http://localhost:8000"}).status_code \
        == 403
    r = anonymous.post("/login", data={"token": TOKEN}, headers={"Origin": BASE}, follow_redirects=False)
    assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
    assert anonymous.get("/").status_code == 200


def test_no_token_mode_keeps_the_host_and_csrf_rules(tmp_path):
    app = create_app(tmp_path, token=False)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        assert c.get("/").status_code == 200 and app.state.security.token is None
        assert c.get("/", headers={"Host": "evil.example.com"}).status_code == 403
        assert c.post("/new", data=FORM, headers={"Origin": BASE}).status_code == 403   # no CSRF token
        assert c.post("/new", data={**FORM, "_csrf": app.state.security.csrf},
                      headers={"Origin": "http://localhost:9999"}).status_code == 403
    assert no_jobs(app)


# ---------------------------------------------------------------- the Host allow-list (DNS rebinding)

@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "LocalHost:8765", "[::1]:8765", "localhost",
                                  "app.localhost:8765", "127.0.0.2:8765"])
def test_localhost_names_are_answered(browser, host):
    assert browser.get("/api/runs", headers={"Host": host, "Authorization": f"token {TOKEN}"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example.com", "evil.example.com:8765", "127.0.0.1.nip.io:8765",
                                  "localhost.evil.example:8765", "0.0.0.0:8765", "192.168.1.7:8765", "", "[::1"])
def test_foreign_hosts_are_refused_even_with_the_token(browser, host):
    r = browser.get("/api/runs", headers={"Host": host, "Authorization": f"token {TOKEN}"})
    assert r.status_code == 403 and "not allowed" in r.json()["error"]
    r = browser.get("/", headers={"Host": host})
    assert r.status_code == 403 and "is not allowed" in r.text and "runs-table" not in r.text


def test_the_host_served_and_allowed_names_are_answered(tmp_path):
    app = create_app(tmp_path, token=False, host="lab.example", allowed_hosts=("other.example",))
    with TestClient(app, base_url="http://lab.example:8765") as c:
        assert c.get("/api/runs").status_code == 200
        assert c.get("/api/runs", headers={"Host": "other.example:8765"}).status_code == 200
        assert c.get("/api/runs", headers={"Host": "evil.example:8765"}).status_code == 403
    app = create_app(tmp_path, token=False, host="0.0.0.0")   # every interface: its IP addresses too
    with TestClient(app, base_url="http://192.168.1.7:8765") as c:
        assert c.get("/api/runs").status_code == 200
        assert c.get("/api/runs", headers={"Host": "evil.example:8765"}).status_code == 403


# ---------------------------------------------------------------- CSRF: Origin/Referer and the token

@pytest.mark.parametrize("headers,csrf", [
    ({}, True),                                               # no Origin, no Referer
    ({"Origin": "http://localhost:8000"}, True),              # another local origin (the same site!)
    ({"Origin": "http://127.0.0.1:8766"}, True),              # another port
    ({"Origin": "null"}, True),                               # a sandboxed frame, a data: page
    ({"Origin": "https://127.0.0.1:8765"}, True),             # another scheme
    ({"Referer": "http://evil.example.com/page"}, True),
    ({"Origin": BASE}, False),                                # our origin, but no token
    ({"Origin": BASE, "X-CSRF-Token": "0" * 64}, False),      # a wrong token
])
def test_state_changing_requests_from_elsewhere_are_refused(app, browser, headers, csrf):
    data = {**FORM, "_csrf": app.state.security.csrf} if csrf else FORM
    r = browser.post("/new", data=data, headers=headers, follow_redirects=False)
    assert r.status_code == 403 and "refused" in r.text
    r = browser.post("/api/predict", data={"run": "x"}, files={"image": ("a.png", b"x", "image/png")},
                     headers=headers)
    assert r.status_code == 403
    assert no_jobs(app)


@pytest.mark.parametrize("body,kind", [
    (b"", "text/plain"), (b"data.dataset=digits", "text/plain"),   # what a no-cors fetch can send
    (b"", "application/x-www-form-urlencoded"), (b"junk&&==", "application/x-www-form-urlencoded"),
    (b"{}", "application/json"),
])
def test_no_cors_and_junk_bodies_never_start_a_run(app, browser, body, kind):
    for origin in ("http://localhost:8000", BASE):
        r = browser.post("/new", content=body, headers={"Origin": origin, "Content-Type": kind})
        assert r.status_code == 403
    csrf = app.state.security.csrf  # even with the token: an empty or junk form is not a default run
    r = browser.post("/new", content=body, headers={"Origin": BASE, "Content-Type": kind, "X-CSRF-Token": csrf})
    assert r.status_code == 400 and "incomplete" in r.text
    assert no_jobs(app)


def test_our_own_pages_pass(app, browser):
    r = browser.post("/new", data={**BAD_FORM, "_csrf": app.state.security.csrf}, headers={"Origin": BASE})
    assert r.status_code == 400 and 'data-field="train.epochs"' in r.text   # past the rules, refused by validation
    r = browser.post("/new", data={**BAD_FORM, "_csrf": app.state.security.csrf},
                     headers={"Referer": BASE + "/new"})
    assert r.status_code == 400
    r = browser.post("/new", data=BAD_FORM, headers={"Origin": BASE, "X-CSRF-Token": app.state.security.csrf})
    assert r.status_code == 400
    page = browser.get("/new").text   # the form carries the token, every page has it for scripts
    assert f'name="_csrf" value="{app.state.security.csrf}"' in page
    assert f'<meta name="csrf-token" content="{app.state.security.csrf}">' in page
    assert no_jobs(app)


def test_scripts_with_the_token_header_need_no_csrf_token(app, anonymous):
    r = anonymous.post("/new", data=BAD_FORM, headers={"Authorization": f"token {TOKEN}"})
    assert r.status_code == 400 and 'data-field="train.epochs"' in r.text
    r = anonymous.post("/new", data=BAD_FORM, headers={"Authorization": f"token {TOKEN}", "Origin": "http://x.test"})
    assert r.status_code == 403
    assert no_jobs(app)


# ---------------------------------------------------------------- another site's pages: Sec-Fetch-Site

HEAVY = ["/runs/abc/report", "/runs/abc/figures/hidden-representation.png", "/api/runs/abc/cell?true=0&pred=1",
         "/runs/abc/files/model.keras", "/sweeps/abc/report"]
ASKED = [("no-cors", "image"), ("navigate", "iframe"), ("navigate", "document"), ("cors", "empty")]


def sent(site, mode="navigate", dest="document") -> dict:
    """The headers a browser adds to say which page asked (no header at all: curl, a script)."""
    return {} if site is None else {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}


@pytest.mark.parametrize("path", HEAVY)
def test_heavy_gets_come_only_from_the_dashboards_own_pages(browser, path):
    for site in ("same-site", "cross-site"):   # another local port is the same site: the cookie goes along
        for mode, dest in ASKED:
            r = browser.get(path, headers=sent(site, mode, dest))
            assert r.status_code == 403 and f"Sec-Fetch-Site: {site}" in r.text, (site, mode, dest)
    for site in ("same-origin", "none", None):   # our pages, the address bar, curl: past the rule (no such run)
        assert browser.get(path, headers=sent(site, "no-cors", "image")).status_code == 404, site
    token = {"Authorization": f"token {TOKEN}", **sent("cross-site", "no-cors", "image")}
    assert browser.get(path, headers=token).status_code == 404   # the token proves who asks


def test_another_sites_page_may_link_to_the_dashboard_but_not_load_from_it(browser):
    assert browser.get("/", headers=sent("same-site")).status_code == 200   # a link followed from localhost:8888
    assert browser.get("/runs/abc", headers=sent("cross-site")).status_code == 404
    for mode, dest in ASKED[:2] + ASKED[3:]:
        assert browser.get("/", headers=sent("same-site", mode, dest)).status_code == 403, dest
        r = browser.get("/api/runs", headers=sent("same-site", mode, dest))
        assert r.status_code == 403 and "another site" in r.json()["error"]
    r = browser.post("/new", data=FORM, headers={"Origin": BASE, **sent("same-site")})
    assert r.status_code == 403 and "another site" in r.text   # a form posted from another port


# ---------------------------------------------------------------- headers

def test_every_response_carries_the_security_headers(anonymous, browser):
    responses = [browser.get("/"), browser.get("/new"), browser.get("/api/runs"), browser.get("/static/app.js"),
                 browser.get("/no/such/page"), anonymous.get("/"), browser.get("/", headers={"Host": "evil.test"}),
                 browser.post("/new", data=FORM)]
    for r in responses:
        h = r.headers
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", r.url
        csp = h["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "default-src 'self'" in csp
        assert h["referrer-policy"] == "same-origin" and h["cross-origin-resource-policy"] == "same-origin"
    assert browser.get("/").headers["cache-control"] == "no-store"   # pages hold the CSRF token


# ---------------------------------------------------------------- mlplab serve

def test_serve_prints_the_url_with_its_token_and_refuses_no_token_on_the_network(tmp_path, monkeypatch, capsys):
    import uvicorn

    from mlplab.cli import main
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.setenv("MLPLAB_TOKEN", "from-the-env")
    assert main(["--home", str(tmp_path), "serve", "--port", "8799", "--allow-host", "lab.example"]) == 0
    err = capsys.readouterr().err
    assert "http://127.0.0.1:8799/?token=from-the-env" in err and served["host"] == "127.0.0.1"
    security = served["app"].state.security
    assert security.token == "from-the-env" and security.host_allowed("lab.example")
    monkeypatch.delenv("MLPLAB_TOKEN")
    assert main(["--home", str(tmp_path), "serve"]) == 0
    token = served["app"].state.security.token
    assert len(token) >= 32 and f"?token={token}" in capsys.readouterr().err   # drawn afresh
    assert main(["--home", str(tmp_path), "serve", "--no-token"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "token=" not in err and served["app"].state.security.token is None
    assert main(["--home", str(tmp_path), "serve", "--no-token", "--host", "0.0.0.0"]) == 2
    assert "--no-token with --host 0.0.0.0" in capsys.readouterr().err
