"""End to end in a real headless Chromium (the system's /usr/bin/chromium, driven by Playwright).

Skips when Playwright or Chromium is missing; never downloads a browser.
Screenshots go to tests/output/web-*.png.
"""
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

CHROMIUM = os.environ.get("MLPLAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

import uvicorn  # noqa: E402

from mlplab.training.runner import run_experiments  # noqa: E402
from mlplab.spec import validate  # noqa: E402
from mlplab.store.store import Store  # noqa: E402
from mlplab.web import create_app  # noqa: E402

OUT = Path(__file__).parent / "output"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("browser-store"))
    exps = [validate({"name": name, "data": {"dataset": "digits"}, "model": {"hidden": [64]},
                      "train": {"epochs": 8, "learning_rate": lr, "early_stopping": False}})
            for name, lr in (("fast", 0.01), ("slow", 0.001))]
    run_experiments(exps, store)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(store.home), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", store
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    OUT.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        except Exception as e:  # a chromium that cannot start here is an environment problem, not a bug
            pytest.skip(f"chromium at {CHROMIUM} does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_runs_list_run_page_and_confusion_cell(server, page):
    url, store = server
    page.goto(url + "/")
    assert page.locator("#runs-table tbody tr").count() == 2
    page.click("th[data-col=test_accuracy]")  # sorting must not break the table
    page.screenshot(path=str(OUT / "web-runs.png"), full_page=True)
    page.click("#runs-table a >> nth=0")
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
    url, _ = server
    page.goto(url + "/")
    page.check(".pick >> nth=0")
    page.check(".pick >> nth=1")
    page.click("#compare-button")
    page.wait_for_selector("#compare-table")
    assert "train.optimizer.learning_rate" in page.inner_text("#compare-table")
    page.wait_for_selector("#overlay svg path")
    page.select_option("#overlay-metric", "val_loss")
    page.hover("#overlay svg", position={"x": 400, "y": 150})
    page.screenshot(path=str(OUT / "web-compare.png"), full_page=True)


def test_start_a_run_from_the_form_and_watch_it_live(server, page):
    url, _ = server
    page.goto(url + "/new")
    page.fill("[name='train.epochs']", "0")
    page.click("#start-run")
    assert "train.epochs = 0" in page.inner_text(".field-error[data-field='train.epochs']")
    page.fill("[name='name']", "from-the-form")
    page.fill("[name='model.hidden']", "32")
    page.fill("[name='train.epochs']", "3")
    page.click("#start-run")
    page.wait_for_url("**/jobs/*")
    page.wait_for_function("document.querySelector('#live-status').textContent === 'ok'", timeout=90_000)
    assert "epoch 3 of 3" in page.inner_text("#live-progress")
    page.wait_for_selector("#live-loss svg path")
    page.screenshot(path=str(OUT / "web-live.png"), full_page=True)
    page.click("#open-run")
    page.wait_for_selector("#findings")
    assert "from-the-form" in page.inner_text("h1")


def test_draw_a_digit_and_read_the_prediction(server, page):
    url, store = server
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
    page.wait_for_function("document.querySelector('#prediction').textContent !== '–'")
    assert page.inner_text("#prediction") == "0"
    assert page.locator("#bars .bar").count() == 10
    page.screenshot(path=str(OUT / "web-try.png"), full_page=True)
