"""The engine's pure pieces without training: a member's standing across epochs (engine.tracker),
the callback list (engine.callbacks), the layout's choices (engine.layout)."""
import numpy as np
import pytest

from mlplab.engine import tracker
from mlplab.engine.callbacks import Callback, CallbackList, LambdaCallback
from mlplab.engine.program import EarlyStopping


def records(*val_losses):
    return [None if v is None else {"loss": 1.0, "val_loss": v} for v in val_losses]


def test_the_tracker_follows_keras_early_stopping_member_by_member():
    es = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.0)
    t = tracker.start(3, es, validation=True)
    assert t.monitor == "val_loss" and t.training.all() and t.status == ("ok",) * 3
    t, improved = tracker.judge(t, 1, records(1.0, 1.0, 1.0), [None] * 3)
    assert improved.tolist() == [True] * 3 and t.best_epoch == (1, 1, 1)
    t, improved = tracker.judge(t, 2, records(0.5, 1.2, 1.0), [None, None, "the loss stopped falling"])
    assert improved.tolist() == [True, False, False]
    assert t.status == ("ok", "ok", "diverged") and t.how[2] == "the loss stopped falling"
    assert t.training.tolist() == [True, True, False] and t.wait.tolist() == [0, 1, 0]
    t, _ = tracker.judge(t, 3, records(0.6, 1.1, None), [None] * 3)
    assert t.status == ("ok", "stopped", "diverged") and t.training.tolist() == [True, False, False]
    assert t.best_epoch == (2, 1, 1) and t.best_value.tolist()[:2] == [0.5, 1.0]


def test_the_tracker_is_a_value_and_stops_only_members_still_training():
    t = tracker.start(2, None, validation=False)
    assert t.monitor == "loss" and t.early_stopping is None
    after, _ = tracker.judge(t, 1, [{"loss": 2.0}, {"loss": 3.0}], [None, tracker.NON_FINITE])
    assert t.status == ("ok", "ok") and t.training.all()        # the old value is untouched
    stopped = tracker.stop(after, [0, 1], "interrupted")
    assert stopped.status == ("interrupted", "diverged") and not stopped.training.any()


def test_accuracy_is_maximized_and_the_first_epoch_never_stops():
    t = tracker.start(1, EarlyStopping(monitor="val_accuracy", patience=0), validation=True)
    t, improved = tracker.judge(t, 1, [{"val_accuracy": 0.5}], [None])
    assert t.sign == -1.0 and improved.tolist() == [True] and t.training.all()
    t, improved = tracker.judge(t, 2, [{"val_accuracy": 0.4}], [None])
    assert improved.tolist() == [False] and t.status == ("stopped",)


class Halve(Callback):
    def learning_rates(self, epoch, rates):
        return rates / 2


class Stop(Callback):
    def __init__(self, who):
        self.who, self.closed = who, False

    def on_epoch_end(self, epoch, records, view):
        return self.who

    def on_train_end(self):
        self.closed = True


def test_a_callback_list_chains_rates_unites_stops_and_takes_the_first_reason():
    seen = []
    stop0, stop2 = Stop([0]), Stop([2])
    callbacks = CallbackList([LambdaCallback(on_epoch=lambda e, r: seen.append(e), diverged=lambda h: None),
                              Halve(), Halve(), stop0, LambdaCallback(diverged=lambda h: "why"), stop2])
    assert callbacks.sets_learning_rates and not CallbackList([stop0]).sets_learning_rates
    assert callbacks.learning_rates(1, np.array([0.4, 0.8])).tolist() == pytest.approx([0.1, 0.2])
    assert callbacks.on_epoch_end(3, [], None) == [0, 2] and seen == [3]
    assert callbacks.diverged({"loss": [1.0]}) == "why"
    callbacks.on_train_end()
    assert stop0.closed and stop2.closed
    assert CallbackList().learning_rates(1, np.array([0.1])).tolist() == [0.1]
    assert CallbackList().on_epoch_end(1, [], None) == [] and CallbackList().diverged({}) is None


def test_the_layout_is_chosen_once_from_the_model_and_the_population():
    import keras

    from mlplab.engine.layout import Layout, Steps, choose
    small = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16), keras.layers.BatchNormalization(),
                              keras.layers.Dense(10)])
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                             keras.layers.Dense(10)])
    assert choose(small, 1, 1000, 20, "cpu") == Layout(vectorize=True, steps=Steps(), for_cpu=False, quick=True,
                                                       pad_last_batch=False)
    assert choose(small, 48, 1000, 20, "cpu").quick is False              # a population: optimize the code
    assert choose(conv, 1, 1000, 20, "cpu") == Layout(vectorize=False, for_cpu=True, quick=False)
    assert choose(conv, 4, platform="gpu") == Layout(vectorize=True, for_cpu=False)
    assert choose(conv, platform="cpu", for_cpu=False, steps=Steps("unrolled", 8)).steps.multiple == 8


def test_a_layer_is_named_by_a_name_or_an_index_inside_the_model():
    import keras

    from mlplab.engine.inference import layer_index
    from mlplab.errors import BadInput
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="hidden"),
                              keras.layers.Dense(2, activation="softmax", name="out")])
    assert [layer_index(model, x) for x in ("hidden", 0, -1, 1, None)] == [0, 0, 1, 1, 0]
    for bad in (2, -3):
        with pytest.raises(BadInput, match=f"layer {bad}: the model has 2 layers"):
            layer_index(model, bad)
    with pytest.raises(BadInput, match="'nope': not in the model"):
        layer_index(model, "nope")
