"""The read model: a stored run read back, for every reader (present, cli, api, web, export, predict).

stored.artifacts (RunArtifacts: a run's files, each loaded once; its stats, findings, scaling, progress),
stored.folder (its folder: run_folder, which says so when it is gone; every reader finds it there),
stored.model (its Keras model: model.keras, made from the population's file when first needed),
stored.repair_report (the doctor's --fix report: candidates, the judgement, why a run has nothing to repair),
stored.tensorboard (TensorBoard tags and writer helpers, shared by training's live writer and export).
The files' names are store.artifacts'; only stored.model imports Keras, and only inside its functions.
"""
from .artifacts import RunArtifacts, load_findings, load_stats
from .folder import missing_folder, run_folder
from .model import load_model, model_file

__all__ = ["RunArtifacts", "load_findings", "load_model", "load_stats", "missing_folder", "model_file", "run_folder"]
