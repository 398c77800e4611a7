"""What a caller may do while the engine trains: one list of callbacks, each with every method
(Keras' CallbackList shape), the methods a callback does not need left as the no-ops below.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


class Callback:
    """Override what you need; engine.train calls every method of every callback, in list order."""

    def on_step(self, progress) -> None:
        """Inside an epoch, about every half second, and once more before the epoch's evaluation
        (engine.progress.StepProgress)."""

    def learning_rates(self, epoch: int, rates: np.ndarray) -> np.ndarray | None:
        """Each member's learning rate for the epoch about to run, given the rates its schedule says
        (the optimizer's without one): the rates to use, or None to leave them."""
        return None

    def diverged(self, history: dict[str, list[float]]) -> str | None:
        """Why a member whose numbers are all finite has diverged (its history so far), or None
        (the caller's policy: analysis.status.divergence_rule)."""
        return None

    def on_epoch_end(self, epoch: int, records: list[dict | None], view) -> list[int] | None:
        """After each epoch: records, one metrics dict per member (None for members no longer
        training); view: engine.train.EpochView (weights, gradients, statistics on demand).
        Returns the members to stop (status "stopped"), or None."""
        return None

    def on_train_end(self) -> None:
        """After training, whatever its end (files to close)."""


class CallbackList(Callback):
    """Several callbacks as one: learning rates pass through each in turn, the first reason for
    divergence wins, members to stop are the union."""

    def __init__(self, callbacks=()):
        self.callbacks = list(callbacks)

    @property
    def sets_learning_rates(self) -> bool:
        return any(type(c).learning_rates is not Callback.learning_rates for c in self.callbacks)

    def on_step(self, progress):
        for c in self.callbacks:
            c.on_step(progress)

    def learning_rates(self, epoch, rates):
        for c in self.callbacks:
            chosen = c.learning_rates(epoch, rates)
            rates = rates if chosen is None else np.asarray(chosen, "float64")
        return rates

    def diverged(self, history):
        return next((how for c in self.callbacks if (how := c.diverged(history)) is not None), None)

    def on_epoch_end(self, epoch, records, view):
        stop: list[int] = []
        for c in self.callbacks:
            stop += c.on_epoch_end(epoch, records, view) or []
        return stop

    def on_train_end(self):
        for c in self.callbacks:
            c.on_train_end()


class LambdaCallback(Callback):
    """A callback from plain functions: on_epoch(epoch, records), on_step(progress), diverged(history)."""

    def __init__(self, on_epoch: Callable | None = None, on_step: Callable | None = None,
                 diverged: Callable | None = None):
        self._epoch, self._step, self._diverged = on_epoch, on_step, diverged

    def on_step(self, progress):
        if self._step:
            self._step(progress)

    def diverged(self, history):
        return self._diverged(history) if self._diverged else None

    def on_epoch_end(self, epoch, records, view):
        if self._epoch:
            self._epoch(epoch, records)
        return None
