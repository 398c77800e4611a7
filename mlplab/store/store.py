"""The run store: one SQLite file plus an artifact folder per run.

Layout under ``home`` (argument, else ``$MLPLAB_HOME``, else ``./mlplab-runs``)::

    runs.db                 SQLite in WAL mode: runs, epochs, sweeps, schema_version
    artifacts/<run-id>/     files written by the run (spec, model.keras, CSVs, ...)

Several processes may write at once (two ``mlplab run`` processes, sweep
members): each Store has its own connection, every write is one short
transaction, and SQLite's ``busy_timeout`` (30 s) waits out other writers.

Floats that may be NaN or +-inf round-trip everywhere:

* REAL columns: SQLite turns a bound NaN into NULL, so NaN is stored as the
  text ``'NaN'`` (infinities are stored as REAL, SQLite keeps them).
* JSON columns and JSON artifacts: NaN/inf become the strings ``"NaN"``,
  ``"Infinity"``, ``"-Infinity"`` (so the JSON is standard and any reader
  can parse it) and are turned back into floats when read.

A run in progress records its pid and host, and a heartbeat every
``HEARTBEAT_S`` seconds while it trains (:meth:`Store.heartbeat`). Whenever
runs are read, a ``running`` run whose process is gone is marked ``lost``:
on the same host when its pid no longer exists (or now belongs to a process
started after the run), on another host when its heartbeat is older than
``LOST_AFTER_S``. A read-only store can be listed (nothing is written then;
lost runs are still shown as lost).

Only the standard library is used, so the store can be imported without
Keras/JAX (the dashboard and ``mlplab runs`` stay fast).
"""
from __future__ import annotations

import calendar
import contextlib
import json
import math
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from ..errors import BadInput
from ..analysis.status import STATUSES as _STATUSES

__all__ = ["Store", "STATUSES", "SCHEMA_VERSION", "default_home", "new_id"]

STATUSES = tuple(_STATUSES)
BUSY_TIMEOUT_S = 30.0
HEARTBEAT_S = 10.0     # a training process beats this often
LOST_AFTER_S = 300.0   # a run on another host without a heartbeat for this long is lost

# ---------------------------------------------------------------------------
# Schema: migrations are applied in order; never edit a released one, append.
# ---------------------------------------------------------------------------
_MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL DEFAULT '',
                created TEXT NOT NULL,
                finished TEXT,
                status TEXT NOT NULL DEFAULT 'running',
                dataset TEXT NOT NULL DEFAULT '',
                model TEXT NOT NULL DEFAULT '',
                optimizer TEXT NOT NULL DEFAULT '',
                learning_rate REAL,
                sweep_id TEXT,
                spec_json TEXT NOT NULL DEFAULT '{}',
                epochs_run INTEGER NOT NULL DEFAULT 0,
                best_epoch INTEGER,
                seconds REAL,
                test_loss REAL,
                test_accuracy REAL,
                params INTEGER,
                warnings_json TEXT NOT NULL DEFAULT '[]',
                error TEXT,
                summary_json TEXT NOT NULL DEFAULT '{}',
                pid INTEGER,
                host TEXT
            )""",
            "CREATE INDEX runs_created ON runs(created)",
            "CREATE INDEX runs_sweep ON runs(sweep_id)",
            """CREATE TABLE epochs (
                run_id TEXT NOT NULL,
                epoch INTEGER NOT NULL,
                seconds REAL,
                metrics_json TEXT NOT NULL DEFAULT '{}',
                PRIMARY KEY (run_id, epoch)
            )""",
            """CREATE TABLE sweeps (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL DEFAULT '',
                created TEXT NOT NULL,
                spec_json TEXT NOT NULL DEFAULT '{}',
                status TEXT NOT NULL DEFAULT 'running',
                summary_json TEXT NOT NULL DEFAULT '{}'
            )""",
        ],
    ),
    (
        2,
        [
            "ALTER TABLE runs ADD COLUMN heartbeat REAL",
            "ALTER TABLE sweeps ADD COLUMN pid INTEGER",
            "ALTER TABLE sweeps ADD COLUMN host TEXT",
            "ALTER TABLE sweeps ADD COLUMN heartbeat REAL",
        ],
    ),
]
SCHEMA_VERSION = _MIGRATIONS[-1][0]

_REAL_COLUMNS = ("learning_rate", "seconds", "test_loss", "test_accuracy")
_JSON_COLUMNS = {"spec_json": "spec", "warnings_json": "warnings", "summary_json": "summary"}


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def default_home() -> Path:
    return Path(os.environ.get("MLPLAB_HOME") or "./mlplab-runs")


def _now() -> tuple[float, str]:
    t = time.time()
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)
    return t, iso


def new_id(t: float | None = None) -> str:
    """``YYMMDD-HHMMSS-xxxx`` (UTC time + 4 random hex digits)."""
    t = time.time() if t is None else t
    return time.strftime("%y%m%d-%H%M%S-", time.gmtime(t)) + uuid.uuid4().hex[:4]


_NAN_STRINGS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _enc_float(x: float) -> Any:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def jsonable(o: Any) -> Any:
    """Turn ``o`` into plain JSON data; NaN/inf become strings."""
    if o is None or isinstance(o, (str, bool, int)):
        return o
    if isinstance(o, float):  # includes numpy.float64
        return _enc_float(float(o))
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in o]
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if hasattr(o, "tolist"):  # numpy scalars and arrays, without importing numpy
        return jsonable(o.tolist())
    # Free-form summaries must never make a finished run fail to record.
    return str(o)


def dumps(o: Any, **kw: Any) -> str:
    """JSON text of ``o`` with NaN/inf as strings (standard JSON)."""
    return json.dumps(jsonable(o), allow_nan=False, **kw)


def _unnan(o: Any) -> Any:
    if isinstance(o, str):
        return _NAN_STRINGS.get(o, o)
    if isinstance(o, dict):
        return {k: _unnan(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_unnan(v) for v in o]
    return o


def loads(text: str | None, default: Any = None) -> Any:
    """Inverse of :func:`dumps`: the strings "NaN"/"Infinity"/"-Infinity" become floats."""
    if text is None or text == "":
        return default
    return _unnan(json.loads(text))


def _real(x: float | None) -> Any:
    """Value to bind for a REAL column (NaN would silently become NULL)."""
    if x is None:
        return None
    x = float(x)
    return "NaN" if math.isnan(x) else x


def _unreal(x: Any) -> Any:
    if isinstance(x, str):
        return _NAN_STRINGS.get(x, x)
    return x


def _metric(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"metric value {v!r} is not a number") from None


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"run status {status!r}: must be one of {', '.join(STATUSES)}")


def _started(pid: int) -> float | None:
    """When process `pid` started (Unix time), from /proc (Linux); None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive(pid: int, since: float) -> bool:
    """Is `pid` the process that has been running since `since` (its pid may have been reused)?"""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to someone else
    except OSError:
        return True
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie: exited, not yet reaped by its parent
    except (OSError, IndexError):
        pass
    started = _started(pid)
    return started is None or started <= since + 2.0


def _timestamp(iso: str | None) -> float:
    try:
        return float(calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")))
    except (TypeError, ValueError):
        return 0.0


def gone(row: dict) -> str | None:
    """Why a `running` run or sweep is lost (its process is gone), or None while it lives."""
    pid, host = row.get("pid"), row.get("host")
    if pid is None or not host:
        return None
    if host == socket.gethostname():
        return None if _alive(int(pid), _timestamp(row.get("created"))) else f"process {pid} on {host} is gone"
    beat = _unreal(row.get("heartbeat"))
    last = float(beat) if beat is not None else _timestamp(row.get("created"))
    if time.time() - last > LOST_AFTER_S:
        return f"no heartbeat from {host} (process {pid}) for {time.time() - last:.0f} s"
    return None


def _safe_id(run_id: str) -> str:
    if not run_id or "/" in run_id or "\\" in run_id or run_id in (".", "..") or "\0" in run_id:
        raise BadInput(f"run id {run_id!r}: not a valid run id (letters, digits and '-' only)")
    return run_id


def _safe_relpath(name: str) -> Path:
    p = Path(name)
    if not name or p.is_absolute() or any(part in ("..", "") for part in p.parts) or "\0" in name:
        raise ValueError(f"artifact name {name!r}: must be a relative path inside the run folder")
    return p


def _remove(p: Path) -> None:
    try:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    except OSError:
        pass


# ---------------------------------------------------------------------------
# The store
# ---------------------------------------------------------------------------
class Store:
    """SQLite run database plus artifact folders. Use one Store per process/thread group."""

    def __init__(self, home: str | os.PathLike | None = None):
        self.home = Path(home) if home is not None else default_home()
        self.db_path = self.home / "runs.db"
        self.artifacts = self.home / "artifacts"
        self._lock = threading.RLock()
        self._conn_: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._prepare_home()
        self._conn_ = self._connect()

    # -- opening ------------------------------------------------------------
    def _prepare_home(self) -> None:
        home = self.home
        if home.exists() and not home.is_dir():
            raise BadInput(f"store home {home}: is a file, not a folder (set MLPLAB_HOME or --home to a folder)")
        try:
            home.mkdir(parents=True, exist_ok=True)
            self.artifacts.mkdir(exist_ok=True)
        except OSError as e:
            raise BadInput(
                f"store home {home}: cannot create it ({e.strerror or e}); choose a writable folder"
            ) from None
        self.readonly = not os.access(home, os.W_OK | os.X_OK)
        if self.readonly and not self.db_path.is_file():
            raise BadInput(f"store home {home}: not writable; choose a writable folder")
        if self.db_path.exists() and not self.db_path.is_file():
            raise BadInput(f"store {self.db_path}: not an mlplab store (not a regular file)")

    def _bad_db(self, e: Exception) -> BadInput:
        return BadInput(f"store {self.db_path}: not an mlplab store ({e})")

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                # a read-only folder: read the database as it is (SQLite cannot make its WAL files there)
                f"file:{self.db_path.resolve()}?immutable=1" if self.readonly else self.db_path,
                uri=self.readonly,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as e:
            raise self._bad_db(e) from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if self.readonly:
                if self._schema_version(conn) != SCHEMA_VERSION:
                    raise BadInput(f"store {self.db_path}: read-only and from another mlplab version "
                                   f"(schema {self._schema_version(conn)}, this one reads {SCHEMA_VERSION})")
                return conn
            self._set_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except sqlite3.OperationalError as e:
            conn.close()
            if "locked" in str(e) or "busy" in str(e):
                raise
            raise self._bad_db(e) from None
        except sqlite3.DatabaseError as e:  # "file is not a database", "malformed"
            conn.close()
            raise self._bad_db(e) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a fresh file to WAL needs a moment of exclusive access; when
        # several processes open a brand-new store together, retry briefly.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
                return  # a filesystem without WAL support answers 'delete': still usable
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int:
        has = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if not has:
            return 0
        return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = self._schema_version(conn)
        if version > SCHEMA_VERSION:
            raise BadInput(
                f"store {self.db_path}: schema version {version} is newer than this mlplab "
                f"supports ({SCHEMA_VERSION}); upgrade mlplab"
            )
        if version == SCHEMA_VERSION:
            return
        if version == 0:
            # A SQLite file with foreign tables is not ours; refuse to mix.
            others = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                )
                if r[0] not in ("schema_version",)
            ]
            if others:
                raise BadInput(
                    f"store {self.db_path}: not an mlplab store (has tables {', '.join(sorted(others)[:5])})"
                )
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)"
            )
            version = self._schema_version(conn)  # re-read under the write lock
            for v, statements in _MIGRATIONS:
                if v <= version:
                    continue
                for sql in statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (v, _now()[1]))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._conn_ is None:
            raise RuntimeError(f"store {self.db_path} is closed")
        if os.getpid() != self._pid:  # forked child: never share the parent's connection
            self._pid = os.getpid()
            self._lock = threading.RLock()
            self._conn_ = self._connect()
        return self._conn_

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (takes the write lock up front)."""
        if self.readonly:
            raise BadInput(f"store home {self.home}: not writable; choose a writable folder (--home or MLPLAB_HOME)")
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _query(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn_ is not None:
                if os.getpid() == self._pid:
                    self._conn_.close()
                self._conn_ = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

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
            t, created = _now()
            run_id = new_id(t)
            try:
                with self._tx() as c:
                    c.execute(
                        """INSERT INTO runs (id, name, created, status, dataset, model, optimizer,
                               learning_rate, sweep_id, spec_json, pid, host, heartbeat)
                           VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        (
                            run_id, name or "", created, dataset or "", model or "", optimizer or "",
                            _real(learning_rate), sweep_id, spec_json, os.getpid(), socket.gethostname(), t,
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
        clean = {str(k): _metric(v) for k, v in metrics.items()}
        with self._tx() as c:
            self._require_run(c, run_id)
            c.execute(
                "INSERT OR REPLACE INTO epochs (run_id, epoch, seconds, metrics_json) VALUES (?, ?, ?, ?)",
                (run_id, int(epoch), _real(seconds), dumps(clean)),
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
        """Mark the running runs and sweeps whose process is gone as lost (see `gone`)."""
        if self.readonly:
            return  # `_decode_run` still shows them as lost
        for table in ("runs", "sweeps"):
            for row in self._query(f"SELECT * FROM {table} WHERE status = 'running'"):
                why = gone(dict(row))
                if why:
                    with self._tx() as c:
                        if table == "runs":
                            c.execute("UPDATE runs SET status = 'lost', finished = COALESCE(finished, ?), error = ? "
                                      "WHERE id = ? AND status = 'running'", (_now()[1], f"lost: {why}", row["id"]))
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
                """UPDATE runs SET status = ?, finished = ?, epochs_run = ?, best_epoch = ?, seconds = ?,
                       test_loss = ?, test_accuracy = ?, params = ?, warnings_json = ?, summary_json = ?,
                       error = ?
                   WHERE id = ?""",
                (
                    status, _now()[1], int(epochs_run),
                    None if best_epoch is None else int(best_epoch),
                    _real(seconds), _real(test_loss), _real(test_accuracy),
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
                c.execute("UPDATE runs SET status = ?, finished = NULL WHERE id = ?", (status, run_id))
            else:
                c.execute(
                    "UPDATE runs SET status = ?, finished = COALESCE(finished, ?) WHERE id = ?",
                    (status, _now()[1], run_id),
                )
            if error is not None:
                c.execute("UPDATE runs SET error = ? WHERE id = ?", (error, run_id))

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
        for col in _REAL_COLUMNS:
            d[col] = _unreal(d.get(col))
        d["spec"] = loads(d.pop("spec_json"), {})
        d["warnings"] = json.loads(d.pop("warnings_json") or "[]")
        d["summary"] = loads(d.pop("summary_json"), {})
        return d

    def get_run(self, ref: str) -> dict:
        """The run row (spec/warnings/summary decoded) plus ``history``."""
        run_id = self.resolve(ref)
        self.reap()
        rows = self._query("SELECT * FROM runs WHERE id = ?", (run_id,))
        d = self._decode_run(rows[0])
        d["history"] = self.history(run_id)
        return d

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
            s = _unreal(r["seconds"])
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
        limit: int | None = None,
    ) -> list[dict]:
        """Runs (without history), newest first."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"status {status!r}: expected one of {', '.join(STATUSES)}")
        self.reap()
        where, args = [], []
        for col, val in (("status", status), ("dataset", dataset), ("sweep_id", sweep_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        sql = "SELECT * FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, int(limit)))
        rows = [self._decode_run(r) for r in self._query(sql, args)]
        return [r for r in rows if status is None or r["status"] == status]

    # -- sweeps ---------------------------------------------------------------
    def create_sweep(self, *, name: str, spec: dict) -> str:
        spec_json = dumps(spec)
        for _ in range(20):
            t, created = _now()
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
        return d

    def list_sweeps(self) -> list[dict]:
        self.reap()
        rows = self._query("SELECT * FROM sweeps ORDER BY created DESC, rowid DESC")
        return [{k: ("lost" if k == "status" and v == "running" and gone(dict(r)) else v)
                 for k, v in dict(r).items() if k in ("id", "name", "created", "status")} for r in rows]

    # -- artifacts ------------------------------------------------------------
    def artifact_dir(self, run_id: str) -> Path:
        d = self.artifacts / _safe_id(run_id)
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _target(self, run_id: str, name: str) -> Path:
        target = self.artifact_dir(run_id) / _safe_relpath(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_artifact(self, run_id: str, name: str, data: bytes | str) -> Path:
        """Write ``artifacts/<run>/<name>`` atomically (temp file in the same folder + os.replace)."""
        target = self._target(run_id, name)
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            _remove(Path(tmp))
            raise
        return target

    def write_json(self, run_id: str, name: str, obj: Any) -> Path:
        """Atomic JSON artifact; NaN/inf written as "NaN"/"Infinity" (read back with :func:`loads`)."""
        return self.write_artifact(run_id, name, dumps(obj, indent=2) + "\n")

    @contextlib.contextmanager
    def artifact_writer(self, run_id: str, name: str) -> Iterator[Path]:
        """Yield a temp path (same folder, same suffix) to write into; renamed into place on success.

        The temp path does not exist yet (so writers like ``model.save`` that refuse
        or prompt on existing files are happy). On an exception it is removed and
        the target is left untouched.
        """
        target = self._target(run_id, name)
        suffix = "".join(target.suffixes[-1:])
        tmp = target.with_name(f".{target.stem}.tmp-{uuid.uuid4().hex[:8]}{suffix}")
        try:
            yield tmp
            if not tmp.exists():
                raise FileNotFoundError(f"artifact_writer: nothing was written to {tmp} for {target}")
            os.replace(tmp, target)
        except BaseException:
            _remove(tmp)
            raise
