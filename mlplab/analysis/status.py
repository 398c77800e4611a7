"""What a run's status and result are: one definition, read by every view.

Plain data and pure functions (no JAX, no store): the engine decides a
member's status with `divergence`, the runner stores the `result`, and the
CLI, `--json`, the sweep table, the Python API, the dashboard and the report
all show the same words, colours, exit codes and numbers.

Statuses:

    running      training now (its process is alive)
    ok           ran all its epochs
    stopped      early stopping ended it (a normal, good end)
    diverged     the loss or weights became NaN/inf, or the loss stopped falling far
                 above a uniform guess with accuracy at chance (see `divergence`)
    interrupted  Ctrl-C or a Stop button, at any point
    failed       an error ended it (the message is stored with the run)
    lost         its process is gone (killed, crashed machine): seen from the
                 pid on the same host, or a stale heartbeat from another host

The result of a run is the evaluation of the weights it ends with: the best
epoch's when early stopping restores them (`restore_best`), else the last
good epoch's (a diverged epoch is undone). `result_epoch` says which epoch
that is; the result's numbers are measured on those weights, never looked up
at another epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Status:
    word: str
    meaning: str
    exit_code: int
    color: str        # text colour (CSS / terminal hex)
    background: str   # badge background
    healthy: bool     # did training end well?


STATUSES: dict[str, Status] = {s.word: s for s in (
    Status("running", "training now", 0, "#9a6700", "#fff4d6", True),
    Status("ok", "ran all its epochs", 0, "#1a7f37", "#e6f4ea", True),
    Status("stopped", "early stopping ended it", 0, "#1a7f37", "#e6f4ea", True),
    Status("diverged", "the loss blew up (NaN/inf, or stuck far above a uniform guess with accuracy at chance)",
           1, "#d1242f", "#fdecec", False),
    Status("interrupted", "stopped by Ctrl-C or the Stop button", 130, "#9a6700", "#fff4d6", False),
    Status("failed", "an error ended it", 1, "#d1242f", "#fdecec", False),
    Status("lost", "its process is gone (killed or crashed)", 1, "#6e7781", "#eaeef2", False),
)}
EXIT_CODES = {word: s.exit_code for word, s in STATUSES.items()}


def exit_code(statuses: list[str] | str) -> int:
    """The CLI's exit code for one status, or the worst of several (a sweep)."""
    words = [statuses] if isinstance(statuses, str) else list(statuses)
    codes = [EXIT_CODES.get(w, 1) for w in words] or [0]
    return 130 if 130 in codes else max(codes)


def status_of(error: BaseException) -> str:
    """The status a run ends with when `error` stops it."""
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"


def status_css() -> str:
    """CSS for `<span class="status status-WORD">` badges (dashboard and reports)."""
    return "".join(f".status-{s.word}{{color:{s.color};background:{s.background}}}" for s in STATUSES.values())


def combined(statuses: list[str]) -> str:
    """The status of several runs (a sweep row): "ok", or "ok/diverged"."""
    return "/".join(sorted(set(statuses)))


SEVERITY_ORDER = ("failed", "lost", "diverged", "interrupted", "running", "stopped", "ok")


def worst(status: str) -> str:
    """The least healthy word of a status or a combined one ("ok/diverged" -> "diverged"): its badge colour."""
    words = [w for w in (status or "").split("/") if w in STATUSES]
    return min(words, key=SEVERITY_ORDER.index) if words else "failed"


# ---------------------------------------------------------------- divergence

# The rule, with where the numbers come from:
# - non-finite: a NaN/inf loss (running or inference) or weight diverged in that epoch.
# - a plateau far above a uniform guess: Keras' crossentropy clips probabilities at 1e-7, so a blown-up
#   softmax does not give NaN but a loss near -log(1e-7) (about 16) times the error rate (about 14.5 on
#   10 classes at chance), where it stays: gradients through saturated outputs do not bring it back.
#   From epoch DIVERGE_FROM_EPOCH on, a crossentropy loss at or above PLATEAU_FACTOR x log(C) (twice the
#   loss of a uniform guess) with accuracy at chance, in two consecutive epochs, the second of which did
#   not lower the loss by FALLING or more, is a divergence.
# - a falling loss is never divergence, however high: SGD at 1e-4 on raw digits starts near 9-14 and
#   falls by 10-20 % an epoch (9.05 -> 7.61 in the run, seeds 1-3), which is a slow learner;
#   the plateau of a blown-up softmax moves by well under 1 % (SGD at lr 10 on raw digits: 14.51 ->
#   14.50). A net merely stuck near log(C) is not diverged either; the doctor calls it "stuck".
DIVERGE_FROM_EPOCH = 2
PLATEAU_FACTOR = 2.0
FALLING = 0.01        # a fall of 1 % of the loss in an epoch is still learning
CHANCE_MARGIN = 0.1   # "at chance": below chance + 10 % of the way from chance to perfect


def chance_level(train_counts: list[int] | None, num_classes: int) -> float:
    """Accuracy of always guessing the most common training class."""
    total = sum(train_counts or [])
    return max(train_counts) / total if total else 1 / max(num_classes, 2)


def at_chance(accuracy: float, chance: float) -> bool:
    return accuracy < chance + CHANCE_MARGIN * (1 - chance)


def _series(history: dict, *names: str) -> list[float]:
    for name in names:
        values = history.get(name)
        if values:
            return [math.nan if v is None else float(v) for v in values]
    return []


def falling(before: float, after: float) -> bool:
    """Did the loss fall from `before` to `after` by at least FALLING of itself?"""
    return after < before * (1 - FALLING)


def divergence(history: dict, num_classes: int, chance: float, crossentropy: bool = True) -> tuple[int, str] | None:
    """(epoch, how) of the first epoch where the rule above says the run diverged, else None."""
    for name in ("loss", "train_loss", "val_loss", "test_loss"):
        for i, v in enumerate(_series(history, name)):
            if not math.isfinite(v):
                return i + 1, "the loss became NaN/infinite"
    if not crossentropy:
        return None
    loss, acc = _series(history, "train_loss", "loss"), _series(history, "train_accuracy", "accuracy")
    limit = PLATEAU_FACTOR * math.log(max(num_classes, 2))
    bad = [i for i in range(min(len(loss), len(acc))) if loss[i] >= limit and at_chance(acc[i], chance)]
    for i in bad:
        if i + 1 >= DIVERGE_FROM_EPOCH and i - 1 in bad and not falling(loss[i - 1], loss[i]):
            return i + 1, (f"the loss sits at {loss[i]:.3g}, far above a uniform guess ({limit / PLATEAU_FACTOR:.3g}), "
                           "with accuracy at chance, and has stopped falling")
    return None


def divergence_rule(num_classes: int, class_counts: list[int] | None, loss: str):
    """The rule as the engine asks it after each epoch: history so far -> why it diverged, or None."""
    chance = chance_level(class_counts, num_classes)

    def diverged(history: dict) -> str | None:
        found = divergence(history, num_classes, chance, "crossentropy" in loss)
        return found[1] if found else None
    return diverged


# ---------------------------------------------------------------- the result

RESULT_KEYS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")


def result_epoch(status: str, epochs_run: int, best_epoch: int | None, restore_best: bool) -> int | None:
    """The epoch whose weights a run ends with (None: its initial weights).

    The best epoch's when early stopping restores them; else the last epoch, minus
    one when the run diverged (the diverged epoch is undone)."""
    if restore_best and best_epoch:
        return best_epoch
    last = epochs_run - (1 if status == "diverged" else 0)
    return last if last >= 1 else None


def describe_result(epoch: int | None, best_epoch: int | None, restore_best: bool, status: str = "ok") -> str:
    """Where the result's weights come from, in words."""
    if epoch is None:
        return "the initial weights (no epoch finished well)"
    if restore_best and epoch == best_epoch:
        return f"epoch {epoch} (the best, restored)"
    return f"epoch {epoch} (the last before it diverged)" if status == "diverged" else f"epoch {epoch} (the last)"


def ranking_metric(rows: list[dict]) -> str:
    """A sweep ranks by validation accuracy when it has a validation split, else test accuracy."""
    has_val = any(isinstance(r.get("val_accuracy"), (int, float)) and math.isfinite(r["val_accuracy"]) for r in rows)
    return "val_accuracy" if has_val else "test_accuracy"


def rank(rows: list[dict]) -> tuple[list[dict], str]:
    """Rows best first by `ranking_metric` (rows without a finite value last), with "rank" set."""
    key = ranking_metric(rows)
    ordered = sorted(rows, key=lambda r: -r[key] if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
                     else math.inf)
    for i, row in enumerate(ordered):
        row["rank"] = i + 1
    return ordered, key


# ---------------------------------------------------------------- a run in a list

ROW_KEYS = ("id", "name", "dataset", "model", "optimizer", "learning_rate", "status", "test_loss", "test_accuracy",
            "epochs_run", "best_epoch", "seconds", "created", "sweep_id", "params")


def run_row(run: dict) -> dict:
    """The facts of a stored run (`Store.get_run`/`list_runs`) that every list of runs shows:
    `runs --json`, the dashboard's /api/runs, the API's `runs()` table; with the doctor's verdict
    next to the status (`health`, `headline`: analysis.health, kept with the run by the store), and what
    the user said about it (`tags`, `note`: store.labels)."""
    summary = run.get("summary") or {}
    return {**{k: run.get(k) for k in ROW_KEYS}, "result_epoch": (summary.get("result") or {}).get("epoch"),
            "layers": list(summary.get("layers") or []),
            "health": run.get("health"), "headline": run.get("headline"),
            "tags": list(run.get("tags") or []), "note": run.get("note") or ""}


# accuracy differences below one point are noise however many rows measure them
MIN_NOISE = 0.01


def noise(p1: float, p2: float, rows: int | None) -> float:
    """The largest difference between two accuracies measured on the same `rows` rows that is still noise:
    two standard errors of the difference, 2 sqrt((p1 (1 - p1) + p2 (1 - p2)) / rows), at least MIN_NOISE
    (just MIN_NOISE when the number of rows is unknown)."""
    if not rows or not (math.isfinite(p1) and math.isfinite(p2)):
        return MIN_NOISE
    spread = max(p1 * (1 - p1), 0.0) + max(p2 * (1 - p2), 0.0)
    return max(MIN_NOISE, 2 * math.sqrt(spread / rows))
