"""mlplab's pure-JAX optimizers against Keras' own, step by step."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mlplab.engine import optimizers
from mlplab.errors import BadInput

import keras  # after mlplab, which selects the JAX backend

SHAPES = [(3, 4), (4,), (2, 3, 2), ()]
STEPS = 5

# (name, static options, non-default hyperparameters)
CASES = [
    ("sgd", {}, {}),
    ("sgd", {}, {"learning_rate": 0.1, "momentum": 0.9}),
    ("sgd", {"nesterov": True}, {"learning_rate": 0.1, "momentum": 0.9}),
    ("adam", {}, {}),
    ("adam", {}, {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3}),
    ("adam", {"amsgrad": True}, {"learning_rate": 0.01, "beta_1": 0.7, "beta_2": 0.95}),
    ("adamw", {}, {}),
    ("adamw", {}, {"learning_rate": 0.01, "weight_decay": 0.1, "beta_2": 0.99}),
    ("adamw", {"amsgrad": True}, {"learning_rate": 0.02, "weight_decay": 0.05}),
    ("rmsprop", {}, {}),
    ("rmsprop", {}, {"learning_rate": 0.01, "momentum": 0.9, "rho": 0.8}),
    ("rmsprop", {"centered": True}, {"learning_rate": 0.01, "epsilon": 1e-4}),
    ("rmsprop", {"centered": True}, {"learning_rate": 0.01, "momentum": 0.5}),
    ("adagrad", {}, {}),
    ("adagrad", {}, {"learning_rate": 0.05, "initial_accumulator_value": 0.5, "epsilon": 1e-3}),
]


def _case_id(case):
    name, static, hyper = case
    parts = [name] + [k for k, v in static.items() if v] + [f"{k}={v}" for k, v in hyper.items()]
    return "-".join(parts)


def _params_and_grads(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    # Gradients vary in scale from step to step so that AMSGrad's running
    # maximum and the centered RMSprop average actually matter.
    grads = [
        [(rng.normal(size=s) * rng.uniform(0.1, 3.0)).astype(np.float32) for s in SHAPES]
        for _ in range(STEPS)
    ]
    return params, grads


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_keras_step_by_step(case):
    name, static, values = case
    params, grads = _params_and_grads()

    reference = optimizers.keras_optimizer(name, {**values, **static})
    variables = [keras.Variable(p) for p in params]

    opt = optimizers.make(name, **static)
    hyper = optimizers.hyperparameters(name, **values)
    ours = [jnp.asarray(p) for p in params]
    state = opt.init(ours, hyper)
    update = jax.jit(opt.update)

    for step, g in enumerate(grads):
        reference.apply_gradients(zip([jnp.asarray(x) for x in g], variables))
        ours, state = update([jnp.asarray(x) for x in g], state, ours, hyper)
        for i, (v, p) in enumerate(zip(variables, ours)):
            np.testing.assert_allclose(
                np.asarray(p), np.asarray(v.value), rtol=1e-5, atol=1e-6,
                err_msg=f"{name} step {step + 1}, parameter {i} {SHAPES[i]}",
            )
        assert int(state["iterations"]) == int(reference.iterations.value) == step + 1


def test_matches_keras_stateless_apply():
    # The path the engine's reference tests use: Keras inside jax.jit.
    params, grads = _params_and_grads(seed=1)
    values = {"learning_rate": 0.01, "weight_decay": 0.1}
    reference = optimizers.keras_optimizer("adamw", values)
    reference.build([keras.Variable(p) for p in params])
    ref_state = [v.value for v in reference.variables]
    ref_params = [jnp.asarray(p) for p in params]
    ref_apply = jax.jit(reference.stateless_apply)

    opt = optimizers.make("adamw")
    hyper = optimizers.hyperparameters("adamw", **values)
    ours = [jnp.asarray(p) for p in params]
    state = opt.init(ours, hyper)
    for g in grads:
        g = [jnp.asarray(x) for x in g]
        ref_params, ref_state = ref_apply(ref_state, g, ref_params)
        ours, state = jax.jit(opt.update)(g, state, ours, hyper)
        for p, r in zip(ours, ref_params):
            np.testing.assert_allclose(p, r, rtol=1e-5, atol=1e-6)


POPULATIONS = [
    ("sgd", {"nesterov": True}, {"learning_rate": [0.01, 0.1, 0.3], "momentum": [0.0, 0.5, 0.9]}),
    ("adam", {"amsgrad": True}, {"learning_rate": [1e-3, 1e-2, 1e-1], "beta_1": [0.5, 0.8, 0.9]}),
    ("adamw", {}, {"learning_rate": [1e-3, 1e-2, 1e-1], "weight_decay": [0.0, 0.01, 0.1]}),
    ("rmsprop", {"centered": True}, {"learning_rate": [1e-3, 1e-2, 1e-1], "momentum": [0.0, 0.5, 0.9]}),
    ("adagrad", {}, {"learning_rate": [1e-3, 1e-2, 1e-1], "initial_accumulator_value": [0.1, 0.5, 1.0]}),
]


@pytest.mark.parametrize("name,static,columns", POPULATIONS, ids=[p[0] for p in POPULATIONS])
def test_population_member_equals_member_alone(name, static, columns):
    params, grads = _params_and_grads(seed=2)
    n = 3
    opt = optimizers.make(name, **static)
    members = [
        optimizers.hyperparameters(name, **{k: v[i] for k, v in columns.items()})
        for i in range(n)
    ]
    population_hyper = jax.tree.map(lambda *xs: jnp.stack(xs), *members)

    # Every member starts from the same weights here; its own hyperparameters
    # (including Adagrad's initial accumulator) shape its own state.
    stacked = [jnp.stack([jnp.asarray(p)] * n) for p in params]
    init = jax.vmap(opt.init, in_axes=(None, 0))
    step = jax.jit(jax.vmap(opt.update, in_axes=(None, 0, 0, 0)))
    pop_state = init([jnp.asarray(p) for p in params], population_hyper)
    pop_params = stacked
    for g in grads:
        pop_params, pop_state = step([jnp.asarray(x) for x in g], pop_state, pop_params, population_hyper)

    single_step = jax.jit(opt.update)
    for i, hyper in enumerate(members):
        alone = [jnp.asarray(p) for p in params]
        state = opt.init(alone, hyper)
        for g in grads:
            alone, state = single_step([jnp.asarray(x) for x in g], state, alone, hyper)
        for p, q in zip(alone, pop_params):
            np.testing.assert_allclose(q[i], p, rtol=1e-6, atol=1e-7)
        assert int(pop_state["iterations"][i]) == STEPS
    # The members really differ.
    assert not np.allclose(pop_params[0][0], pop_params[0][2])


def test_new_hyperparameter_values_do_not_recompile():
    traces = []

    def update(grads, state, params, hyper):
        traces.append(1)
        return opt.update(grads, state, params, hyper)

    opt = optimizers.make("sgd")
    step = jax.jit(update)
    params = [jnp.ones(3)]
    for lr, mu in [(0.1, 0.0), (0.01, 0.9), (0.5, 0.5)]:
        hyper = optimizers.hyperparameters("sgd", learning_rate=lr, momentum=mu)
        state = opt.init(params, hyper)
        step([jnp.ones(3)], state, params, hyper)
    assert len(traces) == 1


# Keyword arguments every Keras optimizer inherits from the base class. mlplab
# supports none of them, so they must be off by default.
_BASE_KEYWORDS = {
    "self", "name", "kwargs", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
    "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
    "gradient_accumulation_steps",
}


@pytest.mark.parametrize("name", optimizers.NAMES)
def test_defaults_are_keras_defaults(name):
    cls = type(optimizers.keras_optimizer(name, {}))
    signature = inspect.signature(cls.__init__).parameters
    ours = optimizers.defaults(name)
    own = {k: p.default for k, p in signature.items() if k not in _BASE_KEYWORDS}
    if name == "adamw":
        own["weight_decay"] = signature["weight_decay"].default
    assert ours == own
    for k, v in ours.items():
        assert type(v) is type(own[k]), k
    # The Keras features mlplab leaves out are off by default.
    for k in ("clipnorm", "clipvalue", "global_clipnorm", "ema_overwrite_frequency",
              "loss_scale_factor", "gradient_accumulation_steps"):
        assert signature[k].default is None, k
    assert signature["use_ema"].default is False
    if name != "adamw":
        assert signature["weight_decay"].default is None
    # And nothing is excluded from weight decay unless asked.
    assert not getattr(cls(), "_exclude_from_weight_decay", set())
    assert getattr(cls(), "_exclude_from_weight_decay_pattern", None) is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras reads its lr variable via np.array
def test_keras_optimizer_carries_the_values():
    hyper = optimizers.hyperparameters("rmsprop", learning_rate=0.05, momentum=0.9)
    opt = optimizers.keras_optimizer("rmsprop", {**hyper, "centered": True})
    config = opt.get_config()
    assert config["learning_rate"] == pytest.approx(0.05)
    assert config["momentum"] == pytest.approx(0.9)
    assert config["centered"] is True
    assert config["rho"] == pytest.approx(0.9)


def test_bad_names_and_options_are_rejected():
    with pytest.raises(BadInput, match="adamax"):
        optimizers.make("adamax")
    with pytest.raises(BadInput, match="nesterov"):
        optimizers.make("adam", nesterov=True)
    with pytest.raises(BadInput, match="beta_1"):
        optimizers.hyperparameters("sgd", beta_1=0.9)
    with pytest.raises(BadInput, match="nesterov"):
        optimizers.hyperparameters("sgd", nesterov=True)
    assert set(optimizers.defaults("adam")) & optimizers.STATIC == {"amsgrad"}
