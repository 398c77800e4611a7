"""The Python API: everything the CLI does, in a few lines of a notebook.

    import mlplab as ml
    ds = ml.load_dataset("digits")
    run = ml.run(train__learning_rate=0.01, epochs=5)   # or ml.run("spec.toml", {"model.hidden": [128]})
    run.history                       # a pandas DataFrame, one row per epoch
    run.findings                      # what the doctor says (an HTML table in Jupyter)
    run.learning_curves()             # one method per figure of the report
    run.report("run.html")
    sw = ml.sweep(grid={"train.learning_rate": [0.001, 0.01, 0.1]}, epochs=5)
    ml.runs()                         # the store as a DataFrame
    run = ml.fit(my_keras_model, "digits", epochs=5)     # any Keras 3 model, mlplab's engine

Overrides are spec keys: dotted in a dict ({"train.learning_rate": 0.01}),
with `__` for dots as keyword arguments (train__learning_rate=0.01), or a bare
field name when it names one field of one section (epochs=5, hidden=[128]).
"""
from __future__ import annotations

import copy
import hashlib
import html
import inspect
import itertools
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .errors import BadInput
from .training.artifacts import RunArtifacts
from .store import Store

__all__ = ["load_dataset", "run", "sweep", "fit", "runs", "sweeps", "load_run", "load_sweep", "set_home",
           "Run", "Sweep", "Findings"]

_home: str | os.PathLike | None = None


def set_home(path: str | os.PathLike | None) -> None:
    """Use this run store for the calls that get no `store=` (None: $MLPLAB_HOME or ./mlplab-runs)."""
    global _home
    _home = path


def _store(store: Store | str | os.PathLike | None) -> Store:
    if isinstance(store, Store):
        return store
    return Store(store if store is not None else _home)


def _pandas():
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is a dependency
        raise ImportError("mlplab's Python API returns pandas DataFrames: pip install pandas") from None
    return pandas


# ---------------------------------------------------------------- progress

def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """One line that updates in place: a notebook display handle, or `\\r` on a terminal.

    Updates are throttled (at most every `interval` seconds), so a sweep of a
    hundred members neither floods the output nor freezes the notebook.
    """

    def __init__(self, label: str, total: int, *, interval: float = 0.25, stream=None):
        self.label, self.total, self.interval = label, max(1, total), interval
        self.done, self.last, self.text = 0, 0.0, ""
        self.stream = stream or sys.stderr
        self.notebook = _in_notebook()
        self.handle = None
        self.t0 = time.perf_counter()

    def _html(self, text: str) -> Any:
        from IPython.display import HTML
        return HTML(f'<div style="font-family:monospace"><progress value="{self.done}" max="{self.total}" '
                    f'style="width:180px;vertical-align:middle"></progress> {html.escape(text)}</div>')

    def _show(self, text: str, final: bool = False) -> None:
        self.text = text
        if self.notebook:
            from IPython.display import display
            if self.handle is None:
                self.handle = display(self._html(text), display_id=True)
            else:
                self.handle.update(self._html(text))
        else:
            self.stream.write("\r" + text.ljust(100)[:160] + ("\n" if final else ""))
            self.stream.flush()

    def __call__(self, exp, run_id: str, epoch: int, rec: dict) -> None:
        self.done = min(self.total, self.done + 1)
        now = time.perf_counter()
        if now - self.last < self.interval and self.done < self.total:
            return
        self.last = now
        parts = [f"{self.label}: {self.done}/{self.total} epochs", f"loss {rec.get('loss', math.nan):.4f}",
                 f"acc {rec.get('accuracy', math.nan):.4f}"]
        if "val_accuracy" in rec:
            parts.append(f"val_acc {rec['val_accuracy']:.4f}")
        parts.append(f"{now - self.t0:.1f}s")
        self._show("  ".join(parts))

    def close(self, summary: str) -> None:
        self.done = self.total
        self._show(f"{self.label}: {summary} ({time.perf_counter() - self.t0:.1f}s)", final=True)


def _progress(progress: bool, label: str, total: int) -> Progress | None:
    return Progress(label, total) if progress else None


# ---------------------------------------------------------------- specs and overrides

def _section_of() -> dict[str, str]:
    """Field name -> section, for the fields that only one section has (epochs -> train)."""
    from .spec import Data, ModelSpec, Train
    owners: dict[str, list[str]] = {}
    for section, cls in (("data", Data), ("model", ModelSpec), ("train", Train)):
        for key in cls.model_fields:
            owners.setdefault(key, []).append(section)
    return {k: v[0] for k, v in owners.items() if len(v) == 1}


TOP_LEVEL = ("name", "seed", "data", "model", "train", "sweep")


def _dotted(key: str) -> str:
    key = key.replace("__", ".")
    if "." in key or key in TOP_LEVEL:
        return key
    section = _section_of().get(key)
    return f"{section}.{key}" if section else key


def _merge(raw: dict, overrides: dict, prefix: str = "") -> dict:
    """Apply overrides (dotted keys, or nested tables merged key by key) to a raw spec.

    Every key is set on the whole spec through `set_dotted` (prefix: the table a nested dict is in)."""
    from .spec import get_dotted, set_dotted
    for key, value in overrides.items():
        if not isinstance(key, str):
            raise BadInput(f"override {key!r}: expected a spec key such as \"train.learning_rate\"")
        dotted = f"{prefix}.{key}" if prefix else _dotted(key)
        table = isinstance(value, dict) and "." not in (key if prefix else dotted)
        if table and isinstance(get_dotted(raw, dotted), dict):
            _merge(raw, value, dotted)
        else:
            set_dotted(raw, dotted, copy.deepcopy(value))
    return raw


def _raw(spec_or_path: Any, overrides: dict) -> dict:
    from .spec import Experiment, read_file
    if spec_or_path is None:
        raw: dict = {}
    elif isinstance(spec_or_path, (str, os.PathLike)):
        raw = read_file(spec_or_path)
    elif isinstance(spec_or_path, Experiment):
        raw = spec_or_path.resolved()
    elif isinstance(spec_or_path, dict):
        raw = _merge({}, spec_or_path)
    else:
        raise BadInput(f"spec {type(spec_or_path).__name__}: expected a path to a TOML/YAML spec, a dict of spec "
                       "keys or an Experiment")
    return _merge(raw, overrides)


# ---------------------------------------------------------------- data

def load_dataset(name: str = "digits", *, scale: str = "unit", validation_split: float = 0.1, flatten: bool = True,
                 **options):
    """A data set as model-ready arrays plus info: `x_train, y_train, x_val, y_val, x_test, y_test`
    and `info` (class_names, input_shape, image_shape, counts, warnings).

    options are the generator's parameters of generated sets (cosine2d: n, a, noise, seed).
    """
    from .data import load_dataset as _load
    return _load(name, scale=scale, validation_split=validation_split, flatten=flatten, options=options)


# ---------------------------------------------------------------- findings

class Findings(list):
    """The doctor's findings of a run, most severe first; an HTML table in Jupyter."""

    def to_frame(self):
        pd = _pandas()
        return pd.DataFrame([{"severity": f.severity, "code": f.code, "title": f.title, "epoch": f.epoch,
                              "suggestion": f.suggestion} for f in self],
                            columns=["severity", "code", "title", "epoch", "suggestion"])

    def _repr_html_(self) -> str:
        if not self:
            return "<p>No problems found: the training looks healthy.</p>"
        colors = {"error": "#d1242f", "warning": "#b7870f", "info": "#3b82f6"}
        rows = "".join(
            f"<tr><td style='color:{colors.get(f.severity, '#555')};font-weight:bold'>{html.escape(f.severity)}</td>"
            f"<td><b>{html.escape(f.title)}</b><br>{html.escape(f.explanation)}</td>"
            f"<td><code>{html.escape(f.suggestion)}</code></td></tr>" for f in self)
        return ("<table><tr><th>severity</th><th>finding</th><th>try</th></tr>" + rows + "</table>")

    def __str__(self) -> str:
        if not self:
            return "no problems found"
        return "\n".join(f"[{f.severity}] {f.title}\n    try: {f.suggestion}" for f in self)


# ---------------------------------------------------------------- a run

def _figure(fig):
    """A matplotlib Figure that shows inline in Jupyter when it is a cell's value (mlplab's figures
    are not pyplot figures, so no backend displays them on its own)."""
    def png() -> bytes:
        import io
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        return buf.getvalue()
    fig._repr_png_ = png
    return fig


class Run(RunArtifacts):
    """A stored run: its numbers, its doctor's findings, its model and its figures, loaded lazily.

    >>> run = ml.load_run("last")
    >>> run.history[["loss", "val_loss"]].tail()
    >>> run.confusion_matrix()
    """

    def __init__(self, store: Store, ref: str, *, model=None, result=None):
        super().__init__(store, store.get_run(ref))
        self.result = result  # the RunResult when this session trained it
        if model is not None:
            self._cache["model"] = model

    # -- the numbers
    name = property(lambda self: self.run.get("name"))
    status = property(lambda self: self.run.get("status"))
    spec = property(lambda self: self.run.get("spec"))
    test_accuracy = property(lambda self: self.run.get("test_accuracy"))
    test_loss = property(lambda self: self.run.get("test_loss"))
    best_epoch = property(lambda self: self.run.get("best_epoch"))
    # the result (mlplab.status): the weights the run ends with, measured on train/val/test
    result_epoch = property(lambda self: self._result().get("epoch"))
    val_accuracy = property(lambda self: self._result().get("val_accuracy"))
    train_accuracy = property(lambda self: self._result().get("train_accuracy"))
    layers = property(lambda self: list((self.run.get("summary") or {}).get("layers") or []))
    epochs_run = property(lambda self: self.run.get("epochs_run"))
    seconds = property(lambda self: self.run.get("seconds"))
    params = property(lambda self: self.run.get("params"))
    warnings = property(lambda self: list(self.run.get("warnings") or []))

    def _result(self) -> dict:
        return (self.run.get("summary") or {}).get("result") or {}

    @property
    def history(self):
        """One row per epoch (index: epoch): loss/accuracy as Keras prints them, and
        train_/val_/test_ loss and accuracy in inference mode."""
        pd = _pandas()
        h = dict(self.run.get("history") or {})
        epochs = h.pop("epoch", [])
        return pd.DataFrame(h, index=pd.Index(epochs, name="epoch"))

    @property
    def evaluation(self) -> dict:
        """Test-set evaluation: accuracy, per-class precision/recall/f1, the confusion matrix."""
        return dict((self.run.get("summary") or {}).get("evaluation") or {})

    @property
    def findings(self) -> Findings:
        return Findings(super().findings)

    def load_model(self, *, safe_mode: bool = True, custom_objects: dict | None = None):
        """`keras.models.load_model` of the run's model.keras; `safe_mode=False` for models
        with Lambda layers you trust, `custom_objects` for your own layer classes."""
        from .training.artifacts import load_model
        return load_model(self.store, self.run, safe_mode=safe_mode, custom_objects=custom_objects)

    def predict(self, x) -> np.ndarray:
        """Class probabilities for inputs shaped as the training inputs (warns when the run
        did not end ok or stopped: its model may be garbage)."""
        import warnings
        from .engine.inference import predict_probabilities
        from .predict import RunStatusWarning, status_warning
        if (text := status_warning(self.run)):
            warnings.warn(text, RunStatusWarning, stacklevel=2)
        return predict_probabilities(self.model, np.asarray(x, dtype="float32"))

    def refresh(self) -> "Run":
        self.run = self.store.get_run(self.id)
        self._cache.pop("findings", None)
        return self

    # -- the report and its figures
    def report(self, path: str | os.PathLike | None = None, *, embed_samples: int = 2000) -> Path:
        """Write the self-contained HTML report (default: report.html in the run's artifact folder)."""
        from .present.report import build_html
        text = build_html(self, list(self.findings), embed_samples=embed_samples)
        if path is None:
            return self.store.write_artifact(self.id, "report.html", text)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return out

    def figure(self, name: str, **options):
        """Any figure of the report by name (see mlplab.report.FIGURES)."""
        from .present.report import figure_for
        return _figure(figure_for(self, name, **options))

    def samples(self, **options):
        return self.figure("samples", **options)

    def class_samples(self, class_index: int = 0, **options):
        return self.figure("class-samples", class_index=class_index, **options)

    def learning_curves(self, **options):
        return self.figure("learning-curves", **options)

    def confusion_matrix(self):
        return self.figure("confusion-matrix")

    def mistakes(self, **options):
        return self.figure("mistakes", **options)

    def random_mistakes(self, **options):
        return self.figure("random-mistakes", **options)

    def correct(self, **options):
        return self.figure("correct", **options)

    def probabilities(self, **options):
        return self.figure("probabilities", **options)

    def class_histograms(self):
        return self.figure("class-histograms")

    def weights(self, **options):
        return self.figure("weights", **options)

    def training_statistics(self):
        return self.figure("training-statistics")

    def hidden_representation(self, **options):
        return self.figure("hidden-representation", **options)

    def decision_regions(self, **options):
        return self.figure("decision-regions", **options)

    # -- display
    def __repr__(self) -> str:
        acc = self.test_accuracy
        return (f"<Run {self.id} {self.name!r}: {self.status} after {self.epochs_run} epochs, test accuracy "
                f"{'-' if acc is None else f'{acc:.4f}'}>")

    def _repr_html_(self) -> str:
        from .present.report import _summary_html
        return (f"<div><b>mlplab run {html.escape(self.id)}</b>{_summary_html(self.run)}"
                f"<p><b>Findings</b></p>{self.findings._repr_html_()}</div>")


def load_run(ref: str = "last", *, store: Store | str | None = None) -> Run:
    """A stored run by id, unique prefix or 'last'."""
    return Run(_store(store), ref)




def runs(*, status: str | None = None, dataset: str | None = None, sweep: str | None = None,
         limit: int | None = None, store: Store | str | None = None):
    """The stored runs, newest first, as a DataFrame (one row per run)."""
    pd = _pandas()
    s = _store(store)
    sweep_id = s.resolve_sweep(sweep) if sweep else None
    rows = s.list_runs(status=status, dataset=dataset, sweep_id=sweep_id, limit=limit)
    from .analysis.status import ROW_KEYS, run_row
    columns = [*ROW_KEYS, "result_epoch", "layers"]
    return pd.DataFrame([run_row(r) for r in rows], columns=columns)


def sweeps(*, store: Store | str | None = None):
    """The stored sweeps, newest first, as a DataFrame."""
    pd = _pandas()
    return pd.DataFrame(_store(store).list_sweeps(), columns=["id", "name", "created", "status"])


# ---------------------------------------------------------------- training from a spec

def run(spec_or_path: Any = None, overrides: dict | None = None, /, *, store: Store | str | None = None,
        progress: bool = True, **kw_overrides) -> Run:
    """Train one experiment and store it; returns the stored `Run`.

    spec_or_path: a TOML/YAML file, a dict of spec keys, an Experiment, or None (the defaults:
    a 64-64 ReLU MLP on digits). overrides: {"train.learning_rate": 0.01} or train__learning_rate=0.01.
    """
    from .training.runner import run_experiment
    from .spec import validate
    raw = _raw(spec_or_path, {**(overrides or {}), **kw_overrides})
    raw.pop("sweep", None)
    exp = validate(raw)
    s = _store(store)
    bar = _progress(progress, exp.display_name, exp.train.epochs)
    result = run_experiment(exp, s, **({"on_epoch": bar} if bar else {}))
    if bar:
        bar.close(f"{result.status} after {result.epochs_run} epochs, test accuracy {result.test_accuracy:.4f}")
    return Run(s, result.run_id, result=result)


# ---------------------------------------------------------------- sweeps

class Sweep:
    """A finished sweep: the comparison table (best first), its runs, its report."""

    def __init__(self, store: Store, ref: str):
        self.store = store
        self.sweep = store.get_sweep(ref)
        self.id = self.sweep["id"]
        summary = self.sweep.get("summary") or {}
        self.name = self.sweep.get("name")
        self.keys: list[str] = summary.get("keys") or []
        self.rows: list[dict] = summary.get("rows") or []
        self.note: str | None = summary.get("note")
        self.seconds = summary.get("seconds")
        from .analysis.status import ranking_metric
        self.ranked_by: str = summary.get("ranked_by") or ranking_metric(self.rows)  # val_accuracy, else test

    @property
    def table(self):
        """One row per configuration, best first (by `ranked_by`): the swept values, mean (and
        spread over repeats/folds) of each run's result (train/val/test accuracy of the weights
        it ends with, from epoch `result_epoch`), status, time, the doctor's headline."""
        pd = _pandas()
        out = []
        for row in self.rows:
            values = row.get("values") or {}
            rec = {"rank": row.get("rank")}
            rec.update({k: values.get(k) for k in self.keys})
            for key in ("val_accuracy", "val_accuracy_std", "test_accuracy", "test_accuracy_std", "train_accuracy",
                        "val_loss", "result_epoch", "best_epoch", "status", "seconds", "params", "finding"):
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

    def report(self, path: str | os.PathLike | None = None) -> Path:
        from .present.report import write_sweep_report
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
    return Sweep(_store(store), ref)


def sweep(spec_or_path: Any = None, grid: dict | None = None, *, repeats: int | None = None,
          folds: int | None = None, data: Any = None, store: Store | str | None = None, progress: bool = True,
          **kw_overrides) -> Sweep:
    """Train every configuration as vectorized populations; every member is a stored run.

    ml.sweep("spec.toml")                                       # its [sweep] section
    ml.sweep(grid={"train.learning_rate": [0.001, 0.01, 0.1]}, epochs=5)
    ml.sweep(build_model, {"units": [32, 64], "train.learning_rate": [0.001, 0.01]}, data="digits")

    With a model-building function, grid keys that are its parameters go to it and dotted keys to
    the training settings; every configuration is trained with `fit` (one run at a time).
    """
    if callable(spec_or_path) and not isinstance(spec_or_path, (str, os.PathLike, dict)):
        return _sweep_builder(spec_or_path, grid or {}, data=data if data is not None else "digits",
                              repeats=repeats or 1, store=store, progress=progress, **kw_overrides)
    from .training.sweeps import run_sweep
    raw = _raw(spec_or_path, kw_overrides)
    if data is not None:
        _merge(raw, {"data.dataset": data})
    section = raw.setdefault("sweep", {})
    if grid:
        section["grid"] = {**(section.get("grid") or {}), **{_dotted(k): v for k, v in grid.items()}}
    if repeats is not None:
        section["repeats"] = repeats
    if folds is not None:
        section["folds"] = folds
    s = _store(store)
    bar = None
    if progress:
        from .spec.sweep import expand
        exps = [e for c in expand(raw) for e in c.experiments]
        bar = _progress(True, raw.get("name") or "sweep", sum(e.train.epochs for e in exps))
    result = run_sweep(raw, s, **({"on_epoch": bar} if bar else {}))
    if bar:
        bar.close(f"{len(result.rows)} configurations, best {result.ranked_by.replace('_', ' ')} "
                  f"{result.best.get(result.ranked_by, math.nan):.4f}")
    return Sweep(s, result.sweep_id)


def _sweep_builder(build: Callable, grid: dict, *, data: Any, repeats: int, store, progress: bool,
                   **fit_kwargs) -> Sweep:
    from .analysis.status import ranking_metric
    from .analysis.sweep_table import noise_note, table
    from .spec.sweep import Config
    params = set(inspect.signature(build).parameters)
    keys = list(grid)
    for k in keys:
        if k not in params and not _dotted(k).startswith(("train.", "data.", "seed")):
            raise BadInput(f"sweep grid key {k!r}: not a parameter of {build.__name__}"
                           f"({', '.join(params)}) nor a training setting such as \"train.learning_rate\"")
    s = _store(store)
    name = fit_kwargs.pop("name", None) or f"sweep of {getattr(build, '__name__', 'model')} over {', '.join(keys)}"
    sweep_id = s.create_sweep(name=name, spec={"build": getattr(build, "__name__", "model"),
                                               "sweep": {"grid": grid, "repeats": repeats}})
    t0 = time.perf_counter()
    configs, results = [], []
    try:
        for combo in itertools.product(*(grid[k] for k in keys)):
            values = dict(zip(keys, combo))
            model_args = {k: v for k, v in values.items() if k in params}
            train_args = {k: v for k, v in values.items() if k not in params}
            exps, res = [], []
            for r in range(repeats):
                kwargs = _fit_kwargs_from(train_args, fit_kwargs)
                kwargs["seed"] = kwargs.get("seed", 0) + r
                label = " ".join(f"{k}={v}" for k, v in values.items())
                one = fit(build(**model_args), data, store=s, progress=progress, name=f"{name}: {label}",
                          _sweep_id=sweep_id, **kwargs)
                exps.append(one.result.experiment)
                res.append(one.result)
            configs.append(Config(values, exps))
            results.append(res)
    except BaseException:
        s.finish_sweep(sweep_id, status="failed", summary={})
        raise
    rows = table(configs, results)
    summary = {"sweep_id": sweep_id, "name": name, "keys": keys, "ranked_by": ranking_metric(rows), "rows": rows,
               "best": rows[0],
               "note": noise_note(rows), "seconds": round(time.perf_counter() - t0, 3)}
    s.finish_sweep(sweep_id, status="ok", summary=summary)
    return Sweep(s, sweep_id)


def _fit_kwargs_from(values: dict, base: dict) -> dict:
    """Grid values with dotted training keys ("train.learning_rate") as `fit` keyword arguments."""
    out = dict(base)
    for k, v in values.items():
        dotted = _dotted(k)
        out[dotted.split(".", 1)[1] if dotted.startswith(("train.", "data.")) else dotted] = v
    return out


# ---------------------------------------------------------------- any Keras model

_KERAS_OPTIMIZERS = {"SGD": "sgd", "Adam": "adam", "AdamW": "adamw", "RMSprop": "rmsprop", "Adagrad": "adagrad"}
_INIT_NAMES = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeNormal": "he_normal",
               "HeUniform": "he_uniform", "LecunNormal": "lecun_normal", "LecunUniform": "lecun_uniform",
               "RandomNormal": "random_normal", "TruncatedNormal": "truncated_normal",
               "RandomUniform": "random_uniform", "Zeros": "zeros", "Ones": "ones", "Constant": "constant"}


def _optimizer_spec(optimizer: Any, learning_rate: float | None) -> dict:
    """"adam", {"name": "sgd", "momentum": 0.9} or a keras optimizer instance -> the spec's table."""
    if isinstance(optimizer, str):
        spec: dict = {"name": optimizer.lower()}
    elif isinstance(optimizer, dict):
        spec = dict(optimizer)
    else:
        kind = _KERAS_OPTIMIZERS.get(type(optimizer).__name__)
        if kind is None:
            raise BadInput(f"optimizer {type(optimizer).__name__}: mlplab's engine trains with "
                           f"{', '.join(_KERAS_OPTIMIZERS)} (as names or keras instances)")
        from .engine.optimizers import defaults
        cfg = optimizer.get_config()
        spec = {"name": kind, **{k: cfg[k] for k in defaults(kind) if k in cfg and not isinstance(cfg[k], dict)}}
        if not isinstance(cfg.get("learning_rate"), (int, float)):
            raise BadInput("optimizer: a learning-rate schedule is not supported; give a number")
    if learning_rate is not None:
        spec["learning_rate"] = learning_rate
    return spec


def _init_spec(init: Any) -> dict | None:
    name = _INIT_NAMES.get(type(init).__name__)
    if name is None:
        return None
    from .spec import INITIALIZERS
    cfg = init.get_config()
    return {"name": name, **{k: cfg[k] for k in INITIALIZERS[name] if k in cfg}}


def _activation(layer) -> str | None:
    from .spec import ACTIVATIONS
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return name if name in ACTIVATIONS and name != "linear" else None


def describe_keras(model) -> tuple[dict, bool, str]:
    """(the spec's model table that comes closest, whether it is exact, a short description)."""
    import keras
    L = keras.layers
    layers = [layer for layer in model.layers if not isinstance(layer, L.InputLayer)]
    body = layers[:-1] if layers and isinstance(layers[-1], L.Dense) else layers
    exact = len(body) < len(layers) and type(model) in (keras.Sequential,)
    out, words = [], []
    for layer in body:
        if isinstance(layer, L.Dense):
            entry = {"type": "dense", "units": int(layer.units)}
            if _activation(layer):
                entry["activation"] = _activation(layer)
            init = _init_spec(layer.kernel_initializer)
            if init:
                entry["init"] = init
            exact &= init is not None and layer.kernel_regularizer is None
            out.append(entry)
            words.append(str(layer.units))
        elif isinstance(layer, L.Dropout):
            out.append({"type": "dropout", "rate": float(layer.rate)})
            words.append("dropout")
        elif isinstance(layer, L.BatchNormalization):
            out.append({"type": "batchnorm"})
            words.append("bn")
        elif isinstance(layer, L.Flatten):
            out.append({"type": "flatten"})
        elif isinstance(layer, L.Conv2D) and layer.strides[0] == layer.strides[1] \
                and layer.kernel_size[0] == layer.kernel_size[1]:
            entry = {"type": "conv2d", "filters": int(layer.filters), "kernel": int(layer.kernel_size[0]),
                     "strides": int(layer.strides[0]), "padding": layer.padding}
            if _activation(layer):
                entry["activation"] = _activation(layer)
            out.append(entry)
            words.append(f"conv{layer.filters}")
            exact = False  # initializers and regularizers of conv layers are not compared
        elif isinstance(layer, L.MaxPooling2D) and layer.pool_size[0] == layer.pool_size[1]:
            out.append({"type": "max_pool", "size": int(layer.pool_size[0])})
            words.append("pool")
        elif isinstance(layer, L.Activation) and _activation(layer) and out and out[-1]["type"] in ("dense", "batchnorm"):
            out[-1].setdefault("activation", _activation(layer))
        else:
            exact = False
            words.append(type(layer).__name__)
    acts = {e.get("activation") for e in out if e.get("activation")}
    description = ("-".join(words) or "logistic") + (f" {acts.pop()}" if len(acts) == 1 else "") + " (keras)"
    return {"layers": out}, exact, description


def _input_rank(model) -> int | None:
    try:
        return len(model.inputs[0].shape) - 1
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def _builtin(name: Any) -> bool:
    from .data import DATASETS
    return isinstance(name, str) and name in DATASETS


def _data_section(data: Any, *, flatten: bool, scale: str | None, validation_split: float, store: Store,
                  options: dict) -> dict:
    """The spec's data table that loads `data` again (arrays are kept once, by content, in the store)."""
    from .data import Dataset
    if isinstance(data, (str, os.PathLike)):
        return {"dataset": os.fspath(data), "scale": scale or "unit", "validation_split": validation_split,
                "flatten": flatten, **options}
    if isinstance(data, Dataset):
        info = data.info
        x_train = np.concatenate([data.x_train, data.x_val])
        y_train = np.concatenate([data.y_train, data.y_val])
        arrays = (x_train, y_train, data.x_test, data.y_test)
        validation_split = (len(data.x_val) + 0.5) / len(x_train) if len(data.x_val) else 0.0
        class_names = info.class_names
        scale = scale or "none"
    elif isinstance(data, (tuple, list)) and len(data) == 4:
        arrays = tuple(np.asarray(a) for a in data)
        class_names = None
        scale = scale or "none"
    else:
        raise BadInput(f"data {type(data).__name__}: expected a data set name (\"digits\", \"mnist\", a path), "
                       "a Dataset from ml.load_dataset, or a tuple (x_train, y_train, x_test, y_test)")
    for a, what in zip(arrays, ("x_train", "y_train", "x_test", "y_test")):
        if not np.issubdtype(a.dtype, np.number):
            raise BadInput(f"data {what}: expected numbers, got dtype {a.dtype}")
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(str((a.dtype, a.shape)).encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    folder = Path(store.home) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest.hexdigest()[:16]}.npz"
    if not path.exists():
        extra = {"class_names": np.asarray(class_names)} if class_names else {}
        tmp = folder / f".{path.stem}.{os.getpid()}.tmp.npz"
        np.savez_compressed(tmp, x_train=arrays[0], y_train=arrays[1], x_test=arrays[2], y_test=arrays[3], **extra)
        tmp.replace(path)
    return {"dataset": str(path), "scale": scale, "validation_split": validation_split, "flatten": flatten}


def fit(model, data: Any = "digits", *, optimizer: Any = "adam", learning_rate: float | None = None,
        loss: str = "sparse_categorical_crossentropy", epochs: int = 20, batch_size: int = 32,
        early_stopping: Any = True, validation_split: float = 0.1, scale: str | None = None, shuffle: bool = True,
        seed: int = 0, name: str | None = None, store: Store | str | None = None, progress: bool = True,
        _sweep_id: str | None = None, **data_options) -> Run:
    """Train any Keras 3 model (Sequential, functional, custom layers) with mlplab's engine and
    store it as a run: history, doctor's findings, report, figures, as for a spec run.

    data: a data set name or path, a Dataset from `ml.load_dataset`, or (x_train, y_train,
    x_test, y_test) arrays (used as they are unless `scale` is given). The model must output
    probabilities: softmax over the classes, or one sigmoid unit with loss="binary_crossentropy".
    Like Keras' `fit`, it trains `model` in place; the returned Run holds it as `.model`.
    """
    from .engine import backend as _backend  # noqa: F401
    import keras
    from .data import load_data
    from .training.runner import run_model
    from .spec import validate
    if not isinstance(model, keras.Model):
        raise BadInput(f"model {type(model).__name__}: expected a keras.Model (Sequential, functional or subclassed)")
    s = _store(store)
    rank = _input_rank(model)
    flatten = rank is None or rank <= 1
    approx, exact, description = describe_keras(model)
    data_name = (os.fspath(data) if isinstance(data, (str, os.PathLike))
                 else getattr(getattr(data, "info", None), "name", "arrays"))
    raw = {"name": name or f"{Path(str(data_name)).stem}-{model.name}", "seed": seed,
           "data": _data_section(data, flatten=flatten, scale=scale, validation_split=validation_split, store=s,
                                 options=data_options),
           "model": approx,
           "train": {"optimizer": _optimizer_spec(optimizer, learning_rate), "loss": loss, "epochs": epochs,
                     "batch_size": batch_size, "shuffle": shuffle, "early_stopping": early_stopping}}
    try:
        exp = validate(raw)
    except BadInput as e:
        if str(e).startswith("model."):  # the approximation of an odd model: keep the training settings
            raw["model"] = {"hidden": []}
            exact = False
            exp = validate(raw)
        else:
            raise
    dataset = load_data(exp)
    bar = _progress(progress, exp.display_name, epochs)
    extra = {"keras_model": {"class": type(model).__name__, "name": model.name, "spec_is_exact": exact,
                             "layers": [type(layer).__name__ for layer in model.layers]}}
    result = run_model(model, dataset, exp, s, description=description, on_epoch=bar, extra_summary=extra,
                       sweep_id=_sweep_id)
    if bar:
        bar.close(f"{result.status} after {result.epochs_run} epochs, test accuracy {result.test_accuracy:.4f}")
    return Run(s, result.run_id, model=model, result=result)
