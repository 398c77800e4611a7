"""The pure, traceable functions of one member of a population (`MemberMath`): its loss, its
gradients and optimizer step on a batch, loops of steps, the inference-mode evaluation; and the same
step over a stack of members. engine.program's `Compiled` jits them over the population.
"""
from __future__ import annotations

from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import jax.numpy as jnp
import keras

from .layout import lift
from .xla_cpu import for_xla_cpu, forward_for_xla_cpu


# ---------------------------------------------------------------- losses

def _targets(loss: str, y: jax.Array, num_classes: int) -> jax.Array:
    if loss in ("categorical_crossentropy", "mse"):
        return jax.nn.one_hot(y, num_classes)
    if loss == "binary_crossentropy":
        return y[:, None].astype("float32")
    return y


def _per_sample_loss(loss: str) -> Callable:
    return {
        "sparse_categorical_crossentropy": keras.losses.sparse_categorical_crossentropy,
        "categorical_crossentropy": keras.losses.categorical_crossentropy,
        "binary_crossentropy": keras.losses.binary_crossentropy,
        "mse": keras.losses.mean_squared_error,
    }[loss]


def _correct(loss: str, probs: jax.Array, y: jax.Array) -> jax.Array:
    pred = (probs[:, 0] > 0.5).astype("int32") if loss == "binary_crossentropy" else jnp.argmax(probs, -1)
    return (pred == y).astype("float32")


# ---------------------------------------------------------------- one member's math

class MemberMath:
    """The pure, traceable functions of one member; `Compiled` maps them over the population.

    regularized: which trainable variables carry an L1/L2 term (static: the rest are skipped).
    for_cpu: rewrite the step for XLA's CPU compiler (engine.xla_cpu: convolutions, max-pool gradients)."""

    def __init__(self, model: keras.Model, loss: str, num_classes: int, opt, regularized: tuple[bool, ...],
                 for_cpu: bool = False):
        self.model, self.loss, self.num_classes, self.opt = model, loss, num_classes, opt
        self.regularized = regularized
        # layers with an activity regularizer add their losses in training (Keras' add_loss): the call returns
        # them before the weights' regularization losses, which `penalty` already counts
        self.activity = any(getattr(layer, "activity_regularizer", None) is not None
                            for layer in model._flatten_layers())
        self.weight_losses = sum(getattr(v, "regularizer", None) is not None for v in model.trainable_weights)
        self.per_sample = _per_sample_loss(loss)

        def call(trainable, non_trainable, x):
            return model.stateless_call(trainable, non_trainable, x, training=True, return_losses=self.activity)
        self.training_call = forward_for_xla_cpu(call) if for_cpu else call
        self.train_step = for_xla_cpu(self.update) if for_cpu else self.update
        self.train_gradients = for_xla_cpu(self.gradients) if for_cpu else self.gradients

    def penalty(self, trainable, reg):
        l1, l2 = reg
        return sum(a * jnp.sum(jnp.abs(w)) + b * jnp.sum(jnp.square(w))
                   for w, a, b, on in zip(trainable, l1, l2, self.regularized) if on)

    def forward(self, trainable, non_trainable, x, training):
        return self.model.stateless_call(trainable, non_trainable, x, training=training)

    def gradients(self, state, consts, xb, yb, weight):
        """The batch's loss and its gradients (weight: 1 for real rows, 0 for padding):
        ((loss, (probabilities, new non-trainable state)), gradients)."""
        target = _targets(self.loss, yb, self.num_classes)

        def objective(trainable):
            probs, non_trainable, *losses = self.training_call(trainable, state["non_trainable"], xb)
            extra = sum(losses[0][:len(losses[0]) - self.weight_losses]) if losses else 0.0
            value = jnp.sum(self.per_sample(target, probs) * weight) / jnp.sum(weight) \
                + self.penalty(trainable, consts["reg"]) + extra
            return value, (probs, non_trainable)
        return jax.value_and_grad(objective, has_aux=True)(state["trainable"])

    def sums(self, state, yb, weight, value, probs):
        """The running sums after a step, as Keras prints them: batch losses weighted by batch size."""
        n = jnp.sum(weight)
        return {"loss_sum": state["loss_sum"] + value * n,
                "correct": state["correct"] + jnp.sum(_correct(self.loss, probs, yb) * weight),
                "seen": state["seen"] + n}

    def update(self, state, consts, xb, yb, weight):
        """One optimizer step of one member on a batch. No masking: members share no arithmetic, so a NaN
        cannot spread, and a member that stops or diverges is put back to its last good state once per
        epoch (`train`)."""
        (value, (probs, non_trainable)), grads = self.gradients(state, consts, xb, yb, weight)
        params, opt_state = self.opt.update(grads, state["opt"], state["trainable"], consts["hyper"])
        return {"trainable": params, "non_trainable": non_trainable, "opt": opt_state,
                **self.sums(state, yb, weight, value, probs)}

    def stack_update(self, state, consts, xb, yb, weight, counts, shared):
        """One optimizer step of a stack of members (axis 0) of several optimizer kinds, in runs of one
        kind, counts[k] of kind k: each run gets its own kind's update only (optimizers.mixed's by_kind),
        not every kind's. Every member takes its own batch, or one for all when `shared`."""
        rows = None if shared else 0
        weights = {k: state[k] for k in ("trainable", "non_trainable")}
        (value, (probs, non_trainable)), grads = lift(self.train_gradients, (0, 0, rows, rows, rows), True)(
            weights, consts, xb, yb, weight)
        params, opt_state = self.opt.by_kind.update(counts, grads, state["opt"], state["trainable"], consts["hyper"])
        running = {k: state[k] for k in ("loss_sum", "correct", "seen")}
        return {"trainable": params, "non_trainable": non_trainable, "opt": opt_state,
                **lift(self.sums, (0, rows, rows, 0, 0), True)(running, yb, weight, value, probs)}

    def step(self, state, consts, x, y, idx, weight):
        """One member's step on its batch of rows idx (B,)."""
        return self.train_step(state, consts, x[idx], y[idx], weight)

    def stack_step(self, counts, shared) -> Callable:
        """`step` for a stack of members of several optimizer kinds (stack_update): idx/weight (P, B), or
        (B,) when shared."""
        return lambda state, consts, x, y, idx, weight: self.stack_update(state, consts, x[idx], y[idx], weight,
                                                                          counts, shared)

    def evaluate(self, trainable, non_trainable, reg, x, y, split, test_rows):
        """Inference-mode loss and accuracy per split, the test rows' probabilities, and whether
        the weights are finite. x: (chunks, C, ...) rows of every split, padded; split: which
        split a row is in (3 = padding)."""
        def body(sums, chunk):
            xc, yc, sc = chunk
            probs, _ = self.forward(trainable, non_trainable, xc, False)
            losses = self.per_sample(_targets(self.loss, yc, self.num_classes), probs)
            one_hot = jax.nn.one_hot(sc, 3)
            right = _correct(self.loss, probs, yc)
            return sums + jnp.stack([losses @ one_hot, right @ one_hot, jnp.sum(one_hot, 0)]), probs
        sums, probs = jax.lax.scan(body, jnp.zeros((3, 3)), (x, y, split))
        count = jnp.maximum(sums[2], 1.0)
        probs = probs.reshape((-1,) + probs.shape[2:])[test_rows[0]:test_rows[0] + test_rows[1]]
        finite = jnp.isfinite(sum(jnp.sum(w) for w in trainable))
        return sums[0] / count + self.penalty(trainable, reg), sums[1] / count, probs, finite

    def inference_objective(self, trainable, non_trainable, reg, x, y):
        probs, _ = self.forward(trainable, non_trainable, x, False)
        return jnp.mean(self.per_sample(_targets(self.loss, y, self.num_classes), probs)) + self.penalty(trainable, reg)


def loop(step: Callable) -> Callable:
    """Steps start .. start+count-1 of an epoch's batches, as one loop on device: batches and weights
    (steps, B) of a member, or (P, steps, B) of a stack (`step` takes a stack), (steps, B) when shared."""
    def run(state, consts, x, y, batches, weights, start, count):
        def body(i, carry):
            return step(carry, consts, x, y, *_at(batches, weights, i))
        return jax.lax.fori_loop(start, start + count, body, state)
    return run


def unrolled(step: Callable, k: int) -> Callable:
    """Steps start .. start+k-1 as straight-line code (no loop for XLA to compile)."""
    def run(state, consts, x, y, batches, weights, start):
        for j in range(k):
            state = step(state, consts, x, y, *_at(batches, weights, start + j))
        return state
    return run


def _at(batches, weights, i):
    """Step i's rows and weights: of a member (steps, B) or of a stack (P, steps, B)."""
    if batches.ndim == 3:
        return batches[:, i], weights[:, i]
    return batches[i], weights[i]
