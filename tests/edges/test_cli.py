"""`mlplab` end to end, against a run store in a temporary folder: the commands run in this process
(`cli.main`), and once as the real command in a subprocess for its exit code and clean stderr."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SAFETY_NET, cli, cli_json

DATA = os.environ.get("MLPLAB_DATA") or "/work/shared/datasets"


def one_line_error(result: tuple[int, str, str], *words: str) -> str:
    """Exit 2, nothing on stdout, one `mlplab: error:` line on stderr holding every word."""
    code, out, err = result
    assert code == 2, (code, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mlplab: error:"), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def assert_history(doc_history: dict, epochs: int) -> None:
    for key in ("loss", "accuracy", "train_loss", "val_loss", "test_loss", "test_accuracy", "seconds"):
        assert len(doc_history[key]) == epochs, key


@pytest.mark.slow
def test_run_json_document(digits_run):
    _, doc = digits_run
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


@pytest.mark.slow
def test_runs_show_and_artifacts(digits_run):
    home, shared_run = digits_run
    run_id = shared_run["run_id"]
    listed = {r["id"]: r for r in cli_json("--home", str(home), "runs")}
    assert listed[run_id]["status"] == "ok" and listed[run_id]["epochs_run"] == 5
    assert listed[run_id]["test_accuracy"] == pytest.approx(shared_run["test"]["accuracy"])
    run = cli_json("--home", str(home), "show", run_id[:-2])
    assert run["id"] == run_id and run["status"] == "ok"
    assert run["history"]["loss"] == pytest.approx(shared_run["history"]["loss"])
    assert run["history"]["epoch"] == [1, 2, 3, 4, 5]
    code, last, _ = cli("--home", str(home), "show", "last")
    assert code == 0
    # 64 inputs -> 64 -> 64 -> 10: 4160 + 4160 + 650 weights and biases
    assert "Total params: 8,970" in last
    assert run_id in last

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


@pytest.mark.slow
def test_a_stored_spec_reruns_exactly_and_the_default_reaches_95(digits_run, tmp_path):
    shared_home, shared_run = digits_run
    home = str(tmp_path / "runs")
    again = cli_json("--home", home, "run", str(shared_home / "artifacts" / shared_run["run_id"] / "spec.yaml"))

    # the stored spec re-runs exactly: same seed, same numbers
    assert again["run_id"] != shared_run["run_id"]
    for key, values in shared_run["history"].items():
        if key != "seconds":
            assert again["history"][key] == values, key
    assert again["spec"] == shared_run["spec"]

    # the full default (20 epochs, early stopping on val_loss) is a good digits classifier
    full = cli_json("--home", home, "run")
    assert full["test"]["accuracy"] >= 0.95
    assert full["status"] in ("ok", "stopped") and 1 <= full["epochs_run"] <= 20
    assert full["spec"]["train"]["early_stopping"]["monitor"] == "val_loss"

    listed = {r["id"]: r for r in cli_json("--home", home, "runs")}
    assert set(listed) == {again["run_id"], full["run_id"]}
    for doc in (again, full):
        assert listed[doc["run_id"]]["epochs_run"] == doc["epochs_run"]
        with open(Path(home) / "artifacts" / doc["run_id"] / "history.csv") as f:
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


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    home = str(tmp_path / "runs")
    corrupt = _corrupt_idx_folder(tmp_path / "idx")
    one_line_error(cli("--home", home, "run", "--set", "model.activation=rleu"), "model.activation", '"rleu"', '"relu"')
    one_line_error(cli("--home", home, "run", str(tmp_path / "nosuch.toml")), str(tmp_path / "nosuch.toml"), "not found")
    one_line_error(cli("--home", home, "run", "--json", "--set", "data.dataset=nosuch"), "data.dataset", "nosuch", "mnist")
    one_line_error(cli("--home", home, "run", "--set", "data.dataset=nosuch"), "data.dataset", "nosuch")  # text mode
    one_line_error(cli("--home", home, "run", "--json", "--set", f"data.dataset={corrupt}"),
                   str(corrupt / "train-images-idx3-ubyte"), "truncated")
    one_line_error(cli("--home", home, "run", "--set", "train.epochs"), "--set train.epochs", "KEY=VALUE")
    one_line_error(cli("--home", home, "show", "nosuchid"), "nosuchid")
    for argv in (["frobnicate"], ["run", "--frobnicate"]):  # argparse: usage line plus one error line
        code, out, err = cli("--home", home, *argv)
        assert code == 2 and out == ""
        assert "frobnicate" in err.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_command_exits_2_without_a_traceback_on_bad_input(tmp_path):
    """The real `mlplab` process: what main returns is its exit code, and stderr holds no traceback."""
    env = {**os.environ, "MLPLAB_HOME": str(tmp_path / "runs"), "MLPLAB_DATA": DATA}
    for argv in (["run", "--set", "model.activation=rleu"], ["frobnicate"]):
        proc = subprocess.run([sys.executable, "-m", "mlplab.cli", *argv], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=SAFETY_NET)
        assert proc.returncode == 2 and proc.stdout == "", (proc.returncode, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.strip().splitlines()[-1].startswith("mlplab")


@pytest.mark.slow
def test_diverging_run_exits_1_and_keeps_its_history(tmp_path):
    home = str(tmp_path / "runs")
    code, out, err = cli("--home", home, "run", "--json", "--set", 'model.init={ name = "random_normal", stddev = 1e20 }',
                         "--set", "train.epochs=3")
    assert code == 1, err
    doc = json.loads(out)
    assert doc["status"] == "diverged"
    assert 1 <= doc["epochs_run"] <= 3
    assert_history(doc["history"], doc["epochs_run"])
    run = cli_json("--home", home, "show", doc["run_id"])
    assert run["status"] == "diverged" and len(run["history"]["epoch"]) == doc["epochs_run"]


def test_data_list_and_show(tmp_path):
    home = str(tmp_path / "runs")
    code, listed, _ = cli("--home", home, "data", "list")
    assert code == 0
    for name in ("digits", "mnist", "fashion-mnist", "cosine2d"):
        assert name in listed
    doc = cli_json("--home", home, "data", "show", "digits", "--out", str(tmp_path / "x.png"))
    assert doc["name"] == "digits" and doc["train"][0] == 1437 and doc["test"][0] == 360
    assert sum(doc["class_counts"]["train"]) == 1437 and len(doc["class_counts"]["train"]) == 10
    assert doc["value_range"] == [0.0, 1.0]
    png = tmp_path / "x.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and doc["samples_png"] == str(png)
    code, three, _ = cli("--home", home, "data", "show", "digits", "--class", "3", "--out", str(tmp_path / "three.png"))
    assert code == 0 and (tmp_path / "three.png").read_bytes()[:4] == b"\x89PNG"
    assert "1437" in three


def test_the_command_exits_with_mains_code_without_a_last_collection(monkeypatch):
    import gc
    import mlplab.cli as command
    monkeypatch.setattr(command, "main", lambda: 2)
    try:
        with pytest.raises(SystemExit) as e:
            command.entry()
        assert e.value.code == 2
        assert gc.get_freeze_count() > 0   # what is left is frozen: the exit does not walk it
    finally:
        gc.unfreeze()
