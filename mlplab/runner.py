"""Experiments -> stored runs: the data flow of DESIGN.md, one plain call per arrow.

`run_experiments` groups experiments by what one compiled program must share,
trains each group as one population and stores every member as an ordinary
run. `run_experiment` is the population of one behind `mlplab run`.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import yaml

from . import engine
from .data import Dataset, load_dataset
from .errors import BadInput
from .evaluate import evaluate
from .models import build_model, count_params, regularization, set_weights, summary
from .optimizers import STATIC, defaults, keras_optimizer
from .spec import Experiment, describe_model
from .store import Store

EXIT_CODES = {"ok": 0, "stopped": 0, "diverged": 1, "failed": 1, "interrupted": 130}


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

    def to_json(self) -> dict:
        """The `--json` document of `mlplab run` (schema in the README)."""
        return {
            "run_id": self.run_id, "name": self.experiment.display_name, "status": self.status,
            "epochs_run": self.epochs_run, "best_epoch": self.best_epoch, "seconds": round(self.seconds, 3),
            "params": self.params,
            "test": {"loss": self.test_loss, "accuracy": self.test_accuracy},
            "history": self.history, "evaluation": self.evaluation, "warnings": self.warnings,
            "spec": self.experiment.resolved(),
        }


def load_data(exp: Experiment) -> Dataset:
    flatten = exp.data.flatten if exp.data.flatten is not None else not exp.model.convolutional
    options = exp.data.options
    folds, fold = options.pop("folds", None), options.pop("fold", 0)
    data = load_dataset(exp.data.dataset, scale=exp.data.scale,
                        validation_split=0.0 if folds else exp.data.validation_split,
                        flatten=flatten, options=options)
    return cross_validation_fold(data, folds, fold) if folds else data


def cross_validation_fold(data: Dataset, folds: int, fold: int) -> Dataset:
    """Fold `fold` of a stratified k-fold split of the training rows as the validation set
    (scikit-learn's StratifiedKFold without shuffling, as GridSearchCV uses)."""
    from dataclasses import replace
    from sklearn.model_selection import StratifiedKFold
    if not (isinstance(folds, int) and folds >= 2 and isinstance(fold, int) and 0 <= fold < folds):
        raise BadInput(f"data.fold = {fold!r} of data.folds = {folds!r}: expected folds >= 2 and 0 <= fold < folds")
    try:
        train, val = list(StratifiedKFold(n_splits=folds).split(data.x_train, data.y_train))[fold]
    except ValueError as e:
        raise BadInput(f"data.folds = {folds}: {e}") from None
    info = replace(data.info, n_train=len(train), n_val=len(val))
    return replace(data, x_train=data.x_train[train], y_train=data.y_train[train],
                   x_val=data.x_train[val], y_val=data.y_train[val], info=info)


def check_compatible(exp: Experiment, data: Dataset) -> None:
    es = exp.train.early_stopping
    if es and es.monitor.startswith("val_") and len(data.x_val) == 0:
        raise BadInput(f"train.early_stopping.monitor = \"{es.monitor}\": needs data.validation_split > 0; "
                       "set a split, monitor \"loss\", or early_stopping = false")


def program_key(exp: Experiment) -> str:
    """What must be equal for two experiments to train in one compiled program."""
    model = exp.model.model_dump(mode="json", exclude={"init", "l1", "l2"})
    for layer in model.get("layers") or []:
        for key in ("init", "l1", "l2"):
            layer.pop(key, None)
    # the optimizer is not part of it: a group of several optimizers trains as a mixed population
    train = exp.train.model_dump(mode="json", exclude={"optimizer", "learning_rate"})
    return json.dumps([exp.data.model_dump(mode="json"), model, train], sort_keys=True)


def optimizer_kind(exp: Experiment) -> tuple[str, tuple]:
    opt = exp.train.optimizer.settings()
    return exp.train.optimizer.name, tuple(sorted((k, bool(opt[k])) for k in STATIC if k in opt))


def _member(exp: Experiment, model, kinds: list[tuple[str, tuple]] | None = None) -> engine.Member:
    """What this experiment brings to a population; with several optimizer kinds, its
    hyperparameters cover every kind's (the others' defaults) plus its own kind's index."""
    trainable = [np.asarray(v.value) for v in model.trainable_variables]
    non_trainable = [np.asarray(v.value) for v in model.non_trainable_variables]
    hyper = {k: float(v) for k, v in exp.train.optimizer.settings().items() if k not in STATIC}
    if kinds and len(kinds) > 1:
        for name, _ in kinds:
            for k, v in defaults(name).items():
                if k not in STATIC:
                    hyper.setdefault(k, float(v))
        hyper["kind"] = float(kinds.index(optimizer_kind(exp)))
    return engine.Member(trainable, non_trainable, hyper, regularization(model), seed=exp.seed)


def _program(exp: Experiment, model, kinds: list[tuple[str, tuple]] | None = None) -> engine.Program:
    return engine.Program(model=model, optimizers=tuple(kinds or [optimizer_kind(exp)]), loss=exp.train.loss,
                          batch_size=exp.train.batch_size, epochs=exp.train.epochs, shuffle=exp.train.shuffle,
                          early_stopping=exp.train.early_stopping)


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


def _save(store: Store, run_id: str, exp: Experiment, model, member: engine.Member, outcome: engine.Outcome,
          data: Dataset) -> None:
    names = [v.path for v in model.trainable_variables]
    store.write_artifact(run_id, "weights_init.npz", _npz(dict(zip(names, member.trainable))))
    store.write_json(run_id, "stats.json", outcome.stats)
    set_weights(model, outcome.trainable, outcome.non_trainable)
    model.compile(optimizer=keras_optimizer(exp.train.optimizer.name, exp.train.optimizer.settings()),
                  loss=exp.train.loss, metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)  # so load_model finds the variables it expects
    with store.artifact_writer(run_id, "model.keras") as tmp:
        model.save(tmp)
    store.write_artifact(run_id, "history.csv", _history_csv(outcome.history))
    store.write_artifact(run_id, "predictions.npz", _npz({"probabilities": outcome.test_probabilities.astype("float32"),
                                                          "y_true": data.y_test}))


def _final_test(outcome: engine.Outcome, restore_best: bool) -> tuple[float, float]:
    """Test loss/accuracy of the weights the run ends with (the best epoch's when restored)."""
    h = outcome.history
    if not h.get("test_loss"):
        return float("nan"), float("nan")
    i = (outcome.best_epoch - 1) if (restore_best and outcome.best_epoch and outcome.status != "diverged") else -1
    return h["test_loss"][i], h["test_accuracy"][i]


MEMORY_BUDGET = 2 * 2**30  # bytes a population may take; larger groups train in chunks


def population_size(params: int, batch_size: int, input_size: int, budget: float = MEMORY_BUDGET) -> int:
    """How many members fit the budget: weights, gradients, optimizer slots, best and
    start-of-epoch copies (about 12 float32 copies of the parameters) plus a batch."""
    per_member = 4 * (12 * params + 4 * batch_size * input_size)
    return max(1, min(1024, int(budget // per_member)))


def groups_of(experiments: list[Experiment]) -> list[list[Experiment]]:
    """Experiments that can share one compiled program, in order of first appearance."""
    groups: dict[str, list[Experiment]] = {}
    for exp in experiments:
        groups.setdefault(program_key(exp), []).append(exp)
    return list(groups.values())


def run_experiments(experiments: list[Experiment], store: Store, *, sweep_id: str | None = None,
                    on_epoch: Callable[[Experiment, str, int, dict], None] | None = None,
                    on_start: Callable[[list[Experiment]], None] | None = None,
                    memory_budget: float = MEMORY_BUDGET) -> list[RunResult]:
    """Train every experiment, one population per program; every member becomes a stored run."""
    results: list[RunResult] = []
    for group in groups_of(experiments):
        results += _run_group(group, store, sweep_id, on_epoch, on_start, memory_budget)
    order = {id(e): i for i, e in enumerate(experiments)}
    return sorted(results, key=lambda r: order[id(r.experiment)])


def _chunks(items: list, size: int) -> list[list]:
    """Split into equal chunks of at most `size`; the last is padded with repeats of its
    first item so every chunk has the same shape (one compiled program)."""
    count = -(-len(items) // size)
    size = -(-len(items) // count)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    return [c + [c[0]] * (size - len(c)) for c in chunks]


def _run_group(group: list[Experiment], store: Store, sweep_id, on_epoch, on_start,
               memory_budget: float) -> list[RunResult]:
    first = group[0]
    data = load_data(first)
    check_compatible(first, data)
    info = data.info
    results: list[RunResult] = []
    compiled = None
    kinds = sorted({optimizer_kind(e) for e in group})
    template = build_model(first.model, info.input_shape, info.num_classes, first.train.loss, first.seed)
    size = population_size(count_params(template), first.train.batch_size, int(np.prod(info.input_shape)),
                           memory_budget)
    for chunk in _chunks(list(range(len(group))), size):
        real = list(dict.fromkeys(chunk))  # padding repeats are trained but not stored
        chunk_results, compiled = _run_chunk([group[i] for i in chunk], len(real), kinds, store, sweep_id,
                                             on_epoch, on_start, data, compiled)
        results += chunk_results
    return results


def _run_chunk(group: list[Experiment], real: int, kinds: list, store: Store, sweep_id, on_epoch, on_start,
               data: Dataset, compiled) -> tuple[list[RunResult], object]:
    first = group[0]
    info = data.info
    built: dict[tuple, object] = {}  # members with the same model spec and seed start from the same weights
    for e in group:
        key = (e.model.model_dump_json(), e.seed)
        if key not in built:
            built[key] = build_model(e.model, info.input_shape, info.num_classes, e.train.loss, e.seed)
    models = [built[(e.model.model_dump_json(), e.seed)] for e in group]
    members = [_member(e, m, kinds) for e, m in zip(group, models)]
    program = _program(first, models[0], kinds)
    summary_text = summary(models[0])
    params = count_params(models[0])
    run_ids = []
    for exp in group[:real]:
        run_id = store.create_run(name=exp.display_name, spec=exp.resolved(), dataset=info.name,
                                  model=describe_model(exp.model), optimizer=exp.train.optimizer.name,
                                  learning_rate=exp.train.lr, sweep_id=sweep_id)
        store.write_artifact(run_id, "spec.yaml", yaml.safe_dump(exp.resolved(), sort_keys=False))
        store.write_artifact(run_id, "summary.txt", summary_text)
        run_ids.append(run_id)
    if on_start:
        on_start(group[:real])

    def log(epoch: int, records: list[dict | None]) -> None:
        for exp, run_id, rec in zip(group, run_ids, records):
            if rec is not None:
                store.log_epoch(run_id, epoch, {k: v for k, v in rec.items() if k != "seconds"}, rec["seconds"])
                if on_epoch:
                    on_epoch(exp, run_id, epoch, rec)

    if compiled is None or compiled.regularized != engine.regularized_variables(members):
        compiled = engine.Compiled(program, info.num_classes, engine.regularized_variables(members))
    try:
        outcomes = engine.train(program, members, data, on_epoch=log, compiled=compiled)
    except BaseException as e:
        for run_id in run_ids:
            store.set_status(run_id, "failed", error=f"{type(e).__name__}: {e}")
        raise

    results = []
    restore = bool(first.train.early_stopping and first.train.early_stopping.restore_best)
    for exp, run_id, member, outcome in zip(group[:real], run_ids, members, outcomes):
        evaluation = evaluate(outcome.test_probabilities, data.y_test, info.class_names)
        test_loss, test_acc = _final_test(outcome, restore)
        _save(store, run_id, exp, models[0], member, outcome, data)
        summary_doc = {"evaluation": evaluation, "data": _info_dict(info), "model_summary": summary_text}
        store.finish_run(run_id, status=outcome.status, epochs_run=outcome.epochs_run,
                         best_epoch=outcome.best_epoch, seconds=outcome.seconds, test_loss=test_loss,
                         test_accuracy=test_acc, params=params, warnings=list(info.warnings), summary=summary_doc)
        results.append(RunResult(run_id, exp, outcome.status, outcome.epochs_run, outcome.best_epoch,
                                 outcome.seconds, outcome.history, evaluation, test_loss, test_acc, params,
                                 list(info.warnings)))
    return results, compiled


def _info_dict(info) -> dict:
    return {"name": info.name, "source": info.source, "class_names": info.class_names,
            "input_shape": list(info.input_shape), "n_train": info.n_train, "n_val": info.n_val,
            "n_test": info.n_test, "class_counts": info.class_counts, "scale": info.scale,
            "value_min": info.value_min, "value_max": info.value_max}


def run_experiment(exp: Experiment, store: Store, **callbacks) -> RunResult:
    return run_experiments([exp], store, **callbacks)[0]
