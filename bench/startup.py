"""Start-up: where the wall time of a small `mlplab run`, `mlplab sweep` and `mlplab report` goes, beside
scikit-learn's MLPClassifier script on the same digits, each in a new process, sides alternating.

    python bench/startup.py [--repeat 3] [--skip-sweep] [--skip-report]

For each command: the median wall time and CPU-seconds of `--repeat` runs (cores busy = CPU / wall), then
one more run under `python -X importtime` that splits the imports into Keras (and what Keras imports
eagerly: JAX, scikit-learn, pandas, matplotlib.pyplot), mlplab's own modules and the rest, and the run's
stored timings: training (the epochs' seconds, the first epoch's excess over a steady one being mostly
compiling) and the store's created -> finished span. "other" is what is left of the wall time: spec,
data, opening the store, evaluation and report figures, printing, exit. The compiled programs are cached
(JAX's persistent cache) after the first repetition, as on a user's second run.

The reference, `sklearn`: load_digits, the same 80/20 split and unit scaling, MLPClassifier((64, 64),
adam, batch 32, 20 epochs), its test accuracy printed: the issue's "scikit-learn MLPClassifier script".
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

SKLEARN_SCRIPT = """
import warnings
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
warnings.filterwarnings("ignore")
x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.2, random_state=0, stratify=y)
model = MLPClassifier((64, 64), solver="adam", batch_size=32, max_iter=20, random_state=0).fit(x_train, y_train)
print(f"test accuracy {model.score(x_test, y_test):.4f}")
"""

GRID = """[train]
epochs = 20
batch_size = 32
early_stopping = false
[sweep.grid]
"train.optimizer" = ["sgd", "adam", "rmsprop", "adagrad"]
"train.learning_rate" = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
"model.init" = ["glorot_uniform", "he_normal"]
"""

# what Keras imports eagerly, by the top-level package importtime names
KERAS_PARTS = ("jax", "sklearn", "pandas", "matplotlib.pyplot")


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stderr) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stderr


def imports(stderr: str) -> dict[str, float]:
    """Seconds per part from `python -X importtime`: every top-level import, Keras (wherever it is imported)
    and what it imports eagerly, and mlplab's own modules without Keras."""
    cumulative: dict[str, float] = {}
    top: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cum, name = line.split("|")
        if not cum.strip().isdigit():
            continue
        seconds, stripped = int(cum) / 1e6, name.strip()
        if len(name) - len(name.lstrip(" ")) == 1:   # a top-level import: one space after the bar
            top[stripped] = top.get(stripped, 0.0) + seconds
        if stripped in ("keras", *KERAS_PARTS):
            cumulative[stripped] = max(cumulative.get(stripped, 0.0), seconds)
    keras = cumulative.get("keras", 0.0)
    own = sum(v for k, v in top.items() if k == "mlplab" or k.startswith("mlplab."))
    keras_inside_mlplab = "keras" not in top
    return {"all imports": sum(top.values()), "keras": keras,
            **{f"  of it {p}": cumulative.get(p, 0.0) for p in KERAS_PARTS},
            "mlplab's own (keras excluded)": max(own - (keras if keras_inside_mlplab else 0.0), 0.0)}


def stored_timings(home: str) -> dict[str, float]:
    """From the last run in the store: training seconds, the first epoch's excess, created -> finished."""
    out = subprocess.run([sys.executable, "-m", "mlplab.cli", "--home", home, "show", "last", "--json"],
                         capture_output=True, text=True)
    if out.returncode:
        return {}
    run = json.loads(out.stdout)
    seconds = [s for s in (run.get("history") or {}).get("seconds") or [] if isinstance(s, (int, float))]
    span = (datetime.fromisoformat(run["finished"].rstrip("Z")) - datetime.fromisoformat(run["created"].rstrip("Z"))
            ).total_seconds() if run.get("finished") else float("nan")
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else 0.0
    return {"training (epochs)": sum(seconds), "  of it first epoch over a steady one (compiling)":
            max(seconds[0] - steady, 0.0) if seconds else 0.0, "run created -> finished": span}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--skip-report", action="store_true")
    a = p.parse_args(argv)
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        grid = os.path.join(tmp, "grid.toml")
        with open(grid, "w") as f:
            f.write(GRID)
        mlplab = [sys.executable, "-m", "mlplab.cli", "--home", home]
        commands = [("mlplab run", mlplab + ["run"], home), ("sklearn MLPClassifier script",
                                                              [sys.executable, "-c", SKLEARN_SCRIPT], None)]
        if not a.skip_sweep:
            commands.append(("mlplab sweep (48 configs)", mlplab + ["sweep", grid], home))
        if not a.skip_report:
            commands.append(("mlplab report last", mlplab + ["report", "last", "--out", os.path.join(tmp, "report.html")], home))
        for _, cmd, _ in commands:   # warm-up: caches filled, a run in the store for `report last`
            timed(cmd, env)
        # sides alternate: one repetition of each command in turn, `repeat` rounds
        results = {name: {"walls": [], "cpus": []} for name, _, _ in commands}
        for _ in range(a.repeat):
            for name, cmd, _ in commands:
                wall, cpu, _ = timed(cmd, env)
                results[name]["walls"].append(wall)
                results[name]["cpus"].append(cpu)
        ref = statistics.median(results["sklearn MLPClassifier script"]["walls"])
        print(f"{'command':30s} {'wall s':>7s} {'CPU s':>7s} {'cores':>6s} {'/ sklearn':>9s}   (median of {a.repeat})")
        for name, _, _ in commands:
            w, c = statistics.median(results[name]["walls"]), statistics.median(results[name]["cpus"])
            print(f"{name:30s} {w:7.2f} {c:7.2f} {c / w:6.2f} {w / ref:8.2f}x")
        for name, cmd, store in commands:
            if store is None:
                continue
            wall, _, err = timed([cmd[0], "-X", "importtime", *cmd[1:]], env)
            parts = imports(err)
            parts.update(stored_timings(store) if name == "mlplab run" else {})
            accounted = parts["all imports"] + parts.get("run created -> finished", 0.0)
            print(f"\n{name}: {wall:.2f} s wall under -X importtime")
            for k, v in parts.items():
                print(f"  {k:52s} {v:6.2f} s")
            if name == "mlplab run":
                print(f"  {'other (spec, data, store, printing, exit)':52s} {max(wall - accounted, 0.0):6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
