"""How often the training stage does its expensive steps: a sweep's spec is expanded once, each run's
Keras model built once, its summary and parameter count computed once per population."""
import importlib
from collections import Counter

import pytest

from mlplab import cli

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

SWEEP = """
[train]
epochs = 1
[sweep]
grid = { "train.learning_rate" = [0.01, 0.1] }
repeats = 2
"""


@pytest.fixture
def calls(monkeypatch):
    """Counter of calls to spec.sweep.expand, engine.models.build_model, summary and count_params, wherever the
    training stage and its callers import them from."""
    counted = Counter()
    names = {"expand": ["mlplab.spec.sweep", "mlplab.training.sweeps"],
             "build_model": ["mlplab.engine.models", "mlplab.training.population", "mlplab.training.record"],
             "summary": ["mlplab.engine.models", "mlplab.training.population", "mlplab.training.record"],
             "count_params": ["mlplab.engine.models", "mlplab.training.population", "mlplab.training.record"]}
    for name, modules in names.items():
        real = getattr(importlib.import_module(modules[0]), name)

        def counting(*args, _name=name, _real=real, **kwargs):
            counted[_name] += 1
            return _real(*args, **kwargs)
        for module in modules:
            if hasattr(importlib.import_module(module), name):
                monkeypatch.setattr(f"{module}.{name}", counting)
    return counted


def test_one_run_builds_its_model_once(tmp_path, calls):
    assert cli.main(["--home", str(tmp_path), "run", "--set", "train.epochs=1", "--json"]) == 0
    assert calls == {"build_model": 1, "summary": 1, "count_params": 1}


def test_a_sweep_is_expanded_once_and_builds_each_seed_once(tmp_path, calls):
    spec = tmp_path / "sweep.toml"
    spec.write_text(SWEEP)
    assert cli.main(["--home", str(tmp_path / "runs"), "sweep", str(spec), "--json"]) == 0
    # one population of four members (two rates x seeds 0 and 1): one model per seed, one summary
    assert calls == {"expand": 1, "build_model": 2, "summary": 1, "count_params": 1}


def test_a_notebook_sweep_is_expanded_once(tmp_path, calls):
    import mlplab as ml
    ml.sweep(grid={"train.learning_rate": [0.01, 0.1]}, epochs=1, store=str(tmp_path), progress=True)
    assert calls["expand"] == 1 and calls["build_model"] == 1   # both rates start from seed 0's model


def test_a_sweep_diagnoses_its_runs_from_memory_as_the_store_would(tmp_path, monkeypatch):
    """Each run's health is diagnosed from its results in memory as it finishes and kept with it: the same verdict
    the doctor gives the stored run, and the sweep's rows need no store read of its runs."""
    from mlplab.analysis.health import of_run
    from mlplab.store import Store
    from mlplab.store.health import read_stats
    from mlplab.training.sweeps import run_sweep
    raw = {"data": {"scale": "none"}, "train": {"epochs": 3, "optimizer": "sgd", "early_stopping": False},
           "sweep": {"grid": {"train.learning_rate": [0.001, 0.05, 10.0]}}}
    store = Store(tmp_path)
    monkeypatch.setattr(Store, "list_runs", lambda *a, **k: pytest.fail("the sweep re-read its runs"))
    result = run_sweep(raw, store)
    monkeypatch.undo()
    verdicts = {}
    for row in result.rows:
        [run_id] = row["runs"]
        run = store.get_run(run_id, health=False)
        fresh = of_run(run, read_stats(store.artifact_dir(run_id)))
        stored = store.get_run(run_id)
        assert (stored["health"], stored["headline"]) == (fresh["health"], fresh["headline"])
        assert (row["health"], row["headline"]) == (fresh["health"], fresh["headline"])
        verdicts[row["values"]["train.learning_rate"]] = fresh["health"]
    assert verdicts[10.0] == "error" and len(set(verdicts.values())) >= 2


def test_ctrl_c_in_a_builder_sweep_ends_it_interrupted_and_trains_nothing_more(tmp_path, monkeypatch):
    """ml.sweep over a model-building function runs on the one sweep engine: a run interrupted by Ctrl-C ends the
    sweep `interrupted` (as mlplab sweep), and the next configurations are not trained."""
    import dataclasses
    import keras
    import mlplab as ml
    from mlplab.api import stored_sweep
    from mlplab.store import Store
    real, calls = stored_sweep.fit, []

    def fit(*args, **kwargs):
        calls.append(kwargs["learning_rate"])
        run = real(*args, **kwargs)
        run.result = dataclasses.replace(run.result, status="interrupted")
        return run
    monkeypatch.setattr(stored_sweep, "fit", fit)

    def build(units=8):
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                                 keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(KeyboardInterrupt):
        ml.sweep(build, {"units": [8], "train.learning_rate": [0.01, 0.1]}, epochs=1, store=str(tmp_path),
                 progress=False)
    [sweep] = Store(tmp_path).list_sweeps()
    assert sweep["status"] == "interrupted" and calls == [0.01]
