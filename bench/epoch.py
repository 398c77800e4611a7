"""Seconds per epoch: mlplab's engine vs keras.Model.fit vs the matmul bound, measured in one run.

784-512-256-10 ReLU MLP, Adam, batch 128, Fashion-MNIST (54,000 training rows
after a 10 % validation split). Set MLPLAB_DATA to a folder with fashion-mnist/.

    python bench/epoch.py [--rounds 3] [--peer-python PY]

The matmul bound is the time the same work's matrix products alone take:
forward (x @ W for each layer) and backward (two products per layer, but the
first layer's input gradient is not needed) for every batch, as one jitted
scan over the epoch's batches. The hand-written epoch is the whole of the same training
written directly in JAX (bias, ReLU, softmax cross-entropy, Adam, shuffled batches gathered
on device, one jitted scan): what XLA makes of the full step, without an engine around it.

With --peer-python (default $MLPLAB_PEER_PYTHON), a Python with tensorflow-cpu, keras and torch, each round
also runs bench/peers.py there: the same MLP with Keras on TensorFlow and with PyTorch (one warm-up epoch, one
timed epoch per round; optional peers, never dependencies).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import mlplab.engine.backend  # noqa: F401
import jax
import jax.numpy as jnp
import keras
import numpy as np

from mlplab.engine import rows as engine_rows, train as engine
from mlplab.data import Dataset, load_data
from mlplab.engine.models import build_model
from mlplab.training import population
from mlplab.spec import load_spec
from cnn import PEER_NAMES, peers   # bench/: the script's folder

WIDTHS = [784, 512, 256, 10]


_bound_cache: dict = {}


def matmul_bound(n: int, batch: int) -> float:
    steps = n // batch
    ws = [jnp.ones((a, b), "float32") * 0.01 for a, b in zip(WIDTHS, WIDTHS[1:])]
    xs = jnp.ones((steps, batch, WIDTHS[0]), "float32")

    def epoch(ws, xs):
        def body(acc, x):
            h = [x]
            for w in ws:                       # forward
                h.append(h[-1] @ w)
            g = h[-1]
            for i in reversed(range(len(ws))):  # backward: weight grads, input grads but for the first layer
                acc = acc + jnp.sum(h[i].T @ g)
                if i:
                    g = g @ ws[i].T
            return acc, None
        return jax.lax.scan(body, 0.0, xs)[0]

    epoch = _bound_cache.setdefault("epoch", jax.jit(epoch))
    t = time.perf_counter()
    epoch(ws, xs).block_until_ready()
    return time.perf_counter() - t


def forward_bound(rows: int, chunk: int) -> float:
    """The matrix products of the per-epoch evaluation alone: forward passes over `rows` rows in chunks."""
    ws = [jnp.ones((a, b), "float32") * 0.01 for a, b in zip(WIDTHS, WIDTHS[1:])]
    xs = jnp.ones((-(-rows // chunk), chunk, WIDTHS[0]), "float32")

    def forward(ws, xs):
        def body(acc, x):
            for w in ws:
                x = x @ w
            return acc + jnp.sum(x), None
        return jax.lax.scan(body, 0.0, xs)[0]

    forward = _bound_cache.setdefault("forward", jax.jit(forward))
    t = time.perf_counter()
    forward(ws, xs).block_until_ready()
    return time.perf_counter() - t


def handwritten_epoch(x, y, batch: int) -> float:
    """One epoch of the same MLP written directly in JAX (Keras' Adam formula), timed after compiling."""
    n, steps = len(x), len(x) // batch
    keys = jax.random.split(jax.random.PRNGKey(0), len(WIDTHS) - 1)
    params = [(jax.random.normal(k, (a, b)) * (2 / a) ** 0.5, jnp.zeros(b))
              for k, a, b in zip(keys, WIDTHS, WIDTHS[1:])]
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(p, xb, yb):
        h = xb
        for i, (w, b) in enumerate(p):
            h = h @ w + b
            h = jax.nn.relu(h) if i < len(p) - 1 else h
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), yb[:, None], 1))

    def epoch(p, m, v, order):
        def body(carry, i):
            p, m, v = carry
            rows = jax.lax.dynamic_slice(order, (i * batch,), (batch,))
            g = jax.grad(loss)(p, x[rows], y[rows])
            m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
            v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
            t = (i + 1).astype("float32")
            alpha = 1e-3 * jnp.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            p = jax.tree.map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + 1e-7), p, m, v)
            return (p, m, v), None
        return jax.lax.scan(body, (p, m, v), jnp.arange(steps))[0]

    run = _bound_cache.setdefault("handwritten", jax.jit(epoch))
    zeros = jax.tree.map(jnp.zeros_like, params)
    order = jnp.asarray(np.random.default_rng(0).permutation(n).astype("int32"))
    t = time.perf_counter()
    jax.block_until_ready(run(params, zeros, zeros, order))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of each is reported")
    ap.add_argument("--peer-python", default=os.environ.get("MLPLAB_PEER_PYTHON"),
                    help="a Python with tensorflow-cpu, keras and torch: Keras on TensorFlow and PyTorch beside")
    args = ap.parse_args()
    exp = load_spec(None, ["data.dataset=\"fashion-mnist\"", "model.hidden=[512, 256]", "train.batch_size=128",
                           "train.epochs=1", "train.early_stopping=false"])
    data = load_data(exp)
    info = data.info
    n = len(data.x_train)
    print(f"784-512-256-10 ReLU, Adam, batch 128, {n} training rows, "
          f"{jax.device_count()} {jax.devices()[0].platform} device(s), best of {args.rounds} interleaved rounds")

    # mlplab: one member, whole epochs on device. `full` includes the per-epoch
    # inference-mode evaluation (10k train sample, validation, test); `bare` is
    # the training alone (evaluation shrunk to one row), as fit without validation.
    model = build_model(exp.model, info.input_shape, info.num_classes, exp.train.loss, exp.seed)
    member = population.member_of(exp, model)
    program = population.program_of(exp, model)
    compiled = engine.Compiled(program, info.num_classes, engine.regularized_variables([member]))
    bare_data = Dataset(data.x_train, data.y_train, data.x_val[:0], data.y_val[:0], data.x_test[:1],
                               data.y_test[:1], info)

    train_eval_rows = engine_rows.TRAIN_EVAL_ROWS
    eval_rows = min(n, train_eval_rows) + len(data.x_val) + len(data.x_test)

    def mlplab_epoch(d, rows):
        engine_rows.TRAIN_EVAL_ROWS = rows
        return engine.train(program, [member], d, compiled=compiled)[0].history["seconds"][0]

    # keras.Model.fit, same model, same data, timed per epoch by a callback
    keras_model = keras.models.clone_model(model)
    keras_model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy",
                        metrics=["accuracy"])

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.t

    def fit_epoch(**kw):
        timer = Timer()
        keras_model.fit(data.x_train, data.y_train, batch_size=128, epochs=1, verbose=0, callbacks=[timer], **kw)
        return timer.seconds

    timings: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    peer_file = tempfile.NamedTemporaryFile(suffix=".npz", delete=False).name if args.peer_python else None
    if peer_file:
        np.savez(peer_file, x=data.x_train, y=data.y_train)
    for round_ in range(args.rounds + 1):  # round 0 compiles everything
        for name, f in [("mlplab", lambda: mlplab_epoch(bare_data, 1)),
                        ("mlplab+eval", lambda: mlplab_epoch(data, train_eval_rows)),
                        ("fit", fit_epoch),
                        ("fit+val", lambda: fit_epoch(validation_data=(data.x_val, data.y_val))),
                        ("bound", lambda: matmul_bound(n, 128)),
                        ("eval bound", lambda: forward_bound(eval_rows, engine_rows.EVAL_CHUNK)),
                        ("jax", lambda: handwritten_epoch(data.x_train, data.y_train, 128))]:
            cpu = time.process_time()
            seconds = f()
            if round_:
                timings.setdefault(name, []).append(seconds)
                cpus.setdefault(name, []).append(time.process_time() - cpu)
        if args.peer_python and round_:
            for peer, r in peers(args.peer_python, "dense", peer_file).items():
                timings.setdefault(PEER_NAMES[peer], []).append(r["seconds"])
                cpus.setdefault(PEER_NAMES[peer], []).append(r["cpu"])
    if peer_file:
        os.unlink(peer_file)
    t = {k: min(v) for k, v in timings.items()}
    c = {k: min(v) for k, v in cpus.items()}
    print(f"{'':38s}{'s/epoch':>8s} {'CPU s':>7s}   (CPU s: the whole call, all threads)")
    for name, label in [("bound", "matmul bound"), ("jax", "hand-written JAX epoch"), ("fit", "keras fit"), ("fit+val", "keras fit + validation"),
                        ("mlplab", "mlplab training"), ("mlplab+eval", "mlplab + train/val/test evaluation"),
                        *((p, p) for p in PEER_NAMES.values() if p in t)]:
        print(f"{label:38s}{t[name]:8.3f} {c[name]:7.3f}")
    print(f"speed-up over fit (training):             {t['fit'] / t['mlplab']:5.2f}x")
    print(f"speed-up over fit+val (with evaluation):  {t['fit+val'] / t['mlplab+eval']:5.2f}x")
    print(f"mlplab + evaluation / fit (no evaluation): {t['mlplab+eval'] / t['fit']:5.2f}x")
    for p in PEER_NAMES.values():
        if p in t:
            print(f"mlplab + evaluation / {p}: {t['mlplab+eval'] / t[p]:5.2f}x   (the peer without evaluation)")
    print(f"mlplab training / matmul bound:           {t['mlplab'] / t['bound']:5.2f}")
    print(f"hand-written JAX / matmul bound:          {t['jax'] / t['bound']:5.2f}   (what XLA makes of the whole step)")
    print(f"mlplab training / hand-written JAX:       {t['mlplab'] / t['jax']:5.2f}   (the engine's own cost)")
    print(f"mlplab + evaluation / matmul bound:       {t['mlplab+eval'] / t['bound']:5.2f}"
          f"   (the bound of training alone)")
    print(f"mlplab + evaluation / bound of that work: {t['mlplab+eval'] / (t['bound'] + t['eval bound']):5.2f}"
          f"   (training's products + the evaluation's forward products on {eval_rows} rows: "
          f"{t['eval bound']:.3f} s)")


if __name__ == "__main__":
    main()
