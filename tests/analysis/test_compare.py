"""Comparing runs: what differs, their results, curves of any metric labelled by what differs."""
import json

import pytest

from mlplab.analysis.compare import labels
from mlplab.cli import main
from mlplab.store import Store


def test_labels_say_what_differs():
    runs = [{"id": "a1"}, {"id": "b2"}]
    assert labels(runs, {"train.optimizer.learning_rate": [0.01, 0.1], "train.optimizer.name": ["sgd", "adam"]}) == \
        ["sgd lr=0.01", "adam lr=0.1"]
    assert labels(runs, {}) == ["a1", "b2"]  # nothing differs: their ids


def test_labels_leave_out_what_the_optimizer_implies():
    """adam against sgd: adam's beta_1 and sgd's momentum differ only because the optimizer does (a whole
    optimizer table made a legend wider than the curves); a momentum that differs between the sgd runs stays."""
    runs = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    differences = {"model.init": [{"name": "glorot_uniform"}, {"name": "random_normal", "stddev": 0.01},
                                  {"name": "glorot_uniform"}],   # comparison() gives the keys sorted
                   "train.optimizer.beta_1": [0.9, None, None], "train.optimizer.learning_rate": [0.001, 0.01, 0.1],
                   "train.optimizer.momentum": [None, 0.0, 0.0], "train.optimizer.name": ["adam", "sgd", "sgd"]}
    assert labels(runs, differences) == ["adam init=glorot_uniform lr=0.001",
                                         "sgd init=random_normal(stddev=0.01) lr=0.01", "sgd init=glorot_uniform lr=0.1"]
    differences["train.optimizer.momentum"] = [None, 0.0, 0.9]
    assert labels(runs, differences)[1:] == ["sgd init=random_normal(stddev=0.01) lr=0.01 momentum=0",
                                             "sgd init=glorot_uniform lr=0.1 momentum=0.9"]


@pytest.mark.slow
def test_compare_any_metric_with_results_not_last_epochs(tmp_path, capsys):
    home = str(tmp_path / "home")
    for lr in ("0.01", "0.3"):
        assert main(["--home", home, "run", "--set", "train.epochs=3", "--set", "train.optimizer=sgd",
                     "--set", f"train.learning_rate={lr}", "--json"]) == 0
    capsys.readouterr()
    ids = [r["id"] for r in Store(home).list_runs()]
    out = tmp_path / "curves.png"
    assert main(["--home", home, "compare", *ids, "--metric", "test_accuracy", "--metric", "loss",
                 "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    runs = [Store(home).get_run(i) for i in ids]
    assert doc["labels"] == ["lr=0.3", "lr=0.01"]  # newest first, as `runs` lists them
    assert doc["metrics"]["val accuracy"] == [r["summary"]["result"]["val_accuracy"] for r in runs]
    assert out.stat().st_size > 1000
    assert main(["--home", home, "compare", *ids, "--metric", "val_acc"]) == 2
    assert "--metric val_acc: expected one of loss, accuracy" in capsys.readouterr().err
