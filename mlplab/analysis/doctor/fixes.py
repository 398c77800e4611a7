"""Fixes: concrete spec changes, made safe against the run's own settings and written out.

A fix is a dict of dotted spec keys and the values to set (`{"data.scale": "unit"}`,
`{"model.activation": "relu", "model.init": "he_normal"}`): one option, applied together.
`safe` drops what would change nothing (a value the run already has), any non-finite number
and shorthand model keys a `layers` spec refuses, so a suggestion is never the current setting.
`cli_text` writes a fix as `--set` options for `mlplab run`; `python_text` as the arguments of
`ml.fit` (or the change to make in the Keras model) for a run trained on the user's own model.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

Fix = dict[str, Any]

# model keys the `layers` form of a spec refuses (spec.schema.SHORTHAND)
SHORTHAND_KEYS = ("model.hidden", "model.activation", "model.dropout", "model.batchnorm")

# ml.fit's argument for each spec key it takes (mlplab.api.keras_fit.fit)
FIT_ARGUMENTS = {"train.learning_rate": "learning_rate", "train.optimizer": "optimizer", "train.loss": "loss",
                 "train.epochs": "epochs", "train.batch_size": "batch_size", "train.shuffle": "shuffle",
                 "train.early_stopping": "early_stopping", "data.scale": "scale",
                 "data.validation_split": "validation_split"}

# what to change in a Keras model for each model key
KERAS_CHANGES = {
    "model.activation": lambda v: f'activation="{v}" in the hidden layers',
    "model.init": lambda v: f'kernel_initializer="{v}"',
    "model.dropout": lambda v: f"Dropout({v:g}) after the hidden layers" if v else "no Dropout layers",
    "model.l2": lambda v: f"kernel_regularizer=keras.regularizers.l2({v:g})" if v else "no L2 regularizer",
    "model.l1": lambda v: f"kernel_regularizer=keras.regularizers.l1({v:g})" if v else "no L1 regularizer",
    "model.batchnorm": lambda v: "a BatchNormalization() after each hidden Dense layer" if v else "no BatchNormalization",
    "model.hidden": lambda v: "hidden Dense layers of " + ", ".join(str(w) for w in v) + " units",
}


def current(spec: dict, key: str) -> Any:
    """The run's own value of a dotted key (the learning rate lives in train.optimizer)."""
    if key == "train.learning_rate":
        key = "train.optimizer.learning_rate"
    if key == "train.optimizer":
        opt = (spec.get("train") or {}).get("optimizer")
        return opt.get("name") if isinstance(opt, dict) else opt
    node: Any = spec
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    if key == "model.init" and isinstance(node, dict) and set(node) <= {"name"}:
        return node.get("name")
    return node


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return a == b


def _finite(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, (list, tuple)):
        return all(_finite(x) for x in v)
    return True


def safe(spec: dict, fix: Fix) -> Fix | None:
    """The part of `fix` that changes something, or None when nothing would change or it cannot apply."""
    layers = (spec.get("model") or {}).get("layers") is not None
    out = {}
    for key, value in fix.items():
        if not _finite(value) or (layers and key in SHORTHAND_KEYS):
            return None
        if key == "train.early_stopping" and value is True and current(spec, key):
            continue
        if not _same(value, current(spec, key)):
            out[key] = value
    return out or None


def safe_fixes(spec: dict, fixes: list[Fix]) -> list[Fix]:
    """The safe fixes, without repeats, in their order."""
    out: list[Fix] = []
    for fix in fixes:
        s = safe(spec, fix)
        if s is not None and s not in out:
            out.append(s)
    return out


# ------------------------------------------------------------------ words

def value_text(v: Any) -> str:
    """A value as --set reads it (a TOML value, no spaces so the shell keeps it one word)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(value_text(x) for x in v) + "]"
    if isinstance(v, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", v) and v not in ("true", "false"):
        return v
    return json.dumps(v)


def cli_text(fix: Fix) -> str:
    return " ".join(f"--set {k}={value_text(v)}" for k, v in fix.items())


def _python_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return json.dumps(v) if isinstance(v, str) else repr(v)


def python_text(fix: Fix) -> str:
    """An option as a run trained with ml.fit takes it: fit's arguments, or the change to the Keras model."""
    arguments = [f"{FIT_ARGUMENTS[k]}={_python_value(v)}" for k, v in fix.items() if k in FIT_ARGUMENTS]
    changes = [KERAS_CHANGES[k](v) for k, v in fix.items() if k in KERAS_CHANGES]
    parts = []
    if arguments:
        parts.append("ml.fit(model, ..., " + ", ".join(arguments) + ")")
    if changes:
        parts.append("in your Keras model: " + ", ".join(changes))
    return "; ".join(parts) or cli_text(fix)


def suggestion_text(fixes: list[Fix], python: bool = False, note: str = "") -> str:
    """The first fix, the others as alternatives: "--set a=1 (or --set b=2)"; `note` when there is none."""
    if not fixes:
        return note
    text = python_text if python else cli_text
    first, rest = text(fixes[0]), [text(f) for f in fixes[1:3]]
    return first + (f" (or {'; or '.join(rest)})" if rest else "") + (f"; {note}" if note else "")
