"""A spec's [sweep] section -> the configurations it stands for, each a list of experiments.

    [sweep]
    grid = { "train.optimizer" = ["sgd", "adam"], "train.learning_rate" = [0.001, 0.01, 0.1] }
    random = { n = 8, "train.learning_rate" = { log_uniform = [1e-4, 1e-1] }, "model.dropout" = { uniform = [0, 0.5] } }
    variants = { small = { "model.hidden" = [32] }, cnn = { "model.layers" = [...] } }   # named, hand-picked
    repeats = 3          # seeds per configuration: seed, seed+1, ...
    folds = 5            # k-fold cross-validation on the training rows (as GridSearchCV)

Every configuration is an ordinary experiment; training.sweeps trains them.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadInput
from .files import load_raw, set_dotted
from .messages import did_you_mean, show
from .schema import Experiment, validate

# load_raw is spec.files' reader, named here too: the CLI reads a sweep's spec with it
__all__ = ["DISTRIBUTIONS", "Config", "expand", "fmt", "load_raw", "points", "short"]

DISTRIBUTIONS = ("uniform", "log_uniform", "choice")
VARIANT = "variant"   # the swept key of named variants: its value is a variant's name
KEYS = ("grid", "random", "variants", "repeats", "folds", "memory_gb")   # what a [sweep] takes
MAX_RUNS = 10_000   # runs one sweep may ask for, each one stored: more is a typo (n = 1000000) or several sweeps


@dataclass
class Config:
    """One point of the sweep: the values of the keys that vary, and its experiments."""
    values: dict[str, Any]
    experiments: list[Experiment]


def _check_list(where: str, values: Any) -> list:
    if not isinstance(values, list) or not values:
        raise BadInput(f"{where} = {values!r}: expected a non-empty list of values, e.g. [0.001, 0.01]")
    return values


def _sampler(where: str, dist: Any):
    """A distribution -> (draw(rng), probes): probes are (what, value) pairs that stand for every draw,
    validated before any draw (the ends of a range, and a value inside it that is not whole)."""
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        raise BadInput(f"{where} = {show(dist)}: expected one of {{ uniform = [low, high] }}, "
                       "{ log_uniform = [low, high] }, { choice = [a, b, ...] }")
    kind, arg = next(iter(dist.items()))
    if kind == "choice":
        values = _check_list(f"{where}.choice", arg)
        return (lambda rng: values[int(rng.integers(len(values)))]), [(f"the choice {show(v)}", v) for v in values]
    if (not isinstance(arg, list) or len(arg) != 2 or not all(isinstance(a, (int, float)) for a in arg)
            or isinstance(arg[0], bool) or isinstance(arg[1], bool)
            or arg[0] >= arg[1] or (kind == "log_uniform" and arg[0] <= 0)):
        raise BadInput(f"{where}.{kind} = {show(arg)}: expected [low, high] with low < high"
                       + (" and low > 0" if kind == "log_uniform" else ""))
    low, high = float(arg[0]), float(arg[1])
    to, back = (lambda v: v, lambda v: v) if kind == "uniform" else (math.log, math.exp)
    probes = [(f"draws from {value_text(low)}", low), (f"draws up to {value_text(high)}", math.nextafter(high, low)),
              ("draws that are not whole numbers", back(to(low) + (to(high) - to(low)) / math.pi))]
    return (lambda rng: float(back(rng.uniform(to(low), to(high))))), probes


def _variants(sweep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """sweep.variants: name -> its dotted overrides ({} when there are none)."""
    variants = sweep.get("variants") or {}
    if not isinstance(variants, dict):
        raise BadInput(f"sweep.variants = {variants!r}: expected a table of names to tables of dotted keys, "
                       "e.g. { small = { \"model.hidden\" = [32] } }")
    for name, overrides in variants.items():
        if not isinstance(overrides, dict) or not overrides:
            raise BadInput(f"sweep.variants.{name} = {overrides!r}: expected a non-empty table of dotted keys, "
                           "e.g. { \"model.hidden\" = [32] }")
    return variants


def points(sweep: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The configurations: each named variant (if any) times the grid's cartesian product, each
    with `random.n` random draws."""
    grid = sweep.get("grid") or {}
    if not isinstance(grid, dict):
        raise BadInput(f"sweep.grid = {grid!r}: expected a table of dotted keys to lists")
    keys = list(grid)
    lists = [_check_list(f"sweep.grid.\"{k}\"", grid[k]) for k in keys]
    out = [dict(zip(keys, combo)) for combo in itertools.product(*lists)]
    if _variants(sweep):
        out = [{VARIANT: name, **point} for name in _variants(sweep) for point in out]
    random = sweep.get("random")
    if random:
        if not isinstance(random, dict) or not isinstance(random.get("n"), int) or random["n"] < 1:
            raise BadInput(f"sweep.random = {random!r}: expected {{ n = 8, \"key\" = {{ uniform = [a, b] }}, ... }}")
        samplers = {k: _sampler(f"sweep.random.\"{k}\"", v)[0] for k, v in random.items() if k not in ("n", "seed")}
        if not samplers:
            raise BadInput("sweep.random: no keys to draw; add e.g. \"train.learning_rate\" = { log_uniform = [1e-4, 1e-1] }")
        rng = np.random.default_rng(random.get("seed", seed))
        out = [{**point, **{k: draw(rng) for k, draw in samplers.items()}}
               for point in out for _ in range(random["n"])]
    return out


def expand(raw: dict[str, Any]) -> list[Config]:
    """Every configuration of the raw spec's [sweep], validated; one experiment per repeat and fold."""
    raw = copy.deepcopy(raw)
    sweep = raw.pop("sweep", None) or {}
    unknown = sorted(set(sweep) - set(KEYS))
    if unknown:
        raise BadInput(f"sweep.{unknown[0]}: unknown key; {did_you_mean(unknown[0], KEYS)}expected one of "
                       f"{', '.join(KEYS)}")
    repeats, folds = sweep.get("repeats", 1), sweep.get("folds", 0)
    if not _whole(repeats) or repeats < 1:
        raise BadInput(f"sweep.repeats = {show(repeats)}: expected a whole number >= 1")
    if not _whole(folds) or folds == 1 or folds < 0:
        raise BadInput(f"sweep.folds = {show(folds)}: expected 0 (off) or a whole number >= 2 "
                       "(and at most the training rows of the smallest class)")
    if not sweep.get("grid") and not sweep.get("random") and not sweep.get("variants"):
        given = [f"{k} = {show(sweep[k])}" for k in ("repeats", "folds") if k in sweep]
        raise BadInput("sweep: nothing to sweep; " + (f"{' and '.join(given)} applies to each configuration of a "
                                                      "grid, random draws or variants; " if given else "")
                       + "add e.g. grid = { \"train.learning_rate\" = [0.001, 0.01, 0.1] }")
    _check_size(sweep, repeats, folds)
    seed = raw.get("seed", 0) if _whole(raw.get("seed", 0)) else 0
    _check_random(raw, sweep)
    configs = []
    for values in points(sweep, seed):
        experiments = []
        for r in range(repeats):
            for fold in range(folds) if folds else [None]:
                one = _at(raw, sweep, values)
                one["seed"] = seed + r
                if fold is not None:
                    one.setdefault("data", {}).update({"folds": folds, "fold": fold})
                experiments.append(_validate(one, values))
        configs.append(Config(values, experiments))
    return configs


def _check_size(sweep: dict[str, Any], repeats: int, folds: int) -> None:
    """BadInput before anything is drawn or validated when the sweep asks for more than MAX_RUNS runs; the
    factors are counted, never listed (a malformed one counts 1: its own check names it)."""
    grid, variants, random = sweep.get("grid"), sweep.get("variants"), sweep.get("random")
    n = random.get("n") if isinstance(random, dict) else None
    factors = {"grid": math.prod(len(v) for v in grid.values() if isinstance(v, list)) if isinstance(grid, dict) else 1,
               "variants": len(variants) if isinstance(variants, dict) and variants else 1,
               "random.n": n if _whole(n) and n > 0 else 1, "repeats": repeats, "folds": max(folds, 1)}
    runs = math.prod(factors.values())
    if runs > MAX_RUNS:
        product = " x ".join(f"{k} {v:,}" for k, v in factors.items() if v > 1)
        raise BadInput(f"sweep: {runs:,} runs ({product}); a sweep trains at most {MAX_RUNS:,} runs, each one "
                       f"stored: shrink sweep.{max(factors, key=factors.get)}")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _at(raw: dict[str, Any], sweep: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the raw spec with one configuration's values set (a variant's overrides for its name)."""
    one = copy.deepcopy(raw)
    for key, value in values.items():
        for k, v in (_variants(sweep)[value].items() if key == VARIANT else [(key, value)]):
            set_dotted(one, k, v)
    return one


def _check_random(raw: dict[str, Any], sweep: dict[str, Any]) -> None:
    """Each random distribution's probes (its ends, its choices) validated before any draw, at the first
    configuration of the grid and variants: an error names the distribution as the user wrote it, not a draw."""
    random = sweep.get("random")
    if not isinstance(random, dict):
        return
    first = points({k: v for k, v in sweep.items() if k != "random"}, 0)[0]
    for key, dist in random.items():
        if key in ("n", "seed"):
            continue
        where = f"sweep.random.\"{key}\""
        for what, value in _sampler(where, dist)[1]:
            try:
                validate(_at(raw, sweep, {**first, key: value}))
            except BadInput as e:
                field, _, allowed = str(e).partition(": ")
                field = field.split(" = ")[0]
                if field.startswith(key) or key.startswith(field):   # else the spec is wrong elsewhere: said later
                    raise BadInput(f"{where} = {show(dist)}: {what}; {field}: {allowed}") from None


def _validate(raw: dict[str, Any], values: dict[str, Any]) -> Experiment:
    try:
        exp = validate(raw)
    except BadInput as e:
        field = str(e).split(" ", 1)[0].rstrip(":")
        swept = [k for k in values if field.startswith(k) or k.startswith(field)]
        where = f"sweep.\"{swept[0]}\"" if swept else f"sweep.variants.{values[VARIANT]}" if VARIANT in values else ""
        raise BadInput(f"{where}: {e}" if where else str(e)) from None
    exp.name = f"{exp.display_name} " + " ".join(f"{short(k)}={value_text(v)}" for k, v in values.items())
    return exp


def short(key: str) -> str:
    """"train.learning_rate" -> "learning_rate"; "model.init.stddev" -> "init.stddev"."""
    return key.split(".", 1)[1] if key.count(".") else key


def value_text(v: Any) -> str:
    """A swept value as a label: 0.001, "sgd", "random_normal(stddev=0.01)"."""
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):  # an initializer or optimizer table: its name and parameters
        params = ", ".join(f"{k}={value_text(x)}" for k, x in v.items() if k != "name")
        return f"{v.get('name', '')}({params})" if params else str(v.get("name", v))
    return str(v)


fmt = value_text  # the old name, until every caller says value_text

