"""The spec: files and --set overrides in, a validated Experiment out, or one clear BadInput line."""
import copy
import inspect
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from mlplab.errors import BadInput
from mlplab.spec import INITIALIZERS, Experiment, load_spec, parse_value, set_dotted, validate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def bad(*overrides: str, path=None) -> str:
    """The one-line message load_spec gives for these overrides (it must raise BadInput)."""
    with pytest.raises(BadInput) as info:
        load_spec(path, list(overrides))
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert "pydantic" not in msg.lower() and "http" not in msg, msg
    assert "Traceback" not in msg and "{'" not in msg, msg  # no Python reprs of dicts
    return msg


# ---------------------------------------------------------------- defaults

DEFAULT = {
    "name": "digits-64-64-relu-adam",
    "seed": 0,
    "data": {"dataset": "digits", "scale": "unit", "validation_split": 0.1},
    "model": {"hidden": [64, 64], "activation": "relu", "init": {"name": "glorot_uniform"}, "dropout": 0.0,
              "batchnorm": False, "l1": 0.0, "l2": 0.0},
    "train": {"loss": "sparse_categorical_crossentropy", "epochs": 20, "batch_size": 32, "shuffle": True,
              "early_stopping": {"monitor": "val_loss", "patience": 3, "min_delta": 0.0, "restore_best": True}},
}


def test_empty_spec_resolves_to_the_documented_defaults():
    exp = load_spec()
    r = exp.resolved()
    for section, values in DEFAULT.items():
        if isinstance(values, dict):
            for key, value in values.items():
                assert r[section][key] == value, (section, key)
        else:
            assert r[section] == values
    opt = r["train"]["optimizer"]
    assert opt["name"] == "adam"
    assert opt["learning_rate"] == pytest.approx(0.001)
    assert opt["beta_1"] == pytest.approx(0.9) and opt["beta_2"] == pytest.approx(0.999)
    assert "learning_rate" not in r["train"]  # the shorthand is folded into the optimizer
    assert "sweep" not in r
    assert exp.train.lr == pytest.approx(0.001)
    assert exp.data.options == {}
    assert not exp.model.convolutional


def test_resolved_is_json_and_reruns_exactly():
    for overrides in ([], ["train.optimizer=sgd", "train.optimizer.momentum=0.9", "train.learning_rate=0.05",
                           "train.early_stopping=false", "model.init={ name = \"random_normal\", stddev = 0.01 }",
                           "data.dataset=cosine2d", "data.n=200", "data.scale=none"],
                      ['model.layers=[{ type = "conv2d", filters = 8 }, { type = "max_pool" }, { type = "flatten" }, '
                       '{ type = "dense", units = 16, init = "he_normal" }, { type = "dropout", rate = 0.1 }]']):
        first = load_spec(None, overrides).resolved()
        assert json.loads(json.dumps(first)) == first
        again = validate(copy.deepcopy(first)).resolved()
        assert again == first
        assert validate(again).resolved() == first


def test_resolved_layers_keep_only_the_keys_of_their_type():
    r = load_spec(None, ['model.layers=[{ type = "dense", units = 16 }, { type = "dropout", rate = 0.2 }, '
                         '{ type = "flatten" }]']).resolved()
    dense, dropout, flatten = r["model"]["layers"]
    assert dense["type"] == "dense" and dense["units"] == 16 and "filters" not in dense and "rate" not in dense
    assert dropout == {"type": "dropout", "rate": 0.2}
    assert flatten == {"type": "flatten"}


# ---------------------------------------------------------------- files

def test_toml_and_yaml_files_give_the_same_experiment(tmp_path):
    toml = tmp_path / "a.toml"
    toml.write_text(
        'name = "x"\nseed = 3\n[data]\ndataset = "mnist"\nscale = "standard"\nvalidation_split = 0\n'
        '[model]\nhidden = [128, 64]\nactivation = "tanh"\ninit = { name = "truncated_normal", stddev = 0.01 }\n'
        'dropout = 0.2\nbatchnorm = true\nl2 = 1e-4\n'
        '[train]\noptimizer = { name = "sgd", momentum = 0.9, nesterov = true }\nlearning_rate = 0.05\n'
        'epochs = 7\nbatch_size = 128\nearly_stopping = false\n')
    yml = tmp_path / "a.yaml"
    yml.write_text(
        "name: x\nseed: 3\ndata: {dataset: mnist, scale: standard, validation_split: 0}\n"
        "model:\n  hidden: [128, 64]\n  activation: tanh\n  init: {name: truncated_normal, stddev: 0.01}\n"
        "  dropout: 0.2\n  batchnorm: true\n  l2: 1.0e-4\n"
        "train:\n  optimizer: {name: sgd, momentum: 0.9, nesterov: true}\n  learning_rate: 0.05\n"
        "  epochs: 7\n  batch_size: 128\n  early_stopping: false\n")
    a, b = load_spec(toml), load_spec(yml)
    assert a.resolved() == b.resolved()
    assert a.name == "x" and a.seed == 3
    assert a.data.dataset == "mnist" and a.data.scale == "standard" and a.data.validation_split == 0
    assert a.model.hidden == [128, 64] and a.model.activation == "tanh"
    assert a.model.init.name == "truncated_normal" and a.model.init.stddev == 0.01
    assert a.model.dropout == 0.2 and a.model.batchnorm is True and a.model.l2 == pytest.approx(1e-4)
    assert a.train.optimizer.name == "sgd"
    settings = a.train.optimizer.settings()
    assert settings["learning_rate"] == 0.05 and settings["momentum"] == 0.9 and settings["nesterov"] is True
    assert a.train.epochs == 7 and a.train.batch_size == 128 and a.train.early_stopping is None
    assert a.resolved()["train"]["early_stopping"] is False


def test_yaml_scientific_notation_without_a_dot_is_a_number(tmp_path):
    # PyYAML reads `1e-3` as a string (YAML 1.1); the spec still takes it as a number
    p = tmp_path / "s.yml"
    p.write_text("train:\n  learning_rate: 1e-3\n")
    assert load_spec(p).train.lr == pytest.approx(1e-3)


def test_empty_yaml_file_is_the_default_spec(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert load_spec(p).resolved() == load_spec().resolved()


def test_overrides_apply_on_top_of_the_file(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[model]\nhidden = [8]\n[train]\noptimizer = "sgd"\nepochs = 3\n')
    exp = load_spec(p, ["train.epochs=9", "train.optimizer.momentum=0.5"])
    assert exp.model.hidden == [8]
    assert exp.train.epochs == 9
    assert exp.train.optimizer.name == "sgd" and exp.train.optimizer.momentum == 0.5


def test_malformed_toml_names_the_file_and_the_line(tmp_path):
    p = tmp_path / "broken.toml"
    p.write_text("[model]\nhidden = 64 64\n[train]\nepochs = 3\n")
    msg = bad(path=p)
    assert str(p) in msg and "not valid TOML" in msg and "line" in msg


def test_malformed_yaml_names_the_file(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("model: {hidden: [1, 2\n")
    msg = bad(path=p)
    assert str(p) in msg and "not valid YAML" in msg


def test_missing_file():
    msg = bad(path="/nonexistent/spec.toml")
    assert msg == "spec file /nonexistent/spec.toml: not found"


def test_yaml_that_is_a_list(tmp_path):
    p = tmp_path / "list.yaml"
    p.write_text("- 1\n- 2\n")
    msg = bad(path=p)
    assert str(p) in msg and "expected a mapping of sections" in msg and "list" in msg


def test_unknown_file_format(tmp_path):
    p = tmp_path / "spec.txt"
    p.write_text("x")
    msg = bad(path=p)
    assert str(p) in msg and ".toml" in msg and ".yaml" in msg


def test_unknown_key_in_a_file_names_it(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[model]\nhiden = [1]\n")
    msg = bad(path=p)
    assert msg.startswith("model.hiden: unknown key") and "did you mean hidden?" in msg


# ---------------------------------------------------------------- --set

@pytest.mark.parametrize("text, value", [
    ("0.1", 0.1), ("3", 3), ("-2", -2), ("1e-3", 1e-3), ("true", True), ("false", False),
    ("[128, 64]", [128, 64]), ("[]", []), ('"quoted"', "quoted"), ("rmsprop", "rmsprop"),
    ('{ name = "sgd", momentum = 0.9 }', {"name": "sgd", "momentum": 0.9}),
    ("/some/path/data.npz", "/some/path/data.npz"), ("fashion-mnist", "fashion-mnist"), ("", ""),
])
def test_parse_value_reads_toml_values_and_bare_words(text, value):
    assert parse_value(text) == value


def test_overrides_of_every_kind():
    exp = load_spec(None, [
        "seed=7", "name=mine", "data.dataset=mnist", "data.validation_split=0", "data.scale=symmetric",
        "model.hidden=[128, 32, 16]", "model.activation=tanh", "model.dropout=0.25", "model.batchnorm=true",
        "model.l2=0.001", 'model.init={ name = "random_normal", stddev = 0.01 }',
        "train.optimizer=rmsprop", "train.learning_rate=0.01", "train.epochs=4", "train.batch_size=256",
        "train.loss=categorical_crossentropy", "train.early_stopping.patience=6",
        'train.early_stopping.monitor="val_accuracy"',
    ])
    assert (exp.seed, exp.name) == (7, "mine")
    assert (exp.data.dataset, exp.data.validation_split, exp.data.scale) == ("mnist", 0.0, "symmetric")
    assert exp.model.hidden == [128, 32, 16] and exp.model.activation == "tanh"
    assert exp.model.dropout == 0.25 and exp.model.batchnorm is True and exp.model.l2 == 0.001
    assert (exp.model.init.name, exp.model.init.stddev) == ("random_normal", 0.01)
    assert exp.train.optimizer.name == "rmsprop" and exp.train.lr == 0.01
    assert (exp.train.epochs, exp.train.batch_size, exp.train.loss) == (4, 256, "categorical_crossentropy")
    es = exp.train.early_stopping
    assert (es.monitor, es.patience, es.restore_best) == ("val_accuracy", 6, True)


def test_optimizer_name_then_a_setting_of_it():
    exp = load_spec(None, ["train.optimizer=sgd", "train.optimizer.momentum=0.9"])
    assert exp.train.optimizer.name == "sgd"
    settings = exp.train.optimizer.settings()
    assert settings["momentum"] == 0.9 and settings["learning_rate"] == pytest.approx(0.01)  # Keras' SGD default
    assert exp.resolved()["train"]["optimizer"]["momentum"] == 0.9


def test_init_name_then_a_parameter_of_it():
    exp = load_spec(None, ["model.init=random_normal", "model.init.stddev=0.2"])
    assert (exp.model.init.name, exp.model.init.stddev) == ("random_normal", 0.2)


def test_later_overrides_win_and_early_stopping_can_be_turned_off():
    exp = load_spec(None, ["train.epochs=3", "train.epochs=5", "train.early_stopping=false"])
    assert exp.train.epochs == 5 and exp.train.early_stopping is None
    assert load_spec(None, ["train.early_stopping=true"]).train.early_stopping.patience == 3


def test_data_options_of_generated_sets_pass_through():
    exp = load_spec(None, ["data.dataset=cosine2d", "data.n=500", "data.a=0.5", "data.noise=0.1"])
    assert exp.data.options == {"n": 500, "a": 0.5, "noise": 0.1}
    assert exp.resolved()["data"] == {"dataset": "cosine2d", "scale": "unit", "validation_split": 0.1,
                                      "n": 500, "a": 0.5, "noise": 0.1}
    folds = load_spec(None, ["data.folds=5", "data.fold=4"])  # set by sweeps for cross-validation, any data set
    assert folds.data.options == {"folds": 5, "fold": 4}
    assert load_spec(None, ["data.dataset=Cosine2D", "data.seed=3"]).data.options == {"seed": 3}


def test_data_option_names_agree_with_the_loader():
    from mlplab.catalog import DATASET_OPTIONS
    from mlplab.data import sources as data
    from mlplab.spec import Data
    assert set(inspect.signature(data.cosine2d).parameters) == set(DATASET_OPTIONS["cosine2d"])
    assert set(inspect.signature(data._digits).parameters) == set(DATASET_OPTIONS["digits"])
    assert {k for keys in DATASET_OPTIONS.values() for k in keys} <= set(Data.model_fields)


@pytest.mark.parametrize("overrides, message", [
    (["data.validaton_split=0.2"], "data.validaton_split: unknown key; did you mean validation_split? expected one of "
                                   "dataset, scale, validation_split, flatten, n, a, noise, seed, split_seed, folds, fold"),
    (["data.scael=unit"], "data.scael: unknown key; did you mean scale?"),
    (["data.dataset=cosine2d", "data.nosie=0.1"], "data.nosie: unknown key; did you mean noise?"),
    (["data.n=500"], 'data.n = 500: only for cosine2d (options n, a, noise, seed); dataset "digits" does not take it'),
    (["data.dataset=mnist", "data.noise=0.1"], 'data.noise = 0.1: only for cosine2d'),
    (["data.dataset=cosine2d", "data.n=2"], "data.n = 2: expected a whole number >= 4"),
    (["data.dataset=cosine2d", "data.noise=-1"], "data.noise = -1: expected a number >= 0"),
    (["data.dataset=cosine2d", "data.a=big"], 'data.a = "big": expected a number'),
    (["data.fold=1"], "data.fold = 1: needs data.folds (the number of folds)"),
    (["data.folds=3", "data.fold=3"], "data.fold = 3: expected a whole number >= 0 and < folds (3)"),
    (["data.folds=1"], "data.folds = 1: expected a whole number >= 2"),
])
def test_unknown_or_misplaced_data_keys_are_refused(overrides, message):
    assert bad(*overrides).startswith(message)


def test_set_without_equals():
    msg = bad("train.epochs")
    assert msg.startswith("--set train.epochs: expected KEY=VALUE")


def test_set_into_a_value_that_is_not_a_table():
    msg = bad("model.hidden=[64]", "model.hidden.x=1")
    assert msg == "--set model.hidden.x: hidden is [64], not a table of keys"


def test_set_dotted_builds_sections():
    raw = {}
    set_dotted(raw, "train.optimizer", "adam")
    set_dotted(raw, "train.optimizer.beta_1", 0.8)
    set_dotted(raw, "a.b.c", 1)
    assert raw == {"train": {"optimizer": {"name": "adam", "beta_1": 0.8}}, "a": {"b": {"c": 1}}}


# ---------------------------------------------------------------- learning_rate shorthand

def test_learning_rate_shorthand_folds_into_the_optimizer():
    exp = load_spec(None, ["train.optimizer=sgd", "train.learning_rate=0.3"])
    assert exp.train.optimizer.learning_rate == 0.3 and exp.train.lr == 0.3
    r = exp.resolved()
    assert r["train"]["optimizer"]["learning_rate"] == 0.3 and "learning_rate" not in r["train"]


def test_learning_rate_given_twice_in_one_file_must_agree(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[train]\noptimizer = { name = "sgd", learning_rate = 0.2 }\nlearning_rate = 0.2\n')
    assert load_spec(p).train.lr == 0.2
    p.write_text('[train]\noptimizer = { name = "sgd", learning_rate = 0.2 }\nlearning_rate = 0.1\n')
    assert bad(path=p) == "train.learning_rate = 0.1: disagrees with optimizer.learning_rate = 0.2; give one of them"
    # one override (or one dict of the Python API) is one value, as a file is
    msg = bad('train={ learning_rate = 0.1, optimizer = { name = "sgd", learning_rate = 0.2 } }')
    assert msg.startswith("train.learning_rate = 0.1: disagrees with optimizer.learning_rate = 0.2")


SGD_EXAMPLE = ROOT / "examples" / "digits-64-64-sgd.toml"  # optimizer = { name = "sgd", learning_rate = 0.05, momentum = 0.9 }


def test_learning_rate_override_wins_over_the_file():
    exp = load_spec(SGD_EXAMPLE, ["train.learning_rate=0.1"])
    assert exp.train.lr == 0.1
    assert exp.train.optimizer.name == "sgd" and exp.train.optimizer.momentum == 0.9  # the rest of the table stays
    assert exp.resolved()["train"]["optimizer"]["learning_rate"] == 0.1
    assert load_spec(SGD_EXAMPLE, ["train.optimizer.learning_rate=0.2"]).train.lr == 0.2


def test_optimizer_override_wins_over_the_files_learning_rate(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[train]\noptimizer = "sgd"\nlearning_rate = 0.05\n')
    assert load_spec(p, ["train.optimizer.learning_rate=0.2"]).train.lr == 0.2
    exp = load_spec(p, ['train.optimizer={ name = "adam", learning_rate = 0.003 }'])
    assert (exp.train.optimizer.name, exp.train.lr) == ("adam", 0.003)
    exp = load_spec(p, ["train.optimizer=adam"])  # a name alone keeps the file's learning rate
    assert (exp.train.optimizer.name, exp.train.lr) == ("adam", 0.05)
    # the later of two overrides wins, as for any key
    assert load_spec(p, ["train.optimizer.learning_rate=0.2", "train.learning_rate=0.3"]).train.lr == 0.3


def test_set_dotted_drops_the_other_learning_rate():
    raw = {"train": {"optimizer": {"name": "sgd", "learning_rate": 0.05}}}
    set_dotted(raw, "train.learning_rate", 0.1)
    assert raw == {"train": {"optimizer": {"name": "sgd"}, "learning_rate": 0.1}}
    set_dotted(raw, "train.optimizer.learning_rate", 0.2)
    assert raw == {"train": {"optimizer": {"name": "sgd", "learning_rate": 0.2}}}
    set_dotted(raw, "train.learning_rate", 0.3)
    set_dotted(raw, "train.optimizer", {"name": "adam", "learning_rate": 0.004})
    assert raw == {"train": {"optimizer": {"name": "adam", "learning_rate": 0.004}}}


@pytest.mark.parametrize("overrides", [
    {"train.learning_rate": 0.01}, {"learning_rate": 0.01}, {"train__learning_rate": 0.01},
    {"train": {"learning_rate": 0.01}}, {"train": {"optimizer": {"learning_rate": 0.01}}},
])
def test_python_api_overrides_win_over_the_file(overrides):
    from mlplab.api import _raw
    exp = validate(_raw(str(SGD_EXAMPLE), overrides))
    assert exp.train.lr == 0.01 and exp.train.optimizer.momentum == 0.9 and exp.train.epochs == 40
    # an Experiment (its resolved spec holds optimizer.learning_rate) takes overrides as a file does
    assert validate(_raw(exp, {"train.learning_rate": 0.3})).train.lr == 0.3


def test_python_api_nested_overrides_are_set_in_their_section():
    from mlplab.api import _raw
    exp = validate(_raw(str(SGD_EXAMPLE), {"train": {"epochs": 3}, "model": {"init": {"name": "random_normal"}}}))
    assert exp.train.epochs == 3 and exp.train.lr == 0.05 and exp.model.init.name == "random_normal"


def test_sweep_points_override_the_files_learning_rate():
    from mlplab.spec import read_file
    from mlplab.spec.sweep import expand
    raw = read_file(SGD_EXAMPLE)
    raw["sweep"] = {"grid": {"train.learning_rate": [0.01, 0.1]}}
    rates = [c.experiments[0].train.lr for c in expand(raw)]
    assert rates == [0.01, 0.1]


# ---------------------------------------------------------------- bad values

# (overrides, field named first, the bad value as shown, words saying what is allowed)
BAD = [
    (["model.activation=rleu"], "model.activation", '"rleu"', '"relu", "sigmoid", "tanh"'),
    (["model.activation=3"], "model.activation", "3", '"relu"'),
    (["model.hidden=[0]"], "model.hidden", "[0]", "positive layer widths"),
    (["model.hidden=[64, -1]"], "model.hidden", "[64, -1]", "positive layer widths"),
    (['model.hidden="abc"'], "model.hidden", '"abc"', "a list of positive layer widths"),
    (["model.hidden=abc"], "model.hidden", '"abc"', "a list of positive layer widths, e.g. [128, 64]"),
    (["model.hidden=[1.5]"], "model.hidden[0]", "1.5", "positive whole number"),
    (["model.dropout=1.5"], "model.dropout", "1.5", "a number >= 0 and < 1"),
    (["model.dropout=-0.1"], "model.dropout", "-0.1", "a number >= 0 and < 1"),
    (["model.l2=-1"], "model.l2", "-1", "a number >= 0"),
    (["model.batchnorm=maybe"], "model.batchnorm", '"maybe"', "true or false"),
    (["model.init=foo"], "model.init.name", '"foo"', "glorot_uniform, glorot_normal, he_normal"),
    (['model.init={name="random_normal", stddev=-1}'], "model.init.stddev", "-1", "a number >= 0"),
    (['model.init={name="random_normal", stdev=1}'], "model.init.stdev", None, "did you mean stddev?"),
    (['model.init={name="glorot_uniform", stddev=1}'], "model.init.stddev", "1", "does not apply to glorot_uniform"),
    (["model.init=3"], "model.init", "3", "an initializer name"),
    (["train.optimizer=adamm"], "train.optimizer.name", '"adamm"', '"sgd", "adam", "adamw", "rmsprop" or "adagrad"'),
    (['train.optimizer={name="adam", momentum=0.9}'], "train.optimizer.momentum", "0.9",
     "does not apply to adam; adam takes learning_rate, amsgrad, beta_1, beta_2, epsilon"),
    (["train.optimizer=sgd", "train.optimizer.beta_1=0.9"], "train.optimizer.beta_1", "0.9",
     "does not apply to sgd; sgd takes learning_rate, momentum, nesterov"),
    (['train.optimizer={name="sgd", momentum=1.5}'], "train.optimizer.momentum", "1.5", "a number >= 0 and < 1"),
    (["train.optimizer=[1]"], "train.optimizer", "[1]", "an optimizer name (sgd, adam"),
    (["train.learning_rate=-1"], "train.learning_rate", "-1", "a number > 0"),
    (["train.learning_rate=0"], "train.learning_rate", "0", "a number > 0"),
    (["train.learning_rate=fast"], "train.learning_rate", '"fast"', "a number"),
    (["train.epochs=0"], "train.epochs", "0", "a whole number > 0"),
    (["train.epochs=2.5"], "train.epochs", "2.5", "a whole number"),
    (["train.epochs=true"], "train.epochs", "true", "a whole number, not true/false"),
    (["train.epochs=ten"], "train.epochs", '"ten"', "a whole number"),
    (["train.batch_size=0"], "train.batch_size", "0", "a whole number > 0"),
    (["train.loss=hinge"], "train.loss", '"hinge"', '"sparse_categorical_crossentropy"'),
    (['train.early_stopping={monitor="val_los"}'], "train.early_stopping.monitor", '"val_los"', '"val_loss"'),
    (['train.early_stopping={patience=-1}'], "train.early_stopping.patience", "-1", "a whole number >= 0"),
    (["train.early_stopping=maybe"], "train.early_stopping", '"maybe"', "or false to turn it off"),
    (['train.early_stopping={wait=3}'], "train.early_stopping.wait", None, "monitor, patience"),
    (["data.scale=minmax"], "data.scale", '"minmax"', '"unit", "symmetric", "standard" or "none"'),
    (["data.validation_split=1.0"], "data.validation_split", "1.0", "a number >= 0 and < 1"),
    (["data.validation_split=-0.5"], "data.validation_split", "-0.5", "a number >= 0 and < 1"),
    (["data.dataset=3"], "data.dataset", "3", "digits, mnist, fashion-mnist"),
    (["seed=-1"], "seed", "-1", "a whole number >= 0"),
    (["name=3"], "name", "3", "a string"),
    (["model.hiden=[1]"], "model.hiden", None, "did you mean hidden? expected one of hidden, activation"),
    (["train.epoch=3"], "train.epoch", None, "did you mean epochs?"),
    (["trian.epochs=3"], "trian", None, "did you mean train? expected one of name, seed, data, model, train, sweep"),
    (["model=3"], "model", "3", "a table of keys"),
    (['model.layers=[{type="dense"}]'], "model.layers[0].units", None, "a dense layer needs units"),
    (['model.layers=[{type="flatten"}, {type="conv2d"}]'], "model.layers[1].filters", None,
     "a conv2d layer needs filters"),
    (['model.layers=[{type="lstm", units=3}]'], "model.layers[0].type", '"lstm"', '"dense", "dropout"'),
    (['model.layers=[{type="dense", units=0}]'], "model.layers[0].units", "0", "a whole number > 0"),
    (['model.layers=[{type="dense", units=4, activation="rleu"}]'], "model.layers[0].activation", '"rleu"', '"relu"'),
    (['model.layers=[{type="dropout", rate=1}]'], "model.layers[0].rate", "1", "a number >= 0 and < 1"),
    (['model.layers=[{type="dropout", units=3}]'], "model.layers[0].units", "3",
     "does not apply to a dropout layer; it takes rate"),
    (['model.layers=[{type="dense", unit=3}]'], "model.layers[0].unit", None, "did you mean units?"),
    (['model.layers="abc"'], "model.layers", '"abc"', "a list of layer tables"),
    (['model.layers=[{type="conv2d", filters=8}]', "data.flatten=true"], "data.flatten", "true",
     "cannot feed a model with conv2d/max_pool layers"),
    (["sweep.grid=3"], "sweep.grid", "3", "a table of dotted keys to lists of values"),
    (['model.init={name="random_uniform", minval=0.1}'], "model.init.minval", "0.1", "a number <= maxval (0.05)"),
    (['model.init={name="random_uniform", minval=0.1, maxval=0}'], "model.init.maxval", "0", ">= minval (0.1)"),
]


@pytest.mark.parametrize("overrides, field, shown, allowed", BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_value_message_names_field_value_and_what_is_allowed(overrides, field, shown, allowed):
    msg = bad(*overrides)
    if shown is None:
        assert msg.startswith(f"{field}: "), msg
    else:
        assert msg.startswith(f"{field} = {shown}: "), msg
    assert allowed in msg, msg


@pytest.mark.parametrize("key, value, shown, advice", [
    ("hidden", "[32]", "[32]", 'list the layers instead, e.g. { type = "dense", units = 64 }'),
    ("activation", "tanh", '"tanh"', "set activation on each layer"),
    ("dropout", "0.2", "0.2", 'add { type = "dropout", rate = ... } layers'),
    ("batchnorm", "true", "true", 'add { type = "batchnorm" } layers'),
])
def test_shorthand_keys_with_layers_are_refused(key, value, shown, advice):
    layers = 'model.layers=[{ type = "dense", units = 16 }]'
    assert bad(layers, f"model.{key}={value}") == \
        f"model.{key} = {shown}: does not apply when model.layers is given; {advice}"
    assert bad(f"model.{key}={value}", layers).startswith(f"model.{key} = {shown}: ")  # either order
    # the default value, written out, is still ignored: refused too
    default = {"hidden": "[64, 64]", "activation": "relu", "dropout": "0.0", "batchnorm": "false"}[key]
    assert bad(layers, f"model.{key}={default}").startswith(f"model.{key} = ")


def test_a_sweep_over_a_shorthand_key_with_layers_is_refused():
    from mlplab.spec.sweep import expand
    raw = {"model": {"layers": [{"type": "dense", "units": 8}]},
           "sweep": {"grid": {"model.activation": ["relu", "tanh"]}}}
    with pytest.raises(BadInput, match='model.activation = "relu": does not apply when model.layers is given'):
        expand(raw)


def test_init_and_regularizers_apply_with_layers_and_resolved_has_no_shorthand():
    exp = load_spec(None, ['model.layers=[{ type = "dense", units = 16 }, { type = "dropout", rate = 0.1 }]',
                           "model.init=he_normal", "model.l2=0.001", "model.l1=0.0001"])
    r = exp.resolved()
    assert set(r["model"]) == {"init", "l1", "l2", "layers"}
    assert r["model"]["init"] == {"name": "he_normal"} and r["model"]["l2"] == 0.001
    assert validate(copy.deepcopy(r)).resolved() == r
    assert "hidden" in load_spec().resolved()["model"]  # without layers the shorthand stays


@pytest.mark.parametrize("override, field", [
    ("train.learning_rate=inf", "train.learning_rate"), ("train.learning_rate=nan", "train.learning_rate"),
    ("train.learning_rate=-inf", "train.learning_rate"), ("model.l2=inf", "model.l2"), ("model.l1=nan", "model.l1"),
    ("model.dropout=nan", "model.dropout"), ("data.validation_split=nan", "data.validation_split"),
    ('model.init={ name = "random_normal", stddev = inf }', "model.init.stddev"),
    ('model.init={ name = "random_normal", mean = nan }', "model.init.mean"),
    ('model.init={ name = "constant", value = inf }', "model.init.value"),
    ('train.optimizer={ name = "sgd", momentum = nan }', "train.optimizer.momentum"),
    ('train.optimizer={ name = "adam", epsilon = inf }', "train.optimizer.epsilon"),
    ('train.optimizer={ name = "adamw", weight_decay = inf }', "train.optimizer.weight_decay"),
    ("train.early_stopping.min_delta=inf", "train.early_stopping.min_delta"),
    ('model.layers=[{ type = "dense", units = 4, l2 = inf }]', "model.layers[0].l2"),
    ('model.layers=[{ type = "dropout", rate = nan }]', "model.layers[0].rate"),
    ("train.epochs=inf", "train.epochs"), ("model.hidden=[nan]", "model.hidden[0]"),
])
def test_infinity_and_nan_are_refused_for_every_number(override, field):
    shown = override.rsplit("=", 1)[1].strip(" {}[]")
    assert bad(override) == f"{field} = {shown}: expected a finite number, not inf or nan"


def test_infinity_in_a_file_is_refused(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[data]\ndataset = \"cosine2d\"\na = inf\n")
    assert bad(path=p) == "data.a = inf: expected a finite number, not inf or nan"
    y = tmp_path / "s.yaml"
    y.write_text("model:\n  l2: .nan\n")
    assert bad(path=y) == "model.l2 = nan: expected a finite number, not inf or nan"


INIT_PARAMETERS = {"mean": 0.1, "stddev": 0.2, "minval": -0.3, "maxval": 0.4, "value": 0.5}


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_every_initializer_resolves_and_reruns(name):
    given = {k: INIT_PARAMETERS[k] for k in INITIALIZERS[name]}
    table = ", ".join([f'name = "{name}"'] + [f"{k} = {v}" for k, v in given.items()])
    for override in (f"model.init={name}", f"model.init={{ {table} }}"):
        for spec in ([override], [override, 'model.layers=[{ type = "dense", units = 4, init = "zeros" }]']):
            r = load_spec(None, spec).resolved()
            assert json.loads(json.dumps(r)) == r
            assert validate(copy.deepcopy(r)).resolved() == r
            init = r["model"]["init"]
            assert init["name"] == name and set(init) == {"name", *INITIALIZERS[name]}
    exp = load_spec(None, [f"model.init={{ {table} }}"])
    assert {k: getattr(exp.model.init, k) for k in given} == given
    assert {k: exp.resolved()["model"]["init"][k] for k in given} == given


@pytest.mark.parametrize("init, value", [('{ name = "constant", value = 0.1 }', 0.1), ('"constant"', 0.0),
                                         ('"ones"', 1.0), ('"zeros"', 0.0)])
def test_constant_initializers_build_a_model(init, value):
    from mlplab.engine.models import build_model
    exp = load_spec(None, [f"model.init={init}", "model.hidden=[3]"])
    model = build_model(exp.model, (2,), 2, exp.train.loss, 0)
    assert np.allclose(model.layers[0].get_weights()[0], value)


def test_unknown_top_level_section_in_a_file(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[training]\nepochs = 3\n")
    assert bad(path=p) == "training: unknown key; did you mean train? expected one of name, seed, data, model, train, sweep"


def test_conv_model_keeps_images_unless_told():
    exp = load_spec(None, ['model.layers=[{ type = "conv2d", filters = 8 }, { type = "max_pool" }]'])
    assert exp.model.convolutional and exp.data.flatten is None
    assert load_spec(None, ['model.layers=[{ type = "conv2d", filters = 8 }]', "data.flatten=false"]).data.flatten is False


def test_display_name_is_derived_from_the_spec():
    assert load_spec().display_name == "digits-64-64-relu-adam"
    assert load_spec(None, ["model.hidden=[]", "train.optimizer=sgd", "data.dataset=mnist"]).display_name == \
        "mnist-logistic-sgd"
    assert load_spec(None, ['model.layers=[{ type = "conv2d", filters = 8 }, { type = "max_pool" }, '
                            '{ type = "dense", units = 16 }]']).display_name == "digits-conv8-pool-16-adam"
    assert load_spec(None, ["name=given"]).display_name == "given"


def test_validate_accepts_a_plain_dict_and_returns_an_experiment():
    exp = validate({"model": {"hidden": []}, "train": {"epochs": 1}})
    assert isinstance(exp, Experiment) and exp.model.hidden == [] and exp.train.epochs == 1


# ---------------------------------------------------------------- examples/

def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"logistic-mnist.toml", "digits-64-64-sgd.toml", "relu-vs-sigmoid-adam-vs-sgd.toml",
            "mnist-512-128-bn-dropout.toml", "deep-10-layers.toml", "cnn-mnist.toml", "cosine2d-baseline.toml",
            "cosine2d-hidden2.toml", "init-scales.toml"} <= names


def _grid_points(exp: Experiment) -> list[Experiment]:
    """Every point of the example's sweep grid, validated (a stand-in for `mlplab sweep`'s expansion)."""
    if not exp.sweep or not exp.sweep.grid:
        return [exp]
    base = {k: v for k, v in exp.resolved().items() if k != "sweep"}
    keys = list(exp.sweep.grid)
    out = []
    for values in itertools.product(*(exp.sweep.grid[k] for k in keys)):
        raw = copy.deepcopy(base)
        for key, value in zip(keys, values):
            if key == "train.optimizer":  # a new optimizer starts from its own defaults
                raw["train"]["optimizer"] = {"name": value, "learning_rate": exp.train.lr} if isinstance(value, str) \
                    else value
            else:
                set_dotted(raw, key, value)
        out.append(validate(raw))
    return out


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid_documented_and_builds(path):
    from mlplab.engine.models import build_model
    from mlplab.data import load_data

    text = path.read_text()
    assert text.startswith("#") and "Run: mlplab" in text, "start with a comment: what it shows, how to run it"
    exp = load_spec(path)
    assert validate(exp.resolved()).resolved() == exp.resolved()
    if exp.data.dataset in ("digits", "cosine2d"):
        info = load_data(exp).info
        shape, classes = info.input_shape, info.num_classes
    else:
        shape, classes = ((28, 28, 1) if exp.model.convolutional else (784,)), 10
    points = _grid_points(exp)
    for point in points[:4]:
        model = build_model(point.model, shape, classes, point.train.loss, point.seed)
        assert model.output_shape == (None, classes)
        assert model.count_params() > 0


def test_example_specifics():
    ex = {p.name: load_spec(p) for p in EXAMPLES}
    assert ex["logistic-mnist.toml"].model.hidden == [] and ex["logistic-mnist.toml"].train.optimizer.name == "sgd"
    assert ex["deep-10-layers.toml"].model.hidden == [64] * 10
    assert ex["deep-10-layers.toml"].model.activation == "sigmoid"
    cnn = ex["cnn-mnist.toml"].model
    assert [layer.type for layer in cnn.layers] == ["conv2d", "max_pool", "conv2d", "max_pool", "flatten", "dense",
                                                   "dropout"]
    assert (cnn.layers[0].filters, cnn.layers[2].filters, cnn.layers[5].units, cnn.layers[6].rate) == (32, 64, 64, 0.25)
    assert ex["cosine2d-baseline.toml"].model.hidden == [] and ex["cosine2d-baseline.toml"].data.scale == "none"
    assert ex["cosine2d-hidden2.toml"].model.hidden == [2] and ex["cosine2d-hidden2.toml"].model.activation == "tanh"
    assert len(_grid_points(ex["relu-vs-sigmoid-adam-vs-sgd.toml"])) == 4
    assert ex["relu-vs-sigmoid-adam-vs-sgd.toml"].model.hidden == [128, 64]
    inits = [(p.model.init.name, p.model.init.stddev) for p in _grid_points(ex["init-scales.toml"])]
    assert inits == [("random_normal", 0.001), ("random_normal", 0.05), ("random_normal", 10.0), ("zeros", 0.05)]
    bn = ex["mnist-512-128-bn-dropout.toml"].model
    assert bn.hidden == [512, 128] and bn.batchnorm and bn.dropout > 0


def test_stored_specs_of_older_versions_with_layers_still_load():
    from mlplab.spec import stored_experiment
    old = load_spec(None, ['model.layers=[{ type = "dense", units = 16 }]']).resolved()
    old["model"].update({"hidden": [64, 64], "activation": "relu", "dropout": 0.0, "batchnorm": False})
    exp = stored_experiment(old)
    assert [layer.units for layer in exp.model.layers] == [16] and "hidden" not in exp.resolved()["model"]
    with pytest.raises(BadInput, match="does not apply when model.layers is given"):
        validate(old)  # a spec a user writes this way is still refused
