"""TensorBoard event files written while runs train (`--tensorboard DIR`, `train.tensorboard`,
`ml.fit(tensorboard=DIR)`), in the layout and under the tags `mlplab export --tensorboard` uses
(stored.tensorboard: Keras' callback layout, train/ and validation/ overlaid).

Under DIR/<run-id>/, after every epoch: each metric as a scalar (`train/epoch_loss`,
`validation/epoch_loss`, `test/epoch_accuracy`, `train/epoch_learning_rate`, ...), the doctor's
per-layer statistics (`weight_norm/...`, `grad_norm/...`, `update_ratio/...`) and a histogram of every
weight tensor (`weights/...`). A sweep's members also get their HParams (the swept values and the
result's metrics) when the sweep ends. Written with tensorboardX (TensorBoard's format, no TensorFlow),
flushed every epoch, so `tensorboard --logdir DIR` shows a run as it trains.
"""
from __future__ import annotations

from pathlib import Path

from ..engine.callbacks import Callback
from ..stored.tensorboard import RunEvents, check_output_dir, summary_writer


class LiveTensorBoard(Callback):
    """An engine.train callback (on_epoch_end) writing each member's epoch under its folder/<run-id>/
    (folders: one per member, None for members that write none)."""

    def __init__(self, folders: list[str | Path | None], run_ids: list[str], names: list[str],
                 option: str = "train.tensorboard"):
        self.events = [RunEvents(check_output_dir(option, folder) / run_id, option) if folder else None
                       for folder, run_id in zip(folders, run_ids)]
        for events, run_id, name in zip(self.events, run_ids, names):
            if events:
                events.text("run", f"{run_id} · {name}")

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
        for i, (events, record) in enumerate(zip(self.events, records)):   # padding members have no writer
            if record is None or events is None:
                continue
            events.epoch(epoch, record, view.stats(i))
            events.weights(epoch, dict(zip(view.names, view.weights(i)[0])))
            events.flush()

    def on_train_end(self) -> None:
        for events in self.events:
            if events:
                events.close()


def write_hparams(configs: list, results: list[list]) -> None:
    """A sweep's HParams: each member that wrote TensorBoard gets its configuration's swept values and its
    result's metrics (configs: spec.sweep.Config; results: each configuration's training.record.RunResult)."""
    for config, runs in zip(configs, results):
        for r in runs:
            if r.experiment.train.tensorboard:
                events = RunEvents(Path(r.experiment.train.tensorboard) / r.run_id, "train.tensorboard")
                metrics = {k: r.result.get(k) for k in ("val_accuracy", "val_loss", "test_accuracy", "test_loss")}
                events.hparams(config.values, metrics)
                events.close()
