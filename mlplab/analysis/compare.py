"""Stored runs side by side: the spec keys that differ and the metrics (CLI `compare` and the dashboard)."""
from __future__ import annotations

import json


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "init":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def comparison(runs: list[dict]) -> dict:
    """Spec keys that differ between the runs, and their metrics side by side."""
    specs = [_flatten({k: v for k, v in r["spec"].items() if k != "name"}) for r in runs]
    keys = sorted(set().union(*specs))
    differ = {k: [s.get(k) for s in specs] for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in specs}) > 1}

    def at_end(r, key):
        values = (r.get("history") or {}).get(key) or []
        return values[-1] if values else None
    metrics = {}
    for label, f in [("status", lambda r: r["status"]), ("epochs", lambda r: r.get("epochs_run")),
                     ("best epoch", lambda r: r.get("best_epoch")), ("seconds", lambda r: r.get("seconds")),
                     ("params", lambda r: r.get("params")), ("test accuracy", lambda r: r.get("test_accuracy")),
                     ("test loss", lambda r: r.get("test_loss")),
                     ("val accuracy (last)", lambda r: at_end(r, "val_accuracy")),
                     ("train accuracy (last)", lambda r: at_end(r, "train_accuracy"))]:
        metrics[label] = [f(r) for r in runs]
    return {"runs": [r["id"] for r in runs], "names": [r["name"] for r in runs], "differences": differ,
            "metrics": metrics}
