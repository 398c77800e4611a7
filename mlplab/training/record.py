"""Populations' outcomes -> stored runs: create each run, log its epochs, evaluate the weights it
ends with, write its artifacts and close it (or mark it failed, interrupted).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import yaml

from ..analysis.evaluate import evaluate
from ..analysis.status import describe_result, result_epoch, status_of
from ..data import Dataset
from ..engine.program import Member, Outcome
from ..engine.models import count_params, set_weights, summary
from ..engine.optimizers import keras_optimizer
from ..spec import Experiment, describe_model
from ..store import Store


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


def start_runs(store: Store, experiments: list[Experiment], info, model, sweep_id: str | None,
               description: str | None = None) -> list[str]:
    """Create the runs (status running) with their spec and model summary."""
    summary_text = summary(model)
    run_ids = []
    for exp in experiments:
        run_id = store.create_run(name=exp.display_name, spec=exp.resolved(), dataset=info.name,
                                  model=description or describe_model(exp.model), optimizer=exp.train.optimizer.name,
                                  learning_rate=exp.train.lr, sweep_id=sweep_id)
        store.write_artifact(run_id, "spec.yaml", yaml.safe_dump(exp.resolved(), sort_keys=False))
        store.write_artifact(run_id, "summary.txt", summary_text)
        run_ids.append(run_id)
    return run_ids


def epoch_logger(store: Store, experiments: list[Experiment], run_ids: list[str], on_epoch=None) -> Callable:
    """engine.train's on_epoch: one store row per member and epoch, then the caller's callback."""
    def log(epoch: int, records: list[dict | None]) -> None:
        for exp, run_id, rec in zip(experiments, run_ids, records):
            if rec is not None:
                store.log_epoch(run_id, epoch, {k: v for k, v in rec.items() if k != "seconds"}, rec["seconds"])
                if on_epoch:
                    on_epoch(exp, run_id, epoch, rec)
    return log


def finish_runs(store: Store, run_ids: list[str], chunk: list[Experiment], models: list, members: list,
                outcomes: list[Outcome], data: Dataset, extra_summary: dict | None = None) -> list[RunResult]:
    """Evaluate, save the artifacts and close each run."""
    info = data.info
    summary_text, params = summary(models[0]), count_params(models[0])
    layers = [layer.name for layer in models[0].layers]
    restore = bool(chunk[0].train.early_stopping and chunk[0].train.early_stopping.restore_best)
    results = []
    for exp, run_id, member, outcome in zip(chunk, run_ids, members, outcomes):
        evaluation = evaluate(outcome.test_probabilities, data.y_test, info.class_names)
        epoch = result_epoch(outcome.status, outcome.epochs_run, outcome.best_epoch, restore)
        result = {"epoch": epoch, **outcome.result,
                  "weights": describe_result(epoch, outcome.best_epoch, restore,
                                             outcome.status)}
        test_loss, test_acc = result.get("test_loss", float("nan")), result.get("test_accuracy", float("nan"))
        note = _save(store, run_id, exp, models[0], member, outcome, data)
        summary_doc = {"evaluation": evaluation, "data": _info_dict(info), "model_summary": summary_text,
                       "result": result, "layers": layers,
                       **(extra_summary or {}), **({"note": note} if note else {})}
        store.finish_run(run_id, status=outcome.status, epochs_run=outcome.epochs_run,
                         best_epoch=outcome.best_epoch, seconds=outcome.seconds, test_loss=test_loss,
                         test_accuracy=test_acc, params=params, warnings=list(info.warnings), summary=summary_doc,
                         error=outcome.diverged_how)
        results.append(RunResult(run_id, exp, outcome.status, outcome.epochs_run, outcome.best_epoch,
                                 outcome.seconds, outcome.history, evaluation, test_loss, test_acc, params,
                                 list(info.warnings), result, layers))
    return results


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
            "value_min": info.value_min, "value_max": info.value_max}


def _save(store: Store, run_id: str, exp: Experiment, model, member: Member, outcome: Outcome,
          data: Dataset) -> str | None:
    """Write the run's artifacts; returns a note when model.keras could not be written."""
    names = [v.path for v in model.trainable_variables]
    store.write_artifact(run_id, "weights_init.npz", _npz(dict(zip(names, member.trainable))))
    store.write_json(run_id, "stats.json", outcome.stats)
    store.write_artifact(run_id, "history.csv", _history_csv(outcome.history))
    store.write_artifact(run_id, "predictions.npz", _npz({"probabilities": outcome.test_probabilities.astype("float32"),
                                                          "y_true": data.y_test}))
    set_weights(model, outcome.trainable, outcome.non_trainable)
    try:
        model.compile(optimizer=keras_optimizer(exp.train.optimizer.name, exp.train.optimizer.settings()),
                      loss=exp.train.loss, metrics=["accuracy"])
        model.optimizer.build(model.trainable_variables)  # so load_model finds the variables it expects
        with store.artifact_writer(run_id, "model.keras") as tmp:
            model.save(tmp)
    except Exception as e:  # a user's custom layer without get_config: keep the weights instead
        store.write_artifact(run_id, "weights_final.npz", _npz(dict(zip(names, outcome.trainable))))
        return f"model.keras not saved ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
    return None


def _history_csv(history: dict[str, list[float]]) -> str:
    buf = io.StringIO()
    keys = list(history)
    writer = csv.writer(buf)
    writer.writerow(["epoch", *keys])
    for i in range(len(history.get("loss", []))):
        writer.writerow([i + 1, *(history[k][i] for k in keys)])
    return buf.getvalue()


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()
