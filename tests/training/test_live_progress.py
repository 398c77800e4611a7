"""In-epoch progress kept with a running run (training.live), for the dashboard's live page."""
import pytest

from mlplab.spec import load_spec
from mlplab.store import Store
from mlplab.stored.artifacts import read_progress
from mlplab.training import live
from mlplab.training.runner import run_experiment


@pytest.mark.slow
def test_a_running_run_keeps_its_latest_progress_and_drops_it_when_it_ends(tmp_path, monkeypatch):
    store, seen = Store(tmp_path), []
    monkeypatch.setattr(live, "EVERY", 0.0)   # every report is written (2 s apart otherwise)

    def on_step(p):
        [run] = store.list_runs()
        seen.append((p.text(), read_progress(store, run["id"])))

    result = run_experiment(load_spec(None, ["train.epochs=2"]), store, on_step=on_step)
    assert seen and all(doc is not None and doc["text"] == text for text, doc in seen)
    epochs = {doc["epoch"] for _, doc in seen}
    assert epochs == {1, 2} and seen[-1][1]["phase"] == "evaluating" and seen[-1][1]["epochs"] == 2
    assert read_progress(store, result.run_id) is None   # removed when the run ended


def test_progress_is_written_at_most_every_few_seconds(tmp_path, monkeypatch):
    store = Store(tmp_path)
    run_id = store.create_run(name="r", spec={}, dataset="digits")
    times = iter([100.0, 100.5, 101.9, 102.1])
    monkeypatch.setattr(live.time, "time", lambda: next(times))

    class P:
        def __init__(self, step):
            self.step = step

        def to_json(self):
            return {"step": self.step}

        def text(self):
            return f"step {self.step}"

    record = live.progress_recorder(store, [run_id])
    for step in (1, 2, 3, 4):
        record(P(step))
        assert read_progress(store, run_id)["step"] == {1: 1, 2: 1, 3: 1, 4: 4}[step]
    live.clear_progress(store, [run_id])
    assert read_progress(store, run_id) is None


@pytest.mark.slow
def test_live_checks_warn_once_per_run_while_it_trains(tmp_path):
    """A deep sigmoid net under SGD: vanishing gradients are told after the first epoch, once."""
    told = []
    exp = load_spec(None, ["model.hidden=[64, 64, 64, 64, 64, 64, 64, 64]", "model.activation=sigmoid",
                           "train.optimizer=sgd", "train.epochs=3", "train.early_stopping=false"])
    result = run_experiment(exp, Store(tmp_path), on_warning=lambda run_id, epoch, f: told.append((run_id, epoch, f)))
    assert [(run_id, epoch, f.code) for run_id, epoch, f in told] == [(result.run_id, 1, "vanishing_gradients")]
    assert "--set" in told[0][2].suggestion


def test_live_check_is_the_doctors_cheap_rules_on_the_numbers_so_far():
    from mlplab.analysis.doctor import live_check
    stats = {"epoch": [0, 1], "weights": ["dense_1/kernel", "output/kernel"], "layers": [{"name": "dense_1", "kind": "relu"}],
             "dead_fraction": [[0.9], [0.95]], "grad_norm": [[0.1, 0.1], [0.1, 0.1]]}
    run = {"spec": {"model": {"hidden": [64], "activation": "relu"}}, "history": {"loss": [2.0], "accuracy": [0.3]}}
    assert [f.code for f in live_check(run, stats)] == ["dead_units"]
    healthy = {**stats, "dead_fraction": [[0.1], [0.1]]}
    assert live_check(run, healthy) == []
