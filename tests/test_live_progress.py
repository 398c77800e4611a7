"""In-epoch progress kept with a running run (training.live), for the dashboard's live page."""
from mlplab.spec import load_spec
from mlplab.store import Store
from mlplab.training import live
from mlplab.training.runner import run_experiment


def test_a_running_run_keeps_its_latest_progress_and_drops_it_when_it_ends(tmp_path, monkeypatch):
    store, seen = Store(tmp_path), []
    monkeypatch.setattr(live, "EVERY", 0.0)   # every report is written (2 s apart otherwise)

    def on_step(p):
        [run] = store.list_runs()
        seen.append((p.text(), live.read_progress(store, run["id"])))

    result = run_experiment(load_spec(None, ["train.epochs=2"]), store, on_step=on_step)
    assert seen and all(doc is not None and doc["text"] == text for text, doc in seen)
    epochs = {doc["epoch"] for _, doc in seen}
    assert epochs == {1, 2} and seen[-1][1]["phase"] == "evaluating" and seen[-1][1]["epochs"] == 2
    assert live.read_progress(store, result.run_id) is None   # removed when the run ended


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
        assert live.read_progress(store, run_id)["step"] == {1: 1, 2: 1, 3: 1, 4: 4}[step]
    live.clear_progress(store, [run_id])
    assert live.read_progress(store, run_id) is None
