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

    def result(r, key):  # the run's result (analysis.status): the weights it ends with
        return ((r.get("summary") or {}).get("result") or {}).get(key)
    metrics = {}
    for label, f in [("status", lambda r: r["status"]), ("epochs", lambda r: r.get("epochs_run")),
                     ("best epoch", lambda r: r.get("best_epoch")), ("result epoch", lambda r: result(r, "epoch")),
                     ("seconds", lambda r: r.get("seconds")), ("params", lambda r: r.get("params")),
                     ("test accuracy", lambda r: r.get("test_accuracy")), ("test loss", lambda r: r.get("test_loss")),
                     ("val accuracy", lambda r: result(r, "val_accuracy")),
                     ("train accuracy", lambda r: result(r, "train_accuracy"))]:
        metrics[label] = [f(r) for r in runs]
    return {"runs": [r["id"] for r in runs], "names": [r["name"] for r in runs], "differences": differ,
            "labels": labels(runs, differ), "metrics": metrics}


def labels(runs: list[dict], differences: dict[str, list]) -> list[str]:
    """A legend label per run that says what differs: "learning_rate=0.01, optimizer=sgd" (its id
    when nothing does, or when two runs differ in nothing shown)."""
    def text(v) -> str:
        return f"{v:.3g}" if isinstance(v, float) else (v.get("name", json.dumps(v)) if isinstance(v, dict)
                                                        else json.dumps(v) if isinstance(v, list) else str(v))
    out = [", ".join(f"{key.rsplit('.', 1)[-1]}={text(values[i])}" for key, values in differences.items())
           for i in range(len(runs))]
    if not all(out) or len(set(out)) < len(out):
        out = [f"{r['id']}" + (f" {label}" if label else "") for r, label in zip(runs, out)]
    return out
