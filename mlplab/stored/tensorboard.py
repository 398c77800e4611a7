"""TensorBoard event files of a run, written with tensorboardX (TensorBoard's format, no TensorFlow):
the one place that decides where each value goes, the writer, its output folder checked first, weight
histograms and a sweep's HParams. Shared by the event files written while runs train
(training.tensorboard) and those `mlplab export --tensorboard` writes of a stored run (export), so both
show a run under the same tags.

The layout is Keras' TensorBoard callback's: a run's folder holds one subfolder per split (`train/`,
`validation/`, ...) and every split uses the same tag names (`epoch_loss`, `epoch_accuracy`), so
TensorBoard draws a metric's splits on one chart, as it does for `model.fit(callbacks=[TensorBoard()])`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import BadInput

# history key prefix -> the run's subfolder: `train` holds the running values Keras' fit reports (and what
# is not per split: the learning rate, the doctor's statistics, the weight histograms), `train_eval` the
# inference-mode values on the training rows
SPLITS = {"": "train", "train_": "train_eval", "val_": "validation", "test_": "test"}
SPLIT_METRICS = ("loss", "accuracy")
STATS = ("weight_norm", "grad_norm", "update_ratio")   # the doctor's per-layer statistics, one chart per layer


def tag_of(key: str) -> tuple[str, str] | None:
    """(subfolder, tag) of a history key, as Keras' callback names them: val_loss -> (validation,
    epoch_loss), learning_rate -> (train, epoch_learning_rate); None for epoch and seconds."""
    if key in ("epoch", "seconds"):
        return None
    for prefix, split in sorted(SPLITS.items(), key=lambda kv: -len(kv[0])):
        if key.startswith(prefix) and key[len(prefix):] in SPLIT_METRICS:
            return split, f"epoch_{key[len(prefix):]}"
    return "train", f"epoch_{key}"


def clean_tag(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name)


def epoch_scalars(metrics: dict[str, Any], stats: dict[str, Any], epoch: int) -> Iterator[tuple[str, str, float]]:
    """(subfolder, tag, value) of every finite scalar of one epoch: its history values (metrics: key ->
    value) and the doctor's statistics of that epoch (stats as stored: `weights` names the layers, `epoch`
    the epochs, each of STATS one row of values per epoch)."""
    for key, value in metrics.items():
        where = tag_of(key)
        if where and value is not None and np.isfinite(value):
            yield (*where, float(value))
    epochs = list(stats.get("epoch") or [])
    row = epochs.index(epoch) if epoch in epochs else None
    for key in STATS if row is not None else ():
        rows = stats.get(key) or []
        for name, value in zip(stats.get("weights") or [], rows[row] if row < len(rows) else []):
            if value is not None and np.isfinite(value):
                yield "train", f"{key}/{clean_tag(name)}", float(value)


def weight_tag(name: str) -> tuple[str, str]:
    """(subfolder, tag) of a weight tensor's histogram (Keras' callback: under train/, by variable path)."""
    return "train", f"weights/{clean_tag(name)}"


class RunEvents:
    """A run's event files: one tensorboardX writer per subfolder of `folder`, opened when first written."""

    def __init__(self, folder: str | Path, option: str, flush_secs: int = 30):
        self.folder, self.flush_secs = Path(folder), flush_secs
        self.SummaryWriter = summary_writer(option)
        self.writers: dict[str, Any] = {}

    def writer(self, split: str):
        if split not in self.writers:
            self.writers[split] = self.SummaryWriter(logdir=str(self.folder / split), flush_secs=self.flush_secs)
        return self.writers[split]

    def epoch(self, epoch: int, metrics: dict[str, Any], stats: dict[str, Any]) -> None:
        for split, tag, value in epoch_scalars(metrics, stats, epoch):
            self.writer(split).add_scalar(tag, value, epoch)

    def weights(self, step: int, named: dict[str, np.ndarray]) -> None:
        for name, w in named.items():
            values = np.asarray(w, dtype=np.float64).ravel()
            if values.size and np.isfinite(values).all():
                split, tag = weight_tag(name)
                self.writer(split).add_histogram(tag, values, step)

    def text(self, tag: str, text: str) -> None:
        self.writer("train").add_text(tag, text, 0)

    def hparams(self, values: dict[str, Any], metrics: dict[str, float]) -> None:
        """The HParams dashboard's record of this run (a sweep's member): the swept values (numbers, strings
        and booleans as they are, anything else as text) and its result's metrics."""
        from tensorboardX.summary import hparams
        plain = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in values.items()}
        finite = {f"hparams/{k}": float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}
        writer = self.writer("")   # the run's folder itself: one HParams session per run
        for summary in hparams(plain, finite):
            writer.file_writer.add_summary(summary)
        for tag, value in finite.items():
            writer.add_scalar(tag, value, 0)

    def flush(self) -> None:
        for w in self.writers.values():
            w.flush()

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def check_output_dir(option: str, path: str | Path) -> Path:
    """`path` as a folder this process can create or write into, or BadInput naming `option`."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise BadInput(f"{option} {p}: is a file; expected a folder (created when missing)")
    existing = next(a for a in (p.absolute(), *p.absolute().parents) if a.exists())
    if not existing.is_dir():
        raise BadInput(f"{option} {p}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise BadInput(f"{option} {p}: the folder {existing} is not writable")
    return p


def summary_writer(option: str):
    """tensorboardX's SummaryWriter, or BadInput saying how to install it."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise BadInput(f"{option}: needs the tensorboardX package: pip install 'mlplab[tensorboard]'") from None
    return SummaryWriter
