"""Seconds per epoch and compile seconds: the example CNN, mlplab's engine vs keras.Model.fit, in one run.

examples/cnn-mnist.toml (conv32-pool-conv64-pool-dense64-dropout, Adam, batch 128) on a
fixed MNIST subset: the first 6,000 training rows, 600 validation rows, 1,000 test rows.
Set MLPLAB_DATA to a folder with mnist/.

    python bench/cnn.py [--rows 6000] [--rounds 2] [--steps scan,step,unrolled:8] [--plain] [--peer-python PY]

Each way of running mlplab's steps (engine.layout.Steps) is measured on its own compiled
program; --plain adds the scan without engine.xla_cpu's rewrites (the old engine). `fit`
and `mlplab` are training alone; `+val`/`+eval` add the per-epoch evaluation (fit: the
validation rows; mlplab: train sample, validation and test rows, as every mlplab run
does). Compile seconds come from JAX's compile events for both, cold (no persistent
cache). Rounds are interleaved; the best epoch of each is reported (the first round
compiles). On a shared machine the CPU seconds column is the steadier one; cores = CPU s / s.

With --peer-python (default $MLPLAB_PEER_PYTHON), a Python with tensorflow-cpu, keras and torch, each round
also runs bench/peers.py there: the same CNN with Keras on TensorFlow and with PyTorch, one warm-up epoch
and one timed epoch per round, on the same rows (optional peers, never dependencies).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLPLAB_JAX_CACHE", "0")  # cold compiles: no persistent cache for either side
import mlplab.engine.backend  # noqa: E402, F401
import jax
import keras
import numpy as np

from mlplab.data import Dataset, load_data
from mlplab.engine import train as engine
from mlplab.engine.models import build_model
from mlplab.engine.optimizers import keras_optimizer
from mlplab.engine.layout import Steps, choose
from mlplab.engine.progress import COMPILE_CLOCK
from mlplab.spec import load_spec
from mlplab.training import population

SPEC = Path(__file__).resolve().parents[1] / "examples" / "cnn-mnist.toml"
PEER_NAMES = {"keras-tf": "keras on tensorflow fit", "torch": "pytorch loop"}


def peers(python: str, task: str, data_file: str) -> dict:
    """One round of bench/peers.py in the peer Python: {peer: {"seconds", "cpu"}}."""
    done = subprocess.run([python, str(Path(__file__).with_name("peers.py")), task, "--data", data_file],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def subset(data: Dataset, rows: int, eval_rows: bool) -> Dataset:
    val, test = (rows // 10, rows // 6) if eval_rows else (0, 1)
    return Dataset(data.x_train[:rows], data.y_train[:rows], data.x_val[:val], data.y_val[:val],
                   data.x_test[:test], data.y_test[:test], data.info)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds after the compiling one; best of them")
    ap.add_argument("--steps", default="scan,step,unrolled:8", help="ways to run the steps, comma-separated")
    ap.add_argument("--plain", action="store_true", help="also the scan without engine.xla_cpu's rewrites")
    ap.add_argument("--peer-python", default=os.environ.get("MLPLAB_PEER_PYTHON"),
                    help="a Python with tensorflow-cpu, keras and torch: Keras on TensorFlow and PyTorch beside")
    args = ap.parse_args()
    exp = load_spec(SPEC, ["train.epochs=1", "train.early_stopping=false"])
    full = load_data(exp)
    info = full.info
    bare, data = subset(full, args.rows, False), subset(full, args.rows, True)
    print(f"examples/cnn-mnist.toml, Adam, batch {exp.train.batch_size}, {args.rows} training rows "
          f"(+eval: {len(data.x_val)} val, {len(data.x_test)} test), {jax.device_count()} "
          f"{jax.devices()[0].platform} device(s), best of {args.rounds} interleaved rounds")

    model = build_model(exp.model, info.input_shape, info.num_classes, exp.train.loss, exp.seed)
    member = population.member_of(exp, model)
    program = population.program_of(exp, model)
    regularized = engine.regularized_variables([member])
    ways = {f"mlplab {w}": engine.Compiled(program, info.num_classes, regularized, choose(model, steps=Steps.parse(w)))
            for w in args.steps.split(",")}
    if args.plain:
        ways["mlplab scan, not rewritten"] = engine.Compiled(program, info.num_classes, regularized, choose(model, for_cpu=False))
    first = next(iter(ways))

    def mlplab_epoch(compiled, d):
        cpu = time.process_time()
        [out] = engine.train(program, [member], d, compiled=compiled)
        return out.history["seconds"][0], out.compile_seconds, time.process_time() - cpu

    keras_model = keras.models.clone_model(model)
    keras_model.set_weights(model.get_weights())
    keras_model.compile(optimizer=keras_optimizer("adam", exp.train.optimizer.settings()),
                        loss=exp.train.loss, metrics=["accuracy"])

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.time() - self.t

    def fit_epoch(**kw):
        timer, t0, cpu = Timer(), time.time(), time.process_time()
        keras_model.fit(bare.x_train, bare.y_train, batch_size=exp.train.batch_size, epochs=1, verbose=0,
                        callbacks=[timer], **kw)
        return timer.seconds, COMPILE_CLOCK.seconds(t0), time.process_time() - cpu

    runs = {**{name: (lambda c=c: mlplab_epoch(c, bare)) for name, c in ways.items()},
            f"{first} +eval": lambda: mlplab_epoch(ways[first], data),
            "keras fit": fit_epoch,
            "keras fit +val": lambda: fit_epoch(validation_data=(data.x_val, data.y_val))}
    epochs: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    compiles: dict[str, float] = {}
    peer_file = tempfile.NamedTemporaryFile(suffix=".npz", delete=False).name if args.peer_python else None
    if peer_file:
        np.savez(peer_file, x=bare.x_train, y=bare.y_train)
    for round_ in range(args.rounds + 1):
        for name, run in runs.items():
            seconds, compiling, cpu = run()
            if round_:
                epochs.setdefault(name, []).append(seconds)
                cpus.setdefault(name, []).append(cpu)
            else:
                compiles[name] = compiling
        if args.peer_python and round_:
            for peer, r in peers(args.peer_python, "cnn", peer_file).items():
                epochs.setdefault(PEER_NAMES[peer], []).append(r["seconds"])
                cpus.setdefault(PEER_NAMES[peer], []).append(r["cpu"])
    if peer_file:
        os.unlink(peer_file)
    best = {k: min(v) for k, v in epochs.items()}
    print(f"{'':34s} {'s/epoch':>8s} {'CPU s':>8s} {'cores':>6s} {'compile s':>10s}   (CPU s: the process' CPU "
          "time, all threads)")
    for name in epochs:
        c = min(cpus[name])
        print(f"{name:34s} {best[name]:8.2f} {c:8.2f} {c / best[name]:6.2f} {compiles.get(name, float('nan')):10.2f}")
    fit, fit_val = best["keras fit"], best["keras fit +val"]
    for name in ways:
        print(f"{name} / keras fit (training):{'':>4s}{best[name] / fit:5.2f}x")
        for peer in PEER_NAMES.values():
            if peer in best:
                print(f"{name} / {peer}:{'':>4s}{best[name] / best[peer]:5.2f}x")
    print(f"{first} +eval / keras fit +val:{'':>4s}{best[f'{first} +eval'] / fit_val:5.2f}x")
    print(f"compile: {first} {compiles[first]:.2f} s, keras fit {compiles['keras fit']:.2f} s "
          f"(ratio {compiles[first] / max(compiles['keras fit'], 1e-9):.2f}x)")


if __name__ == "__main__":
    main()
