"""A stored run's files, each loaded once: what every view reads (reports, figures, the Python API,
the dashboard, predict and export).

    art = RunArtifacts(store, store.get_run("last"))
    art.model, art.data, art.predictions, art.stats, art.findings

The files' names are store.artifacts'; training.record writes them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..analysis.doctor import Finding, diagnose
from ..store import Store, loads
from ..store.artifacts import HIDDEN, INITIAL_WEIGHTS, MODEL, PREDICTIONS, PROGRESS, SCALING
from ..store.health import read_stats
from .folder import run_folder
from .model import load_model, population_of, trained_weights


def load_stats(store: Store, run_ref: str) -> dict | None:
    """The run's stats.json (per-epoch statistics for the doctor and figures), or None."""
    return read_stats(run_folder(store, store.resolve(run_ref)))


def load_findings(store: Store, run_ref: str) -> list[Finding]:
    """The doctor's findings for a stored run (reads the run and its stats.json; diagnosed once, here)."""
    run = store.get_run(run_ref, health=False)
    return diagnose(run, load_stats(store, run["id"]))


def load_scaling(store: Store, run_id: str):
    """The data.Scaling the run's inputs were scaled with (its scaling.json), or None: a run stored before
    runs kept it, or one trained on arrays mlplab did not scale."""
    from ..data import Scaling   # the data stage when needed: serving stored views needs none
    path = run_folder(store, run_id) / SCALING
    return Scaling.from_json(loads(path.read_text())) if path.exists() else None


def read_progress(store: Store, run_id: str) -> dict | None:
    """The run's latest in-epoch progress (training.live writes it), or None (not running, or no epoch
    long enough yet)."""
    try:
        return loads((store.artifacts / run_id / PROGRESS).read_text())
    except (FileNotFoundError, ValueError):
        return None


@dataclass
class RunArtifacts:
    """Everything the figures of one run need, loaded lazily from the store."""
    store: Store
    run: dict

    def __post_init__(self):
        self.id = self.run["id"]
        self.folder = run_folder(self.store, self.id)   # BadInput when it is gone
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
            with np.load(self.folder / PREDICTIONS) as z:
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
            with np.load(self.folder / INITIAL_WEIGHTS) as z:
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
        return (self.folder / MODEL).exists() or population_of(self.store, self.run) is not None

    @property
    def n_features(self) -> int:
        shape = (self.run.get("summary") or {}).get("data", {}).get("input_shape") or self.data.info.input_shape
        return int(np.prod(shape))
