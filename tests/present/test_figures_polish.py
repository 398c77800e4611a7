"""The first-layer weights as images (class templates, receptive fields, conv filters), weight violins
with one axis per layer, titles that fit their figure, integer epoch ticks."""
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import mlplab as ml
from mlplab.present.figures.common import fit_title
from mlplab.present.figures.model import (embedding_figure, first_layer_weights, training_statistics,
                                          weight_distributions)
from mlplab.present.registry import FIGURE_NAMES, REGISTRY, applicable
from mlplab.stored.model import trained_weights

CNN = [{"type": "conv2d", "filters": 6, "kernel": 3, "activation": "relu"}, {"type": "flatten"}]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return str(tmp_path_factory.mktemp("polish"))


def trained(store, **overrides):
    return ml.run(None, overrides, store=store, progress=False)


@pytest.fixture(scope="module")
def logistic(store):
    return trained(store, **{"model.hidden": [], "train.epochs": 2})


@pytest.fixture(scope="module")
def cnn(store):
    return trained(store, **{"model.layers": CNN, "train.epochs": 1})


def tiles(fig):
    """(title's first line, shown array, colour limits) of each tile of a first-layer figure."""
    [ax] = fig.axes                                      # one Axes: each tile an image of its own, under its text
    assert len(ax.images) == len(ax.texts)
    return [(text.get_text().split("\n")[0], np.asarray(image.get_array()), image.get_clim())
            for text, image in zip(ax.texts, ax.images)]


def kernel_of(run, name):
    return trained_weights(run.store, run.id)[name]


@pytest.mark.slow
def test_logistic_regression_tiles_are_its_class_templates(logistic):
    fig = logistic.first_layer_weights()
    kernel = kernel_of(logistic, "mlplab/output/kernel")                     # 64 x 10
    shown = tiles(fig)
    assert [t for t, _, _ in shown] == [str(d) for d in range(10)]          # titled by class name
    for j, (_, image, (lo, hi)) in enumerate(shown):
        np.testing.assert_allclose(image, kernel[:, j].reshape(8, 8), rtol=1e-6)
        assert hi == pytest.approx(np.abs(kernel[:, j]).max()) and lo == -hi   # centred at 0
    assert "class templates" in fig._suptitle.get_text()
    assert "model" not in logistic._cache                                   # drawn from the stored weights


def test_a_hidden_layer_shows_at_most_n_units():
    rng = np.random.default_rng(1)                       # a 64-12-10 MLP's weights, as weights_final.npz holds them
    weights = {"mlplab/dense_1/kernel": rng.normal(size=(64, 12)), "mlplab/dense_1/bias": np.zeros(12),
               "mlplab/output/kernel": rng.normal(size=(12, 10)), "mlplab/output/bias": np.zeros(10)}
    kernel = weights["mlplab/dense_1/kernel"]
    shown = tiles(first_layer_weights(weights, (8, 8), [str(d) for d in range(10)]))   # n=36: all 12
    assert [t for t, _, _ in shown] == [f"unit {j}" for j in range(12)]
    for j, (_, image, _) in enumerate(shown):
        np.testing.assert_allclose(image, kernel[:, j].reshape(8, 8))
    fig = first_layer_weights(weights, (8, 8), n=5)                          # min(n, units)
    assert [t for t, _, _ in tiles(fig)] == [f"unit {j}" for j in range(5)]
    assert "receptive fields of 12 units, the first 5 shown" in fig._suptitle.get_text().replace("\n", " ")


@pytest.mark.slow
def test_a_conv_first_layer_shows_its_filters(cnn):
    kernel = kernel_of(cnn, "mlplab/conv2d_1/kernel")                        # 3 x 3 x 1 x 6
    shown = tiles(cnn.first_layer_weights())
    assert [t for t, _, _ in shown] == [f"filter {j}" for j in range(6)]
    for j, (_, image, _) in enumerate(shown):
        np.testing.assert_allclose(image, kernel[:, :, 0, j], rtol=1e-6)
    assert len(tiles(cnn.first_layer_weights(n=4))) == 4


@pytest.mark.slow
def test_only_image_runs_get_the_figure(store, logistic):
    plane = trained(store, **{"data.dataset": "cosine2d", "model.hidden": [8], "train.epochs": 1})
    assert "first-layer-weights" not in applicable(plane) and "weights" in applicable(plane)
    assert "first-layer-weights" in applicable(logistic)
    at = FIGURE_NAMES.index("weights")
    assert FIGURE_NAMES[at + 1] == "first-layer-weights" and REGISTRY["first-layer-weights"].report_section == "weights"
    kernels = {"k": np.ones((2, 4))}
    assert first_layer_weights(kernels, None).texts[0].get_text() == "the inputs are not images"
    assert "not one 8x8 image" in first_layer_weights(kernels, (8, 8)).texts[0].get_text()
    diverged = first_layer_weights({"k": np.full((64, 3), np.nan)}, (8, 8))   # NaN weights: blank tiles, no error
    assert [clim for _, _, clim in tiles(diverged)] == [(-1.0, 1.0)] * 3
    with pytest.raises(Exception, match="at least 1"):
        first_layer_weights(kernels, (8, 8), n=0)


def test_one_violin_axis_per_layer_with_its_own_range():
    rng = np.random.default_rng(0)
    initial = {"a/wide/kernel": rng.normal(0, 1, (64, 40)), "a/wide/bias": np.zeros(40),
               "a/tiny/kernel": rng.normal(0, 1e-3, (40, 10))}
    final = {k: v * 1.5 + 0.01 * (v.ndim > 1) for k, v in initial.items()}
    shared = weight_distributions(initial, final, per_layer=False)
    assert len(shared.axes) == 1                                             # asked for: one shared axis
    fig = weight_distributions(initial, final)                               # the default: one axis per layer
    assert len(fig.axes) == 2                                                # one per kernel, not the bias
    for ax, name in zip(fig.axes, ("a/wide/kernel", "a/tiny/kernel")):
        values = np.concatenate([initial[name].ravel(), final[name].ravel()])
        lo, hi = ax.get_ylim()
        assert lo <= values.min() and hi >= values.max()
        assert hi - lo <= 1.25 * np.ptp(values)                              # its own range, not the wide one's
        assert ax.get_title().startswith(name.split("/", 1)[1])
    assert fig.axes[1].get_ylim()[1] < 0.05                                  # tiny weights are not flattened


@pytest.mark.slow
def test_per_layer_violins_of_a_run(cnn):
    fig = cnn.weights()
    assert [ax.get_title().split(" ")[0] for ax in fig.axes] == ["conv2d_1/kernel", "output/kernel"]
    conv = kernel_of(cnn, "mlplab/conv2d_1/kernel")
    assert fig.axes[0].get_ylim()[1] >= conv.max() and len(cnn.weights(per_layer=False).axes) == 1


def inside(fig, text) -> bool:
    FigureCanvasAgg(fig).draw()
    box = text.get_window_extent()
    return box.x0 >= 0 and box.x1 <= fig.bbox.width


def test_titles_fit_their_figures():
    name = "a_very_long_layer_name_of_a_functional_keras_model_with_residual_blocks_3"
    fig = embedding_figure(np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2, ["a", "b"], name)
    assert inside(fig, fig.axes[0].title) and "\n" in fig.axes[0].get_title()
    long = {f"model/{'block_' * 8}{k}/kernel": np.ones((64, 10)) for k in range(3)}
    fig = weight_distributions(long, long, per_layer=True)
    assert all(inside(fig, ax.title) for ax in fig.axes)
    assert fit_title("short", 6, 11) == "short"
    assert all(len(line) <= 26 for line in fit_title("x" * 100, 2, 11).split("\n"))   # 2 in at 11 pt


def test_training_statistics_epoch_ticks_are_whole_numbers():
    stats = {"epoch": [0, 1, 2], "weights": ["m/dense_1/kernel"], "grad_norm": [[0.5], [0.3], [0.2]]}
    fig = training_statistics(stats)
    FigureCanvasAgg(fig).draw()
    ticks = [t for t in fig.axes[0].get_xticks() if -0.5 <= t <= 2.5]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_probability_bars_show_each_samples_probabilities_predicted_red_true_blue():
    from matplotlib.colors import to_rgba
    from mlplab.present.figures.predictions import probability_bars
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), 4)
    y = np.array([int(p[0].argmax()), 0, 1, 2])
    y[1:] = [(int(q.argmax()) + 1) % 10 for q in p[1:]]                       # three wrong predictions
    fig = probability_bars(rng.random((4, 64)), y, p, [str(d) for d in range(10)], (8, 8), indices=[0, 1, 2, 3])
    [ax] = fig.axes
    assert len(ax.containers) == 4
    for i, bars in enumerate(ax.containers):
        heights = np.array([-b.get_height() for b in bars]) / 1.3                # inches per probability 1
        np.testing.assert_allclose(heights, p[i], rtol=1e-9)
        colors = [b.get_facecolor() for b in bars]
        assert colors[y[i]] == to_rgba("blue")
        pred = int(p[i].argmax())
        assert colors[pred] == (to_rgba("blue") if pred == y[i] else to_rgba("red"))
    titles = [t.get_text() for t in ax.texts if t.get_text().startswith("pred ")]
    assert titles == [f"pred {int(q.argmax())} {q.max():.2f}" for q in p]


def test_class_histograms_show_log_counts_of_each_class_against_the_others():
    from mlplab.present.figures.predictions import class_probability_histograms
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    p = rng.dirichlet(np.ones(3), 300)
    fig = class_probability_histograms(y, p, ["a", "b", "c"])
    [ax] = fig.axes
    steps = [patch for patch in ax.patches if type(patch).__name__ == "StepPatch"]
    assert len(steps) == 6                                                   # own class and the others, per class
    bins = np.linspace(0, 1, 21)
    for c in range(3):
        own, others = (np.histogram(p[mask, c], bins)[0] for mask in (y == c, y != c))
        for step, counts in zip(steps[2 * c:2 * c + 2], (own, others)):
            heights = step.get_data().baseline - step.get_data().values     # inches up from the panel's floor
            assert np.array_equal(np.argsort(heights, kind="stable"), np.argsort(np.maximum(counts, 0.7), kind="stable"))
            assert (heights[counts == 0] == 0).all() and (heights[counts > 0] > 0).all()
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("P(")] == ["P(a)", "P(b)", "P(c)"]
