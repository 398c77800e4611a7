"""Keras callbacks in ml.fit (between epochs), and live TensorBoard event files."""
import csv
import re
from pathlib import Path

import numpy as np
import pytest

import mlplab as ml
from mlplab.errors import BadInput
from mlplab.store import Store
from mlplab.training.sweeps import run_sweep

import keras


def mlp():
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])


def scalars(folder: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    if not folder.is_dir():
        return []
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


class InferenceHistory(keras.callbacks.Callback):
    """A course-style callback: evaluates the model in inference mode after each epoch, stops after 4."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.accuracy = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        self.accuracy.append(self.model.evaluate(self.x, self.y, verbose=0)[1])
        if epoch == 3:
            self.model.stop_training = True


@pytest.mark.slow
def test_epoch_callbacks_see_the_model_set_the_rate_and_stop_the_run(tmp_path):
    data = ml.load_dataset("digits")
    own = InferenceHistory(data.x_test, data.y_test)
    run = ml.fit(mlp(), data, epochs=10, early_stopping=False, progress=False, store=tmp_path / "runs",
                 callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2 if epoch else lr),
                            keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
                            keras.callbacks.ModelCheckpoint(str(tmp_path / "last.keras")), own])
    assert run.status == "stopped" and run.epochs_run == 4
    assert run.history["learning_rate"].tolist() == pytest.approx([1e-3, 5e-4, 2.5e-4, 1.25e-4])
    # the callback's model had each epoch's weights: its evaluate is the run's test accuracy per epoch
    np.testing.assert_allclose(own.accuracy, run.history["test_accuracy"], atol=1e-6)
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert float(rows[-1]["val_loss"]) == pytest.approx(run.history["val_loss"].iloc[-1], rel=1e-6)
    saved = keras.models.load_model(tmp_path / "last.keras")
    np.testing.assert_allclose(saved.predict(data.x_test[:20], verbose=0), run.model.predict(data.x_test[:20], verbose=0),
                               atol=1e-6)


@pytest.mark.slow
def test_reduce_lr_on_plateau_and_early_stopping(tmp_path):
    # min_delta 10: only the first epoch counts as an improvement, so the rate halves after every later one
    run = ml.fit(mlp(), "digits", epochs=4, early_stopping=False, progress=False, store=tmp_path, learning_rate=0.01,
                 callbacks=[keras.callbacks.ReduceLROnPlateau(patience=1, factor=0.5, min_delta=10)])
    assert run.history["learning_rate"].tolist() == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    run = ml.fit(mlp(), "digits", epochs=3, progress=False, store=tmp_path,
                 callbacks=[keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=5, restore_best_weights=True)])
    assert run.spec["train"]["early_stopping"] == {"monitor": "val_accuracy", "patience": 5, "min_delta": 0.0,
                                                   "restore_best": True}
    assert "learning_rate" not in run.history   # no callback left that could change it


@pytest.mark.parametrize("callback, message", [
    (keras.callbacks.TensorBoard(), 'TensorBoard is not supported: it needs TensorFlow; mlplab writes TensorBoard '
                                    'itself: ml.fit(..., tensorboard="logs")'),
    (keras.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: None), "LambdaCallback defines on_batch_end"),
    (keras.callbacks.ModelCheckpoint("m.keras", save_freq=10), "ModelCheckpoint(save_freq=10) saves between batches"),
    (keras.callbacks.ProgbarLogger(), "ProgbarLogger is not supported: mlplab shows its own progress"),
    ("print", "str is not a keras.callbacks.Callback"),
])
def test_callbacks_that_need_batches_are_refused(tmp_path, callback, message):
    with pytest.raises(BadInput, match=re.escape(message)):
        ml.fit(mlp(), "digits", epochs=1, progress=False, store=tmp_path, callbacks=[callback])
    assert Store(tmp_path).list_runs() == []   # refused before a run was started


def event_tags(folder: Path) -> set[str]:
    """Every subfolder/tag (scalars and histograms) of a run's event files."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    tags = set()
    for sub in [p for p in folder.iterdir() if p.is_dir()]:
        events = EventAccumulator(str(sub), size_guidance={"scalars": 0, "histograms": 0})
        events.Reload()
        tags |= {f"{sub.name}/{t}" for t in events.Tags()["scalars"] + events.Tags()["histograms"]}
    return tags


@pytest.mark.slow
def test_tensorboard_is_written_while_the_run_trains_as_export_writes_it(tmp_path):
    from mlplab.cli import main
    logs = tmp_path / "tb"
    seen = []

    class Look(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs_=None):
            folders = list(logs.iterdir())
            seen.append([step for step, _ in scalars(folders[0] / "validation", "epoch_loss")] if folders else None)

    run = ml.fit(mlp(), "digits", epochs=3, early_stopping=False, progress=False, store=tmp_path / "runs",
                 tensorboard=logs, callbacks=[Look()])
    assert seen == [[], [1], [1, 2]]   # each epoch's scalars are on disk by the next epoch
    folder = logs / run.id
    # Keras' callback layout: the splits in subfolders under the same tag, so TensorBoard overlays them
    assert [round(v, 5) for _, v in scalars(folder / "validation", "epoch_loss")] == \
        [round(v, 5) for v in run.history["val_loss"]]
    assert [round(v, 5) for _, v in scalars(folder / "train", "epoch_loss")] == \
        [round(v, 5) for v in run.history["loss"]]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(folder / "train"), size_guidance={"histograms": 0})
    events.Reload()
    kernels = [t for t in events.Tags()["histograms"] if t.endswith("kernel")]
    assert {t.split("/")[0] for t in kernels} == {"weights"} and len(kernels) == 2
    assert [e.step for e in events.Histograms(kernels[0])] == [1, 2, 3]
    # the same run exported: the same tags
    assert main(["--home", str(tmp_path / "runs"), "export", run.id, "--tensorboard", str(tmp_path / "exported")]) == 0
    live, exported = event_tags(folder), event_tags(tmp_path / "exported" / run.id)
    assert {"train/epoch_loss", "validation/epoch_accuracy", "test/epoch_loss", "train_eval/epoch_accuracy",
            "train/epoch_learning_rate"} <= live
    assert live == exported


@pytest.mark.slow
def test_a_sweep_writes_tensorboard_per_member_with_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2
    raw = {"model": {"hidden": [16]}, "train": {"epochs": 2, "early_stopping": False, "tensorboard": str(tmp_path / "tb")},
           "sweep": {"grid": {"train.learning_rate": [0.001, 0.01]}}}
    result = run_sweep(raw, Store(tmp_path / "runs"))
    runs = Store(tmp_path / "runs").list_runs(sweep_id=result.sweep_id)
    ids = sorted(r["id"] for r in runs)
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ids
    assert all(len(scalars(tmp_path / "tb" / i / "test", "epoch_accuracy")) == 2 for i in ids)
    rates = {}
    for run in runs:
        events = EventAccumulator(str(tmp_path / "tb" / run["id"]))
        events.Reload()
        session = plugin_data_pb2.HParamsPluginData.FromString(
            events.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info
        rates[run["id"]] = session.hparams["train.learning_rate"].number_value
        assert [v for _, v in scalars(tmp_path / "tb" / run["id"], "hparams/test_accuracy")] == \
            pytest.approx([run["test_accuracy"]])
    assert sorted(rates.values()) == [0.001, 0.01]


def test_a_tensorboard_folder_that_is_a_file_is_refused_before_training(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match="train.tensorboard .*file: is a file; expected a folder"):
        ml.fit(mlp(), "digits", epochs=1, progress=False, store=tmp_path / "runs", tensorboard=tmp_path / "file")
    assert Store(tmp_path / "runs").list_runs() == []
