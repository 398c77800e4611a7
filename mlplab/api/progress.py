"""Training progress as one line that updates in place: a notebook display, or `\r` on a terminal."""
from __future__ import annotations

import html
import math
import sys
import time
from typing import Any


SHOW_AFTER = 3.0  # seconds into an epoch before its steps are shown


def in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """One line that updates in place: a notebook display handle, or `\\r` on a terminal.

    Updates are throttled (at most every `interval` seconds), so a sweep of a
    hundred members neither floods the output nor freezes the notebook.
    """

    def __init__(self, label: str, total: int, *, interval: float = 0.25, stream=None):
        self.label, self.total, self.interval = label, max(1, total), interval
        self.done, self.last, self.text = 0, 0.0, ""
        self.stream = stream or sys.stderr
        self.notebook = in_notebook()
        self.handle = None
        self.t0 = time.perf_counter()

    def _html(self, text: str) -> Any:
        from IPython.display import HTML
        return HTML(f'<div style="font-family:monospace"><progress value="{self.done}" max="{self.total}" '
                    f'style="width:180px;vertical-align:middle"></progress> {html.escape(text)}</div>')

    def _show(self, text: str, final: bool = False) -> None:
        self.text = text
        if self.notebook:
            from IPython.display import display
            if self.handle is None:
                self.handle = display(self._html(text), display_id=True)
            else:
                self.handle.update(self._html(text))
        else:
            self.stream.write("\r" + text.ljust(100)[:160] + ("\n" if final else ""))
            self.stream.flush()

    def __call__(self, exp, run_id: str, epoch: int, rec: dict) -> None:
        self.done = min(self.total, self.done + 1)
        now = time.perf_counter()
        if now - self.last < self.interval and self.done < self.total:
            return
        self.last = now
        parts = [f"{self.label}: {self.done}/{self.total} epochs", f"loss {rec.get('loss', math.nan):.4f}",
                 f"acc {rec.get('accuracy', math.nan):.4f}"]
        if "val_accuracy" in rec:
            parts.append(f"val_acc {rec['val_accuracy']:.4f}")
        parts.append(f"{now - self.t0:.1f}s")
        self._show("  ".join(parts))

    def step(self, progress) -> None:
        """Progress inside an epoch (engine.train's on_step): after SHOW_AFTER seconds of an epoch the line
        shows its steps, samples per second and ETA (at most once a second in a notebook)."""
        now = time.perf_counter()
        if progress.seconds < SHOW_AFTER or now - self.last < max(self.interval, 1.0 if self.notebook else 0.25):
            return
        self.last = now
        self._show(f"{self.label}: {progress.text()}  {now - self.t0:.1f}s")

    def callbacks(self) -> dict:
        """The training callbacks that drive this line: on_epoch and on_step."""
        return {"on_epoch": self, "on_step": self.step}

    def close(self, summary: str) -> None:
        self.done = self.total
        self._show(f"{self.label}: {summary} ({time.perf_counter() - self.t0:.1f}s)", final=True)


def progress_bar(progress: bool, label: str, total: int) -> Progress | None:
    """A Progress of `total` epochs when `progress` is on, else None."""
    return Progress(label, total) if progress else None
