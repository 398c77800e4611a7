"""Which swept keys matter: each key's share of the ranking metric's variance over a sweep's configurations.

    imp = importance(rows, keys, "val_accuracy")     # rows: the sweep table's, best first
    imp.keys[0].key, imp.keys[0].share                # the key that explains most, and how much (0..1)
    imp.note                                          # why the numbers may not say much, or None

The estimate is fANOVA's first-order main effect (Hutter, Hoos & Leyton-Brown 2014) computed on the
sweep's own configurations, with no surrogate model: for each key, group the configurations by its
value and take the variance of the group means (weighted by group size) over the total variance,
i.e. the correlation ratio eta^2 = SS_between / SS_total. On a full grid (what most sweeps are)
that is exactly fANOVA's first-order component of the function the grid tabulates; what the keys'
shares leave (`rest`) is their interactions (and, with repeats averaged in, what noise is left).
A permutation importance from a random forest (scikit-learn is at hand) was not used: a sweep has
8-50 configurations, where a forest's estimate changes with its seed, while group means are exact,
deterministic and read the same in the table.

The metric is the sweep's ranking metric (analysis.status.rank: validation accuracy, else test
accuracy), the mean over each configuration's repeats. A configuration without a finite value (it
diverged in its first epoch) ranks last, so it counts here as the worst value seen. A numeric key
tried at so many values that some value has a single configuration (a random sweep) is grouped
into equal-count ranges (at most MAX_BINS). Any grouping of n configurations into k groups explains
(k-1)/(n-1) of the variance on average by chance alone (`chance`); a share near it says nothing.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

MIN_CONFIGS = 8       # fewer configurations: too few to say which key matters
MIN_PER_LEVEL = 2     # configurations per value of a key, below which its share is luck
MAX_BINS = 4          # ranges a numeric key with single-configuration values is grouped into
INTERACTING = 0.5     # the share no key explains alone from which the note says the keys interact
LOG_RATIO = 10        # a positive numeric key spanning this factor or more is read on a log scale


def value_id(v) -> str:
    """A hashable identity of a swept value (values may be lists or tables)."""
    return json.dumps(v, sort_keys=True, default=str)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def scale(values: list) -> str:
    """How a key's values are laid out: "log" (positive numbers over 10x or more: learning rates),
    "linear" (other numbers) or "categorical" (names, tables, lists, booleans, or a mix)."""
    if not values or not all(is_number(v) for v in values):
        return "categorical"
    lo, hi = min(values), max(values)
    return "log" if lo > 0 and hi / lo >= LOG_RATIO else "linear"


def levels(values: list) -> tuple[list[int], bool]:
    """The group of each value (its distinct value's index, in first-seen order), and whether a
    numeric key was grouped into equal-count ranges because some value occurs only once."""
    if not values:
        return [], False
    ids = [value_id(v) for v in values]
    index: dict[str, int] = {}
    groups = [index.setdefault(i, len(index)) for i in ids]
    counts = np.bincount(groups)
    if scale(values) == "categorical" or counts.min() >= MIN_PER_LEVEL or len(index) <= 2:
        return groups, False
    n = len(values)
    k = max(2, min(MAX_BINS, n // MIN_PER_LEVEL))
    order = sorted(range(n), key=lambda i: values[i])
    bin_of: dict[str, int] = {}
    for position, i in enumerate(order):
        bin_of.setdefault(ids[i], position * k // n)   # ties stay together: a value's first position
    return [bin_of[i] for i in ids], True


@dataclass(frozen=True)
class KeyImportance:
    key: str
    share: float          # 0..1: the variance of the metric its groups' means explain
    chance: float         # the share a key with no effect gets on average with this many groups
    groups: int           # values (or ranges) it was grouped by
    smallest: int         # configurations in its smallest group
    binned: bool          # a numeric key grouped into ranges
    scale: str            # "log", "linear", "categorical"

    @property
    def informative(self) -> bool:
        """Ahead of chance with every group holding MIN_PER_LEVEL configurations."""
        return self.smallest >= MIN_PER_LEVEL and self.share > self.chance


@dataclass(frozen=True)
class Importance:
    metric: str
    n: int                        # configurations
    keys: list[KeyImportance]     # most important first
    rest: float                   # what no single key explains: interactions (and noise)
    note: str | None              # why the estimate may not say much

    def as_dict(self) -> dict:
        return {"metric": self.metric, "configurations": self.n, "rest": self.rest, "note": self.note,
                "keys": [{**k.__dict__, "informative": k.informative} for k in self.keys]}


def metric_values(rows: list[dict], metric: str) -> tuple[np.ndarray, int]:
    """The metric per row, a non-finite one replaced by the worst finite value (it ranks last);
    and how many were replaced."""
    y = np.asarray([float(r[metric]) if is_number(r.get(metric)) else math.nan for r in rows], float)
    missing = int((~np.isfinite(y)).sum())
    if missing and missing < len(y):
        y[~np.isfinite(y)] = np.nanmin(y)
    return y, missing


def share_of(y: np.ndarray, groups: list[int]) -> float:
    """SS_between / SS_total of `y` grouped by `groups` (0 when every value is the same)."""
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0:
        return 0.0
    g = np.asarray(groups)
    between = sum(float((g == j).sum()) * (float(y[g == j].mean()) - float(y.mean())) ** 2 for j in set(groups))
    return between / total


def importance(rows: list[dict], keys: list[str], metric: str) -> Importance:
    """Each swept key's first-order share of `metric`'s variance over the configurations (see the module)."""
    y, missing = metric_values(rows, metric)
    n = len(rows)
    found = []
    for key in keys:
        values = [(r.get("values") or {}).get(key) for r in rows]
        groups, binned = levels(values)
        k = len(set(groups))
        found.append(KeyImportance(
            key, share_of(y, groups) if n and missing < n else 0.0, (k - 1) / (n - 1) if n > 1 else 1.0, k,
            int(np.bincount(groups).min()) if groups else 0, binned, scale(values)))
    found.sort(key=lambda k: -k.share)
    rest = max(0.0, 1.0 - sum(k.share for k in found)) if n and np.ptp(y) > 0 else 0.0
    return Importance(metric, n, found, rest, importance_note(found, n, missing, y, metric, rest))


def importance_note(found: list[KeyImportance], n: int, missing: int, y: np.ndarray, metric: str,
                    rest: float = 0.0) -> str | None:
    """Why the shares may not say much: too few configurations, values tried once, diverged rows,
    most of the variance in no single key (the keys interact)."""
    words = metric.replace("_", " ").replace("val ", "validation ")
    notes = []
    if n < MIN_CONFIGS:
        notes.append(f"only {n} configuration{'s' if n != 1 else ''}: too few to say which key matters "
                     f"(at least {MIN_CONFIGS}, with {MIN_PER_LEVEL} per value of each key)")
    thin = [k.key for k in found if k.smallest < MIN_PER_LEVEL]
    if thin and n >= MIN_CONFIGS:
        notes.append(f"{', '.join(thin)}: a value tried by a single configuration, so its share is partly luck")
    if missing == n and n:
        notes.append(f"no configuration has a finite {words}")
    elif n and np.ptp(y) == 0:
        notes.append(f"every configuration has the same {words}: no key explains anything")
    elif missing:
        notes.append(f"{missing} configuration{'s' if missing > 1 else ''} without a finite {words} "
                     "(diverged) counted as the worst value")
    if rest >= INTERACTING:
        notes.append(f"{100 * rest:.0f} % of the variance is explained by no key alone: the keys interact (the "
                     "best value of one depends on another's, e.g. the learning rate on the optimizer), or it is noise")
    return "; ".join(notes) or None
