"""How the engine runs an epoch's steps: every way gives the same numbers, as Keras `fit` does;
progress inside an epoch; Ctrl-C between segments of steps; compile time reported apart."""
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlplab.data import Dataset
from mlplab.engine import progress
from mlplab.engine.callbacks import CallbackList, LambdaCallback
from mlplab.engine import train as engine
from mlplab.engine.layout import Steps, choose
from mlplab.engine.program import Compiled
from mlplab.engine.progress import CompileClock, Pace, StepProgress
from mlplab.engine.xla_cpu import for_xla_cpu, forward_for_xla_cpu
from mlplab.training import population

from test_engine import keras_fit, setup

CONV_POOL = ('{ type = "conv2d", filters = 4, kernel = 3, activation = "relu" }, { type = "max_pool", size = 2 }, '
             '{ type = "flatten" }, { type = "dense", units = 8, activation = "relu" }')


def tiny_cnn(*overrides, rows=250, dropout=False):
    """A conv net on 8x8 digits, a few rows: 7 full batches of 32 and a short one of 26."""
    layers = CONV_POOL + (', { type = "dropout", rate = 0.2 }' if dropout else "")
    exps, data, models, members = setup(f"model.layers=[{layers}]", "train.early_stopping=false", *overrides)
    small = Dataset(data.x_train[:rows], data.y_train[:rows], data.x_val[:40], data.y_val[:40],
                    data.x_test[:60], data.y_test[:60], data.info)
    return exps[0], small, models[0], members, population.program_of(exps[0], models[0])


def assert_same(a, b, rtol=1e-5, atol=1e-6):
    for key in ("loss", "accuracy", "val_loss", "test_accuracy"):
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=rtol, atol=atol, err_msg=key)
    for ours, theirs in zip(a.trainable, b.trainable):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_every_way_of_running_the_steps_gives_the_same_numbers(monkeypatch):
    exp, data, model, members, program = tiny_cnn("train.epochs=2", dropout=True)
    regularized = engine.regularized_variables(members)
    ways = {way: Compiled(program, 10, regularized, choose(model, steps=Steps.parse(way)))
            for way in ("scan", "step", "unrolled:3")}
    out = {name: engine.train(program, members, data, compiled=c)[0] for name, c in ways.items()}
    for name in ways:
        assert_same(out[name], out["scan"])
    # the host cuts the scanned epoch into segments (here of one step): the very same numbers
    monkeypatch.setattr(progress, "SEGMENT_SECONDS", 0.0)
    [segmented] = engine.train(program, members, data, compiled=ways["scan"])
    assert segmented.history["loss"] == out["scan"].history["loss"]
    assert all((a == b).all() for a, b in zip(segmented.trainable, out["scan"].trainable))


@pytest.mark.slow
def test_quick_compiling_gives_the_same_numbers_and_is_chosen_for_small_dense_training_only():
    from mlplab.engine.layout import compile_quickly
    exps, data, models, members = setup("train.epochs=3", "model.dropout=0.2", "model.batchnorm=true")
    program = population.program_of(exps[0], models[0])
    regularized = engine.regularized_variables(members)
    full, quick = (engine.train(program, members, data,
                                compiled=Compiled(program, 10, regularized, choose(models[0], quick=q)))[0]
                   for q in (False, True))
    # float32 rounding differs with the summation order: metrics to 2e-4; Adam turns a weight's rounding noise
    # under a near-zero gradient into steps of up to the learning rate (as against Keras: test_schedules)
    for key in ("loss", "accuracy", "val_loss", "test_accuracy"):
        np.testing.assert_allclose(quick.history[key], full.history[key], rtol=2e-4, err_msg=key)
    for ours, theirs in zip(quick.trainable, full.trainable):
        np.testing.assert_allclose(ours, theirs, atol=1e-3)
    assert compile_quickly(models[0], 1, len(data.x_train), 20)             # digits: compiling is most of the time
    assert not compile_quickly(models[0], 48, len(data.x_train), 20)        # a population's batched matmuls
    assert not compile_quickly(models[0], 1, 60_000, 1_000)                 # long training: optimize the code
    assert not compile_quickly(tiny_cnn()[2], 1, 250, 1)                    # convs: their work is not weights x rows


@pytest.mark.slow
def test_tiny_cnn_matches_keras_fit():
    exp, data, model, members, program = tiny_cnn("train.epochs=2", "train.shuffle=false")
    [out] = engine.train(program, members, data)  # (the other ways give the same numbers: above)
    clone, hist = keras_fit(exp, model, data, epochs=2)
    np.testing.assert_allclose(out.history["loss"], hist["loss"], rtol=2e-4)
    np.testing.assert_allclose(out.history["accuracy"], hist["accuracy"], atol=1e-6)
    for ours, theirs in zip(out.trainable, clone.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=2e-5)


def test_cpu_rewrites_keep_the_numbers():
    """Strided, padded, dilated and grouped convolutions and max pools (tiling or overlapping, with
    ties) have the same gradients rewritten as not."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.integers(0, 3, size=(3, 12, 11, 4)), "float32")  # small integers: many ties
    k = jnp.asarray(rng.normal(size=(3, 3, 2, 6)), "float32")

    def loss(x, k, strides, padding, dilation, window, pool_strides):
        h = jax.lax.conv_general_dilated(x, k, strides, padding, rhs_dilation=dilation, feature_group_count=2,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.lax.reduce_window(jnp.maximum(h, 0.0), -jnp.inf, jax.lax.max, (1, *window, 1), (1, *pool_strides, 1),
                                  "VALID")
        pooled = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return jnp.sum(jnp.sin(h)) + jnp.sum(pooled ** 2)

    for args in [((1, 1), "VALID", (1, 1), (2, 2), (2, 2)), ((2, 1), "SAME", (1, 1), (3, 3), (1, 1)),
                 ((1, 1), "SAME", (2, 2), (2, 3), (2, 3))]:
        grad = jax.grad(lambda x, k: loss(x, k, *args), argnums=(0, 1))
        for ours, theirs in zip(jax.jit(for_xla_cpu(grad))(x, k), jax.jit(grad)(x, k)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)



@pytest.mark.parametrize("where", ["forward", "step"])
def test_convolutions_as_matrix_products_keep_the_numbers(where):
    """Ungrouped convolutions (strided, padded, dilated) become products over patches: rewritten in the
    forward pass before differentiating, or in the whole step (the kernel gradient then gathers one window per
    output position). Max pools that tile, with ties, send each window's gradient to its first maximum."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.integers(0, 3, size=(3, 12, 11, 4)), "float32")  # small integers: many ties
    k = jnp.asarray(rng.normal(size=(3, 3, 4, 6)), "float32")

    def forward(x, k, strides, padding, dilation):
        h = jax.lax.conv_general_dilated(x, k, strides, padding, rhs_dilation=dilation,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.lax.reduce_window(jnp.maximum(h, 0.0), -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        pooled = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        return jnp.sum(jnp.sin(h)) + jnp.sum(pooled ** 2)

    for args in [((1, 1), "VALID", (1, 1)), ((2, 1), "SAME", (1, 1)), ((1, 1), "SAME", (2, 2)), ((2, 2), "VALID", (1, 1))]:
        plain = jax.grad(lambda x, k: forward(x, k, *args), argnums=(0, 1))
        if where == "forward":
            ours = jax.grad(lambda x, k: forward_for_xla_cpu(lambda x, k: forward(x, k, *args))(x, k), argnums=(0, 1))
        else:
            ours = for_xla_cpu(plain)
        program = str(jax.make_jaxpr(ours)(x, k))
        if where == "forward" or args[0] == (1, 1):   # a strided one's input gradient dilates: left a convolution
            assert "conv_general_dilated" not in program
        assert "select_and_scatter_add" not in program
        for a, b in zip(jax.jit(ours)(x, k), jax.jit(plain)(x, k)):   # the same sums in another order
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)

@pytest.mark.slow
@pytest.mark.skipif(jax.default_backend() != "cpu", reason="what XLA's CPU compiler makes of a loop")
def test_a_scanned_conv_step_has_only_fast_convolutions_on_cpu():
    """Why the rewrite exists: inside a loop XLA CPU leaves backward convolutions in slow forms. The forward
    convolutions become matrix products over patches before they are differentiated, so the step has none left
    but in the canonical form."""
    exp, data, model, members, program = tiny_cnn("train.epochs=1")
    compiled = Compiled(program, 10, engine.regularized_variables(members))
    run = engine._Run(program, members, data, compiled, CallbackList())  # noqa: SLF001 (the host loop's own state)
    batches = jnp.zeros((4, 32), "int32")
    hlo = run.steps.loop.lower(run.state[0], run.consts[0], run.feed.x, run.feed.y, batches[None],
                               jnp.ones((1, 4, 32)), np.int32(0), np.int32(4)).compile().as_text()
    labels = [line.split("dim_labels=")[1].split(",")[0] for line in hlo.splitlines() if " convolution(" in line]
    assert all(label.startswith("b01f_01io->b01f") for label in labels), labels
    assert " dot(" in hlo and "select-and-scatter" not in hlo


@pytest.mark.slow
def test_progress_inside_an_epoch_and_ctrl_c_between_segments(monkeypatch):
    monkeypatch.setattr(progress, "SEGMENT_SECONDS", 0.0)  # a report after every step
    exp, data, model, members, program = tiny_cnn("train.epochs=3")
    compiled = Compiled(program, 10, engine.regularized_variables(members))
    reports: list[StepProgress] = []

    def on_step(p: StepProgress):
        reports.append(p)
        if p.epoch == 2 and p.step == 3:
            raise KeyboardInterrupt  # as Ctrl-C between two segments

    [out] = engine.train(program, members, data, [LambdaCallback(on_step=on_step)], compiled=compiled)
    assert out.status == "interrupted" and out.epochs_run == 1  # the interrupted epoch is dropped
    first = [p for p in reports if p.epoch == 1]
    training = [p for p in first if p.phase == "training"]
    assert [p.step for p in training] == sorted(p.step for p in training) and training[-1].step == 8 == training[-1].steps
    assert training[-1].samples == 250 == training[-1].rows and first[-1].phase == "evaluating"
    assert all(p.samples_per_second > 0 and p.eta_seconds is not None for p in training[1:])
    assert reports[-1].epoch == 2 and reports[-1].epoch_seconds > 0 and reports[-1].run_eta_seconds > 0
    assert set(reports[-1].to_json()) >= {"epoch", "step", "steps", "samples_per_second", "eta_seconds"}
    # it stopped with the weights of the epoch before
    [one] = engine.train(dataclasses.replace(program, epochs=1), members, data, compiled=compiled)
    assert all((a == b).all() for a, b in zip(out.trainable, one.trainable))
    assert out.compile_seconds >= 0.0


def test_steps_are_named_and_chosen(monkeypatch):
    assert Steps.parse("scan") == Steps() and Steps.parse("step") == Steps("unrolled", 1)
    assert Steps.parse("unrolled:8") == Steps("unrolled", 8)
    for bad in ("loop", "unrolled:0", "unrolled", "step:2"):
        with pytest.raises(ValueError, match="scan"):
            Steps.parse(bad)
    monkeypatch.setenv("MLPLAB_STEPS", "unrolled:4")
    exp, data, model, members, program = tiny_cnn("train.epochs=1")
    assert Compiled(program, 10).layout.steps == Steps("unrolled", 4)


def test_compile_clock_counts_nested_spans_once_and_pace_aims_at_the_segment_time():
    clock = CompileClock()
    now = time.time()
    for start, end in [(1.0, 4.0), (2.0, 3.0), (6.0, 7.0)]:  # a trace inside a trace, then another
        clock("/jax/core/compile/jaxpr_trace_duration", now + start, now + end)
    clock("/jax/some/other/event", now, now + 100)
    assert clock.seconds(now, now + 10) == pytest.approx(4.0)
    assert clock.seconds(now + 3.5, now + 10) == pytest.approx(1.5)
    pace = Pace(target=0.5, first=2)
    assert pace.next(100) == 2 and pace.next(100, previous=2) == 4   # unmeasured: doubling
    pace.measured(4, seconds=0.04, compiling=0.0)
    assert pace.next(100, previous=4) == 50 and pace.next(30, previous=4) == 30
    assert pace.next(100, previous=4, multiple=8) == 48 and pace.next(5, multiple=8) == 5
    pace.measured(4, seconds=10.0, compiling=9.0)                    # mostly compiling: not a measurement
    assert pace.per_step == pytest.approx(0.01)
