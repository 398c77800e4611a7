"""The SQLite file under a store's home: opening it (WAL, busy timeout, read-only stores),
its schema and migrations, and short write transactions.

Several processes may write at once (two ``mlplab run`` processes, sweep
members): each Store has its own connection, every write is one short
transaction, and SQLite's ``busy_timeout`` (30 s) waits out other writers. A store closes (at the
latest when the process exits) with a checkpoint that empties the WAL into runs.db, so the database
file alone is a complete copy of a store no process has open. A read-only store is read with what its
WAL holds (see `Database._open`). Its I/O errors are one line (store.faults).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any, Iterator

from ..errors import BadInput
from .faults import fault, faults

BUSY_TIMEOUT_S = 30.0

# ---------------------------------------------------------------------------
# Schema: migrations are applied in order; never edit a released one, append.
# ---------------------------------------------------------------------------
MIGRATIONS: list[tuple[int, list[str]]] = [
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
    (
        3,
        [   # the doctor's verdict on a finished run, and the version it was computed under (store.health)
            "ALTER TABLE runs ADD COLUMN health TEXT",
            "ALTER TABLE runs ADD COLUMN headline TEXT",
            "ALTER TABLE runs ADD COLUMN health_version TEXT",
        ],
    ),
    (
        4,
        [   # what a user says about runs and sweeps (store.labels): notes, and tags one row each
            "ALTER TABLE runs ADD COLUMN note TEXT",
            "ALTER TABLE sweeps ADD COLUMN note TEXT",
            "CREATE TABLE run_tags (run_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (run_id, tag))",
            "CREATE INDEX run_tags_tag ON run_tags(tag)",
            "CREATE TABLE sweep_tags (sweep_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (sweep_id, tag))",
        ],
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]
# A read-only store is read as it is, never migrated: from this schema on it has every column a reader
# needs (the runs' health, added in 3, is computed in memory when missing).
READ_ONLY_OLDEST = 2


def now() -> tuple[float, str]:
    """(Unix time, ISO-8601 UTC text) of this moment."""
    t = time.time()
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)
    return t, iso


def new_id(t: float | None = None) -> str:
    """``YYMMDD-HHMMSS-xxxx`` (UTC time + 4 random hex digits)."""
    t = time.time() if t is None else t
    return time.strftime("%y%m%d-%H%M%S-", time.gmtime(t)) + uuid.uuid4().hex[:4]


def default_home() -> Path:
    return Path(os.environ.get("MLPLAB_HOME") or "./mlplab-runs")


class Database:
    """The connection to ``home/runs.db`` (made and migrated on first open)."""

    def __init__(self, home: str | os.PathLike | None = None):
        self.home = Path(home) if home is not None else default_home()
        self.db_path = self.home / "runs.db"
        self.artifacts = self.home / "artifacts"
        self._lock = threading.RLock()
        self._conn_: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._snapshot: Path | None = None   # a read-only store's private copy (see _open)
        self._prepare_home()
        self._conn_ = self._connect()
        OPEN.add(self)

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

    def _open(self) -> sqlite3.Connection:
        """The connection to runs.db. A read-only store is read with what its WAL holds: without a WAL
        the file alone (immutable: SQLite makes no files beside it); with one, in place (mode=ro, which
        needs the WAL's -shm file beside it, or a folder to make it in); else a private copy of the
        database and its WAL, removed when the store closes."""
        if not self.readonly:
            return _sqlite(str(self.db_path))
        wal = self.db_path.with_name(self.db_path.name + "-wal")
        if not (wal.is_file() and wal.stat().st_size):
            return _sqlite(self.db_path.resolve().as_uri() + "?immutable=1")
        conn = _sqlite(self.db_path.resolve().as_uri() + "?mode=ro")
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:   # "unable to open database file": no -shm, and none can be made
            conn.close()
        self._snapshot = Path(tempfile.mkdtemp(prefix="mlplab-store-"))
        for f in (self.db_path, wal):
            shutil.copyfile(f, self._snapshot / f.name)
        return _sqlite(str(self._snapshot / self.db_path.name))

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = self._open()
        except sqlite3.Error as e:
            raise self._bad_db(e) from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if self.readonly:
                if not READ_ONLY_OLDEST <= self._schema_version(conn) <= SCHEMA_VERSION:
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
            raise (fault(e, self.home) or self._bad_db(e)) from None
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
        conn.execute("BEGIN IMMEDIATE")
        try:
            # read again under the write lock: another process may have created the store since
            if self._schema_version(conn) == 0:
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
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)"
            )
            version = self._schema_version(conn)
            for v, statements in MIGRATIONS:
                if v <= version:
                    continue
                for sql in statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_version (version, applied) VALUES (?, ?)", (v, now()[1]))
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
        with self._lock, faults(self.home):
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:   # SQLite may have rolled back itself (a full disk)
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _query(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock, faults(self.home):
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        """Close the connection; a writer first moves the WAL into runs.db and empties it, unless another
        connection is using it (the last one to close does)."""
        with self._lock:
            if self._conn_ is not None:
                if os.getpid() == self._pid:
                    if not self.readonly:
                        with contextlib.suppress(sqlite3.Error):
                            self._conn_.execute("PRAGMA busy_timeout = 0")   # never wait for it
                            self._conn_.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                    self._conn_.close()
                self._conn_ = None
            if self._snapshot is not None:
                shutil.rmtree(self._snapshot, ignore_errors=True)
                self._snapshot = None

    def __del__(self) -> None:   # a store dropped unclosed (a command's): its connection alone may live on
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"


def _sqlite(target: str) -> sqlite3.Connection:
    """A connection to a file path or a ``file:`` URI."""
    return sqlite3.connect(target, uri=target.startswith("file:"), timeout=BUSY_TIMEOUT_S,
                           isolation_level=None,      # we issue BEGIN/COMMIT ourselves
                           check_same_thread=False)   # guarded by Database._lock


OPEN: "weakref.WeakSet[Database]" = weakref.WeakSet()   # the stores this process has open


@atexit.register
def close_open_stores() -> None:
    """At exit, close the stores still open (a command's, the dashboard's), so the last writer empties the WAL."""
    for db in list(OPEN):
        with contextlib.suppress(Exception):
            db.close()
