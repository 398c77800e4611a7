"""Optional peers for the benchmarks: Keras on TensorFlow and PyTorch, run in another Python that has them.

TensorFlow and PyTorch are never mlplab's dependencies. The benchmarks call this file with the Python
named by --peer-python or $MLPLAB_PEER_PYTHON (a virtual environment with tensorflow-cpu, keras and torch):

    PEER_PYTHON bench/peers.py cnn   --data FILE.npz [--which keras-tf,torch]   # one warm-up epoch, one timed
    PEER_PYTHON bench/peers.py dense --data FILE.npz [--which keras-tf,torch]
    PEER_PYTHON bench/peers.py sweep [--which torch]                            # the 48-config digits grid

and read one JSON line: {peer: {"seconds": wall, "cpu": CPU-seconds of the process, all threads}}. cnn and
dense: one epoch after a warm-up epoch (tracing, compiling), so a benchmark alternates sides by calling this
once per round. sweep: the whole grid end to end in this process, imports included (the process' own
start-up is measured by the caller).

The models are the benchmarks' own: examples/cnn-mnist.toml (conv32-pool-conv64-pool-dense64-dropout 0.25,
Adam 0.001, batch 128); the dense 784-512-256-10 ReLU MLP (Adam, batch 128); the sweep's 64-64 ReLU digits MLPs
({sgd, adam, rmsprop, adagrad} x 6 learning rates x {glorot_uniform, he_normal}, 20 epochs, batch 32), as one
vectorized population (torch.func.functional_call over stacked parameters with torch.vmap), a validation
evaluation each epoch and a test evaluation at the end, as mlplab does.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def timed(fn) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


# ------------------------------------------------------------------ Keras on TensorFlow

def keras_tf(kind: str, x, y) -> dict:
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from keras import layers
    if kind == "cnn":
        model = keras.Sequential([keras.Input(x.shape[1:]), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                                  layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                                  layers.Dense(64, activation="relu"), layers.Dropout(0.25), layers.Dense(10, activation="softmax")])
    else:
        model = keras.Sequential([keras.Input(x.shape[1:]), layers.Dense(512, activation="relu"),
                                  layers.Dense(256, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=1, verbose=0)   # warm-up: tracing and compiling
    return timed(lambda: model.fit(x, y, batch_size=128, epochs=1, verbose=0))


# ------------------------------------------------------------------ PyTorch

def torch_model(kind: str, shape):
    from torch import nn
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(shape[-1], 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.Dropout(0.25),
                             nn.Linear(64, 10))
    return nn.Sequential(nn.Linear(shape[-1], 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))


def torch_epoch(kind: str, x, y) -> dict:
    import torch
    model = torch_model(kind, x.shape)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous() if kind == "cnn" else torch.from_numpy(x)
    yt = torch.from_numpy(y).long()
    model(xt[:2])   # the lazy layer's shape
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        model.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    epoch()   # warm-up
    return timed(epoch)


def torch_sweep() -> dict:
    """The 48-config grid as one vectorized PyTorch population, with per-epoch validation and a test pass."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch.func import functional_call, stack_module_state
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.2, random_state=0, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_train, y_train, test_size=0.1, random_state=0, stratify=y_train)
    xt, yt = torch.tensor(x_train, dtype=torch.float32), torch.tensor(y_train)
    configs = [(o, lr, init) for o in ("sgd", "adam", "rmsprop", "adagrad")
               for lr in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3) for init in ("glorot_uniform", "he_normal")]

    def make(init):
        m = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, 10))
        for layer in m:
            if isinstance(layer, torch.nn.Linear):
                (torch.nn.init.xavier_uniform_ if init == "glorot_uniform" else torch.nn.init.kaiming_normal_)(layer.weight)
                torch.nn.init.zeros_(layer.bias)
        return m
    models = [make(init) for _, _, init in configs]
    params, buffers = stack_module_state(models)
    base = make("glorot_uniform").to("meta")

    def forward(p, b, xb):
        return functional_call(base, (p, b), (xb,))
    batched = torch.vmap(forward, in_dims=(0, 0, None))
    kinds = ("sgd", "adam", "rmsprop", "adagrad")
    mask = {o: torch.tensor([float(c[0] == o) for c in configs]) for o in kinds}   # one optimizer per member
    lr = torch.tensor([c[1] for c in configs])
    leaves = {k: v.detach().requires_grad_() for k, v in params.items()}
    state = {k: (torch.zeros_like(v), torch.zeros_like(v)) for k, v in leaves.items()}
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    step = 0
    for _ in range(20):
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), 32):
            idx = order[i:i + 32]
            logits = batched(leaves, buffers, xt[idx])            # members x batch x classes
            loss = loss_fn(logits.reshape(-1, 10), yt[idx].repeat(len(configs))) / len(idx)
            grads = torch.autograd.grad(loss, list(leaves.values()))
            step += 1
            with torch.no_grad():
                for (k, w), g in zip(leaves.items(), grads):
                    shape = (-1, *[1] * (w.dim() - 1))
                    ms = {o: v.view(shape) for o, v in mask.items()}
                    m, v = state[k]
                    # Adam's moments; RMSprop's average and Adagrad's sum of squares share v by mask
                    m.mul_(0.9).add_(0.1 * g)
                    v.copy_(ms["adam"] * (0.999 * v + 0.001 * g * g) + ms["rmsprop"] * (0.9 * v + 0.1 * g * g)
                            + ms["adagrad"] * (v + g * g))
                    adam = (m / (1 - 0.9 ** step)) / ((v / (1 - 0.999 ** step)).sqrt() + 1e-7)
                    scaled = g / (v.sqrt() + 1e-7)
                    w -= lr.view(shape) * (ms["sgd"] * g + ms["adam"] * adam + (ms["rmsprop"] + ms["adagrad"]) * scaled)
        with torch.no_grad():
            batched(leaves, buffers, torch.tensor(x_val, dtype=torch.float32)).argmax(-1)
    with torch.no_grad():
        accuracy = (batched(leaves, buffers, torch.tensor(x_test, dtype=torch.float32)).argmax(-1)
                    == torch.tensor(y_test)).float().mean(-1)
    return {"best_test_accuracy": float(np.max(accuracy.numpy()))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("task", choices=("cnn", "dense", "sweep"))
    p.add_argument("--data", help="an .npz with x and y (cnn: NHWC images; dense: flat rows)")
    p.add_argument("--which", default="keras-tf,torch")
    a = p.parse_args(argv)
    out = {}
    if a.task == "sweep":
        if "torch" in a.which:
            cpu, wall = time.process_time(), time.perf_counter()
            result = torch_sweep()
            out["torch population"] = {"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu, **result}
    else:
        import numpy as np
        d = np.load(a.data)
        x, y = d["x"].astype("float32"), d["y"].astype("int64")
        for which in a.which.split(","):
            out[which] = keras_tf(a.task, x, y) if which == "keras-tf" else torch_epoch(a.task, x, y)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
