"""A stored sweep as a notebook sees it (`Sweep`), and the calls that make or find sweeps: sweep, load_sweep, sweeps."""
from __future__ import annotations

import html
import inspect
import math
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import BadInput
from ..store import Store
from .display import shown
from .home import store_of
from .inputs import dotted, merge, pandas, raw_spec, table_argument
from .keras_fit import fit
from .progress import progress_bar
from .stored_run import Run


class Sweep:
    """A finished sweep: the comparison table (best first), its runs, its report."""

    def __init__(self, store: Store, ref: str):
        from ..analysis.health import with_health
        from ..analysis.status import ranking_metric
        self.store = store
        self.sweep = store.get_sweep(ref)
        self.id = self.sweep["id"]
        summary = self.sweep.get("summary") or {}
        self.name = self.sweep.get("name")
        self.keys: list[str] = summary.get("keys") or []
        # the doctor's verdict as the runs carry it now (not as it was when the sweep ended)
        self.rows: list[dict] = with_health(summary.get("rows") or [], self.sweep["runs"])
        self.note: str | None = summary.get("note")
        self.seconds = summary.get("seconds")
        self.ranked_by: str = summary.get("ranked_by") or ranking_metric(self.rows)  # val_accuracy, else test

    @property
    def table(self):
        """One row per configuration, best first (by `ranked_by`): the swept values, mean (and
        spread over repeats/folds) of each run's result (train/val/test accuracy of the weights
        it ends with, from epoch `result_epoch`), status, the doctor's verdict (`health`: the least
        healthy of its runs, and its `headline`), time."""
        pd = pandas()
        out = []
        for row in self.rows:
            values = row.get("values") or {}
            rec = {"rank": row.get("rank")}
            rec.update({k: values.get(k) for k in self.keys})
            for key in ("val_accuracy", "val_accuracy_std", "test_accuracy", "test_accuracy_std", "train_accuracy",
                        "val_loss", "result_epoch", "best_epoch", "status", "health", "headline", "seconds",
                        "params"):
                rec[key] = row.get(key)
            rec["runs"] = row.get("runs")
            out.append(rec)
        return pd.DataFrame(out).set_index("rank") if out else pd.DataFrame()

    @property
    def best(self) -> Run:
        """The first run of the best configuration."""
        return Run(self.store, self.rows[0]["runs"][0])

    @property
    def runs(self) -> list[Run]:
        return [Run(self.store, r["id"]) for r in self.sweep.get("runs") or []]

    # -- what you say about it (store.labels); `note` is the ranking's note, yours is `set_note`'s
    tags = property(lambda self: list(self.sweep.get("tags") or []))

    def tag(self, *tags: str, remove: bool = False) -> list[str]:
        """Add these tags to the sweep (or remove them, remove=True); its tags after."""
        self.sweep["tags"] = self.store.tag("sweep", self.id, **{"remove" if remove else "add": tags})
        return self.tags

    def set_note(self, text: str) -> str:
        """Write the sweep's note (empty text removes it); kept as the sweep row's `note`."""
        self.sweep["note"] = self.store.note("sweep", self.id, text)
        return self.sweep["note"]

    def rename(self, name: str) -> "Sweep":
        self.name = self.sweep["name"] = self.store.rename("sweep", self.id, name)
        return self

    def delete(self) -> list[str]:
        """Delete the sweep and all its runs (rows and folders); the runs' ids."""
        return self.store.delete_sweep(self.id)[1]

    def figure(self, name: str):
        """A figure of the sweep by name (SWEEP_FIGURE_NAMES in mlplab.present.registry:
        "parallel-coordinates", "importance", "slices"), drawn from its table by its ranking metric."""
        from ..present.registry import sweep_figure
        return shown(sweep_figure(name, self.rows, self.keys, self.ranked_by))

    def parallel_coordinates(self):
        """Every configuration as a line through its swept values to its score (`ranked_by`)."""
        return self.figure("parallel-coordinates")

    def importance(self):
        """Each swept key's share of the score's variance, as bars (the numbers: `importance_table`)."""
        return self.figure("importance")

    def slices(self):
        """The score against each swept key alone."""
        return self.figure("slices")

    @property
    def importance_table(self):
        """Each swept key's first-order share of the variance of `ranked_by` over the configurations
        (analysis.sweep_importance), most important first; `.attrs["note"]` says when there are too
        few configurations to tell, `.attrs["rest"]` what no key explains alone (interactions)."""
        from ..analysis.sweep_importance import importance
        imp = importance(self.rows, self.keys, self.ranked_by).as_dict()
        table = pandas().DataFrame(imp["keys"])
        table.attrs.update(note=imp["note"], rest=imp["rest"], metric=imp["metric"])
        return table.set_index("key") if len(table) else table

    def report(self, path: str | os.PathLike | None = None) -> Path:
        """Write the sweep's report (default: <store>/sweeps/<id>/report.html): a PDF when `path` ends in .pdf
        (its facts and configurations, then each figure)."""
        if path is not None and Path(path).suffix.lower() == ".pdf":
            from ..present.pdf import write_sweep_pdf
            return write_sweep_pdf(self.store, self.id, path)
        from ..present.report import write_sweep_report
        return write_sweep_report(self.store, self.id, path)

    def __repr__(self) -> str:
        return f"<Sweep {self.id} {self.name!r}: {len(self.rows)} configurations>"

    def _repr_html_(self) -> str:
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        table = self.table
        cols = [c for c in table.columns if c != "runs"]
        return (f"<div><b>mlplab sweep {html.escape(self.id)}</b> · {html.escape(str(self.name))}"
                f"{table[cols].to_html(float_format=lambda v: f'{v:.4g}', na_rep='–') if len(table) else ''}"
                f"{note}</div>")


def load_sweep(ref: str = "last", *, store: Store | str | None = None) -> Sweep:
    """A stored sweep by id, unique prefix or 'last'."""
    return Sweep(store_of(store), ref)


def sweeps(*, store: Store | str | None = None):
    """The stored sweeps, newest first, as a DataFrame."""
    pd = pandas()
    return pd.DataFrame(store_of(store).list_sweeps(), columns=["id", "name", "created", "status"])


def sweep(spec_or_path: Any = None, grid: dict | None = None, *, repeats: int | None = None,
          folds: int | None = None, data: Any = None, store: Store | str | None = None, progress: bool = True,
          variants: dict | None = None, **kw_overrides) -> Sweep:
    """Train every configuration as vectorized populations; every member is a stored run.

    ml.sweep("spec.toml")                                       # its [sweep] section
    ml.sweep(grid={"train.learning_rate": [0.001, 0.01, 0.1]}, epochs=5)
    ml.sweep(variants={"small": {"hidden": [32]}, "deep": {"hidden": [64, 64, 64]}})   # named, by name
    ml.sweep(build_model, {"units": [32, 64], "train.learning_rate": [0.001, 0.01]}, data="digits")

    With a model-building function, grid keys that are its parameters go to it and dotted keys to
    the training settings; every configuration is trained with `fit` (one run at a time).
    """
    grid = table_argument("grid", grid, '{"train.learning_rate": [0.001, 0.01, 0.1]}')
    variants = table_argument("variants", variants, '{"small": {"hidden": [32]}}')
    if callable(spec_or_path) and not isinstance(spec_or_path, (str, os.PathLike, dict)):
        return sweep_builder(spec_or_path, grid or {}, data=data if data is not None else "digits",
                             repeats=repeats or 1, store=store, progress=progress, **kw_overrides)
    from ..spec.sweep import expand
    from ..training.sweeps import run_sweep
    raw = raw_spec(spec_or_path, kw_overrides)
    if data is not None:
        merge(raw, {"data.dataset": data})
    section = raw.setdefault("sweep", {})
    if grid:
        section["grid"] = {**(section.get("grid") or {}), **{dotted(k): v for k, v in grid.items()}}
    if variants:
        section["variants"] = {**(section.get("variants") or {}),
                               **{name: {dotted(k): v for k, v in o.items()} if isinstance(o, dict) else o
                                  for name, o in variants.items()}}
    if repeats is not None:
        section["repeats"] = repeats
    if folds is not None:
        section["folds"] = folds
    s = store_of(store)
    configs = expand(raw)
    bar = None
    if progress:
        exps = [e for c in configs for e in c.experiments]
        bar = progress_bar(True, raw.get("name") or "sweep", sum(e.train.epochs for e in exps))
    result = run_sweep(raw, s, configs=configs, **(bar.callbacks() if bar else {}))
    if bar:
        bar.close(f"{len(result.rows)} configurations, best {result.ranked_by.replace('_', ' ')} "
                  f"{result.best.get(result.ranked_by, math.nan):.4f}")
    return Sweep(s, result.sweep_id)


# ---------------------------------------------------------------- a sweep over a model-building function

def fit_kwargs_from(values: dict, base: dict) -> dict:
    """Grid values with dotted training keys ("train.learning_rate") as `fit` keyword arguments."""
    out = dict(base)
    for k, v in values.items():
        key = dotted(k)
        out[key.split(".", 1)[1] if key.startswith(("train.", "data.")) else key] = v
    return out


def _check_grid_keys(build: Callable, keys: list[str]) -> set[str]:
    """The builder's parameters; every grid key must be one of them or a training setting."""
    params = set(inspect.signature(build).parameters)
    for k in keys:
        if k not in params and not dotted(k).startswith(("train.", "data.", "seed")):
            raise BadInput(f"sweep grid key {k!r}: not a parameter of {build.__name__}"
                           f"({', '.join(params)}) nor a training setting such as \"train.learning_rate\"")
    return params


def sweep_builder(build: Callable, grid: dict, *, data: Any, repeats: int, store, progress: bool,
                  **fit_kwargs) -> Sweep:
    """Every point of the grid (spec.sweep.points), `repeats` seeds each, trained with `fit` and stored as a sweep
    (training.sweeps.record_sweep: a Ctrl-C stops it interrupted)."""
    from ..spec.sweep import Config, points
    from ..training.sweeps import record_sweep
    keys = list(grid)
    params = _check_grid_keys(build, keys)
    configurations = points({"grid": grid}, 0)
    s = store_of(store)
    name = fit_kwargs.pop("name", None) or f"sweep of {getattr(build, '__name__', 'model')} over {', '.join(keys)}"

    def train(sweep_id: str) -> tuple[list, list[list]]:
        configs, results = [], []
        for values in configurations:
            model_args = {k: v for k, v in values.items() if k in params}
            kwargs = fit_kwargs_from({k: v for k, v in values.items() if k not in params}, fit_kwargs)
            label = " ".join(f"{k}={v}" for k, v in values.items())
            res = []
            for r in range(repeats):
                res.append(fit(build(**model_args), data, store=s, progress=progress, name=f"{name}: {label}",
                               _sweep_id=sweep_id, **{**kwargs, "seed": kwargs.get("seed", 0) + r}).result)
                if res[-1].status == "interrupted":
                    break   # Ctrl-C: train nothing more
            configs.append(Config(values, [one.experiment for one in res]))
            results.append(res)
            if res[-1].status == "interrupted":
                break
        return configs, results
    spec = {"build": getattr(build, "__name__", "model"), "sweep": {"grid": grid, "repeats": repeats}}
    return Sweep(s, record_sweep(s, name, spec, keys, train).sweep_id)
