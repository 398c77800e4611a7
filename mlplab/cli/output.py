"""What the CLI prints: consoles, number formats, coloured statuses, progress lines and tables."""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Piped output (tests, `| less`) gets wide lines instead of rich's 80-column default.
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def epoch_text(v: Any) -> str:
    """An epoch number, or the mean of several: 5, 5.5, or - when there is none."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return str(int(v)) if float(v) == int(v) else f"{v:.1f}"


_JSON_OUT: list = []   # the real standard output while a --json command runs (json_only)


def print_json(doc: Any) -> None:
    from ..store import dumps
    stream = _JSON_OUT[-1] if _JSON_OUT else sys.stdout
    stream.write(dumps(doc, indent=2) + "\n")
    stream.flush()


@contextlib.contextmanager
def json_only():
    """While a --json command runs, its document is the only thing on standard output: whatever else writes
    to file descriptor 1 (a library's print, C code, Ray's "(raylet)" lines) goes to stderr. Where stdout is
    not the process's descriptor 1 (captured in a test), nothing changes."""
    try:
        real = sys.stdout.fileno() == 1
    except (AttributeError, OSError, ValueError):
        real = False
    if not real:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    _JSON_OUT.append(os.fdopen(os.dup(saved), "w"))
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        _JSON_OUT.pop().close()


# ---------------------------------------------------------------- progress

class ProgressLine:
    """Progress inside epochs longer than SHOW_AFTER seconds (engine.train's on_step), on stderr: one
    line updating in place on a terminal (at most 4 times a second); piped (a log file, the
    dashboard's job log, whose last lines the live page shows), a plain line every 5 s."""
    SHOW_AFTER = 3.0

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last, self.shown, self.compile_seconds = 0.0, False, 0.0

    def __call__(self, progress) -> None:
        self.compile_seconds = progress.compile_seconds
        now = time.monotonic()
        if progress.seconds < self.SHOW_AFTER or now - self.last < (0.25 if self.tty else 5.0):
            return
        self.last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + progress.text())
            self.shown = True
        else:
            self.stream.write(progress.text() + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Take the updating line away before a line that stays."""
        if self.shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self.shown = False


class EpochPrinter:
    """One line per epoch, as Keras prints them, with seconds (and compiling) and ETA (stderr);
    `step` shows progress inside long epochs."""

    def __init__(self, epochs: int):
        self.epochs = epochs
        self.elapsed = 0.0  # training seconds so far, compiling excluded
        self.step = ProgressLine()

    def __call__(self, exp, run_id: str, epoch: int, rec: dict) -> None:
        self.step.clear()
        compiling = min(self.step.compile_seconds, rec["seconds"])
        self.step.compile_seconds = 0.0
        self.elapsed += rec["seconds"] - compiling
        eta = self.elapsed / epoch * (self.epochs - epoch)
        parts = [f"epoch {epoch:>3}/{self.epochs}", f"loss {fmt(rec['loss'])}", f"acc {fmt(rec['accuracy'])}"]
        if "val_loss" in rec:
            parts += [f"val_loss {fmt(rec['val_loss'])}", f"val_acc {fmt(rec['val_accuracy'])}"]
        parts += [f"{rec['seconds']:.2f}s" + (f" ({compiling:.1f}s compiling)" if compiling >= 0.5 else ""),
                  f"ETA {eta:.0f}s"]
        err.print("  ".join(parts))


def status_text(word: str) -> str:
    """A status in its colour (the same colours as the dashboard and reports)."""
    from ..analysis.status import STATUSES, worst
    return f"[bold {STATUSES[worst(word)].color}]{word}[/]"


SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
HEADLINE_WIDTH = 40   # a list's health column: the headline, cut to this many characters
HEALTH_COLUMN = {"no_wrap": True, "overflow": "ellipsis", "min_width": 7}   # one line; cut further when narrow


def health_text(row: dict) -> str:
    """A run's (or sweep row's) health next to its status: the doctor's word in its colour (the same
    colours as the dashboard), and the headline unless the run is healthy; "-" while it trains."""
    from rich.markup import escape
    from ..analysis.health import LEVELS
    word, headline = row.get("health"), row.get("headline") or ""
    if word not in LEVELS:
        return escape(headline[:HEADLINE_WIDTH]) if headline else "-"
    if word == "ok":
        return f"[{LEVELS[word].color}]ok[/]"
    cut = headline if len(headline) <= HEADLINE_WIDTH else headline[:HEADLINE_WIDTH - 1] + "…"
    return f"[bold {LEVELS[word].color}]{word}[/] {escape(cut)}"


def print_findings(store, run_id: str, brief: bool) -> None:
    from ..stored import load_findings
    for f in load_findings(store, run_id):
        if brief and f.severity == "info":
            continue
        at = f" (from epoch {f.epoch})" if f.epoch else ""
        out.print(f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/] {f.title}{at}  [dim]{f.code}[/]")


def print_preflight(exp) -> None:
    """The doctor's configuration checks of an experiment, as notes on stderr (training goes on): what they
    predict is not a verdict; the doctor's findings after training say whether the run suffered from it."""
    from ..analysis.doctor import preflight
    for line in preflight(exp):
        err.print(f"note: {line}", markup=False, soft_wrap=True)


class SweepPrinter:
    """One line per group and epoch: how many members train, the best so far (stderr)."""

    def __init__(self, total: int):
        self.total, self.done, self.group = total, 0, 0
        self.epoch, self.records = 0, []
        self.step = ProgressLine()  # inside long epochs

    def start(self, group: list) -> None:
        self.flush()
        self.group += 1
        opts = sorted({e.train.optimizer.name for e in group})
        err.print(f"[bold]group {self.group}[/]: {len(group)} members ({self.done + 1}-{self.done + len(group)} "
                  f"of {self.total}), {group[0].display_name.split(' ')[0]}, optimizers {', '.join(opts)}")
        self.done += len(group)

    def __call__(self, exp, run_id: str, epoch: int, rec: dict) -> None:
        if epoch != self.epoch:
            self.flush()
            self.epoch = epoch
        self.records.append((exp, rec))

    def flush(self) -> None:
        self.step.clear()
        if not self.records:
            return
        key = "val_accuracy" if "val_accuracy" in self.records[0][1] else "accuracy"
        exp, rec = max(self.records, key=lambda r: r[1][key] if r[1][key] == r[1][key] else -1)
        err.print(f"  epoch {self.epoch:>3}: {len(self.records):>4} training, {self.records[0][1]['seconds']:.2f}s; "
                  f"best {key} {fmt(rec[key])} ({exp.display_name.split(' ', 1)[-1]})")
        self.records = []


def sweep_table(result) -> Table:
    from ..spec.sweep import short, value_text
    table = Table(box=None, header_style="bold")
    cols = ["rank", *(short(k) for k in result.keys), "train acc", "val acc", "test acc", "result ep", "best ep",
            "status", "health", "seconds", "params"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("status", "health") else "right",
                         **HEALTH_COLUMN if c == "health" else {})

    def acc(row, split):
        mean, std = row[f"{split}_accuracy"], row[f"{split}_accuracy_std"]
        return fmt(mean) + (f" ±{std:.3f}" if std and std == std else "")
    for row in result.rows:
        table.add_row(str(row["rank"]), *(value_text(row["values"][k]) for k in result.keys), acc(row, "train"),
                      acc(row, "val"), acc(row, "test"), epoch_text(row["result_epoch"]), epoch_text(row["best_epoch"]),
                      status_text(row["status"]), health_text(row), fmt(row["seconds"], 1), str(row["params"]))
    return table


def runs_table(rows: list[dict]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("id", "name", "dataset", "model", "optimizer", "lr", "status", "health", "test acc", "epochs", "seconds",
                "created"):
        table.add_column(col, justify="right" if col in ("lr", "test acc", "epochs", "seconds") else "left",
                         **HEALTH_COLUMN if col == "health" else {"no_wrap": col in ("id", "status", "created")})
    for r in rows:
        name = escape(r["name"]) + "".join(f" [cyan]#{t}[/]" for t in r.get("tags") or [])   # tags: plain words
        table.add_row(r["id"], name, r["dataset"], r.get("model") or "", r.get("optimizer") or "",
                      fmt(r.get("learning_rate"), 4) if r.get("learning_rate") is not None else "-",
                      status_text(r["status"]), health_text(r), fmt(r.get("test_accuracy")), fmt(r.get("epochs_run")),
                      fmt(r.get("seconds"), 1), (r.get("created") or "")[:19].replace("T", " "))
    return table
