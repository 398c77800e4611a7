"""Stored runs side by side: the spec keys that differ and the metrics (CLI `compare` and the dashboard)."""
from __future__ import annotations

import json

from ..spec.sweep import value_text


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


SHORT_KEYS = {"learning_rate": "lr", "batch_size": "batch"}   # a legend's names for the longest keys


def implied(key: str, differences: dict[str, list]) -> bool:
    """A parameter that differs only because its table's name does (adam's beta_1, absent from sgd): the
    runs that have it agree on it."""
    parent = key.rsplit(".", 1)[0]
    present = {json.dumps(v, sort_keys=True) for v in differences[key] if v is not None}
    return key != f"{parent}.name" and f"{parent}.name" in differences and len(present) <= 1


def label_part(key: str, value) -> str:
    """One difference as a legend shows it: a name bare ("adam"), else short key=short value ("lr=0.01")."""
    text = value_text(value) if isinstance(value, (float, dict)) else \
        json.dumps(value) if isinstance(value, list) else str(value)
    last = key.rsplit(".", 1)[-1]
    return text if last == "name" else f"{SHORT_KEYS.get(last, last)}={text}"


def labels(runs: list[dict], differences: dict[str, list]) -> list[str]:
    """A legend label per run that says what differs, short: "adam lr=0.001" against "sgd lr=0.01" (names
    first; a parameter only another optimizer has is left out where those runs agree on it); its id when
    nothing differs, or when two runs differ in nothing shown."""
    keys = sorted((k for k in differences if not implied(k, differences)), key=lambda k: not k.endswith(".name"))
    out = [" ".join(label_part(k, differences[k][i]) for k in keys if differences[k][i] is not None)
           for i in range(len(runs))]
    if not all(out) or len(set(out)) < len(out):
        out = [f"{r['id']}" + (f" {label}" if label else "") for r, label in zip(runs, out)]
    return out
