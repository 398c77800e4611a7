"""The store under faults: a full disk, a read-only store, the files' modes, a run folder deleted by hand.

The disk-full and read-only tests use a real 2 MB tmpfs and a read-only bind mount where this process
can mount them (root), else the same errors simulated where the store meets the disk.
"""
import contextlib
import errno
import os
import shutil
import sqlite3
import subprocess

import pytest

from conftest import SAFETY_NET, cli

from mlplab.errors import BadInput, StoreFault
from mlplab.store import Store
from mlplab.store.artifacts import FILE_MODE, SPEC
from mlplab.stored import RunArtifacts, load_stats, model_file, run_folder


def _mount(*args: str) -> bool:
    try:
        return subprocess.run(["mount", *args], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a 2 MB tmpfs, or None where this process cannot mount one."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)):
        yield None
        return
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@contextlib.contextmanager
def read_only(folder, monkeypatch):
    """`folder` as a read-only store sees it: a read-only bind mount of it where this process can make one,
    else the folder itself with os.access saying it is not writable."""
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    if _mount("--bind", str(folder), str(view)):
        try:
            if _mount("-o", "remount,ro,bind", str(view)):
                yield view
                return
        finally:
            subprocess.run(["umount", "-l", str(view)], capture_output=True)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(folder) else real_access(p, mode))
    yield folder


def _new(store, name="r"):
    return store.create_run(name=name, spec={"name": name}, dataset="digits")


def _finish(store, run_id, **summary):
    store.finish_run(run_id, status="ok", epochs_run=1, best_epoch=1, seconds=0.1, test_loss=0.5,
                     test_accuracy=0.9, params=10, warnings=[], summary=summary)


class FullDisk:
    """A connection whose commits fail as SQLite's do on a full disk."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def execute(self, sql, *args):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# ---------------------------------------------------------------- a full disk

def test_a_full_disk_is_one_line_naming_the_store_and_leaves_it_intact(small_disk, tmp_path, monkeypatch):
    home = (small_disk or tmp_path) / "store"
    store = Store(home)
    kept = _new(store, "kept")
    _finish(store, kept)
    faults = []
    if small_disk is None:   # the same errors, where the store meets the disk
        monkeypatch.setattr(os, "fsync", _no_space)
    for i in range(40):   # artifacts until the disk is full
        try:
            store.write_artifact(kept, f"big{i}.bin", os.urandom(100_000))
        except StoreFault as e:
            faults.append(str(e))
            break
    if small_disk is None:
        store._conn_ = FullDisk(store._conn_)
    for i in range(200):   # then runs, until the database cannot grow
        try:
            store.create_run(name=f"r{i}", spec={"pad": "x" * 20_000}, dataset="digits")
        except StoreFault as e:
            faults.append(str(e))
            break
    assert [f.split(" (")[0] for f in faults] == [f"store {home}: the disk is full"] * 2, faults
    assert all(f.endswith("; free space on it or choose another store (--home or MLPLAB_HOME)") for f in faults)
    assert not [p.name for p in (home / "artifacts" / kept).iterdir() if p.name.startswith(".")]   # no temp file left
    store._conn_ = getattr(store._conn_, "conn", store._conn_)
    assert store.get_run(kept)["status"] == "ok"
    assert store._query("PRAGMA integrity_check")[0][0] == "ok"
    store.close()


def test_store_faults_of_every_kind_are_one_line():
    from pathlib import Path
    from mlplab.store.faults import fault
    home = Path("/data/runs")
    assert str(fault(sqlite3.OperationalError("attempt to write a readonly database"), home)) == (
        "store /data/runs: not writable (attempt to write a readonly database); choose a writable store "
        "(--home or MLPLAB_HOME)")
    assert str(fault(OSError(errno.EROFS, "Read-only file system", "/data/runs/artifacts/x/spec.yaml"), home)) == (
        "store /data/runs: not writable (Read-only file system: /data/runs/artifacts/x/spec.yaml); choose a "
        "writable store (--home or MLPLAB_HOME)")
    assert str(fault(sqlite3.OperationalError("disk I/O error"), home)).startswith("store /data/runs: disk I/O error")
    assert fault(sqlite3.OperationalError("database is locked"), home) is None   # busy: waited out, not a fault
    assert fault(OSError(errno.ENOENT, "No such file or directory"), home) is None
    assert fault(ValueError("no"), home) is None
    full = fault(OSError(errno.ENOSPC, "No space left on device"), home)
    assert isinstance(full, BadInput) and isinstance(full, OSError)   # a cache's writer catches it as before


def test_a_full_store_is_still_listed_its_lost_runs_as_lost(tmp_path):
    store = Store(tmp_path)
    run_id = _new(store)
    with store._tx() as c:   # its process is gone
        c.execute("UPDATE runs SET pid = ? WHERE id = ?", (2**22 + 12345, run_id))
    store._conn_ = FullDisk(store._conn_)   # marking it lost cannot be written
    assert [(r["id"], r["status"]) for r in store.list_runs()] == [(run_id, "lost")]
    store._conn_ = store._conn_.conn
    store.close()


@pytest.mark.slow
def test_mlplab_run_on_a_full_disk_is_one_line_and_its_run_is_not_left_running(small_disk, tmp_path, monkeypatch):
    home = (small_disk or tmp_path) / "store"
    Store(home).close()
    if small_disk is None:
        monkeypatch.setattr(os, "fsync", _no_space)
    else:   # leave 280 KB: the run's first rows fit, its files do not
        free = shutil.disk_usage(small_disk).free
        (small_disk / "filler").write_bytes(b"\0" * max(0, free - 280 * 1024))
    code, out, err = cli("--home", str(home), "run", "--set", "train.epochs=1", "--json")   # --json: no progress
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith(f"mlplab: error: store {home}: the disk is full (") and len(err.splitlines()) == 1, err
    if small_disk is not None:
        (small_disk / "filler").unlink()
    [run] = Store(home).list_runs()
    assert run["status"] == "failed" and "the disk is full" in run["error"]


# ---------------------------------------------------------------- read-only stores

def _store_with_a_wal(folder):
    """A store whose runs live in its WAL (copied while its writer had it open), and the run's id."""
    live = folder.with_name("live")
    store = Store(live)
    run_id = _new(store, "in the wal")
    _finish(store, run_id)
    assert (live / "runs.db-wal").stat().st_size > 0
    shutil.copytree(live, folder)
    store.close()
    return run_id


@pytest.mark.parametrize("shm", [True, False], ids=["with-shm", "without-shm"])
def test_a_read_only_store_reads_its_wal(tmp_path, monkeypatch, shm):
    folder = tmp_path / "copy"
    run_id = _store_with_a_wal(folder)
    if not shm:
        (folder / "runs.db-shm").unlink()
    before = {p.name: p.read_bytes() for p in folder.glob("runs.db*") if p.name != "runs.db-shm"}
    with read_only(folder, monkeypatch) as view:
        store = Store(view)
        assert store.readonly
        assert [(r["id"], r["name"], r["status"]) for r in store.list_runs()] == [(run_id, "in the wal", "ok")]
        assert store.get_run(run_id)["test_accuracy"] == 0.9
        with pytest.raises(BadInput, match="not writable"):
            _new(store)
        store.close()
        code, out, err = cli("--home", str(view), "runs")
        assert code == 0 and run_id in out, err
        code, out, err = cli("--home", str(view), "run", "--set", "train.epochs=1")
        assert (code, out) == (2, "") and err == (f"mlplab: error: store home {view}: not writable; choose a "
                                                  "writable folder (--home or MLPLAB_HOME)\n")
    assert {p.name: p.read_bytes() for p in folder.glob("runs.db*") if p.name != "runs.db-shm"} == before


def _ids_in_the_file_alone(db):
    """The run ids a copy of the database file alone holds (what `cp runs.db backup.db` keeps)."""
    copy = db.with_name("backup.db")
    shutil.copyfile(db, copy)
    with contextlib.closing(sqlite3.connect(f"file:{copy}?immutable=1", uri=True)) as con:
        return {r[0] for r in con.execute("SELECT id FROM runs")}


def test_a_writer_that_closes_leaves_the_database_file_complete(tmp_path):
    home = tmp_path / "home"
    dashboard = Store(home)   # another connection stays open: SQLite alone would keep the WAL as it is
    writer = Store(home)
    run_id = _new(writer)
    writer.close()
    assert _ids_in_the_file_alone(home / "runs.db") == {run_id}
    dashboard.close()
    assert not (home / "runs.db-wal").exists()


_UNCLOSED = """
import gc, sys
from mlplab.store import Store
store = Store(sys.argv[1])
print(store.create_run(name="unclosed", spec={}, dataset="digits"))
store.cycle = store   # as a command leaves its store: unclosed, in a cycle, frozen before exit (cli.entry)
gc.freeze()
"""


@pytest.mark.slow
def test_a_process_that_exits_without_closing_its_store_leaves_the_database_file_complete(tmp_path):
    import sys
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-c", _UNCLOSED, str(home)], capture_output=True, text=True,
                          timeout=SAFETY_NET)
    assert done.returncode == 0, done.stderr
    assert _ids_in_the_file_alone(home / "runs.db") == {done.stdout.strip()}
    assert not (home / "runs.db-wal").exists()


# ---------------------------------------------------------------- the files' modes

def test_artifacts_are_written_with_the_users_umask(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    assert FILE_MODE == 0o666 & ~mask
    store = Store(tmp_path)
    run_id = _new(store)
    written = store.write_artifact(run_id, SPEC, "name: r\n")
    with store.artifact_writer(run_id, "model.keras") as tmp:
        os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))   # a writer that makes its file private
    for path in (written, store.artifact_dir(run_id) / "model.keras"):
        assert oct(path.stat().st_mode & 0o777) == oct(FILE_MODE)
    store.close()


# ---------------------------------------------------------------- a deleted run folder

@pytest.fixture
def gone(tmp_path):
    """A finished run whose folder was removed by hand: (its home, its id, the line every reader says)."""
    home = tmp_path / "home"
    store = Store(home)
    run_id = _new(store)
    _finish(store, run_id, weights={"run": run_id, "file": "population.npz"})
    store.close()
    shutil.rmtree(home / "artifacts" / run_id)
    return home, run_id, f"run {run_id}: its folder {home / 'artifacts' / run_id} is missing (deleted?)"


def test_a_deleted_run_folder_is_said_by_the_read_model(gone):
    home, run_id, line = gone
    store = Store(home)
    run = store.get_run(run_id)
    for read in (lambda: run_folder(store, run_id), lambda: load_stats(store, run_id),
                 lambda: RunArtifacts(store, run), lambda: model_file(store, run)):
        with pytest.raises(BadInput) as e:
            read()
        assert str(e.value) == line
    assert not (home / "artifacts" / run_id).exists()   # no reader made it again


@pytest.mark.parametrize("command", [["show"], ["report"], ["doctor"], ["doctor", "--fix"],
                                     ["export", "--tensorboard", "{tmp}/tb"], ["predict", "{tmp}/digit.png"]])
def test_every_command_says_a_run_folder_is_gone(gone, tmp_path, command):
    home, run_id, line = gone
    (tmp_path / "digit.png").write_bytes(b"")
    argv = [command[0], run_id, *(a.format(tmp=tmp_path) for a in command[1:])]
    code, out, err = cli("--home", str(home), *argv)
    assert (code, out, err) == (2, "", f"mlplab: error: {line}\n")
    assert not (home / "artifacts" / run_id).exists() and not (tmp_path / "tb").exists()


def test_the_dashboard_page_of_a_run_whose_folder_is_gone_says_so(gone):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient
    from mlplab.web import create_app
    home, run_id, line = gone
    base = "http://127.0.0.1:8765"
    with TestClient(create_app(home, token="t"), base_url=base, raise_server_exceptions=False) as client:
        assert client.get("/?token=t").status_code == 200
        page = client.get(f"/runs/{run_id}")
        assert page.status_code == 400 and line in page.text.replace("&#39;", "'")
