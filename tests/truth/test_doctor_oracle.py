"""The oracle benchmark's label rule, neighbourhood and status check (bench/oracle_label.py, bench/oracle_configs.py,
used by bench/doctor_oracle.py): pure, no training."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import oracle_configs as configs  # noqa: E402
import oracle_label as oracle  # noqa: E402

from mlplab.spec import validate  # noqa: E402


def test_a_run_no_neighbour_beats_beyond_noise_is_healthy():
    verdict, right, best = oracle.label(0.95, {"lr x3": 0.96, "relu": 0.94}, 287, 0.1)
    assert (verdict, right, best) == ("healthy", [], 0.96)


def test_a_run_a_neighbour_beats_clearly_is_unhealthy_with_the_neighbours_near_the_best_as_right_fixes():
    verdict, right, best = oracle.label(0.70, {"adam": 0.96, "lr x10": 0.95, "relu": 0.80}, 287, 0.1)
    assert verdict == "unhealthy" and sorted(right) == ["adam", "lr x10"] and best == 0.96


def test_a_run_at_chance_is_unhealthy_and_with_every_neighbour_at_chance_has_no_right_fix():
    assert oracle.label(0.11, {"adam": 0.12}, 287, 0.1)[:2] == ("unhealthy", [])
    assert oracle.label(0.11, {"adam": 0.90}, 287, 0.1)[:2] == ("unhealthy", ["adam"])


def test_between_the_margins_is_unclear():
    # 2 se < gain <= max(3 se, 3 points) on 287 validation rows
    assert oracle.label(0.90, {"adam": 0.95}, 287, 0.1)[0] == "unclear"


@pytest.mark.parametrize("status, loss, wrong", [
    ("diverged", [9.05, 7.61, 6.25], True),      # a falling loss called diverged
    ("diverged", [14.3, 14.5, 14.5], False),
    ("ok", [1.0, float("nan"), 0.5], True),       # a non-finite loss called ok
    ("ok", [1.0, 0.5, 0.4], False),
])
def test_a_status_that_contradicts_its_history_is_counted(status, loss, wrong):
    assert oracle.status_contradicts(status, {"loss": loss}) == wrong


def test_every_neighbour_is_one_valid_change_that_differs_from_the_run():
    rng = np.random.default_rng(3)
    files = {k: "digits" for k in ("mnist", "fashion-mnist", "digits-random-labels")}
    for _ in range(30):
        raw = configs.sample(rng, files)
        own = configs.spec_key(validate(raw))
        for name, changes in configs.neighbours(raw):   # one setting each (adam: its optimizer and rate)
            assert len(changes) == 1 and configs.spec_key(validate(configs.changed(raw, changes))) != own, name
