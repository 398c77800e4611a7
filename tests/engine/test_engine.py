"""The engine against Keras `fit`, and a population member against the same run alone."""
import dataclasses

import numpy as np
import pytest

from mlplab.engine import parts
from mlplab.engine.callbacks import Callback
from mlplab.engine import train as engine
from mlplab.engine.layout import VECTORIZE_BELOW
from mlplab.data import load_data
from mlplab.training import population
from mlplab.engine.models import build_model, set_weights
from mlplab.engine.optimizers import keras_optimizer
from mlplab.spec import load_spec

import keras


def setup(*overrides, seeds=None):
    """Experiments for the overrides (one per seed), their data and members, as the runner builds them."""
    exps = [load_spec(None, [*overrides, f"seed={s}"]) for s in (seeds or [0])]
    data = load_data(exps[0])
    models = [build_model(e.model, data.info.input_shape, data.info.num_classes, e.train.loss, e.seed) for e in exps]
    members = [population.member_of(e, m) for e, m in zip(exps, models)]
    return exps, data, models, members


def keras_fit(exp, model, data, epochs):
    """The same model trained by plain Keras `fit`, unshuffled."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.compile(optimizer=keras_optimizer(exp.train.optimizer.name, exp.train.optimizer.settings()),
                  loss=exp.train.loss, metrics=["accuracy"])
    hist = clone.fit(data.x_train, data.y_train, batch_size=exp.train.batch_size, epochs=epochs,
                     shuffle=False, verbose=0)
    return clone, hist.history


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", [
    "train.optimizer={ name = \"sgd\", learning_rate = 0.05, momentum = 0.9, nesterov = true }",
    "train.optimizer={ name = \"adam\", learning_rate = 0.003 }",
    "train.optimizer={ name = \"rmsprop\", learning_rate = 0.001, momentum = 0.5 }",
])
def test_engine_matches_keras_fit(optimizer):
    # 1294 training rows, batch 32: 40 full batches and a short one of 14, as fit does it
    exps, data, models, members = setup(optimizer, "train.epochs=2", "train.shuffle=false",
                                        "train.early_stopping=false", "model.l2=0.001")
    [out] = engine.train(population.program_of(exps[0], models[0]), members, data)
    clone, hist = keras_fit(exps[0], models[0], data, epochs=2)
    np.testing.assert_allclose(out.history["loss"], hist["loss"], rtol=2e-4)
    np.testing.assert_allclose(out.history["accuracy"], hist["accuracy"], atol=1e-6)
    for ours, theirs in zip(out.trainable, clone.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=2e-5)
    # inference-mode metrics are Keras' evaluate
    test_loss, test_acc = clone.evaluate(data.x_test, data.y_test, verbose=0, batch_size=512)
    assert out.history["test_loss"][-1] == pytest.approx(test_loss, rel=1e-4)
    assert out.history["test_accuracy"][-1] == pytest.approx(test_acc, abs=1e-6)


@pytest.mark.slow
def test_batchnorm_model_matches_keras_fit():
    exps, data, models, members = setup("model.batchnorm=true", "train.epochs=1", "train.shuffle=false",
                                        "train.early_stopping=false")
    [out] = engine.train(population.program_of(exps[0], models[0]), members, data)
    clone, hist = keras_fit(exps[0], models[0], data, epochs=1)
    np.testing.assert_allclose(out.history["loss"], hist["loss"], rtol=2e-4)
    # moving statistics too (non-trainable state fed back every step)
    for ours, theirs in zip(out.non_trainable, [v.numpy() for v in clone.non_trainable_variables]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)


@pytest.mark.slow
def test_member_in_population_equals_member_alone():
    """Dropout + batch-norm + shuffling: each member keeps its own RNG streams."""
    overrides = ("model.dropout=0.2", "model.batchnorm=true", "train.epochs=3", "train.early_stopping=false")
    exps, data, models, members = setup(*overrides, seeds=[0, 1, 2])
    members[1].hyper["learning_rate"] = 0.003
    program = population.program_of(exps[0], models[0])
    together = engine.train(program, members, data)
    alone = engine.train(program, [members[1]], data)[0]
    # float32 rounding differs between a batched and a single matmul; batch-norm's
    # inference statistics amplify it a little, so those get a looser tolerance
    np.testing.assert_allclose(together[1].history["loss"], alone.history["loss"], rtol=1e-5)
    for key in ("val_loss", "test_loss", "test_accuracy"):
        np.testing.assert_allclose(together[1].history[key], alone.history[key], rtol=1e-3)
    # and members really differ
    assert together[0].history["loss"] != together[1].history["loss"]


def train_alone(*overrides, seed=0):
    exps, data, models, members = setup(*overrides, seeds=[seed])
    return engine.train(population.program_of(exps[0], models[0]), members, data)[0]


@pytest.mark.slow
def test_same_seed_same_numbers():
    first, again = train_alone("train.epochs=3"), train_alone("train.epochs=3")
    assert first.history["loss"] == again.history["loss"]
    assert all((a == b).all() for a, b in zip(first.trainable, again.trainable))
    assert train_alone("train.epochs=3", seed=1).history["loss"] != first.history["loss"]


@pytest.mark.slow
def test_early_stopping_restores_best_epoch():
    exps, data, models, members = setup("train.epochs=60", "train.learning_rate=0.01",
                                        "train.early_stopping={ patience = 2 }")
    program = population.program_of(exps[0], models[0])
    [out] = engine.train(program, members, data)
    assert out.status == "stopped"
    assert out.epochs_run == out.best_epoch + 2 < 60
    val = out.history["val_loss"]
    assert out.best_epoch == 1 + int(np.argmin(val))
    # the weights it ends with are the best epoch's: their test accuracy is that epoch's
    acc = float(np.mean(out.test_probabilities.argmax(1) == data.y_test))
    assert acc == pytest.approx(out.history["test_accuracy"][out.best_epoch - 1], abs=1e-6)
    set_weights(models[0], out.trainable, out.non_trainable)
    probs = models[0].predict(data.x_test, verbose=0)
    np.testing.assert_allclose(probs, out.test_probabilities, atol=1e-5)


@pytest.mark.slow
def test_divergence_freezes_only_that_member():
    common = ("train.optimizer=\"sgd\"", "train.epochs=4", "train.early_stopping=false")
    # weights of 1e20 overflow to inf in the second layer: the loss is NaN at the first step
    _, _, _, [bad_member] = setup(*common, "model.init={ name = \"random_normal\", stddev = 1e20 }")
    exps, data, models, [good_member] = setup(*common)
    program = population.program_of(exps[0], models[0])
    bad, good = engine.train(program, [bad_member, good_member], data)
    alone = engine.train(program, [good_member], data)[0]
    assert bad.status == "diverged"
    assert bad.epochs_run == 1 and np.isnan(bad.history["loss"][0])
    np.testing.assert_array_equal(bad.trainable[0], bad_member.trainable[0])  # frozen before the bad step
    assert good.status == "ok" and good.epochs_run == 4
    np.testing.assert_allclose(good.history["loss"], alone.history["loss"], rtol=1e-6)


@pytest.mark.slow
def test_large_members_loop_inside_the_program_and_equal_members_alone():
    """Above VECTORIZE_BELOW parameters the population loops over members (lax.map): same numbers."""
    exps, data, models, members = setup("model.hidden=[256, 128]", "model.dropout=0.1", "train.epochs=2",
                                        "train.early_stopping=false", seeds=[0, 1, 1])
    members[2].hyper["learning_rate"] = 0.01
    program = population.program_of(exps[0], models[0])
    compiled = engine.Compiled(program, 10, engine.regularized_variables(members))
    assert models[0].count_params() >= VECTORIZE_BELOW and not compiled.layout.vectorize
    together = engine.train(program, members, data, compiled=compiled)
    for member, out in zip(members, together):
        alone = engine.train(program, [member], data)[0]
        np.testing.assert_allclose(out.history["loss"], alone.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(out.history["val_accuracy"], alone.history["val_accuracy"], rtol=1e-5)
    assert together[1].history["loss"] != together[2].history["loss"]


def test_populations_are_vmapped_on_a_gpu_and_for_small_dense_nets_on_cpu():
    from mlplab.engine.layout import VECTORIZE_BELOW, vectorize_members

    def mlp(width):
        return keras.Sequential([keras.Input((784,)), keras.layers.Dense(width), keras.layers.Dense(10)])
    conv = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                             keras.layers.Dense(10)])
    small, large = mlp(16), mlp(256)
    assert small.count_params() < VECTORIZE_BELOW < large.count_params()
    assert [vectorize_members(m, "cpu") for m in (small, large, conv)] == [True, False, False]
    assert [vectorize_members(m, "gpu") for m in (small, large, conv)] == [True, True, True]


def test_parts_are_alike_runs_of_members_by_kind_the_fewest_that_make_them_smallest():
    def layout(kinds, most):
        return [list(p) for p in parts.parts_of(kinds, most)]
    assert layout([0] * 5, 2) == [[0, 1, 2], [3, 4, 4]]            # the last filled up with repeats
    assert layout([0] * 5, 4) == [[0, 1], [2, 3], [4, 4]]          # 4 parts would be no smaller than 3
    assert layout([0] * 4, 2) == [[0, 1], [2, 3]]
    assert layout([0] * 3, 1) == [[0, 1, 2]]
    assert layout([0] * 2, 8) == [[0], [1]]
    # several optimizer kinds: each part holds as many of each, in runs by kind
    assert layout([1, 0, 1, 0, 1, 0, 1, 0], 2) == [[1, 3, 0, 2], [5, 7, 4, 6]]
    assert layout([0, 1, 1, 1], 2) == [[0, 1, 2], [0, 3, 3]]
    assert layout([0, 1], 2) == [[0, 1]]                            # two parts of two: no smaller


class Watch(Callback):
    """A callback that reads a member's weights and every member's gradients at each epoch's end."""
    def __init__(self, member):
        self.member, self.seen = member, []

    def on_epoch_end(self, epoch, records, view):
        self.seen.append((view.weights(self.member)[0][0], view.gradients()[self.member][0]))

    def on_train_end(self):
        self.ended = len(self.seen)


@pytest.mark.slow
@pytest.mark.parametrize("shared, mixed", [(True, False), (False, False), (True, True)])
def test_a_population_in_parts_side_by_side_equals_it_in_one(shared, mixed):
    """Parts on threads (with a repeated member to fill the last) give every member the numbers of one
    program: early stopping and restoring, a member that diverges, a schedule, a callback's views; with several
    optimizers (each kind's update on its own members), the numbers of each member trained alone."""
    common = ("train.epochs=6", "train.early_stopping={ patience = 1 }",
              'train.schedule={ name = "step", every = 2, factor = 0.5 }')
    optimizers = ["adam", "sgd", "adam", "rmsprop", "sgd"] if mixed else ["adam"] * 5
    rates = [0.3, 0.1, 0.03, 0.01, 0.003]
    exps = [load_spec(None, [*common, f"seed={0 if shared else i}", f'train.optimizer="{name}"',
                             f"train.learning_rate={rate}",
                             *(['model.init={ name = "random_normal", stddev = 1e20 }'] if i == 2 else [])])
            for i, (name, rate) in enumerate(zip(optimizers, rates))]   # member 2's weights overflow: it diverges
    data = load_data(exps[0])
    models = [build_model(e.model, data.info.input_shape, 10, e.train.loss, e.seed) for e in exps]
    kinds = sorted({population.optimizer_kind(e) for e in exps})
    members = [population.member_of(e, m, kinds) for e, m in zip(exps, models)]
    program = population.program_of(exps[0], models[0], kinds)
    compiled = engine.Compiled(program, 10, engine.regularized_variables(members))
    runs = {}
    for threads in (1, 2, 3):
        watch = Watch(member=3)
        runs[threads] = engine.train(program, members, data, [watch], compiled=compiled, threads=threads), watch
    one, watched = runs[1]
    assert [o.status for o in one][2] == "diverged" and "stopped" in [o.status for o in one]
    assert watched.ended == len(watched.seen) == max(o.epochs_run for o in one)   # ended once, after the last epoch
    for threads in (2, 3):
        outs, watch = runs[threads]
        for a, b in zip(one, outs):
            assert (a.status, a.epochs_run, a.best_epoch) == (b.status, b.epochs_run, b.best_epoch)
            for key in a.history.keys() - {"seconds"}:
                np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-5, err_msg=key)
            np.testing.assert_allclose(np.array(a.stats["grad_norm"], float), np.array(b.stats["grad_norm"], float),
                                       rtol=1e-4)   # None: not a number (the member that diverged)
            for x, y in zip(a.trainable, b.trainable):
                np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(a.test_probabilities, b.test_probabilities, atol=1e-6)
            assert a.result == pytest.approx(b.result, rel=1e-5, nan_ok=True)
    for exp, model, out in zip(exps, models, one) if mixed else ():
        alone = engine.train(population.program_of(exp, model), [population.member_of(exp, model)], data)[0]
        assert (out.status, out.epochs_run) == (alone.status, alone.epochs_run)
        np.testing.assert_allclose(out.history["loss"], alone.history["loss"], rtol=1e-5)
        for (w1, g1), (w2, g2) in zip(watched.seen, watch.seen):
            np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(g1, g2, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_small_dense_populations_train_in_a_part_per_core_on_cpu(monkeypatch):
    exps, data, models, members = setup(seeds=[0, 1, 2])
    program = population.program_of(exps[0], models[0])
    compiled = engine.Compiled(program, 10, engine.regularized_variables(members))
    monkeypatch.setattr(parts, "_cores", lambda: 2)
    assert parts.member_threads(compiled.layout, 3) == 2 and parts.member_threads(compiled.layout, 1) == 1
    large = dataclasses.replace(compiled.layout, vectorize=False)   # large members: XLA's own threads are busy enough
    assert parts.member_threads(large, 3) == 1
