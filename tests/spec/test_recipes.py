"""Recipes: listed with their figures, runnable as recipe:NAME (a smoke run here; bench/recipes.py
measures them)."""
import json
import sys
from pathlib import Path

import pytest

from conftest import cli
from mlplab.engine.models import build_model, count_params
from mlplab.errors import BadInput
from mlplab.spec import load_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from recipes import target_of  # noqa: E402

TARGETS = {"fashion-mlp": 0.900, "fashion-cnn": 0.930, "mnist-mlp": 0.986, "mnist-cnn": 0.992}


def test_every_recipe_is_listed_with_its_target_and_measurement():
    code, text, _ = cli("recipes", "--json")
    listed = {r["name"]: r for r in json.loads(text)}
    assert code == 0 and set(listed) == set(TARGETS)
    for name, r in listed.items():
        assert target_of(r["target"]) == TARGETS[name] and r["recipe"] and r["measured"]
        assert (Path(__file__).resolve().parents[2] / r["search"].split()[0]).is_file()   # a sweep around it


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_recipe_builds_its_model_for_its_data(name):
    exp = load_spec(f"recipe:{name}")
    shape = (28, 28, 1) if exp.model.convolutional else (784,)
    model = build_model(exp.model, shape, 10, exp.train.loss, exp.seed)
    assert count_params(model) > 100_000 and exp.data.dataset == name.split("-")[0].replace("fashion", "fashion-mnist")


@pytest.mark.slow
def test_a_recipe_runs_by_name(tmp_path):
    code, text, _ = cli("--home", str(tmp_path), "run", "recipe:fashion-mlp", "--set", "data.dataset=digits",
                         "--set", "train.epochs=1", "--set", "model.hidden=[32]")
    assert code == 0 and "ok after 1 epochs" in text
    with pytest.raises(BadInput, match="recipe 'nope': no such recipe; expected one of fashion-cnn, fashion-mlp, "
                                       "mnist-cnn, mnist-mlp"):
        load_spec("recipe:nope")
