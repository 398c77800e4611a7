"""A run's health: what the doctor thinks of its result, in one word and one line, for every list.

The status (analysis.status) says how training ended; the health says what the doctor makes of
the result. A run can end `ok` (it ran all its epochs) and still be unhealthy (it learned little):
every list of runs shows both, so a green `ok` never hides such a run.

    health(diagnose(run, stats))   # {"health": "error", "headline": "Learning rate too high (10 for sgd)"}

    ok       the doctor has no findings
    info     notes only
    warning  something to fix
    error    the result is not to be trusted (diverged, stuck, failed, lost, ...)
    None     the run is still training: no verdict until it ends

The headline is the title of the first finding of that severity (the doctor puts the status and
the best-supported cause first), or HEALTHY. A sweep row's health is the least healthy of its runs.

Pure functions of the findings: `of_run` asks the doctor; the store keeps the answer with the run
under `version()`, so a list reads it instead of diagnosing every row (store.health).
"""
from __future__ import annotations

from dataclasses import dataclass

HEALTHY = "healthy: the doctor has nothing to say"
PENDING = {"health": None, "headline": None}   # a run still training
# Raised when what `health` makes of findings changes (a stored verdict is then recomputed, as when
# the doctor's DOCTOR_VERSION changes).
RULE_VERSION = 1


@dataclass(frozen=True)
class Level:
    word: str
    meaning: str
    color: str        # text colour (CSS / terminal hex), as analysis.status
    background: str   # badge background


LEVELS: dict[str, Level] = {lv.word: lv for lv in (   # least to most severe
    Level("ok", "the doctor has no findings", "#1a7f37", "#e6f4ea"),
    Level("info", "the doctor has notes only", "#0969da", "#ddf4ff"),
    Level("warning", "the doctor found something to fix", "#9a6700", "#fff4d6"),
    Level("error", "the doctor does not trust the result", "#d1242f", "#fdecec"),
)}
ORDER = tuple(LEVELS)


def _severity(finding) -> str:
    return finding["severity"] if isinstance(finding, dict) else finding.severity


def _title(finding) -> str:
    return finding["title"] if isinstance(finding, dict) else finding.title


def health(findings) -> dict:
    """{"health", "headline"} of a finished run from the doctor's findings (Finding objects or their
    dicts): the most severe severity, and the title of the first finding with it."""
    findings = [f for f in findings or () if _severity(f) in LEVELS]
    if not findings:
        return {"health": "ok", "headline": HEALTHY}
    worst = max((_severity(f) for f in findings), key=ORDER.index)
    return {"health": worst, "headline": next(_title(f) for f in findings if _severity(f) == worst)}


def of_run(run: dict, stats: dict | None) -> dict:
    """The health of a stored run (`Store.get_run`, with its history) and its stats.json: PENDING while
    it trains, else what `health` makes of `diagnose`."""
    if run.get("status") == "running":
        return dict(PENDING)
    from .doctor import diagnose
    return health(diagnose(run, stats))


def version() -> str:
    """What a stored health was computed under: the doctor's version and this module's rule."""
    from .doctor import DOCTOR_VERSION
    return f"doctor {DOCTOR_VERSION}, health {RULE_VERSION}"


def combined(healths: list[dict]) -> dict:
    """The health of several runs (a sweep row): the least healthy one's; PENDING while all train."""
    known = [h for h in healths if h.get("health") in LEVELS]
    if not known:
        return dict(PENDING)
    return max(known, key=lambda h: ORDER.index(h["health"])).copy()


def unhealthy(h: dict) -> bool:
    """A verdict to warn about: a warning or an error (an "info" is a note)."""
    return h.get("health") in ("warning", "error")


def with_health(rows: list[dict], runs: list[dict]) -> list[dict]:
    """Sweep table rows (analysis.sweep_table) with `health` and `headline` from their runs as stored
    now (each run dict carries its own health, see `of_run`): the same verdicts the runs list shows."""
    by_id = {r["id"]: r for r in runs}
    for row in rows:
        members = [by_id[i] for i in row.get("runs") or () if i in by_id]
        if members:
            row.update(combined([{"health": r.get("health"), "headline": r.get("headline")}
                                 for r in members]))
    return rows


def health_css() -> str:
    """CSS for `<span class="health health-WORD">` badges (dashboard and reports)."""
    return "".join(f".health-{lv.word}{{color:{lv.color};background:{lv.background}}}" for lv in LEVELS.values())
