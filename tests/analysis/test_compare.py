"""Comparing runs: what differs, their results, curves of any metric labelled by what differs."""
import json

import pytest

from mlplab.analysis.compare import labels
from mlplab.cli import main
from mlplab.store import Store


def test_labels_say_what_differs():
    runs = [{"id": "a1"}, {"id": "b2"}]
    assert labels(runs, {"train.optimizer.learning_rate": [0.01, 0.1], "train.optimizer.name": ["sgd", "adam"]}) == \
        ["learning_rate=0.01, name=sgd", "learning_rate=0.1, name=adam"]
    assert labels(runs, {}) == ["a1", "b2"]  # nothing differs: their ids


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
    assert doc["labels"] == ["learning_rate=0.3", "learning_rate=0.01"]  # newest first, as `runs` lists them
    assert doc["metrics"]["val accuracy"] == [r["summary"]["result"]["val_accuracy"] for r in runs]
    assert out.stat().st_size > 1000
    assert main(["--home", home, "compare", *ids, "--metric", "val_acc"]) == 2
    assert "--metric val_acc: expected one of loss, accuracy" in capsys.readouterr().err
