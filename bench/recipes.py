"""Every recipe (mlplab/recipes/*.toml) re-run: test accuracy over seeds 0, 1, 2 (mean and
spread; the seeds train together as one population) and wall time, against the recipe's target;
and what the doctor says of these healthy runs (any error or warning is a false alarm to look at).

    MLPLAB_DATA=../shared/datasets python bench/recipes.py [NAME ...] [--seeds 3] [--set KEY=VALUE ...]

`--set train.epochs=1` makes it a smoke run (the test suite's is tests/spec/test_recipes.py).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time

import mlplab.engine.backend  # noqa: F401
import jax

from mlplab.spec import load_raw, validate
from mlplab.spec.recipes import recipes
from mlplab.store import Store
from mlplab.stored import load_findings
from mlplab.training.runner import run_experiments


def target_of(text: str) -> float:
    """The accuracy a recipe's `target:` line asks for (its first ">= 0.xxx")."""
    return float(re.search(r">=\s*([0-9.]+)", text).group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", help="recipes to run (default: all)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    chosen = [r for r in recipes() if not args.names or r.name in args.names]
    print(f"{len(chosen)} recipes, {args.seeds} seeds each, on {jax.devices()[0].platform} ({os.cpu_count()} CPU cores)")
    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        for r in chosen:
            raw = load_raw(f"recipe:{r.name}", args.set)
            experiments = [validate({**raw, "seed": seed}) for seed in range(args.seeds)]
            t = time.perf_counter()
            results = run_experiments(experiments, store)
            seconds = time.perf_counter() - t
            accuracies = [res.test_accuracy for res in results]
            mean = statistics.mean(accuracies)
            spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
            target = target_of(r.target)
            print(f"{r.name:12} test accuracy {mean:.4f} ± {spread:.4f} "
                  f"({', '.join(f'{a:.4f}' for a in accuracies)}), target {target:.3f}: "
                  f"{'met' if mean >= target else 'NOT MET'}; {seconds / 60:.1f} min for {args.seeds} seeds "
                  f"({seconds / 60 / args.seeds:.1f} min per seed)")
            alarms = sorted({f.code for res in results for f in load_findings(store, res.run_id) if f.problem})
            print(f"{'':12} doctor: {'errors or warnings: ' + ', '.join(alarms) if alarms else 'no error or warning'}")


if __name__ == "__main__":
    main()
