"""Deleting runs and sweeps: their rows in one transaction, then their folders.

A run's rows (runs, epochs, run_tags) go in one transaction, refused as a whole while any of the runs
is `running` with its process alive. Its folder then goes in one rename to a hidden name inside the store
(``artifacts/.trash-<id>-<hex>``), so that a crash never leaves half a folder under the run's name, and is
removed from there (what a crash leaves there is removed by the next delete).

Another run is never touched, with one exception that keeps it whole: the members of a population
read their trained model from population.npz in the folder of the population's first run
(training.record). When that run goes and others stay, the file is linked into the first survivor's
folder (the same file, nothing copied) and the survivors' pointer to it moves with it, in the same
transaction as the deletion.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

from ..errors import BadInput
from .artifacts import POPULATION
from .encoding import dumps, loads
from .faults import faults
from .liveness import gone

TRASH = ".trash-"


class Removal:
    """The deleting half of a Store (mixed into it, as Labels)."""
    artifacts: Path
    home: Path

    def delete_runs(self, refs: list[str]) -> list[str]:
        """Delete these runs (ids, unique prefixes or 'last'): rows, tags and folders. Their ids."""
        ids = list(dict.fromkeys(self.resolve(r) for r in refs))
        self.reap()
        with self._tx() as c:
            self._delete_rows(c, ids)
        self._remove_folders(ids)
        return ids

    def delete_sweep(self, ref: str) -> tuple[str, list[str]]:
        """Delete a sweep and every run of it (as `delete_runs`): (its id, its runs' ids)."""
        sweep_id = self.resolve_sweep(ref)
        self.reap()
        with self._tx() as c:
            row = dict(c.execute("SELECT * FROM sweeps WHERE id = ?", (sweep_id,)).fetchone())
            if row["status"] == "running" and not gone(row):
                raise BadInput(f"sweep {sweep_id}: still running (process {row['pid']} on {row['host']}); "
                               "stop it first (Ctrl-C where it runs)")
            ids = [r[0] for r in c.execute("SELECT id FROM runs WHERE sweep_id = ?", (sweep_id,))]
            self._delete_rows(c, ids)
            c.execute("DELETE FROM sweep_tags WHERE sweep_id = ?", (sweep_id,))
            c.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,))
        self._remove_folders(ids)
        return sweep_id, ids

    def _delete_rows(self, c: sqlite3.Connection, ids: list[str]) -> None:
        marks = ",".join("?" * len(ids))
        for row in c.execute(f"SELECT * FROM runs WHERE id IN ({marks}) AND status = 'running'", ids).fetchall():
            if not gone(dict(row)):
                raise BadInput(f"run {row['id']}: still running (process {row['pid']} on {row['host']}); stop it "
                               "first (Ctrl-C where it runs, or Stop on the dashboard); nothing was deleted")
        self._hand_over_populations(c, ids)
        self._prune_sweeps(c, ids)
        for table, col in (("epochs", "run_id"), ("run_tags", "run_id"), ("runs", "id")):
            c.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", ids)

    def _prune_sweeps(self, c: sqlite3.Connection, ids: list[str]) -> None:
        """A sweep whose members go keeps a table of the runs it still has: the deleted runs leave its rows, a
        configuration left without runs leaves the table, its best is the first row left; `deleted_runs` lists
        them (each row's numbers stay those of the runs it had when the sweep ended)."""
        going, marks = set(ids), ",".join("?" * len(ids))
        for row in c.execute(f"SELECT id, summary_json FROM sweeps WHERE id IN (SELECT DISTINCT sweep_id FROM runs "
                             f"WHERE id IN ({marks}))", ids).fetchall():
            summary = loads(row["summary_json"], {}) or {}
            if not summary.get("rows"):
                continue
            rows = [{**r, "runs": [rid for rid in r.get("runs", []) if rid not in going]} for r in summary["rows"]]
            rows = [r for r in rows if r["runs"]]
            deleted = sorted({*summary.get("deleted_runs", []), *(rid for r in summary["rows"] for rid in r.get("runs", [])
                                                                   if rid in going)})
            summary.update(rows=rows, best=rows[0] if rows else None, deleted_runs=deleted)
            c.execute("UPDATE sweeps SET summary_json = ? WHERE id = ?", (dumps(summary), row["id"]))

    def _hand_over_populations(self, c: sqlite3.Connection, ids: list[str]) -> None:
        """Survivors whose trained weights live in a deleted run's population file get that file (linked
        into the first survivor's folder) and a pointer to it."""
        going = set(ids)
        for run_id in ids:
            survivors = []
            for row in c.execute("SELECT id, summary_json FROM runs WHERE instr(summary_json, ?) > 0 ORDER BY id",
                                 (run_id,)).fetchall():
                summary = loads(row["summary_json"], {}) or {}
                if row["id"] not in going and (summary.get("weights") or {}).get("run") == run_id:
                    survivors.append((row["id"], summary))
            if not survivors:
                continue
            heir = survivors[0][0]
            file = survivors[0][1]["weights"].get("file", POPULATION)
            kept = self._link_into(self.artifacts / run_id / file, heir, f"population-{run_id}.npz")
            for sid, summary in survivors:
                if kept is not None:
                    summary["weights"] = {**summary["weights"], "run": heir, "file": kept}
                    c.execute("UPDATE runs SET summary_json = ? WHERE id = ?", (dumps(summary), sid))

    def _link_into(self, source: Path, run_id: str, name: str) -> str | None:
        """`source` linked (else copied) into a run's folder as `name`; the name, or None without a source."""
        if not source.is_file():
            return None
        folder = self.artifacts / run_id
        with faults(self.home):
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, folder / name)
        return name

    def _remove_folders(self, ids: list[str]) -> None:
        """Each run's folder renamed to a trash name in one step, then removed (with any trash left before)."""
        with faults(self.home):
            for run_id in ids:
                folder = self.artifacts / run_id
                with contextlib.suppress(FileNotFoundError):
                    os.rename(folder, self.artifacts / f"{TRASH}{run_id}-{uuid.uuid4().hex[:8]}")
            for trash in self.artifacts.glob(f"{TRASH}*"):
                shutil.rmtree(trash, ignore_errors=True)
