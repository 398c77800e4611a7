"""The run store against a real SQLite file in tmp_path."""
import json
import math
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SAFETY_NET

from mlplab.errors import BadInput
from mlplab.store import SCHEMA_VERSION, Store, loads

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


def _new(store, name="r", dataset="mnist", **kw):
    return store.create_run(name=name, spec={"name": name, "lr": 0.01}, dataset=dataset, **kw)


def _finish(store, run_id, **kw):
    args = dict(
        status="ok", epochs_run=3, best_epoch=2, seconds=1.5, test_loss=0.3, test_accuracy=0.9,
        params=1234, warnings=[], summary={},
    )
    args.update(kw)
    store.finish_run(run_id, **args)


def test_home_layout_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_HOME", str(tmp_path / "envhome"))
    with Store() as s:
        assert s.home == tmp_path / "envhome"
        assert (s.home / "runs.db").is_file()
        assert (s.home / "artifacts").is_dir()
        run_id = _new(s)
        assert (s.home / "artifacts" / run_id).is_dir()
    monkeypatch.delenv("MLPLAB_HOME")
    monkeypatch.chdir(tmp_path)
    with Store() as s:
        assert s.home == Path("mlplab-runs")
        assert (tmp_path / "mlplab-runs" / "runs.db").is_file()


def test_schema_version_and_wal(store):
    con = sqlite3.connect(store.home / "runs.db")
    try:
        assert con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"runs", "epochs", "sweeps", "schema_version"} <= tables
    finally:
        con.close()
    # reopening an up-to-date store applies nothing twice
    Store(store.home).close()
    con = sqlite3.connect(store.home / "runs.db")
    assert con.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_round_trip_with_nan_and_inf(store):
    run_id = store.create_run(
        name="mlp", spec={"model": {"layers": [64, 64]}, "x": float("nan")}, dataset="mnist",
        model="64-64 relu", optimizer="adam", learning_rate=0.001,
    )
    row = store.get_run(run_id)
    assert row["status"] == "running" and row["finished"] is None
    assert row["created"].endswith("Z") and row["created"][:4].isdigit()
    assert row["pid"] == os.getpid()

    store.log_epoch(run_id, 1, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.1}, 0.25)
    store.log_epoch(run_id, 2, {"loss": float("nan"), "accuracy": 0.1, "val_loss": float("inf")}, 0.5)
    store.log_epoch(run_id, 3, {"loss": float("-inf"), "accuracy": 0.1, "val_loss": float("nan")}, float("nan"))
    assert store.get_run(run_id)["epochs_run"] == 3  # live progress

    _finish(
        store, run_id, status="diverged", epochs_run=3, best_epoch=1, seconds=1.25,
        test_loss=float("nan"), test_accuracy=float("inf"), params=4810,
        warnings=["lr is high"], summary={"eval": {"f1": float("nan"), "top": [1, float("-inf")]}, "n": 3},
        error="loss became NaN",
    )
    row = store.get_run(run_id)
    assert row["id"] == run_id
    assert row["name"] == "mlp" and row["dataset"] == "mnist"
    assert row["model"] == "64-64 relu" and row["optimizer"] == "adam"
    assert row["learning_rate"] == 0.001
    assert row["status"] == "diverged" and row["finished"] is not None
    assert row["epochs_run"] == 3 and row["best_epoch"] == 1 and row["params"] == 4810
    assert row["seconds"] == 1.25
    assert math.isnan(row["test_loss"]) and row["test_accuracy"] == math.inf
    assert row["warnings"] == ["lr is high"]
    assert row["error"] == "loss became NaN"
    assert row["spec"]["model"] == {"layers": [64, 64]} and math.isnan(row["spec"]["x"])
    assert math.isnan(row["summary"]["eval"]["f1"])
    assert row["summary"]["eval"]["top"] == [1, -math.inf] and row["summary"]["n"] == 3
    assert "spec_json" not in row and "summary_json" not in row

    h = row["history"]
    assert h["epoch"] == [1, 2, 3]
    assert h["seconds"][:2] == [0.25, 0.5] and math.isnan(h["seconds"][2])
    assert h["accuracy"] == [0.5, 0.1, 0.1]
    assert h["loss"][0] == 1.0 and math.isnan(h["loss"][1]) and h["loss"][2] == -math.inf
    assert h["val_loss"][:2] == [1.1, math.inf] and math.isnan(h["val_loss"][2])

    # the stored JSON is standard JSON (no bare NaN tokens) so any reader can parse it
    con = sqlite3.connect(store.home / "runs.db")
    for (text,) in con.execute("SELECT metrics_json FROM epochs"):
        json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in {text}"))
    con.close()


def test_history_order_and_missing_metrics(store):
    run_id = _new(store)
    for epoch in (3, 1, 2):  # logged out of order
        metrics = {"loss": float(epoch)}
        if epoch >= 2:
            metrics["val_loss"] = epoch + 0.5
        store.log_epoch(run_id, epoch, metrics, seconds=epoch / 10)
    store.log_epoch(run_id, 2, {"loss": 20.0, "val_loss": 2.5}, seconds=0.2)  # re-logged: replaced
    h = store.history(run_id)
    assert h["epoch"] == [1, 2, 3]
    assert h["seconds"] == [0.1, 0.2, 0.3]
    assert h["loss"] == [1.0, 20.0, 3.0]
    assert math.isnan(h["val_loss"][0]) and h["val_loss"][1:] == [2.5, 3.5]
    assert store.history(_new(store)) == {"epoch": [], "seconds": []}
    with pytest.raises(BadInput):
        store.history("nope")


def test_set_status(store):
    run_id = _new(store)
    store.set_status(run_id, "interrupted", error="KeyboardInterrupt")
    row = store.get_run(run_id)
    assert row["status"] == "interrupted" and row["error"] == "KeyboardInterrupt"
    assert row["finished"] is not None
    with pytest.raises(ValueError):
        store.set_status(run_id, "weird")
    with pytest.raises(BadInput):
        store.set_status("999999-999999-ffff", "failed")
    with pytest.raises(BadInput):
        store.log_epoch("999999-999999-ffff", 1, {"loss": 1.0}, 0.1)


def test_list_runs_filters_newest_first(store):
    sweep = store.create_sweep(name="lr-sweep", spec={"grid": {"lr": [0.1, 0.01]}})
    ids = []
    for i, ds in enumerate(["mnist", "fashion", "mnist", "mnist"]):
        ids.append(_new(store, name=f"r{i}", dataset=ds, sweep_id=sweep if i >= 2 else None))
    _finish(store, ids[0])
    _finish(store, ids[2], status="failed", error="boom")

    assert [r["id"] for r in store.list_runs()] == ids[::-1]
    assert [r["id"] for r in store.list_runs(dataset="mnist")] == [ids[3], ids[2], ids[0]]
    assert [r["id"] for r in store.list_runs(status="running")] == [ids[3], ids[1]]
    assert [r["id"] for r in store.list_runs(sweep_id=sweep)] == [ids[3], ids[2]]
    assert [r["id"] for r in store.list_runs(dataset="mnist", status="ok")] == [ids[0]]
    assert [r["id"] for r in store.list_runs(limit=2)] == [ids[3], ids[2]]
    assert store.list_runs(dataset="cifar") == []
    r = store.list_runs(status="failed")[0]
    assert r["error"] == "boom" and r["spec"] == {"name": "r2", "lr": 0.01} and "history" not in r
    con = sqlite3.connect(store.home / "runs.db")
    assert con.execute("SELECT name, status FROM sweeps WHERE id = ?", (sweep,)).fetchone() == (
        "lr-sweep", "running")
    con.close()


def test_run_ids_short_sortable_unique(store):
    ids = [_new(store) for _ in range(50)]
    assert len(set(ids)) == 50
    for run_id in ids:
        date, clock, rand = run_id.split("-")
        assert len(date) == 6 and len(clock) == 6 and len(rand) == 4
        assert (date + clock + rand).isalnum()
    assert [r["id"][:13] for r in store.list_runs()] == sorted((i[:13] for i in ids), reverse=True)


def test_resolve(store):
    with pytest.raises(BadInput, match="no runs yet"):
        store.resolve("last")
    a = _new(store)
    b = _new(store)
    assert store.resolve("last") == b
    assert store.resolve("latest") == b
    assert store.resolve(a) == a
    # a unique prefix: the full id minus its last hex digit, when no other id shares it
    if a[:-1] != b[:-1]:
        assert store.resolve(a[:-1]) == a
    assert store.get_run("last")["id"] == b

    with pytest.raises(BadInput) as e:
        store.resolve("zzz")
    msg = str(e.value)
    assert "'zzz'" in msg and "no such run" in msg and "\n" not in msg
    with pytest.raises(BadInput):
        store.get_run("zzz")
    with pytest.raises(BadInput):
        store.resolve("")

    # ambiguous: many runs share the date prefix; message lists at most 5 candidates
    ids = [a, b] + [_new(store) for _ in range(5)]
    prefix = os.path.commonprefix(ids)
    assert prefix
    with pytest.raises(BadInput) as e:
        store.resolve(prefix)
    msg = str(e.value)
    assert "ambiguous" in msg and "matches 7 runs" in msg and "and 2 more" in msg
    assert sum(i in msg for i in ids) == 5 and "\n" not in msg


def test_write_artifact_atomic(store):
    run_id = _new(store)
    p = store.write_artifact(run_id, "spec.json", '{"a": 1}')
    assert p == store.artifact_dir(run_id) / "spec.json" and p.read_text() == '{"a": 1}'
    p = store.write_artifact(run_id, "spec.json", b'{"a": 2}')  # overwrite
    assert p.read_bytes() == b'{"a": 2}'
    p2 = store.write_json(run_id, "eval.json", {"f1": float("nan"), "xs": [1.0, float("inf")]})
    back = loads(p2.read_text())
    assert math.isnan(back["f1"]) and back["xs"] == [1.0, math.inf]
    p3 = store.write_artifact(run_id, "plots/loss.svg", "<svg/>")
    assert p3.read_text() == "<svg/>"
    assert sorted(x.name for x in store.artifact_dir(run_id).iterdir()) == ["eval.json", "plots", "spec.json"]
    with pytest.raises(ValueError):
        store.write_artifact(run_id, "../escape.txt", "x")
    with pytest.raises(ValueError):
        store.write_artifact(run_id, "/abs.txt", "x")


def test_artifact_writer(store):
    run_id = _new(store)
    d = store.artifact_dir(run_id)
    with store.artifact_writer(run_id, "model.keras") as tmp:
        assert tmp.suffix == ".keras" and tmp.parent == d and not tmp.exists()
        tmp.write_bytes(b"weights-v1")
        assert not (d / "model.keras").exists()  # not visible until done
    assert (d / "model.keras").read_bytes() == b"weights-v1"
    assert [x.name for x in d.iterdir()] == ["model.keras"]

    # an exception inside leaves neither a temp file nor a (changed) target
    with pytest.raises(RuntimeError):
        with store.artifact_writer(run_id, "model.keras") as tmp:
            tmp.write_bytes(b"half-written")
            raise RuntimeError("disk full")
    assert (d / "model.keras").read_bytes() == b"weights-v1"
    with pytest.raises(RuntimeError):
        with store.artifact_writer(run_id, "history.csv") as tmp:
            tmp.write_text("epoch,loss\n")
            raise RuntimeError("boom")
    assert [x.name for x in d.iterdir()] == ["model.keras"]

    # nothing written is an error, not a silent empty artifact
    with pytest.raises(FileNotFoundError):
        with store.artifact_writer(run_id, "preds.npz"):
            pass
    assert [x.name for x in d.iterdir()] == ["model.keras"]


def test_home_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(BadInput) as e:
        Store(f)
    assert str(f) in str(e.value) and "folder" in str(e.value)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_home_not_writable(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(BadInput, match="writable"):
            Store(ro / "home")
    finally:
        ro.chmod(0o700)


def test_corrupt_db(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "runs.db").write_bytes(os.urandom(8192))
    with pytest.raises(BadInput) as e:
        Store(home)
    msg = str(e.value)
    assert msg == f"store {home / 'runs.db'}: not an mlplab store (file is not a database)"


def test_foreign_sqlite_db(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    con = sqlite3.connect(home / "runs.db")
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.commit()
    con.close()
    with pytest.raises(BadInput, match="not an mlplab store"):
        Store(home)


def test_newer_schema_refused(tmp_path):
    Store(tmp_path / "h").close()
    con = sqlite3.connect(tmp_path / "h" / "runs.db")
    con.execute("INSERT INTO schema_version VALUES (?, 'x')", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    with pytest.raises(BadInput, match="newer"):
        Store(tmp_path / "h")


_WRITER = """
import sys, time
from mlplab.store import Store
home, tag, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:
    time.sleep(0.005)
with Store(home) as s:
    for i in range(20):
        rid = s.create_run(name=f"{tag}-{i}", spec={"i": i}, dataset="mnist", model="8 relu")
        for e in range(1, 31):
            s.log_epoch(rid, e, {"loss": 1.0 / e, "accuracy": e / 30.0}, 0.001)
        s.finish_run(rid, status="ok", epochs_run=30, best_epoch=30, seconds=0.03, test_loss=0.1,
                     test_accuracy=0.9, params=10, warnings=[], summary={"tag": tag})
"""


@pytest.mark.slow
def test_two_processes_write_concurrently(tmp_path):
    home = tmp_path / "shared"  # brand-new: both processes also race to create the schema
    start = time.time() + 1.5
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(home), tag, str(start)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("A", "B")
    ]
    for p in procs:
        out, err = p.communicate(timeout=SAFETY_NET)
        assert p.returncode == 0, err
    with Store(home) as s:
        runs = s.list_runs()
        assert len(runs) == 40
        assert sorted(r["name"] for r in runs) == sorted(f"{t}-{i}" for t in "AB" for i in range(20))
        assert all(r["status"] == "ok" and r["epochs_run"] == 30 for r in runs)
        for r in runs:
            h = s.history(r["id"])
            assert h["epoch"] == list(range(1, 31))
            assert h["loss"] == [1.0 / e for e in range(1, 31)]
    con = sqlite3.connect(home / "runs.db")
    assert con.execute("SELECT COUNT(*) FROM epochs").fetchone()[0] == 1200
    assert con.execute("SELECT COUNT(DISTINCT run_id) FROM epochs").fetchone()[0] == 40
    assert con.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_a_populations_epoch_is_logged_in_one_transaction(store):
    a, b = _new(store), _new(store)
    store.log_epochs([(a, 1, {"loss": 1.0}, 0.1), (b, 1, {"loss": 2.0}, 0.2)])
    assert store.history(a)["loss"] == [1.0] and store.history(b)["loss"] == [2.0]
    assert store.get_run(b)["epochs_run"] == 1
    with pytest.raises(BadInput):   # one unknown run: none of the rows is written
        store.log_epochs([(a, 2, {"loss": 0.5}, 0.1), ("999999-999999-ffff", 2, {"loss": 0.5}, 0.1)])
    assert store.history(a)["loss"] == [1.0]
