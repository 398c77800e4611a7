"""A stored run's artifacts, each loaded once: the one loader every view uses (reports, figures,
the Python API, the dashboard, predict and export).

    art = RunArtifacts(store, store.get_run("last"))
    art.model, art.data, art.predictions, art.stats, art.findings
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..analysis.doctor import Finding, diagnose
from ..data import load_data
from ..errors import BadInput
from ..spec import stored_experiment
from ..store import Store, loads


def load_stats(store: Store, run_ref: str) -> dict | None:
    """The run's stats.json (per-epoch statistics for the doctor and figures), or None."""
    path = store.artifact_dir(store.resolve(run_ref)) / "stats.json"
    return loads(path.read_text()) if path.exists() else None


def load_findings(store: Store, run_ref: str) -> list[Finding]:
    """The doctor's findings for a stored run (reads the run and its stats.json)."""
    run = store.get_run(run_ref)
    return diagnose(run, load_stats(store, run["id"]))


def load_model(store: Store, run: dict, *, safe_mode: bool = True, custom_objects: dict | None = None):
    """`keras.models.load_model` of a run's model.keras (uncompiled). safe_mode=False only for a model
    with Lambda layers you trust; custom_objects for your own layer classes."""
    from ..engine import backend as _backend  # noqa: F401  (JAX backend before keras)
    import keras
    path = Path(store.artifact_dir(run["id"])) / "model.keras"
    if not path.exists():
        note = (run.get("summary") or {}).get("note") or f"the run stored no model (status {run.get('status')})"
        raise BadInput(f"run {run['id']}: {note}")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=safe_mode, custom_objects=custom_objects)
    except (ValueError, TypeError) as e:
        raise BadInput(f"run {run['id']}: {path} cannot be loaded ({str(e).splitlines()[0][:200]}); for a Lambda "
                       "layer you trust load it with safe_mode=False, for your own layers pass "
                       "custom_objects={...}") from None


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

    @property
    def experiment(self):
        return self._once("experiment", lambda: stored_experiment(self.run["spec"]))

    @property
    def data(self):
        return self._once("data", lambda: load_data(self.experiment))

    @property
    def model(self):
        """The trained Keras model (model.keras, in Keras' safe mode), loaded on first use."""
        return self._once("model", lambda: load_model(self.store, self.run))

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
        return self._once("final", lambda: {v.path: np.asarray(v.value) for v in self.model.trainable_variables})

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
        """Whether the run stored a model (model.keras)."""
        return (self.folder / "model.keras").exists()

    @property
    def n_features(self) -> int:
        shape = (self.run.get("summary") or {}).get("data", {}).get("input_shape") or self.data.info.input_shape
        return int(np.prod(shape))
