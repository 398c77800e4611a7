"""A spec's [sweep] section -> the list of experiments it stands for, and the table that answers it.

    [sweep]
    grid = { "train.optimizer" = ["sgd", "adam"], "train.learning_rate" = [0.001, 0.01, 0.1] }
    random = { n = 8, "train.learning_rate" = { log_uniform = [1e-4, 1e-1] }, "model.dropout" = { uniform = [0, 0.5] } }
    repeats = 3          # seeds per configuration: seed, seed+1, ...
    folds = 5            # k-fold cross-validation on the training rows (as GridSearchCV)

Every configuration is an ordinary experiment; the runner trains those that
share a compiled program as one population.
"""
from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import BadInput, RunFailed
from .spec import Experiment, set_dotted, validate
from .status import combined, rank, status_of

DISTRIBUTIONS = ("uniform", "log_uniform", "choice")


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
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        raise BadInput(f"{where} = {dist!r}: expected one of {{ uniform = [low, high] }}, "
                       "{ log_uniform = [low, high] }, { choice = [a, b, ...] }")
    kind, arg = next(iter(dist.items()))
    if kind == "choice":
        values = _check_list(f"{where}.choice", arg)
        return lambda rng: values[int(rng.integers(len(values)))]
    if (not isinstance(arg, list) or len(arg) != 2 or not all(isinstance(a, (int, float)) for a in arg)
            or arg[0] >= arg[1] or (kind == "log_uniform" and arg[0] <= 0)):
        raise BadInput(f"{where}.{kind} = {arg!r}: expected [low, high] with low < high"
                       + (" and low > 0" if kind == "log_uniform" else ""))
    low, high = arg
    if kind == "uniform":
        return lambda rng: float(rng.uniform(low, high))
    return lambda rng: float(math.exp(rng.uniform(math.log(low), math.log(high))))


def points(sweep: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The configurations: the grid's cartesian product, each with `random.n` random draws."""
    grid = sweep.get("grid") or {}
    if not isinstance(grid, dict):
        raise BadInput(f"sweep.grid = {grid!r}: expected a table of dotted keys to lists")
    keys = list(grid)
    lists = [_check_list(f"sweep.grid.\"{k}\"", grid[k]) for k in keys]
    out = [dict(zip(keys, combo)) for combo in itertools.product(*lists)]
    random = sweep.get("random")
    if random:
        if not isinstance(random, dict) or not isinstance(random.get("n"), int) or random["n"] < 1:
            raise BadInput(f"sweep.random = {random!r}: expected {{ n = 8, \"key\" = {{ uniform = [a, b] }}, ... }}")
        samplers = {k: _sampler(f"sweep.random.\"{k}\"", v) for k, v in random.items() if k not in ("n", "seed")}
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
    unknown = set(sweep) - {"grid", "random", "repeats", "folds", "memory_gb"}
    if unknown:
        raise BadInput(f"sweep.{sorted(unknown)[0]}: unknown key; expected grid, random, repeats, folds, memory_gb")
    if not sweep.get("grid") and not sweep.get("random"):
        raise BadInput("sweep: nothing to sweep; add e.g. grid = { \"train.learning_rate\" = [0.001, 0.01, 0.1] }")
    repeats, folds = sweep.get("repeats", 1), sweep.get("folds", 0)
    if not isinstance(repeats, int) or repeats < 1:
        raise BadInput(f"sweep.repeats = {repeats!r}: expected an integer >= 1")
    if not isinstance(folds, int) or folds == 1 or folds < 0:
        raise BadInput(f"sweep.folds = {folds!r}: expected 0 (off) or an integer >= 2")
    seed = raw.get("seed", 0) if isinstance(raw.get("seed", 0), int) else 0
    configs = []
    for values in points(sweep, seed):
        experiments = []
        for r in range(repeats):
            for fold in range(folds) if folds else [None]:
                one = copy.deepcopy(raw)
                for key, value in values.items():
                    set_dotted(one, key, value)
                one["seed"] = seed + r
                if fold is not None:
                    one.setdefault("data", {}).update({"folds": folds, "fold": fold})
                experiments.append(_validate(one, values))
        configs.append(Config(values, experiments))
    return configs


def _validate(raw: dict[str, Any], values: dict[str, Any]) -> Experiment:
    try:
        exp = validate(raw)
    except BadInput as e:
        field = str(e).split(" ", 1)[0].rstrip(":")
        swept = [k for k in values if field.startswith(k) or k.startswith(field)]
        raise BadInput(f"sweep.\"{swept[0]}\": {e}" if swept else str(e)) from None
    exp.name = f"{exp.display_name} " + " ".join(f"{short(k)}={fmt(v)}" for k, v in values.items())
    return exp


def short(key: str) -> str:
    """"train.learning_rate" -> "learning_rate"; "model.init.stddev" -> "init.stddev"."""
    return key.split(".", 1)[1] if key.count(".") else key


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):  # an initializer or optimizer table: its name and parameters
        params = ", ".join(f"{k}={fmt(x)}" for k, x in v.items() if k != "name")
        return f"{v.get('name', '')}({params})" if params else str(v.get("name", v))
    return str(v)


# ---------------------------------------------------------------- the comparison table

def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return float(np.mean(finite)), float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0


def table(configs: list[Config], results: list[list[Any]]) -> list[dict[str, Any]]:
    """One row per configuration (mean and spread over repeats and folds), best first
    (mlplab.status.rank). Every number is the runs' result (mlplab.status): the weights
    each run ends with, exactly what `runs`, `show` and the API report for them.

    results[i] are the RunResults of configs[i]'s experiments.
    """
    rows = []
    for config, runs in zip(configs, results):
        row: dict[str, Any] = {"values": config.values, "runs": [r.run_id for r in runs]}
        for split in ("train", "val", "test"):
            mean, std = _mean_std([r.result.get(f"{split}_accuracy", math.nan) for r in runs])
            row[f"{split}_accuracy"], row[f"{split}_accuracy_std"] = mean, std
        row["val_loss"] = _mean_std([r.result.get("val_loss", math.nan) for r in runs])[0]
        row["result_epoch"] = _mean_std([r.result.get("epoch") or math.nan for r in runs])[0]
        row["best_epoch"] = _mean_std([r.best_epoch or math.nan for r in runs])[0]
        row["status"] = combined([r.status for r in runs])
        row["seconds"] = float(sum(r.seconds for r in runs))
        row["params"] = runs[0].params
        rows.append(row)
    return rank(rows)[0]


def headline(store, run_id: str) -> tuple[str, str]:
    """The code and title of the doctor's most important finding for a run (errors first), or ("", "")."""
    from .diagnose import load_findings
    serious = [f for f in load_findings(store, run_id) if f.severity != "info"]
    return (serious[0].code, serious[0].title) if serious else ("", "")


def noise_note(rows: list[dict[str, Any]]) -> str | None:
    """Is the best configuration ahead by more than the seed noise? (repeats > 1 only)"""
    key = rank(rows)[1] if rows else "val_accuracy"
    if len(rows) < 2 or not rows[0][f"{key}_std"] or len(rows[0]["runs"]) < 2:
        return None
    best, second = rows[0], rows[1]
    gap = best[key] - second[key]
    noise = max(best[f"{key}_std"], second[f"{key}_std"])
    verdict = "larger than" if gap > 2 * noise else "within"
    return (f"best vs second: {key.replace('_', ' ').replace('val ', 'validation ')} gap {gap:.4f}, "
            f"seed spread {noise:.4f}: the difference is {verdict} the seed noise")


# ---------------------------------------------------------------- running

@dataclass
class SweepResult:
    sweep_id: str
    name: str
    keys: list[str]
    rows: list[dict[str, Any]]
    note: str | None
    seconds: float

    @property
    def best(self) -> dict[str, Any]:
        return self.rows[0]

    @property
    def ranked_by(self) -> str:
        """The metric the rows are ranked by: val_accuracy, or test_accuracy without a validation split."""
        return rank(list(self.rows))[1]

    def to_json(self) -> dict[str, Any]:
        return {"sweep_id": self.sweep_id, "name": self.name, "keys": self.keys, "ranked_by": self.ranked_by,
                "rows": self.rows, "best": self.best, "note": self.note, "seconds": round(self.seconds, 3)}


def load_raw(path: str | None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    from .spec import apply_override, read_file
    raw = read_file(path) if path else {}
    for assignment in overrides:
        apply_override(raw, assignment)
    return raw


def run_sweep(raw: dict[str, Any], store, executor: str = "local", address: str | None = None,
              **callbacks) -> SweepResult:
    """Train every configuration of the spec's [sweep]; every member is an ordinary stored run."""
    import time
    from .runner import run_experiments
    configs = expand(raw)
    keys = list(configs[0].values)
    experiments = [e for c in configs for e in c.experiments]
    budget = (raw.get("sweep") or {}).get("memory_gb")
    name = raw.get("name") or f"sweep over {', '.join(keys)}"
    sweep_id = store.create_sweep(name=name, spec=raw)
    t0 = time.perf_counter()
    status = "failed"
    try:
        kwargs = {"memory_budget": float(budget) * 2**30} if budget else {}
        results = run_experiments(experiments, store, sweep_id=sweep_id, executor=executor, address=address,
                                  **callbacks, **kwargs)
        if any(r.status == "interrupted" for r in results):
            raise KeyboardInterrupt  # Ctrl-C inside training: the trained members are stored
        if len(results) < len(experiments):
            raise RunFailed(f"sweep {sweep_id}: {len(experiments) - len(results)} of {len(experiments)} runs failed; "
                            f"mlplab runs --sweep {sweep_id} --status failed")
        status = "ok"
    except BaseException as e:
        status = status_of(e)
        raise
    finally:
        if status != "ok":
            store.finish_sweep(sweep_id, status=status, summary={})
    by_exp = {id(r.experiment): r for r in results}
    rows = table(configs, [[by_exp[id(e)] for e in c.experiments] for c in configs])
    for row in rows:
        row["finding"], row["finding_title"] = headline(store, row["runs"][0])
    result = SweepResult(sweep_id, name, keys, rows, noise_note(rows), time.perf_counter() - t0)
    store.finish_sweep(sweep_id, status="ok", summary=result.to_json())
    return result
