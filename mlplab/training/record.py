"""Populations' outcomes -> stored runs: create each run, log its epochs, evaluate the weights it
ends with, write its artifacts and close it (or mark it failed, interrupted).

Each run writes its trained weights by name (`weights_final.npz`); a population writes what a
Keras model is besides them once, in one file (`population.npz` in its first run's folder: the
model's config and every member's non-trainable state), and each run's summary says where. A
population of one (`mlplab run`, `ml.fit`) also writes its `model.keras` at once; the members of
a larger one get theirs the first time it is needed (stored.model.load_model): most
members of a sweep are never loaded, and saving a model.keras took longer than anything else a
member writes. The files of all members are written together (their fsyncs overlap), before any
run is marked finished.
"""
from __future__ import annotations

import csv
import io
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import yaml

from ..analysis.evaluate import evaluate
from ..analysis.health import of_run
from ..analysis.status import describe_result, result_epoch, status_of
from ..data import Dataset
from ..errors import BadInput
from ..engine.inference import hidden_sample, layer_index
from ..engine.program import Member, Outcome
from ..engine.models import set_weights
from ..spec import Experiment, describe_model
from ..store import Store, dumps
from ..store.artifacts import (FINAL_WEIGHTS, HIDDEN, HISTORY, INITIAL_WEIGHTS, MODEL_SUMMARY, POPULATION, PREDICTIONS,
                               SCALING, SPEC, STATS)
from ..stored.model import write_model_file
from .population import ModelFacts, Population

YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)   # libyaml's: the same text, 6x faster


@dataclass
class RunResult:
    run_id: str
    experiment: Experiment
    status: str
    epochs_run: int
    best_epoch: int | None
    seconds: float
    history: dict[str, list[float]]
    evaluation: dict
    test_loss: float
    test_accuracy: float
    params: int
    warnings: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)  # mlplab.status: {"epoch": ..., "train_loss": ..., ...}
    layers: list[str] = field(default_factory=list)
    health: dict = field(default_factory=dict)   # analysis.health: the doctor's verdict, {"health", "headline"}

    def to_json(self) -> dict:
        """The `--json` document of `mlplab run` (schema in the README)."""
        return {
            "run_id": self.run_id, "name": self.experiment.display_name, "status": self.status,
            "epochs_run": self.epochs_run, "best_epoch": self.best_epoch, "seconds": round(self.seconds, 3),
            "params": self.params, "result": self.result, "layers": self.layers,
            "test": {"loss": self.test_loss, "accuracy": self.test_accuracy},
            "history": self.history, "evaluation": self.evaluation, "warnings": self.warnings,
            "spec": self.experiment.resolved(),
        }


def start_runs(store: Store, experiments: list[Experiment], info, facts: ModelFacts, sweep_id: str | None,
               description: str | None = None) -> list[str]:
    """Create the runs (status running) with their spec and model summary; what stops that (a full disk)
    marks the runs created so far failed."""
    run_ids, files = [], []
    try:
        for exp in experiments:
            resolved = exp.resolved()
            run_id = store.create_run(name=exp.display_name, spec=resolved, dataset=info.name,
                                      model=description or describe_model(exp.model),
                                      optimizer=exp.train.optimizer.name, learning_rate=exp.train.lr, sweep_id=sweep_id)
            files += [(run_id, SPEC, yaml.dump(resolved, Dumper=YAML_DUMPER, sort_keys=False)),
                      (run_id, MODEL_SUMMARY, facts.summary)]
            run_ids.append(run_id)
        write_all(store, files)
    except BaseException as e:
        mark_failed(store, run_ids, e)
        raise
    return run_ids


def write_all(store: Store, files: list[tuple[str, str, bytes | str]]) -> None:
    """Write (run id, name, content) artifacts, several at once: each write waits on its fsync."""
    if len(files) <= 1:
        for f in files:
            store.write_artifact(*f)
        return
    with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
        for done in [pool.submit(store.write_artifact, *f) for f in files]:
            done.result()


def epoch_logger(store: Store, experiments: list[Experiment], run_ids: list[str], on_epoch=None) -> Callable:
    """engine.train's on_epoch: one store row per member and epoch, then the caller's callback."""
    def log(epoch: int, records: list[dict | None]) -> None:
        logged = [(exp, run_id, rec) for exp, run_id, rec in zip(experiments, run_ids, records) if rec is not None]
        store.log_epochs([(run_id, epoch, {k: v for k, v in rec.items() if k != "seconds"}, rec["seconds"])
                          for _, run_id, rec in logged])
        for exp, run_id, rec in logged if on_epoch else ():
            on_epoch(exp, run_id, epoch, rec)
    return log


def finish_runs(store: Store, run_ids: list[str], population: Population, outcomes: list[Outcome], data: Dataset,
                summaries: list[dict] | None = None) -> list[RunResult]:
    """Evaluate, save the artifacts and close each run; `summaries`: what each run's summary holds besides
    (ml.fit's Keras model, a repair candidate's repair_of)."""
    info, facts, models, chunk = data.info, population.facts, population.models, population.stored
    restore = bool(chunk[0].train.early_stopping and chunk[0].train.early_stopping.restore_best)
    shared = write_population(store, run_ids, models[0], outcomes)
    files, docs, results = [], [], []
    for exp, run_id, member, outcome, extra in zip(chunk, run_ids, population.members, outcomes,
                                                   summaries or [{}] * len(chunk)):
        evaluation = evaluate(outcome.test_probabilities, data.y_test, info.class_names)
        epoch = result_epoch(outcome.status, outcome.epochs_run, outcome.best_epoch, restore)
        result = {"epoch": epoch, **outcome.result,
                  "weights": describe_result(epoch, outcome.best_epoch, restore,
                                             outcome.status)}
        test_loss, test_acc = result.get("test_loss", float("nan")), result.get("test_accuracy", float("nan"))
        files += _files(run_id, models[0], member, outcome, data)
        note = None
        if not (shared and len(run_ids) > 1):   # a population of one: its model now, and its t-SNE's input
            note = _save_model(store, run_id, exp, models[0], outcome)
            files += _hidden_file(run_id, models[0], data)
        docs.append({"evaluation": evaluation, "data": _info_dict(info), "model_summary": facts.summary,
                     "result": result, "layers": facts.layers, **({"weights": shared[run_id]} if shared else {}),
                     **extra, **({"note": note} if note else {})})
        results.append(RunResult(run_id, exp, outcome.status, outcome.epochs_run, outcome.best_epoch,
                                 outcome.seconds, outcome.history, evaluation, test_loss, test_acc, facts.params,
                                 list(info.warnings), result, list(facts.layers)))
    write_all(store, files)   # every file of every member, before any run is finished
    for r, outcome, doc in zip(results, outcomes, docs):
        store.finish_run(r.run_id, status=outcome.status, epochs_run=outcome.epochs_run,
                         best_epoch=outcome.best_epoch, seconds=outcome.seconds, test_loss=r.test_loss,
                         test_accuracy=r.test_accuracy, params=facts.params, warnings=list(info.warnings), summary=doc,
                         error=outcome.diverged_how)
    for r, outcome, doc in zip(results, outcomes, docs):   # diagnosed from memory, kept with the run
        try:
            r.health = of_run(_record(r, doc, outcome), outcome.stats)
        except Exception as e:  # as the store's reader: a run the doctor cannot read keeps no verdict
            r.health = {"health": None, "headline": f"the doctor could not read this run ({type(e).__name__}: {e})"}
    store.keep_health([(r.run_id, r.status, r.health) for r in results])
    return results


def _record(r: RunResult, summary: dict, outcome: Outcome) -> dict:
    """A finished run as the store returns it (Store.get_run), for the doctor, from what is in memory."""
    history = {"epoch": list(range(1, len(outcome.history.get("loss", [])) + 1)), **outcome.history}
    return {"id": r.run_id, "name": r.experiment.display_name, "status": r.status, "spec": r.experiment.resolved(),
            "history": history, "summary": summary, "params": r.params, "warnings": list(r.warnings),
            "error": outcome.diverged_how, "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
            "seconds": r.seconds, "test_loss": r.test_loss, "test_accuracy": r.test_accuracy}


def write_population(store: Store, run_ids: list[str], model, outcomes: list[Outcome]) -> dict[str, dict]:
    """What rebuilds a member's model besides its weights_final.npz, for every member in one file: the
    model's config, the trainable variables' names, each member's non-trainable state (batch-norm
    statistics, dropout seeds). {run id: where} (empty when the model's config cannot be written)."""
    try:
        config = model.to_json()
    except Exception:  # a user's layer without get_config: model.keras (or weights_final.npz) instead
        return {}
    arrays = {"config": np.array(config), "trainable_names": np.array([v.path for v in model.trainable_variables])}
    for run_id, outcome in zip(run_ids, outcomes):
        arrays.update({f"{run_id}.n{j}": np.asarray(a) for j, a in enumerate(outcome.non_trainable)})
    store.write_artifact(run_ids[0], POPULATION, _npz(arrays, compress=False))
    return {run_id: {"run": run_ids[0], "file": POPULATION, "key": run_id} for run_id in run_ids}


def mark_failed(store: Store, run_ids: list[str], e: BaseException) -> None:
    """A run that fails keeps what it recorded, marked failed (interrupted for Ctrl-C)."""
    status = status_of(e)
    for run_id in run_ids:
        if store.get_run(run_id)["status"] == "running":
            store.set_status(run_id, status, error=None if status == "interrupted" else f"{type(e).__name__}: {e}")


def _info_dict(info) -> dict:
    return {"name": info.name, "source": info.source, "class_names": info.class_names,
            "input_shape": list(info.input_shape), "image_shape": list(info.image_shape or []) or None,
            "n_train": info.n_train, "n_val": info.n_val,
            "n_test": info.n_test, "class_counts": info.class_counts, "scale": info.scale,
            "value_min": info.value_min, "value_max": info.value_max, "warning_codes": list(info.warning_codes)}


def _files(run_id: str, model, member: Member, outcome: Outcome, data: Dataset) -> list[tuple[str, str, bytes | str]]:
    """A run's own artifacts besides its model: initial and trained weights, statistics, history, test
    predictions, and the statistics its inputs were scaled with (when the data stage scaled them)."""
    names = [v.path for v in model.trainable_variables]
    scaling = [(run_id, SCALING, dumps(data.scaling.to_json()) + "\n")] if data.scaling else []
    return [(run_id, INITIAL_WEIGHTS, _npz(dict(zip(names, member.trainable)), compress=False)),
            (run_id, FINAL_WEIGHTS, _npz(dict(zip(names, outcome.trainable)), compress=False)),
            (run_id, STATS, dumps(outcome.stats) + "\n"),   # compact: json's C encoder (not with indent)
            (run_id, HISTORY, _history_csv(outcome.history)),
            (run_id, PREDICTIONS, _npz({"probabilities": outcome.test_probabilities.astype("float32"),
                                        "y_true": data.y_test})), *scaling]


def _save_model(store: Store, run_id: str, exp: Experiment, model, outcome: Outcome) -> str | None:
    """Write the run's model.keras now; returns a note when it could not be written."""
    set_weights(model, outcome.trainable, outcome.non_trainable)
    try:
        write_model_file(store, run_id, model, exp.train)
    except Exception as e:  # a user's custom layer without get_config: its weights_final.npz stays
        return f"model.keras not saved ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
    return None


HIDDEN_WIDTH = 1024   # widest last hidden layer whose outputs are stored: at most 4 MB for 1000 samples


def _hidden_file(run_id: str, model, data: Dataset) -> list[tuple[str, str, bytes]]:
    """The trained model's last hidden layer on the t-SNE's test samples, so a report's t-SNE needs no Keras
    model (the one figure that otherwise loads it). None for a model without a hidden layer, or one wider than
    HIDDEN_WIDTH (a CNN's flattened maps: the figure then loads the model)."""
    try:
        index = layer_index(model)
    except BadInput:
        return []
    shape = model.layers[index].output.shape[1:]
    if None in shape or math.prod(shape) > HIDDEN_WIDTH:   # decided before the forward pass
        return []
    rows, outputs, layer = hidden_sample(model, data.x_test, layer=index)
    return [(run_id, HIDDEN, _npz({"rows": rows, "labels": data.y_test[rows], "outputs": outputs.astype("float32"),
                                   "layer": np.array(layer)}))]


def _history_csv(history: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    keys = list(history)
    writer = csv.writer(buf)
    writer.writerow(["epoch", *keys])
    for i in range(len(history.get("loss", []))):
        writer.writerow([i + 1, *(history[k][i] for k in keys)])
    return buf.getvalue()


def _npz(arrays: dict[str, np.ndarray], compress: bool = True) -> bytes:
    """Weights are written as they are: compressing float weights saves little and costs much."""
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    return buf.getvalue()
