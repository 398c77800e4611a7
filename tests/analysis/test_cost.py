"""What a run costs before it is built (analysis.cost): exact parameter counts from the spec alone, the
batch as trained, and a one-line refusal of what this machine's memory cannot hold, on every path that
trains; absurd depth and sweep sizes refused before any work."""
import pytest

from conftest import cli, cli_json
from mlplab.analysis import cost
from mlplab.catalog import MAX_LAYERS
from mlplab.errors import BadInput
from mlplab.spec import validate
from mlplab.spec.sweep import MAX_RUNS, expand
from mlplab.store import Store

CNN = [{"type": "conv2d", "filters": 8, "kernel": 3}, {"type": "max_pool", "size": 2},
       {"type": "conv2d", "filters": 16, "kernel": 5, "strides": 2, "padding": "same"}, {"type": "batchnorm"},
       {"type": "flatten"}, {"type": "dense", "units": 32}, {"type": "dropout", "rate": 0.2}]


@pytest.mark.parametrize("model, shape", [({"hidden": [64, 32], "batchnorm": True, "dropout": 0.1}, (784,)),
                                          ({"hidden": []}, (64,)), ({"layers": CNN}, (28, 28, 1))])
def test_the_spec_alone_counts_the_parameters_keras_builds(model, shape):
    from mlplab.engine.models import build_model, count_params
    exp = validate({"model": model})
    params = sum(layer.params for layer in cost.layer_sizes(exp, shape, 10))
    assert params == count_params(build_model(exp.model, shape, 10))


def test_the_batch_as_trained_is_at_most_the_training_rows():
    exp = validate({"train": {"batch_size": 10**9}, "data": {"validation_split": 0.1}})
    est = cost.estimate(exp, (784,), 10, rows=60_000, test_rows=10_000)
    assert (est.train_rows, est.batch) == (54_000, 54_000)
    assert est.batch_bytes == 4 * 54_000 * (4 * 784 + 3 * (64 + 64 + 10))


def test_what_cannot_fit_is_one_line_naming_the_estimate_the_machine_and_the_change():
    exp = validate({"model": {"hidden": [100_000_000]}})
    est = cost.estimate(exp, (784,), 10, rows=60_000, test_rows=10_000)
    assert est.params == 785 * 10**8 + (10**8 + 1) * 10
    with pytest.raises(BadInput) as e:
        cost.fits(exp, est, memory=16 * 10**9)
    assert str(e.value).startswith("model.hidden: training needs about 3.8") and "TB of memory" in str(e.value)
    assert "this machine has 16 GB: fewer or narrower layers" in str(e.value) and "\n" not in str(e.value)
    cost.fits(validate({}), cost.estimate(validate({}), (784,), 10, 60_000, 10_000), memory=16 * 10**9)


def test_a_huge_batch_of_large_images_names_the_batch_size():
    exp = validate({"model": {"layers": [{"type": "conv2d", "filters": 512, "kernel": 3, "padding": "same"}]},
                    "train": {"batch_size": 60_000}})
    with pytest.raises(BadInput, match=r"^train.batch_size: .*: a smaller batch \(train.batch_size = 60000\)$"):
        cost.fits(exp, cost.estimate(exp, (28, 28, 1), 10, 60_000, 10_000), memory=16 * 10**9)


def test_the_machine_memory_is_read():
    assert cost.machine_memory() > 2**28


def test_mlplab_run_refuses_what_cannot_fit_before_building_it(tmp_path):
    code, out, err = cli("--home", str(tmp_path), "run", "--set", "model.hidden=[100000000]")
    assert (code, out) == (2, "") and len(err.strip().splitlines()) == 1, err
    assert "model.hidden: training needs about" in err and "this machine has" in err
    with Store(tmp_path) as store:
        assert store.list_runs() == []


def test_a_users_model_is_checked_before_it_trains(monkeypatch):
    """ml.fit's path: the population of a Keras model built already, its parameters counted."""
    from mlplab.data import load_data
    from mlplab.engine.models import build_model
    from mlplab.training.population import population_of_model, train_population
    exp = validate({"train": {"epochs": 1}})
    data = load_data(exp)
    model = build_model(exp.model, data.info.input_shape, data.info.num_classes)
    monkeypatch.setattr(cost, "machine_memory", lambda: 10**6)
    with pytest.raises(BadInput, match=r"^model.hidden: training needs about .* this machine has 1 MB"):
        train_population(population_of_model(exp, model), data)


def test_absurd_depth_is_refused_by_the_spec():
    with pytest.raises(BadInput, match=rf"^model.hidden = \[8, 8, .*\(10,000 items\): 10000 layers as built; a model "
                                       rf"has at most {MAX_LAYERS} "):
        validate({"model": {"hidden": [8] * 10_000}})
    with pytest.raises(BadInput, match=r"^model.hidden = .*: 300 layers as built"):   # dense, batch-norm, dropout
        validate({"model": {"hidden": [8] * 100, "batchnorm": True, "dropout": 0.1}})
    with pytest.raises(BadInput, match=r"^model.layers = .*: 300 layers as built"):
        validate({"model": {"layers": [{"type": "dense", "units": 4}] * 300}})
    assert len(validate({"model": {"hidden": [8] * MAX_LAYERS}}).model.hidden) == MAX_LAYERS


def test_an_absurd_sweep_is_refused_before_anything_is_drawn():
    lr = {"train.learning_rate": {"uniform": [0.01, 0.1]}}
    with pytest.raises(BadInput, match=r"^sweep: 1,000,000 runs \(random.n 1,000,000\); a sweep trains at most "
                                       r"10,000 runs, each one stored: shrink sweep.random.n$"):
        expand({"sweep": {"random": {"n": 1_000_000, **lr}}})
    grid = {"train.epochs": list(range(1, 101)), "train.batch_size": list(range(1, 101))}
    with pytest.raises(BadInput, match=r"^sweep: 50,000 runs \(grid 10,000 x repeats 5\); .*shrink sweep.grid$"):
        expand({"sweep": {"grid": grid, "repeats": 5}})
    assert MAX_RUNS == 10_000 and len(expand({"sweep": {"random": {"n": 3, **lr}, "repeats": 2}})) == 3


@pytest.mark.slow
def test_a_batch_larger_than_the_data_trains_on_all_rows_at_once(tmp_path):
    doc = cli_json("--home", str(tmp_path), "run", "--set", "train.batch_size=1000000000", "--set", "train.epochs=2")
    assert doc["status"] == "ok", doc


# ---------------------------------------------------------------- time: one estimator for --dry-run, the form, the budget

def test_batch_size_one_counts_every_step():
    """The issue's runs: digits, 64 units, SGD, batch 1, 1000 epochs was '~0.4 s of work'; each of its
    1,294 steps a epoch has a fixed cost, so batch 1 takes several times as long as batch 32 for the same work."""
    def est(batch, **model):
        exp = validate({"model": model or {"hidden": [64]}, "train": {"optimizer": "sgd", "batch_size": batch,
                                                                      "epochs": 1000}})
        return cost.estimate(exp, (64,), 10, rows=1437, test_rows=360)
    one, many = est(1), est(32)
    assert (one.steps, many.steps) == (1294, 41) and one.work == many.work
    assert one.epoch_seconds >= 1294 * cost.STEP_SECONDS and one.seconds > 4 * many.seconds   # measured: 5x
    assert one.seconds == one.setup_seconds + one.compile_seconds + 1000 * one.epoch_seconds


def test_mnist_4096_units_at_batch_one_takes_hours():
    exp = validate({"model": {"hidden": [4096]}, "train": {"batch_size": 1, "epochs": 300}})
    est = cost.estimate(exp, (784,), 10, rows=60_000, test_rows=10_000)
    assert est.steps == 54_000 and est.seconds > 7.6 * 3600   # the issue measured at least 7.6 h


def test_a_convolution_costs_more_than_a_dense_layer_of_its_parameters():
    conv = validate({"model": {"layers": CNN}})
    dense = validate({"model": {"hidden": [32]}})
    c, d = cost.estimate(conv, (28, 28, 1), 10, 60_000, 10_000), cost.estimate(dense, (28, 28, 1), 10, 60_000, 10_000)
    assert c.params < d.params and c.epoch_seconds > d.epoch_seconds


def test_the_estimate_reads_as_one_line_and_a_document():
    est = cost.estimate(validate({}), (64,), 10, rows=1437, test_rows=360)
    assert est.text().startswith("8,970 parameters; memory about ") and "\n" not in est.text()
    assert "41 steps of 32" in est.text() and "for 20 epochs" in est.text()
    doc = est.to_json()
    assert doc["params"] == 8970 and doc["steps_per_epoch"] == 41 and doc["seconds"] == round(est.seconds, 2)
    assert doc["peak_bytes"] == cost.RUNTIME_BYTES + doc["memory_bytes"]


def test_a_sweep_compiles_once_per_structure():
    exps = [validate({"train": {"learning_rate": lr}}) for lr in (0.1, 0.01, 0.001)]
    estimates, seconds = cost.estimate_sweep(exps)
    one = estimates[0]
    assert len(estimates) == 3 and seconds == pytest.approx(one.setup_seconds + one.compile_seconds
                                                             + 3 * one.epochs * one.epoch_seconds)


def test_dry_run_prints_the_estimate_and_stores_nothing(tmp_path):
    code, out, err = cli("--home", str(tmp_path), "run", "--dry-run", "--set", "train.batch_size=1")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2, (out, err)
    assert "1,294 steps of 1" in lines[0] and "parameters" in lines[0] and "compiling" in lines[0]
    assert lines[1].startswith("nothing trained, nothing stored")
    assert not Store(tmp_path).list_runs()
    doc = cli_json("--home", str(tmp_path), "run", "--dry-run", "--set", "train.epochs=3")
    assert doc["params"] == 8970 and doc["epochs"] == 3 and doc["seconds"] > 0
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\ngrid = { "train.learning_rate" = [0.1, 0.01] }\n')
    doc = cli_json("--home", str(tmp_path), "sweep", str(sweep), "--dry-run")
    assert doc["runs"] == 2 and len(doc["estimates"]) == 2 and not Store(tmp_path).list_runs()


def test_dry_run_of_what_cannot_fit_says_so_after_the_estimate(tmp_path):
    code, out, err = cli("--home", str(tmp_path), "run", "--dry-run", "--set", "model.hidden=[100000000]")
    assert code == 2 and "7,500,000,010 parameters" in out and "model.hidden: training needs about" in err
