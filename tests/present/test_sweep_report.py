"""The sweep report: table, seed-noise verdict, heatmap, overlaid curves and spread, from real digits sweeps."""
import os
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mlplab.present import figures
from mlplab.present.report import SWEEP_SECTIONS, write_sweep_report
from mlplab.store.store import Store
from mlplab.training.sweeps import run_sweep

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

GRID = {"train": {"epochs": 3},
        "sweep": {"grid": {"train.optimizer": ["sgd", "adam"], "train.learning_rate": [0.01, 0.1]}, "repeats": 2}}
ONE_KEY = {"train": {"epochs": 2}, "sweep": {"grid": {"train.learning_rate": [0.003, 0.03]}}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("sweep-report"))


@pytest.fixture(scope="module")
def grid(store):
    """optimizer x learning rate, 2 seeds each: 4 configurations, 8 runs."""
    return run_sweep(GRID, store)


@pytest.fixture(scope="module")
def one_key(store):
    return run_sweep(ONE_KEY, store)


def drawn(fig):
    assert isinstance(fig, Figure) and fig.axes
    fig.canvas.draw()
    return fig


def section(text: str, sid: str) -> str:
    match = re.search(rf'<section id="{sid}">(.*?)</section>', text, re.S)
    assert match, sid
    return match.group(1)


def test_report_of_a_two_key_sweep(store, grid, tmp_path, screenshot):
    path = write_sweep_report(store, grid.sweep_id)
    assert path == store.home / "sweeps" / grid.sweep_id / "report.html"
    text = path.read_text()
    for sid in SWEEP_SECTIONS:
        assert f'<section id="{sid}">' in text, sid
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "not available" not in text                       # every figure was drawn

    best = grid.best["values"]
    summary = section(text, "summary")
    assert f"optimizer={best['train.optimizer']} learning_rate={best['train.learning_rate']:g}" in summary
    assert "4 (2 repeat(s) each)" in summary and "8 stored runs" in summary

    table = section(text, "table")
    assert table.count("<tr") == 1 + 4                        # header + one row per configuration
    best_row = re.search(r'<tr class="best">(.*?)</tr>', table, re.S).group(1)
    assert f"<td>{best['train.optimizer']}</td>" in best_row and "±" in best_row
    assert table.count('class="best"') == 1

    assert grid.note and section(text, "noise").count(grid.note.split(":")[0]) == 1
    assert "data:image/png;base64," in section(text, "heatmap")
    assert "data:image/png;base64," in section(text, "curves")
    assert "data:image/png;base64," in section(text, "spread")

    # every run linked to its own report location by a relative path
    runs = section(text, "runs")
    for row in grid.rows:
        for run_id in row["runs"]:
            href = re.search(rf'<tr id="run-{run_id}">.*?<a href="([^"]+)">report</a>', runs, re.S).group(1)
            assert not href.startswith("/")
            assert Path(os.path.normpath(path.parent / href)) == store.artifacts / run_id / "report.html"

    # elsewhere: the links still point at the runs
    other = write_sweep_report(store, grid.sweep_id, tmp_path / "elsewhere" / "sweep.html")
    href = re.search(r'<a href="([^"]+)">report</a>', other.read_text()).group(1)
    assert Path(os.path.normpath(other.parent / href)).parent.parent == store.artifacts

    screenshot(path, "sweep_report.png", height=3000)   # a picture to look at, where Chromium is installed


def test_report_of_a_one_key_sweep_has_no_heatmap(store, one_key):
    text = write_sweep_report(store, one_key.sweep_id).read_text()
    assert 'id="heatmap"' not in text and 'id="spread"' not in text      # one key, one seed
    assert "One run per configuration" in section(text, "noise")
    assert "data:image/png;base64," in section(text, "curves")
    assert "http://" not in text and "https://" not in text and "<script" not in text


def test_overlaid_curves_one_line_per_run(store, grid):
    runs = [store.get_run(row["runs"][0]) for row in grid.rows]
    fig = drawn(figures.overlaid_curves([r["history"] for r in runs], [r["id"] for r in runs]))
    loss, accuracy = fig.axes
    assert len(loss.lines) == len(accuracy.lines) == len(runs) == 4
    assert [line.get_label() for line in accuracy.lines] == [r["id"] for r in runs]
    assert len({line.get_color() for line in accuracy.lines}) == 4
    assert accuracy.get_ylabel() == "val accuracy"
    # a run without validation falls back to its train metrics
    no_val = {k: v for k, v in runs[0]["history"].items() if not k.startswith("val_")}
    fig = drawn(figures.overlaid_curves([runs[0]["history"], no_val], ["with", "without"]))
    assert [line.get_label() for line in fig.axes[0].lines] == ["with", "without (train)"]
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), runs[0]["history"]["loss"])


def test_heatmap_writes_values_and_outlines_the_best(grid):
    fig = drawn(figures.sweep_heatmap(grid.rows, "train.learning_rate", "train.optimizer"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.1"]       # numbers ascending
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == 4 and all("±" in c for c in cells)
    assert any(c.startswith(f"{grid.best['val_accuracy']:.3f}\n±") for c in cells)
    outline = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(outline) == 1
    ys = [t.get_text() for t in ax.get_yticklabels()]
    xs = [t.get_text() for t in ax.get_xticklabels()]
    col, row = int(outline[0].get_x() + 0.5), int(outline[0].get_y() + 0.5)
    assert (ys[row], xs[col]) == (grid.best["values"]["train.optimizer"],
                                  f"{grid.best['values']['train.learning_rate']:g}")


def test_spread_draws_one_error_bar_per_configuration(grid):
    fig = drawn(figures.sweep_spread(grid.rows))
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == 4
    assert ax.get_yticklabels()[-1].get_text().startswith("optimizer=")   # best on top
    bars = ax.containers[0]
    np.testing.assert_allclose(bars.lines[0].get_xdata(), [r["val_accuracy"] for r in grid.rows])
