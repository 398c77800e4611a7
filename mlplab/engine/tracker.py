"""Each member's standing across epochs (is it training, its status, its best epoch and early
stopping's count) as a value, and the pure functions that move it on by one epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .program import EarlyStopping

NON_FINITE = "the loss or the weights became NaN/infinite"


@dataclass(frozen=True)
class Tracker:
    """Per member: training or not, status (ok | stopped | diverged | interrupted), why it diverged,
    the best value of the monitor so far (signed: lower is better), its epoch (1-based), and epochs
    since it improved. `monitor`: early stopping's, else val_loss (loss without validation rows)."""
    monitor: str
    sign: float
    early_stopping: EarlyStopping | None
    training: np.ndarray
    status: tuple[str, ...]
    how: tuple[str | None, ...]
    best_value: np.ndarray
    best_epoch: tuple[int | None, ...]
    wait: np.ndarray


def start(members: int, early_stopping: EarlyStopping | None, validation: bool) -> Tracker:
    monitor = early_stopping.monitor if early_stopping else ("val_loss" if validation else "loss")
    return Tracker(monitor, -1.0 if monitor.endswith("accuracy") else 1.0, early_stopping,
                   np.ones(members, bool), ("ok",) * members, (None,) * members,
                   np.full(members, np.inf), (None,) * members, np.zeros(members, int))


def judge(t: Tracker, epoch: int, records: list[dict | None], diverged: list[str | None]) -> tuple[Tracker, np.ndarray]:
    """The tracker after `epoch`, given each training member's record and why it diverged (None: it
    did not), and which members improved on their best. A member that diverges stops; one that has not
    improved for `patience` epochs stops (Keras' rule: not after the first epoch)."""
    es = t.early_stopping
    status, how, best_epoch = list(t.status), list(t.how), list(t.best_epoch)
    best_value, wait, training = t.best_value.copy(), t.wait.copy(), t.training.copy()
    improved = np.zeros(len(status), bool)
    for i in np.flatnonzero(t.training):
        if diverged[i] is not None:
            status[i], how[i], training[i] = "diverged", diverged[i], False
            continue
        value = t.sign * records[i][t.monitor]
        if math.isfinite(value) and value < best_value[i] - (es.min_delta if es else 0.0):
            best_value[i], best_epoch[i], wait[i], improved[i] = value, epoch, 0, True
        elif es:
            wait[i] += 1
            if wait[i] >= es.patience and epoch > 1:
                status[i], training[i] = "stopped", False
    return replace(t, training=training, status=tuple(status), how=tuple(how), best_value=best_value,
                   best_epoch=tuple(best_epoch), wait=wait), improved


def stop(t: Tracker, members, status: str = "stopped") -> Tracker:
    """The tracker with `members` that are still training stopped, with `status`."""
    members = [i for i in members if t.training[i]]
    training, statuses = t.training.copy(), list(t.status)
    for i in members:
        training[i], statuses[i] = False, status
    return replace(t, training=training, status=tuple(statuses))
