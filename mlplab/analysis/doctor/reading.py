"""`RunView`: what the rules read from a stored run record and its stats.json, computed once.

History as plain numpy arrays (NaN where absent), the per-epoch statistics of
`engine.probe` as (epochs, layers) arrays, and the spec facts the rules ask about
(optimizer and learning rate, batch size, initializers, activations, regularizers). Chance
level and divergence come from `analysis.status`, so the doctor agrees with the run's status.
`fixes` and `suggestion` turn spec changes into safe fixes and words for this run (`--set`
options, or ml.fit's arguments for a run trained on the user's own Keras model).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import BadInput
from ...spec import Experiment, stored_experiment
from ..status import at_chance, chance_level, divergence
from .fixes import Fix, safe_fixes, suggestion_text
from .thresholds import EXPLODING_RATIO, VANISHING_RATIO


def experiment_of(spec: dict | None) -> Experiment:
    """The validated experiment of a stored spec (`spec.stored_experiment`): its defaults are the spec's own,
    never the doctor's. A spec that no longer validates (written by an older version) reads as its valid
    sections over the defaults."""
    try:
        return stored_experiment(dict(spec or {}))
    except BadInput:
        valid = {}
        for section in ("seed", "data", "model", "train"):
            if section in (spec or {}):
                try:
                    stored_experiment({**valid, section: spec[section]})
                    valid[section] = spec[section]
                except BadInput:
                    pass
        return stored_experiment(valid)


class RunView:
    """A run record (`Store.get_run`) and its statistics (stats.json, or None), as the rules read them."""

    def __init__(self, run: dict, stats: dict | None):
        self.run = run
        self.experiment = experiment_of(run.get("spec"))
        self.spec = self.experiment.resolved()   # every key with its value, defaults filled by the spec's schema
        self.status = run.get("status") or "ok"
        h = run.get("history") or {}
        self.h = {k: np.asarray([np.nan if v is None else v for v in vals], float) for k, vals in h.items()
                  if isinstance(vals, list)}
        self.epochs = len(self.h.get("loss", []))
        summary = run.get("summary") or {}
        data = summary.get("data") or {}
        self.result = summary.get("result") or {}
        self.keras_model = summary.get("keras_model") or None   # set by ml.fit
        self.class_names = data.get("class_names") or []
        self.class_counts = data.get("class_counts") or {}
        counts = self.class_counts.get("train") or []
        self.num_classes = max(len(self.class_names) or len(counts), 2)
        self.chance = chance_level(counts, self.num_classes)   # the same chance level as the run's status
        self.warnings = list(run.get("warnings") or [])
        codes = list(data.get("warning_codes") or [])   # data.prepare.WARNING_CODES, in the warnings' order
        self.data_warnings = [(codes[i] if i < len(codes) else "", w) for i, w in enumerate(self.warnings)]
        train = self.experiment.train
        self.optimizer = train.optimizer.name
        self.lr = train.lr
        self.momentum = float(self.spec["train"]["optimizer"].get("momentum") or 0.0)
        self.loss_name = train.loss
        self.early_stopping = self.spec["train"]["early_stopping"] or None
        self.batch_size = train.batch_size
        self.shuffle = train.shuffle
        self.model = self.spec["model"]
        self.stats = stats or {}
        self.weights = list(self.stats.get("weights") or [])
        self.layers = list(self.stats.get("layers") or [])

    # ------------------------------------------------------------ history

    def metric(self, *names: str) -> np.ndarray:
        """The first of `names` the history has with a number in it, else an empty array."""
        for n in names:
            a = self.h.get(n)
            if a is not None and a.size and not np.all(np.isnan(a)):
                return a
        return np.zeros(0)

    @property
    def train_loss(self) -> np.ndarray:
        return self.metric("train_loss", "loss")

    @property
    def train_acc(self) -> np.ndarray:
        return self.metric("train_accuracy", "accuracy")

    def final(self, name: str) -> float:
        """A metric of the weights the run ends with (its result), else of the last epoch; NaN if unknown."""
        v = self.result.get(name)
        if isinstance(v, (int, float)) and np.isfinite(v):
            return float(v)
        a = self.metric(name)
        return float(a[-1]) if a.size and np.isfinite(a[-1]) else float("nan")

    @property
    def planned_epochs(self) -> int:
        return self.experiment.train.epochs

    def near_chance(self, acc: float) -> bool:
        return at_chance(acc, self.chance)

    def divergence(self) -> tuple[int, str] | None:
        """(epoch, how) when the run diverged, by the rule that sets the run's status."""
        found = divergence(self.run.get("history") or {}, self.num_classes, self.chance, self.crossentropy)
        if found is None and self.status == "diverged":   # e.g. NaN weights with a finite loss
            how = self.run.get("error") or "the loss or the weights became NaN/infinite"  # the engine's words
            return max(self.epochs, 1), how.rstrip(".")
        return found

    def data_warned(self, code: str) -> bool:
        """Did the data checks give a warning of this code (data.prepare.WARNING_CODES)?"""
        return any(c == code for c, _ in self.data_warnings)

    # ------------------------------------------------------------ statistics

    def stat(self, name: str) -> np.ndarray:
        """A statistic as an (epochs, layers) array, NaN for null; row 0 is at initialization."""
        rows = self.stats.get(name)
        if not rows:
            return np.zeros((0, 0))
        return np.asarray([[np.nan if v is None else v for v in row] for row in rows], float)

    def stat_row(self, name: str, row: int = 0) -> np.ndarray:
        """One epoch's row of a statistic (default: at initialization), empty when absent."""
        a = self.stat(name)
        return a[row] if a.size and len(a) > row else np.zeros(0)

    @property
    def stat_epochs(self) -> list[int]:
        return list(self.stats.get("epoch") or [])

    def layer_kind(self, j: int) -> str:
        return self.layers[j].get("kind", "") if j < len(self.layers) else ""

    def layer_name(self, j: int) -> str:
        return self.layers[j]["name"] if j < len(self.layers) else f"layer {j + 1}"

    def grad_ratio(self) -> tuple[float, int | None]:
        """Median over epochs of |grad first kernel| / |grad last kernel|, and the first epoch it is extreme."""
        g = self.stat("grad_norm")
        if g.size == 0 or g.shape[1] < 3:  # a gradient ratio across depth needs at least two hidden kernels
            return float("nan"), None
        first, last = g[:, 0], g[:, -1]
        ok = np.isfinite(first) & np.isfinite(last) & (last > 1e-8)
        if not ok.any():
            return float("nan"), None
        ratio = np.where(ok, first / np.where(ok, last, 1), np.nan)
        med = float(np.nanmedian(ratio))
        extreme = np.flatnonzero(ok & ((ratio < VANISHING_RATIO) | (ratio > EXPLODING_RATIO)))
        epochs = self.stat_epochs
        return med, (epochs[extreme[0]] if extreme.size and epochs else None)

    # ------------------------------------------------------------ the spec

    def inits(self) -> list[dict]:
        """The model's initializer and each spec layer's own, as {"name": ..., parameters}."""
        out = [_init_dict(self.model.get("init"))]
        for layer in self.model.get("layers") or []:
            if layer.get("init"):
                out.append(_init_dict(layer["init"]))
        return out

    @property
    def hidden_widths(self) -> list[int]:
        """The units of each hidden dense layer (`hidden`, or a `layers` spec's dense layers)."""
        layers = self.model.get("layers")
        return [l["units"] for l in layers if l.get("type") == "dense"] if layers else list(self.model.get("hidden") or [])

    @property
    def has_hidden_layers(self) -> bool:
        """Any weights before the output layer (hidden units, or a `layers` spec's dense or conv layers)?"""
        layers = self.model.get("layers")
        if layers:
            return any(l.get("type") in ("dense", "conv2d") for l in layers)
        return bool(self.model.get("hidden"))

    @property
    def hidden_activations(self) -> list[str]:
        if self.model.get("layers"):
            return [l.get("activation") for l in self.model["layers"] if l.get("activation")]
        return [self.model.get("activation", "relu")] * len(self.model.get("hidden") or [])

    @property
    def regularizers(self) -> tuple[bool, bool]:
        """(has dropout, has batch-norm)"""
        layers = self.model.get("layers") or []
        dropout = bool(self.model.get("dropout")) or any(l.get("type") == "dropout" and l.get("rate") for l in layers)
        bn = bool(self.model.get("batchnorm")) or any(l.get("type") == "batchnorm" for l in layers)
        return dropout, bn

    @property
    def crossentropy(self) -> bool:
        return "crossentropy" in self.loss_name

    @property
    def model_is_exact(self) -> bool:
        """Does the spec's model section describe the trained model (not so for most ml.fit models)?"""
        return not self.keras_model or bool(self.keras_model.get("spec_is_exact"))

    # ------------------------------------------------------------ fixes in words

    def fixes(self, *fixes: Fix) -> list[Fix]:
        """The fixes that change something in this run (never its current settings)."""
        return safe_fixes(self.spec, list(fixes))

    def suggestion(self, fixes: list[Fix], note: str = "") -> str:
        """Fixes as words: `--set` options, or ml.fit's arguments for a run of the user's Keras model."""
        return suggestion_text(fixes, python=bool(self.keras_model), note=note)


def _init_dict(init: Any) -> dict:
    if isinstance(init, str):
        return {"name": init}
    return dict(init or {"name": "glorot_uniform"})
