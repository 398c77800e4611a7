"""The spec: files and --set overrides in, a validated Experiment out, or one clear BadInput line."""
import copy
import inspect
import json
from pathlib import Path

import pytest

from mlplab.errors import BadInput
from mlplab.spec import Experiment, load_spec, parse_value, set_dotted, validate

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


@pytest.mark.parametrize("name, text, fragments", [
    ("broken.toml", "[model]\nhidden = 64 64\n[train]\nepochs = 3\n", ["not valid TOML", "line"]),
    ("broken.yaml", "model: {hidden: [1, 2\n", ["not valid YAML"]),
    ("list.yaml", "- 1\n- 2\n", ["expected a mapping of sections", "list"]),
    ("spec.txt", "x", [".toml", ".yaml"]),
], ids=["malformed toml: the file and the line", "malformed yaml", "yaml that is a list", "unknown file format"])
def test_a_bad_file_is_named_with_what_is_wrong(tmp_path, name, text, fragments):
    p = tmp_path / name
    p.write_text(text)
    msg = bad(path=p)
    assert str(p) in msg and all(f in msg for f in fragments), msg


def test_missing_file():
    msg = bad(path="/nonexistent/spec.toml")
    assert msg == "spec file /nonexistent/spec.toml: not found"


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


def test_validate_accepts_a_plain_dict_and_returns_an_experiment():
    exp = validate({"model": {"hidden": []}, "train": {"epochs": 1}})
    assert isinstance(exp, Experiment) and exp.model.hidden == [] and exp.train.epochs == 1
