"""What a running run shows before it ends: its progress inside an epoch, and live checks.

While a run trains, `progress.json` in its artifact folder holds the latest
engine.progress.StepProgress (its fields, rates, ETA and the CLI's one-line text),
rewritten at most every `EVERY` seconds (stored.artifacts.read_progress reads it); it is removed when
the run ends.
`LiveChecks` (an engine callback) asks the doctor's cheap rules after every epoch and tells
each new warning once.
"""
from __future__ import annotations

import contextlib
import json
import time
from typing import Callable

from ..analysis.doctor import Finding, live_check
from ..engine.callbacks import Callback
from ..engine.progress import StepProgress
from ..store import Store
from ..store.artifacts import PROGRESS

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


class LiveChecks(Callback):
    """An engine.train callback (on_epoch_end): the doctor's live rules on each member after each epoch;
    `on_warning(run_id, epoch, finding)` once per run and finding code."""

    def __init__(self, run_ids: list[str], specs: list[dict], on_warning: Callable[[str, int, Finding], None],
                 data: dict | None = None):
        self.run_ids, self.specs, self.on_warning = run_ids, specs, on_warning
        self.summary = {"data": data or {}}   # class names and counts: chance level for the live rules
        self.told: set[tuple[str, str]] = set()

    def on_epoch_end(self, epoch: int, records: list, view) -> None:
        for i, (run_id, spec) in enumerate(zip(self.run_ids, self.specs)):   # padding members have no run
            if records[i] is None:
                continue
            run = {"spec": spec, "history": view.history(i), "summary": self.summary}
            for finding in live_check(run, view.stats(i)):
                if (run_id, finding.code) not in self.told:
                    self.told.add((run_id, finding.code))
                    self.on_warning(run_id, epoch, finding)
