"""Experiments -> stored runs: the data flow of DESIGN.md, one plain call per arrow.

`run_experiments` groups experiments by what one compiled program must share,
trains each group as one population and stores every member as an ordinary
run. `run_experiment` is the population of one behind `mlplab run`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..data import Dataset
from ..engine.callbacks import LambdaCallback
from ..errors import BadInput
from ..spec import Experiment
from ..store import Store
from .population import (MEMORY_BUDGET, GroupPlan, Population, check_compatible, groups_of, plan_group,
                         population_of_model, train_population)
from .record import RunResult, epoch_logger, finish_runs, mark_failed, start_runs
from .live import LiveChecks, clear_progress, progress_recorder
from .tensorboard import LiveTensorBoard


def run_experiments(experiments: list[Experiment], store: Store, *, sweep_id: str | None = None,
                    on_epoch: Callable[[Experiment, str, int, dict], None] | None = None,
                    on_start: Callable[[list[Experiment]], None] | None = None,
                    memory_budget: float = MEMORY_BUDGET, executor: str = "local",
                    address: str | None = None, on_step: Callable | None = None,
                    on_warning: Callable | None = None, summaries: list[dict] | None = None,
                    plans: list[GroupPlan] | None = None) -> list[RunResult]:
    """Train every experiment, one population per program; every member becomes a stored run.

    on_step(engine.progress.StepProgress): progress inside each epoch of the population training now
    (local executor only). on_warning(run_id, epoch, finding): the doctor's live checks, once per
    run and finding, as an epoch ends (local executor only; training.live.LiveChecks). summaries: one dict
    per experiment, what its run's summary holds besides (a repair candidate's repair_of; local executor only).

    executor "local" trains the populations here, one after another; "ray" hands each
    population (or chunk of one) to a Ray cluster as a task (see mlplab.executors);
    either way this process alone writes the store. plans: what `plan` made of them, when the caller
    planned first.
    """
    plans = plans or plan(experiments, memory_budget, executor)
    if executor == "ray":
        from .executors import run_on_ray
        results = run_on_ray(plans, store, sweep_id=sweep_id, address=address, on_start=on_start)
    else:
        extra = {id(e): doc for e, doc in zip(experiments, summaries or [])}
        results = []
        for group in plans:
            for index in range(len(group.chunks)):
                population = group.population(index)
                results += train_and_store(store, population, group.data, sweep_id=sweep_id,
                                           summaries=[extra.get(id(e), {}) for e in population.stored],
                                           on_epoch=on_epoch, on_start=on_start, on_step=on_step, on_warning=on_warning)
                if any(r.status == "interrupted" for r in results):
                    break  # Ctrl-C: what trained is stored; train nothing more
            else:
                continue
            break
    order = {id(e): i for i, e in enumerate(experiments)}
    return sorted(results, key=lambda r: order[id(r.experiment)])


def plan(experiments: list[Experiment], memory_budget: float = MEMORY_BUDGET,
         executor: str = "local") -> list[GroupPlan]:
    """The experiments' groups, each planned (its data loaded, its memory checked, its first models built):
    BadInput for what cannot train, before anything is stored."""
    LiveTensorBoard.check(experiments)
    if executor == "ray" and any(e.train.tensorboard for e in experiments):
        raise BadInput("train.tensorboard: written while training here; not with --executor ray "
                       "(export a finished run: mlplab export RUN --tensorboard DIR)")
    return [plan_group(group, memory_budget) for group in groups_of(experiments)]


def train_and_store(store: Store, population: Population, data: Dataset, *, sweep_id: str | None = None,
                    description: str | None = None, summaries: list[dict] | None = None,
                    on_epoch: Callable | None = None, on_start: Callable | None = None, on_step: Callable | None = None,
                    on_warning: Callable | None = None, callbacks: list = ()) -> list[RunResult]:
    """The one run skeleton (mlplab run, sweeps, repairs, ml.fit): create the population's runs, train it with
    heartbeat, progress and engine callbacks (the store's epoch rows and progress files, the caller's, live
    TensorBoard, the doctor's live checks), finish the runs; whatever stops training marks them failed
    (interrupted on Ctrl-C); progress files go (the engine ends the callbacks)."""
    stored, info = population.stored, data.info
    run_ids = start_runs(store, stored, info, population.facts, sweep_id, description)
    if on_start:
        on_start(stored)
    callbacks = [LambdaCallback(on_epoch=epoch_logger(store, stored, run_ids, on_epoch),
                                on_step=progress_recorder(store, run_ids, on_step)),
                 *callbacks, *LiveTensorBoard.of(stored, run_ids)]
    if on_warning:
        callbacks.append(LiveChecks(run_ids, [e.resolved() for e in stored], on_warning,
                                    {"class_names": info.class_names, "class_counts": info.class_counts}))
    try:
        with store.heartbeat(run_ids):
            outcomes = train_population(population, data, callbacks)
            return finish_runs(store, run_ids, population, outcomes, data, summaries)
    except BaseException as e:
        clear_progress(store, run_ids)   # first: on a full disk, its blocks make room for the failed mark
        mark_failed(store, run_ids, e)
        raise
    finally:
        clear_progress(store, run_ids)


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
              extra_summary: dict | None = None, sweep_id: str | None = None,
              on_step: Callable | None = None, callbacks: list = (), rules=None) -> RunResult:
    """Train a user's Keras model (any layers) with the engine, as a stored run.

    `exp` carries the training settings (optimizer, loss, epochs, batch size,
    early stopping, seed) and the data section that reloads `data`; its model
    section is at best an approximation of `model`, which is stored as
    `model.keras` (or, when Keras cannot save it, `weights_final.npz`). `callbacks`: engine.train's
    (the Keras callbacks, api.callbacks); live TensorBoard when the spec asks for it. `rules`: the
    compiled Keras optimizer's extras (engine.program.StepRules: its schedule, clipping, weight decay).
    """
    info = data.info
    check_compatible(exp, data)
    LiveTensorBoard.check([exp])
    if not model.built:
        model.build((None, *info.input_shape))
    check_probability_output(model, data.x_train, exp.train.loss)
    [result] = train_and_store(store, population_of_model(exp, model, rules), data, sweep_id=sweep_id,
                               description=description, summaries=[extra_summary or {}], on_epoch=on_epoch,
                               on_step=on_step, callbacks=callbacks)
    return result
