"""The Python API as a notebook uses it: import mlplab as ml."""
import subprocess
import sys

import numpy as np
import pytest

import mlplab as ml
from mlplab.errors import BadInput


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("home")
    ml.set_home(path)
    yield path
    ml.set_home(None)


@pytest.fixture(scope="module")
def run(home):
    return ml.run(epochs=3, train__learning_rate=0.01, progress=False)


def test_the_store_home_is_one_explicit_setting(home, tmp_path):
    assert ml.home() == home
    previous = ml.set_home(tmp_path)
    try:
        assert previous == home and ml.home() == tmp_path
    finally:
        ml.set_home(previous)
    assert ml.home() == home


@pytest.mark.slow
def test_import_stays_cheap():
    code = "import sys, mlplab, mlplab.cli; print('keras' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_load_dataset_gives_arrays_and_info():
    ds = ml.load_dataset("cosine2d", n=200, noise=0.1)
    assert ds.x_train.shape[1] == 2 and ds.info.class_names and ds.info.num_classes == 2
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (180, 20, 50)   # 200 points to train, a tenth held out
    assert (ds.info.n_train, ds.info.n_val, ds.info.n_test) == (180, 20, 50)


@pytest.mark.slow
def test_run_with_overrides_returns_a_stored_run(run, home):
    assert run.status in ("ok", "stopped") and run.spec["train"]["optimizer"]["learning_rate"] == 0.01
    h = run.history
    assert list(h.index) == [1, 2, 3] and {"loss", "val_loss", "test_accuracy"} <= set(h.columns)
    assert run.evaluation["accuracy"] > 0.8 and "confusion_matrix" in run.evaluation
    assert ml.load_run(run.id).test_accuracy == run.test_accuracy
    assert "<table" in run._repr_html_() and "<table" in ml.runs()._repr_html_()


@pytest.mark.slow
def test_override_forms_agree(home):
    a = ml.run({"train.epochs": 1, "model": {"hidden": [16]}}, progress=False)
    b = ml.run(epochs=1, model__hidden=[16], progress=False)
    assert a.spec["model"]["hidden"] == b.spec["model"]["hidden"] == [16]
    assert a.history["loss"].tolist() == b.history["loss"].tolist()
    with pytest.raises(BadInput, match="train.epochs"):
        ml.run(epochs=0, progress=False)


@pytest.mark.slow
def test_findings_figures_model_and_report(run, tmp_path):
    assert isinstance(run.findings, ml.Findings) and "<" in run.findings._repr_html_()
    for fig in (run.learning_curves(), run.confusion_matrix(), run.weights(), run.training_statistics()):
        assert fig._repr_png_().startswith(b"\x89PNG")
    assert run.model.output_shape == (None, 10)
    assert run.predict(ml.load_dataset("digits").x_test[:4]).shape == (4, 10)
    path = run.report(tmp_path / "r.html", embed_samples=100)
    assert "Learning curves" in path.read_text()


@pytest.mark.slow
def test_features_are_a_truncated_models_outputs(run):
    import keras
    x = ml.load_dataset("digits").x_test[:5]
    names = [layer.name for layer in run.model.layers]
    truncated = keras.Model(run.model.inputs, run.model.get_layer(names[0]).output)
    assert np.allclose(run.features(x, layer=names[0]), truncated.predict(x, verbose=0), atol=1e-5)
    assert run.features(x).shape == (5, 64)                      # default: the last hidden layer (64 units)
    assert np.allclose(run.features(x, layer=-1), run.predict(x), atol=1e-6)
    with pytest.raises(BadInput, match="layer 'dense_9': not in the model; its layers are "):
        run.features(x, layer="dense_9")


@pytest.mark.slow
def test_runs_table(run):
    table = ml.runs()
    assert run.id in set(table["id"]) and {"test_accuracy", "status", "model"} <= set(table.columns)


@pytest.mark.slow
def test_sweep_table_and_best(home):
    sw = ml.sweep(grid={"train.learning_rate": [0.001, 0.05]}, epochs=2, progress=False)
    assert len(sw.table) == 2 and "train.learning_rate" in sw.table.columns
    assert sw.best.spec["train"]["optimizer"]["learning_rate"] == 0.05      # 0.85 on validation after 2 epochs, 0.001: 0.81
    assert sw.table["train.learning_rate"].tolist() == [0.05, 0.001]          # best first
    assert "<table" in sw._repr_html_() and len(ml.runs(sweep=sw.id)) == 2


@pytest.mark.slow
def test_fit_any_keras_model(home):
    import keras

    class Scale(keras.layers.Layer):  # a layer the spec knows nothing of
        def build(self, shape):
            self.s = self.add_weight(shape=(shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.s

    inp = keras.Input((64,))
    h = keras.layers.Dense(32, activation="relu")(Scale()(inp))
    h = keras.layers.Lambda(lambda t: t * 0.5)(h)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax")(h))
    ds = ml.load_dataset("digits")
    r = ml.fit(model, (ds.x_train, ds.y_train, ds.x_test, ds.y_test), optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
               epochs=3, early_stopping=False, progress=False)
    assert r.status == "ok" and r.epochs_run == 3 and r.test_accuracy > 0.8
    assert r.model is model and "Scale" in r.run["model"]
    assert r.history["loss"].iloc[-1] < r.history["loss"].iloc[0]
    assert r.confusion_matrix()._repr_png_() and isinstance(r.findings, list)
    assert ml.load_run(r.id).samples()  # the arrays were kept in the store: the data reloads


@pytest.mark.slow
def test_fit_sequential_by_name_and_rejects_logits(home):
    import keras
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="tanh"),
                              keras.layers.Dense(10, activation="softmax")])
    r = ml.fit(model, "digits", epochs=2, progress=False)
    assert r.run["summary"]["keras_model"]["spec_is_exact"] and r.spec["model"]["layers"][0]["units"] == 16
    logits = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    with pytest.raises(BadInput, match="softmax"):
        ml.fit(logits, "digits", epochs=1, progress=False)


@pytest.mark.slow
def test_sweep_over_a_model_building_function(home):
    import keras

    def build(units):
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])
    sw = ml.sweep(build, {"units": [8, 32], "train.learning_rate": [0.01]}, data="digits", epochs=2, progress=False)
    assert len(sw.table) == 2 and set(sw.table["units"]) == {8, 32}


def test_progress_is_one_updating_line(capsys):
    from mlplab.api import Progress
    bar = Progress("x", 100, interval=10.0)
    for epoch in range(1, 101):
        bar(None, "id", epoch, {"loss": 1.0, "accuracy": 0.5})
    bar.close("done")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.count("\r") <= 3
