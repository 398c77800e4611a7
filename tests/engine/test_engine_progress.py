"""Progress inside long epochs, as the CLI and notebooks show it, and Ctrl-C in the middle of one."""
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlplab.api import progress as api_progress
from mlplab.cli import output
from mlplab.engine.progress import StepProgress
from mlplab.engine.callbacks import LambdaCallback
from mlplab.store import Store

from conftest import SAFETY_NET

DATA = os.environ.get("MLPLAB_DATA") or "/work/shared/datasets"


def report(**kw) -> StepProgress:
    fields = dict(epoch=2, epochs=5, step=100, steps=400, samples=3200, rows=12800, members=1, seconds=5.0,
                  compile_seconds=1.0, epoch_seconds=20.0)
    return StepProgress(**{**fields, **kw})


class Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_a_step_report_says_steps_rate_and_eta():
    p = report()
    assert p.samples_per_second == pytest.approx(800.0)       # 3200 rows in 4 s of training
    assert p.eta_seconds == pytest.approx(12.0)               # 9600 rows to go
    assert p.run_eta_seconds == pytest.approx(12.0 + 3 * 20.0)
    first = report(epoch=1, epoch_seconds=None)   # no epoch finished yet (compiling): no run ETA, only the epoch's
    assert first.eta_seconds == pytest.approx(12.0) and first.run_eta_seconds is None
    assert first.text() == "epoch 1/5  step 100/400  800 samples/s  ETA 12s  compiling 1.0s"
    assert p.text() == "epoch 2/5  step 100/400  800 samples/s  ETA 12s (run 1m12s)  compiling 1.0s"
    assert report(phase="evaluating").text() == "epoch 2/5  evaluating train/val/test rows"
    assert report(samples=0, compile_seconds=5.0).text() == "epoch 2/5  step 100/400  compiling 5.0s"
    doc = json.loads(json.dumps(report(samples=0).to_json()))
    assert doc["eta_seconds"] is None and doc["step"] == 100


def test_the_cli_line_updates_in_place_on_a_terminal_and_waits_for_long_epochs():
    tty = Stream(True)
    line = output.ProgressLine(tty)
    line(report(seconds=1.0))                                  # a short epoch shows nothing
    assert tty.getvalue() == ""
    line(report())
    line(report(step=101))                                     # throttled: 4 a second at most
    assert tty.getvalue() == "\r\x1b[2K" + report().text()
    line.clear()
    assert tty.getvalue().endswith("\r\x1b[2K") and not line.shown
    piped = Stream(False)
    line = output.ProgressLine(piped)
    line(report())
    assert piped.getvalue() == report().text() + "\n"          # a log gets whole lines


def test_the_notebook_line_shows_steps(monkeypatch):
    shown = []
    bar = api_progress.Progress("run", 5)
    monkeypatch.setattr(bar, "_show", lambda text, final=False: shown.append(text))
    assert set(bar.callbacks()) == {"on_epoch", "on_step"}
    bar.step(report(seconds=1.0))
    bar.step(report())
    assert len(shown) == 1 and shown[0].startswith("run: epoch 2/5  step 100/400  800 samples/s")


def ctrl_c_as_in_a_terminal() -> None:
    """SIGINT as a terminal's Ctrl-C (a suite started in the background inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def ctrl_c():
    """This process's SIGINT is Python's Ctrl-C for the test, whatever the suite was started with."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.slow
def test_ctrl_c_in_a_long_epoch_stops_within_seconds(tmp_path: Path):
    """`mlplab run` piped: progress lines on stderr during a long epoch, then SIGINT (Ctrl-C): the run
    ends `interrupted` (exit 130) a few seconds later, without finishing the epoch."""
    env = {**os.environ, "MLPLAB_HOME": str(tmp_path / "runs"), "MLPLAB_DATA": DATA}
    args = ["run", "--set", "data.dataset=mnist", "--set", "model.hidden=[256, 256]", "--set", "train.batch_size=4",
            "--set", "train.epochs=2", "--set", "train.early_stopping=false"]
    proc = subprocess.Popen([sys.executable, "-m", "mlplab.cli", *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    lines = []
    try:
        for line in proc.stderr:  # the first progress line comes after 3 s of the first epoch
            lines.append(line)
            if " step " in line:
                break
        assert " step " in lines[-1], "".join(lines)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=SAFETY_NET)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in out and "Traceback" not in err
    with Store(tmp_path / "runs") as store:   # stopped inside the epoch (15,000 steps), not at its end
        assert [(r["status"], r["epochs_run"]) for r in store.list_runs()] == [("interrupted", 0)]
    assert lines[-1].startswith("epoch 1/2  step ")


@pytest.mark.slow
def test_ctrl_c_while_training_is_acted_on_between_segments_never_lost(ctrl_c):
    """A SIGINT inside the context only sets a flag (a KeyboardInterrupt raised inside JAX's C++
    callbacks would be printed and lost); check() raises it; a second Ctrl-C raises at once."""
    from mlplab.engine.progress import DeferredInterrupt
    before = signal.getsignal(signal.SIGINT)
    assert before is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        with DeferredInterrupt() as interrupt:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)                      # delivered: only the flag is set
            assert interrupt.pending
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)   # a second Ctrl-C: at once
                time.sleep(1)
            interrupt.check()
    assert signal.getsignal(signal.SIGINT) is before
    with DeferredInterrupt() as interrupt:        # nothing asked: nothing raised
        interrupt.check()


@pytest.mark.slow
def test_a_ctrl_c_during_an_epoch_drops_that_epoch_and_ends_interrupted(ctrl_c):
    from mlplab.engine import train as engine
    from mlplab.training import population
    from test_engine import setup
    exps, data, models, members = setup("train.epochs=5", "train.early_stopping=false")
    sent = []

    def on_step(p):
        if p.epoch == 2 and not sent:
            sent.append(p.step)
            os.kill(os.getpid(), signal.SIGINT)

    program = population.program_of(exps[0], models[0])
    [out] = engine.train(program, members, data, [LambdaCallback(on_step=on_step)])
    assert sent and out.status == "interrupted" and out.epochs_run == 1
    [one] = engine.train(dataclasses.replace(program, epochs=1), members, data)
    for ours, alone in zip(out.trainable, one.trainable):   # its weights are epoch 1's: epoch 2's steps dropped
        np.testing.assert_array_equal(ours, alone)
