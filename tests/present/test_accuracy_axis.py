"""The report's accuracy axes are fitted to the curves, with 1.0 as their cap (present.figures.curves)."""
import numpy as np
import pytest

from mlplab.present.figures.curves import accuracy_limits, learning_curves


def test_an_accuracy_axis_fits_its_values_and_never_passes_one():
    lo, hi = accuracy_limits([0.90, 0.95, 0.98, np.nan])
    assert lo == pytest.approx(0.89) and hi == pytest.approx(0.99)   # 0.90..0.98 fill the axis, not a tenth of it
    assert accuracy_limits([0.97, 1.0]) == (pytest.approx(0.96), 1.01)   # the cap
    assert accuracy_limits([0.0, 0.5]) == (-0.01, pytest.approx(0.525))
    assert accuracy_limits([]) == (-0.02, 1.02) and accuracy_limits([np.nan]) == (-0.02, 1.02)


def test_the_learning_curves_accuracy_panel_is_fitted():
    history = {"epoch": [1, 2, 3], "loss": [0.4, 0.3, 0.2], "accuracy": [0.90, 0.94, 0.96],
               "val_loss": [0.5, 0.4, 0.35], "val_accuracy": [0.91, 0.95, 0.98]}
    fig = learning_curves(history)
    lo, hi = fig.axes[1].get_ylim()
    assert lo == pytest.approx(0.89) and hi == pytest.approx(0.99)
