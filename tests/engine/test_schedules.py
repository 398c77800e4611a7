"""Learning-rate schedules (train.schedule): the formulas against Keras' own schedules and
ReduceLROnPlateau, per-member rates in one population, and the spec's checks."""
import numpy as np
import pytest

from mlplab.engine import train as engine
from mlplab.engine.schedules import learning_rate, plateau
from mlplab.errors import BadInput
from mlplab.spec import load_spec, validate
from mlplab.training import population

import keras

from test_engine import keras_fit, setup


def settings(schedule) -> dict:
    return validate({"train": {"schedule": schedule}}).train.schedule.settings()


def test_epoch_schedules_are_keras_schedules_of_the_epoch():
    cosine = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=7, alpha=0.05)
    exponential = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.8)
    step = keras.optimizers.schedules.PiecewiseConstantDecay([2, 5], [0.1, 0.05, 0.025])
    for epoch in range(1, 8):
        e = epoch - 1
        assert learning_rate(settings({"name": "cosine", "alpha": 0.05}), 0.1, epoch, 7, {}) == \
            pytest.approx(float(cosine(e)), rel=1e-6)
        assert learning_rate(settings({"name": "exponential", "decay_rate": 0.8}), 0.1, epoch, 7, {}) == \
            pytest.approx(float(exponential(e)), rel=1e-6)
        assert learning_rate(settings({"name": "step", "every": 3}), 0.1, epoch, 7, {}) == \
            pytest.approx(float(step(e)), rel=1e-6)
        assert learning_rate(settings("constant"), 0.1, epoch, 7, {}) == 0.1


@pytest.mark.parametrize("options, monitor, values", [
    ({"patience": 2}, "val_loss", [1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.91, 0.91, 0.5, 0.6, 0.6]),
    ({"patience": 1, "cooldown": 2, "factor": 0.5, "min_lr": 0.02}, "val_loss", [1.0] * 12),
    ({"patience": 2, "min_delta": 0.05}, "val_accuracy", [0.5, 0.52, 0.54, 0.6, 0.61, 0.62, 0.9, 0.91, 0.92]),
])
def test_plateau_is_reduce_lr_on_plateau(options, monitor, values):
    """Epoch for epoch the rate Keras' callback sets, with cooldown, min_lr, min_delta, max mode."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    callback = keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="max" if "accuracy" in monitor else "min",
                                                 **options)
    callback.set_model(model)
    callback.on_train_begin()
    schedule = settings({"name": "plateau", "monitor": monitor, **options})
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {monitor: value})
        theirs = float(model.optimizer.learning_rate.numpy())
        assert plateau(schedule, 0.1, values[:epoch + 1]) == pytest.approx(theirs, rel=1e-6), epoch
    assert theirs < 0.1   # each case reduces at least once


@pytest.mark.slow
def test_a_scheduled_run_is_keras_fit_with_a_learning_rate_scheduler():
    exps, data, models, members = setup('train.optimizer={ name = "sgd", learning_rate = 0.1 }', "train.epochs=3",
                                        "train.shuffle=false", "train.early_stopping=false",
                                        'train.schedule={ name = "exponential", decay_rate = 0.5 }')
    [out] = engine.train(population.program_of(exps[0], models[0]), members, data)
    clone = keras.models.clone_model(models[0])
    clone.set_weights(models[0].get_weights())
    clone.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=exps[0].train.loss, metrics=["accuracy"])
    hist = clone.fit(data.x_train, data.y_train, batch_size=32, epochs=3, shuffle=False, verbose=0,
                     callbacks=[keras.callbacks.LearningRateScheduler(lambda e: 0.1 * 0.5 ** e)])
    assert out.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    np.testing.assert_allclose(out.history["loss"], hist.history["loss"], rtol=2e-4)
    for ours, theirs in zip(out.trainable, clone.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=2e-5)
    # and the schedule mattered: without it the weights differ
    _, plain = keras_fit(exps[0], models[0], data, epochs=3)
    assert not np.allclose(plain["loss"], hist.history["loss"], rtol=1e-3)


@pytest.mark.slow
def test_members_with_different_schedules_train_in_one_population_as_alone():
    schedules = ['train.schedule="cosine"', 'train.schedule={ name = "step", every = 1, factor = 0.5 }',
                 'train.schedule={ name = "plateau", patience = 1, factor = 0.5 }']
    common = ("train.epochs=4", "train.early_stopping=false", "train.learning_rate=0.01")
    exps = [load_spec(None, [*common, s]) for s in schedules]
    assert len(population.groups_of(exps)) == 1   # one program
    _, data, models, _ = setup(*common)
    members = [population.member_of(e, models[0]) for e in exps]
    program = population.program_of(exps[0], models[0])
    together = engine.train(program, members, data)
    for i, member in enumerate(members):
        alone = engine.train(program, [member], data)[0]
        np.testing.assert_allclose(together[i].history["loss"], alone.history["loss"], rtol=1e-5)
        assert together[i].history["learning_rate"] == alone.history["learning_rate"]
    rates = [o.history["learning_rate"] for o in together]
    assert rates[0][0] == pytest.approx(0.01) and rates[0][3] == pytest.approx(0.01 * 0.5 * (1 + np.cos(np.pi * 3 / 4)))
    assert rates[1] == pytest.approx([0.01, 0.005, 0.0025, 0.00125])
    assert rates[2] == pytest.approx([plateau(exps[2].train.schedule.settings(), 0.01, together[2].history["val_loss"][:e])
                                      for e in range(4)])


@pytest.mark.parametrize("schedule, message", [
    ({"name": "step", "decay_rate": 0.5}, "train.schedule.decay_rate = 0.5: does not apply to the step schedule; "
                                          "it takes every, factor"),
    ({"name": "exponential", "decay_rate": 1.5}, "train.schedule.decay_rate = 1.5: expected a number > 0 and <= 1"),
    ("warmup", 'train.schedule.name = "warmup": expected "constant", "exponential", "step", "cosine" or "plateau"'),
    ({"name": "constant", "factor": 0.5}, "it takes no parameters"),
    ({"name": "step", "every": 0}, "train.schedule.every = 0: expected a whole number > 0"),
])
def test_bad_schedules_are_refused_naming_the_field(schedule, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        validate({"train": {"schedule": schedule}})


def test_a_plateau_on_validation_needs_a_validation_split():
    exp = load_spec(None, ["data.validation_split=0", "train.early_stopping=false", 'train.schedule="plateau"'])
    with pytest.raises(BadInput, match='train.schedule.monitor = "val_loss": needs data.validation_split > 0'):
        population.plan_group([exp])


def test_the_stored_spec_holds_the_schedule_with_its_defaults():
    resolved = validate({"train": {"schedule": {"name": "plateau", "patience": 2}}}).resolved()
    assert resolved["train"]["schedule"] == {"name": "plateau", "monitor": "val_loss", "factor": 0.1, "patience": 2,
                                             "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0}
    assert validate(resolved).train.schedule.settings() == resolved["train"]["schedule"]   # re-runnable as is


def test_the_learning_curves_show_the_scheduled_rate():
    from mlplab.present.figures.curves import learning_curves
    history = {"loss": [1.0, 0.5, 0.4], "accuracy": [0.5, 0.8, 0.9], "learning_rate": [0.1, 0.01, 0.001]}
    fig = learning_curves(history)
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "learning rate"
    assert list(fig.axes[2].lines[0].get_ydata()) == [0.1, 0.01, 0.001] and fig.axes[2].get_yscale() == "log"
    assert len(learning_curves({"loss": [1.0], "accuracy": [0.5]}).axes) == 2   # no schedule, no panel
