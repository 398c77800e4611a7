"""A population in equal parts trained side by side, a thread each (engine.train keeps one state per part).

On CPU, XLA's runtime splits each small operation of a small dense population over the cores and leaves
them mostly waiting: measured on 2 cores, 48 digits MLPs took 2.6 ms a step as one program, 2.7 ms on one
core alone, and 1.5 ms as two programs of 24 members on two threads (bench/sweep.py). So such a population
trains as one part per core. The parts are alike, so one compiled program serves them all: each holds as
many members of each optimizer kind, in runs by kind (engine.program's `counts`), a kind's last part filled
up with repeats of its last member, whose numbers are dropped again.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from . import backend as _backend  # noqa: F401
import jax
import numpy as np

from .layout import Layout


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def member_threads(layout: Layout, size: int) -> int:
    """At most how many parts of a population of `size` train side by side: on CPU, one per core for a
    vectorized (small dense) population; else 1 (XLA's own threads keep the cores busy on larger work)."""
    if not layout.vectorize or jax.default_backend() != "cpu":
        return 1
    return max(1, min(size, _cores()))


def parts_of(kinds: list[int], most: int) -> list[np.ndarray]:
    """The members of each part, given each member's optimizer kind: at most `most` parts, as many as make
    the parts smallest, alike (see the module's text), a kind's members in order."""
    groups = [np.flatnonzero(np.asarray(kinds) == k) for k in sorted(set(kinds))]
    count = min(range(1, most + 1), key=lambda c: sum(-(-len(g) // c) for g in groups))
    quotas = [-(-len(g) // count) for g in groups]
    return [np.concatenate([g[np.minimum(np.arange(p * q, (p + 1) * q), len(g) - 1)] for g, q in zip(groups, quotas)])
            for p in range(count)]


class Parts:
    """Where each member of a population is (`members`: the parts' member indices), and running a function
    of the part on every part at once."""

    def __init__(self, kinds: list[int], most: int, optimizers: int):
        self.members = parts_of(kinds, most)
        self.counts = tuple(int(np.sum(np.asarray(kinds)[self.members[0]] == k)) for k in range(optimizers))
        self.where: dict[int, tuple[int, int]] = {}   # member -> (part, position): its first place, not a repeat
        for p, part in enumerate(self.members):
            for j, i in enumerate(part):
                self.where.setdefault(int(i), (p, j))
        # each member's row in the parts' rows laid end to end
        self.rows = [p * self.size + j for p, j in (self.where[i] for i in range(len(self.where)))]
        self.pool = ThreadPoolExecutor(len(self.members) - 1) if len(self.members) > 1 else None

    def __len__(self) -> int:
        return len(self.members)

    @property
    def size(self) -> int:
        """Members per part (repeats included)."""
        return len(self.members[0])

    def cut(self, values: np.ndarray) -> list[np.ndarray]:
        """A per-member array as the parts' arrays."""
        return [values[part] for part in self.members]

    def each(self, fn: Callable[[int], object]) -> list:
        """fn(part) for every part, side by side: the first part in this thread, the others on the pool's;
        each call waits for its device work, so the parts compute at the same time."""
        def call(p):
            return jax.block_until_ready(fn(p))
        later = [self.pool.submit(call, p) for p in range(1, len(self))] if self.pool else []
        first = call(0)
        return [first, *(f.result() for f in later)]

    def gather(self, results: list):
        """The parts' results (pytrees of per-member arrays on axis 0) as one of numpy arrays, a row per member."""
        return jax.tree.map(lambda *a: np.concatenate([np.asarray(v) for v in a])[self.rows], *results)

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
