"""Reports and figures where users wait: cold (computed) and warm (stored), measured in one run.

A digits run (the default experiment, 10 epochs) and an MNIST MLP run (784-128-64-10, 2 epochs)
are trained into a temporary store, then:

(a) `mlplab report RUN` as a new process (what a user waits for: start-up and imports included),
    cold (no stored views) and warm (the stored report); its figures are drawn by two processes,
    from both ends of the report;
(b) the report in this process (imports done), cold and warm: the work itself, drawn by this
    process alone (it has imported JAX), the t-SNE in a thread;
(c) a figure as the dashboard serves it (a new RunArtifacts per request, `applicable`,
    `figure_for`, `savefig(png, dpi=80)`), cold and warm: the slowest of the run's figures,
    hidden-representation (the t-SNE) and confusion-matrix.

    MLPLAB_DATA=../shared/datasets python bench/report.py [--profile] [--keep DIR]

Goals (issue 13): digits report <= 3 s cold; a stored view <= 0.2 s. `--profile` prints where a
cold in-process report of the digits run spends its time (cProfile, cumulative; the t-SNE runs
in a thread, so its time shows as waiting).
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

from mlplab.present.registry import applicable, figure_for
from mlplab.present.report import write_report
from mlplab.spec import load_spec
from mlplab.store import Store
from mlplab.stored import RunArtifacts
from mlplab.training.runner import run_experiment

RUNS = {"digits": ["train.epochs=10"],
        "mnist": ['data.dataset="mnist"', "model.hidden=[128, 64]", "train.epochs=2", "train.batch_size=128"]}


def forget_views(store: Store, run_id: str) -> None:
    """Make the run cold again: no stored views, no stored report."""
    folder = store.artifact_dir(run_id)
    shutil.rmtree(folder / "views", ignore_errors=True)
    (folder / "report.html").unlink(missing_ok=True)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cli_report(home: str, run_id: str) -> float:
    cmd = [sys.executable, "-m", "mlplab.cli", "--home", home, "report", run_id]
    return timed(lambda: subprocess.run(cmd, check=True, capture_output=True))


def served(store: Store, run_id: str, name: str) -> float:
    """One dashboard figure request: the run read, its artifacts, the applicable check, the PNG."""
    def request():
        art = RunArtifacts(store, store.get_run(run_id))
        assert name in applicable(art), name
        buf = io.BytesIO()
        figure_for(art, name).savefig(buf, format="png", dpi=80, metadata={"Software": None})
    return timed(request)


def measure(store: Store, label: str, run_id: str) -> None:
    forget_views(store, run_id)
    cold_cli = cli_report(str(store.home), run_id)
    warm_cli = cli_report(str(store.home), run_id)
    forget_views(store, run_id)
    cold = timed(lambda: write_report(store, run_id))
    warm = min(timed(lambda: write_report(store, run_id)) for _ in range(3))
    print(f"{label:7s} report  CLI (new process): cold {cold_cli:6.2f} s, warm {warm_cli:5.2f} s | "
          f"in process: cold {cold:6.2f} s, warm {warm:6.3f} s")
    for name in ("hidden-representation", "confusion-matrix"):
        forget_views(store, run_id)
        cold = served(store, run_id, name)
        warm = sorted(served(store, run_id, name) for _ in range(5))[2]
        print(f"{label:7s} figure  {name:22s} cold {cold:6.2f} s, warm (median of 5) {warm:6.3f} s")


def profile(store: Store, run_id: str) -> None:
    import cProfile
    import pstats
    forget_views(store, run_id)
    prof = cProfile.Profile()
    prof.runcall(write_report, store, run_id)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", action="store_true", help="profile a cold digits report")
    ap.add_argument("--keep", help="train into (and reuse runs of) this store instead of a temporary one")
    args = ap.parse_args()
    home = args.keep or tempfile.mkdtemp(prefix="mlplab-bench-report-")
    store = Store(home)
    names = {r["name"]: r["id"] for r in store.list_runs()} if args.keep else {}
    runs = {}
    for label, overrides in RUNS.items():
        exp = load_spec(None, overrides)
        runs[label] = names.get(exp.display_name) or run_experiment(exp, store).run_id
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    try:
        if args.profile:
            profile(store, runs["digits"])
            return
        for label, run_id in runs.items():
            measure(store, label, run_id)
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
