"""`mlplab` end to end: the real CLI in subprocesses, against a run store in a temporary folder.

Each subprocess pays a few seconds of imports, so independent invocations run side by side
(`start` + `finish`) and every invocation checks as much as it can.
"""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

DATA = os.environ.get("MLPLAB_DATA") or "/work/shared/datasets"
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240


def start(home: Path, *args: str, cwd: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "MLPLAB_HOME": str(home), "MLPLAB_DATA": DATA}
    return subprocess.Popen([sys.executable, "-m", "mlplab.cli", *args], env=env, cwd=cwd or home.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def mlplab(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return finish(start(home, *args, cwd=cwd))


def as_json(proc: subprocess.CompletedProcess):
    """stdout must be exactly one JSON document."""
    text = proc.stdout.strip()
    assert text[:1] in "{[" and text[-1:] in "}]", proc.stdout[:500]
    return json.loads(text)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2, nothing on stdout, one `mlplab: error:` line on stderr holding every word."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mlplab: error:"), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def assert_history(doc_history: dict, epochs: int) -> None:
    for key in ("loss", "accuracy", "train_loss", "val_loss", "test_loss", "test_accuracy", "seconds"):
        assert len(doc_history[key]) == epochs, key


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli") / "runs"


@pytest.fixture(scope="module")
def shared_run(home):
    """One short digits run that several tests read back."""
    proc = mlplab(home, "run", "--json", "--set", "train.epochs=5")
    assert proc.returncode == 0, proc.stderr
    return as_json(proc)


def test_run_json_document(shared_run):
    doc = shared_run
    assert doc["status"] == "ok" and doc["epochs_run"] == 5
    assert isinstance(doc["run_id"], str) and doc["run_id"]
    assert set(doc["test"]) >= {"loss", "accuracy"}
    assert doc["test"]["accuracy"] > 0.9 and 0 < doc["test"]["loss"] < 1
    h = doc["history"]
    assert_history(h, 5)
    assert len({len(v) for v in h.values()}) == 1, "every per-epoch list has one entry per epoch"
    assert h["loss"][-1] < h["loss"][0] and h["test_accuracy"][-1] == pytest.approx(doc["test"]["accuracy"])
    assert doc["warnings"] == [] and doc["seconds"] > 0
    assert doc["params"] == 8970
    assert doc["spec"]["train"]["epochs"] == 5


def test_runs_show_and_artifacts(home, shared_run):
    run_id = shared_run["run_id"]
    runs, shown, last = (finish(p) for p in [start(home, "runs", "--json"),
                                             start(home, "show", run_id[:-2], "--json"),
                                             start(home, "show", "last")])
    for proc in (runs, shown, last):
        assert proc.returncode == 0, proc.stderr
    listed = {r["id"]: r for r in as_json(runs)}
    assert listed[run_id]["status"] == "ok" and listed[run_id]["epochs_run"] == 5
    assert listed[run_id]["test_accuracy"] == pytest.approx(shared_run["test"]["accuracy"])
    run = as_json(shown)
    assert run["id"] == run_id and run["status"] == "ok"
    assert run["history"]["loss"] == pytest.approx(shared_run["history"]["loss"])
    assert run["history"]["epoch"] == [1, 2, 3, 4, 5]
    # 64 inputs -> 64 -> 64 -> 10: 4160 + 4160 + 650 weights and biases
    assert "Total params: 8,970" in last.stdout
    assert run_id in last.stdout

    folder = home / "artifacts" / run_id
    assert {"spec.yaml", "model.keras", "history.csv", "predictions.npz"} <= {p.name for p in folder.iterdir()}
    with open(folder / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert float(rows[-1]["loss"]) == pytest.approx(shared_run["history"]["loss"][-1])

    import mlplab.engine.backend  # noqa: F401  (selects the JAX backend before keras is imported)
    import keras
    from mlplab.data import load_data
    from mlplab.spec import load_spec

    model = keras.models.load_model(folder / "model.keras")
    assert model.count_params() == 8970
    exp = load_spec(folder / "spec.yaml")
    data = load_data(exp)
    stored = np.load(folder / "predictions.npz")
    np.testing.assert_array_equal(stored["y_true"], data.y_test)
    np.testing.assert_allclose(model.predict(data.x_test, verbose=0), stored["probabilities"], atol=1e-5)
    assert (stored["probabilities"].argmax(1) == data.y_test).mean() == pytest.approx(shared_run["test"]["accuracy"])


def test_two_runs_at_once_rerun_exactly_and_the_default_reaches_95(home, shared_run):
    spec = home / "artifacts" / shared_run["run_id"] / "spec.yaml"
    rerun_p, default_p = start(home, "run", str(spec), "--json"), start(home, "run", "--json")
    rerun, default = finish(rerun_p), finish(default_p)
    assert rerun.returncode == 0, rerun.stderr
    assert default.returncode == 0, default.stderr
    again, full = as_json(rerun), as_json(default)

    # the stored spec re-runs exactly: same seed, same numbers
    assert again["run_id"] != shared_run["run_id"]
    for key, values in shared_run["history"].items():
        if key != "seconds":
            assert again["history"][key] == values, key
    assert again["spec"] == shared_run["spec"]

    # the full default (20 epochs, early stopping on val_loss) is a good digits classifier
    assert full["test"]["accuracy"] >= 0.95
    assert full["status"] in ("ok", "stopped") and 1 <= full["epochs_run"] <= 20
    assert full["spec"]["train"]["early_stopping"]["monitor"] == "val_loss"

    # both processes wrote their whole runs into the one store
    runs = finish(start(home, "runs", "--json"))
    listed = {r["id"]: r for r in as_json(runs)}
    assert {again["run_id"], full["run_id"], shared_run["run_id"]} <= set(listed)
    for doc in (again, full):
        assert listed[doc["run_id"]]["epochs_run"] == doc["epochs_run"]
        with open(home / "artifacts" / doc["run_id"] / "history.csv") as f:
            assert len(list(csv.DictReader(f))) == doc["epochs_run"]


def _corrupt_idx_folder(folder: Path) -> Path:
    folder.mkdir()
    header = (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (100, 28, 28))
    (folder / "train-images-idx3-ubyte").write_bytes(header + bytes(500))  # 100 images promised, 500 bytes held
    (folder / "train-labels-idx1-ubyte").write_bytes((0x801).to_bytes(4, "big") + (100).to_bytes(4, "big") + bytes(100))
    (folder / "t10k-images-idx3-ubyte").write_bytes(
        (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (10, 28, 28)) + bytes(7840))
    (folder / "t10k-labels-idx1-ubyte").write_bytes((0x801).to_bytes(4, "big") + (10).to_bytes(4, "big") + bytes(10))
    return folder


def test_bad_input_is_one_line_and_exit_2(tmp_path, home):
    bad_home = tmp_path / "runs"
    corrupt = _corrupt_idx_folder(tmp_path / "idx")
    procs = {
        "activation": start(bad_home, "run", "--set", "model.activation=rleu"),
        "missing file": start(bad_home, "run", str(tmp_path / "nosuch.toml")),
        "dataset": start(bad_home, "run", "--json", "--set", "data.dataset=nosuch"),
        "corrupt idx": start(bad_home, "run", "--json", "--set", f"data.dataset={corrupt}"),
        "no equals": start(bad_home, "run", "--set", "train.epochs"),
        "show": start(home, "show", "nosuchid"),
        "subcommand": start(bad_home, "frobnicate"),
        "flag": start(bad_home, "run", "--frobnicate"),
    }
    done = {name: finish(p) for name, p in procs.items()}
    one_line_error(done["activation"], "model.activation", '"rleu"', '"relu"')
    one_line_error(done["missing file"], str(tmp_path / "nosuch.toml"), "not found")
    one_line_error(done["dataset"], "data.dataset", "nosuch", "mnist")
    one_line_error(done["corrupt idx"], str(corrupt / "train-images-idx3-ubyte"), "truncated")
    one_line_error(done["no equals"], "--set train.epochs", "KEY=VALUE")
    one_line_error(done["show"], "nosuchid")
    for name in ("subcommand", "flag"):  # argparse: usage line plus one error line
        proc = done[name]
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stdout == ""
        assert "frobnicate" in proc.stderr.strip().splitlines()[-1]


def test_bad_dataset_in_text_mode_is_one_line(tmp_path):
    one_line_error(mlplab(tmp_path / "runs", "run", "--set", "data.dataset=nosuch"), "data.dataset", "nosuch")


def test_diverging_run_exits_1_and_keeps_its_history(home):
    proc = mlplab(home, "run", "--json", "--set", 'model.init={ name = "random_normal", stddev = 1e20 }',
                  "--set", "train.epochs=3")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = as_json(proc)
    assert doc["status"] == "diverged"
    assert 1 <= doc["epochs_run"] <= 3
    assert_history(doc["history"], doc["epochs_run"])
    shown = mlplab(home, "show", doc["run_id"], "--json")
    assert shown.returncode == 0, shown.stderr
    run = as_json(shown)
    assert run["status"] == "diverged" and len(run["history"]["epoch"]) == doc["epochs_run"]


def test_data_list_and_show(tmp_path):
    home = tmp_path / "runs"
    listed, shown, three = (finish(p) for p in [
        start(home, "data", "list"),
        start(home, "data", "show", "digits", "--out", str(tmp_path / "x.png"), "--json"),
        start(home, "data", "show", "digits", "--class", "3", "--out", str(tmp_path / "three.png")),
    ])
    for proc in (listed, shown, three):
        assert proc.returncode == 0, proc.stderr
    for name in ("digits", "mnist", "fashion-mnist", "cosine2d"):
        assert name in listed.stdout
    doc = as_json(shown)
    assert doc["name"] == "digits" and doc["train"][0] == 1437 and doc["test"][0] == 360
    assert sum(doc["class_counts"]["train"]) == 1437 and len(doc["class_counts"]["train"]) == 10
    assert doc["value_range"] == [0.0, 1.0]
    png = tmp_path / "x.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and doc["samples_png"] == str(png)
    assert (tmp_path / "three.png").read_bytes()[:4] == b"\x89PNG"
    assert "1437" in three.stdout


def test_the_command_exits_with_mains_code_without_a_last_collection(monkeypatch):
    import gc
    import mlplab.cli as cli
    monkeypatch.setattr(cli, "main", lambda: 2)
    try:
        with pytest.raises(SystemExit) as e:
            cli.entry()
        assert e.value.code == 2
        assert gc.get_freeze_count() > 0   # what is left is frozen: the exit does not walk it
    finally:
        gc.unfreeze()
