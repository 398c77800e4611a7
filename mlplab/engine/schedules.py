"""Learning-rate schedules per epoch: the learning rate of each epoch, from the schedule's settings
(spec.Schedule.settings, names and defaults in catalog.SCHEDULES), the optimizer's learning rate and
the history so far. Pure functions: the engine asks them on the host before each epoch and feeds
each member's rate to the compiled program as data, so a sweep over schedules stays one program.

    exponential  lr x decay_rate^(epoch-1)
    step         lr x factor^floor((epoch-1) / every)
    cosine       lr x ((1-alpha) x (1 + cos(pi (epoch-1) / epochs)) / 2 + alpha)   (Keras' CosineDecay)
    plateau      keras.callbacks.ReduceLROnPlateau, epoch for epoch
"""
from __future__ import annotations

import math


def learning_rate(schedule: dict, base: float, epoch: int, epochs: int, history: dict[str, list[float]]) -> float:
    """The learning rate of epoch `epoch` (1-based) of `epochs`; `history`: the epochs before it."""
    name, e = schedule["name"], epoch - 1
    if name == "exponential":
        return base * schedule["decay_rate"] ** e
    if name == "step":
        return base * schedule["factor"] ** (e // schedule["every"])
    if name == "cosine":
        alpha = schedule["alpha"]
        return base * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * e / epochs)) + alpha)
    if name == "plateau":
        return plateau(schedule, base, history.get(schedule["monitor"], []))
    return base


def plateau(schedule: dict, base: float, values: list[float]) -> float:
    """ReduceLROnPlateau's learning rate after seeing `values` (one per epoch), Keras' rule: the
    rate is multiplied by `factor` (not below min_lr) when the monitored value has not improved by
    more than min_delta for `patience` epochs, then waits `cooldown` epochs before counting again."""
    maximize = "accuracy" in schedule["monitor"]
    best, wait, cooldown, lr = (-math.inf if maximize else math.inf), 0, 0, base
    for value in values:
        if cooldown > 0:
            cooldown, wait = cooldown - 1, 0
        better = value > best + schedule["min_delta"] if maximize else value < best - schedule["min_delta"]
        if better:
            best, wait = value, 0
        elif cooldown <= 0:
            wait += 1
            if wait >= schedule["patience"] and lr > schedule["min_lr"]:
                lr, cooldown, wait = max(lr * schedule["factor"], schedule["min_lr"]), schedule["cooldown"], 0
    return lr
