"""Galleries as square as possible, a gallery's title inside its figure, weight violins one axis per layer
by default, compare legends that fit beside their curves."""
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mlplab.analysis.compare import comparison
from mlplab.present.figures import misclassified, overlaid_curves, weight_distributions
from mlplab.present.figures.common import grid_shape


@pytest.mark.parametrize("n, shape", [(1, (1, 1)), (2, (2, 1)), (4, (2, 2)), (5, (3, 2)), (6, (3, 2)), (8, (4, 2)),
                                      (9, (3, 3)), (12, (4, 3)), (16, (4, 4)), (25, (5, 5)), (36, (6, 6))])
def test_a_grid_is_as_square_as_possible(n, shape):
    assert grid_shape(n) == shape
    cols, rows = shape
    assert cols * rows >= n > cols * (rows - 1) and cols >= rows   # no empty row; never taller than wide


def gallery(n: int, classes: int = 10):
    """misclassified() of 200 random 8x8 'images', every prediction wrong."""
    rng = np.random.default_rng(0)
    y = np.arange(200) % classes
    probs = np.full((200, classes), 0.02)
    probs[np.arange(200), (y + 1) % classes] = 1 - 0.02 * (classes - 1)
    return misclassified(rng.random((200, 64)), y, probs, [str(c) for c in range(classes)], (8, 8), n=n)


def tile_grid(fig) -> tuple[int, int]:
    """(columns, rows) of a gallery's tiles, from where their titles are."""
    [ax] = fig.axes
    return len({round(t.get_position()[0], 3) for t in ax.texts}), len({round(t.get_position()[1], 3) for t in ax.texts})


def test_a_gallery_of_nine_is_three_by_three():
    assert tile_grid(gallery(9)) == (3, 3)      # was 4 + 4 + 1
    assert tile_grid(gallery(16)) == (4, 4)


@pytest.mark.parametrize("n", [1, 2, 6, 9])
def test_a_gallerys_title_fits_its_figure(n):
    fig = gallery(n)
    FigureCanvasAgg(fig).draw()
    box = fig._suptitle.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height   # mistakes(n=6) was cut
    assert fig._suptitle.get_text().replace("\n", " ").endswith(f"{n} of 200")
    [ax] = fig.axes
    tiles = [t.get_window_extent() for t in ax.texts]
    assert box.y0 >= max(t.y1 for t in tiles) - 1          # the title above every tile's title


def test_weight_violins_default_to_one_axis_per_layer():
    rng = np.random.default_rng(0)
    initial = {"m/dense/kernel": rng.normal(0, 0.2, (64, 64)), "m/dense/bias": np.zeros(64),
               "m/output/kernel": rng.normal(0, 0.01, (64, 10))}
    final = {k: 2 * v for k, v in initial.items()}
    fig = weight_distributions(initial, final)
    assert len(fig.axes) == 2
    small = fig.axes[1].get_ylim()
    assert small[1] - small[0] < 0.2 * np.ptp(final["m/dense/kernel"])   # the small layer fills its own axis


def history(accuracy: list[float]) -> dict:
    return {"epoch": list(range(1, len(accuracy) + 1)), "val_accuracy": accuracy,
            "val_loss": [1 - a for a in accuracy]}


def test_a_compare_figure_is_mostly_curves():
    """adam against sgd: the legend says 'adam lr=0.001', not both optimizers' tables (2680 px, mostly legend)."""
    def run(i, optimizer):
        return {"id": f"r{i}", "name": "x", "status": "ok", "history": history([0.5, 0.8 + i / 100]),
                "spec": {"seed": 0, "train": {"optimizer": optimizer, "epochs": 2}}}
    adam = {"name": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}
    sgd = {"name": "sgd", "learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
    runs = [run(0, adam), run(1, sgd)]
    doc = comparison(runs)
    assert doc["labels"] == ["adam lr=0.001", "sgd lr=0.01"]
    fig = overlaid_curves([r["history"] for r in runs], doc["labels"])
    FigureCanvasAgg(fig).draw()
    [legend] = fig.legends
    assert legend.get_window_extent().width < 0.2 * fig.bbox.width
    assert fig.get_figwidth() * 100 < 1300       # pixels at the --out resolution
