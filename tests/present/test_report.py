"""Figures for an MLP, a CNN and 2-D data; the figure registry; the self-contained HTML report, checked in Chromium."""
import shutil
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlplab.present import figures
from mlplab.present.registry import FIGURE_NAMES, REGISTRY, applicable
from mlplab.present.report import FIGURES, SECTIONS, figure_for, write_report
from mlplab.stored import RunArtifacts
from mlplab.training.runner import run_experiment
from mlplab.spec import load_spec
from mlplab.store.store import Store

CNN = ('model.layers=[{ type = "conv2d", filters = 8, kernel = 3, activation = "relu" }, '
       '{ type = "max_pool", size = 2 }, { type = "flatten" }, { type = "dense", units = 32, activation = "relu" }]')


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def mlp(store):   # named with markup: the report must show it as text
    return run_experiment(load_spec(None, ["train.epochs=6", "model.dropout=0.2",
                                           'name="<script>alert(1)</script> & co"']), store).run_id


@pytest.fixture(scope="module")
def cnn(store):
    return run_experiment(load_spec(None, [CNN, "train.epochs=3"]), store).run_id


@pytest.fixture(scope="module")
def cosine(store):
    return run_experiment(load_spec(None, ['data.dataset="cosine2d"', 'data.scale="none"', "model.hidden=[16, 16]",
                                           "train.epochs=20", "train.learning_rate=0.01"]), store).run_id


def drawn(fig):
    assert isinstance(fig, Figure) and fig.axes
    fig.canvas.draw()          # actually renders (Agg), catching errors a lazy figure would hide
    return fig


@pytest.mark.slow
def test_every_image_figure_for_an_mlp(store, mlp):
    art = RunArtifacts(store, store.get_run(mlp))
    for name in ("samples", "class-samples", "learning-curves", "confusion-matrix", "mistakes", "random-mistakes",
                 "correct", "probabilities", "class-histograms", "weights", "training-statistics"):
        drawn(figure_for(art, name))
    probs, y = art.predictions
    fig = drawn(figures.confusion_matrix(y, probs, art.class_names))
    shown = fig.axes[0].images[0].get_array()
    assert shown.sum() == len(y) and np.trace(shown) == round(art.run["test_accuracy"] * len(y))
    # confident mistakes ranked by P(predicted) - P(true)
    fig = drawn(figures.misclassified(art.data.x_test, y, probs, art.class_names, (8, 8), n=4))
    assert "P(predicted) - P(true)" in fig._suptitle.get_text()


@pytest.mark.slow
def test_cnn_figures_and_embedding(store, cnn):
    art = RunArtifacts(store, store.get_run(cnn))
    assert art.data.x_test.shape[1:] == (8, 8, 1)
    for name in ("mistakes", "probabilities", "weights", "training-statistics"):
        drawn(figure_for(art, name))
    assert figures.layer_output(art.model, art.data.x_test[:5]).shape == (5, 32)   # last hidden: dense 32
    fig = drawn(figures.embedding(art.model, art.data.x_test, art.data.y_test, art.class_names, n=150))
    assert "t-SNE" in fig.axes[0].get_title()


@pytest.mark.slow
def test_a_run_stores_its_last_hidden_layer_for_the_t_sne(store, mlp):
    """A run trained alone stores its last hidden layer's outputs on the t-SNE's test samples: the t-SNE
    read from them equals the one computed from the loaded model, and a new process draws it without Keras."""
    from mlplab.engine.inference import hidden_sample
    from mlplab.present.registry import embedding_of
    art = RunArtifacts(store, store.get_run(mlp))
    stored = art.hidden
    rows, outputs, layer = hidden_sample(art.model, art.data.x_test)
    assert len(rows) == 360 and stored["layer"] == layer == art.model.layers[-3].name   # dense before dropout
    assert np.array_equal(stored["rows"], rows) and np.array_equal(stored["labels"], art.data.y_test[rows])
    np.testing.assert_allclose(stored["outputs"], outputs, rtol=1e-5, atol=1e-6)
    shutil.rmtree(art.folder / "views", ignore_errors=True)
    from_file = RunArtifacts(store, store.get_run(mlp))
    read = embedding_of(from_file)
    assert "model" not in from_file._cache and read["points"].shape == (360, 2)   # no Keras model loaded
    shutil.rmtree(art.folder / "views")
    from_model = RunArtifacts(store, store.get_run(mlp))
    from_model._cache["hidden"] = None   # as a run stored before hidden.npz
    computed = embedding_of(from_model)
    assert "model" in from_model._cache and str(computed["layer"]) == read["layer"]
    assert np.array_equal(computed["labels"], read["labels"])
    np.testing.assert_allclose(computed["points"], read["points"], rtol=1e-3, atol=1e-3)
    shutil.rmtree(art.folder / "views")
    code = ("import sys; from mlplab.present.ahead import main; main(sys.argv[1:]); "
            "assert not {'keras', 'jax', 'sklearn'} & set(sys.modules), 'imported'")
    subprocess.run([sys.executable, "-c", code, str(store.home), mlp, '[["hidden-representation", {}]]'], check=True)
    assert sorted(p.name.rsplit("-", 2)[0] for p in (art.folder / "views").iterdir()) == [
        "embedding", "hidden-representation"]


def test_only_hidden_layers_up_to_the_stored_width_are_stored():
    from mlplab.data import load_data
    from mlplab.engine.models import build_model
    from mlplab.training.record import HIDDEN_WIDTH, _hidden_file
    for width, stored in ((HIDDEN_WIDTH, True), (HIDDEN_WIDTH + 1, False)):
        exp = load_spec(None, [f"model.hidden=[{width}]"])
        data = load_data(exp)
        model = build_model(exp.model, data.info.input_shape, data.info.num_classes, exp.train.loss, exp.seed)
        files = _hidden_file("r", model, data)
        assert [name for _, name, _ in files] == (["hidden.npz"] if stored else []), width


@pytest.mark.slow
def test_decision_regions_for_2d_data(store, cosine):
    art = RunArtifacts(store, store.get_run(cosine))
    fig = drawn(figure_for(art, "decision-regions", resolution=60))
    assert len(fig.axes) == 3                      # regions, probability map, colour bar
    assert any(line.get_label() == "true curves" for line in fig.axes[0].lines)
    with pytest.raises(Exception, match="2 input features"):
        figures.decision_regions(art.model, np.zeros((4, 3)), np.zeros(4), ["a", "b"])




@pytest.mark.slow
def test_report_of_an_image_run(store, mlp, tmp_path, screenshot):
    path = write_report(store, mlp)
    assert path == store.artifact_dir(mlp) / "report.html"
    text = path.read_text()
    for section in SECTIONS:
        if section != "decision-regions":
            assert f'id="{section}"' in text, section
    assert 'id="decision-regions"' not in text      # 2-D figures only for 2-feature data
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "not available" not in text
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</h1>" in text     # the run's name, escaped
    assert "<pre>name: &lt;script&gt;alert(1)&lt;/script&gt; &amp; co\n" in text  # and in its spec
    assert text.index('id="findings"') < text.index('id="spec"') < text.index('id="learning-curves"')
    assert "Running training loss" in text           # dropout 0.2: the running-vs-inference note
    assert text.count("data:image/png;base64,") == 13   # every figure of an image run
    screenshot(path, "report_mlp.png")   # a picture to look at, where Chromium is installed


@pytest.mark.slow
def test_report_of_2d_data(store, cosine, tmp_path, screenshot):
    out = write_report(store, cosine, tmp_path / "sub" / "cos.html", embed_samples=200)
    text = out.read_text()
    assert 'id="decision-regions"' in text and 'id="mistakes"' not in text   # no image figures
    assert "http://" not in text and "https://" not in text and "not available" not in text
    screenshot(out, "report_cosine2d.png")


# ---------------------------------------------------------------- the registry: one list of a run's figures

def test_the_registry_is_the_one_list_of_figures():
    from mlplab.api import Run
    assert FIGURES == FIGURE_NAMES == tuple(REGISTRY)
    for name, entry in REGISTRY.items():
        assert getattr(Run, entry.method).__name__ == name.replace("-", "_")   # run.<name>() from the registry
        assert entry.report_section in SECTIONS and entry.caption
    with pytest.raises(ValueError, match="expected one of"):
        figure_for(None, "nonsense")


@pytest.mark.slow
def test_which_figures_apply_to_which_runs(store, mlp, cosine):
    image = applicable(RunArtifacts(store, store.get_run(mlp)))
    plane = applicable(RunArtifacts(store, store.get_run(cosine)))
    assert "mistakes" in image and "decision-regions" not in image
    assert "decision-regions" in plane and "mistakes" not in plane and "class-samples" not in plane


@pytest.mark.slow
def test_importing_figures_and_reports_changes_no_global_state():
    code = ("import sys, matplotlib\n"
            "backend = dict.__getitem__(matplotlib.rcParams, 'backend')\n"
            "import mlplab.present.figures, mlplab.present.registry, mlplab.present.report\n"
            "assert dict.__getitem__(matplotlib.rcParams, 'backend') == backend\n"
            "bad = sorted(m for m in ('jax', 'keras', 'matplotlib.pyplot', 'jinja2') if m in sys.modules)\n"
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]
