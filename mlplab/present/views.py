"""Derived views of a run, computed once and stored as artifacts: figure PNGs, embeddings, the report.

    png = stored_view(art, "confusion-matrix", "png", {}, compute)    # bytes; compute() only on a miss

A view lives in ``artifacts/<run>/views/<name>-<state>-<options>.<ext>``:

- `<state>` is a digest of what changes when the run changes (its status, finished time, epochs
  run, best epoch, result) and of VIEWS_VERSION; a new state makes every older view of the run
  stale, and they are removed when the next view is written;
- `<options>` is a digest of the view's options (a figure's keyword arguments).

A running run is never cached (it changes every epoch): its views are computed on each request.
Writes are atomic (Store.write_artifact). There is no global lock: two different views compute
at once; the same view asked for twice at once (threads of the dashboard, or processes: the CLI
beside the dashboard) is computed once, the others waiting for it and reading what it stored.
A store that cannot be written (read-only) still answers: the view is computed and not kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from ..stored import RunArtifacts

VIEWS_VERSION = 3        # bump when a figure's drawing or the report's layout changes: every stored view is stale
FOLDER = "views"
log = logging.getLogger(__name__)


def digest(obj) -> str:
    """A short, stable digest of JSON-able data (TypeError for anything else)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def run_state(art: "RunArtifacts") -> str:
    """What a run's views depend on, as a digest: it changes whenever the run does."""
    run = art.run
    facts = [VIEWS_VERSION, run["id"], run.get("status"), run.get("finished"), run.get("epochs_run"),
             run.get("best_epoch"), run.get("test_loss"), run.get("test_accuracy")]
    return digest(facts)


def cacheable(art: "RunArtifacts") -> bool:
    """Only a run that has ended has views worth keeping."""
    return art.run.get("status") not in (None, "running")


def view_file(art: "RunArtifacts", name: str, ext: str, options: dict) -> str | None:
    """The view's file name inside views/, or None when it cannot be cached (a running run, options that
    are not plain data)."""
    if not cacheable(art):
        return None
    try:
        return f"{name}-{run_state(art)}-{digest(options)}.{ext}"
    except (TypeError, ValueError):
        return None


def stored_view(art: "RunArtifacts", name: str, ext: str, options: dict, compute: Callable[[], bytes]) -> bytes:
    """The stored view (name, options) of the run, computed by `compute()` and stored on a miss."""
    file = view_file(art, name, ext, options)
    if file is None:
        return compute()
    path = art.folder / FOLDER / file
    data = read(path)
    if data is not None:
        return data
    with key_lock(path):
        data = read(path)          # computed by whoever held the lock before us
        if data is None:
            data = compute()
            keep(art, file, data)
    return data


def stored_or_none(art: "RunArtifacts", name: str, ext: str, options: dict) -> bytes | None:
    """The view if it is stored (no computing, no waiting)."""
    file = view_file(art, name, ext, options)
    return None if file is None else read(art.folder / FOLDER / file)


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def keep(art: "RunArtifacts", file: str, data: bytes) -> None:
    """Store a view atomically and drop the run's stale ones; a store we cannot write keeps nothing."""
    try:
        art.store.write_artifact(art.id, f"{FOLDER}/{file}", data)
    except OSError as e:
        log.debug("view %s of run %s not stored: %s", file, art.id, e)
        return
    prune(art.folder / FOLDER, file.rsplit("-", 2)[1])


def prune(folder: Path, state: str) -> None:
    """Remove the views of other states (the run changed since they were computed)."""
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            parts = path.stem.rsplit("-", 2)
            if not path.name.startswith(".") and len(parts) == 3 and parts[1] != state:
                path.unlink(missing_ok=True)


# ---------------------------------------------------------------- one computation per view

_guard = threading.Lock()
_locks: dict[str, list] = {}     # path -> [lock, number of threads using it]


@contextlib.contextmanager
def key_lock(path: Path) -> Iterator[None]:
    """Hold the lock of one view: in this process (threads) and, where the OS has flock, across processes."""
    key = str(path)
    with _guard:
        entry = _locks.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0], _file_lock(path):
            yield
    finally:
        with _guard:
            entry[1] -= 1
            if entry[1] == 0:
                _locks.pop(key, None)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:          # no flock (Windows): threads are still serialized
        yield
        return
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:              # a read-only store: nothing will be written, nothing to serialize
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            lock_path.unlink()   # a waiter re-reads the view before computing, so removing it is safe
        os.close(fd)


# ---------------------------------------------------------------- saying that something takes a while

def notice(text: str) -> None:
    """Say that a long computation starts: to the `mlplab` loggers if the application set them up
    (the dashboard, a test), else as one line on stderr (the CLI, a notebook)."""
    if log.hasHandlers():
        log.info(text)
    else:
        print(f"mlplab: {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    """notice(what), then how long it took."""
    notice(f"{what}...")
    t = time.perf_counter()
    yield
    log.info("%s took %.1f s", what, time.perf_counter() - t)
