"""Spec -> Keras model: the same layers and parameter counts a notebook builds, seeded initial weights."""
import math

import keras
import numpy as np
import pytest

from mlplab.errors import BadInput
from mlplab.engine.models import build_model, summary
from mlplab.spec import load_spec


def model_of(*overrides, input_shape=(784,), classes=10, seed=0):
    exp = load_spec(None, list(overrides))
    return build_model(exp.model, input_shape, classes, exp.train.loss, seed)


def keras_count(*layers, input_shape=(784,)):
    return keras.Sequential([keras.Input(input_shape), *layers]).count_params()


@pytest.mark.parametrize("overrides, reference", [
    (["model.hidden=[]"], [keras.layers.Dense(10, activation="softmax")]),
    (["model.hidden=[512, 128]", "model.batchnorm=true", "model.dropout=0.2"],
     [keras.layers.Dense(512), keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
      keras.layers.Dropout(0.2), keras.layers.Dense(128), keras.layers.BatchNormalization(),
      keras.layers.Activation("relu"), keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="softmax")]),
    (["model.hidden=[64, 64, 64, 64, 64, 64, 64, 64, 64, 64]"],
     [keras.layers.Dense(64, activation="relu") for _ in range(10)] + [keras.layers.Dense(10, activation="softmax")]),
])
def test_parameter_counts_match_keras(overrides, reference):
    model = model_of(*overrides)
    assert model.count_params() == keras_count(*reference)
    assert f"Total params: {model.count_params():,}" in summary(model)


def test_cnn_matches_the_keras_notebook_model():
    layers = ('model.layers=[{ type = "conv2d", filters = 32, kernel = 3, activation = "relu" }, '
              '{ type = "max_pool", size = 2 }, { type = "conv2d", filters = 64, kernel = 3, activation = "relu" }, '
              '{ type = "max_pool", size = 2 }, { type = "flatten" }, '
              '{ type = "dense", units = 64, activation = "relu" }, { type = "dropout", rate = 0.25 }]')
    model = model_of(layers, input_shape=(28, 28, 1))
    reference = keras_count(keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                            keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                            keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
                            keras.layers.Dropout(0.25), keras.layers.Dense(10, activation="softmax"),
                            input_shape=(28, 28, 1))
    assert model.count_params() == reference == 121_930


def test_binary_crossentropy_has_one_sigmoid_unit():
    model = model_of("model.hidden=[2]", 'model.activation="tanh"', 'train.loss="binary_crossentropy"',
                     input_shape=(2,), classes=2)
    assert model.layers[-1].units == 1 and model.layers[-1].activation.__name__ == "sigmoid"
    assert model.count_params() == (2 * 2 + 2) + (2 + 1)


def test_seeded_initial_weights_follow_the_keras_distributions():
    a, b, c = model_of(seed=3), model_of(seed=3), model_of(seed=4)
    for wa, wb, wc in zip(a.get_weights(), b.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wb)
        if wa.ndim == 2:
            assert not np.array_equal(wa, wc)
    kernel = a.get_weights()[0]                           # glorot_uniform on 784 -> 64
    limit = math.sqrt(6 / (784 + 64))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert kernel.std() == pytest.approx(limit / math.sqrt(3), rel=0.03)
    he = model_of('model.init="he_normal"').get_weights()[0]
    assert he.std() == pytest.approx(math.sqrt(2 / 784), rel=0.05)
    assert np.abs(he).max() <= 2 * math.sqrt(2 / 784) / 0.87962566103423978 + 1e-6   # truncated at 2 sigma
    big = model_of('model.init={ name = "random_normal", stddev = 10 }').get_weights()[0]
    assert big.std() == pytest.approx(10, rel=0.03)
    assert not np.any(model_of('model.init="zeros"').get_weights()[0])
    # biases start at zero whatever the kernel initializer
    assert not np.any(a.get_weights()[1])


# ---------------------------------------------------------------- one name per layer, whatever else was built

BN_DROPOUT = ["model.hidden=[32, 16]", "model.batchnorm=true", "model.dropout=0.1"]


def test_layer_names_are_stable_and_unique():
    builds = [model_of(*BN_DROPOUT, input_shape=(64,)) for _ in range(3)]
    names = [[layer.name for layer in m.layers] for m in builds]
    assert names[0] == names[1] == names[2] == [
        "dense_1", "batchnorm_1", "activation_1", "dropout_1",
        "dense_2", "batchnorm_2", "activation_2", "dropout_2", "output"]
    assert len(set(names[0])) == len(names[0])
    assert [v.path for v in builds[0].trainable_variables] == [v.path for v in builds[2].trainable_variables]
    conv = model_of('model.layers=[{ type = "conv2d", filters = 4, kernel = 3 }, { type = "max_pool", size = 2 }, '
                    '{ type = "conv2d", filters = 4, kernel = 1 }]', input_shape=(8, 8, 1))
    assert [layer.name for layer in conv.layers] == ["conv2d_1", "max_pool_1", "conv2d_2", "flatten_1", "output"]


@pytest.mark.slow
def test_summary_stats_and_saved_model_name_the_same_layers(tmp_path):
    import json
    import re

    from mlplab.training.runner import run_experiment
    from mlplab.store.store import Store
    store = Store(tmp_path)
    model_of(*BN_DROPOUT, input_shape=(64,))          # earlier models in this process must not shift the names
    result = run_experiment(load_spec(None, [*BN_DROPOUT, "train.epochs=1"]), store)
    folder = store.artifact_dir(result.run_id)
    in_summary = re.findall(r"(\w+) \((?:Dense|BatchNormalization|Activation|Dropout)\)",
                            (folder / "summary.txt").read_text())
    saved = [layer.name for layer in keras.models.load_model(folder / "model.keras", compile=False).layers]
    stats = json.loads((folder / "stats.json").read_text())
    assert in_summary == saved == ["dense_1", "batchnorm_1", "activation_1", "dropout_1",
                                   "dense_2", "batchnorm_2", "activation_2", "dropout_2", "output"]
    assert [w.split("/")[-2] for w in stats["weights"]] == ["dense_1", "dense_2", "output"]
    assert [layer["name"] for layer in stats["layers"]] == ["activation_1", "activation_2"]
    with np.load(folder / "weights_init.npz") as initial:              # the weight-distribution figure's names
        assert [k.split("/")[-2] for k in initial.files if k.endswith("kernel")] == ["dense_1", "dense_2", "output"]


# ---------------------------------------------------------------- a conv stack too deep for its input

CONV = '{ type = "conv2d", filters = %d, kernel = 3 }'
POOL = '{ type = "max_pool", size = 2 }'


def test_a_conv_stack_too_deep_for_8x8_names_the_layer_and_the_fix():
    layers = ", ".join([CONV % 16, POOL, CONV % 64, POOL, CONV % 64])       # 8 -> 6 -> 3 -> 1 -> pool: 0
    with pytest.raises(BadInput) as e:
        model_of(f"model.layers=[{layers}]", input_shape=(8, 8, 1))
    assert str(e.value) == ('model.layers[3] (max_pool size 2): its input is 1x1x64, too small for it (the '
                            'model\'s input is 8x8x1); remove a pooling layer, or give the conv2d layers '
                            'padding = "same"')
    with pytest.raises(BadInput, match=r'^model.layers\[2\] \(conv2d kernel 3, padding valid\): its input is '
                                       r'2x2x16, .*use kernel <= 2 or padding = "same", or remove a pooling layer'):
        model_of(f"model.layers=[{CONV % 16}, {{ type = \"max_pool\", size = 3 }}, {CONV % 16}]",
                 input_shape=(8, 8, 1))
    same = '{ type = "conv2d", filters = 8, kernel = 3, padding = "same" }'
    ok = model_of(f"model.layers=[{same}, {POOL}, {same}, {POOL}, {same}]", input_shape=(8, 8, 1))
    assert ok.layers[-2].output.shape[1:] == (2 * 2 * 8,)


def test_output_l2_switches_the_output_layers_penalty_as_keras_notebooks_do():
    from mlplab.engine.models import regularization
    both = build_model(load_spec(None, ["model.l2=0.01", "model.hidden=[8]"]).model, (64,), 10)
    hidden_only = build_model(load_spec(None, ["model.l2=0.01", "model.hidden=[8]", "model.output_l2=0"]).model,
                              (64,), 10)
    kernels = [0, 2]  # dense_1 kernel, output kernel (biases carry no penalty)
    assert [regularization(both)[i][1] for i in kernels] == [0.01, 0.01]
    assert [regularization(hidden_only)[i][1] for i in kernels] == [0.01, 0.0]


def test_building_a_model_leaves_the_callers_random_generators_alone():
    import random
    exp = load_spec(None, ["model.dropout=0.2"])
    random.seed(7), np.random.seed(7)
    expected = random.random(), np.random.rand()
    random.seed(7), np.random.seed(7)
    a = build_model(exp.model, (64,), 10, seed=3)
    assert (random.random(), np.random.rand()) == expected
    b = build_model(exp.model, (64,), 10, seed=3)   # and the same seed still gives the same model
    assert [w.tolist() for w in a.get_weights()] == [w.tolist() for w in b.get_weights()]
