"""Populations on a Ray cluster: each population (or chunk of one) is a Ray task.

The driver plans the work, creates the runs, puts each data set once into
Ray's object store, and alone writes the store as results come back; a task
only trains (population.train_population) and returns its members' outcomes. A
task whose worker dies is retried `RETRIES` times, then its members are
recorded as failed; Ctrl-C cancels what is still running and keeps what
finished. Ray is an optional extra: `pip install mlplab[ray]`.
"""
from __future__ import annotations

import os
from typing import Callable

from ..errors import BadInput
from .population import GroupPlan, Population, build_population, train_population
from .record import RunResult, finish_runs, start_runs
from ..store import Store

RETRIES = 2


def _ray():
    try:
        import ray
    except ImportError:
        raise BadInput("--executor ray: Ray is not installed; pip install 'mlplab[ray]' (or ray>=2.9)") from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None):
    """Join the cluster at `address` ("auto", "ray://host:port"), or start a local Ray instance."""
    ray = _ray()
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": num_cpus or os.cpu_count()}
        try:
            ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True, **kwargs)
        except Exception as e:   # any way Ray fails to start or connect: one line, no traceback
            where = f"--address {address}: cannot reach a Ray cluster" if address else \
                "--executor ray: a local Ray instance could not start"
            raise BadInput(f"{where}: {(str(e).splitlines() or [type(e).__name__])[0]}") from None
    return ray


def _train_task(chunk, kinds, data):
    """Runs in a Ray worker: train one chunk, return its outcomes (plain data)."""
    from ..engine import backend as _backend  # noqa: F401
    return train_population(Population(chunk, len(chunk), *build_population(chunk, kinds, data.info)), data)


def run_on_ray(plans: list[GroupPlan], store: Store, *, sweep_id: str | None = None, address: str | None = None,
               on_start: Callable | None = None, cpus_per_task: int = 1) -> list[RunResult]:
    ray = connect(address)
    task = ray.remote(num_cpus=cpus_per_task, max_retries=RETRIES)(_train_task)
    pending = {}
    for plan in plans:
        data_ref = ray.put(plan.data)  # once per data set, not per task
        for index, chunk in enumerate(plan.chunks):
            population = plan.population(index)
            run_ids = start_runs(store, population.stored, plan.data.info, plan.facts, sweep_id)
            if on_start:
                on_start(population.stored)
            ref = task.remote(chunk, plan.kinds, data_ref)
            pending[ref] = (plan, population, run_ids)
    results: list[RunResult] = []
    try:
        while pending:
            [ref], _ = ray.wait(list(pending), num_returns=1)
            plan, population, run_ids = pending.pop(ref)
            try:
                outcomes = ray.get(ref)
            except (ray.exceptions.RayError, ray.exceptions.RayTaskError) as e:
                for run_id in run_ids:
                    store.set_status(run_id, "failed", error=f"ray task failed after {RETRIES} retries: "
                                                             f"{str(e).splitlines()[0]}")
                continue
            for run_id, outcome in zip(run_ids, outcomes):
                _log_history(store, run_id, outcome.history)
            results += finish_runs(store, run_ids, population, outcomes, plan.data)
    except KeyboardInterrupt:
        for ref, (*_, run_ids) in pending.items():
            ray.cancel(ref, force=True)
            for run_id in run_ids:
                store.set_status(run_id, "interrupted")
        raise
    return results


def _log_history(store: Store, run_id: str, history: dict[str, list[float]]) -> None:
    for i in range(len(history.get("loss", []))):
        metrics = {k: v[i] for k, v in history.items() if k != "seconds"}
        store.log_epoch(run_id, i + 1, metrics, history["seconds"][i])
