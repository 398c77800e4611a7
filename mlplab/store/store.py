"""The run store: one SQLite file plus an artifact folder per run.

Layout under ``home`` (argument, else ``$MLPLAB_HOME``, else ``./mlplab-runs``)::

    runs.db                 SQLite in WAL mode: runs, epochs, sweeps, run_tags, sweep_tags, schema_version
                            (store.database; names, tags and notes: store.labels; deleting: store.removal)
    artifacts/<run-id>/     files written by the run (spec, model.keras, CSVs, ...) (store.artifacts)

NaN and infinities round-trip everywhere (store.encoding). A run in progress
records its pid and host, and a heartbeat every ``HEARTBEAT_S`` seconds while
it trains (:meth:`Store.heartbeat`). Whenever runs are read, a ``running`` run
whose process is gone is marked ``lost`` (store.liveness). Every run read
carries its health (the doctor's verdict), diagnosed once and kept with it
(store.health). A read-only store can be listed (nothing is written then;
lost runs are still shown as lost).

Only the standard library is used, so the store can be imported without
Keras/JAX (the dashboard and ``mlplab runs`` stay fast).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sqlite3
import threading
import time
from typing import Iterator

from ..analysis.status import STATUSES as _STATUSES
from ..errors import BadInput, StoreFault
from .artifacts import ArtifactFolders
from .database import Database, new_id, now
from .encoding import dumps, loads, metric, real, unreal
from .health import StoredHealth
from .labels import Labels, tag_filter
from .liveness import HEARTBEAT_S, gone
from .removal import Removal

STATUSES = tuple(_STATUSES)
NO_HEALTH = "health = NULL, headline = NULL, health_version = NULL"   # a run whose status changes: diagnose again
REAL_COLUMNS = ("learning_rate", "seconds", "test_loss", "test_accuracy")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"run status {status!r}: must be one of {', '.join(STATUSES)}")


class Store(Database, ArtifactFolders, StoredHealth, Labels, Removal):
    """SQLite run database plus artifact folders. Use one Store per process/thread group."""

    # -- runs -----------------------------------------------------------------
    def create_run(
        self,
        *,
        name: str,
        spec: dict,
        dataset: str,
        model: str = "",
        optimizer: str = "",
        learning_rate: float | None = None,
        sweep_id: str | None = None,
    ) -> str:
        spec_json = dumps(spec)
        for _ in range(20):
            t, created = now()
            run_id = new_id(t)
            try:
                with self._tx() as c:
                    c.execute(
                        """INSERT INTO runs (id, name, created, status, dataset, model, optimizer,
                               learning_rate, sweep_id, spec_json, pid, host, heartbeat)
                           VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        (
                            run_id, name or "", created, dataset or "", model or "", optimizer or "",
                            real(learning_rate), sweep_id, spec_json, os.getpid(), socket.gethostname(), t,
                        ),
                    )
            except sqlite3.IntegrityError:
                continue  # id collision (same second, same 4 hex digits): draw again
            self.artifact_dir(run_id)
            return run_id
        raise RuntimeError("could not allocate a unique run id")  # pragma: no cover

    def _require_run(self, c: sqlite3.Connection, run_id: str) -> None:
        if not c.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
            raise BadInput(f"run {run_id!r}: no such run in {self.db_path}")

    def log_epoch(self, run_id: str, epoch: int, metrics: dict[str, float], seconds: float) -> None:
        """Record one epoch (replacing a previous row for the same epoch) in one transaction."""
        self.log_epochs([(run_id, epoch, metrics, seconds)])

    def log_epochs(self, rows: list[tuple[str, int, dict[str, float], float]]) -> None:
        """Record epochs, (run id, epoch, metrics, seconds) each, as `log_epoch` does, all in one transaction
        (a population's epoch: one row per member)."""
        with self._tx() as c:
            for run_id, epoch, metrics, seconds in rows:
                self._require_run(c, run_id)
                c.execute(
                    "INSERT OR REPLACE INTO epochs (run_id, epoch, seconds, metrics_json) VALUES (?, ?, ?, ?)",
                    (run_id, int(epoch), real(seconds), dumps({str(k): metric(v) for k, v in metrics.items()})),
                )
                # live progress for `mlplab runs` / the dashboard; finish_run sets the final value
                c.execute(
                    "UPDATE runs SET epochs_run = (SELECT COUNT(*) FROM epochs WHERE run_id = ?), heartbeat = ? "
                    "WHERE id = ?",
                    (run_id, time.time(), run_id),
                )

    def run_of_process(self, pid: int, since: float) -> str | None:
        """The newest run that process `pid` (on this host) created at or after `since` (Unix time)."""
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(since))
        rows = self._query("SELECT id FROM runs WHERE pid = ? AND host = ? AND created >= ? "
                           "ORDER BY created DESC, rowid DESC LIMIT 1", (pid, socket.gethostname(), created))
        return rows[0]["id"] if rows else None

    def beat(self, run_ids: list[str]) -> None:
        """Say that these runs' process is alive."""
        now = time.time()
        with self._tx() as c:
            c.executemany("UPDATE runs SET heartbeat = ? WHERE id = ?", [(now, r) for r in run_ids])
            c.executemany("UPDATE sweeps SET heartbeat = ? WHERE id = (SELECT sweep_id FROM runs WHERE id = ?)",
                          [(now, r) for r in run_ids])

    @contextlib.contextmanager
    def heartbeat(self, run_ids: list[str], every: float = HEARTBEAT_S) -> Iterator[None]:
        """Beat for these runs from a background thread while the block runs (long epochs included)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                with contextlib.suppress(Exception):  # a busy or vanished store must not stop training
                    self.beat(run_ids)
        thread = threading.Thread(target=beat, name="mlplab-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def reap(self) -> None:
        """Mark the running runs and sweeps whose process is gone as lost (see `gone`); a store that cannot
        be written (read-only, a full disk) is read as it is: `_decode_run` still shows them as lost."""
        if self.readonly:
            return
        for table in ("runs", "sweeps"):
            for row in self._query(f"SELECT * FROM {table} WHERE status = 'running'"):
                why = gone(dict(row))
                if why:
                    with contextlib.suppress(StoreFault), self._tx() as c:
                        if table == "runs":
                            c.execute("UPDATE runs SET status = 'lost', finished = COALESCE(finished, ?), error = ?, "
                                      f"{NO_HEALTH} WHERE id = ? AND status = 'running'",
                                      (now()[1], f"lost: {why}", row["id"]))
                        else:
                            c.execute("UPDATE sweeps SET status = 'lost' WHERE id = ? AND status = 'running'",
                                      (row["id"],))

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        epochs_run: int,
        best_epoch: int | None,
        seconds: float,
        test_loss: float | None,
        test_accuracy: float | None,
        params: int | None,
        warnings: list[str],
        summary: dict,
        error: str | None = None,
    ) -> None:
        _check_status(status)
        summary_json = dumps(summary or {})
        warnings_json = json.dumps([str(w) for w in (warnings or [])])
        with self._tx() as c:
            self._require_run(c, run_id)
            c.execute(
                f"""UPDATE runs SET status = ?, finished = ?, epochs_run = ?, best_epoch = ?, seconds = ?,
                       test_loss = ?, test_accuracy = ?, params = ?, warnings_json = ?, summary_json = ?,
                       error = ?, {NO_HEALTH}
                   WHERE id = ?""",
                (
                    status, now()[1], int(epochs_run),
                    None if best_epoch is None else int(best_epoch),
                    real(seconds), real(test_loss), real(test_accuracy),
                    None if params is None else int(params),
                    warnings_json, summary_json, error, run_id,
                ),
            )

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        """Change the status; a non-'running' status also stamps ``finished`` if unset."""
        _check_status(status)
        with self._tx() as c:
            self._require_run(c, run_id)
            if status == "running":
                c.execute(f"UPDATE runs SET status = ?, finished = NULL, {NO_HEALTH} WHERE id = ?", (status, run_id))
            else:
                c.execute(
                    f"UPDATE runs SET status = ?, finished = COALESCE(finished, ?), {NO_HEALTH} WHERE id = ?",
                    (status, now()[1], run_id),
                )
            if error is not None:
                c.execute(f"UPDATE runs SET error = ?, {NO_HEALTH} WHERE id = ?", (error, run_id))

    # -- lookup ---------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """Full run id from an exact id, a unique prefix, or 'last'/'latest'."""
        return self._resolve("runs", "run", ref)

    def resolve_sweep(self, ref: str) -> str:
        """Full sweep id from an exact id, a unique prefix, or 'last'/'latest'."""
        return self._resolve("sweeps", "sweep", ref)

    def _resolve(self, table: str, noun: str, ref: str) -> str:
        ref = (ref or "").strip()
        if not ref:
            raise BadInput(f"{noun} '': empty {noun} reference (give an id, a unique prefix of one, or 'last')")
        if ref.lower() in ("last", "latest"):
            rows = self._query(f"SELECT id FROM {table} ORDER BY created DESC, rowid DESC LIMIT 1")
            if not rows:
                raise BadInput(f"{noun} {ref!r}: there are no {table} yet in {self.db_path}")
            return rows[0]["id"]
        if self._query(f"SELECT 1 FROM {table} WHERE id = ?", (ref,)):
            return ref
        rows = self._query(
            f"SELECT id FROM {table} WHERE substr(id, 1, ?) = ? ORDER BY created DESC, rowid DESC LIMIT 6",
            (len(ref), ref.lower()),
        )
        if len(rows) == 1:
            return rows[0]["id"]
        if not rows:
            raise BadInput(
                f"{noun} {ref!r}: no such {noun} in {self.db_path} (give an id, a unique prefix of one, or 'last')"
            )
        (n,) = self._query(f"SELECT COUNT(*) FROM {table} WHERE substr(id, 1, ?) = ?", (len(ref), ref.lower()))[0]
        shown = ", ".join(r["id"] for r in rows[:5])
        more = f" and {n - 5} more" if n > 5 else ""
        raise BadInput(f"{noun} {ref!r}: ambiguous prefix, matches {n} {table} ({shown}{more}); give more characters")

    def _decode_run(self, row: sqlite3.Row) -> dict:
        d = dict(row)
        if d["status"] == "running" and (why := gone(d)):  # a read-only store could not mark it
            d["status"], d["error"] = "lost", f"lost: {why}"
        for col in REAL_COLUMNS:
            d[col] = unreal(d.get(col))
        d["spec"] = loads(d.pop("spec_json"), {})
        d["warnings"] = json.loads(d.pop("warnings_json") or "[]")
        d["summary"] = loads(d.pop("summary_json"), {})
        return d

    def get_run(self, ref: str, health: bool = True) -> dict:
        """The run row (spec/warnings/summary decoded) plus ``history``; with its health unless `health` is
        False (a reader that diagnoses the run itself)."""
        run_id = self.resolve(ref)
        self.reap()
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        d = self._decode_run(rows[0])
        d["history"] = self.history(run_id)
        self._labelled("run", [d])
        return self._health_filled([d])[0] if health else d

    def history(self, run_id: str) -> dict[str, list]:
        """``{"epoch": [...], "seconds": [...], <metric>: [...]}`` ordered by epoch.

        A metric missing from some epoch gets NaN there so all lists line up.
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT epoch, seconds, metrics_json FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
            if not rows:
                self._require_run(self._conn, run_id)
        hist: dict[str, list] = {"epoch": [], "seconds": []}
        for i, r in enumerate(rows):
            hist["epoch"].append(r["epoch"])
            s = unreal(r["seconds"])
            hist["seconds"].append(math.nan if s is None else float(s))
            for k, v in (loads(r["metrics_json"], {}) or {}).items():
                if k in ("epoch", "seconds"):
                    continue
                col = hist.setdefault(k, [math.nan] * i)
                col.append(math.nan if v is None else float(v))
            for col in hist.values():
                if len(col) < i + 1:
                    col.append(math.nan)
        return hist

    def list_runs(
        self,
        *,
        status: str | None = None,
        dataset: str | None = None,
        sweep_id: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[dict]:
        """Runs (without history), newest first; with `tag`, only those carrying it."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"status {status!r}: expected one of {', '.join(STATUSES)}")
        self.reap()
        where, args = [], []
        for col, val in (("status", status), ("dataset", dataset), ("sweep_id", sweep_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if tag is not None:
            condition, tag_args = tag_filter("run", tag)
            if not self._has_tags():   # a read-only store from before tags
                return []
            where.append(condition)
            args.extend(tag_args)
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, int(limit)))
        rows = self._labelled("run", [self._decode_run(r) for r in self._query(sql, args)])
        return self._health_filled([r for r in rows if status is None or r["status"] == status])

    # -- sweeps ---------------------------------------------------------------
    def create_sweep(self, *, name: str, spec: dict) -> str:
        spec_json = dumps(spec)
        for _ in range(20):
            t, created = now()
            sweep_id = new_id(t)
            try:
                with self._tx() as c:
                    c.execute(
                        "INSERT INTO sweeps (id, name, created, spec_json, status, pid, host, heartbeat) "
                        "VALUES (?, ?, ?, ?, 'running', ?, ?, ?)",
                        (sweep_id, name or "", created, spec_json, os.getpid(), socket.gethostname(), t),
                    )
            except sqlite3.IntegrityError:
                continue
            return sweep_id
        raise RuntimeError("could not allocate a unique sweep id")  # pragma: no cover

    def finish_sweep(self, sweep_id: str, *, status: str, summary: dict) -> None:
        with self._tx() as c:
            c.execute("UPDATE sweeps SET status = ?, summary_json = ? WHERE id = ?", (status, dumps(summary), sweep_id))

    def get_sweep(self, ref: str) -> dict:
        """The sweep row with spec and summary decoded, plus its runs (newest first)."""
        sweep_id = self.resolve_sweep(ref)
        self.reap()
        d = dict(self._query("SELECT * FROM sweeps WHERE id = ?", (sweep_id,))[0])
        if d["status"] == "running" and gone(d):
            d["status"] = "lost"
        d["spec"] = loads(d.pop("spec_json"), {})
        d["summary"] = loads(d.pop("summary_json"), {})
        d["runs"] = self.list_runs(sweep_id=sweep_id)
        return self._labelled("sweep", [d])[0]

    def list_sweeps(self) -> list[dict]:
        self.reap()
        rows = self._query("SELECT * FROM sweeps ORDER BY created DESC, rowid DESC")
        return self._labelled("sweep", [{k: ("lost" if k == "status" and v == "running" and gone(dict(r)) else v)
                                         for k, v in dict(r).items() if k in ("id", "name", "created", "status", "note")}
                                        for r in rows])

    # -- artifacts ------------------------------------------------------------
