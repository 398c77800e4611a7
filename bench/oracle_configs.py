"""The oracle benchmark's configurations (bench/doctor_oracle.py): the sampled distribution, the data files
it needs, and each run's single-change neighbours. Its docstring describes both."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np

from mlplab.catalog import OPTIMIZERS   # Keras' defaults

MAX_STEPS = 3000        # steps of the original run (its epochs x3 neighbour takes three times as many)
MAX_WORK = 1e10         # 6 x weights x training rows x epochs of the original run: under a second on one core


# ------------------------------------------------------------------ the distribution

def _pick(rng, options, weights):
    w = np.asarray(weights, float)
    return options[int(rng.choice(len(options), p=w / w.sum()))]


def _log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _round(x: float) -> float:
    return float(f"{x:.2g}")


def sample(rng, files: dict[str, str]) -> dict:
    """One course-like configuration as a raw spec (see bench/doctor_oracle.py's docstring)."""
    dataset = _pick(rng, ["digits", "cosine2d", "mnist", "fashion-mnist"], [45, 25, 15, 15])
    data: dict = {"validation_split": _pick(rng, [0.1, 0.2], [1, 1])}
    rows = {"digits": 1437, "cosine2d": 2400, "mnist": 3000, "fashion-mnist": 3000}[dataset]
    if dataset == "cosine2d":
        data.update(dataset="cosine2d", n=3000, noise=_round(rng.uniform(0, 0.3)))
    elif dataset == "digits":
        data["dataset"] = files["digits-random-labels"] if rng.random() < 0.05 else "digits"
    else:
        data["dataset"] = files[dataset]
    rows = int(rows * (1 - data["validation_split"]))
    data["scale"] = _pick(rng, ["unit", "none", "standard"], [60, 20, 20])
    if rng.random() < 0.3:
        hidden = [64, 64]
    else:
        depth = _pick(rng, list(range(11)), [8, 25, 25, 12, 7, 5, 4, 4, 4, 3, 3])
        narrow = rng.random() < 0.2
        hidden = [max(2, int(round(_log_uniform(rng, 2, 8) if narrow else _log_uniform(rng, 8, 512))))] * depth
    activation = "relu" if rng.random() < 0.5 else _pick(rng, ["tanh", "sigmoid", "elu", "linear", "softmax"],
                                                         [3, 3, 2, 1, 1])
    init = _pick(rng, ["glorot_uniform", "he_normal", "random_normal", "zeros", "constant"], [45, 20, 25, 5, 5])
    init = ({"name": "random_normal", "stddev": _round(_log_uniform(rng, 1e-4, 10))} if init == "random_normal"
            else {"name": "constant", "value": 0.05} if init == "constant" else init)
    opt = _pick(rng, ["adam", "sgd", "sgd-momentum", "rmsprop", "adagrad"], [30, 25, 15, 15, 15])
    name = "sgd" if opt == "sgd-momentum" else opt
    default = OPTIMIZERS[name]["learning_rate"]
    lr = (default * _pick(rng, [0.1, 1 / 3, 1, 3, 10], [1, 1, 2, 1, 1]) if rng.random() < 0.7
          else _log_uniform(rng, 1e-6, 10))
    optimizer = {"name": name, "learning_rate": _round(lr), **({"momentum": 0.9} if opt == "sgd-momentum" else {})}
    batch = 32 if rng.random() < 0.6 else max(1, min(rows, int(round(_log_uniform(rng, 1, rows)))))
    steps = math.ceil(rows / batch)
    inputs = {"digits": 64, "cosine2d": 2}.get(dataset, 784)
    sizes = [inputs, *hidden, 10]
    work = 6 * sum(a * b for a, b in zip(sizes, sizes[1:])) * rows
    epochs = max(2, min(int(round(_log_uniform(rng, 2, 100))), MAX_STEPS // steps, int(MAX_WORK // work)))
    model = {"hidden": hidden, "activation": activation, "init": init,
             "dropout": 0.0 if rng.random() < 0.8 else _round(rng.uniform(0, 0.9)),
             "l2": 0.0 if rng.random() < 0.8 else _round(_log_uniform(rng, 1e-4, 1))}
    train = {"optimizer": optimizer, "epochs": epochs, "batch_size": batch,
             "loss": "mse" if rng.random() < 0.1 else "sparse_categorical_crossentropy",
             "shuffle": bool(rng.random() < 0.95),
             "early_stopping": False if rng.random() < 0.5 else {"monitor": "val_loss", "patience": 3,
                                                                   "restore_best": True}}
    return {"seed": int(rng.integers(0, 1000)), "data": data, "model": model, "train": train}


def data_files(out: Path, seed: int) -> dict[str, str]:
    """The MNIST and Fashion-MNIST subsets and digits with permuted labels, as .npz files under `out`."""
    from mlplab.data import load_raw
    rng = np.random.default_rng(seed)
    files = {}
    for name in ("mnist", "fashion-mnist", "digits"):
        path = out / (f"{name}-random-labels.npz" if name == "digits" else f"{name}-3000.npz")
        key = "digits-random-labels" if name == "digits" else name
        files[key] = str(path)
        if path.exists():
            continue
        raw = load_raw(name)
        if name == "digits":
            arrays = dict(x_train=raw.x_train, y_train=rng.permutation(raw.y_train), x_test=raw.x_test,
                          y_test=raw.y_test)
        else:
            tr = rng.choice(len(raw.x_train), 3000, replace=False)
            te = rng.choice(len(raw.x_test), 1000, replace=False)
            arrays = dict(x_train=raw.x_train[tr], y_train=raw.y_train[tr], x_test=raw.x_test[te],
                          y_test=raw.y_test[te])
        np.savez_compressed(path, **arrays, class_names=np.array(raw.class_names))
    return files


# ------------------------------------------------------------------ the neighbourhood

def _get(raw: dict, key: str):
    node = raw
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def neighbours(raw: dict) -> list[tuple[str, dict]]:
    """(name, changes) of every single change that differs from the run (bench/doctor_oracle.py's docstring)."""
    m, t = raw["model"], raw["train"]
    lr = t["optimizer"]["learning_rate"]
    relu = m["activation"] == "relu"
    out = [(f"lr x{f:g}", {"train.optimizer.learning_rate": _round(lr * f)}) for f in (3, 10, 1 / 3, 1 / 10)]
    out += [("scale unit", {"data.scale": "unit"}), ("standard init", {"model.init": "he_normal" if relu
                                                                       else "glorot_uniform"}),
            ("relu", {"model.activation": "relu"}), ("batchnorm", {"model.batchnorm": True}),
            ("dropout 0", {"model.dropout": 0.0}), ("l2 0", {"model.l2": 0.0}),
            ("epochs x3", {"train.epochs": 3 * t["epochs"]}), ("batch 32", {"train.batch_size": 32}),
            ("crossentropy", {"train.loss": "sparse_categorical_crossentropy"}), ("shuffle", {"train.shuffle": True}),
            ("adam", {"train.optimizer": {"name": "adam", "learning_rate": 0.001}}),
            ("wider", {"model.hidden": [max(w, 64) for w in m["hidden"]] or [64]}),
            ("dropout 0.2", {"model.dropout": 0.2} if not m["dropout"] else {}),
            ("early stopping", {"train.early_stopping": {"monitor": "val_loss", "patience": 3, "restore_best": True}})]
    return [(name, ch) for name, ch in out if ch and any(_get(raw, k) != v for k, v in ch.items())]


def changed(raw: dict, changes: dict) -> dict:
    from mlplab.spec import set_dotted
    new = copy.deepcopy(raw)
    for key, value in changes.items():
        set_dotted(new, key, value)
    return new


def spec_key(exp) -> str:
    """Two experiments with this key equal train the same run."""
    resolved = exp.resolved()
    resolved.pop("name", None)
    return json.dumps(resolved, sort_keys=True)
