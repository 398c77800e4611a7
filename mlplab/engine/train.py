"""The population engine: one compiled program trains a stack of members.

A *program* is what must be static for one compiled JAX program: the Keras
model's structure, the optimizer class and its structural options, the loss,
batch size and epochs. A *member* is what may differ inside it: initial
weights, optimizer hyperparameters (learning rate, momentum, betas, ...),
L1/L2 factors and the shuffle seed. A single run is a population of one.

The step is pure, `update(state, batch) -> state`, vmapped over the members
and scanned over the batches of an epoch on device; the host sees the
population once per epoch (evaluation, statistics, early stopping, progress).
Members share no arithmetic, so a NaN never spreads; a member that diverges
or stops early is put back to its last good state at the end of the epoch
and stays there, whatever the others do.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import jax.numpy as jnp
import keras
import numpy as np

from . import optimizers
from . import probe
from ..data import Dataset
from ..spec import EarlyStopping
from .inference import as_probabilities

EVAL_CHUNK = 2048          # rows per inference-mode batch
TRAIN_EVAL_ROWS = 10_000   # inference-mode train metrics: a fixed sample of at most this many rows


@dataclass(frozen=True)
class Program:
    """The static part of a group of members."""
    model: keras.Model
    optimizers: tuple[tuple[str, tuple], ...]   # (name, static options as sorted items); several: a mixed population
    loss: str = "sparse_categorical_crossentropy"
    batch_size: int = 32
    epochs: int = 20
    shuffle: bool = True
    early_stopping: EarlyStopping | None = None


@dataclass
class Member:
    """The dynamic part: what one member of the population brings."""
    trainable: list[np.ndarray]
    non_trainable: list[np.ndarray]
    hyper: dict[str, float]                   # optimizer numeric hyperparameters (+ "kind" in a mixed population)
    regularization: list[tuple[float, float]]  # (l1, l2) per trainable variable
    seed: int                                 # shuffle stream


@dataclass
class Outcome:
    """What training did to one member."""
    history: dict[str, list[float]]
    status: str                  # ok | stopped | diverged | interrupted
    epochs_run: int
    best_epoch: int | None       # 1-based, by the early-stopping monitor (val_loss when off)
    trainable: list[np.ndarray]
    non_trainable: list[np.ndarray]
    test_probabilities: np.ndarray
    seconds: float
    stats: dict[str, list] = field(default_factory=dict)  # per epoch (0 = initial), see mlplab.probe
    result: dict[str, float] = field(default_factory=dict)  # the final weights' train/val/test loss and accuracy
    diverged_how: str | None = None  # why it diverged: non-finite numbers, or what `diverged` said


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


# ---------------------------------------------------------------- the compiled program

# Measured on 2 CPU cores: XLA's batched matmuls only pay off for small dense nets (48 digits
# MLPs of 9k weights: vmap 8.3 s vs map 9.0 s for a sweep); for MNIST-size layers a loop over
# members with plain matmuls is much faster (8 members of 235k weights: map 16 s, vmap 24 s,
# one run at a time 27 s). Either way the population is one compiled program.
VECTORIZE_BELOW = 50_000  # parameters per member


def _over_members(fn: Callable, in_axes: tuple, vectorize: bool) -> Callable:
    """`fn` over the members (axis 0 of the args whose in_axes is 0): `jax.vmap` when
    vectorizing, else `jax.lax.map` (members one after another inside the program).
    A population of one runs unbatched."""
    batched = jax.vmap(fn, in_axes=in_axes)

    def one_by_one(*args):
        def member(member_args):
            it = iter(member_args)
            return fn(*[next(it) if ax == 0 else a for a, ax in zip(args, in_axes)])
        return jax.lax.map(member, [a for a, ax in zip(args, in_axes) if ax == 0])

    def call(*args):
        size = next(jax.tree.leaves(a)[0].shape[0] for a, ax in zip(args, in_axes) if ax == 0)
        if size != 1:
            return batched(*args) if vectorize else one_by_one(*args)
        squeeze = [jax.tree.map(lambda v: v[0], a) if ax == 0 else a for a, ax in zip(args, in_axes)]
        return jax.tree.map(lambda v: v[None], fn(*squeeze))
    return call


def _uses_batch_statistics(model: keras.Model) -> bool:
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in model._flatten_layers())


class Compiled:
    """The jitted functions of one program; built once, reused across chunks and epochs."""

    def __init__(self, program: Program, num_classes: int, regularized: tuple[bool, ...] = ()):
        self.program = program
        self.regularized = regularized  # which trainable variables carry an L1/L2 term (static: skips the rest)
        model, loss = program.model, program.loss
        kinds = [(name, dict(static)) for name, static in program.optimizers]
        opt = optimizers.make(*kinds[0][:1], **kinds[0][1]) if len(kinds) == 1 else optimizers.mixed(kinds)
        per_sample = _per_sample_loss(loss)
        # A padded last batch is exact when rows do not see each other; batch-norm
        # statistics do, so those models take the short last batch as a separate step.
        self.pad_last_batch = not _uses_batch_statistics(model)
        dense_only = all(isinstance(layer, (keras.layers.Dense, keras.layers.Dropout, keras.layers.Activation,
                                            keras.layers.BatchNormalization)) for layer in model.layers)
        self.vectorize = vectorize = dense_only and model.count_params() < VECTORIZE_BELOW

        def penalty(trainable, reg):
            l1, l2 = reg
            return sum(a * jnp.sum(jnp.abs(w)) + b * jnp.sum(jnp.square(w))
                       for w, a, b, on in zip(trainable, l1, l2, regularized) if on)

        def forward(trainable, non_trainable, x, training):
            return model.stateless_call(trainable, non_trainable, x, training=training)

        def member_step(state, consts, x, y, idx, weight):
            # idx: (B,) rows of this member's batch; weight: 1 for real rows, 0 for padding
            return member_update(state, consts, x[idx], y[idx], weight)

        def member_update(state, consts, xb, yb, weight):
            target = _targets(loss, yb, num_classes)
            n = jnp.sum(weight)

            def objective(trainable):
                probs, non_trainable = forward(trainable, state["non_trainable"], xb, True)
                value = jnp.sum(per_sample(target, probs) * weight) / n + penalty(trainable, consts["reg"])
                return value, (probs, non_trainable)

            (value, (probs, non_trainable)), grads = jax.value_and_grad(objective, has_aux=True)(state["trainable"])
            params, opt_state = opt.update(grads, state["opt"], state["trainable"], consts["hyper"])
            # No masking here: members share no arithmetic, so a NaN cannot spread, and a member
            # that stops or diverges is put back to its last good state once per epoch (`train`).
            return {
                "trainable": params,
                "non_trainable": non_trainable,
                "opt": opt_state,
                # running sums as Keras prints them: batch losses weighted by batch size
                "loss_sum": state["loss_sum"] + value * n,
                "correct": state["correct"] + jnp.sum(_correct(loss, probs, yb) * weight),
                "seen": state["seen"] + n,
            }

        def member_epoch(state, consts, x, y, batches, weights):  # (steps, B) each
            def body(carry, batch):
                return member_step(carry, consts, x, y, *batch), None
            return jax.lax.scan(body, state, (batches, weights))[0]

        def shared_epoch(state, consts, x, y, batches, weights):  # (steps, B): one row order for every member
            # the batch is not batched over members, so the first layer is one wide matmul
            update = jax.vmap(member_update, in_axes=(0, 0, None, None, None))

            def body(carry, batch):
                idx, w = batch
                return update(carry, consts, x[idx], y[idx], w), None
            return jax.lax.scan(body, state, (batches, weights))[0]

        def member_evaluate(trainable, non_trainable, reg, x, y, split, test_rows):
            # x: (chunks, C, ...) rows of every split, padded; split: which split a row is in (3 = padding)
            def body(sums, chunk):
                xc, yc, sc = chunk
                probs, _ = forward(trainable, non_trainable, xc, False)
                losses = per_sample(_targets(loss, yc, num_classes), probs)
                one_hot = jax.nn.one_hot(sc, 3)
                return sums + jnp.stack([losses @ one_hot, _correct(loss, probs, yc) @ one_hot, jnp.sum(one_hot, 0)]), probs
            sums, probs = jax.lax.scan(body, jnp.zeros((3, 3)), (x, y, split))
            count = jnp.maximum(sums[2], 1.0)
            probs = probs.reshape((-1,) + probs.shape[2:])[test_rows[0]:test_rows[0] + test_rows[1]]
            finite = jnp.isfinite(sum(jnp.sum(w) for w in trainable))
            return sums[0] / count + penalty(trainable, reg), sums[1] / count, probs, finite

        def inference_objective(trainable, non_trainable, reg, x, y):
            probs, _ = forward(trainable, non_trainable, x, False)
            return jnp.mean(per_sample(_targets(loss, y, num_classes), probs)) + penalty(trainable, reg)

        self.opt = opt
        self.probe = jax.jit(_over_members(probe.make_probe(model, inference_objective), (0, 0, 0, 0, None, None), vectorize))
        self.init = jax.jit(_over_members(opt.init, (0, 0), vectorize))
        # the member axis is the outermost: vmap(scan) is scan(vmap), and a population of one
        # drops it outside the loop; shared_epoch: vectorized members that see the same batches
        self.epoch = jax.jit(_over_members(member_epoch, (0, 0, None, None, 0, 0), vectorize))
        self.step = jax.jit(_over_members(member_step, (0, 0, None, None, 0, 0), vectorize))
        self.shared_epoch = jax.jit(shared_epoch)
        self.shared_step = jax.jit(jax.vmap(member_update, in_axes=(0, 0, None, None, None)))
        self.evaluate = jax.jit(_over_members(member_evaluate, (0, 0, 0, None, None, None, None), vectorize),
                                static_argnums=6)
        self.select = jax.jit(lambda mask, new, old: jax.tree.map(
            lambda a, b: jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old))


SPLITS = ("train", "val", "test")


def regularized_variables(members: list[Member]) -> tuple[bool, ...]:
    """Per trainable variable: does any member put an L1/L2 term on it?"""
    return tuple(any(a or b for a, b in factors) for factors in zip(*(m.regularization for m in members)))


def _evaluation_rows(data: Dataset) -> tuple:
    """Every row evaluated each epoch, in padded chunks: a fixed sample of the training
    rows (at most TRAIN_EVAL_ROWS), the validation rows, the test rows."""
    n = len(data.x_train)
    sample = np.sort(np.random.default_rng(0).permutation(n)[:TRAIN_EVAL_ROWS]) if n > TRAIN_EVAL_ROWS else slice(None)
    parts = [(data.x_train[sample], data.y_train[sample]), (data.x_val, data.y_val), (data.x_test, data.y_test)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    split = np.concatenate([np.full(len(p[1]), i, "int32") for i, p in enumerate(parts)])
    size = min(EVAL_CHUNK, len(x))
    count = math.ceil(len(x) / size)
    pad = count * size - len(x)
    x = np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)]).reshape((count, size) + x.shape[1:])
    y = np.concatenate([y, np.zeros(pad, y.dtype)]).reshape(count, size)
    split = np.concatenate([split, np.full(pad, 3, "int32")]).reshape(count, size)
    test_rows = (len(parts[0][1]) + len(parts[1][1]), len(parts[2][1]))
    return jnp.asarray(x), jnp.asarray(y), jnp.asarray(split), test_rows


def _monitor_mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


def _batches(members: list[Member], n: int, batch_size: int, epoch: int, shuffle: bool, pad: bool) -> list:
    """Per member row order for this epoch, cut into (P, steps, B) batches and padding weights.

    Each member shuffles with its own stream (seed, epoch), so it sees the same
    batches in a population as alone. With pad=False the short last batch comes
    back separately as a (P, rest) array.
    """
    order = np.stack([np.random.default_rng((m.seed, epoch)).permutation(n) if shuffle else np.arange(n)
                      for m in members]).astype("int32")
    P = len(members)
    steps, rest = divmod(n, batch_size)
    weights = np.ones((P, n), "float32")
    if rest and pad:
        fill = batch_size - rest
        order = np.concatenate([order, np.zeros((P, fill), "int32")], axis=1)
        weights = np.concatenate([weights, np.zeros((P, fill), "float32")], axis=1)
        steps, rest = steps + 1, 0
    cut = steps * batch_size
    full = [a[:, :cut].reshape(P, steps, batch_size) for a in (order, weights)]
    last = (order[:, cut:], weights[:, cut:]) if rest else None
    return [full, last]


def train(program: Program, members: list[Member], data: Dataset,
          on_epoch: Callable[[int, list[dict | None]], None] | None = None,
          compiled: Compiled | None = None,
          diverged_rule: Callable[[dict[str, list[float]]], str | None] | None = None) -> list[Outcome]:
    """Train every member of one program together; one Outcome per member.

    `on_epoch(epoch, records)` is called after each epoch with one metrics dict
    per member (None for members no longer training). Ctrl-C stops cleanly:
    the members still training end with status "interrupted". A member whose
    loss or weights become non-finite diverges; `diverged_rule(history so far)`
    may say why a member with finite numbers has diverged too (the caller's
    policy: see analysis.status.divergence_rule).
    """
    regularized = regularized_variables(members)
    if compiled is None or compiled.regularized != regularized:
        compiled = Compiled(program, data.info.num_classes, regularized)
    P, n = len(members), len(data.x_train)
    # vectorized members with one seed see the same batches (their shuffle streams are equal),
    # so they share each batch: one wide first-layer matmul instead of P small ones
    shared = compiled.vectorize and P > 1 and len({m.seed for m in members}) == 1
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    eval_x, eval_y, eval_split, test_rows = _evaluation_rows(data)
    splits = [s for s, rows in zip(SPLITS, (1, len(data.x_val), 1)) if rows]

    hyper = {k: jnp.asarray(np.array([m.hyper[k] for m in members], "float32")) for k in members[0].hyper}
    reg = np.asarray([m.regularization for m in members], "float32").reshape(P, -1, 2)  # (P, variables, 2)
    consts = {"hyper": hyper, "reg": ([jnp.asarray(c) for c in reg[:, :, 0].T], [jnp.asarray(c) for c in reg[:, :, 1].T])}
    trainable = [jnp.asarray(np.stack(w)) for w in zip(*(m.trainable for m in members))]
    non_trainable = [jnp.asarray(np.stack(w)) for w in zip(*(m.non_trainable for m in members))]
    zeros = jnp.asarray(np.zeros(P, "float32"))
    state = {"trainable": trainable, "non_trainable": non_trainable, "opt": compiled.init(trainable, hyper),
             "loss_sum": zeros, "correct": zeros, "seen": zeros}

    rows = np.random.default_rng(1).permutation(n)[:probe.PROBE_ROWS]
    probe_x, probe_y = jnp.asarray(data.x_train[rows]), jnp.asarray(data.y_train[rows])
    stats: list[dict[str, list]] = [{} for _ in range(P)]

    def record_stats(epoch: int, previous: list, who: np.ndarray) -> None:
        values = compiled.probe(state["trainable"], state["non_trainable"], previous, consts["reg"], probe_x, probe_y)
        values = {k: np.asarray(v) for k, v in values.items()}
        for i in np.flatnonzero(who):
            stats[i].setdefault("epoch", []).append(epoch)
            for k, v in values.items():
                stats[i].setdefault(k, []).append([None if np.isnan(x) else float(x) for x in v[i]])

    record_stats(0, state["trainable"], np.ones(P, bool))
    es = program.early_stopping
    monitor = es.monitor if es else ("val_loss" if "val" in splits else "loss")
    sign = -1.0 if _monitor_mode(monitor) == "max" else 1.0
    best_value = np.full(P, np.inf)
    best_epoch: list[int | None] = [None] * P
    wait = np.zeros(P, int)
    best = None
    histories: list[dict[str, list[float]]] = [dict() for _ in range(P)]
    status = ["ok"] * P
    training = np.ones(P, bool)
    epoch_seconds = np.zeros(P)
    how: list[str | None] = [None] * P

    try:
        for epoch in range(1, program.epochs + 1):
            t0 = time.perf_counter()
            start = state
            full, last = _batches(members[:1] if shared else members, n, program.batch_size, epoch, program.shuffle,
                                  compiled.pad_last_batch)
            state = {**state, "loss_sum": zeros, "correct": zeros, "seen": zeros}
            if shared:
                if full[0].shape[1]:
                    state = compiled.shared_epoch(state, consts, x, y, jnp.asarray(full[0][0]), jnp.asarray(full[1][0]))
                if last is not None:
                    rows = jnp.asarray(last[0][0])
                    state = compiled.shared_step(state, consts, x[rows], y[rows], jnp.asarray(last[1][0]))
            else:
                if full[0].shape[1]:
                    state = compiled.epoch(state, consts, x, y, jnp.asarray(full[0]), jnp.asarray(full[1]))
                if last is not None:
                    state = compiled.step(state, consts, x, y, jnp.asarray(last[0]), jnp.asarray(last[1]))
            losses, accuracies, _, finite = compiled.evaluate(
                state["trainable"], state["non_trainable"], consts["reg"], eval_x, eval_y, eval_split, test_rows)
            seen = np.asarray(state["seen"])
            metrics = {"loss": np.asarray(state["loss_sum"]) / np.maximum(seen, 1),
                       "accuracy": np.asarray(state["correct"]) / np.maximum(seen, 1)}
            losses, accuracies = np.asarray(losses), np.asarray(accuracies)
            for j, split in enumerate(SPLITS):
                if split in splits:
                    metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = losses[:, j], accuracies[:, j]
            diverged = ~(np.isfinite(metrics["loss"]) & np.asarray(finite))
            for i in np.flatnonzero(training & ~diverged) if diverged_rule else ():  # the caller's rule
                how[i] = diverged_rule({k: [*histories[i].get(k, []), float(v[i])] for k, v in metrics.items()})
                diverged[i] = how[i] is not None
            record_stats(epoch, start["trainable"], training)
            seconds = time.perf_counter() - t0

            records: list[dict | None] = [None] * P
            improved = np.zeros(P, bool)
            stop = np.zeros(P, bool)
            for i in np.flatnonzero(training):
                rec = {k: float(v[i]) for k, v in metrics.items()}
                rec["seconds"] = seconds
                records[i] = rec
                for k, v in rec.items():
                    histories[i].setdefault(k, []).append(v)
                epoch_seconds[i] += seconds
                if diverged[i]:
                    status[i], stop[i] = "diverged", True
                    how[i] = how[i] or "the loss or the weights became NaN/infinite"
                    continue
                value = sign * rec[monitor]
                if math.isfinite(value) and value < best_value[i] - (es.min_delta if es else 0.0):
                    best_value[i], best_epoch[i], wait[i], improved[i] = value, epoch, 0, True
                elif es:
                    wait[i] += 1
                    if wait[i] >= es.patience and epoch > 1:  # Keras' rule
                        status[i], stop[i] = "stopped", True
            if es and es.restore_best:
                current = {"trainable": state["trainable"], "non_trainable": state["non_trainable"]}
                best = current if best is None else compiled.select(jnp.asarray(improved), current, best)
            # members that stopped before this epoch, or diverged in it, go back to where they were
            keep = training & ~diverged
            training &= ~stop
            if not keep.all():
                state = compiled.select(jnp.asarray(keep), state, start)
            if on_epoch:
                on_epoch(epoch, records)
            if not training.any():
                break
    except KeyboardInterrupt:
        for i in np.flatnonzero(training):
            status[i] = "interrupted"

    # the weights each member ends with: its best epoch's when restoring, else its last good
    # ones (analysis.status.result_epoch); the result is measured on exactly those weights
    final = {"trainable": state["trainable"], "non_trainable": state["non_trainable"]}
    if best is not None:
        use_best = np.array([b is not None for b in best_epoch])
        final = compiled.select(jnp.asarray(use_best), best, final)
    losses, accuracies, probs, _ = compiled.evaluate(final["trainable"], final["non_trainable"], consts["reg"],
                                                     eval_x, eval_y, eval_split, test_rows)
    final = jax.tree.map(np.asarray, {**final, "probs": probs, "losses": losses, "accuracies": accuracies})

    def result(i: int) -> dict[str, float]:
        return {f"{split}_{kind}": float(final[key][i, j]) for j, split in enumerate(SPLITS) if split in splits
                for kind, key in (("loss", "losses"), ("accuracy", "accuracies"))}
    epochs_run = [len(h.get("loss", [])) for h in histories]
    return [Outcome(history=histories[i], status=status[i], epochs_run=epochs_run[i],
                    best_epoch=best_epoch[i],
                    trainable=[w[i] for w in final["trainable"]],
                    non_trainable=[w[i] for w in final["non_trainable"]],
                    test_probabilities=as_probabilities(final["probs"][i]).astype("float32"), seconds=float(epoch_seconds[i]),
                    stats={**probe.describe(program.model), **stats[i]}, result=result(i),
                    diverged_how=how[i] if status[i] == "diverged" else None)
            for i in range(P)]
