"""Experiments -> stored runs: the data flow of DESIGN.md, one plain call per arrow.

`run_experiments` groups experiments by what one compiled program must share,
trains each group as one population and stores every member as an ordinary
run. `run_experiment` is the population of one behind `mlplab run`.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import yaml

from ..engine import train as engine
from ..data import Dataset, load_dataset
from ..errors import BadInput
from ..analysis.evaluate import evaluate
from ..engine.models import build_model, count_params, regularization, set_weights, summary
from ..engine.optimizers import STATIC, defaults, keras_optimizer
from ..spec import Experiment, describe_model
from ..analysis.status import EXIT_CODES, describe_result, status_of  # noqa: F401  (EXIT_CODES: the CLI's)
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
    counts = {"train": np.bincount(data.y_train[train], minlength=data.info.num_classes).tolist(),
              "val": np.bincount(data.y_train[val], minlength=data.info.num_classes).tolist(),
              "test": data.info.class_counts["test"]}
    info = replace(data.info, n_train=len(train), n_val=len(val), class_counts=counts)
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
                    memory_budget: float = MEMORY_BUDGET, executor: str = "local",
                    address: str | None = None) -> list[RunResult]:
    """Train every experiment, one population per program; every member becomes a stored run.

    executor "local" trains the populations here, one after another; "ray" hands each
    population (or chunk of one) to a Ray cluster as a task (see mlplab.executors);
    either way this process alone writes the store.
    """
    plans = [plan_group(group, memory_budget) for group in groups_of(experiments)]
    if executor == "ray":
        from .executors import run_on_ray
        results = run_on_ray(plans, store, sweep_id=sweep_id, address=address, on_start=on_start)
    else:
        results = []
        for plan in plans:
            compiled = None
            for chunk, real in zip(plan.chunks, plan.real):
                chunk_results, compiled = _run_chunk(plan, chunk, real, store, sweep_id, on_epoch, on_start,
                                                     compiled)
                results += chunk_results
                if any(r.status == "interrupted" for r in chunk_results):
                    break  # Ctrl-C: what trained is stored; train nothing more
            else:
                continue
            break
    order = {id(e): i for i, e in enumerate(experiments)}
    return sorted(results, key=lambda r: order[id(r.experiment)])


def _chunks(items: list, size: int) -> list[list]:
    """Split into equal chunks of at most `size`; the last is padded with repeats of its
    first item so every chunk has the same shape (one compiled program)."""
    count = -(-len(items) // size)
    size = -(-len(items) // count)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    return [c + [c[0]] * (size - len(c)) for c in chunks]


@dataclass
class GroupPlan:
    """One population's work: its experiments cut into equal chunks, their data, their optimizers."""
    group: list[Experiment]
    data: Dataset
    kinds: list[tuple[str, tuple]]
    chunks: list[list[Experiment]]   # padded to one shape; the padding repeats are not stored
    real: list[int]                  # how many experiments of each chunk are real


def plan_group(group: list[Experiment], memory_budget: float = MEMORY_BUDGET) -> GroupPlan:
    first = group[0]
    data = load_data(first)
    check_compatible(first, data)
    info = data.info
    template = build_model(first.model, info.input_shape, info.num_classes, first.train.loss, first.seed)
    size = population_size(count_params(template), first.train.batch_size, int(np.prod(info.input_shape)),
                           memory_budget)
    index_chunks = _chunks(list(range(len(group))), size)
    return GroupPlan(group, data, sorted({optimizer_kind(e) for e in group}),
                     [[group[i] for i in c] for c in index_chunks], [len(set(c)) for c in index_chunks])


def prepare_chunk(chunk: list[Experiment], kinds: list, info) -> tuple[list, list[engine.Member], engine.Program]:
    """The Keras models, members and program of one chunk (the same wherever it runs)."""
    built: dict[tuple, object] = {}  # members with the same model spec and seed start from the same weights
    for e in chunk:
        key = (e.model.model_dump_json(), e.seed)
        if key not in built:
            built[key] = build_model(e.model, info.input_shape, info.num_classes, e.train.loss, e.seed)
    models = [built[(e.model.model_dump_json(), e.seed)] for e in chunk]
    members = [_member(e, m, kinds) for e, m in zip(chunk, models)]
    return models, members, _program(chunk[0], models[0], kinds)


def train_chunk(chunk: list[Experiment], kinds: list, data: Dataset, on_epoch=None, compiled=None, prepared=None):
    """Train one chunk as a population: (outcomes, compiled). No store involved.
    prepared: what `prepare_chunk` gave for it, when the caller already built it."""
    _, members, program = prepared or prepare_chunk(chunk, kinds, data.info)
    if compiled is None or compiled.regularized != engine.regularized_variables(members):
        compiled = engine.Compiled(program, data.info.num_classes, engine.regularized_variables(members))
    return engine.train(program, members, data, on_epoch=on_epoch, compiled=compiled), compiled


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


def finish_runs(store: Store, run_ids: list[str], chunk: list[Experiment], models: list, members: list,
                outcomes: list[engine.Outcome], data: Dataset, extra_summary: dict | None = None) -> list[RunResult]:
    """Evaluate, save the artifacts and close each run."""
    info = data.info
    summary_text, params = summary(models[0]), count_params(models[0])
    layers = [layer.name for layer in models[0].layers]
    restore = bool(chunk[0].train.early_stopping and chunk[0].train.early_stopping.restore_best)
    results = []
    for exp, run_id, member, outcome in zip(chunk, run_ids, members, outcomes):
        evaluation = evaluate(outcome.test_probabilities, data.y_test, info.class_names)
        result = {"epoch": outcome.result_epoch, **outcome.result,
                  "weights": describe_result(outcome.result_epoch, outcome.best_epoch, restore,
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


def epoch_logger(store: Store, experiments: list[Experiment], run_ids: list[str], on_epoch=None) -> Callable:
    """engine.train's on_epoch: one store row per member and epoch, then the caller's callback."""
    def log(epoch: int, records: list[dict | None]) -> None:
        for exp, run_id, rec in zip(experiments, run_ids, records):
            if rec is not None:
                store.log_epoch(run_id, epoch, {k: v for k, v in rec.items() if k != "seconds"}, rec["seconds"])
                if on_epoch:
                    on_epoch(exp, run_id, epoch, rec)
    return log


def _mark_failed(store: Store, run_ids: list[str], e: BaseException) -> None:
    """A run that fails keeps what it recorded, marked failed (interrupted for Ctrl-C)."""
    status = status_of(e)
    for run_id in run_ids:
        if store.get_run(run_id)["status"] == "running":
            store.set_status(run_id, status, error=None if status == "interrupted" else f"{type(e).__name__}: {e}")


def _run_chunk(plan: GroupPlan, chunk: list[Experiment], real: int, store: Store, sweep_id, on_epoch, on_start,
               compiled) -> tuple[list[RunResult], object]:
    prepared = prepare_chunk(chunk, plan.kinds, plan.data.info)
    models, members, _ = prepared
    run_ids = start_runs(store, chunk[:real], plan.data.info, models[0], sweep_id)
    if on_start:
        on_start(chunk[:real])
    log = epoch_logger(store, chunk, run_ids, on_epoch)
    try:
        with store.heartbeat(run_ids):
            outcomes, compiled = train_chunk(chunk, plan.kinds, plan.data, on_epoch=log, compiled=compiled,
                                             prepared=prepared)
            return finish_runs(store, run_ids, chunk[:real], models, members, outcomes, plan.data), compiled
    except BaseException as e:
        _mark_failed(store, run_ids, e)
        raise


def _info_dict(info) -> dict:
    return {"name": info.name, "source": info.source, "class_names": info.class_names,
            "input_shape": list(info.input_shape), "n_train": info.n_train, "n_val": info.n_val,
            "n_test": info.n_test, "class_counts": info.class_counts, "scale": info.scale,
            "value_min": info.value_min, "value_max": info.value_max}


def run_experiment(exp: Experiment, store: Store, **callbacks) -> RunResult:
    return run_experiments([exp], store, **callbacks)[0]


# ---------------------------------------------------------------- any Keras model (ml.fit)

def check_probability_output(model, x: np.ndarray, loss: str) -> None:
    """mlplab's losses take probabilities: a model ending in logits would train on garbage."""
    name = getattr(getattr(model.layers[-1], "activation", None), "__name__", None) if model.layers else None
    if name in ("softmax", "sigmoid"):
        return
    out = np.asarray(model(x[:8], training=False))
    width = out.shape[-1] if out.ndim == 2 else None
    if width is None:
        raise BadInput(f"model output shape {tuple(out.shape)}: expected (batch, classes) probabilities")
    ok = np.all(out >= 0) and np.all(out <= 1)
    if loss != "binary_crossentropy":
        ok = ok and np.allclose(out.sum(-1), 1.0, atol=1e-3)
    if not ok:
        end = f"ends in a {name!r} activation" if name else "does not output probabilities"
        raise BadInput(f"model output: {end}; mlplab's losses take probabilities: end the model with "
                       "activation=\"softmax\" (or one sigmoid unit with loss=\"binary_crossentropy\")")


def run_model(model, data: Dataset, exp: Experiment, store: Store, *, description: str = "keras model",
              on_epoch: Callable[[Experiment, str, int, dict], None] | None = None,
              extra_summary: dict | None = None, sweep_id: str | None = None) -> RunResult:
    """Train a user's Keras model (any layers) with the engine, as a stored run.

    `exp` carries the training settings (optimizer, loss, epochs, batch size,
    early stopping, seed) and the data section that reloads `data`; its model
    section is at best an approximation of `model`, which is stored as
    `model.keras` (or, when Keras cannot save it, `weights_final.npz`).
    """
    info = data.info
    check_compatible(exp, data)
    if not model.built:
        model.build((None, *info.input_shape))
    check_probability_output(model, data.x_train, exp.train.loss)
    member = _member(exp, model)
    [run_id] = start_runs(store, [exp], info, model, sweep_id, description)
    try:
        with store.heartbeat([run_id]):
            [outcome] = engine.train(_program(exp, model), [member], data,
                                     on_epoch=epoch_logger(store, [exp], [run_id], on_epoch))
            [result] = finish_runs(store, [run_id], [exp], [model], [member], [outcome], data, extra_summary)
    except BaseException as e:
        _mark_failed(store, [run_id], e)
        raise
    return result
