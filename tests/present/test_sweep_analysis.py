"""A sweep's analysis (parallel coordinates, importance, slices): the figures, the registry, the report and
`ml.load_sweep(...)`, from a sweep stored with a constructed table (nothing trains)."""
import math
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlplab.analysis.status import rank
from mlplab.api.stored_sweep import load_sweep
from mlplab.present import figures
from mlplab.present.registry import SWEEP_FIGURE_NAMES, sweep_figure
from mlplab.present.report import SWEEP_SECTIONS, write_sweep_report
from mlplab.store.store import Store

OPT, LR = "train.optimizer", "train.learning_rate"
OPTIMIZERS = ("sgd", "adam", {"name": "sgd", "momentum": 0.9})
RATES = (0.001, 0.01, 0.1, 1.0)


def score(o, lr) -> float:
    """adam best, the rate best at 0.01; sgd at lr 1 diverged in its first epoch (no finite value)."""
    if o == "sgd" and lr == 1.0:
        return math.nan
    return 0.5 + (0.3 if o == "adam" else 0.1) - 0.1 * abs(math.log10(lr) + 2)


def table_rows() -> list[dict]:
    rows = [{"values": {OPT: o, LR: lr}, "runs": [], "val_accuracy": score(o, lr), "test_accuracy": 0.5, "params": 4810,
             "status": "diverged" if math.isnan(score(o, lr)) else "ok"} for o in OPTIMIZERS for lr in RATES]
    return rank(rows)[0]


@pytest.fixture
def sweep(tmp_path):
    store = Store(tmp_path / "store")
    grid = {OPT: list(OPTIMIZERS), LR: list(RATES)}
    sid = store.create_sweep(name="optimizer x rate", spec={"sweep": {"grid": grid}})
    rows = table_rows()
    store.finish_sweep(sid, status="ok", summary={"keys": [OPT, LR], "rows": rows, "ranked_by": "val_accuracy",
                                                  "best": rows[0], "note": None, "seconds": 1.0})
    return store, sid


def test_parallel_coordinates_draws_one_line_per_configuration_the_best_in_red():
    rows = table_rows()
    fig = figures.parallel_coordinates(rows, [OPT, LR], "val_accuracy")
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]   # key, key, metric
    assert len(lines) == 12
    red = [line for line in lines if line.get_color() == "#d1242f"]
    assert len(red) == 1 and red[0].get_ydata()[-1] == pytest.approx(1.0)    # the best at the metric's top
    assert list(red[0].get_ydata()[:2]) == [1.0, pytest.approx(1 / 3)]   # adam (names in rank order, top down), 0.01
    grey = [line for line in lines if line.get_linestyle() == "--"]
    assert len(grey) == 1 and grey[0].get_ydata()[-1] < 0                  # the diverged one, below the axis
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["optimizer", "learning_rate (log)", "validation accuracy"]
    texts = {t.get_text() for t in ax.texts}
    assert {"sgd", "adam", "sgd(momentum=0.9)", "0.001", "1"} <= texts and "NaN (diverged)" in texts


def test_slices_put_a_learning_rate_on_a_log_axis_and_names_as_categories():
    fig = figures.slices(table_rows(), [OPT, LR], "val_accuracy")
    opt_ax, lr_ax = [ax for ax in fig.axes if ax.get_visible()]
    assert lr_ax.get_xscale() == "log" and opt_ax.get_xscale() == "linear"
    assert [t.get_text() for t in opt_ax.get_xticklabels()] == ["adam", "sgd", "sgd(momentum=0.9)"]
    means = [line for line in lr_ax.get_lines() if len(line.get_xdata()) == 4][0]   # the mean per rate
    assert list(means.get_xdata()) == list(RATES)
    assert means.get_ydata()[1] == pytest.approx(np.mean([score(o, 0.01) for o in OPTIMIZERS]))
    assert "1 without a finite value not drawn" in fig._suptitle.get_text()


def test_the_registry_draws_every_sweep_figure_and_names_them_when_asked_for_another():
    rows = table_rows()
    for name in SWEEP_FIGURE_NAMES:
        fig = sweep_figure(name, rows, [OPT, LR], "val_accuracy")
        assert isinstance(fig, Figure) and fig.axes
        fig.canvas.draw()
    with pytest.raises(ValueError, match="parallel-coordinates, importance, slices"):
        sweep_figure("pie", rows, [OPT, LR], "val_accuracy")


def test_the_report_shows_the_analysis_sections(sweep):
    store, sid = sweep
    text = write_sweep_report(store, sid).read_text()
    for sid_ in ("parallel", "importance", "slices"):
        assert sid_ in SWEEP_SECTIONS
        body = re.search(rf'<section id="{sid_}">(.*?)</section>', text, re.S).group(1)
        assert "data:image/png;base64," in body, sid_
    imp = re.search(r'<table class="grid" id="importance-table">(.*?)</table>', text, re.S).group(1)
    shares = re.findall(r"<tr><td>([\w.]+)</td><td class=\"num\">(\d+) %</td>", imp)
    assert [k for k, _ in shares] == [OPT, LR]
    api = load_sweep(sid, store=store).importance_table
    assert [int(s) for _, s in shares] == [round(100 * api.loc[k, "share"]) for k in (OPT, LR)]
    assert "1 configuration without a finite validation accuracy (diverged) counted as the worst" in text


def test_the_api_gives_the_figures_and_the_importance_table(sweep):
    store, sid = sweep
    s = load_sweep(sid, store=store)
    table = s.importance_table
    assert list(table.index) == [OPT, LR] and table.attrs["metric"] == "val_accuracy"
    assert table.loc[OPT, "share"] > table.loc[LR, "share"] > 0 and table.loc[OPT, "informative"]
    assert table.loc[OPT, "share"] + table.loc[LR, "share"] + table.attrs["rest"] == pytest.approx(1.0)
    assert "counted as the worst" in table.attrs["note"]
    for fig in (s.parallel_coordinates(), s.importance(), s.slices(), s.figure("importance")):
        assert isinstance(fig, Figure) and fig._repr_png_()[:4] == b"\x89PNG"
