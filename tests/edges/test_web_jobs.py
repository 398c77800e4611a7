"""Runs started from the dashboard, through TestClient: every limit and every validation error beside
its field, data only from named sets or uploads into the store, the queue (one run at a time), Stop,
and no run left `running` when the server stops.

Queue and Stop are tested with a stand-in process (it creates a run as `mlplab run` does, then sleeps),
so nothing trains here; test_web_browser.py stops a real run from the page.
"""
import io
import subprocess
import sys

import numpy as np
import pytest

from conftest import wait_for

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from mlplab.web import create_app  # noqa: E402
from mlplab.web import jobs as jobs_module  # noqa: E402
from mlplab.web.limits import DataFacts, Limits, estimate  # noqa: E402
from mlplab.spec import validate  # noqa: E402

BASE = "http://127.0.0.1:8765"
FORM = {"name": "", "data.dataset": "digits", "data.scale": "unit", "data.validation_split": "0.1",
        "model.hidden": "8", "model.activation": "relu", "model.init": "glorot_uniform", "model.dropout": "0",
        "model.l2": "0", "train.optimizer": "adam", "train.learning_rate": "0.001", "train.epochs": "1",
        "train.batch_size": "32", "seed": "0"}

STAND_IN = """
import ctypes, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)   # as jobs.LAUNCH
ctypes.CDLL(None).prctl(1, int(signal.SIGINT))   # as jobs.LAUNCH: gone with the test process
from mlplab.store import Store
if sys.argv[2] == "deaf":
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a process that does not stop on SIGINT
if sys.argv[2] == "fail":                          # as `mlplab run` refusing its spec
    print("mlplab: error: data.dataset = '/gone.npz': no such file or folder")
    sys.exit(2)
store = Store(sys.argv[1])
store.create_run(name="stand-in", spec={}, dataset="digits")
store.close()
time.sleep(120)
"""


def client_of(app, csrf=True):
    """A browser that opened the printed URL (the token cookie) and sends its Origin and, unless told not to,
    the CSRF token."""
    headers = {"Origin": BASE, **({"X-CSRF-Token": app.state.security.csrf} if csrf else {})}
    c = TestClient(app, base_url=BASE, raise_server_exceptions=False, headers=headers)
    c.get(f"/?token={app.state.security.token}")
    return c


@pytest.fixture
def app(tmp_path):
    return create_app(tmp_path / "store", token="t")


@pytest.fixture
def client(app):
    with client_of(app) as c:
        yield c


@pytest.fixture
def stand_in(monkeypatch):
    """Jobs start the stand-in instead of `mlplab run`; `mode` "deaf" ignores SIGINT."""
    mode = {"value": "normal"}

    def spawn(self, job):
        with open(job.log_path, "wb") as log:
            return subprocess.Popen([sys.executable, "-c", STAND_IN, str(self.home), mode["value"]],
                                    start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    monkeypatch.setattr(jobs_module.Jobs, "_spawn", spawn)
    return mode


def post(client, **changes):
    return client.post("/new", data={**FORM, **changes}, follow_redirects=False)


def errors_of(html: str) -> dict:
    import re
    return dict(re.findall(r'<(?:span|p) class="[^"]*field-error" data-field="([^"]+)">([^<]*)</', html))


# ---------------------------------------------------------------- every limit, beside its field

@pytest.mark.parametrize("changes,field,words", [
    ({"train.batch_size": "1000000000"}, "train.batch_size", "more than the 1294 training rows"),
    ({"model.hidden": "100000, 100000, 100000"}, "model.hidden", "at most 4096 units"),
    ({"model.hidden": ", ".join(["8"] * 100)}, "model.hidden", "at most 16 hidden layers"),
    ({"train.epochs": "100000"}, "train.epochs", "at most 1000 epochs"),
    ({"model.hidden": "4096, 4096"}, "model.hidden", "parameters on digits"),
    ({"name": "x" * 200_000}, "name", "at most 120"),
    ({"seed": "1" * 1_000_001}, "seed", "the form takes at most 1,000,000"),
    ({"model.l2": "inf"}, "model.l2", "finite"),
    ({"model.l2": "1e999"}, "model.l2", "finite"),
    ({"train.learning_rate": "nan"}, "train.learning_rate", "finite"),
    ({"data.dataset": "/etc/passwd"}, "data.dataset", "uploaded on this page"),
    ({"data.dataset": "uploads/../runs.db"}, "data.dataset", "uploaded on this page"),
    ({"data.dataset": "~/.keras/datasets/mnist.npz"}, "data.dataset", "uploaded on this page"),
])
def test_each_limit_is_refused_beside_its_field(app, client, changes, field, words):
    r = post(client, **changes)
    assert r.status_code == 400
    errors = errors_of(r.text)
    assert field in errors and words in errors[field], errors
    assert not app.state.jobs.jobs


def test_budget_limits_memory_and_time(tmp_path):
    app = create_app(tmp_path, token="t", limits=Limits(max_memory=20 * 2**20, max_seconds=5))
    with client_of(app) as c:
        errors = errors_of(post(c, **{"train.batch_size": "1294", "model.hidden": "4096"}).text)
        assert "memory" in errors["train.batch_size"] and "a batch" in errors["train.batch_size"]
        errors = errors_of(post(c, **{"model.hidden": "2048, 2048"}).text)
        assert "memory" in errors["model.hidden"] and "weights and optimizer state" in errors["model.hidden"]
        errors = errors_of(post(c, **{"model.hidden": "64, 64", "train.epochs": "1000"}).text)
        assert "on this machine" in errors["train.epochs"] and "budget is 5 s" in errors["train.epochs"]
        errors = errors_of(post(c, **{"model.hidden": "64", "train.batch_size": "1", "train.epochs": "1000"}).text)
        assert "1,294 steps of 1" in errors["train.batch_size"]   # batch size 1 counts: each step costs
    assert not app.state.jobs.jobs


def test_every_validation_error_is_shown_not_only_the_first(client):
    r = post(client, **{"train.epochs": "0", "train.learning_rate": "-1", "model.hidden": "64, -3",
                        "model.activation": "bogus", "data.dataset": "/etc/passwd", "model.dropout": "2",
                        "seed": "abc"})
    errors = errors_of(r.text)
    assert set(errors) == {"train.epochs", "train.learning_rate", "model.hidden", "model.activation",
                           "data.dataset", "model.dropout", "seed"}, errors
    assert "train.epochs = 0" in errors["train.epochs"] and "7 problems" in r.text
    assert 'value="64, -3"' in r.text   # what was typed stays in the form


def test_the_estimate_counts_parameters_as_keras_does():
    facts = DataFacts("digits", 1437, 360, 64, 10)
    assert estimate(validate({}), facts).params == 8970   # README: the default 64-64 net on digits
    bn = estimate(validate({"model": {"batchnorm": True, "hidden": [32]}}), facts)
    assert bn.params == 65 * 32 + 33 * 10 + 4 * 32


# ---------------------------------------------------------------- data: uploads into the store, nothing else

def npz_bytes(n=200, features=6) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    np.savez(buf, x_train=rng.normal(size=(n, features)), y_train=rng.integers(0, 3, n),
             x_test=rng.normal(size=(50, features)), y_test=rng.integers(0, 3, 50))
    return buf.getvalue()


@pytest.mark.slow
def test_an_uploaded_file_becomes_a_dataset_choice(app, client, stand_in):
    r = client.post("/data/upload", files={"file": ("../../mine.npz", npz_bytes(), "application/octet-stream")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/new?dataset=uploads/mine.npz"
    page = client.get(r.headers["location"]).text
    assert "<option selected>uploads/mine.npz</option>" in page
    assert (app.state.store.home / "uploads" / "mine.npz").is_file()
    errors = errors_of(post(client, **{"data.dataset": "uploads/mine.npz", "train.batch_size": "500"}).text)
    assert "more than the 180 training rows of uploads/mine.npz" in errors["train.batch_size"]   # limits read the upload
    r = post(client, **{"data.dataset": "uploads/mine.npz"})
    assert r.status_code == 303
    job = next(iter(app.state.jobs.jobs.values()))
    assert str(app.state.store.home / "uploads" / "mine.npz") in job.spec_path.read_text()
    app.state.jobs.stop_all(grace=5)


@pytest.mark.parametrize("name,content,words", [
    ("data.txt", b"1,2,3\n", "expected a .npz or .csv"),
    ("bad.npz", b"not a zip", "not a .npz"),
    ("empty.csv", b"", "empty.csv: no rows"),
    (".hidden.npz", b"x", "expected a .npz or .csv"),
])
def test_bad_uploads_are_refused_and_not_kept(app, client, name, content, words):
    r = client.post("/data/upload", files={"file": (name, content, "application/octet-stream")})
    assert r.status_code == 400
    assert words in errors_of(r.text)["upload"], errors_of(r.text)
    folder = app.state.store.home / "uploads"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_upload_size_and_duplicates(tmp_path):
    app = create_app(tmp_path, token="t", limits=Limits(max_upload=4000))
    with client_of(app) as c:
        assert "larger than" in errors_of(c.post("/data/upload", files={"file": ("a.npz", b"x" * 4001)}).text)["upload"]
        r = c.post("/data/upload", files={"file": ("big.npz", b"x" * (4000 + 2**20 + 10))})
        assert r.status_code == 413   # no request body over the limit is read at all
        assert "<h1>413 — request entity too large</h1>" in r.text and "forbidden" not in r.text
        ok = c.post("/data/upload", files={"file": ("b.npz", npz_bytes(20, 2))}, follow_redirects=False)
        assert ok.status_code == 303
        again = c.post("/data/upload", files={"file": ("b.npz", npz_bytes(20, 2))})
        assert "already holds" in errors_of(again.text)["upload"]


# ---------------------------------------------------------------- the queue, Stop, and server stop

@pytest.mark.slow
def test_one_run_at_a_time_a_bounded_queue_and_stop(tmp_path, stand_in):
    app = create_app(tmp_path, token="t", limits=Limits(max_queued=2))
    jobs, store = app.state.jobs, app.state.store
    with client_of(app) as c:
        ids = [post(c).headers["location"].split("/")[-1]]
        assert wait_for(lambda: c.get(f"/api/jobs/{ids[0]}").json()["state"] == "running")
        ids += [post(c).headers["location"].split("/")[-1] for _ in range(2)]
        full = post(c)
        assert full.status_code == 400 and "already waiting" in errors_of(full.text)["_form"]
        first, second, third = (c.get(f"/api/jobs/{i}").json() for i in ids)
        assert first["state"] == "running" and (second["state"], second["position"]) == ("queued", 1)
        assert (third["state"], third["position"]) == ("queued", 2)
        assert wait_for(lambda: c.get(f"/api/jobs/{ids[0]}").json()["run_id"])
        run_id = c.get(f"/api/jobs/{ids[0]}").json()["run_id"]
        assert store.get_run(run_id)["status"] == "running"
        # cancel a waiting job: it never starts
        assert c.post(f"/jobs/{ids[1]}/stop", headers={"Accept": "application/json"}).json()["state"] == "cancelled"
        assert c.get(f"/api/jobs/{ids[2]}").json()["position"] == 1
        # stop the running one: its run ends interrupted, the next starts
        r = c.post(f"/jobs/{ids[0]}/stop", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/jobs/{ids[0]}"
        assert wait_for(lambda: c.get(f"/api/jobs/{ids[0]}").json()["state"] == "done")
        assert store.get_run(run_id)["status"] == "interrupted"
        assert wait_for(lambda: c.get(f"/api/jobs/{ids[2]}").json()["state"] == "running")
        assert c.post("/jobs/nope/stop").status_code == 404
    # leaving the client stops the server: the running job is stopped, no run is left running
    assert wait_for(lambda: all(r["status"] != "running" for r in store.list_runs()))
    assert {r["status"] for r in store.list_runs()} == {"interrupted"}
    assert jobs.jobs[ids[2]].state == "done"


@pytest.mark.slow
def test_a_job_deaf_to_sigint_is_killed_and_its_run_not_left_running(tmp_path, stand_in):
    stand_in["value"] = "deaf"
    app = create_app(tmp_path, token="t")
    jobs, store = app.state.jobs, app.state.store
    with client_of(app) as c:
        job_id = post(c).headers["location"].split("/")[-1]
        assert wait_for(lambda: c.get(f"/api/jobs/{job_id}").json()["run_id"])
        jobs.stop_all(grace=1)   # what the server does when it stops (with a shorter grace)
        assert jobs.jobs[job_id].proc.poll() is not None
        assert [r["status"] for r in store.list_runs()] == ["interrupted"]
        assert post(c).status_code == 400   # a stopping server takes no new runs


@pytest.mark.slow
def test_a_run_that_cannot_start_reports_its_error(client, stand_in):
    stand_in["value"] = "fail"
    job = post(client).headers["location"].split("/")[-1]
    assert wait_for(lambda: client.get(f"/api/jobs/{job}").json()["state"] == "done")
    doc = client.get(f"/api/jobs/{job}").json()
    assert doc["returncode"] == 2 and doc["run_id"] is None and "/gone.npz" in doc["error"]
    assert not doc["stoppable"] and "no such file" in doc["log"][-1]
