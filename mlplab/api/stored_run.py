"""A stored run as a notebook sees it (`Run`), and the calls that make or find runs: run, load_run, runs."""
from __future__ import annotations

import html
import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..present.registry import REGISTRY, FigureEntry
from ..store import Store
from ..stored import RunArtifacts
from .display import shown
from .home import store_of
from .inputs import overrides_of, pandas, raw_spec
from .progress import progress_bar


class Findings(list):
    """The doctor's findings of a run, most severe first; an HTML table in Jupyter."""

    def to_frame(self):
        pd = pandas()
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


def figure_method(entry: FigureEntry):
    """`Run.<entry.method>(...)`: `run.figure(entry.name, ...)`, with the figure's options as its signature."""
    def method(self, *args, **options):
        return self.figure(entry.name, *args, **options)
    method.__name__, method.__qualname__ = entry.method, f"Run.{entry.method}"
    method.__doc__ = f"{entry.caption}: the report's figure {entry.name!r}."
    params = list(inspect.signature(entry.draw).parameters.values())[1:]   # less the artifacts
    method.__signature__ = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                                              *params])
    return method


def with_figure_methods(cls):
    """One method per figure of the registry: run.confusion_matrix(), run.hidden_representation(n=300), ..."""
    for entry in REGISTRY.values():
        if hasattr(cls, entry.method):
            raise TypeError(f"figure {entry.name!r}: {cls.__name__} already has {entry.method!r}; rename the figure")
        setattr(cls, entry.method, figure_method(entry))
    return cls


@with_figure_methods
class Run(RunArtifacts):
    """A stored run: its numbers, its doctor's findings, its model and its figures, loaded lazily.

    >>> run = ml.load_run("last")
    >>> run.history[["loss", "val_loss"]].tail()
    >>> run.confusion_matrix()          # one method per figure of the registry (mlplab.present.registry)
    >>> run.figure("confusion-matrix")  # the same, by name
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
    # the result (analysis.status): the weights the run ends with, measured on train/val/test
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
        pd = pandas()
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
        from ..stored import load_model
        return load_model(self.store, self.run, safe_mode=safe_mode, custom_objects=custom_objects)

    def predict(self, x) -> np.ndarray:
        """Class probabilities for inputs shaped as the training inputs (warns when the run
        did not end ok or stopped: its model may be garbage)."""
        import warnings
        from ..engine.inference import predict_probabilities
        from ..predict import RunStatusWarning, status_warning
        if (text := status_warning(self.run)):
            warnings.warn(text, RunStatusWarning, stacklevel=2)
        return predict_probabilities(self.model, np.asarray(x, dtype="float32"))

    def features(self, x, layer: int | str | None = None) -> np.ndarray:
        """What a hidden layer outputs for inputs x (shaped as the training inputs), in inference mode, one
        flattened row per input: the run's model truncated after `layer` (a name such as "dense_2" or an index
        in the model's layers; default the last hidden layer), as `keras.Model(model.inputs,
        model.get_layer(layer).output).predict(x)` would give."""
        from ..engine.inference import layer_output
        return layer_output(self.model, x, layer)

    def repair(self, *, candidates: int = 3):
        """Train the doctor's top `candidates` fixes as repairs of this run (one population, the run's seed, data
        and epochs; each stored as a run with summary["repair_of"]) and judge each: a RepairReport whose `.best` is
        the answer (the best validation accuracy among candidates that ended ok or stopped, unless a simpler one is
        within noise), or None when none helped. `print(report)` shows before/after for every candidate."""
        from ..training.repair import repair
        return repair(self.store, self.id, candidates=candidates)

    # -- what you say about it (store.labels): tags, a note, a name; and deleting it
    tags = property(lambda self: list(self.run.get("tags") or []))
    note = property(lambda self: self.run.get("note") or "")

    def tag(self, *tags: str, remove: bool = False) -> list[str]:
        """Add these tags (or remove them, remove=True); the run's tags after. `ml.runs(tag=...)` finds it."""
        self.run["tags"] = self.store.tag("run", self.id, **{"remove" if remove else "add": tags})
        return self.tags

    def set_note(self, text: str) -> str:
        """Write the run's note (empty text removes it)."""
        self.run["note"] = self.store.note("run", self.id, text)
        return self.note

    def rename(self, name: str) -> "Run":
        self.run["name"] = self.store.rename("run", self.id, name)
        return self

    def delete(self) -> None:
        """Delete the run from its store: its rows and its folder (refused while it runs)."""
        self.store.delete_runs([self.id])

    def refresh(self) -> "Run":
        self.run = self.store.get_run(self.id)
        self._cache.pop("findings", None)
        return self

    # -- the report and its figures
    def report(self, path: str | os.PathLike | None = None, *, embed_samples: int = 2000) -> Path:
        """Write the self-contained HTML report (default: report.html in the run's artifact folder); a path
        ending in .pdf: the report as a PDF (a title page with the facts and findings, then every figure)."""
        if path is not None and Path(path).suffix.lower() == ".pdf":
            from ..present.pdf import write_run_pdf
            return write_run_pdf(self.store, self.id, path, embed_samples=embed_samples)
        from ..present.report import build_html
        text = build_html(self, list(self.findings), embed_samples=embed_samples)
        if path is None:
            return self.store.write_artifact(self.id, "report.html", text)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return out

    def figure(self, name: str, *args, **options):
        """Any figure of the report by name (FIGURE_NAMES in mlplab.present.registry); options go to
        its figure function."""
        from ..present.registry import figure_for
        return shown(figure_for(self, name, *args, **options))

    # -- display
    def __repr__(self) -> str:
        acc = self.test_accuracy
        return (f"<Run {self.id} {self.name!r}: {self.status} after {self.epochs_run} epochs, test accuracy "
                f"{'-' if acc is None else f'{acc:.4f}'}>")

    def _repr_html_(self) -> str:
        from ..present.run_report import summary_html
        return (f"<div><b>mlplab run {html.escape(self.id)}</b>{summary_html(self.run)}"
                f"<p><b>Findings</b></p>{self.findings._repr_html_()}</div>")


def load_run(ref: str = "last", *, store: Store | str | None = None) -> Run:
    """A stored run by id, unique prefix or 'last'."""
    return Run(store_of(store), ref)


def runs(*, status: str | None = None, dataset: str | None = None, sweep: str | None = None, tag: str | None = None,
         limit: int | None = None, store: Store | str | None = None):
    """The stored runs, newest first, as a DataFrame (one row per run); with `tag`, those carrying it."""
    from ..analysis.status import run_row
    pd = pandas()
    s = store_of(store)
    sweep_id = s.resolve_sweep(sweep) if sweep else None
    rows = s.list_runs(status=status, dataset=dataset, sweep_id=sweep_id, tag=tag, limit=limit)
    columns = list(run_row({}))   # with the doctor's verdict: health, headline
    return pd.DataFrame([run_row(r) for r in rows], columns=columns)


def run(spec_or_path: Any = None, overrides: dict | None = None, /, *, store: Store | str | None = None,
        progress: bool = True, **kw_overrides) -> Run:
    """Train one experiment and store it; returns the stored `Run`.

    spec_or_path: a TOML/YAML file, a dict of spec keys, an Experiment, or None (the defaults:
    a 64-64 ReLU MLP on digits). overrides: {"train.learning_rate": 0.01} or train__learning_rate=0.01.
    """
    from ..spec import validate
    from ..training.runner import run_experiment
    raw = raw_spec(spec_or_path, overrides_of(overrides, kw_overrides))
    raw.pop("sweep", None)
    exp = validate(raw)
    s = store_of(store)
    bar = progress_bar(progress, exp.display_name, exp.train.epochs)
    result = run_experiment(exp, s, **(bar.callbacks() if bar else {}))
    if bar:
        bar.close(f"{result.status} after {result.epochs_run} epochs, test accuracy {result.test_accuracy:.4f}")
    return Run(s, result.run_id, result=result)
