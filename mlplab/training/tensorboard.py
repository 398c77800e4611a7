"""TensorBoard event files written while runs train (`--tensorboard DIR`, `train.tensorboard`,
`ml.fit(tensorboard=DIR)`), under the tags `mlplab export --tensorboard` uses (stored.tensorboard).

Under DIR/<run-id>/, after every epoch: each metric as a scalar (`loss/train_running`, `loss/val`,
`accuracy/test`, `other/learning_rate`, ...), a histogram of every weight tensor and of its loss
gradient on a fixed batch of training rows (inference mode, the doctor's probe rows), and the
gradient's norm per weight tensor. Written with tensorboardX (TensorBoard's format, no TensorFlow),
flushed every epoch, so `tensorboard --logdir DIR` shows a run as it trains.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.callbacks import Callback
from ..stored.tensorboard import add_histogram, check_output_dir, clean_tag, summary_writer, tag_of


class LiveTensorBoard(Callback):
    """An engine.train callback (on_epoch_end) writing each member's epoch under its folder/<run-id>/
    (folders: one per member, None for members that write none)."""

    def __init__(self, folders: list[str | Path | None], run_ids: list[str], names: list[str],
                 option: str = "train.tensorboard"):
        writer = summary_writer(option)
        self.writers = [writer(logdir=str(check_output_dir(option, folder) / run_id), flush_secs=30)
                        if folder else None for folder, run_id in zip(folders, run_ids)]
        for w, run_id, name in zip(self.writers, run_ids, names):
            if w:
                w.add_text("run", f"{run_id} · {name}", 0)

    @staticmethod
    def check(experiments: list) -> None:
        """BadInput, before any run starts, if a run asks for TensorBoard and cannot write it."""
        for folder in {e.train.tensorboard for e in experiments if e.train.tensorboard}:
            summary_writer("train.tensorboard")
            check_output_dir("train.tensorboard", folder)

    @classmethod
    def of(cls, experiments: list, run_ids: list[str]) -> tuple:
        """The callbacks for these runs: (LiveTensorBoard,) when any of them asks for it, else ()."""
        folders = [e.train.tensorboard for e in experiments]
        return (cls(folders, run_ids, [e.display_name for e in experiments]),) if any(folders) else ()

    def on_epoch_end(self, epoch: int, records: list[dict | None], view) -> None:
        names = [clean_tag(n) for n in view.names]
        gradients = view.gradients()
        for i, (writer, record) in enumerate(zip(self.writers, records)):   # padding members have no writer
            if record is None or writer is None:
                continue
            for key, value in record.items():
                tag = tag_of(key)
                if tag and value is not None and np.isfinite(value):
                    writer.add_scalar(tag, float(value), epoch)
            trainable, _ = view.weights(i)
            for name, w, g in zip(names, trainable, gradients[i]):
                add_histogram(writer, f"weights/{name}", w, epoch)
                add_histogram(writer, f"gradients/{name}", g, epoch)
                if np.isfinite(g).all():
                    writer.add_scalar(f"grad_norm/{name}", float(np.linalg.norm(g)), epoch)
            writer.flush()

    def on_train_end(self) -> None:
        for w in self.writers:
            if w:
                w.close()
