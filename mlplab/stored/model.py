"""A stored run's Keras model: model.keras, written when a population of one ends or the first time
it is needed (`load_model`, `model_file`) from the run's trained weights (weights_final.npz) and its
population's file (population.npz: the model's config and each member's non-trainable state, see
training.record). Keras is imported inside the functions: reading a run's other files needs none.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import BadInput
from ..store import Store
from ..store.artifacts import FINAL_WEIGHTS, MODEL, POPULATION
from .folder import run_folder

_making: dict[str, threading.Lock] = {}   # run id -> lock: one model.keras made at a time per run


def load_model(store: Store, run: dict, *, safe_mode: bool = True, custom_objects: dict | None = None):
    """`keras.models.load_model` of a run's model.keras (uncompiled), made first from the run's stored
    weights if it is not there yet. safe_mode=False only for a model with Lambda layers you trust;
    custom_objects for your own layer classes."""
    from ..engine import backend as _backend  # noqa: F401  (JAX backend before keras)
    import keras
    path = model_file(store, run, safe_mode=safe_mode, custom_objects=custom_objects)
    try:
        return keras.models.load_model(path, compile=False, safe_mode=safe_mode, custom_objects=custom_objects)
    except (ValueError, TypeError) as e:
        raise BadInput(f"run {run['id']}: {path} cannot be loaded ({str(e).splitlines()[0][:200]}); for a Lambda "
                       "layer you trust load it with safe_mode=False, for your own layers pass "
                       "custom_objects={...}") from None


def model_file(store: Store, run: dict, *, safe_mode: bool = True, custom_objects: dict | None = None) -> Path:
    """The path of the run's model.keras, written now from its population's weights if missing
    (BadInput when the run stored no model)."""
    path = run_folder(store, run["id"]) / MODEL
    if path.exists():
        return path
    where = population_of(store, run)
    if where is None:
        owner = ((run.get("summary") or {}).get("weights") or {}).get("run")
        if owner:
            run_folder(store, owner)   # its population's file went with that run's folder
        note = (run.get("summary") or {}).get("note") or f"the run stored no model (status {run.get('status')})"
        raise BadInput(f"run {run['id']}: {note}")
    with _making.setdefault(run["id"], threading.Lock()):
        if not path.exists():
            from ..spec import stored_experiment
            model = rebuilt_model(store, run, safe_mode=safe_mode, custom_objects=custom_objects)
            write_model_file(store, run["id"], model, stored_experiment(run["spec"]).train)
    return path


def population_of(store: Store, run: dict) -> Path | None:
    """The file holding the run's trained weights, if it has one."""
    where = (run.get("summary") or {}).get("weights") or {}
    if not where.get("run"):
        return None
    path = store.artifacts / where["run"] / where.get("file", POPULATION)
    return path if path.exists() else None


def population_weights(store: Store, run: dict) -> tuple[str, list[str], list[np.ndarray], list[np.ndarray]]:
    """(model config JSON, trainable variable names, trainable arrays, non-trainable arrays) of a run."""
    key = run["summary"]["weights"].get("key", run["id"])
    with np.load(population_of(store, run)) as z:
        config, names = str(z["config"]), [str(n) for n in z["trainable_names"]]
        state = sorted((f for f in z.files if f.startswith(f"{key}.n")), key=lambda f: int(f.rsplit(".n", 1)[1]))
        non_trainable = [z[f] for f in state]
    final = trained_weights(store, run["id"])
    return config, names, [final[n] for n in names], non_trainable


def trained_weights(store: Store, run_id: str) -> dict[str, np.ndarray]:
    """The run's weights_final.npz: its trained weights by variable name ({} if it has none)."""
    path = run_folder(store, run_id) / FINAL_WEIGHTS
    if not path.exists():
        return {}
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def rebuilt_model(store: Store, run: dict, *, safe_mode: bool = True, custom_objects: dict | None = None):
    """The run's trained Keras model, from its population's file (the model's config and its weights)."""
    import json

    from ..engine import backend as _backend  # noqa: F401
    from ..engine.models import set_weights
    import keras
    config, _, trainable, non_trainable = population_weights(store, run)
    model = keras.saving.deserialize_keras_object(json.loads(config), custom_objects=custom_objects,
                                                  safe_mode=safe_mode)
    set_weights(model, trainable, non_trainable)
    return model


def write_model_file(store: Store, run_id: str, model, train) -> Path:
    """Save a trained model as the run's model.keras, compiled as it was trained (`train`: the spec's
    train section), its optimizer built, so `keras.models.load_model` finds what it expects."""
    from ..engine.optimizers import keras_optimizer
    model.compile(optimizer=keras_optimizer(train.optimizer.name, train.optimizer.settings()), loss=train.loss,
                  metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)
    with store.artifact_writer(run_id, MODEL) as tmp:
        model.save(tmp)
    return run_folder(store, run_id) / MODEL
