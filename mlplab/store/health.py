"""Each run's health (analysis.health) kept with it in the runs table: diagnosed once, read by every list.

`Store.list_runs` and `Store.get_run` return every run with `health` and `headline`. They come from
the runs table's columns when stored under the current `analysis.health.version()` (the doctor's
DOCTOR_VERSION and the health rule); otherwise the run is diagnosed now (its record, history and
stats.json) and the answer is written back in one short transaction, so a list of 500 runs
diagnoses each run once, not on every request. A read-only store cannot write: it keeps the
answers in memory for as long as it is open. A run still training has none (None); finishing,
failing or losing a run clears what was stored (store.store).
"""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from ..errors import StoreFault
from .artifacts import STATS
from .encoding import loads


def read_stats(folder: Path) -> dict | None:
    """A run's stats.json (the per-epoch statistics the doctor reads), or None."""
    path = folder / STATS
    return loads(path.read_text()) if path.exists() else None


class StoredHealth:
    """The health half of a Store (mixed into it, as ArtifactFolders)."""
    artifacts: Path
    readonly: bool

    def _health_filled(self, runs: list[dict]) -> list[dict]:
        """`runs` (decoded rows, with or without history) with health and headline, diagnosing only
        the finished runs whose stored verdict is missing or from another version."""
        if not runs:
            return runs
        from ..analysis.health import PENDING, version
        current = version()
        memory = self.__dict__.setdefault("_health_memory", {})   # a read-only store's: {(id, status, version): health}
        fresh = []
        for run in runs:
            stored = run.pop("health_version", None)
            if run["status"] == "running":
                run.update(PENDING)
            elif stored != current:
                key = (run["id"], run["status"], current)
                verdict = memory.get(key) if self.readonly else None
                if verdict is None:
                    verdict = self._diagnosed(run)
                    if self.readonly:
                        memory[key] = verdict
                    elif verdict["health"] is not None:
                        fresh.append((run, verdict))
                run.update(verdict)
        if fresh:
            self._keep_health(fresh, current)
        return runs

    def _diagnosed(self, run: dict) -> dict:
        from ..analysis.health import of_run
        try:
            history = run["history"] if "history" in run else self.history(run["id"])
            return of_run({**run, "history": history}, read_stats(self.artifacts / run["id"]))
        except Exception as e:  # one unreadable run must not take the whole list down; not stored
            return {"health": None, "headline": f"the doctor could not read this run ({type(e).__name__}: {e})"}

    def keep_health(self, verdicts: list[tuple[str, str, dict]]) -> None:
        """Keep verdicts computed where a run's results are still in memory (training.record, as it finishes
        runs): (run id, the status diagnosed, its health), under the current version."""
        from ..analysis.health import version
        self._keep_health([({"id": run_id, "status": status}, v) for run_id, status, v in verdicts
                           if v.get("health") is not None], version())

    def _keep_health(self, fresh: list[tuple[dict, dict]], current: str) -> None:
        """Write fresh verdicts, only while each run's status is the one diagnosed (a run finished or
        lost meanwhile had its columns cleared: the next reader diagnoses it)."""
        if self.readonly:   # (a writable store always has the columns: it is migrated when opened)
            return
        with contextlib.suppress(sqlite3.OperationalError, StoreFault):   # busy past its timeout, or full: next time
            with self._tx() as c:
                c.executemany("UPDATE runs SET health = ?, headline = ?, health_version = ? "
                              "WHERE id = ? AND status = ?",
                              [(v["health"], v["headline"], current, run["id"], run["status"]) for run, v in fresh])
