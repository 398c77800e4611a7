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

from . import backend as _backend  # noqa: F401
import jax.numpy as jnp
import numpy as np

from . import probe, tracker
from .callbacks import Callback, CallbackList
from .schedules import learning_rate
from ..data import Dataset
from .inference import as_probabilities
from .layout import Layout
from .parts import Parts, member_threads
from .program import Compiled, Member, Outcome, Program, StackSteps, regularized_variables
from .progress import COMPILE_CLOCK, DeferredInterrupt, Pace, StepProgress
from .rows import epoch_batches, evaluation_rows

SPLITS = ("train", "val", "test")


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
            run.state[p]["trainable"], run.state[p]["non_trainable"], run.consts[p]["reg"], *run.feed.probe_rows)))
        return [[g[i] for g in grads] for i in range(len(run.members))]


@dataclass(frozen=True)
class Feed:
    """A population's data on device: the training rows, the rows evaluated after each epoch
    (engine.rows.evaluation_rows), the probe rows of the statistics, the splits that have rows."""
    x: object
    y: object
    eval_rows: tuple
    probe_rows: tuple
    splits: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.x)


def feed_of(data: Dataset) -> Feed:
    rows = np.random.default_rng(1).permutation(len(data.x_train))[:probe.PROBE_ROWS]
    return Feed(jnp.asarray(data.x_train), jnp.asarray(data.y_train), evaluation_rows(data),
                (jnp.asarray(data.x_train[rows]), jnp.asarray(data.y_train[rows])),
                tuple(s for s, rows in zip(SPLITS, (1, len(data.x_val), 1)) if rows))


def _weights(state: dict) -> dict:
    return {"trainable": state["trainable"], "non_trainable": state["non_trainable"]}


def _initial_state(steps: StackSteps, members: list[Member]) -> tuple[dict, dict]:
    """(consts, state) of a population: hyperparameters and L1/L2 factors, stacked weights."""
    P = len(members)
    hyper = {k: jnp.asarray(np.array([m.hyper[k] for m in members], "float32")) for k in members[0].hyper}
    reg = np.asarray([m.regularization for m in members], "float32").reshape(P, -1, 2)  # (P, variables, 2)
    consts = {"hyper": hyper, "reg": ([jnp.asarray(c) for c in reg[:, :, 0].T], [jnp.asarray(c) for c in reg[:, :, 1].T])}
    trainable = [jnp.asarray(np.stack(w)) for w in zip(*(m.trainable for m in members))]
    non_trainable = [jnp.asarray(np.stack(w)) for w in zip(*(m.non_trainable for m in members))]
    zeros = jnp.asarray(np.zeros(P, "float32"))
    opt = steps.init(trainable, hyper)
    return consts, {"trainable": trainable, "non_trainable": non_trainable, "opt": opt,
                    "loss_sum": zeros, "correct": zeros, "seen": zeros}


class _Run:
    """One population's training: its data on device (Feed), its device state, and per member its
    history, statistics and standing (engine.tracker).

    The device state is kept per part (engine.parts): `state`, `consts` and `best` are lists with one
    entry per part, whose arrays hold that part's members on axis 0."""

    def __init__(self, program: Program, members: list[Member], data: Dataset, compiled: Compiled,
                 callbacks: CallbackList, threads: int | None = None):
        self.program, self.members, self.compiled, self.callbacks = program, members, compiled, callbacks
        self.interrupt, self.pace, self.epoch_seconds = DeferredInterrupt(), Pace(), []
        self.feed = feed = feed_of(data)
        P = len(members)
        self.parts = Parts([int(m.hyper.get("kind", 0)) for m in members], threads or member_threads(compiled.layout, P),
                           len(program.optimizers))
        # vectorized members with one seed see the same batches (their shuffle streams are equal),
        # so they share each batch: one wide first-layer matmul instead of P small ones
        self.shared = compiled.shares_batches and self.parts.size > 1 and len({m.seed for m in members}) == 1
        self.steps = compiled.steps(self.parts.counts, self.shared)
        starts = [_initial_state(self.steps, [members[i] for i in part])
                  for part in self.parts.members]
        self.consts, self.state = [c for c, _ in starts], [s for _, s in starts]
        self.zeros = [s["seen"] for s in self.state]   # each part's running sums at an epoch's start, on device
        self.best = None  # the best epoch's weights per part (restore_best only)
        self.tracker = tracker.start(P, program.early_stopping, "val" in feed.splits)
        self.histories: list[dict[str, list[float]]] = [dict() for _ in range(P)]
        self.described = probe.describe(program.model)   # weight and layer names, for every epoch's stats
        self.stats: list[dict[str, list]] = [{} for _ in range(P)]
        self.seconds = np.zeros(P)
        self.record_stats(0, self.state, self.tracker.training)

    def each(self, fn) -> list:
        """fn(state, consts) of every part, side by side."""
        return self.parts.each(lambda p: fn(self.state[p], self.consts[p]))

    def record_stats(self, epoch: int, previous: list[dict], who: np.ndarray) -> None:
        """The probe's statistics after `epoch`; previous: the parts' states at the epoch's start."""
        probe_ = self.compiled.probe
        values = self.parts.gather(self.parts.each(lambda p: probe_(
            self.state[p]["trainable"], self.state[p]["non_trainable"], previous[p]["trainable"],
            self.consts[p]["reg"], *self.feed.probe_rows)))
        for i in np.flatnonzero(who):
            self.stats[i].setdefault("epoch", []).append(epoch)
            for k, v in values.items():
                self.stats[i].setdefault(k, []).append([None if np.isnan(x) else float(x) for x in v[i]])

    def run_epoch(self, epoch: int, t0: float) -> None:
        """Every batch of one epoch: the full batches in segments of about half a second (progress
        between them), then a short last one. The state changes only if the whole epoch ran."""
        steps_, consts, x, y, parts, n = self.steps, self.consts, self.feed.x, self.feed.y, self.parts, self.feed.n
        cut = self.epoch_batches(epoch)
        state = [{**s, "loss_sum": z, "correct": z, "seen": z} for s, z in zip(self.state, self.zeros)]
        steps = cut[0][0].shape[-2]
        total = steps + (cut[0][2] is not None)
        done = count = 0
        while done < steps:
            count = self.pace.next(steps - done, count, self.compiled.layout.steps.multiple)
            t = time.time()
            # the host waits for every part here, so Ctrl-C is seen between segments
            state = parts.each(lambda p: steps_.advance(state[p], consts[p], x, y, *cut[p][:2], done, count))
            self.pace.measured(count, time.time() - t, COMPILE_CLOCK.seconds(t))
            self.interrupt.check()   # Ctrl-C: the epoch is dropped
            done += count
            self.report(epoch, t0, done, total, min(done * self.program.batch_size, n))
        if steps < total:
            state = parts.each(lambda p: steps_.last_step(state[p], consts[p], x, y, *cut[p][2:]))
            self.report(epoch, t0, total, total, n)
        self.state = state

    def epoch_batches(self, epoch: int) -> list[list]:
        """Per part, this epoch's (batches, weights, last batch's rows, its weights) on device (the last two
        None without a short last batch): (P, steps, B) and (P, rest), or one row order for every member of
        every part, (steps, B) and (rest,), when the members share their batches."""
        def of(members):
            (order, weight), last = epoch_batches(members, self.feed.n, self.program.batch_size, epoch,
                                                  self.program.shuffle, self.compiled.layout.pad_last_batch)
            return [None if a is None else jnp.asarray(a[0] if self.shared else a)
                    for a in (order, weight, *(last or (None, None)))]
        if self.shared:
            return [of(self.members[:1])] * len(self.parts)
        return [of([self.members[i] for i in part]) for part in self.parts.members]

    def report(self, epoch: int, t0: float, step: int, steps: int, samples: int, phase: str = "training") -> None:
        self.callbacks.on_step(StepProgress(
            epoch=epoch, epochs=self.program.epochs, step=step, steps=steps, samples=samples, rows=self.feed.n,
            members=len(self.members), seconds=time.time() - t0, compile_seconds=COMPILE_CLOCK.seconds(t0),
            phase=phase, epoch_seconds=float(np.mean(self.epoch_seconds)) if self.epoch_seconds else None))

    def metrics(self) -> tuple[dict[str, np.ndarray], list[str | None]]:
        """This epoch's metrics per member (running, and inference mode per split) and why each
        diverged (None: it did not): non-finite numbers, or what the callbacks' rule says."""
        evaluate, eval_rows = self.compiled.evaluate, self.feed.eval_rows
        losses, accuracies, _, finite = self.parts.gather(self.each(
            lambda state, consts: evaluate(state["trainable"], state["non_trainable"], consts["reg"], *eval_rows)))
        running = self.parts.gather([{k: s[k] for k in ("seen", "loss_sum", "correct")} for s in self.state])
        seen = np.maximum(running["seen"], 1)
        metrics = {"loss": running["loss_sum"] / seen, "accuracy": running["correct"] / seen}
        for j, split in enumerate(SPLITS):
            if split in self.feed.splits:
                metrics[f"{split}_loss"], metrics[f"{split}_accuracy"] = losses[:, j], accuracies[:, j]
        finite = np.isfinite(metrics["loss"]) & np.asarray(finite)
        why: list[str | None] = [None if ok else tracker.NON_FINITE for ok in finite]
        for i in np.flatnonzero(self.tracker.training & finite):
            why[i] = self.callbacks.diverged({k: [*self.histories[i].get(k, []), float(v[i])]
                                              for k, v in metrics.items()})
        return metrics, why

    def record(self, metrics: dict, seconds: float) -> list[dict | None]:
        """The epoch in each training member's history: its records (None for the others)."""
        records: list[dict | None] = [None] * len(self.members)
        for i in np.flatnonzero(self.tracker.training):
            records[i] = rec = {**{k: float(v[i]) for k, v in metrics.items()}, "seconds": seconds}
            for k, v in rec.items():
                self.histories[i].setdefault(k, []).append(v)
            self.seconds[i] += seconds
        return records

    def settle(self, start: list[dict], kept: np.ndarray, improved: np.ndarray) -> None:
        """Keep the best weights (restore_best); members not `kept` (they stopped before this epoch, or
        diverged in it) go back to where they were."""
        es = self.program.early_stopping
        if es and es.restore_best:
            current = [_weights(s) for s in self.state]
            self.best = current if self.best is None else self.select(improved, current, self.best)
        if not kept.all():
            self.state = self.select(kept, self.state, start)

    def select(self, mask: np.ndarray, new: list, old: list) -> list:
        """Per part, per member: `new` where `mask` (one value per member) else `old`."""
        return [self.steps.select(jnp.asarray(m), a, b)
                for m, a, b in zip(self.parts.cut(mask), new, old)]

    def schedule(self, epoch: int) -> np.ndarray | None:
        """Each member's learning rate for this epoch (its schedule's, then the callbacks'), set in the
        program's data; None when every member trains at its optimizer's rate."""
        if all(m.schedule is None for m in self.members) and not self.callbacks.sets_learning_rates:
            return None
        rates = np.array([learning_rate(m.schedule or {"name": "constant"}, m.hyper["learning_rate"], epoch,
                                        self.program.epochs, self.histories[i])
                          for i, m in enumerate(self.members)])
        rates = self.callbacks.learning_rates(epoch, rates)
        self.consts = [{**consts, "hyper": {**consts["hyper"], "learning_rate": jnp.asarray(lr)}}
                       for consts, lr in zip(self.consts, self.parts.cut(rates.astype("float32")))]
        return rates

    def epoch(self, epoch: int) -> None:
        t0, start = time.time(), self.state
        rates = self.schedule(epoch)
        self.run_epoch(epoch, t0)
        if self.interrupt.pending:   # Ctrl-C during the last steps: the epoch is dropped, its steps too
            self.state = start
            self.interrupt.check()
        steps = math.ceil(self.feed.n / self.program.batch_size)
        self.report(epoch, t0, steps, steps, self.feed.n, phase="evaluating")
        metrics, diverged = self.metrics()
        if rates is not None:   # the rate each epoch trained with, in the history (as Keras' callbacks log it)
            metrics["learning_rate"] = rates
        self.record_stats(epoch, start, self.tracker.training)
        seconds = time.time() - t0
        self.epoch_seconds.append(seconds - COMPILE_CLOCK.seconds(t0))
        records = self.record(metrics, seconds)
        kept = self.tracker.training & np.array([why is None for why in diverged])
        self.tracker, improved = tracker.judge(self.tracker, epoch, records, diverged)
        self.settle(start, kept, improved)
        stopped = self.callbacks.on_epoch_end(epoch, records, EpochView(self))
        self.tracker = tracker.stop(self.tracker, stopped)

    def epochs(self) -> None:
        """Every epoch, until no member trains; Ctrl-C: the members still training are interrupted."""
        try:
            with self.interrupt:
                for epoch in range(1, self.program.epochs + 1):
                    self.interrupt.check()
                    self.epoch(epoch)
                    if not self.tracker.training.any():
                        break
        except KeyboardInterrupt:
            self.tracker = tracker.stop(self.tracker, range(len(self.members)), "interrupted")

    def outcomes(self, compile_seconds: float = 0.0) -> list[Outcome]:
        """The weights each member ends with: its best epoch's when restoring, else its last good
        ones (analysis.status.result_epoch); the result is measured on exactly those weights."""
        ends, t = [_weights(s) for s in self.state], self.tracker
        if self.best is not None:
            ends = self.select(np.array([b is not None for b in t.best_epoch]), self.best, ends)
        evaluate, eval_rows = self.compiled.evaluate, self.feed.eval_rows

        def final(p):
            losses, accuracies, probs, _ = evaluate(ends[p]["trainable"], ends[p]["non_trainable"],
                                                    self.consts[p]["reg"], *eval_rows)
            return {**ends[p], "probs": probs, "losses": losses, "accuracies": accuracies}
        final = self.parts.gather(self.parts.each(final))
        return [Outcome(history=h, status=t.status[i], epochs_run=len(h.get("loss", [])), best_epoch=t.best_epoch[i],
                        trainable=[w[i] for w in final["trainable"]],
                        non_trainable=[w[i] for w in final["non_trainable"]],
                        test_probabilities=as_probabilities(final["probs"][i]).astype("float32"),
                        seconds=float(self.seconds[i]), stats={**self.described, **self.stats[i]},
                        result={f"{split}_{kind}": float(final[key][i, j]) for j, split in enumerate(SPLITS)
                                if split in self.feed.splits
                                for kind, key in (("loss", "losses"), ("accuracy", "accuracies"))},
                        diverged_how=t.how[i] if t.status[i] == "diverged" else None,
                        compile_seconds=compile_seconds)
                for i, h in enumerate(self.histories)]


def train(program: Program, members: list[Member], data: Dataset, callbacks: list[Callback] | tuple = (),
          compiled: Compiled | None = None, layout: Layout | None = None, threads: int | None = None) -> list[Outcome]:
    """Train every member of one program together; one Outcome per member.

    `callbacks` (engine.callbacks.Callback): progress inside each epoch, about every half second
    (on_step); each member's learning rate (learning_rates); the caller's divergence rule (diverged);
    after each epoch the members' records and an EpochView, and members to stop (on_epoch_end).
    Ctrl-C stops cleanly, within about half a second of steps: the interrupted epoch is dropped and
    the members still training end with status "interrupted". A member whose loss or weights become
    non-finite diverges. Each Outcome's compile_seconds says how much of the time went to compiling.
    `compiled`: the program's compiled functions, when the caller keeps them (built for `layout`,
    default engine.layout.choose). `threads`: how many parts train side by side (default:
    engine.parts.member_threads); the same numbers.
    """
    t0 = time.time()
    regularized = regularized_variables(members)
    if compiled is None or compiled.regularized != regularized:
        compiled = Compiled(program, data.info.num_classes, regularized, layout)
    callbacks = CallbackList(callbacks)
    try:
        run = _Run(program, members, data, compiled, callbacks, threads)
        try:
            run.epochs()
            return run.outcomes(COMPILE_CLOCK.seconds(t0))
        finally:
            run.parts.close()
    finally:
        callbacks.on_train_end()
