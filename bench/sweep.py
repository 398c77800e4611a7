"""Sweeps: one vectorized population vs one model at a time, measured in one run.

(a) 48 digits MLPs (64-64 ReLU; 4 optimizers x 6 learning rates x 2 initializations,
    20 epochs, batch 32, no early stopping): `mlplab.sweep` vs the same configurations
    trained one by one with `keras.Model.fit` (validation data each epoch, as mlplab
    evaluates each epoch); then the same grid as `mlplab sweep` in a new process, start-up
    (Python, imports, compiling) included.
(b) 8 learning rates of a 784-256-128-10 MLP on Fashion-MNIST (Adam, batch 128,
    3 epochs): mlplab's population vs mlplab one run at a time.

(c) with --ray: grid (a) through the Ray executor on a local Ray instance, against
    the local executor's time (the overhead of tasks, object store and worker start).

(d) grid (a) end to end in new processes, sides alternating (median of 3): `mlplab sweep` against
    scikit-learn's 48 MLPClassifier fits (sgd, else adam: it has no RMSprop or Adagrad) and, with
    --peer-python (default $MLPLAB_PEER_PYTHON), a hand-written vectorized PyTorch population
    (bench/peers.py sweep; an optional peer, never a dependency).

    MLPLAB_DATA=../shared/datasets python bench/sweep.py [--skip-b] [--ray] [--phases] [--peer-python PY]

Both sides run in this process after a warm-up, so compiled programs are cached
alike (JAX's persistent cache serves Keras' compiled steps too). `--phases` also says where
the mlplab sweep of (a) spends its time: creating the runs, training (the engine, with the
per-epoch store rows), finishing the runs (evaluation and artifacts), the table's findings.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import mlplab.engine.backend  # noqa: F401

from mlplab.data import load_data
from mlplab.training import record, runner
from mlplab.training.sweeps import run_sweep
from mlplab.spec.sweep import expand
from mlplab.engine.models import build_model
from mlplab.engine.optimizers import keras_optimizer
from mlplab.store import Store

OPTIMIZERS = ["sgd", "adam", "rmsprop", "adagrad"]
RATES = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
INITS = ["glorot_uniform", "he_normal"]


def grid_a() -> dict:
    return {"train": {"epochs": 20, "batch_size": 32, "early_stopping": False},
            "sweep": {"grid": {"train.optimizer": OPTIMIZERS, "train.learning_rate": RATES, "model.init": INITS}}}


@contextlib.contextmanager
def phases(spent: dict):
    """Time the sweep's phases (by wrapping the functions the runner and the sweep call)."""
    wrapped = [(runner, "start_runs", "create runs"), (runner, "train_population", "train"),
               (runner, "finish_runs", "finish runs"), (runner, "plan_group", "plan (data, first models)"),
               (record, "of_run", "diagnose (in finish runs)")]
    originals = [(module, name, getattr(module, name)) for module, name, _ in wrapped]

    def timer(fn, label):
        def call(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - t
        return call
    for (module, name, label), (_, _, fn) in zip(wrapped, originals):
        setattr(module, name, timer(fn, label))
    try:
        yield
    finally:
        for module, name, fn in originals:
            setattr(module, name, fn)


def mlplab_sweep(raw: dict) -> float:
    with tempfile.TemporaryDirectory() as home:
        t = time.perf_counter()
        run_sweep(raw, Store(home))
        return time.perf_counter() - t


def cli_sweep(raw: dict) -> float:
    """`mlplab sweep SPEC --json` in a new process: what a user waits for, start-up included."""
    lines = ["[train]", *(f"{k} = {json.dumps(v)}" for k, v in raw["train"].items()),   # JSON scalars and
             "[sweep.grid]", *(f'"{k}" = {json.dumps(v)}' for k, v in raw["sweep"]["grid"].items())]  # lists: TOML
    with tempfile.TemporaryDirectory() as home:
        spec = os.path.join(home, "grid.toml")
        with open(spec, "w") as f:
            f.write("\n".join(lines) + "\n")
        return new_process([sys.executable, "-m", "mlplab.cli", "--home", home, "sweep", spec, "--json"])


SKLEARN_48 = """
import warnings
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
warnings.filterwarnings("ignore")
x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.2, random_state=0, stratify=y)
for opt in ("sgd", "adam", "rmsprop", "adagrad"):
    for lr in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3):
        for seed in (0, 1):   # two initializations
            MLPClassifier((64, 64), solver="sgd" if opt == "sgd" else "adam", learning_rate_init=lr, batch_size=32,
                          max_iter=20, early_stopping=False, random_state=seed).fit(x_train, y_train).score(x_test, y_test)
"""


def new_process(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def end_to_end(raw: dict, peer_python: str | None, rounds: int = 3) -> None:
    """(d): each side in a new process per round, sides alternating; medians."""
    sides = {"mlplab sweep": lambda: cli_sweep(raw), "scikit-learn 48 fits": lambda: new_process(
        [sys.executable, "-c", SKLEARN_48])}
    if peer_python:
        sides["pytorch population"] = lambda: new_process(
            [peer_python, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.py"), "sweep"])
    seconds: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name, run in sides.items():
            seconds[name].append(run())
    med = {k: sorted(v)[len(v) // 2] for k, v in seconds.items()}
    ours = med["mlplab sweep"]
    print(f"(d) grid (a) end to end, new processes, median of {rounds}: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in med.items()))
    for name, v in med.items():
        if name != "mlplab sweep":
            print(f"    mlplab sweep is {v / ours:5.2f}x faster than {name}")


def keras_one_by_one(raw: dict) -> float:
    """Every configuration of the grid through plain Model.fit, timed end to end."""
    experiments = [e for c in expand(raw) for e in c.experiments]
    data = load_data(experiments[0])
    info = data.info
    t = time.perf_counter()
    for exp in experiments:
        model = build_model(exp.model, info.input_shape, info.num_classes, exp.train.loss, exp.seed)
        model.compile(optimizer=keras_optimizer(exp.train.optimizer.name, exp.train.optimizer.settings()),
                      loss=exp.train.loss, metrics=["accuracy"])
        model.fit(data.x_train, data.y_train, batch_size=exp.train.batch_size, epochs=exp.train.epochs,
                  validation_data=(data.x_val, data.y_val), verbose=0)
        model.evaluate(data.x_test, data.y_test, verbose=0)
    return time.perf_counter() - t


def mlplab_one_by_one(raw: dict) -> float:
    experiments = [e for c in expand(raw) for e in c.experiments]
    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        t = time.perf_counter()
        for exp in experiments:
            runner.run_experiment(exp, store)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-b", action="store_true", help="only part (a)")
    ap.add_argument("--ray", action="store_true", help="also (c): grid (a) on a local Ray instance")
    ap.add_argument("--phases", action="store_true", help="where the mlplab sweep of (a) spends its time")
    ap.add_argument("--peer-python", default=os.environ.get("MLPLAB_PEER_PYTHON"),
                    help="a Python with torch (and scikit-learn): the vectorized PyTorch population beside")
    ap.add_argument("--only-d", action="store_true", help="only (d), the end-to-end comparison in new processes")
    args = ap.parse_args()
    import jax
    print(f"on {jax.device_count()} {jax.devices()[0].platform} device(s), {os.cpu_count()} CPU cores")

    raw = grid_a()
    if args.only_d:
        end_to_end(raw, args.peer_python)
        return
    warm = {**raw, "train": {**raw["train"], "epochs": 1}}
    mlplab_sweep(warm)                      # warm-up: imports, data, compile caches
    keras_one_by_one({**warm, "sweep": {"grid": {"train.optimizer": OPTIMIZERS}}})
    # the machine's speed drifts by tens of percent over a minute: mlplab's few seconds are measured three
    # times, before and after Keras' minute, and the median is taken
    spent: dict = defaultdict(float)
    with phases(spent) if args.phases else contextlib.nullcontext():
        first = mlplab_sweep(raw)
    theirs = keras_one_by_one(raw)
    times = sorted([first, mlplab_sweep(raw), mlplab_sweep(raw)])
    ours = times[1]
    print(f"(a) 48 digits MLPs, 20 epochs: mlplab sweep {ours:6.1f} s (median of 3: {times[0]:.1f}-{times[2]:.1f}), "
          f"Keras fit one by one {theirs:6.1f} s: {theirs / ours:5.1f}x faster")
    if args.phases:
        rest = first - sum(spent.values())
        print(f"    mlplab sweep (the first, {first:.1f} s): " + ", ".join(f"{k} {v:.2f} s" for k, v in spent.items())
              + f", the rest {rest:.2f} s")
    cold = cli_sweep(raw)
    print(f"    as `mlplab sweep` in a new process (start-up, imports, compiling included): {cold:6.1f} s: "
          f"{theirs / cold:5.1f}x the Keras loop (which had its imports and compiled steps already)")
    end_to_end(raw, args.peer_python)

    if args.ray:
        import ray
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        with tempfile.TemporaryDirectory() as home:
            run_sweep(warm, Store(home), executor="ray")  # warm-up: workers, imports
            t = time.perf_counter()
            run_sweep(raw, Store(home), executor="ray")
            on_ray = time.perf_counter() - t
        print(f"(c) grid (a) on a local Ray instance (2 workers): {on_ray:6.1f} s, "
              f"{on_ray / ours:5.2f}x the local executor's time")

    if args.skip_b:
        return
    raw_b = {"data": {"dataset": "fashion-mnist"}, "model": {"hidden": [256, 128]},
             "train": {"epochs": 3, "batch_size": 128, "early_stopping": False},
             "sweep": {"grid": {"train.learning_rate": [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2]}}}
    mlplab_sweep({**raw_b, "train": {**raw_b["train"], "epochs": 1},
                  "sweep": {"grid": {"train.learning_rate": [1e-3]}}})  # warm-up
    together = mlplab_sweep(raw_b)
    alone = mlplab_one_by_one(raw_b)
    print(f"(b) 8 learning rates, 784-256-128-10 on Fashion-MNIST, 3 epochs: population {together:6.1f} s, "
          f"one at a time {alone:6.1f} s: {alone / together:5.2f}x faster")


if __name__ == "__main__":
    main()
