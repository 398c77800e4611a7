"""What an optimizer takes (the notebook's `SGD?`): `mlplab optimizers [NAME]`, `ml.help(NAME)`, and the spec's
message for a key an optimizer does not take, which names that optimizer's parameters alone."""
import json

import pytest

import mlplab as ml
from conftest import cli
from mlplab import catalog
from mlplab.errors import BadInput
from mlplab.spec import validate
from mlplab.spec.help import optimizer_help


@pytest.mark.parametrize("name", list(catalog.OPTIMIZERS))
def test_every_parameter_has_its_default_and_what_it_does(name):
    rows = optimizer_help(name)
    assert [(r["parameter"], r["default"]) for r in rows] == list(catalog.OPTIMIZERS[name].items())
    assert all(r["description"] == catalog.OPTIMIZER_PARAMETERS[r["parameter"]] for r in rows)
    assert set(catalog.OPTIMIZER_PARAMETERS) == {p for takes in catalog.OPTIMIZERS.values() for p in takes}


def test_mlplab_optimizers_sgd_lists_its_parameters():
    code, out, err = cli("optimizers", "sgd")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("sgd (keras.optimizers.SGD)")
    assert [line.split()[:3] for line in lines[1:]] == [["learning_rate", "=", "0.01"], ["momentum", "=", "0.0"],
                                                          ["nesterov", "=", "false"]]
    assert catalog.OPTIMIZER_PARAMETERS["nesterov"] in lines[3]


def test_mlplab_optimizers_json_and_a_wrong_name():
    code, out, _ = cli("optimizers", "--json")
    assert code == 0 and list(json.loads(out)) == list(catalog.OPTIMIZERS)
    assert json.loads(out)["adam"][1] == {"parameter": "beta_1", "default": 0.9,
                                          "description": catalog.OPTIMIZER_PARAMETERS["beta_1"]}
    code, out, err = cli("optimizers", "sgdd")
    assert (code, out) == (2, "")
    assert err.strip() == ('mlplab: error: optimizer "sgdd": unknown; did you mean sgd? '
                           "expected one of sgd, adam, adamw, rmsprop, adagrad")


def test_ml_help_shows_as_text_and_as_a_table():
    shown = ml.help("rmsprop")
    assert repr(shown).splitlines()[0].startswith("rmsprop (keras.optimizers.RMSprop)")
    assert [r["parameter"] for r in shown.rows] == list(catalog.OPTIMIZERS["rmsprop"])
    assert shown._repr_html_().count("<tr>") == 1 + len(catalog.OPTIMIZERS["rmsprop"])
    with pytest.raises(BadInput, match="did you mean adam?"):
        ml.help("adma")


@pytest.mark.parametrize("table, message", [
    ({"name": "sgd", "momentm": 0.9},
     "train.optimizer.momentm = 0.9: unknown key; did you mean momentum? sgd takes learning_rate, momentum, nesterov"),
    ({"name": "sgd", "beta_1": 0.9},
     "train.optimizer.beta_1 = 0.9: does not apply to sgd; sgd takes learning_rate, momentum, nesterov"),
    ({"rho": 0.9},   # no name: adam
     "train.optimizer.rho = 0.9: does not apply to adam; adam takes learning_rate, amsgrad, beta_1, beta_2, epsilon"),
])
def test_a_key_the_optimizer_does_not_take_lists_only_its_own_keys(table, message):
    with pytest.raises(BadInput) as e:
        validate({"train": {"optimizer": table}})
    assert str(e.value) == message
