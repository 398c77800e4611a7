"""Figures as matplotlib `Figure` objects, by theme; every figure function is importable from here.

    samples      sample_grid: training samples, or a scatter of non-image data
    curves       learning_curves (one run), overlaid_curves (several), metric_label
    sweeps       sweep_heatmap, sweep_spread: a sweep's configurations compared
    sweep_analysis  parallel_coordinates, importance_bars, slices: which swept keys matter
    predictions  confusion_matrix, misclassified, probability_bars, class_probability_histograms
    model        weight_distributions, first_layer_weights, training_statistics, embedding, decision_regions

Each function takes arrays (no store, no run) and returns a Figure built with
`matplotlib.figure.Figure` directly: never registered with pyplot, no backend switched, no
`plt.close` needed. The caller saves it (`fig.savefig(path)`) or embeds it. Importing them
imports neither JAX nor Keras: the figures that run a model (embedding, decision regions)
do so through engine.inference, which imports them on first use.

A run's figures by name (what the report, `run.<name>()` and the dashboard draw) are listed in
mlplab.present.registry: a new figure is its function here plus one entry there.
"""
from ...engine.inference import layer_output
from .curves import learning_curves, metric_label, overlaid_curves
from .model import decision_regions, embedding, first_layer_weights, training_statistics, weight_distributions
from .predictions import class_probability_histograms, confusion_matrix, misclassified, probability_bars
from .samples import dataset_samples, indexed_samples, sample_grid
from .sweep_analysis import importance_bars, parallel_coordinates, slices
from .sweeps import sweep_heatmap, sweep_spread

__all__ = ["class_probability_histograms", "confusion_matrix", "decision_regions", "embedding", "first_layer_weights", "layer_output",
           "importance_bars", "learning_curves", "metric_label", "misclassified", "overlaid_curves", "parallel_coordinates", "probability_bars",
           "dataset_samples", "indexed_samples", "sample_grid", "slices", "sweep_heatmap", "sweep_spread", "training_statistics", "weight_distributions"]
