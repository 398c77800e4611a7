"""End to end in a real headless Chromium (the system's /usr/bin/chromium, driven by Playwright).

Skips when Playwright or Chromium is missing; never downloads a browser.
Screenshots go to tests/output/web-*.png.
"""
import json
import os
import re
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import SAFETY_NET, wait_for

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect   # waits without eval: the dashboard's CSP forbids it (wait_for_function needs it)
expect.set_options(timeout=SAFETY_NET * 1000)   # its waits: a safety net, never a verdict
pytest.importorskip("uvicorn")

CHROMIUM = os.environ.get("MLPLAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

import uvicorn  # noqa: E402

from mlplab.training.runner import run_experiments  # noqa: E402
from mlplab.spec import validate  # noqa: E402
from mlplab.store.store import Store  # noqa: E402
from mlplab.web import create_app  # noqa: E402

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

OUT = Path(__file__).resolve().parents[1] / "output"
EVIL = "evil.example.test"   # the browser resolves it to 127.0.0.1: DNS rebinding, simulated
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", f"--host-resolver-rules=MAP {EVIL} 127.0.0.1",
        # Chromium's own local-network checks would stop some attacks before they reach the dashboard;
        # off, so that the dashboard's rules are what is tested (other browsers have no such checks)
        "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,"
        "PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults"]
TOKEN = "browser-test-token"
LONG = "a-very-long-run-name-" * 10_000   # 210,000 characters


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app):
    """The app served by uvicorn on a free local port, in a thread: its URL while the block runs."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    assert wait_for(lambda: srv.started), "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


def launch(playwright):
    """Headless Chromium; a chromium that cannot start here skips (an environment problem, not a bug)."""
    try:
        return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    except Exception as e:
        pytest.skip(f"chromium at {CHROMIUM} does not start: {str(e).splitlines()[0]}")


class Server(NamedTuple):
    url: str
    store: Store
    app: object

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("browser-store"))
    exps = [validate({"name": name, "data": {"dataset": "digits"}, "model": {"hidden": [64]},
                      "train": {"epochs": 8, "learning_rate": lr, "early_stopping": False}})
            for name, lr in (("fast", 0.01), ("slow", 0.001))]
    run_experiments(exps, store)
    run_experiments([validate({"name": "blows-up", "data": {"dataset": "digits", "scale": "none"},
                               "model": {"hidden": [16]}, "train": {"optimizer": "sgd", "learning_rate": 10.0,
                                                                    "epochs": 2, "early_stopping": False}})], store)
    long_id = store.create_run(name=LONG, spec={}, dataset="digits")
    store.set_status(long_id, "failed", error="a run with a very long name")
    app = create_app(store.home, token=TOKEN)
    with serving(app) as url:
        yield Server(url, store, app)
        app.state.jobs.stop_all()


@pytest.fixture(scope="module")
def browser():
    OUT.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A tab that opened the URL `mlplab serve` prints (so it holds the token cookie)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(SAFETY_NET * 1000)   # clicks and navigations wait as long as the machine needs
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{server.url}/?token={TOKEN}")
    assert pg.url == server.url + "/"   # the token leaves the address bar
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_runs_list_run_page_and_confusion_cell(server, page):
    url, store = server.url, server.store
    page.goto(url + "/")
    assert page.locator("#runs-table tbody tr").count() == 4
    page.click("th[data-col=test_accuracy]")  # sorting must not break the table
    page.screenshot(path=str(OUT / "web-runs.png"), full_page=True)
    fast = next(r["id"] for r in store.list_runs() if r["name"] == "fast")
    page.click(f"#runs-table a[href='/runs/{fast}']")
    page.wait_for_selector("#findings")
    page.wait_for_selector("#curves svg path")
    page.hover("[data-chart=accuracy] svg", position={"x": 300, "y": 150})
    assert "epoch" in page.locator("[data-chart=accuracy] .tip").inner_text()
    page.wait_for_selector("table.cm td")
    page.click("table.cm td[data-true='3'][data-pred='3']")
    page.wait_for_selector("#cell-view .thumbs canvas")
    assert "true 3, predicted 3" in page.inner_text("#cell-title")
    assert page.locator("#cell-view .thumbs canvas").count() > 5
    page.screenshot(path=str(OUT / "web-run.png"), full_page=True)


def test_compare_two_runs(server, page):
    url = server.url
    page.goto(url + "/")
    for name in ("fast", "slow"):
        page.check(f".pick[value='{next(r['id'] for r in server.store.list_runs() if r['name'] == name)}']")
    page.click("#compare-button")
    page.wait_for_selector("#compare-table")
    assert "train.optimizer.learning_rate" in page.inner_text("#compare-table")
    page.wait_for_selector("#overlay svg path")
    page.select_option("#overlay-metric", "val_loss")
    page.hover("#overlay svg", position={"x": 400, "y": 150})
    page.screenshot(path=str(OUT / "web-compare.png"), full_page=True)


def test_start_a_run_from_the_form_and_watch_it_live(server, page):
    url = server.url
    page.goto(url + "/new")
    page.fill("[name='train.epochs']", "0")
    page.fill("[name='model.hidden']", "8, -1")
    page.click("#start-run")
    assert "train.epochs = 0" in page.inner_text(".field-error[data-field='train.epochs']")
    assert "positive" in page.inner_text(".field-error[data-field='model.hidden']")   # every error, not the first
    page.fill("[name='name']", "from-the-form")
    page.fill("[name='model.hidden']", "32")
    page.fill("[name='train.epochs']", "2")
    page.click("#start-run")
    page.wait_for_url("**/jobs/*")
    expect(page.locator("#live-status")).to_have_text("ok")
    assert "epoch 2 of 2" in page.inner_text("#live-progress")
    assert page.is_hidden("#stop-form")
    assert "ok:" in page.inner_text("#live-verdict")
    page.wait_for_selector("#live-loss svg path")
    page.screenshot(path=str(OUT / "web-live.png"), full_page=True)
    page.click("#open-run")
    page.wait_for_selector("#findings")
    assert "from-the-form" in page.inner_text("h1")


def test_a_run_started_from_the_form_can_be_stopped(server, page):
    page.goto(server.url + "/new")
    page.fill("[name='name']", "to-be-stopped")
    page.fill("[name='model.hidden']", "8")
    page.fill("[name='train.epochs']", "1000")   # would train for a while; stopped long before
    page.uncheck("[name='train.early_stopping']")
    page.click("#start-run")
    page.wait_for_url("**/jobs/*")
    job = server.app.state.jobs.get(page.url.rsplit("/", 1)[1])
    expect(page.locator("#live-progress")).to_have_text(re.compile("^run "))  # its run exists
    page.click("#stop-run")
    expect(page.locator("#live-status")).to_have_text("interrupted")
    assert "interrupted" in page.inner_text("#live-verdict") and page.is_hidden("#stop-form")
    run = server.store.get_run(job.run_id)
    assert run["status"] == "interrupted" and run["epochs_run"] < 1000
    page.screenshot(path=str(OUT / "web-stopped.png"), full_page=True)


def test_the_form_shows_the_estimate_live_and_it_follows_the_batch_size(server, page):
    """The New-run form's cost (analysis.cost, as --dry-run): batch 1 on digits is 1,294 steps an epoch,
    batch 128 is 11; MNIST with 4096 units at batch 1 for 300 epochs is over the 2 h budget."""
    page.goto(server.url + "/new")
    estimate = page.locator("#estimate")
    expect(estimate).to_contain_text("41 steps of 32")      # the defaults, as soon as the page opens
    page.fill("[name='train.batch_size']", "1")
    expect(estimate).to_contain_text("1,294 steps of 1")
    at_one = estimate.inner_text()
    page.fill("[name='train.batch_size']", "128")
    expect(estimate).to_contain_text("11 steps of 128")
    assert estimate.get_attribute("data-state") == "ok" and estimate.inner_text() != at_one
    page.select_option("[name='data.dataset']", "mnist")
    page.fill("[name='model.hidden']", "4096")
    page.fill("[name='train.batch_size']", "1")
    page.fill("[name='train.epochs']", "300")
    expect(estimate).to_contain_text("54,000 steps of 1")
    expect(estimate).to_have_attribute("data-state", "over")
    assert " h for 300 epochs" in estimate.inner_text() and "budget" in estimate.inner_text()
    page.screenshot(path=str(OUT / "web-estimate.png"), full_page=True)


def test_an_over_budget_run_is_refused_with_the_reason_beside_the_field(server, page):
    jobs_before = len(server.app.state.jobs.jobs)
    page.goto(server.url + "/new")
    page.fill("[name='model.hidden']", "4096, 4096, 4096")
    page.fill("[name='train.batch_size']", "1000000000")
    page.fill("[name='model.l2']", "inf")
    page.click("#start-run")
    assert "parameters on digits" in page.inner_text(".field-error[data-field='model.hidden']")
    assert "more than the 1294 training rows" in page.inner_text(".field-error[data-field='train.batch_size']")
    assert "finite" in page.inner_text(".field-error[data-field='model.l2']")
    assert page.input_value("[name='model.hidden']") == "4096, 4096, 4096"   # the form keeps what was typed
    page.select_option("[name='data.dataset']", "digits")
    assert page.locator("[name='data.dataset'] option").all_inner_texts()[:4] == \
        ["digits", "mnist", "fashion-mnist", "cosine2d"]   # no free-text path
    page.screenshot(path=str(OUT / "web-over-budget.png"), full_page=True)
    assert len(server.app.state.jobs.jobs) == jobs_before


def test_draw_a_digit_and_read_the_prediction(server, page):
    url, store = server.url, server.store
    fast = next(r["id"] for r in store.list_runs() if r["name"] == "fast")
    page.goto(url + f"/try?run={fast}")
    box = page.locator("#pad").bounding_box()
    # a zero: an ellipse drawn with mouse moves
    import math
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    points = [(cx + 60 * math.sin(t / 40 * 2 * math.pi), cy - 95 * math.cos(t / 40 * 2 * math.pi)) for t in range(42)]
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()
    expect(page.locator("#prediction")).to_have_text(re.compile(r"^\d$"))   # "predicting…" while it runs
    assert page.inner_text("#prediction") == "0"
    expect(page.locator("#busy")).to_be_hidden()
    assert page.get_attribute("#bars-box", "aria-busy") == "false"
    assert page.locator("#bars .bar").count() == 10
    page.screenshot(path=str(OUT / "web-try.png"), full_page=True)


# ---------------------------------------------------------------- other web pages must not drive the dashboard

FORM = {"name": "evil", "data.dataset": "digits", "data.scale": "unit", "data.validation_split": "0.1",
        "model.hidden": "8", "model.activation": "relu", "model.init": "glorot_uniform", "model.dropout": "0",
        "model.l2": "0", "train.optimizer": "adam", "train.learning_rate": "0.001", "train.epochs": "1",
        "train.batch_size": "32", "seed": "0"}


def serve_attack(page, origin: str, html: str) -> str:
    """An attacker's page at origin/attack (answered by the browser itself; the dashboard is real)."""
    page.route(origin + "/attack", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    return origin + "/attack"


def test_the_token_cookie_is_httponly_and_strict(server, page):
    cookie = next(c for c in page.context.cookies() if c["name"] == f"mlplab-{server.port}")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""   # scripts cannot read it


def test_a_cross_origin_form_and_fetch_cannot_start_a_run(server, page):
    runs_before, jobs_before = len(server.store.list_runs()), len(server.app.state.jobs.jobs)
    evil = f"http://127.0.0.1:{free_port()}"   # another local origin: the same *site*, so the cookie goes along
    fields = "".join(f'<input name="{k}" value="{v}">' for k, v in FORM.items())
    page.goto(serve_attack(page, evil, f'<form id="f" method="post" action="{server.url}/new">{fields}</form>'
                                       '<script>document.getElementById("f").submit()</script>'))
    page.wait_for_url(server.url + "/new")
    assert "refused" in page.inner_text("#error-message")
    answers = []   # what became of each fetch: the dashboard answers, then CORP hides the answer from the page
    page.on("response", lambda r: answers.append(r.status) if r.url == server.url + "/new" else None)
    page.on("requestfailed", lambda r: answers.append(r.failure) if r.url == server.url + "/new" else None)
    script = f"""<script>(async () => {{
      const url = {json.dumps(server.url + "/new")}, form = new URLSearchParams({json.dumps(FORM)});
      const multi = new FormData(); for (const [k, v] of form) multi.append(k, v);
      for (const body of [form, multi, "data.dataset=digits", ""])
        await fetch(url, {{method: "POST", mode: "no-cors", credentials: "include", body}}).catch(() => null);
      document.title = "sent";
    }})();</script>"""
    page.goto(serve_attack(page, evil, script))
    expect(page).to_have_title("sent")
    assert len(answers) == 4 and all(a in (403, "net::ERR_BLOCKED_BY_RESPONSE.NotSameOrigin") for a in answers)
    page.goto(serve_attack(page, evil, f'<iframe src="{server.url}/new" width="800" height="600"></iframe>'))
    page.wait_for_timeout(500)
    assert page.frame_locator("iframe").locator("#new-run").count() == 0   # frame-ancestors 'none'
    assert len(server.app.state.jobs.jobs) == jobs_before and len(server.store.list_runs()) == runs_before


def test_a_foreign_host_is_refused(server, page):
    evil = f"http://{EVIL}:{server.port}"
    response = page.goto(evil + "/api/runs")
    assert response.status == 403 and "not allowed" in page.inner_text("body")
    assert page.goto(f"{evil}/?token={TOKEN}").status == 403   # the token does not help a foreign name
    # DNS rebinding: a page on the attacker's name, now resolving to 127.0.0.1, reads "its own" origin
    page.goto(serve_attack(page, evil, "<title>rebound</title>"))
    status = page.evaluate("fetch('/api/runs').then(r => r.status)")
    assert status == 403
    spec = page.evaluate("fetch('/runs/x/files/spec.yaml').then(r => r.status)")
    assert spec == 403


# ---------------------------------------------------------------- clear at a glance

def color_of(word: str) -> str:
    from mlplab.analysis.status import STATUSES
    h = STATUSES[word].color.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))


def test_a_diverged_run_looks_diverged(server, page):
    url, store = server.url, server.store
    bad = next(r["id"] for r in store.list_runs() if r["name"] == "blows-up")
    healthy = next(r["id"] for r in store.list_runs() if r["name"] == "fast")
    page.goto(url + "/")
    badge = page.locator("#runs-table tbody tr", has=page.locator(f"a[href='/runs/{bad}']")).locator(".status")
    expect(badge).to_have_text("diverged")
    assert badge.evaluate("e => getComputedStyle(e).color") == color_of("diverged")
    page.goto(f"{url}/runs/{bad}")
    expect(page.locator("#run-status")).to_have_text("diverged")
    assert page.locator("#run-status").evaluate("e => getComputedStyle(e).color") == color_of("diverged")
    assert "diverged" in page.inner_text("#run-verdict")
    page.screenshot(path=str(OUT / "web-diverged.png"), full_page=True)
    page.click("text=try it: draw a digit")   # its "try it" link opens this very run, with a warning
    expect(page.locator("#try-warning")).to_contain_text("diverged")
    assert page.input_value("#try-run") == bad
    page.goto(url + "/try")   # by default: the newest healthy run
    assert page.input_value("#try-run") != bad and page.is_hidden("#try-warning")
    assert store.get_run(page.input_value("#try-run"))["status"] in ("ok", "stopped")
    page.goto(f"{url}/runs/{bad}/live")   # the live page ends in red, saying so
    expect(page.locator("#live-status")).to_have_text("diverged")
    assert page.locator("#live-status").evaluate("e => getComputedStyle(e).color") == color_of("diverged")
    assert "diverged" in page.inner_text("#live-verdict") and "bad" in page.get_attribute("#live-verdict", "class")
    page.goto(f"{url}/compare?run={healthy}&run={bad}")
    assert page.locator(".status-row .status").all_inner_texts() == ["ok", "diverged"]


def test_long_names_do_not_widen_pages(server, page):
    url, store = server.url, server.store
    long_id = next(r["id"] for r in store.list_runs() if r["name"] == LONG)
    for path in ("/", f"/runs/{long_id}", f"/runs/{long_id}/live"):
        page.goto(url + path)
        wider = page.evaluate("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
                              " > 1280).slice(-3).map(e => e.tagName + '.' + e.className + ': ' + e.textContent"
                              ".slice(0, 60))")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, (path, wider)
    page.goto(url + "/")
    cell = page.locator("#runs-table td.name", has_text="a-very-long").first
    assert cell.get_attribute("title") == LONG


def test_charts_cap_accuracy_use_whole_epochs_and_a_log_scale_for_loss(server, page):
    url, store = server.url, server.store
    fast = next(r["id"] for r in store.list_runs() if r["name"] == "fast")
    page.goto(f"{url}/runs/{fast}")
    page.wait_for_selector("[data-chart=accuracy] svg path")
    labels = page.locator("[data-chart=accuracy] svg text[text-anchor=end]").all_text_contents()
    values = [float(t) for t in labels if re.fullmatch(r"[-\d.e]+", t)]
    assert values and max(values) <= 1.0
    ticks = [float(t) for t in page.locator("[data-chart=accuracy] .x-tick").all_text_contents()]
    assert ticks and all(t == int(t) for t in ticks) and len({b - a for a, b in zip(ticks, ticks[1:])}) <= 1
    loss = page.locator("[data-chart=loss] svg text").first
    assert "log scale" not in loss.text_content()
    page.check(".log-toggle input")
    expect(page.locator("[data-chart=loss] svg text").first).to_contain_text("(log scale)")
    page.screenshot(path=str(OUT / "web-charts.png"), full_page=True)


def test_the_live_page_shows_progress_inside_a_long_epoch(server, page):
    from mlplab.engine.progress import StepProgress
    from mlplab.training.live import progress_recorder
    run_id = server.store.create_run(name="long-epochs", spec={"train": {"epochs": 5}}, dataset="mnist")
    server.store.log_epoch(run_id, 1, {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.4, "val_accuracy": 0.85}, 60.0)
    p = StepProgress(epoch=2, epochs=5, step=300, steps=1000, samples=9600, rows=54000, members=1, seconds=12.0,
                     compile_seconds=0.0, epoch_seconds=40.0)
    progress_recorder(server.store, [run_id])(p)
    try:
        page.goto(f"{server.url}/runs/{run_id}/live")
        expect(page.locator("#live-progress")).to_have_text(
            f"run {run_id}: epoch 2 of 5 · step 300/1000 · 800 samples/s · epoch ETA 56s · run ETA 2m56s"
            " · validation accuracy 0.85 after epoch 1")   # the running epoch, 1-based; both ETAs named
        width = page.eval_on_selector("#live-bar", "e => e.style.width")
        assert float(width.rstrip("%")) == pytest.approx(100 * 1.3 / 5)   # 1 epoch and 30 % of the next, of 5
    finally:
        server.store.set_status(run_id, "interrupted")


def path_of(page, chart: str, label: str, kind: str = "line") -> str:
    return page.locator(f"{chart} svg path.{kind}[data-label='{label}']").first.get_attribute("d")


def points(d: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in re.split(r"[ML]", d) if p]


def test_a_smoothing_slider_redraws_the_charts_of_run_live_and_compare_pages(server, page):
    url, store = server.url, server.store
    fast, slow = (next(r["id"] for r in store.list_runs() if r["name"] == n) for n in ("fast", "slow"))
    page.goto(f"{url}/runs/{fast}")
    page.wait_for_selector("[data-chart=loss] svg path.line")
    assert page.locator(".smoothing input[type=range]").count() == 1 and page.locator(".log-toggle input").count() == 1
    raw_loss, raw_acc = path_of(page, "[data-chart=loss]", "validation"), path_of(page, "[data-chart=accuracy]", "validation")
    assert page.locator("svg path.raw-line").count() == 0   # no smoothing: only the values themselves
    page.fill(".smoothing input", "0.9")
    expect(page.locator(".smoothing output")).to_have_text("0.9")
    smoothed = path_of(page, "[data-chart=loss]", "validation")
    assert smoothed != raw_loss and path_of(page, "[data-chart=loss]", "validation", "raw-line") == raw_loss
    assert path_of(page, "[data-chart=accuracy]", "validation") != raw_acc
    before, after = points(raw_loss), points(smoothed)
    assert after[0] == before[0] and len(after) == len(before) == 8   # debiased: the first point is the value itself
    ys = [y for _, y in before]   # a falling loss, smoothed, lags above it (larger y on screen = smaller loss)
    assert after[-1][1] < ys[-1] and min(ys) <= after[-1][1] <= max(ys)
    page.check(".log-toggle input")   # the log scale keeps the smoothing
    expect(page.locator("[data-chart=loss] svg text").first).to_contain_text("(log scale)")
    assert page.locator("[data-chart=loss] svg path.raw-line").count() >= 1
    page.screenshot(path=str(OUT / "web-smoothing.png"), full_page=True)

    page.goto(f"{url}/compare?run={fast}&run={slow}")
    page.wait_for_selector("#overlay svg path.line")
    label = page.locator("#overlay svg path.line").first.get_attribute("data-label")
    raw = path_of(page, "#overlay", label)
    page.fill(".smoothing input", "0.8")
    expect(page.locator("#overlay svg path.raw-line").first).to_have_attribute("d", raw)
    assert path_of(page, "#overlay", label) != raw

    page.goto(f"{url}/runs/{fast}/live")
    page.wait_for_selector("#live-loss svg path.line")
    raw = path_of(page, "#live-loss", "validation")
    page.fill(".smoothing input", "0.6")
    expect(page.locator("#live-loss svg path.raw-line[data-label='validation']")).to_have_attribute("d", raw)
    assert path_of(page, "#live-loss", "validation") != raw


def test_dragging_across_a_chart_zooms_into_those_epochs(server, page):
    fast = next(r["id"] for r in server.store.list_runs() if r["name"] == "fast")
    page.goto(f"{server.url}/runs/{fast}")
    chart = "[data-chart=loss]"
    page.wait_for_selector(f"{chart} svg path.line")
    assert len(points(path_of(page, chart, "validation"))) == 8
    box = page.locator(f"{chart} svg").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=5)
    page.mouse.up()
    expect(page.locator(f"{chart} svg .chart-title")).to_contain_text("(double-click: all)")
    zoomed = points(path_of(page, chart, "validation"))
    assert 2 <= len(zoomed) < 8
    first, last = (int(e) for e in page.locator(f"{chart} svg .chart-title").text_content().split("epochs ")[1]
                   .split(" ")[0].split("–"))
    assert last - first + 1 == len(zoomed) and 1 < first < last <= 8
    assert zoomed[0][0] < zoomed[-1][0] and zoomed[-1][0] - zoomed[0][0] > box["width"] * 0.5   # spread over the axis
    page.dblclick(f"{chart} svg")
    expect(page.locator(f"{chart} svg .chart-title")).not_to_contain_text("epochs")
    assert len(points(path_of(page, chart, "validation"))) == 8


# ---------------------------------------------------------------- charts at 1366 px: zoom, smoothing, the x axis

PLOT_POINTS = """svg => { const r = svg.querySelector("clipPath rect"), box = ["x", "y", "width", "height"].map(k => +r.getAttribute(k));
  return {box, lines: Array.from(svg.querySelectorAll("path.line")).map(p => [p.dataset.label, p.getAttribute("d")])}; }"""


def inside(page, chart: str) -> dict:
    """Each line of a chart: are all its points inside the plot area (the clip rectangle)? and how many."""
    doc = page.eval_on_selector(f"{chart} svg", PLOT_POINTS)
    x, y, w, h = doc["box"]
    return {label: (len(points(d)), all(x - 0.5 <= px <= x + w + 0.5 and y - 0.5 <= py <= y + h + 0.5
                                        for px, py in points(d))) for label, d in doc["lines"]}


def test_zoom_then_smoothing_keeps_every_curve_inside_the_plot(server, page):
    fast = next(r["id"] for r in server.store.list_runs() if r["name"] == "fast")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{server.url}/runs/{fast}")
    for chart in ("[data-chart=loss]", "[data-chart=accuracy]"):
        page.wait_for_selector(f"{chart} svg path.line")
        box = page.locator(f"{chart} svg").bounding_box()
        y = box["y"] + box["height"] / 2   # drag over the later epochs (4..8 of 8), where the loss is small
        page.mouse.move(box["x"] + box["width"] * 0.45, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.99, y, steps=5)
        page.mouse.up()
        expect(page.locator(f"{chart} svg .chart-title")).to_contain_text("(double-click: all)")
    page.fill(".smoothing input", "0.9")
    expect(page.locator(".smoothing output")).to_have_text("0.9")
    for chart in ("[data-chart=loss]", "[data-chart=accuracy]"):
        lines = inside(page, chart)
        assert {"validation", "train (running)"} <= set(lines), lines
        assert all(n >= 2 and ok for n, ok in lines.values()), (chart, lines)   # drawn, and inside the axes
        assert page.locator(f"{chart} svg path.raw-line").count() == len(lines)
    page.screenshot(path=str(OUT / "web-zoom-smoothing.png"), full_page=True)


LINES = """els => els.map(e => { const r = document.createRange(); r.selectNodeContents(e);
  return [e.textContent.trim(), new Set(Array.from(r.getClientRects()).map(q => Math.round(q.top))).size]; })"""


def test_at_1366_px_badges_and_headers_stay_on_one_line_and_charts_align(server, page):
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(server.url + "/")
    lines = page.eval_on_selector_all("#runs-table .status, #runs-table th, #runs-table td.num", LINES)
    assert any(t == "stopped" or t == "diverged" for t, _ in lines) and any(t == "lr" for t, _ in lines)
    assert all(n <= 1 for _, n in lines), [x for x in lines if x[1] > 1]   # badges, headers, numbers: one line each
    page.screenshot(path=str(OUT / "web-runs-1366.png"))
    fast = next(r["id"] for r in server.store.list_runs() if r["name"] == "fast")
    for path in (f"/runs/{fast}", f"/runs/{fast}/live"):
        page.goto(server.url + path)
        page.wait_for_selector("[data-chart=accuracy] svg path.line")
        tops = [page.locator(f"[data-chart={c}] svg").bounding_box()["y"] for c in ("loss", "accuracy")]
        assert abs(tops[0] - tops[1]) <= 1, (path, tops)   # the log-scale checkbox pushes nothing down
    page.screenshot(path=str(OUT / "web-1366.png"), full_page=True)


def test_a_wall_time_x_axis(server, page):
    run = server.store.get_run(next(r["id"] for r in server.store.list_runs() if r["name"] == "fast"))
    page.goto(f"{server.url}/runs/{run['id']}")
    page.wait_for_selector("[data-chart=loss] svg path.line")
    page.select_option(".x-axis select", "time")
    expect(page.locator("[data-chart=loss] svg")).to_contain_text("wall time (s)")
    ticks = [float(t) for t in page.locator("[data-chart=loss] .x-tick").all_text_contents()]
    total = sum(run["history"]["seconds"])   # the page places each epoch at its end to the millisecond
    assert ticks and 0 <= ticks[0] and ticks[-1] <= total + 0.0005 + 1e-9   # seconds since the run began, not epochs
    xs = [x for x, _ in points(path_of(page, "[data-chart=loss]", "validation"))]
    assert len(xs) == 8 and xs == sorted(xs)
    page.select_option(".x-axis select", "epoch")
    expect(page.locator("[data-chart=loss] svg")).not_to_contain_text("wall time")
