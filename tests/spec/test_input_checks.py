"""What users type, refused with one line before any work: --set values that are broken TOML, unknown
keys (with a did-you-mean), recipe names that are paths, a sweep's folds and random distributions, and the
API's arguments of the wrong kind. Pure functions: nothing trains."""
import pytest

from mlplab.errors import BadInput


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(BadInput) as e:
        call(*args, **kwargs)
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


# ---------------------------------------------------------------- --set values

def test_a_set_value_that_is_broken_toml_is_refused_as_toml_naming_the_set_and_column():
    from mlplab.spec import load_raw
    assignment = 'model.init={ name = "random_normal", stddev = }'
    msg = refused(load_raw, None, [assignment])
    assert msg.startswith(f"--set {assignment}: not valid TOML at column 36 of the value: invalid value"), msg
    assert "initializer" not in msg and "expected one of" not in msg
    msg = refused(load_raw, None, ["model.hidden=[128, 64"])
    assert msg.startswith("--set model.hidden=[128, 64: not valid TOML at column 9, the end, of the value: unclosed array"), msg


def test_bare_words_and_good_toml_are_values():
    from mlplab.spec import parse_assignment, parse_value
    assert parse_assignment("train.optimizer=sgd") == ("train.optimizer", "sgd")
    assert parse_assignment("model.init={ name = \"random_normal\", stddev = 0.05 }") == (
        "model.init", {"name": "random_normal", "stddev": 0.05})
    assert parse_assignment(" model.hidden = [32] ") == ("model.hidden", [32])
    assert parse_value("[1, 2") == "[1, 2"   # without where (the dashboard's form): the text, validated later
    assert refused(parse_assignment, "train.epochs").startswith("--set train.epochs: expected KEY=VALUE")


# ---------------------------------------------------------------- did you mean

def test_did_you_mean_is_one_hint_for_names_and_mappings():
    from mlplab.spec.messages import did_you_mean
    assert did_you_mean("epoch", ["epochs", "batch_size"]) == "did you mean epochs? "
    assert did_you_mean("hiden", {"model.hidden": "hidden", "train.epochs": "epochs"}) == "did you mean model.hidden? "
    assert did_you_mean("zzz", ["epochs"]) == ""


@pytest.mark.parametrize("key, near", [("hiden", "model.hidden"), ("epoch", "train.epochs"), ("trian", "train"),
                                       ("train.epoch", "epochs"), ("model.activaton", "activation")])
def test_an_unknown_spec_key_suggests_the_nearest_key_in_every_spelling(key, near):
    from mlplab.api.inputs import raw_spec
    from mlplab.spec import load_spec, validate
    for msg in (refused(load_spec, None, [f"{key}=1"]), refused(lambda: validate(raw_spec({key: 1}, {})))):
        assert msg.startswith(f"{key}: unknown key; did you mean {near}? expected one of "), msg


def test_an_unknown_sweep_key_suggests_the_nearest():
    from mlplab.spec.sweep import expand
    msg = refused(expand, {"sweep": {"fold": 3, "grid": {"train.learning_rate": [0.1]}}})
    assert msg.startswith("sweep.fold: unknown key; did you mean folds? expected one of grid, random"), msg


# ---------------------------------------------------------------- names stay in their folder

@pytest.mark.parametrize("ref", ["recipe:../deep-10-layers", "recipe:../../README", "recipe:/etc/passwd",
                                 "recipe:search/fashion-mlp", "recipe:"])
def test_a_recipe_name_never_reaches_a_file_outside_the_recipes(ref):
    from mlplab.spec import read_file
    msg = refused(read_file, ref)
    assert msg.startswith(f"recipe {ref.removeprefix('recipe:')!r}: no such recipe;"), msg
    assert "fashion-mlp" in msg


def test_a_misspelt_recipe_gets_the_nearest_and_a_recipe_reads():
    from mlplab.spec import read_file
    from mlplab.spec.recipes import names, recipe_path
    assert "did you mean fashion-mlp?" in refused(read_file, "recipe:fashon-mlp")
    assert names() and all(recipe_path(f"recipe:{n}").parent.name == "recipes" for n in names())
    assert read_file("recipe:fashion-mlp")["data"]["dataset"] == "fashion-mnist"


# ---------------------------------------------------------------- a sweep's folds and distributions

GRID = {"train.learning_rate": [0.01, 0.1]}


@pytest.mark.parametrize("folds, allowed", [(1, "expected 0 (off) or a whole number >= 2"),
                                            (-2, "expected 0 (off) or a whole number >= 2"),
                                            ("5", "expected 0 (off) or a whole number >= 2"),
                                            (True, "expected 0 (off) or a whole number >= 2")])
def test_sweep_folds_is_checked_alone_and_with_a_grid(folds, allowed):
    from mlplab.spec.messages import show
    from mlplab.spec.sweep import expand
    for sweep in ({"folds": folds}, {"folds": folds, "grid": GRID}):
        msg = refused(expand, {"sweep": sweep})
        assert msg.startswith(f"sweep.folds = {show(folds)}: {allowed}"), msg


def test_folds_alone_says_what_folds_apply_to():
    from mlplab.spec.sweep import expand
    msg = refused(expand, {"sweep": {"folds": 5}})
    assert msg.startswith("sweep: nothing to sweep; folds = 5 applies to each configuration of a grid"), msg
    assert len(expand({"sweep": {"folds": 5, "grid": GRID}})[0].experiments) == 5


def test_folds_beyond_the_smallest_class_are_refused_in_mlplabs_words():
    from mlplab.data import cross_validation_fold, load_dataset
    data = load_dataset("digits", validation_split=0.0)
    msg = refused(cross_validation_fold, data, 1000, 0, "sweep.folds")
    assert msg == ("sweep.folds = 1000: expected a whole number from 2 to 139: every fold holds each class, "
                   "and the class 8 of digits has 139 training rows"), msg
    assert "n_splits" not in msg
    assert cross_validation_fold(data, 139, 0).info.n_val > 0


@pytest.mark.parametrize("dist, said", [
    ({"uniform": [0.5, 1.5]}, 'sweep.random."model.dropout" = {"uniform": [0.5, 1.5]}: draws up to 1.5; '
                              "model.dropout: expected a number >= 0 and < 1"),
    ({"uniform": [-0.2, 0.5]}, 'sweep.random."model.dropout" = {"uniform": [-0.2, 0.5]}: draws from -0.2; '
                               "model.dropout: expected a number >= 0 and < 1"),
    ({"choice": [0.1, 2]}, 'sweep.random."model.dropout" = {"choice": [0.1, 2]}: the choice 2; '
                           "model.dropout: expected a number >= 0 and < 1")])
def test_a_random_distribution_is_checked_before_any_draw_and_named_as_written(dist, said):
    from mlplab.spec.sweep import expand
    for seed in (0, 1, 2):   # whatever the draws would have been
        assert refused(expand, {"seed": seed, "sweep": {"random": {"n": 2, "model.dropout": dist}}}) == said
    assert expand({"sweep": {"random": {"n": 3, "model.dropout": {"uniform": [0.0, 1.0]}}}})   # draws stay below 1


def test_a_continuous_distribution_of_a_whole_number_key_is_refused():
    from mlplab.spec.sweep import expand
    msg = refused(expand, {"sweep": {"random": {"n": 2, "train.epochs": {"uniform": [1, 10]}}}})
    assert msg.startswith('sweep.random."train.epochs" = {"uniform": [1, 10]}: ') and "whole number" in msg, msg


# ---------------------------------------------------------------- the API's arguments

def test_api_overrides_of_the_wrong_kind_are_one_line_naming_the_argument():
    import mlplab as ml
    msg = refused(ml.run, None, ["train.epochs=1"])
    assert msg == ('overrides = ["train.epochs=1"]: expected a dict, e.g. {"train.epochs": 1}, '
                   "or keyword arguments: epochs=1"), msg
    assert refused(ml.sweep, None, ["train.learning_rate"]).startswith('grid = ["train.learning_rate"]: expected a dict')
    assert refused(ml.sweep, variants=["small"]).startswith('variants = ["small"]: expected a dict')


def test_api_unknown_keyword_gets_a_did_you_mean():
    import mlplab as ml
    assert refused(ml.run, hiden=[32]).startswith("hiden: unknown key; did you mean model.hidden? ")
