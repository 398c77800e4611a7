"""examples/: every example is valid, documented, and builds its model."""
from pathlib import Path

import pytest

from mlplab.errors import BadInput
from mlplab.spec import Experiment, load_spec, validate
from mlplab.spec.sweep import expand

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


# ---------------------------------------------------------------- examples/

def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"logistic-mnist.toml", "digits-64-64-sgd.toml", "relu-vs-sigmoid-adam-vs-sgd.toml",
            "mnist-512-128-bn-dropout.toml", "deep-10-layers.toml", "cnn-mnist.toml", "cosine2d-baseline.toml",
            "cosine2d-hidden2.toml", "init-scales.toml"} <= names


def _grid_points(exp: Experiment) -> list[Experiment]:
    """Every configuration of the example's sweep (as `mlplab sweep` expands it), its first experiment each."""
    return [config.experiments[0] for config in expand(exp.resolved())] if exp.sweep else [exp]


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
