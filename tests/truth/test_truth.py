"""One truth per run: the same status, result, best epoch and layer names in every view."""
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import SAFETY_NET, cli_json

import mlplab as ml
from mlplab import cli
from mlplab.errors import BadInput
from mlplab.analysis.status import (EXIT_CODES, STATUSES, at_chance, divergence, exit_code, rank, result_epoch, run_row,
                           worst)
from mlplab.store import Store, gone
from mlplab.store.liveness import alive


# ---------------------------------------------------------------- pure rules

def test_divergence_rule_on_histories():
    chance, C = 0.1, 10
    plateau = {"loss": [14.3, 14.5, 14.5], "accuracy": [0.1, 0.1, 0.1]}
    assert divergence(plateau, C, chance)[0] == 2
    nan = {"loss": [1.0, float("nan")], "accuracy": [0.5, 0.1]}
    assert divergence(nan, C, chance) == (2, "the loss became NaN/infinite")
    inf_val = {"loss": [1.0, 0.9], "accuracy": [0.5, 0.6], "val_loss": [1.0, float("inf")]}
    assert divergence(inf_val, C, chance)[0] == 2
    stuck = {"loss": [2.31, 2.30, 2.30, 2.30], "accuracy": [0.1, 0.11, 0.1, 0.1]}  # stuck is not diverged
    assert divergence(stuck, C, chance) is None
    one_bad_epoch = {"loss": [14.0, 1.0, 0.5], "accuracy": [0.1, 0.7, 0.9]}  # the first epoch may be bad
    assert divergence(one_bad_epoch, C, chance) is None
    learning = {"loss": [5.0, 4.9, 4.8], "accuracy": [0.1, 0.4, 0.6]}  # high loss but above chance
    assert divergence(learning, C, chance) is None
    assert divergence(plateau, C, chance, crossentropy=False) is None  # mse: only non-finite counts
    assert at_chance(0.1, 0.1) and not at_chance(0.3, 0.1)


# Histories of real digits runs (raw 0..16 pixels, 64-64 ReLU, 5-8 epochs, no early stopping), running loss and
# accuracy as `mlplab run` printed them.
SLOW_SGD = {  # SGD at 1e-4, the course's "decrease the learning rate by 100": a slow learner, seeds 1 and 2
    1: ([9.0517, 7.6088, 6.2534, 5.0593, 4.1437], [0.1314, 0.1128, 0.1066, 0.1113, 0.1383]),
    2: ([9.9488, 7.4129, 5.8292, 4.8080, 4.0734], [0.1182, 0.1422, 0.1700, 0.1978, 0.2202]),
}
BLOWN_UP = ([14.3683, 14.4988], [0.1005, 0.1005])   # SGD at lr 10: a softmax confidently wrong


@pytest.mark.parametrize("seed", sorted(SLOW_SGD))
def test_a_falling_loss_is_never_divergence_however_high(seed):
    loss, acc = SLOW_SGD[seed]
    for end in range(2, len(loss) + 1):   # as the engine asks after each epoch
        assert divergence({"loss": loss[:end], "accuracy": acc[:end]}, 10, 0.1) is None
    assert divergence({"loss": [9.0, 8.95, 8.9], "accuracy": [0.1] * 3}, 10, 0.1)[0] == 2   # falling < 1 %: a plateau


def test_a_loss_stuck_far_above_a_uniform_guess_is_divergence():
    loss, acc = BLOWN_UP
    assert divergence({"loss": loss, "accuracy": acc}, 10, 0.1)[0] == 2
    assert divergence({"loss": [14.5, 14.3, 14.35], "accuracy": [0.1] * 3}, 10, 0.1)[0] == 3   # a 1.4 % dip first


@pytest.mark.slow
def test_the_slow_sgd_exercise_trains_every_epoch_over_several_seeds(tmp_path):
    from mlplab.spec import validate
    from mlplab.training.runner import run_experiments
    spec = {"data": {"scale": "none"}, "train": {"optimizer": "sgd", "learning_rate": 1e-4, "epochs": 5,
                                                 "early_stopping": False}}
    results = run_experiments([validate({**spec, "seed": s}) for s in (1, 2, 3)], Store(tmp_path))
    for r in results:
        loss = r.history["loss"]
        assert (r.status, r.epochs_run) == ("ok", 5) and loss[-1] < loss[0] and loss[0] > 2 * math.log(10)


def test_result_epoch_rule():
    assert result_epoch("ok", 10, 7, restore_best=True) == 7
    assert result_epoch("ok", 10, 7, restore_best=False) == 10
    assert result_epoch("stopped", 9, 6, restore_best=True) == 6
    assert result_epoch("diverged", 4, None, restore_best=True) == 3   # the diverged epoch is undone
    assert result_epoch("diverged", 1, None, restore_best=False) is None  # the initial weights


def test_status_table_exit_codes_and_badges():
    assert set(STATUSES) == {"running", "ok", "stopped", "diverged", "interrupted", "failed", "lost"}
    assert [EXIT_CODES[s] for s in ("ok", "stopped", "diverged", "failed", "lost", "interrupted")] == [0, 0, 1, 1, 1, 130]
    assert exit_code(["ok", "diverged"]) == 1 and exit_code(["ok", "interrupted"]) == 130
    assert worst("ok/diverged") == "diverged" and worst("ok/stopped") == "stopped"


def test_ranking_says_what_it_ranks_by():
    rows, key = rank([{"val_accuracy": 0.8, "test_accuracy": 0.7}, {"val_accuracy": 0.9, "test_accuracy": 0.6}])
    assert key == "val_accuracy" and [r["rank"] for r in rows] == [1, 2] and rows[0]["val_accuracy"] == 0.9
    rows, key = rank([{"val_accuracy": math.nan, "test_accuracy": 0.7},
                      {"val_accuracy": math.nan, "test_accuracy": 0.9}])
    assert key == "test_accuracy" and rows[0]["test_accuracy"] == 0.9


# ---------------------------------------------------------------- lost runs

@pytest.mark.slow
def test_dead_process_is_lost(tmp_path):
    store = Store(tmp_path)
    run_id = store.create_run(name="x", spec={}, dataset="digits")
    assert store.get_run(run_id)["status"] == "running"  # this process is alive
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store._tx() as c:
        c.execute("UPDATE runs SET pid = ? WHERE id = ?", (dead.pid, run_id))
    run = store.get_run(run_id)
    assert run["status"] == "lost" and f"process {dead.pid}" in run["error"]
    assert store.list_runs(status="lost")[0]["id"] == run_id and store.list_runs(status="running") == []


def test_other_host_is_lost_only_after_its_heartbeat_stops(tmp_path):
    store = Store(tmp_path)
    run_id = store.create_run(name="x", spec={}, dataset="digits")
    row = {"pid": 1, "host": socket.gethostname() + "-elsewhere", "created": "2026-01-01T00:00:00.000000Z"}
    assert gone({**row, "heartbeat": time.time() - 5}) is None
    assert "no heartbeat" in gone({**row, "heartbeat": time.time() - 3600})
    with store._tx() as c:
        c.execute("UPDATE runs SET host = ?, heartbeat = ? WHERE id = ?", (row["host"], time.time() - 3600, run_id))
    assert store.get_run(run_id)["status"] == "lost"


def test_a_reused_pid_is_not_the_run_s_process():
    assert alive(1, since=time.time())          # pid 1 started before now: the same process
    assert not alive(1, since=0.0)              # a run created in 1970 cannot be pid 1 of this boot
    assert alive(os.getpid(), since=0.0)        # our own runs are ours


def test_heartbeat_beats_while_training(tmp_path):
    store = Store(tmp_path)
    run_id = store.create_run(name="x", spec={}, dataset="digits")
    first = store.get_run(run_id)["heartbeat"]
    with store.heartbeat([run_id], every=0.05):
        time.sleep(0.3)
    assert store.get_run(run_id)["heartbeat"] > first


def test_read_only_store_can_be_listed(tmp_path, monkeypatch):
    store = Store(tmp_path)
    run_id = store.create_run(name="x", spec={}, dataset="digits")
    store.finish_run(run_id, status="ok", epochs_run=1, best_epoch=1, seconds=1.0, test_loss=0.5,
                     test_accuracy=0.9, params=10, warnings=[], summary={})
    store.close()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    ro = Store(tmp_path)
    assert ro.readonly and [r["id"] for r in ro.list_runs()] == [run_id]
    assert ro.get_run(run_id)["test_accuracy"] == 0.9
    with pytest.raises(BadInput, match="not writable"):
        ro.create_run(name="y", spec={}, dataset="digits")


@pytest.mark.slow
def test_kill_9_leaves_a_lost_run_everywhere(tmp_path):
    env = {**os.environ, "MLPLAB_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "mlplab.cli", "run", "--set", "train.epochs=100000",
                             "--set", "train.early_stopping=false"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + SAFETY_NET
        while time.time() < deadline:
            rows = Store(tmp_path).list_runs() if (tmp_path / "runs.db").exists() else []
            if rows and rows[0]["epochs_run"] >= 1:
                break
            time.sleep(0.5)
        assert rows and rows[0]["status"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run_id = rows[0]["id"]
    assert cli_json("--home", str(tmp_path), "runs")[0]["status"] == "lost"
    shown = cli_json("--home", str(tmp_path), "show", run_id)
    assert shown["status"] == "lost" and shown["findings"][0]["code"] == "lost"
    assert ml.load_run(run_id, store=str(tmp_path)).status == "lost"


# ---------------------------------------------------------------- statuses from real runs

@pytest.mark.slow
def test_loss_plateau_ends_diverged_with_exit_1(tmp_path, capsys):
    code = cli.main(["--home", str(tmp_path), "run", "--set", "train.optimizer=sgd", "--set", "train.learning_rate=10",
                     "--set", "data.scale=none", "--set", "train.epochs=8", "--set", "train.early_stopping=false"])
    run = Store(tmp_path).get_run("last")
    assert (code, run["status"]) == (1, "diverged")
    assert run["epochs_run"] < 8 and "accuracy at chance" in run["error"]
    assert "diverged" in capsys.readouterr().out


def test_ctrl_c_before_the_first_epoch_is_interrupted(tmp_path, monkeypatch):
    import mlplab.training.runner as runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "train_population", interrupted)  # while compiling, before epoch 1
    code = cli.main(["--home", str(tmp_path), "run", "--set", "train.epochs=1"])
    run = Store(tmp_path).get_run("last")
    assert (code, run["status"], run["error"]) == (130, "interrupted", None)


def test_unknown_status_filter_is_bad_input(tmp_path, capsys):
    assert cli.main(["--home", str(tmp_path), "runs", "--status", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "status 'bogus'" in err and "lost" in err and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- every view agrees

def _views(home, run_id):
    """(status, test accuracy, best epoch, result epoch, layer names) of one run, per view."""
    from fastapi.testclient import TestClient
    from mlplab.web import create_app
    shown = cli_json("--home", str(home), "show", run_id)
    listed = next(r for r in cli_json("--home", str(home), "runs") if r["id"] == run_id)
    loaded = ml.load_run(run_id, store=str(home))
    web = TestClient(create_app(str(home), token="t"), base_url="http://127.0.0.1").get(
        f"/api/runs/{run_id}", headers={"Authorization": "token t"}).json()
    return {
        "show": (shown["status"], shown["test_accuracy"], shown["best_epoch"],
                 shown["summary"]["result"]["epoch"], shown["summary"]["layers"]),
        "runs": (listed["status"], listed["test_accuracy"], listed["best_epoch"], listed["result_epoch"],
                 listed["layers"]),
        "api": (loaded.status, loaded.test_accuracy, loaded.best_epoch, loaded.result_epoch, loaded.layers),
        "web": (web["status"], web["test_accuracy"], web["best_epoch"], web["summary"]["result"]["epoch"],
                web["summary"]["layers"]),
    }


def _random_spec(rng: random.Random) -> dict:
    hidden = rng.choice([[], [16], [32, 16]])
    return {"seed": rng.randrange(100),
            "data": {"dataset": "digits", "validation_split": rng.choice([0.0, 0.2]),
                     "scale": rng.choice(["unit", "none"])},
            "model": {"hidden": hidden, "activation": rng.choice(["relu", "tanh", "sigmoid"]),
                      "dropout": rng.choice([0.0, 0.2])},
            "train": {"optimizer": rng.choice(["sgd", "adam"]), "learning_rate": rng.choice([0.01, 0.1, 10.0]),
                      "epochs": rng.randint(2, 5), "batch_size": rng.choice([32, 128]),
                      "early_stopping": rng.choice([False, {"monitor": "loss", "patience": 1}])}}


@pytest.mark.slow
def test_generated_specs_every_view_tells_the_same_story(tmp_path):
    rng = random.Random(11)
    seen = set()
    for _ in range(6):
        spec = _random_spec(rng)
        run = ml.run(spec, store=str(tmp_path), progress=False)
        seen.add(run.status)
        views = _views(tmp_path, run.id)
        first = views["show"]
        for name, view in views.items():
            assert view == first, (name, view, first, spec)
        result = run.run["summary"]["result"]
        assert first[1] == result["test_accuracy"] and first[3] == result["epoch"]
        if result["epoch"] is not None:  # measured on the weights of that epoch: the history agrees
            assert result["test_accuracy"] == pytest.approx(run.run["history"]["test_accuracy"][result["epoch"] - 1],
                                                            abs=1e-6)
        assert len(set(first[4])) == len(first[4]) and first[4][-1] == "output"
    assert {"ok", "diverged"} <= seen | {"stopped"} and "diverged" in seen


def test_generated_bad_specs_are_one_line_exit_2(tmp_path, capsys):
    bad = [["train.learning_rate=inf"], ["model.l2=inf"], ["train.learning_rate=nan"], ["train.epochs=0"],
           ["model.activation=bogus"], ["data.validation_split=1.5"], ["train.optimizer=nadam"],
           ["model.hidden=[0]"], ["train.batch_size=-1"], ["model.dropout=1"]]
    for overrides in bad:
        code = cli.main(["--home", str(tmp_path), "run", *(a for o in overrides for a in ("--set", o))])
        err = capsys.readouterr().err
        assert code == 2, (overrides, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert overrides[0].split("=")[0].split(".")[-1] in err, (overrides, err)
    assert Store(tmp_path).list_runs() == []  # nothing was trained


@pytest.mark.slow
def test_sweep_table_is_the_runs_result_without_early_stopping(tmp_path, capsys):
    """The issue's case: with early stopping off, the table showed best-epoch numbers (0.9747)
    while the stored run had the final weights' (0.9768)."""
    spec = {"train": {"early_stopping": False, "epochs": 6, "optimizer": "sgd"},
            "sweep": {"grid": {"train.learning_rate": [0.02, 0.2]}}}
    sweep = ml.sweep(spec, store=str(tmp_path), progress=False)
    table = sweep.table
    assert sweep.ranked_by == "val_accuracy"
    for _, row in table.iterrows():
        stored = Store(tmp_path).get_run(row["runs"][0])
        assert row["test_accuracy"] == stored["test_accuracy"]
        assert row["val_accuracy"] == stored["summary"]["result"]["val_accuracy"]
        assert row["result_epoch"] == 6 and stored["history"]["test_accuracy"][-1] == pytest.approx(
            stored["test_accuracy"], abs=1e-6)
    assert sweep.best.test_accuracy == table.iloc[0]["test_accuracy"]
    assert run_row(Store(tmp_path).get_run(sweep.best.id))["test_accuracy"] == table.iloc[0]["test_accuracy"]


@pytest.mark.slow
def test_sweep_without_validation_says_it_ranks_by_test(tmp_path, capsys):
    code = cli.main(["--home", str(tmp_path), "sweep", "examples/relu-vs-sigmoid-adam-vs-sgd.toml",
                     "--set", "data.dataset=digits", "--set", "data.validation_split=0",
                     "--set", "train.epochs=2"])
    out = capsys.readouterr().out
    assert code == 0 and "ranked by test accuracy (no validation split)" in out
    doc = Store(tmp_path).get_sweep("last")["summary"]
    assert doc["ranked_by"] == "test_accuracy"
    accs = [r["test_accuracy"] for r in doc["rows"]]
    assert accs == sorted(accs, reverse=True)


def test_cross_validation_folds_count_their_own_classes():
    import numpy as np
    from mlplab.data import load_dataset
    from mlplab.data import cross_validation_fold
    data = load_dataset("digits", validation_split=0.0)
    fold = cross_validation_fold(data, 5, 2)
    counts = fold.info.class_counts
    assert counts["train"] == np.bincount(fold.y_train, minlength=10).tolist()
    assert counts["val"] == np.bincount(fold.y_val, minlength=10).tolist()
    assert sum(counts["train"]) == fold.info.n_train < sum(data.info.class_counts["train"])
