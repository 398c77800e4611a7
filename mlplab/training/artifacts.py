"""A stored run's artifacts, each loaded once: the one loader every view uses (reports, figures,
the Python API, the dashboard, predict and export).

    art = RunArtifacts(store, store.get_run("last"))
    art.model, art.data, art.predictions, art.stats, art.findings

A run's trained weights are in its weights_final.npz, the rest of its model in its population's
file (`population.npz`, see training.record); its `model.keras` is written when the run ends (a
population of one) or the first time it is needed (`load_model`, `model_file`): callers see a
model.keras either way.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..analysis.doctor import Finding, diagnose
from ..errors import BadInput
from ..store import Store
from ..store.health import read_stats

POPULATION = "population.npz"        # a population's weights (training.record.write_population)
HIDDEN = "hidden.npz"                # a single run's last hidden layer on the t-SNE's test samples
_making: dict[str, threading.Lock] = {}   # run id -> lock: one model.keras made at a time per run


def load_stats(store: Store, run_ref: str) -> dict | None:
    """The run's stats.json (per-epoch statistics for the doctor and figures), or None."""
    return read_stats(store.artifact_dir(store.resolve(run_ref)))


def load_findings(store: Store, run_ref: str) -> list[Finding]:
    """The doctor's findings for a stored run (reads the run and its stats.json)."""
    run = store.get_run(run_ref)
    return diagnose(run, load_stats(store, run["id"]))


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
    path = Path(store.artifact_dir(run["id"])) / "model.keras"
    if path.exists():
        return path
    where = population_of(store, run)
    if where is None:
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
    path = store.artifact_dir(run_id) / "weights_final.npz"
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
    with store.artifact_writer(run_id, "model.keras") as tmp:
        model.save(tmp)
    return store.artifact_dir(run_id) / "model.keras"


@dataclass
class RunArtifacts:
    """Everything the figures of one run need, loaded lazily from the store."""
    store: Store
    run: dict

    def __post_init__(self):
        self.id = self.run["id"]
        self.folder = self.store.artifact_dir(self.id)
        self._cache: dict = {}
        self._loading: dict[str, threading.Lock] = {}   # threads drawing one run's views load each thing once

    def _once(self, key: str, load: Callable):
        if key not in self._cache:
            with self._loading.setdefault(key, threading.Lock()):
                if key not in self._cache:
                    self._cache[key] = load()
        return self._cache[key]

    @property
    def stats(self) -> dict | None:
        return self._once("stats", lambda: load_stats(self.store, self.id))

    @property
    def predictions(self) -> tuple[np.ndarray, np.ndarray]:
        def load():
            with np.load(self.folder / "predictions.npz") as z:
                return z["probabilities"], z["y_true"]
        return self._once("predictions", load)

    # the spec and data layers are imported when first needed: serving stored views needs neither
    @property
    def experiment(self):
        from ..spec import stored_experiment
        return self._once("experiment", lambda: stored_experiment(self.run["spec"]))

    @property
    def data(self):
        from ..data import load_data
        return self._once("data", lambda: load_data(self.experiment))

    @property
    def model(self):
        """The trained Keras model (model.keras, in Keras' safe mode), loaded on first use."""
        return self._once("model", lambda: load_model(self.store, self.run))

    @property
    def hidden(self) -> dict | None:
        """What the run stored at its end for the t-SNE of its last hidden layer (training.record, a run
        trained alone): {rows, labels, outputs, layer} on the default t-SNE samples; None for other runs."""
        def load():
            try:
                with np.load(self.folder / HIDDEN) as z:
                    return {"rows": z["rows"], "labels": z["labels"], "outputs": z["outputs"], "layer": str(z["layer"])}
            except FileNotFoundError:
                return None
        return self._once("hidden", load)

    @property
    def findings(self) -> list[Finding]:
        return self._once("findings", lambda: diagnose(self.run, self.stats))

    @property
    def initial_weights(self) -> dict[str, np.ndarray]:
        def load():
            with np.load(self.folder / "weights_init.npz") as z:
                return {k: z[k] for k in z.files}
        return self._once("initial", load)

    @property
    def final_weights(self) -> dict[str, np.ndarray]:
        """The trained weights by variable name: weights_final.npz (no Keras needed), else the model's."""
        def load():
            return trained_weights(self.store, self.id) or {v.path: np.asarray(v.value)
                                                            for v in self.model.trainable_variables}
        return self._once("final", load)

    @property
    def class_names(self) -> list[str]:
        return list((self.run.get("summary") or {}).get("data", {}).get("class_names") or self.data.info.class_names)

    @property
    def image_shape(self):
        """(height, width) of image inputs, None for other data: from the run's summary (runs since
        views were stored), else from its data."""
        data = (self.run.get("summary") or {}).get("data") or {}
        if "image_shape" in data:
            return tuple(data["image_shape"]) if data["image_shape"] else None
        return self.data.info.image_shape

    @property
    def has_model(self) -> bool:
        """Whether the run stored a model: its model.keras, or the weights to make it from."""
        return (self.folder / "model.keras").exists() or population_of(self.store, self.run) is not None

    @property
    def n_features(self) -> int:
        shape = (self.run.get("summary") or {}).get("data", {}).get("input_shape") or self.data.info.input_shape
        return int(np.prod(shape))
