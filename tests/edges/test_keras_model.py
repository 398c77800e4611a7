"""What ml.fit takes from a Keras model's compile settings, without training (api.keras_model)."""
import keras
import numpy as np
import pytest

from mlplab.api.keras_model import check_fits, check_metrics, compile_settings, loss_of, optimizer_of
from mlplab.errors import BadInput

O = keras.optimizers


def test_a_plain_optimizer_is_the_spec_and_its_extras_are_step_rules():
    spec, rules, exact = optimizer_of(O.SGD(0.1, momentum=0.9, nesterov=True), None)
    assert spec.pop("learning_rate") == pytest.approx(0.1) and spec.pop("momentum") == pytest.approx(0.9)
    assert spec == {"name": "sgd", "nesterov": True} and rules is None and exact
    spec, rules, exact = optimizer_of(O.Adam(O.schedules.ExponentialDecay(0.01, 100, 0.9), clipnorm=1.0), None)
    assert spec["name"] == "adam" and spec["learning_rate"] == pytest.approx(0.01) and not exact
    assert rules.clip == ("clipnorm", 1.0) and float(rules.schedule(100)) == pytest.approx(0.009)
    _, rules, _ = optimizer_of(O.SGD(0.1, weight_decay=0.01), None)
    assert rules.weight_decay == 0.01 and rules.schedule is None
    spec, rules, _ = optimizer_of(O.AdamW(0.01, weight_decay=0.1), None)   # AdamW's own hyperparameter
    assert spec["weight_decay"] == pytest.approx(0.1) and rules is None
    assert optimizer_of("adam", 0.01) == ({"name": "adam", "learning_rate": 0.01}, None, True)


@pytest.mark.parametrize("optimizer, words", [(O.Adam(use_ema=True), "use_ema"), (O.Nadam(), "Nadam"),
                                              (O.SGD(gradient_accumulation_steps=2), "gradient_accumulation_steps")])
def test_what_the_engine_cannot_run_is_refused_in_one_line(optimizer, words):
    with pytest.raises(BadInput, match=words) as e:
        optimizer_of(optimizer, None)
    assert "\n" not in str(e.value)


def test_compiled_losses_and_metrics():
    assert loss_of("categorical_crossentropy") == "categorical_crossentropy"
    assert loss_of(keras.losses.SparseCategoricalCrossentropy()) == "sparse_categorical_crossentropy"
    with pytest.raises(BadInput, match="from_logits"):
        loss_of(keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(BadInput, match="hinge"):
        loss_of("hinge")
    check_metrics(["accuracy", "acc", keras.metrics.SparseCategoricalAccuracy()])
    with pytest.raises(BadInput, match="'mae'"):
        check_metrics(["accuracy", "mae"])
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    assert compile_settings(model) == {}
    model.compile(optimizer=O.Adagrad(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    settings = compile_settings(model)
    assert type(settings["optimizer"]).__name__ == "Adagrad" and settings["loss"] == "categorical_crossentropy"
    assert settings["metrics"] == ["accuracy"]


def test_a_model_must_fit_the_data_before_it_trains():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    check_fits(model, (4,), 3, "sparse_categorical_crossentropy")
    with pytest.raises(BadInput, match=r"3 units, the data has 10 classes; .*Dense\(10"):
        check_fits(model, (4,), 10, "sparse_categorical_crossentropy")
    with pytest.raises(BadInput, match=r"built for rows of shape \(4,\), the data's rows are \(64,\)"):
        check_fits(model, (64,), 3, "sparse_categorical_crossentropy")
    unbuilt = keras.Sequential([keras.layers.Dense(3, activation="softmax")])
    check_fits(unbuilt, (8,), 3, "sparse_categorical_crossentropy")   # built for the data, as fit builds it
    assert unbuilt.built and np.asarray(unbuilt(np.zeros((1, 8)))).shape == (1, 3)
