"""What the dashboard's pages say, through TestClient: a diverged run looks diverged everywhere, a run
page shows only figures that apply to it (a cosine2d run: no image galleries, no broken image), the
sweeps list, long names, compare's booleans and status row; and a bounded burst of mixed requests
on a warm store (the p95 of pages and figures)."""
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from mlplab.spec import validate  # noqa: E402
from mlplab.store import Store  # noqa: E402
from mlplab.training.runner import run_experiments  # noqa: E402
from mlplab.web import create_app  # noqa: E402

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

BASE = "http://127.0.0.1:8765"
LONG = "a-very-long-run-name-" * 10_000   # 210,000 characters


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A healthy digits run, a diverged one (SGD at lr 10 on raw 0..16 pixels), a cosine2d run, a run
    with a 210,000-character name that failed, and a sweep of the first two."""
    store = Store(tmp_path_factory.mktemp("pages"))
    specs = [{"name": "healthy", "data": {"dataset": "digits"}, "model": {"hidden": [16]}},
             {"name": "blows-up", "data": {"dataset": "digits", "scale": "none"}, "model": {"hidden": [16]},
              "train": {"optimizer": "sgd", "learning_rate": 10.0}},
             {"name": "toy", "data": {"dataset": "cosine2d", "n": 200}, "model": {"hidden": [8], "batchnorm": True}}]
    sweep_id = store.create_sweep(name="two digits nets", spec={})
    results = []
    for spec in specs:
        spec["train"] = {**spec.get("train", {}), "epochs": 2, "early_stopping": False}
        results += run_experiments([validate(spec)], store, sweep_id=sweep_id if spec["name"] != "toy" else None)
    rows = [{"values": {"train.optimizer": r.experiment.train.optimizer.name, "data.scale": r.experiment.data.scale},
             "runs": [r.run_id], "val_accuracy": r.history["val_accuracy"][-1], "test_accuracy": r.test_accuracy,
             "status": r.status, "rank": i + 1} for i, r in enumerate(results[:2])]
    store.finish_sweep(sweep_id, status="ok/diverged", summary={"keys": ["train.optimizer", "data.scale"],
                                                                 "rows": rows, "best": rows[0],
                                                                 "ranked_by": "val_accuracy"})
    long_id = store.create_run(name=LONG, spec={}, dataset="digits")
    store.set_status(long_id, "failed", error="test")
    return store


@pytest.fixture(scope="module")
def client(store):
    app = create_app(store.home, token="t")
    with TestClient(app, base_url=BASE, headers={"Authorization": "token t"}) as c:
        yield c


@pytest.fixture(scope="module")
def ids(store):
    return {r["name"] if r["name"] != LONG else "long": r["id"] for r in store.list_runs()}


def badge(html: str, run_id: str) -> str:
    """The status badge of a run's row in the runs table."""
    row = re.search(rf'<tr>(?:(?!</tr>).)*?/runs/{run_id}".*?</tr>', html, re.S).group(0)
    return re.search(r'<span class="status (status-\w+)">(\w+)</span>', row).groups()


def test_the_diverged_run_is_diverged(store, ids):
    assert store.get_run(ids["blows-up"])["status"] == "diverged"
    assert store.get_run(ids["healthy"])["status"] == "ok"


def test_a_diverged_run_looks_diverged_on_every_page(client, ids):
    bad = ids["blows-up"]
    assert badge(client.get("/").text, bad) == ("status-diverged", "diverged")
    assert badge(client.get("/").text, ids["healthy"]) == ("status-ok", "ok")
    page = client.get(f"/runs/{bad}").text
    assert '<span class="status status-diverged" id="run-status">diverged</span>' in page
    assert 'id="run-verdict"' in page and "the last before it diverged" in page
    assert 'id="run-verdict"' not in client.get(f"/runs/{ids['healthy']}").text
    assert client.get(f"/api/runs/{bad}/history").json()["status"] == "diverged"   # the live page's end state
    compare = client.get(f"/compare?run={ids['healthy']}&run={bad}").text
    assert re.search(r'status-row.*status-ok.*status-diverged', compare)
    sweep = client.get(f"/sweeps/{client.get('/api/runs/' + bad).json()['sweep_id']}").text
    assert 'status status-diverged">diverged' in sweep and 'status status-diverged">ok/diverged' in sweep


def test_try_it_defaults_to_the_newest_healthy_run_and_opens_the_run_asked_for(client, ids):
    page = client.get("/try").text
    assert re.findall(r'<option value="([^"]+)"[^>]*selected', page) == [ids["healthy"]]
    assert ids["blows-up"] not in page   # not offered by default
    page = client.get(f"/runs/{ids['blows-up']}").text
    assert f'href="/try?run={ids["blows-up"]}"' in page   # the run page's "try it" link ...
    page = client.get(f"/try?run={ids['blows-up']}").text   # ... opens that run, with a warning
    assert re.findall(r'<option value="([^"]+)"[^>]*selected', page) == [ids["blows-up"]]
    assert 'data-status="diverged"' in page and 'id="try-warning"' in page
    png = client.get(f"/runs/{ids['healthy']}/figures/mistakes.png").content   # any image will do
    warned = client.post("/api/predict", data={"run": ids["blows-up"]}, files={"image": ("a.png", png, "image/png")})
    assert warned.status_code == 200 and "diverged" in warned.json()["warning"]   # the answer says so too
    fine = client.post("/api/predict", data={"run": ids["healthy"]}, files={"image": ("a.png", png, "image/png")})
    assert fine.status_code == 200 and fine.json()["warning"] is None
    assert 'id="try-problem"' in client.get(f"/try?run={ids['toy']}").text   # not an image run: says so
    assert client.get("/try?run=nope").status_code == 404


def test_a_run_page_shows_only_figures_that_apply(client, ids):
    toy = client.get(f"/runs/{ids['toy']}").text
    shown = re.findall(r'src="/runs/[^/]+/figures/([a-z-]+)\.png"', toy)
    assert shown == ["training-statistics", "weights", "hidden-representation", "decision-regions"]
    for name in shown:   # none broken
        r = client.get(f"/runs/{ids['toy']}/figures/{name}.png")
        assert r.status_code == 200 and r.content[:4] == b"\x89PNG", name
    assert client.get(f"/runs/{ids['toy']}/figures/mistakes.png").status_code == 404
    digits = re.findall(r'src="/runs/[^/]+/figures/([a-z-]+)\.png"', client.get(f"/runs/{ids['healthy']}").text)
    assert digits == ["mistakes", "training-statistics", "weights", "first-layer-weights", "hidden-representation"]
    assert re.findall(r'/figures/', client.get(f"/runs/{ids['long']}").text) == []   # a failed run: none


def test_the_sweeps_list_shows_members_keys_and_best(client, ids):
    page = client.get("/sweeps").text
    row = re.search(r'<tr><td><a href="/sweeps/.*?</tr>', page, re.S).group(0)
    assert re.search(r'class="num members">2\b', row)
    assert "<code>train.optimizer</code>, <code>data.scale</code>" in row
    assert re.search(r'class="num best"[^>]*>0\.\d+ <span class="note">val</span>', row)
    assert "optimizer = adam, scale = unit" in row and 'status-diverged">ok/diverged' in row


def test_long_names_are_cut_with_the_whole_name_in_a_title(client, ids):
    page = client.get("/").text
    assert f'class="name" title="{LONG}"' in page
    run = client.get(f"/runs/{ids['long']}").text
    assert f'<span class="name" title="{LONG}">' in run


def test_compare_writes_booleans_as_words(client, ids):
    page = client.get(f"/compare?run={ids['healthy']}&run={ids['toy']}").text
    row = re.search(r'<tr class="diff"><td><code>model.batchnorm</code>.*?</tr>', page).group(0)
    assert "<td>false</td><td>true</td>" in row


# ---------------------------------------------------------------- a bounded burst on a warm store

def test_a_burst_of_300_mixed_requests(client, ids):
    runs = [ids["healthy"], ids["blows-up"], ids["toy"]]
    pages = ["/", "/sweeps", "/new", "/try", *[f"/runs/{r}" for r in runs], f"/api/runs/{runs[0]}",
             f"/compare?run={runs[0]}&run={runs[1]}", f"/api/runs/{runs[1]}/history"]
    figures = [f"/runs/{ids['healthy']}/figures/{n}.png" for n in ("mistakes", "weights", "training-statistics")] + \
        [f"/runs/{ids['toy']}/figures/decision-regions.png"]
    for url in pages + figures:   # warm: each figure drawn and stored once
        assert client.get(url).status_code == 200, url
    urls = [(pages + figures)[i % len(pages + figures)] for i in range(300)]
    seconds: dict[str, list[float]] = {"page": [], "figure": []}
    lock = threading.Lock()

    def fetch(url):
        t = time.perf_counter()
        code = client.get(url).status_code
        with lock:
            seconds["figure" if "/figures/" in url else "page"].append(time.perf_counter() - t)
        return code
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(fetch, urls))
    assert codes == [200] * 300
    p95 = {k: statistics.quantiles(v, n=20)[-1] for k, v in seconds.items()}
    print(f"burst of 300 (8 at a time): p95 pages {p95['page']:.3f} s, figures {p95['figure']:.3f} s")
