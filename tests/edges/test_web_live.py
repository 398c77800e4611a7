"""The live page's line (web.live.live_line): which epoch runs, which accuracy, which ETA; pure, no server."""
import pytest

pytest.importorskip("fastapi")
from mlplab.web.live import duration_text, live_line  # noqa: E402

HISTORY = {"epoch": [1], "loss": [0.5], "accuracy": [0.8], "val_loss": [0.4], "val_accuracy": [0.9697]}


def progress(**kw) -> dict:
    """What training.live writes (StepProgress.to_json) inside epoch 2 of 3."""
    return {"epoch": 2, "epochs": 3, "step": 300, "steps": 1000, "phase": "training", "samples_per_second": 800.0,
            "compile_seconds": 0.0, "eta_seconds": 77.0, "run_eta_seconds": 137.0, "epoch_seconds": 60.0, **kw}


def test_the_running_epoch_is_counted_from_one():
    assert live_line("r1", "running", {"epoch": []}, 3, None) == "run r1: epoch 1 of 3"
    assert live_line("r1", "running", HISTORY, 3, None) == "run r1: epoch 2 of 3 · validation accuracy 0.9697 after epoch 1"
    finished = {k: v * 3 for k, v in HISTORY.items()}
    assert live_line("r1", "ok", finished, 3, None) == "run r1: epoch 3 of 3 · validation accuracy 0.9697"
    assert live_line("r1", "running", finished, 3, None).startswith("run r1: epoch 3 of 3 ·")   # testing, after the last
    assert live_line("r1", "stopped", HISTORY, 3, None) == "run r1: epoch 1 of 3 · validation accuracy 0.9697"


def test_the_accuracy_says_which_rows_it_is_on():
    no_val = {"epoch": [1], "accuracy": [0.8], "train_accuracy": [0.85]}
    assert live_line("r", "ok", no_val, 1, None).endswith("training accuracy 0.85")
    assert live_line("r", "ok", {"epoch": [1], "accuracy": [0.8]}, 1, None).endswith("training accuracy (running mean) 0.8")
    assert "accuracy" not in live_line("r", "ok", {"epoch": [1], "loss": [0.3]}, 1, None)


def test_epoch_and_run_etas_are_named_and_the_run_eta_waits_for_a_finished_epoch():
    line = live_line("r", "running", HISTORY, 3, progress())
    assert line == ("run r: epoch 2 of 3 · step 300/1000 · 800 samples/s · epoch ETA 1m17s · run ETA 2m17s"
                    " · validation accuracy 0.9697 after epoch 1")
    first = live_line("r", "running", {"epoch": []}, 3, progress(epoch=1, run_eta_seconds=None, compile_seconds=4.2))
    assert first == "run r: epoch 1 of 3 · step 300/1000 · 800 samples/s · compiling 4.2s · epoch ETA 1m17s"
    last = live_line("r", "running", {k: v * 2 for k, v in HISTORY.items()}, 3, progress(epoch=3))
    assert "epoch ETA" in last and "run ETA" not in last   # the last epoch: its ETA is the run's
    assert "evaluating" in live_line("r", "running", HISTORY, 3, progress(phase="evaluating"))
    assert "step" not in live_line("r", "running", HISTORY, 3, progress(epoch=1))   # an old report: not this epoch's


def test_durations():
    assert [duration_text(s) for s in (0.4, 45, 77, 2324, 3725)] == ["0s", "45s", "1m17s", "38m44s", "1h02m"]
