"""Any Keras 3 model trained with mlplab's engine (`fit`), and the spec that comes closest to it.

The run stores a spec like any other: the model table that describes the Keras model as
closely as the spec can (`describe_keras`; `spec_is_exact` says whether it is exact), the
training settings, and a data table that loads the same data again (arrays are kept once,
by content, in the store).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput
from ..store import Store
from .home import store_of
from .keras_model import check_fits, check_metrics, compile_settings, loss_of, optimizer_of
from .progress import progress_bar
from .stored_run import Run

_INIT_NAMES = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeNormal": "he_normal",
               "HeUniform": "he_uniform", "LecunNormal": "lecun_normal", "LecunUniform": "lecun_uniform",
               "RandomNormal": "random_normal", "TruncatedNormal": "truncated_normal",
               "RandomUniform": "random_uniform", "Zeros": "zeros", "Ones": "ones", "Constant": "constant"}


# what a spec's dense layer cannot say: a layer with any of these is described inexactly
UNSAID = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint")


def _init_spec(init: Any) -> dict | None:
    name = _INIT_NAMES.get(type(init).__name__)
    if name is None:
        return None
    from ..spec import INITIALIZERS
    cfg = init.get_config()
    return {"name": name, **{k: cfg[k] for k in INITIALIZERS[name] if k in cfg}}


def _activation(layer) -> str | None:
    from ..spec import ACTIVATIONS
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return name if name in ACTIVATIONS and name != "linear" else None


def describe_keras(model) -> tuple[dict, bool, str]:
    """(the spec's model table that comes closest, whether it is exact, a short description)."""
    import keras
    L = keras.layers
    layers = [layer for layer in model.layers if not isinstance(layer, L.InputLayer)]
    body = layers[:-1] if layers and isinstance(layers[-1], L.Dense) else layers
    exact = len(body) < len(layers) and type(model) in (keras.Sequential,) \
        and all(getattr(layers[-1], k, None) is None for k in UNSAID)
    out, words = [], []
    for layer in body:
        if isinstance(layer, L.Dense):
            entry = {"type": "dense", "units": int(layer.units)}
            if _activation(layer):
                entry["activation"] = _activation(layer)
            init = _init_spec(layer.kernel_initializer)
            if init:
                entry["init"] = init
            exact &= init is not None and all(getattr(layer, k, None) is None for k in UNSAID)
            out.append(entry)
            words.append(str(layer.units))
        elif isinstance(layer, L.Dropout):
            out.append({"type": "dropout", "rate": float(layer.rate)})
            words.append("dropout")
        elif isinstance(layer, L.BatchNormalization):
            out.append({"type": "batchnorm"})
            words.append("bn")
        elif isinstance(layer, L.Flatten):
            out.append({"type": "flatten"})
        elif isinstance(layer, L.Conv2D) and layer.strides[0] == layer.strides[1] \
                and layer.kernel_size[0] == layer.kernel_size[1]:
            entry = {"type": "conv2d", "filters": int(layer.filters), "kernel": int(layer.kernel_size[0]),
                     "strides": int(layer.strides[0]), "padding": layer.padding}
            if _activation(layer):
                entry["activation"] = _activation(layer)
            out.append(entry)
            words.append(f"conv{layer.filters}")
            exact = False  # initializers and regularizers of conv layers are not compared
        elif isinstance(layer, L.MaxPooling2D) and layer.pool_size[0] == layer.pool_size[1]:
            out.append({"type": "max_pool", "size": int(layer.pool_size[0])})
            words.append("pool")
        elif isinstance(layer, L.Activation) and _activation(layer) and out and out[-1]["type"] in ("dense", "batchnorm"):
            out[-1].setdefault("activation", _activation(layer))
        else:
            exact = False
            words.append(type(layer).__name__)
    acts = {e.get("activation") for e in out if e.get("activation")}
    description = ("-".join(words) or "logistic") + (f" {acts.pop()}" if len(acts) == 1 else "") + " (keras)"
    return {"layers": out}, exact, description


def _input_rank(model) -> int | None:
    try:
        return len(model.inputs[0].shape) - 1
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _data_section(data: Any, *, flatten: bool, scale: str | None, validation_split: float, store: Store,
                  options: dict) -> dict:
    """The spec's data table that loads `data` again (arrays are kept once, by content, in the store)."""
    from ..data import Dataset
    if isinstance(data, (str, os.PathLike)):
        return {"dataset": os.fspath(data), "scale": scale or "unit", "validation_split": validation_split,
                "flatten": flatten, **options}
    if isinstance(data, Dataset):
        info = data.info
        x_train = np.concatenate([data.x_train, data.x_val])
        y_train = np.concatenate([data.y_train, data.y_val])
        arrays = (x_train, y_train, data.x_test, data.y_test)
        validation_split = (len(data.x_val) + 0.5) / len(x_train) if len(data.x_val) else 0.0
        class_names = info.class_names
        scale = scale or "none"
    elif isinstance(data, (tuple, list)) and len(data) == 4:
        arrays = tuple(np.asarray(a) for a in data)
        class_names = None
        scale = scale or "none"
    else:
        raise BadInput(f"data {type(data).__name__}: expected a data set name (\"digits\", \"mnist\", a path), "
                       "a Dataset from ml.load_dataset, or a tuple (x_train, y_train, x_test, y_test)")
    for a, what in zip(arrays, ("x_train", "y_train", "x_test", "y_test")):
        if not np.issubdtype(a.dtype, np.number):
            raise BadInput(f"data {what}: expected numbers, got dtype {a.dtype}")
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(str((a.dtype, a.shape)).encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    folder = Path(store.home) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest.hexdigest()[:16]}.npz"
    if not path.exists():
        extra = {"class_names": np.asarray(class_names)} if class_names else {}
        tmp = folder / f".{path.stem}.{os.getpid()}.tmp.npz"
        np.savez_compressed(tmp, x_train=arrays[0], y_train=arrays[1], x_test=arrays[2], y_test=arrays[3], **extra)
        tmp.replace(path)
    return {"dataset": str(path), "scale": scale, "validation_split": validation_split, "flatten": flatten}


def _validated(raw: dict, exact: bool):
    """(the Experiment of a fit's spec, whether its model table is exact): the approximation of an
    odd model that the spec refuses becomes a placeholder, keeping the training settings."""
    from ..spec import validate
    try:
        return validate(raw), exact
    except BadInput as e:
        if not str(e).startswith("model."):
            raise
        return validate({**raw, "model": {"hidden": []}}), False


def _model_section(model) -> tuple[dict, bool, str, bool]:
    """(the spec's model table, whether it says all of the model, a short description, whether the data
    is fed flat: the model takes rows, and makes images itself if it needs them)."""
    rank = _input_rank(model)
    flatten = rank is None or rank <= 1
    approx, exact, description = describe_keras(model)
    if flatten and any(layer["type"] in ("conv2d", "max_pool") for layer in approx["layers"]):
        approx, exact = {"hidden": []}, False   # images made inside the model (Reshape): the spec cannot say it
    return approx, exact, description, flatten


def _train_section(model, optimizer: Any, learning_rate: float | None, loss: str | None) -> tuple[dict, Any, bool]:
    """(the spec's optimizer and loss, the optimizer's step rules, whether the table says all of them):
    as given, else as `model.compile` set them, else Adam and sparse categorical cross-entropy."""
    settings = compile_settings(model)
    check_metrics(settings.get("metrics", []))
    if loss is None:
        loss = loss_of(settings["loss"]) if settings.get("loss") is not None else "sparse_categorical_crossentropy"
    spec, rules, honoured = optimizer_of(optimizer or settings.get("optimizer") or "adam", learning_rate)
    return {"optimizer": spec, "loss": loss}, rules, honoured


def fit(model, data: Any = "digits", *, optimizer: Any = None, learning_rate: float | None = None,
        loss: str | None = None, epochs: int = 20, batch_size: int = 32,
        early_stopping: Any = True, validation_split: float = 0.1, scale: str | None = None, shuffle: bool = True,
        seed: int = 0, name: str | None = None, store: Store | str | None = None, progress: bool = True,
        callbacks: Any = None, schedule: Any = None, tensorboard: str | os.PathLike | None = None,
        _sweep_id: str | None = None, **data_options) -> Run:
    """Train any Keras 3 model (Sequential, functional, custom layers) with mlplab's engine and
    store it as a run: history, doctor's findings, report, figures, as for a spec run.

    data: a data set name or path, a Dataset from `ml.load_dataset`, or (x_train, y_train,
    x_test, y_test) arrays (used as they are unless `scale` is given). The model must output
    probabilities: softmax over the classes, or one sigmoid unit with loss="binary_crossentropy".
    Like Keras' `fit`, it trains `model` in place; the returned Run holds it as `.model`.

    optimizer, loss: as given, else what `model.compile(...)` set (its optimizer with its learning-rate
    schedule, clipping and weight decay; its loss), else Adam and sparse categorical cross-entropy. What
    the engine cannot honour (other optimizers, use_ema, metrics other than accuracy, logits, a model
    whose output or input does not fit the data) is refused before training, in one line.

    callbacks: Keras callbacks, run between epochs (see api.callbacks: EarlyStopping becomes the
    run's early stopping; LearningRateScheduler, ReduceLROnPlateau, ModelCheckpoint, CSVLogger and
    your own Callback subclasses work; per-batch ones are refused). schedule: the spec's
    train.schedule ("cosine", {"name": "step", "every": 10}, ...). tensorboard: a folder to write
    TensorBoard event files under while training.
    """
    from ..engine import backend as _backend  # noqa: F401
    import keras
    from ..data import load_data
    from ..training.runner import run_model
    from .callbacks import KerasCallbacks, epoch_callbacks
    if not isinstance(model, keras.Model):
        raise BadInput(f"model {type(model).__name__}: expected a keras.Model (Sequential, functional or subclassed)")
    callbacks, stopping = epoch_callbacks(callbacks)
    s = store_of(store)
    approx, exact, description, flatten = _model_section(model)
    train, rules, honoured = _train_section(model, optimizer, learning_rate, loss)
    data_name = (os.fspath(data) if isinstance(data, (str, os.PathLike))
                 else getattr(getattr(data, "info", None), "name", "arrays"))
    raw = {"name": name or f"{Path(str(data_name)).stem}-{model.name}", "seed": seed,
           "data": _data_section(data, flatten=flatten, scale=scale, validation_split=validation_split, store=s,
                                 options=data_options),
           "model": approx,
           "train": {**train, "epochs": epochs, "batch_size": batch_size, "shuffle": shuffle,
                     "early_stopping": early_stopping if stopping is None else stopping,
                     **({"schedule": schedule} if schedule is not None else {}),
                     **({"tensorboard": os.fspath(tensorboard)} if tensorboard is not None else {})}}
    exp, exact = _validated(raw, exact and honoured)
    dataset = load_data(exp)
    check_fits(model, dataset.info.input_shape, dataset.info.num_classes, exp.train.loss)
    bar = progress_bar(progress, exp.display_name, epochs)
    extra = {"keras_model": {"class": type(model).__name__, "name": model.name, "spec_is_exact": exact,
                             "layers": [type(layer).__name__ for layer in model.layers]}}
    steps = -(-len(dataset.x_train) // batch_size)
    keras_callbacks = (KerasCallbacks(callbacks, model, exp.train, steps),) if callbacks else ()
    for hook in keras_callbacks:
        hook.begin()
    result = run_model(model, dataset, exp, s, description=description, on_epoch=bar, extra_summary=extra,
                       sweep_id=_sweep_id, on_step=bar.step if bar else None, callbacks=keras_callbacks,
                       rules=rules)
    for hook in keras_callbacks:
        hook.end()
    if bar:
        bar.close(f"{result.status} after {result.epochs_run} epochs, test accuracy {result.test_accuracy:.4f}")
    return Run(s, result.run_id, model=model, result=result)
