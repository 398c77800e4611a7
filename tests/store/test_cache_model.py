"""A sweep's members write their weights, not a model.keras each: the model.keras of a member is made
the first time it is needed, and is the model that trained (same weights, same predictions)."""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")

from mlplab.cli import main
from mlplab.engine.inference import predict_probabilities
from mlplab.store import Store
from mlplab.store.artifacts import POPULATION
from mlplab.stored import RunArtifacts, load_model, model_file
from mlplab.training.sweeps import run_sweep

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

GRID = {"model": {"hidden": [16], "dropout": 0.1}, "train": {"epochs": 2},
        "sweep": {"grid": {"train.learning_rate": [0.001, 0.01], "train.optimizer": ["adam", "sgd"]}}}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("lazy"))
    result = run_sweep(GRID, store)
    return store, [store.get_run(r["id"]) for r in store.list_runs(sweep_id=result.sweep_id)]


def test_members_share_one_population_file_and_have_no_model_keras_yet(sweep):
    store, runs = sweep
    folders = [store.artifact_dir(r["id"]) for r in runs]
    assert len(runs) == 4 and not any((f / "model.keras").exists() for f in folders)
    assert sum((f / POPULATION).exists() for f in folders) == 1
    assert all((f / "weights_final.npz").exists() and (f / "weights_init.npz").exists() for f in folders)
    assert all(RunArtifacts(store, r).has_model for r in runs)


def test_model_keras_is_made_when_needed_and_is_the_trained_model(sweep):
    import keras
    store, runs = sweep
    run = runs[1]
    art = RunArtifacts(store, run)
    final = dict(art.final_weights)                    # read without Keras, from weights_final.npz
    model = load_model(store, run)                     # makes model.keras
    path = store.artifact_dir(run["id"]) / "model.keras"
    assert path.exists() and model_file(store, run) == path
    plain = keras.models.load_model(path)              # plain Keras, compiled as the run trained
    assert plain.optimizer.__class__.__name__.lower() == run["optimizer"]
    assert len(plain.trainable_variables) == len(final)   # by order: a reloaded model drops the name prefix
    for v, (name, w) in zip(plain.trainable_variables, final.items()):
        np.testing.assert_array_equal(np.asarray(v.value), w, err_msg=name)
    probabilities, _ = art.predictions
    np.testing.assert_allclose(predict_probabilities(model, art.data.x_test), probabilities, atol=1e-5)


def test_export_of_a_member_without_model_keras(sweep, tmp_path):
    pytest.importorskip("tensorboardX")
    store, runs = sweep
    run = runs[2]
    assert main(["--home", str(store.home), "export", run["id"], "--tensorboard", str(tmp_path / "tb")]) == 0
    assert any((tmp_path / "tb" / run["id"]).iterdir())


def test_a_single_run_still_writes_its_model_keras(tmp_path):
    import mlplab as ml
    run = ml.run(epochs=1, hidden=[8], store=str(tmp_path), progress=False)
    assert (Store(tmp_path).artifact_dir(run.id) / "model.keras").exists()
