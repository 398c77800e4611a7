"""What recording the doctor's statistics costs: seconds per epoch with the probe on vs off.

Fashion-MNIST, 784-512-256-10 MLP, Adam, batch 128 (the run of DESIGN.md's measurements).
The "off" run replaces `mlplab.engine.probe.make_probe` with a probe that computes nothing,
so everything else (evaluation, history, store) is the same. Goal: overhead < 10 %.

    MLPLAB_DATA=../shared/datasets .venv/bin/python bench/stats_overhead.py [--epochs 4]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MLPLAB_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))

from mlplab.engine import probe  # noqa: E402
from mlplab.training.runner import run_experiment  # noqa: E402
from mlplab.spec import load_spec  # noqa: E402
from mlplab.store import Store  # noqa: E402


def seconds_per_epoch(epochs: int, dataset: str) -> float:
    exp = load_spec(None, [f'data.dataset="{dataset}"', "model.hidden=[512, 256]", "train.batch_size=128",
                           f"train.epochs={epochs}", "train.early_stopping=false"])
    with tempfile.TemporaryDirectory() as home:
        result = run_experiment(exp, Store(home))
    per_epoch = result.history["seconds"][1:]  # the first epoch includes compilation
    return statistics.median(per_epoch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--repeats", type=int, default=2, help="alternate on/off runs this many times")
    args = ap.parse_args()

    real = probe.make_probe

    def no_probe(model, objective):
        return lambda trainable, non_trainable, previous, reg, x, y: {}

    on, off = [], []
    for _ in range(args.repeats):  # alternate, so drifting machine load hits both alike
        probe.make_probe = real
        on.append(seconds_per_epoch(args.epochs, args.dataset))
        probe.make_probe = no_probe
        off.append(seconds_per_epoch(args.epochs, args.dataset))
    probe.make_probe = real
    t_on, t_off = min(on), min(off)
    ratio = t_on / t_off
    print(f"{args.dataset} 784-512-256-10, adam, batch 128, {args.epochs} epochs x {args.repeats} runs each")
    print(f"statistics on : {t_on:.3f} s/epoch  (runs: {', '.join(f'{t:.3f}' for t in on)})")
    print(f"statistics off: {t_off:.3f} s/epoch  (runs: {', '.join(f'{t:.3f}' for t in off)})")
    print(f"ratio on/off  : {ratio:.3f}  -> overhead {100 * (ratio - 1):+.1f} % (goal < 10 %)")


if __name__ == "__main__":
    main()
