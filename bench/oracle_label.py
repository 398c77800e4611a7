"""The oracle benchmark's label rule and status check (bench/doctor_oracle.py's docstring): pure functions."""
from __future__ import annotations

import math


def se_diff(p1: float, p2: float, n: int) -> float:
    return math.sqrt(max(p1 * (1 - p1) + p2 * (1 - p2), 1e-12) / max(n, 1))


def label(orig: float, others: dict[str, float], n_val: int, chance: float) -> tuple[str, list[str], float]:
    """("healthy" | "unhealthy" | "unclear", the right fixes' names, the best neighbour's accuracy)."""
    from mlplab.analysis.status import at_chance
    orig = 0.0 if not math.isfinite(orig) else orig
    vals = {k: v for k, v in others.items() if math.isfinite(v)}
    best = max(vals.values(), default=float("nan"))
    gain = best - orig if math.isfinite(best) else 0.0
    se = se_diff(orig, best if math.isfinite(best) else orig, n_val)
    near = max(2 * se, 0.01)
    right = [k for k, v in vals.items() if v >= best - near] if math.isfinite(best) else []
    if at_chance(orig, chance):
        return "unhealthy", ([] if not math.isfinite(best) or at_chance(best, chance) else right), best
    if gain > max(3 * se, 0.03):
        return "unhealthy", right, best
    if gain <= near and orig >= chance + 0.5 * (1 - chance):
        return "healthy", [], best
    return "unclear", [], best


def status_contradicts(status: str, history: dict) -> bool:
    loss = [float("nan") if v is None else float(v) for v in (history.get("train_loss") or history.get("loss") or [])]
    finite = all(math.isfinite(v) for v in loss)
    if status == "diverged":   # fell by at least 1 % in each of its last two epochs
        return finite and len(loss) >= 3 and loss[-1] < 0.99 * loss[-2] and loss[-2] < 0.99 * loss[-3]
    if status in ("ok", "stopped"):
        return not finite
    return False
