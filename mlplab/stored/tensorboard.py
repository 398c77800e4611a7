"""TensorBoard event files of a run, written with tensorboardX (TensorBoard's format, no TensorFlow):
the tags a run's history keys get, the writer, its output folder checked first, and weight histograms.
Shared by the event files written while runs train (training.tensorboard) and those `mlplab export
--tensorboard` writes of a stored run (export), so both show a run under the same tags.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import BadInput

# history key -> TensorBoard tag: metrics of one kind share a chart, one line per split
SPLITS = {"": "train_running", "train_": "train", "val_": "val", "test_": "test"}


def tag_of(key: str) -> str | None:
    """The TensorBoard tag of a history key (None for epoch and seconds)."""
    for prefix, split in sorted(SPLITS.items(), key=lambda kv: -len(kv[0])):
        if key.startswith(prefix):
            metric = key[len(prefix):]
            if metric in ("loss", "accuracy"):
                return f"{metric}/{split}"
    return None if key in ("epoch", "seconds") else f"other/{key}"


def clean_tag(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name)


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


def add_histogram(writer, tag: str, values: np.ndarray, step: int) -> None:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size and np.isfinite(values).all():
        writer.add_histogram(tag, values, step)
