"""Train a spec's [sweep]: every configuration an ordinary stored run, then the table."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from ..analysis.health import with_health
from ..analysis.status import rank, status_of
from ..analysis.sweep_table import noise_note, table
from ..errors import RunFailed
from ..spec.sweep import Config, expand
from .record import RunResult
from .runner import plan, run_experiments
from .tensorboard import write_hparams


@dataclass
class SweepResult:
    sweep_id: str
    name: str
    keys: list[str]
    rows: list[dict[str, Any]]
    note: str | None
    seconds: float

    @property
    def best(self) -> dict[str, Any]:
        return self.rows[0]

    @property
    def ranked_by(self) -> str:
        """The metric the rows are ranked by: val_accuracy, or test_accuracy without a validation split."""
        return rank(list(self.rows))[1]

    def to_json(self) -> dict[str, Any]:
        return {"sweep_id": self.sweep_id, "name": self.name, "keys": self.keys, "ranked_by": self.ranked_by,
                "rows": self.rows, "best": self.best, "note": self.note, "seconds": round(self.seconds, 3)}


def run_sweep(raw: dict[str, Any], store, executor: str = "local", address: str | None = None,
              configs: list[Config] | None = None, **callbacks) -> SweepResult:
    """Train every configuration of the spec's [sweep]; every member is an ordinary stored run.
    configs: the spec's expansion (spec.sweep.expand), when the caller has it already."""
    configs = expand(raw) if configs is None else configs
    keys = list(configs[0].values)
    experiments = [e for c in configs for e in c.experiments]
    budget = (raw.get("sweep") or {}).get("memory_gb")
    kwargs = {"memory_budget": float(budget) * 2**30} if budget else {}
    plans = plan(experiments, executor=executor, **kwargs)   # what cannot train is refused before the sweep exists

    def train(sweep_id: str) -> tuple[list[Config], list[list[RunResult]]]:
        results = run_experiments(experiments, store, sweep_id=sweep_id, executor=executor, address=address,
                                  plans=plans, **callbacks, **kwargs)
        by_exp = {id(r.experiment): r for r in results}
        trained = [[by_exp[id(e)] for e in c.experiments if id(e) in by_exp] for c in configs]
        write_hparams(configs, trained)
        return configs, trained
    return record_sweep(store, raw.get("name") or f"sweep over {', '.join(keys)}", raw, keys, train)


def record_sweep(store, name: str, spec: dict[str, Any], keys: list[str],
                 train: Callable[[str], tuple[list[Config], list[list[RunResult]]]]) -> SweepResult:
    """The one sweep engine (a spec's [sweep], ml.sweep over a model-building function): create the sweep,
    `train(sweep_id)` its configurations ((configurations, each one's run results)), then the table, each
    row's health from its runs' results, stored as the sweep's summary. A Ctrl-C ends the sweep interrupted,
    an error or a missing run failed; the runs that trained stay stored either way."""
    sweep_id = store.create_sweep(name=name, spec=spec)
    t0 = time.perf_counter()
    status = "failed"
    try:
        configs, results = train(sweep_id)
        done, expected = [r for rs in results for r in rs], sum(len(c.experiments) for c in configs)
        if any(r.status == "interrupted" for r in done):
            raise KeyboardInterrupt  # Ctrl-C inside training: the trained members are stored
        if len(done) < expected:
            raise RunFailed(f"sweep {sweep_id}: {expected - len(done)} of {expected} runs failed; "
                            f"mlplab runs --sweep {sweep_id} --status failed")
        status = "ok"
    except BaseException as e:
        status = status_of(e)
        raise
    finally:
        if status != "ok":
            store.finish_sweep(sweep_id, status=status, summary={})
    rows = table(configs, results)
    with_health(rows, [{"id": r.run_id, **r.health} for r in done])   # diagnosed as each run finished
    result = SweepResult(sweep_id, name, keys, rows, noise_note(rows), time.perf_counter() - t0)
    store.finish_sweep(sweep_id, status="ok", summary=result.to_json())
    return result
