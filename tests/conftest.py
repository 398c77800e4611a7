"""Shared test setup."""
import contextlib
import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# Keras picks its backend at first import; a test module that imports keras before mlplab
# must still get JAX (mlplab refuses any other backend).
os.environ.setdefault("KERAS_BACKEND", "jax")


OUTPUT = Path(__file__).resolve().parent / "output"

# The time limit of a test's subprocess or wait: a safety net so that a hung test cannot hang CI forever, never a
# verdict (a busy 2-core machine may take many times the usual time; correctness is asserted on values).
SAFETY_NET = 1800  # seconds


def wait_for(predicate, timeout=SAFETY_NET) -> bool:
    """Whether `predicate()` came true within `timeout` seconds (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def cli(*argv: str) -> tuple[int, str, str]:
    """`mlplab ARGV` in this process: its exit code, stdout and stderr."""
    from mlplab import cli as command
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = command.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def cli_json(*argv: str):
    """`mlplab ARGV --json` in this process: its exit code must be 0; its output, parsed."""
    code, out, err = cli(*argv, "--json")
    assert code == 0, (argv, code, err[-2000:])
    return json.loads(out)


def finished_runs(store, names) -> dict[str, str]:
    """Runs that ended ok without training (a run row and a history file each), by name: for labelling and
    deleting."""
    ids = {}
    for name in names:
        ids[name] = store.create_run(name=name, spec={}, dataset="digits")
        store.set_status(ids[name], "ok")
        store.write_artifact(ids[name], "history.csv", "epoch\n")
    return ids


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> tuple[Path, dict]:
    """One short digits run (the default experiment for 5 epochs), trained once per session in a store of its
    own: (its home, its `mlplab run --json` document). Tests read it; they never write into its store."""
    home = tmp_path_factory.mktemp("digits-run") / "runs"
    return home, cli_json("--home", str(home), "run", "--set", "train.epochs=5")


@pytest.fixture
def screenshot(tmp_path):
    """screenshot(html_file, png_name, height) -> the PNG under tests/output/, or None without Chromium."""
    def take(report: Path, name: str, height: int = 4000) -> Path | None:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            return None
        OUTPUT.mkdir(exist_ok=True)
        png = OUTPUT / name
        png.unlink(missing_ok=True)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        f"--user-data-dir={tmp_path / 'chromium'}", f"--screenshot={png}",
                        f"--window-size=1280,{height}", report.resolve().as_uri()],
                       check=True, capture_output=True, timeout=SAFETY_NET)
        assert png.stat().st_size > 50_000             # a page with pictures, not a blank one
        return png
    return take
