"""Progress inside an epoch, kept with each running run for the dashboard's live page.

While a run trains, `progress.json` in its artifact folder holds the latest
engine.progress.StepProgress (its fields, rates, ETA and the CLI's one-line text),
rewritten at most every `EVERY` seconds; it is removed when the run ends.
"""
from __future__ import annotations

import contextlib
import json
import time
from typing import Callable

from ..engine.progress import StepProgress
from ..store import Store, loads

PROGRESS = "progress.json"
EVERY = 2.0  # seconds between rewrites


def progress_recorder(store: Store, run_ids: list[str], on_step: Callable | None = None) -> Callable:
    """An on_step callback that writes each run's progress.json (throttled), then calls `on_step`."""
    last = [0.0]

    def record(p: StepProgress) -> None:
        now = time.time()
        if now - last[0] >= EVERY:
            last[0] = now
            doc = json.dumps({**p.to_json(), "text": p.text(), "time": now})
            for run_id in run_ids:
                with store.artifact_writer(run_id, PROGRESS) as tmp:
                    tmp.write_text(doc)
        if on_step:
            on_step(p)
    return record


def clear_progress(store: Store, run_ids: list[str]) -> None:
    for run_id in run_ids:
        with contextlib.suppress(FileNotFoundError):
            (store.artifact_dir(run_id) / PROGRESS).unlink()


def read_progress(store: Store, run_id: str) -> dict | None:
    """The run's latest in-epoch progress, or None (not running, or no epoch long enough yet)."""
    try:
        return loads((store.artifact_dir(run_id) / PROGRESS).read_text())
    except (FileNotFoundError, ValueError):
        return None
