"""The sweep page's analysis (parallel coordinates, parameter importance, slices): through TestClient, and
in a real headless Chromium (marked slow), from a sweep stored with a constructed table (nothing trains)."""
import math
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from mlplab.analysis.status import rank  # noqa: E402
from mlplab.analysis.sweep_importance import importance  # noqa: E402
from mlplab.store.store import Store  # noqa: E402
from mlplab.web import create_app  # noqa: E402

TOKEN = "t"
OUT = Path(__file__).resolve().parents[1] / "output"
BASE = "http://127.0.0.1:8765"
OPT, LR = "train.optimizer", "train.learning_rate"


def stored_sweep(store: Store, n_rates: int = 4) -> tuple[str, list[dict]]:
    """optimizer x learning rate, adam best and the rate best at 0.01: 3 x n_rates configurations."""
    rates = [10.0 ** -e for e in range(n_rates)][::-1]
    rows = [{"values": {OPT: o, LR: lr}, "runs": [], "params": 100, "status": "ok", "test_accuracy": 0.5,
             "val_accuracy": 0.5 + (0.3 if o == "adam" else 0.1) - 0.1 * abs(math.log10(lr) + 2)}
            for o in ("sgd", "adam", "rmsprop") for lr in rates]
    rows = rank(rows)[0]
    sid = store.create_sweep(name="optimizer x rate", spec={})
    store.finish_sweep(sid, status="ok", summary={"keys": [OPT, LR], "rows": rows, "ranked_by": "val_accuracy",
                                                  "best": rows[0], "note": None, "seconds": 1.0})
    return sid, rows


@pytest.fixture
def client(tmp_path):
    store = Store(tmp_path / "store")
    app = create_app(store.home, token=TOKEN)
    with TestClient(app, base_url=BASE, headers={"Authorization": f"token {TOKEN}"}) as c:
        yield c, store


def test_the_sweep_page_shows_importance_and_links_the_figures(client):
    c, store = client
    sid, rows = stored_sweep(store)
    page = c.get(f"/sweeps/{sid}").text
    assert 'id="importance-table"' in page and 'id="importance-note"' not in page   # 12 configurations
    first = page.index(f'data-key="{OPT}"')
    assert first < page.index(f'data-key="{LR}"')                                      # most important first
    share = importance(rows, [OPT, LR], "val_accuracy").keys[0].share
    assert f'data-share="{share}"' in page
    for name in ("parallel-coordinates", "importance", "slices"):
        assert f'src="/sweeps/{sid}/figures/{name}.png"' in page
        r = c.get(f"/sweeps/{sid}/figures/{name}.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    r = c.get(f"/sweeps/{sid}/figures/pie.png")
    assert r.status_code == 404 and "parallel-coordinates, importance, slices" in r.text


def test_a_small_sweep_says_it_is_too_small_to_tell(client):
    c, store = client
    sid, _ = stored_sweep(store, n_rates=2)   # 6 configurations
    page = c.get(f"/sweeps/{sid}").text
    assert 'id="importance-note"' in page and "only 6 configurations: too few to say which key matters" in page


# ---------------------------------------------------------------- in Chromium

@pytest.mark.slow
def test_parallel_coordinates_and_importance_in_chromium(tmp_path):
    from test_web_browser import launch, playwright_api, serving
    store = Store(tmp_path / "store")
    sid, rows = stored_sweep(store)
    with serving(create_app(store.home, token=TOKEN)) as url, playwright_api.sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(f"{url}/?token={TOKEN}")
        page.goto(f"{url}/sweeps/{sid}")
        expected = importance(rows, [OPT, LR], "val_accuracy")
        table = page.locator("#importance-table tbody tr")
        assert table.count() == 3                                   # two keys and the rest
        assert table.nth(0).get_attribute("data-key") == OPT
        assert table.nth(0).locator("td").nth(1).inner_text() == f"{100 * expected.keys[0].share:.0f} %"
        for name in ("parallel-coordinates", "importance", "slices"):
            img = page.locator(f"#sweep-{name} img")
            img.scroll_into_view_if_needed()
            playwright_api.expect(img).to_have_js_property("complete", True)
            width = img.evaluate("i => i.naturalWidth")
            assert width > 300, name                                # the PNG loaded and decoded
        OUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT / "web-sweep-analysis.png"), full_page=True)
        browser.close()
