"""The dashboard's routes through FastAPI's TestClient: pages, JSON, downloads, uploads, bad requests."""
import io
import os

import pytest
from PIL import Image, ImageDraw

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from mlplab.training.runner import run_experiments  # noqa: E402
from mlplab.spec import validate  # noqa: E402
from mlplab.store.store import Store  # noqa: E402
from mlplab.web import create_app  # noqa: E402

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two short digits runs (one population), recorded as a sweep over the learning rate."""
    store = Store(tmp_path_factory.mktemp("web-store"))
    sweep_id = store.create_sweep(name="lr sweep", spec={})
    exps = [validate({"name": f"lr{lr}", "data": {"dataset": "digits"}, "model": {"hidden": [64]},
                      "train": {"epochs": 6, "learning_rate": lr, "early_stopping": False}}) for lr in (0.01, 0.001)]
    results = run_experiments(exps, store, sweep_id=sweep_id)
    rows = [{"values": {"train.learning_rate": r.experiment.train.lr, "model.activation": "relu"}, "runs": [r.run_id],
             "val_accuracy": r.history["val_accuracy"][-1], "test_accuracy": r.test_accuracy,
             "train_accuracy": r.history["train_accuracy"][-1], "status": r.status, "seconds": r.seconds, "rank": i + 1}
            for i, r in enumerate(results)]
    store.finish_sweep(sweep_id, status="ok", summary={"keys": ["train.learning_rate", "model.activation"],
                                                        "rows": rows, "best": rows[0], "note": None})
    return store


TOKEN = "test-token"
BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def client(store):
    """A browser that opened the printed URL (the token cookie) and sends what the pages send: its Origin
    and the CSRF token (the rules themselves: test_web_security.py)."""
    app = create_app(store.home, token=TOKEN)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False,
                    headers={"Origin": BASE, "X-CSRF-Token": app.state.security.csrf}) as c:
        assert c.get(f"/?token={TOKEN}").status_code == 200
        yield c


@pytest.fixture(scope="module")
def ids(store):
    return [r["id"] for r in store.list_runs()]


def png_of_digit() -> bytes:
    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).ellipse((55, 25, 145, 175), outline=0, width=16)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


# ---------------------------------------------------------------- runs

def test_runs_page_lists_filters_and_sorts(client, ids):
    r = client.get("/")
    assert r.status_code == 200 and all(i in r.text for i in ids) and 'id="compare-button"' in r.text
    assert "lr0.01" in client.get("/?q=lr0.01").text and "lr0.001" not in client.get("/?q=lr0.01").text
    assert ids[0] not in client.get("/?status=failed").text
    runs = client.get("/api/runs?sort=test_accuracy&desc=false").json()
    accs = [r["test_accuracy"] for r in runs]
    assert accs == sorted(accs) and len(runs) == 2
    assert client.get("/api/runs?dataset=mnist").json() == []
    assert client.get("/api/runs?sort=nonsense").status_code == 400
    assert client.get("/api/runs?limit=abc").status_code == 400
    assert client.get("/?sweep=zzzz").status_code == 404


def test_run_page_has_findings_first_then_curves_and_confusion(client, ids):
    r = client.get(f"/runs/{ids[0]}")
    assert r.status_code == 200
    text = r.text
    assert text.index('id="findings"') < text.index('id="curves"') < text.index('id="confusion-matrix"')
    for part in ('id="history-data"', "/figures/mistakes.png", "/figures/weights.png", "hidden-representation.png",
                 "/files/model.keras", "/files/history.csv", "/files/spec.yaml", "/report"):
        assert part in text
    common = os.path.commonprefix(ids)                   # the two runs' ids agree up to here (made at once)
    assert client.get(f"/runs/{common}").status_code == 400                    # a prefix of both: ambiguous
    r = client.get(f"/runs/{ids[0][:len(common) + 1]}")                        # a prefix of one run's id
    assert r.status_code == 200 and 'id="findings"' in r.text and ids[0] in r.text and ids[1] not in r.text


@pytest.mark.parametrize("bad", ["nope", "zz-zz", "%2e%2e", "..%2f..", "a%00b", "last%2f..", "x" * 300])
def test_unknown_or_malformed_run_ids_are_404_pages(client, bad):
    for url in (f"/runs/{bad}", f"/api/runs/{bad}", f"/api/runs/{bad}/history", f"/runs/{bad}/live",
                f"/runs/{bad}/files/spec.yaml", f"/runs/{bad}/figures/weights.png"):
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)


def test_run_json_history_and_confusion(client, ids):
    doc = client.get(f"/api/runs/{ids[0]}").json()
    assert doc["id"] == ids[0] and "findings" in doc and doc["history"]["epoch"] == [1, 2, 3, 4, 5, 6]
    h = client.get(f"/api/runs/{ids[0]}/history").json()
    assert h["status"] == "ok" and h["epochs"] == 6 and len(h["history"]["val_accuracy"]) == 6
    cm = client.get(f"/api/runs/{ids[0]}/confusion").json()
    assert len(cm["matrix"]) == 10 and cm["class_names"][3] == "3"
    cell = client.get(f"/api/runs/{ids[0]}/cell?true=3&pred=3&limit=5").json()
    assert cell["count"] == cm["matrix"][3][3] and len(cell["images"]) == min(5, cell["count"])
    assert cell["shape"] == [8, 8] and len(cell["images"][0]) == 8 and max(max(row) for row in cell["images"][0]) <= 255
    assert client.get(f"/api/runs/{ids[0]}/cell?true=10&pred=0").status_code == 400
    assert client.get(f"/api/runs/{ids[0]}/cell?true=x&pred=0").status_code == 400
    assert client.get(f"/api/runs/{ids[0]}/cell").status_code == 400


def test_figures_and_report(client, ids, monkeypatch, tmp_path):
    r = client.get(f"/runs/{ids[0]}/figures/confusion-matrix.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    assert client.get(f"/runs/{ids[0]}/figures/mistakes.png").status_code == 200
    assert client.get(f"/runs/{ids[0]}/figures/nonsense.png").status_code == 404
    import mlplab.present.report
    calls = []

    def quick_report(store, ref, out=None):  # the real one draws every figure (t-SNE too): tested in test_report
        calls.append(ref)
        (tmp_path / "report.html").write_text("<html>report of " + ref + "</html>")
        return tmp_path / "report.html"
    monkeypatch.setattr(mlplab.present.report, "write_report", quick_report)
    r = client.get(f"/runs/{ids[0]}/report")
    assert r.status_code == 200 and "<html" in r.text.lower() and calls == [ids[0]]


# ---------------------------------------------------------------- downloads are the run's files only

def test_downloads(client, ids):
    r = client.get(f"/runs/{ids[0]}/files/spec.yaml")
    assert r.status_code == 200 and "dataset: digits" in r.text
    r = client.get(f"/runs/{ids[0]}/files/model.keras")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert client.get(f"/runs/{ids[0]}/files/history.csv").text.startswith("epoch,")


@pytest.mark.parametrize("name", ["../../runs.db", "..%2f..%2fruns.db", "%2e%2e/%2e%2e/runs.db", "%2e%2e%2f%2e%2e%2fruns.db",
                                  "/etc/passwd", "%2fetc%2fpasswd", "..\\..\\runs.db", "spec.yaml%00.png",
                                  "nothing-here.txt", ".", "", "link-out", ".hidden"])
def test_traversal_and_symlinks_are_refused(client, store, ids, name):
    link = store.artifacts / ids[0] / "link-out"
    if not link.is_symlink():
        os.symlink(store.db_path, link)
    (store.artifacts / ids[0] / ".hidden").write_text("secret")
    r = client.get(f"/runs/{ids[0]}/files/{name}")
    assert r.status_code == 404, (name, r.status_code)
    assert b"SQLite" not in r.content and b"root:" not in r.content and b"secret" not in r.content


def test_symlinked_artifact_folder_is_refused(client, store, ids, tmp_path):
    (tmp_path / "spec.yaml").write_text("outside")
    fake = "261231-000000-beef"
    store.create_run(name="x", spec={}, dataset="digits")  # a real id whose folder we replace below
    run_id = store.list_runs()[0]["id"]
    folder = store.artifacts / run_id
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    os.symlink(tmp_path, folder)
    try:
        assert client.get(f"/runs/{run_id}/files/spec.yaml").status_code == 404
        assert client.get(f"/runs/{fake}/files/spec.yaml").status_code == 404
    finally:
        folder.unlink()
        store.set_status(run_id, "failed", error="test")


# ---------------------------------------------------------------- compare and sweeps

def test_compare(client, store, ids):
    r = client.get(f"/compare?run={ids[0]}&run={ids[1]}")
    assert r.status_code == 200 and "train.optimizer.learning_rate" in r.text and 'id="overlay-data"' in r.text
    doc = client.get(f"/api/compare?run={ids[0]},{ids[1]}").json()
    assert list(doc["differences"]) == ["train.optimizer.learning_rate"]    # a name is not a setting
    assert doc["names"] == [store.get_run(i)["name"] for i in ids] and sorted(doc["names"]) == ["lr0.001", "lr0.01"]
    assert len(doc["histories"]) == 2
    assert client.get(f"/compare?run={ids[0]}").status_code == 400
    assert client.get("/compare").status_code == 400
    assert client.get(f"/compare?run={ids[0]}&run=nope").status_code == 404


def test_sweeps(client, store):
    sweep_id = store.list_sweeps()[0]["id"]
    assert sweep_id in client.get("/sweeps").text
    r = client.get(f"/sweeps/{sweep_id}")
    assert r.status_code == 200 and 'id="heatmap"' in r.text and 'id="sweep-table"' in r.text
    assert len(client.get(f"/api/sweeps/{sweep_id}").json()["runs"]) >= 2
    assert client.get("/sweeps/nope").status_code == 404
    assert client.get("/api/sweeps/..").status_code == 404


# ---------------------------------------------------------------- new runs

FORM = {"name": "", "data.dataset": "digits", "data.scale": "unit", "data.validation_split": "0.1",
        "model.hidden": "64", "model.activation": "relu", "model.init": "glorot_uniform", "model.dropout": "0",
        "model.l2": "0", "train.optimizer": "adam", "train.learning_rate": "0.001", "train.epochs": "2",
        "train.batch_size": "32", "seed": "0"}   # the form as the page submits it (checkboxes off)


def test_new_run_form_validates_like_the_cli(client):
    assert 'name="train.learning_rate"' in client.get("/new").text
    form = {**FORM, "train.epochs": "0"}
    r = client.post("/new", data=form, follow_redirects=False)
    assert r.status_code == 400
    assert 'class="field-error" data-field="train.epochs"' in r.text and "train.epochs = 0" in r.text
    r = client.post("/new", data={**form, "train.epochs": "3", "train.learning_rate": "-1"}, follow_redirects=False)
    assert 'data-field="train.learning_rate"' in r.text
    r = client.post("/new", data={**form, "train.epochs": "3", "model.hidden": "64, -3"}, follow_redirects=False)
    assert 'data-field="model.hidden"' in r.text
    r = client.post("/new", data={**form, "train.epochs": "3", "model.activation": "bogus"}, follow_redirects=False)
    assert 'data-field="model.activation"' in r.text
    r = client.post("/new", data={**form, "train.epochs": "abc"}, follow_redirects=False)
    assert r.status_code == 400 and 'data-field="train.epochs"' in r.text


def test_the_form_takes_no_paths(client, tmp_path):
    r = client.post("/new", data={**FORM, "data.dataset": str(tmp_path / "missing.npz")}, follow_redirects=False)
    assert r.status_code == 400 and 'data-field="data.dataset"' in r.text   # (more: test_web_jobs.py)
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/jobs/%2e%2e").status_code == 404   # (a bare /jobs/.. is normalized to / by the client)


# ---------------------------------------------------------------- try it

def test_try_page_and_predict(client, ids):
    assert ids[0] in client.get("/try").text
    r = client.post("/api/predict", data={"run": ids[1]}, files={"image": ("zero.png", png_of_digit(), "image/png")})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["predicted"] == 0 and doc["side"] == 8 and len(doc["input"]) == 8 and len(doc["probabilities"]) == 10


@pytest.mark.parametrize("upload,status,message", [
    (("x.png", b"this is not an image", "image/png"), 400, "not a PNG"),
    (("x.png", b"", "image/png"), 400, "empty"),
    (("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"), 400, "cannot read"),
    (("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"), 400, "not a PNG"),
])
def test_bad_uploads_are_400(client, ids, upload, status, message):
    r = client.post("/api/predict", data={"run": ids[0]}, files={"image": upload})
    assert r.status_code == status and message in r.json()["error"]


def test_upload_limits(client, ids, monkeypatch):
    import mlplab.predict as predict
    monkeypatch.setattr(predict, "MAX_BYTES", 500)
    r = client.post("/api/predict", data={"run": ids[0]}, files={"image": ("big.png", png_of_digit(), "image/png")})
    assert r.status_code == 400 and "MB" in r.json()["error"]
    monkeypatch.setattr(predict, "MAX_BYTES", 8 * 2**20)
    monkeypatch.setattr(predict, "MAX_PIXELS", 1000)
    r = client.post("/api/predict", data={"run": ids[0]}, files={"image": ("wide.png", png_of_digit(), "image/png")})
    assert r.status_code == 400 and "pixels" in r.json()["error"]


def test_malformed_predict_requests(client, ids):
    assert client.post("/api/predict", data={"run": ids[0]}).status_code == 400  # no file
    assert client.post("/api/predict", files={"image": ("a.png", png_of_digit(), "image/png")}).status_code == 400
    r = client.post("/api/predict", data={"run": "nope"}, files={"image": ("a.png", png_of_digit(), "image/png")})
    assert r.status_code == 404
    r = client.post("/api/predict", data={"run": "../x"}, files={"image": ("a.png", png_of_digit(), "image/png")})
    assert r.status_code == 404
    r = client.post("/api/predict", content=b"--xx\r\ngarbage", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400
    r = client.post("/api/predict", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_unknown_routes_and_methods_do_not_crash(client):
    assert client.get("/no/such/page").status_code == 404
    assert client.delete("/").status_code == 405
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/healthz").json() == {"ok": True}


def test_a_running_runs_history_carries_its_progress_inside_the_epoch(client, store):
    from mlplab.training.live import clear_progress, progress_recorder

    class Report:
        epoch, step = 1, 5

        def to_json(self):
            return {"epoch": 1, "epochs": 3, "step": 5, "steps": 10, "phase": "training"}

        def text(self):
            return "epoch 1/3  step 5/10"

    run_id = store.create_run(name="running", spec={"train": {"epochs": 3}}, dataset="digits")
    progress_recorder(store, [run_id])(Report())
    assert client.get(f"/api/runs/{run_id}/history").json()["progress"]["text"] == "epoch 1/3  step 5/10"
    store.set_status(run_id, "interrupted")
    assert client.get(f"/api/runs/{run_id}/history").json()["progress"] is None   # only while running
    clear_progress(store, [run_id])
