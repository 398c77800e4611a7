"""A run's figures by name: the one list the report, the Python API and the dashboard read.

    figure_for(RunArtifacts(store, run), "confusion-matrix")      # a matplotlib Figure
    FIGURE_NAMES                                                  # every name, in report order

Each entry says how to draw the figure from a stored run's artifacts (`draw(art, **options)`),
which runs it applies to (`needs`: image data, 2-feature data, a stored model), its caption
and where the report shows it. The report draws every entry that applies to a run, `Run` has
one method per entry (the name with "_": `run.confusion_matrix()`), and the dashboard serves
`/runs/<id>/figures/<name>.png`. Adding a figure: its function in present/figures/, one entry
below.

A sweep's figures (SWEEP_REGISTRY: parallel coordinates, parameter importance, slices) are drawn
from its table rows the same way: `sweep_figure(name, rows, keys, metric)`, `sweep.figure(name)`,
the sweep report and `/sweeps/<id>/figures/<name>.png`.

A figure of a run that has ended is a stored view (present.views): drawn the first time it is
asked for (with these options), its PNG kept in the run's artifact folder, and served from there
afterwards, by figure_for (a StoredFigure: the PNG until used as a figure) and figure_png (bytes).
The t-SNE behind "hidden-representation" is a stored view of its own (the points), so a figure
drawn again (another size, a changed run page) does not compute it again.
"""
from __future__ import annotations

import inspect
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..engine.inference import EMBED_SAMPLES, hidden_sample
from . import views

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..stored import RunArtifacts

IMAGE, TWO_D, MODEL = "image", "2d", "model"   # what a figure may need of a run


@dataclass(frozen=True)
class FigureEntry:
    """One figure of a run."""
    name: str                                # "confusion-matrix": the report's, the dashboard's, the API's name
    draw: Callable[..., "Figure"]            # draw(art: RunArtifacts, **options) -> Figure
    caption: str                             # what it shows (report heading, alt text, the API method's doc)
    needs: frozenset[str] = frozenset()      # of IMAGE, TWO_D, MODEL: the runs it applies to
    section: str = ""                        # the report section it is drawn in (default: its own)
    report: dict = field(default_factory=dict)   # the options the report draws it with
    width: int | None = None                 # the report's largest width for it, in pixels

    @property
    def method(self) -> str:
        """The `Run` method that draws it: "confusion-matrix" -> run.confusion_matrix()."""
        return self.name.replace("-", "_")

    @property
    def report_section(self) -> str:
        return self.section or self.name

    def applies(self, traits: frozenset[str]) -> bool:
        return self.needs <= traits

    def options(self, args: tuple = (), options: dict | None = None) -> dict:
        """The figure's options as keywords, with the defaults its `draw` declares (a view's key)."""
        bound = inspect.signature(self.draw).bind(None, *args, **(options or {}))
        bound.apply_defaults()
        named = dict(list(bound.arguments.items())[1:])
        for p in inspect.signature(self.draw).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                named.update(named.pop(p.name, {}))
        return named


def run_traits(art: "RunArtifacts") -> frozenset[str]:
    """What a stored run has of IMAGE (image inputs), TWO_D (2 input features), MODEL (a stored model).
    Kept as a view of the run: an older run knows its image shape only from its data."""
    def compute() -> bytes:
        traits = []
        try:
            if art.image_shape is not None:
                traits.append(IMAGE)
            if art.n_features == 2:
                traits.append(TWO_D)
        except Exception:  # data that no longer loads: no data-dependent figure, the rest still drawn
            pass
        return " ".join(traits).encode()
    known = views.stored_view(art, "traits", "txt", {}, compute).decode().split()
    return frozenset(known + ([MODEL] if art.has_model else []))


# ---------------------------------------------------------------- how each figure is drawn from a run

def _figures():
    """present.figures, imported when a figure is first drawn: serving stored views needs no matplotlib."""
    from . import figures as module
    return module


def _samples(art, **options):
    d = art.data
    return _figures().sample_grid(d.x_train, d.y_train, art.class_names, art.image_shape, **options)


def _class_samples(art, class_index: int = 0, **options):
    return _samples(art, class_index=class_index, **options)


def _learning_curves(art, **options):
    run = art.run
    stopped = run.get("epochs_run") if run.get("status") == "stopped" else None
    return _figures().learning_curves(run.get("history") or {}, best_epoch=run.get("best_epoch"),
                                   stopped_epoch=stopped, **options)


def _confusion_matrix(art):
    probs, y_true = art.predictions
    return _figures().confusion_matrix(y_true, probs, art.class_names)


def _gallery(mode: str) -> Callable:
    def draw(art, **options):
        probs, y_true = art.predictions
        return _figures().misclassified(art.data.x_test, y_true, probs, art.class_names, art.image_shape, mode=mode,
                                     **options)
    return draw


def _probabilities(art, **options):
    probs, y_true = art.predictions
    return _figures().probability_bars(art.data.x_test, y_true, probs, art.class_names, art.image_shape, **options)


def _class_histograms(art):
    probs, y_true = art.predictions
    return _figures().class_probability_histograms(y_true, probs, art.class_names)


def _weights(art, **options):
    return _figures().weight_distributions(art.initial_weights, art.final_weights, **options)


def _first_layer_weights(art, n: int = 36):
    """From the stored trained weights (weights_final.npz: no Keras model is loaded), else the model's."""
    from .figures.model import first_layer_weights
    return first_layer_weights(art.final_weights, art.image_shape, art.class_names, n=n)


def _training_statistics(art):
    return _figures().training_statistics(art.stats or {})


def _hidden_representation(art, layer: int | str | None = None, n: int = EMBED_SAMPLES, seed: int = 0,
                           perplexity: float = 30.0):
    e = embedding_of(art, layer=layer, n=n, seed=seed, perplexity=perplexity)
    from .figures.model import embedding_figure
    return embedding_figure(e["points"], e["labels"], art.class_names, str(e["layer"]))


def embedding_of(art, *, layer=None, n: int = EMBED_SAMPLES, seed: int = 0, perplexity: float = 30.0) -> dict:
    """The t-SNE of a hidden layer on `n` test samples, as a stored view: {points, labels, layer}."""
    n_test = ((art.run.get("summary") or {}).get("data") or {}).get("n_test")
    options = {"layer": layer, "n": min(n, n_test) if n_test else n, "seed": seed, "perplexity": perplexity}

    def compute() -> bytes:
        from ..analysis.embedding import tsne_points
        with views.timed(f"run {art.id}: t-SNE of a hidden layer on {options['n']} test samples "
                         "(computed once, then stored with the run)"):
            stored = art.hidden if layer is None and seed == 0 else None   # what the run stored at its end
            if stored is not None and len(stored["rows"]) == options["n"]:
                labels, h, name = stored["labels"], stored["outputs"], stored["layer"]
            else:
                rows, h, name = hidden_sample(art.model, art.data.x_test, layer=layer, n=n, seed=seed)
                labels = art.data.y_test[rows]
            points = tsne_points(h, seed=seed, perplexity=perplexity)
        buf = io.BytesIO()
        np.savez(buf, points=points.astype(np.float32), labels=np.asarray(labels)[:len(points)], layer=np.array(name))
        return buf.getvalue()
    with np.load(io.BytesIO(views.stored_view(art, "embedding", "npz", options, compute))) as z:
        return {"points": z["points"], "labels": z["labels"], "layer": str(z["layer"])}


def _decision_regions(art, **options):
    data = art.experiment.data
    curves_a = float(data.options.get("a", 1.0)) if data.dataset == "cosine2d" and data.scale == "none" else None
    return _figures().decision_regions(art.model, art.data.x_train, art.data.y_train, art.class_names,
                                    curves_a=curves_a, **options)


# ---------------------------------------------------------------- the registry, in report order

REGISTRY: dict[str, FigureEntry] = {e.name: e for e in (
    FigureEntry("samples", _samples, "Random training samples", section="data", width=520),
    FigureEntry("class-samples", _class_samples, "Samples of the first class", needs=frozenset({IMAGE}),
                section="data", report={"class_index": 0, "n": 16}, width=420),
    FigureEntry("learning-curves", _learning_curves, "Learning curves"),
    FigureEntry("confusion-matrix", _confusion_matrix, "Confusion matrix"),
    FigureEntry("mistakes", _gallery("confident"), "Most confident mistakes", needs=frozenset({IMAGE})),
    FigureEntry("random-mistakes", _gallery("random"), "Random mistakes", needs=frozenset({IMAGE}),
                section="mistakes"),
    FigureEntry("correct", _gallery("correct"), "Most confidently correct", needs=frozenset({IMAGE}),
                section="mistakes"),
    FigureEntry("probabilities", _probabilities, "Class probabilities of test images", needs=frozenset({IMAGE}),
                report={"n": 9}),
    FigureEntry("class-histograms", _class_histograms, "Predicted probability per class"),
    FigureEntry("weights", _weights, "Weight distributions", needs=frozenset({MODEL})),
    FigureEntry("first-layer-weights", _first_layer_weights, "First-layer weights as images",
                needs=frozenset({IMAGE, MODEL}), section="weights"),
    FigureEntry("training-statistics", _training_statistics, "Training statistics"),
    FigureEntry("hidden-representation", _hidden_representation, "t-SNE of the last hidden layer",
                needs=frozenset({MODEL})),
    FigureEntry("decision-regions", _decision_regions, "Decision regions", needs=frozenset({MODEL, TWO_D})),
)}

FIGURE_NAMES: tuple[str, ...] = tuple(REGISTRY)


def entry(name: str) -> FigureEntry:
    """The registry entry of a figure name (ValueError naming the known ones)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"figure {name!r}: expected one of {', '.join(FIGURE_NAMES)}") from None


def figure_for(art: "RunArtifacts", name: str, *args, **options) -> "Figure":
    """One figure of a stored run by name (see FIGURE_NAMES); options go to the figure function.

    A run that has ended gets its stored view: a StoredFigure whose `savefig(..., format="png",
    dpi=80)` writes the stored PNG without drawing anything, and which draws itself for any
    other use. The first request draws it and stores its PNG; a running run's figure is drawn
    each time."""
    from .stored_figure import StoredFigure, render_png
    e = entry(name)
    options = e.options(args, options)

    def draw() -> "Figure":
        return e.draw(art, **options)
    if views.view_file(art, name, "png", options) is None:
        return draw()
    png = views.stored_or_none(art, name, "png", options)
    if png is not None:
        return StoredFigure(png, draw, name=name)
    made: dict = {}

    def compute() -> bytes:
        made["fig"] = draw()
        return render_png(made["fig"])
    png = views.stored_view(art, name, "png", options, compute)
    return StoredFigure(png, draw, real=made.get("fig"), name=name)


def figure_png(art: "RunArtifacts", name: str, **options) -> bytes:
    """A figure of a stored run as the PNG the report embeds and the dashboard serves (a stored view)."""
    from .stored_figure import render_png
    e = entry(name)
    options = e.options((), options)
    return views.stored_view(art, name, "png", options, lambda: render_png(e.draw(art, **options)))


def stored_png(art: "RunArtifacts", name: str, **options) -> bytes | None:
    """The figure's stored PNG (what figure_png returns without drawing), or None when it is not stored."""
    return views.stored_or_none(art, name, "png", entry(name).options((), options))


def applicable(art: "RunArtifacts") -> tuple[str, ...]:
    """The names of the figures that apply to this run (those its report draws)."""
    traits = run_traits(art)
    return tuple(name for name, e in REGISTRY.items() if e.applies(traits))


# ---------------------------------------------------------------- a sweep's figures, by name

@dataclass(frozen=True)
class SweepFigureEntry:
    """One figure of a sweep, drawn from its table rows (best first), swept keys and ranking metric."""
    name: str                                # "parallel-coordinates": the report's, the dashboard's, the API's name
    draw: Callable[..., "Figure"]            # draw(rows, keys, metric) -> Figure
    caption: str


def _importance(rows, keys, metric):
    from ..analysis.sweep_importance import importance
    return _figures().importance_bars(importance(rows, keys, metric))


SWEEP_REGISTRY: dict[str, SweepFigureEntry] = {e.name: e for e in (
    SweepFigureEntry("parallel-coordinates", lambda rows, keys, metric: _figures().parallel_coordinates(
        rows, keys, metric), "Parallel coordinates: every configuration through its values to its score"),
    SweepFigureEntry("importance", _importance, "Parameter importance: each key's share of the score's variance"),
    SweepFigureEntry("slices", lambda rows, keys, metric: _figures().slices(rows, keys, metric),
                     "Slices: the score against each key alone"),
)}

SWEEP_FIGURE_NAMES: tuple[str, ...] = tuple(SWEEP_REGISTRY)


def sweep_figure(name: str, rows: list[dict], keys: list[str], metric: str) -> "Figure":
    """One figure of a sweep by name (SWEEP_FIGURE_NAMES; ValueError naming them) from its table rows."""
    if name not in SWEEP_REGISTRY:
        raise ValueError(f"sweep figure {name!r}: expected one of {', '.join(SWEEP_FIGURE_NAMES)}")
    return SWEEP_REGISTRY[name].draw(rows, keys, metric)
