"""The population engine's loop: one compiled program trains a stack of members.

The host sees the population once per epoch (evaluation in inference mode,
statistics, early stopping, divergence) and, inside an epoch, between segments
of steps of about half a second (progress, Ctrl-C; see engine.progress).
Members share no arithmetic, so a NaN never spreads; a member that diverges or
stops early is put back to its last good state at the end of the epoch and
stays there, whatever the others do. A single run is a population of one.

On a CPU with several cores, a vectorized population trains as equal parts side by side, a
thread per core, each part running the same compiled program (engine.parts).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol

from . import backend as _backend  # noqa: F401
import jax.numpy as jnp
import numpy as np

from . import probe
from .schedules import learning_rate
from ..data import Dataset
from .inference import as_probabilities
from .parts import Parts, member_threads
from .program import Compiled, Member, Outcome, Program, regularized_variables
from .progress import COMPILE_CLOCK, DeferredInterrupt, Pace, StepProgress
from .rows import epoch_batches, evaluation_rows

SPLITS = ("train", "val", "test")


class Hooks(Protocol):
    """What a caller may do between epochs (Keras callbacks in api.callbacks, live TensorBoard in
    training.tensorboard); both methods are optional.

    learning_rates(epoch, rates): each member's learning rate for the epoch about to run, given
    the rates its schedule says (the optimizer's without one); returns the rates to use.
    epoch_end(epoch, records, view): after the epoch (records as on_epoch's; view: EpochView);
    returns the indices of members to stop (status "stopped"), or None."""


@dataclass
class EpochView:
    """The population at the end of an epoch, read on demand."""
    run: "_Run"

    @property
    def names(self) -> list[str]:
        """The trainable variables' paths, in order."""
        return [v.path for v in self.run.program.model.trainable_variables]

    def weights(self, member: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(trainable, non-trainable) arrays of a member now."""
        part, at = self.run.parts.where[member]
        state = self.run.state[part]
        return ([np.asarray(w[at]) for w in state["trainable"]],
                [np.asarray(w[at]) for w in state["non_trainable"]])

    def history(self, member: int) -> dict[str, list[float]]:
        """A member's history so far (as Outcome.history)."""
        return self.run.histories[member]

    def stats(self, member: int) -> dict[str, list]:
        """A member's statistics so far (as Outcome.stats: epoch 0 is the initial weights)."""
        return {**self.run.described, **self.run.stats[member]}

    def gradients(self) -> list[list[np.ndarray]]:
        """Per member, the loss gradient of each trainable variable on the probe rows (inference mode)."""
        run = self.run
        grads = run.parts.gather(run.parts.each(lambda p: run.compiled.gradients(
            run.state[p]["trainable"], run.state[p]["non_trainable"], run.consts[p]["reg"], *run.probe_rows)))
        return [[g[i] for g in grads] for i in range(len(run.members))]


def _monitor_mode(monitor: str) -> str:
    return "max" if monitor.endswith("accuracy") else "min"


def _weights(state: dict) -> dict:
    return {"trainable": state["trainable"], "non_trainable": state["non_trainable"]}


def _initial_state(compiled: Compiled, members: list[Member], counts: tuple[int, ...]) -> tuple[dict, dict]:
    """(consts, state) of a population: hyperparameters and L1/L2 factors, stacked weights (counts: members
    per optimizer kind, in runs)."""
    P = len(members)
    hyper = {k: jnp.asarray(np.array([m.hyper[k] for m in members], "float32")) for k in members[0].hyper}
    reg = np.asarray([m.regularization for m in members], "float32").reshape(P, -1, 2)  # (P, variables, 2)
    consts = {"hyper": hyper, "reg": ([jnp.asarray(c) for c in reg[:, :, 0].T], [jnp.asarray(c) for c in reg[:, :, 1].T])}
    trainable = [jnp.asarray(np.stack(w)) for w in zip(*(m.trainable for m in members))]
    non_trainable = [jnp.asarray(np.stack(w)) for w in zip(*(m.non_trainable for m in members))]
    zeros = jnp.asarray(np.zeros(P, "float32"))
    opt = compiled.init(trainable, hyper, counts)
    return consts, {"trainable": trainable, "non_trainable": non_trainable, "opt": opt,
                    "loss_sum": zeros, "correct": zeros, "seen": zeros}


class _Run:
    """One population's training: its data on device, its state, and per-member bookkeeping
    (histories, statistics, early stopping, status).

    The device state is kept per part (engine.parts): `state`, `consts` and `best` are lists with one
    entry per part, whose arrays hold that part's members on axis 0."""

    def __init__(self, program: Program, members: list[Member], data: Dataset, compiled: Compiled,
                 diverged_rule: Callable | None, on_step: Callable[[StepProgress], None] | None = None,
                 hooks: tuple = (), threads: int | None = None):
        self.program, self.members, self.compiled, self.diverged_rule = program, members, compiled, diverged_rule
        self.hooks, self.interrupt = hooks, DeferredInterrupt()
        self.described = probe.describe(program.model)   # weight and layer names, for every epoch's stats
        self.on_step, self.pace, self.epoch_seconds = on_step, Pace(), []
        P, self.n = len(members), len(data.x_train)
        self.parts = Parts([int(m.hyper.get("kind", 0)) for m in members], threads or member_threads(compiled, P),
                           len(program.optimizers))
        # vectorized members with one seed see the same batches (their shuffle streams are equal),
        # so they share each batch: one wide first-layer matmul instead of P small ones
        self.shared = compiled.shares_batches and self.parts.size > 1 and len({m.seed for m in members}) == 1
        self.x, self.y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
        self.eval_rows = evaluation_rows(data)
        self.splits = [s for s, rows in zip(SPLITS, (1, len(data.x_val), 1)) if rows]
        starts = [_initial_state(compiled, [members[i] for i in part], self.parts.counts)
                  for part in self.parts.members]
        self.consts, self.state = [c for c, _ in starts], [s for _, s in starts]
        self.zeros = [s["seen"] for s in self.state]
        rows = np.random.default_rng(1).permutation(self.n)[:probe.PROBE_ROWS]
        self.probe_rows = jnp.asarray(data.x_train[rows]), jnp.asarray(data.y_train[rows])
        es = program.early_stopping
        self.es = es
        self.monitor = es.monitor if es else ("val_loss" if "val" in self.splits else "loss")
        self.sign = -1.0 if _monitor_mode(self.monitor) == "max" else 1.0
        self.best_value, self.wait = np.full(P, np.inf), np.zeros(P, int)
        self.best_epoch: list[int | None] = [None] * P
        self.best = None  # the best epoch's weights per part (restore_best only)
        self.histories: list[dict[str, list[float]]] = [dict() for _ in range(P)]
        self.stats: list[dict[str, list]] = [{} for _ in range(P)]
        self.status, self.how = ["ok"] * P, [None] * P
        self.training, self.seconds = np.ones(P, bool), np.zeros(P)
        self.record_stats(0, self.state, self.training)

    def record_stats(self, epoch: int, previous: list[dict], who: np.ndarray) -> None:
        """The probe's statistics after `epoch`; previous: the parts' states at the epoch's start."""
        c, state, consts = self.compiled, self.state, self.consts
        values = self.parts.gather(self.parts.each(lambda p: c.probe(
            state[p]["trainable"], state[p]["non_trainable"], previous[p]["trainable"], consts[p]["reg"],
            *self.probe_rows)))
        for i in np.flatnonzero(who):
            self.stats[i].setdefault("epoch", []).append(epoch)
            for k, v in values.items():
                self.stats[i].setdefault(k, []).append([None if np.isnan(x) else float(x) for x in v[i]])

    def run_epoch(self, epoch: int, t0: float) -> None:
        """Every batch of one epoch: the full batches in segments of about half a second (progress
        between them), then a short last one. The state changes only if the whole epoch ran."""
        c, consts, x, y, shared, parts = self.compiled, self.consts, self.x, self.y, self.shared, self.parts
        cut = self.epoch_batches(epoch)
        state = [{**s, "loss_sum": z, "correct": z, "seen": z} for s, z in zip(self.state, self.zeros)]
        steps = cut[0][0].shape[-2]
        total = steps + (cut[0][2] is not None)
        done = count = 0
        while done < steps:
            count = self.pace.next(steps - done, count, c.steps.k if c.steps.kind == "unrolled" else 1)
            t = time.time()
            # the host waits for every part here, so Ctrl-C is seen between segments
            state = parts.each(lambda p: c.advance(state[p], consts[p], x, y, *cut[p][:2], done, count, shared,
                                                   parts.counts))
            self.pace.measured(count, time.time() - t, COMPILE_CLOCK.seconds(t))
            self.interrupt.check()   # Ctrl-C: the epoch is dropped
            done += count
            self.report(epoch, t0, done, total, min(done * self.program.batch_size, self.n))
        if steps < total:
            state = parts.each(lambda p: c.last_step(state[p], consts[p], x, y, *cut[p][2:], shared, parts.counts))
            self.report(epoch, t0, total, total, self.n)
        self.state = state

    def epoch_batches(self, epoch: int) -> list[list]:
        """Per part, this epoch's (batches, weights, last batch's rows, its weights) on device (the last two
        None without a short last batch): (P, steps, B) and (P, rest), or one row order for every member of
        every part, (steps, B) and (rest,), when the members share their batches."""
        def of(members):
            (order, weight), last = epoch_batches(members, self.n, self.program.batch_size, epoch, self.program.shuffle,
                                             self.compiled.pad_last_batch)
            return [None if a is None else jnp.asarray(a[0] if self.shared else a)
                    for a in (order, weight, *(last or (None, None)))]
        if self.shared:
            return [of(self.members[:1])] * len(self.parts)
        return [of([self.members[i] for i in part]) for part in self.parts.members]

    def report(self, epoch: int, t0: float, step: int, steps: int, samples: int, phase: str = "training") -> None:
        if self.on_step is None:
            return
        self.on_step(StepProgress(
            epoch=epoch, epochs=self.program.epochs, step=step, steps=steps, samples=samples, rows=self.n,
            members=len(self.members), seconds=time.time() - t0, compile_seconds=COMPILE_CLOCK.seconds(t0),
            phase=phase, epoch_seconds=float(np.mean(self.epoch_seconds)) if self.epoch_seconds else None))

    def metrics(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """This epoch's metrics per member (running, and inference mode per split) and which diverged."""
        c, state, consts = self.compiled, self.state, self.consts

        def evaluate(p):
            losses, accuracies, _, finite = c.evaluate(state[p]["trainable"], state[p]["non_trainable"],
                                                       consts[p]["reg"], *self.eval_rows)
            return losses, accuracies, finite
        losses, accuracies, finite = self.parts.gather(self.parts.each(evaluate))
        running = self.parts.gather([{k: s[k] for k in ("seen", "loss_sum", "correct")} for s in state])
        seen = running["seen"]
        metrics = {"loss": running["loss_sum"] / np.maximum(seen, 1),
                   "accuracy": running["correct"] / np.maximum(seen, 1)}
        for j, split in enumerate(SPLITS):
            if split in self.splits:
                metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = losses[:, j], accuracies[:, j]
        diverged = ~(np.isfinite(metrics["loss"]) & np.asarray(finite))
        for i in np.flatnonzero(self.training & ~diverged) if self.diverged_rule else ():  # the caller's rule
            so_far = {k: [*self.histories[i].get(k, []), float(v[i])] for k, v in metrics.items()}
            self.how[i] = self.diverged_rule(so_far)
            diverged[i] = self.how[i] is not None
        return metrics, diverged

    def judge(self, epoch: int, metrics: dict, diverged: np.ndarray, seconds: float):
        """Record the epoch for each training member; (records, improved, stop) per member."""
        P = len(self.members)
        records: list[dict | None] = [None] * P
        improved, stop = np.zeros(P, bool), np.zeros(P, bool)
        es = self.es
        for i in np.flatnonzero(self.training):
            records[i] = rec = {**{k: float(v[i]) for k, v in metrics.items()}, "seconds": seconds}
            for k, v in rec.items():
                self.histories[i].setdefault(k, []).append(v)
            self.seconds[i] += seconds
            if diverged[i]:
                self.status[i], stop[i] = "diverged", True
                self.how[i] = self.how[i] or "the loss or the weights became NaN/infinite"
                continue
            value = self.sign * rec[self.monitor]
            if math.isfinite(value) and value < self.best_value[i] - (es.min_delta if es else 0.0):
                self.best_value[i], self.best_epoch[i], self.wait[i], improved[i] = value, epoch, 0, True
            elif es:
                self.wait[i] += 1
                if self.wait[i] >= es.patience and epoch > 1:  # Keras' rule
                    self.status[i], stop[i] = "stopped", True
        return records, improved, stop

    def settle(self, start: list[dict], improved: np.ndarray, diverged: np.ndarray, stop: np.ndarray) -> None:
        """Keep the best weights; members that stopped before this epoch, or diverged in it,
        go back to where they were."""
        if self.es and self.es.restore_best:
            current = [_weights(s) for s in self.state]
            self.best = current if self.best is None else self.select(improved, current, self.best)
        keep = self.training & ~diverged
        self.training &= ~stop
        if not keep.all():
            self.state = self.select(keep, self.state, start)

    def select(self, mask: np.ndarray, new: list, old: list) -> list:
        """Per part, per member: `new` where `mask` (one value per member) else `old`."""
        return [self.compiled.select(jnp.asarray(m), a, b, self.parts.counts)
                for m, a, b in zip(self.parts.cut(mask), new, old)]

    def schedule(self, epoch: int) -> np.ndarray | None:
        """Each member's learning rate for this epoch (its schedule's, then the hooks'), set in the
        program's data; None when every member trains at its optimizer's rate."""
        setters = [hook for hook in self.hooks if hasattr(hook, "learning_rates")]
        if all(m.schedule is None for m in self.members) and not setters:
            return None
        rates = np.array([learning_rate(m.schedule or {"name": "constant"}, m.hyper["learning_rate"], epoch,
                                        self.program.epochs, self.histories[i])
                          for i, m in enumerate(self.members)])
        for hook in setters:
            rates = np.asarray(hook.learning_rates(epoch, rates), "float64")
        self.consts = [{**consts, "hyper": {**consts["hyper"], "learning_rate": jnp.asarray(lr)}}
                       for consts, lr in zip(self.consts, self.parts.cut(rates.astype("float32")))]
        return rates

    def epoch(self, epoch: int, on_epoch: Callable | None) -> None:
        t0 = time.time()
        start = self.state
        rates = self.schedule(epoch)
        self.run_epoch(epoch, t0)
        if self.interrupt.pending:   # Ctrl-C during the last steps: the epoch is dropped, its steps too
            self.state = start
            self.interrupt.check()
        steps = math.ceil(self.n / self.program.batch_size)
        self.report(epoch, t0, steps, steps, self.n, phase="evaluating")
        metrics, diverged = self.metrics()
        if rates is not None:   # the rate each epoch trained with, in the history (as Keras' callbacks log it)
            metrics["learning_rate"] = rates
        self.record_stats(epoch, start, self.training)
        seconds = time.time() - t0
        self.epoch_seconds.append(seconds - COMPILE_CLOCK.seconds(t0))
        records, improved, stop = self.judge(epoch, metrics, diverged, seconds)
        self.settle(start, improved, diverged, stop)
        if on_epoch:
            on_epoch(epoch, records)
        for hook in self.hooks:
            stopped = hook.epoch_end(epoch, records, EpochView(self)) if hasattr(hook, "epoch_end") else None
            for i in stopped or ():
                if self.training[i]:
                    self.status[i], self.training[i] = "stopped", False

    def outcomes(self, compile_seconds: float = 0.0) -> list[Outcome]:
        """The weights each member ends with: its best epoch's when restoring, else its last good
        ones (analysis.status.result_epoch); the result is measured on exactly those weights."""
        c, ends = self.compiled, [_weights(s) for s in self.state]
        if self.best is not None:
            ends = self.select(np.array([b is not None for b in self.best_epoch]), self.best, ends)

        def final(p):
            losses, accuracies, probs, _ = c.evaluate(ends[p]["trainable"], ends[p]["non_trainable"],
                                                      self.consts[p]["reg"], *self.eval_rows)
            return {**ends[p], "probs": probs, "losses": losses, "accuracies": accuracies}
        final = self.parts.gather(self.parts.each(final))
        return [Outcome(history=h, status=self.status[i], epochs_run=len(h.get("loss", [])),
                        best_epoch=self.best_epoch[i],
                        trainable=[w[i] for w in final["trainable"]],
                        non_trainable=[w[i] for w in final["non_trainable"]],
                        test_probabilities=as_probabilities(final["probs"][i]).astype("float32"),
                        seconds=float(self.seconds[i]), stats={**self.described, **self.stats[i]},
                        result={f"{split}_{kind}": float(final[key][i, j]) for j, split in enumerate(SPLITS)
                                if split in self.splits for kind, key in (("loss", "losses"), ("accuracy", "accuracies"))},
                        diverged_how=self.how[i] if self.status[i] == "diverged" else None,
                        compile_seconds=compile_seconds)
                for i, h in enumerate(self.histories)]


def train(program: Program, members: list[Member], data: Dataset,
          on_epoch: Callable[[int, list[dict | None]], None] | None = None,
          compiled: Compiled | None = None,
          diverged_rule: Callable[[dict[str, list[float]]], str | None] | None = None,
          on_step: Callable[[StepProgress], None] | None = None, hooks: tuple = (),
          threads: int | None = None) -> list[Outcome]:
    """Train every member of one program together; one Outcome per member.

    `on_epoch(epoch, records)` is called after each epoch with one metrics dict
    per member (None for members no longer training); `on_step(StepProgress)`
    inside each epoch, about every half second, and once more before the epoch's
    evaluation. Ctrl-C stops cleanly, within about half a second of steps: the
    interrupted epoch is dropped and the members still training end with status
    "interrupted". A member whose loss or weights become non-finite diverges;
    `diverged_rule(history so far)` may say why a member with finite numbers has
    diverged too (the caller's policy: see analysis.status.divergence_rule).
    Each Outcome's compile_seconds says how much of the time went to compiling. `hooks` (Hooks):
    between epochs, callers may set learning rates, read weights and gradients, stop members.
    `threads`: how many parts train side by side (default: engine.parts.member_threads); the same numbers.
    """
    t0 = time.time()
    regularized = regularized_variables(members)
    if compiled is None or compiled.regularized != regularized:
        compiled = Compiled(program, data.info.num_classes, regularized)
    run = _Run(program, members, data, compiled, diverged_rule, on_step, tuple(hooks), threads)
    try:
        with run.interrupt:
            for epoch in range(1, program.epochs + 1):
                run.interrupt.check()
                run.epoch(epoch, on_epoch)
                if not run.training.any():
                    break
    except KeyboardInterrupt:
        for i in np.flatnonzero(run.training):
            run.status[i] = "interrupted"
    try:
        return run.outcomes(COMPILE_CLOCK.seconds(t0))
    finally:
        run.parts.close()
