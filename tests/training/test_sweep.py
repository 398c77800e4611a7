"""Sweeps: expansion, grouping into populations, member equivalence, store linkage, the table."""
import numpy as np
import pytest

from conftest import cli, cli_json
from mlplab.engine import train as engine
from mlplab.data import load_data
from mlplab.engine.models import build_model
from mlplab.training import population
from mlplab.spec import sweep
from mlplab.errors import BadInput
from mlplab.store import Store


def test_grid_is_the_cartesian_product_and_repeats_change_the_seed():
    raw = {"seed": 5, "sweep": {"grid": {"train.optimizer": ["sgd", "adam"], "train.learning_rate": [0.01, 0.1, 1.0]},
                                "repeats": 2}}
    configs = sweep.expand(raw)
    assert [c.values for c in configs][:3] == [
        {"train.optimizer": "sgd", "train.learning_rate": 0.01},
        {"train.optimizer": "sgd", "train.learning_rate": 0.1},
        {"train.optimizer": "sgd", "train.learning_rate": 1.0}]
    assert len(configs) == 6
    for c in configs:
        assert [e.seed for e in c.experiments] == [5, 6]
        assert {e.train.optimizer.name for e in c.experiments} == {c.values["train.optimizer"]}
        assert {e.train.lr for e in c.experiments} == {c.values["train.learning_rate"]}
    assert configs[4].experiments[0].display_name.endswith("optimizer=adam learning_rate=0.1")


def test_random_draws_are_seeded_and_within_bounds():
    raw = {"sweep": {"random": {"n": 20, "train.learning_rate": {"log_uniform": [1e-4, 1e-1]},
                                "model.dropout": {"uniform": [0.0, 0.5]},
                                "model.activation": {"choice": ["relu", "tanh"]}}}}
    a, b = sweep.expand(raw), sweep.expand(raw)
    assert [c.values for c in a] == [c.values for c in b]
    lrs = [c.values["train.learning_rate"] for c in a]
    assert all(1e-4 <= v <= 1e-1 for v in lrs) and min(lrs) < 1e-3 < max(lrs)
    assert all(0 <= c.values["model.dropout"] <= 0.5 for c in a)
    assert {c.values["model.activation"] for c in a} == {"relu", "tanh"}


def test_folds_give_stratified_validation_folds():
    configs = sweep.expand({"sweep": {"grid": {"train.learning_rate": [0.01]}, "folds": 3}})
    folds = [load_data(e) for e in configs[0].experiments]
    val_rows = [len(d.x_val) for d in folds]
    assert sum(val_rows) == 1437 and max(val_rows) - min(val_rows) <= 1
    assert all(len(d.x_train) + len(d.x_val) == 1437 for d in folds)
    # every class in every validation fold
    assert all(len(np.unique(d.y_val)) == 10 for d in folds)


def test_what_varies_dynamically_shares_one_program():
    raw = {"sweep": {"grid": {"train.optimizer": ["sgd", "adam", "rmsprop"], "train.learning_rate": [0.01, 0.1],
                              "model.init": ["glorot_uniform", {"name": "random_normal", "stddev": 0.1}],
                              "model.l2": [0.0, 0.001], "model.hidden": [[32], [64]]}}}
    experiments = [e for c in sweep.expand(raw) for e in c.experiments]
    groups = population.groups_of(experiments)
    # optimizer, learning rate, initializer and L2 vary inside a program; the architecture does not
    assert [len(g) for g in groups] == [24, 24]
    assert {tuple(e.model.hidden) for e in groups[0]} == {(32,)}


@pytest.mark.parametrize("bad, message", [
    ({"grid": {"model.hiden": [[32]]}}, "model.hiden"),
    ({"grid": {"train.learning_rate": []}}, "non-empty list"),
    ({"grid": {"train.learning_rate": 0.1}}, "non-empty list"),
    ({"grid": {"train.learning_rate": ["fast"]}}, "train.learning_rate"),
    ({"grid": {"train.optimizer": ["sgd", "adamm"]}}, "adamm"),
    ({"random": {"n": 3, "train.learning_rate": {"log_uniform": [0, 1]}}}, "low > 0"),
    ({"random": {"n": 3, "train.learning_rate": {"normal": [0, 1]}}}, "uniform"),
    ({"grid": {"train.learning_rate": [0.1]}, "repeats": 0}, "sweep.repeats"),
    ({"grid": {"train.learning_rate": [0.1]}, "folds": 1}, "sweep.folds"),
    ({"gird": {"train.learning_rate": [0.1]}}, "sweep.gird"),
    ({}, "nothing to sweep"),
])
def test_bad_sweeps_are_one_clear_line(bad, message):
    with pytest.raises(BadInput) as e:
        sweep.expand({"sweep": bad})
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
def test_mixed_optimizers_member_equals_member_alone(threads):
    """SGD (momentum), Adam and RMSprop in one compiled population, with dropout and batch-norm; in one
    part, or two alike parts side by side (each kind's update on its own members in each)."""
    raw = {"model": {"dropout": 0.2, "batchnorm": True, "hidden": [32]},
           "train": {"epochs": 3, "early_stopping": False},
           "sweep": {"grid": {"train.learning_rate": [0.003, 0.01],
                              "train.optimizer": [{"name": "sgd", "momentum": 0.9}, "adam", "rmsprop"]}}}
    experiments = [e for c in sweep.expand(raw) for e in c.experiments]
    [group] = population.groups_of(experiments)
    data = load_data(group[0])
    info = data.info
    kinds = sorted({population.optimizer_kind(e) for e in group})
    models = [build_model(e.model, info.input_shape, 10, e.train.loss, e.seed) for e in group]
    together = engine.train(population.program_of(group[0], models[0], kinds),
                            [population.member_of(e, m, kinds) for e, m in zip(group, models)], data, threads=threads)
    for exp, model, out in zip(group, models, together):
        alone = engine.train(population.program_of(exp, model), [population.member_of(exp, model)], data)[0]
        np.testing.assert_allclose(out.history["loss"], alone.history["loss"], rtol=1e-5)
        # batch-norm's inference statistics amplify float rounding (see test_engine): with jax 0.10.2 on this
        # machine one member's third val_loss differs by 0.2 % (the same before this change), the training loss
        # above by under 1e-5
        np.testing.assert_allclose(out.history["val_loss"], alone.history["val_loss"], rtol=5e-3)
    assert len({round(o.history["loss"][-1], 4) for o in together}) == 6


@pytest.mark.slow
def test_sweep_end_to_end_through_the_cli(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text('[train]\nepochs = 4\n[sweep]\ngrid = { "train.optimizer" = ["sgd", "adam"], '
                    '"train.learning_rate" = [0.001, 0.01] }\nrepeats = 2\n')
    home = str(tmp_path / "runs")
    doc = cli_json("--home", home, "sweep", str(spec))
    rows = doc["rows"]
    assert len(rows) == 4 and doc["keys"] == ["train.optimizer", "train.learning_rate"]
    # sorted by validation accuracy, best first; repeats give a spread
    vals = [r["val_accuracy"] for r in rows]
    assert vals == sorted(vals, reverse=True) and doc["best"] == rows[0]
    assert all(len(r["runs"]) == 2 and r["val_accuracy_std"] >= 0 for r in rows)
    assert doc["note"] and "seed" in doc["note"]
    # every member is an ordinary run, linked to its sweep
    store = Store(tmp_path / "runs")
    members = store.list_runs(sweep_id=doc["sweep_id"])
    assert len(members) == 8 and {r["status"] for r in members} <= {"ok", "stopped"}
    assert sorted(m["id"] for m in members) == sorted(i for r in rows for i in r["runs"])
    run = store.get_run(rows[0]["runs"][0])
    assert run["test_accuracy"] == pytest.approx(run["history"]["test_accuracy"][run["best_epoch"] - 1])
    assert len(cli_json("--home", home, "runs", "--sweep", doc["sweep_id"][:13])) == 8
    code, out, err = cli("--home", home, "sweep", str(spec), "--set", "sweep.grid={ \"train.epoch\" = [1] }")
    assert code == 2 and out == "" and "train.epoch" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_named_variants_are_swept_and_labelled_by_name(tmp_path):
    from mlplab.spec.sweep import expand
    raw = {"train": {"epochs": 1},
           "sweep": {"variants": {"small": {"model.hidden": [8]},
                                  "cnn": {"model.layers": [{"type": "conv2d", "filters": 4, "kernel": 3},
                                                           {"type": "flatten"}]}},
                     "grid": {"train.learning_rate": [0.001, 0.01]}}}
    configs = expand(raw)
    assert [c.values for c in configs] == [{"variant": "small", "train.learning_rate": 0.001},
                                           {"variant": "small", "train.learning_rate": 0.01},
                                           {"variant": "cnn", "train.learning_rate": 0.001},
                                           {"variant": "cnn", "train.learning_rate": 0.01}]
    assert configs[0].experiments[0].model.hidden == [8] and configs[2].experiments[0].model.convolutional
    assert configs[3].experiments[0].name.endswith("variant=cnn learning_rate=0.01")
    with pytest.raises(BadInput, match=r"sweep.variants.bad: .*model.hidden"):
        expand({"sweep": {"variants": {"bad": {"model.hidden": "wide"}}}})
    with pytest.raises(BadInput, match=r"sweep.variants.empty = \{\}: expected a non-empty table"):
        expand({"sweep": {"variants": {"empty": {}}}})


@pytest.mark.slow
def test_api_sweep_over_variants(tmp_path):
    import mlplab as ml
    result = ml.sweep(variants={"logistic": {"hidden": []}, "one-layer": {"hidden": [16]}}, epochs=2,
                      early_stopping=False, store=tmp_path, progress=False)
    assert sorted(result.table["variant"]) == ["logistic", "one-layer"]
    params = dict(zip(result.table["variant"], result.table["params"]))
    assert params == {"logistic": 650, "one-layer": 64 * 16 + 16 + 16 * 10 + 10}


def test_a_sweep_that_cannot_fit_in_memory_is_refused_before_it_is_stored(tmp_path):
    from mlplab.store import Store
    from mlplab.training.sweeps import run_sweep
    store = Store(tmp_path / "store")
    raw = {"model": {"hidden": [50_000_000]}, "sweep": {"grid": {"train.learning_rate": [0.1, 0.01]}}}
    with pytest.raises(BadInput, match="memory"):
        run_sweep(raw, store)
    assert store.list_sweeps() == [] and store.list_runs() == []
