"""Reading a spec: a TOML/YAML file plus `--set KEY=VALUE` overrides -> a raw dict -> an Experiment.

    load_spec(path, overrides) = validate(load_raw(path, overrides))

`load_raw` is the one reader (a sweep's spec goes through it too, before its
[sweep] is expanded); `set_dotted` is the one way an override is written (--set,
the Python API, sweep points); `stored_experiment` reads a stored run's spec.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ..errors import BadInput
from .messages import show
from .schema import SHORTHAND, Experiment, validate


def load_spec(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Experiment:
    """The validated Experiment of a spec file (or none: every default) with overrides applied."""
    return validate(load_raw(path, overrides))


def load_raw(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """A spec file (or none) with --set overrides applied, not yet validated (it may hold a [sweep])."""
    raw = read_file(path) if path else {}
    for assignment in overrides:
        apply_override(raw, assignment)
    return raw


def stored_experiment(resolved: dict[str, Any]) -> Experiment:
    """The Experiment of a stored run's resolved spec. Runs stored by older versions kept the
    shorthand model keys beside `layers` (unused there); they are dropped, not refused."""
    model = resolved.get("model")
    if isinstance(model, dict) and model.get("layers") is not None:
        resolved = {**resolved, "model": {k: v for k, v in model.items() if k not in SHORTHAND}}
    return validate(resolved)


def read_file(path: str | Path) -> dict[str, Any]:
    """A spec file as a raw dict; `recipe:NAME` reads mlplab/recipes/NAME.toml (spec.recipes)."""
    if str(path).startswith("recipe:"):
        from .recipes import recipe_path
        path = recipe_path(str(path))
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"spec file {p}: not found")
    try:
        text = p.read_text()
        if p.suffix == ".toml":
            return tomllib.loads(text)
        if p.suffix in (".yaml", ".yml", ".json"):
            raw = yaml.safe_load(text) or {}
            if not isinstance(raw, dict):
                raise BadInput(f"spec file {p}: expected a mapping of sections, got {type(raw).__name__}")
            return raw
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise BadInput(f"spec file {p}: not valid {p.suffix[1:].upper()}: {' '.join(str(e).split())}") from None
    raise BadInput(f"spec file {p}: unknown format {p.suffix!r}; expected .toml, .yaml, .yml or .json")


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    set_dotted(raw, *parse_assignment(assignment))


def parse_assignment(assignment: str) -> tuple[str, Any]:
    """A `--set KEY=VALUE` as (key, value), or BadInput naming the --set."""
    key, sep, value = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise BadInput(f"--set {assignment}: expected KEY=VALUE, e.g. --set train.learning_rate=0.01")
    return key, parse_value(value.strip(), where=f"--set {assignment}")


STRUCTURED = ("{", "[", '"', "'")   # how a TOML table, list or string starts: no bare word starts so
VALUE_EXAMPLES = '0.01, [128, 64], true, "sgd" or { name = "sgd", momentum = 0.9 }'


def parse_value(text: str, where: str | None = None) -> Any:
    """A --set VALUE: a TOML value (0.1, [128, 64], true, { name = "sgd" }), else a bare string (sgd).

    A value that starts as a table, list or string does but is not valid TOML is a mistake: with
    `where` (the option it came from), BadInput naming it and the column; without, the text as it
    is (the caller's validation names the field)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as e:
        if where is None or not text.startswith(STRUCTURED):
            return text
        raise BadInput(f"{where}: not valid TOML {toml_error_at(str(e), text, len('v = '))}; "
                       f"expected a TOML value, e.g. {VALUE_EXAMPLES}") from None


def toml_error_at(message: str, text: str, offset: int = 0) -> str:
    """tomllib's "Invalid value (at line 1, column 40)" as "at column 36 of the value: invalid value", the column
    in `text` (`offset`: characters parsed before it)."""
    what, _, at = message.partition(" (at ")
    column = re.search(r"column (\d+)", at)
    place = f"column {int(column.group(1)) - offset}" if column else f"column {len(text) + 1}, the end,"
    return f"at {place} of the value: {what[:1].lower()}{what[1:]}"


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set one dotted key of a raw spec, as an override: it wins over what the spec said.

    Every override goes through here (--set, the Python API, sweep points)."""
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if isinstance(child, str) and part in ("optimizer", "init"):  # optimizer = "sgd" then optimizer.momentum = 0.9
            child = node[part] = {"name": child}
        if not isinstance(child, dict):
            raise BadInput(f"--set {key}: {part} is {show(child)}, not a table of keys")
        node = child
    node[parts[-1]] = value
    _drop_other_learning_rate(raw, key, value)


def _drop_other_learning_rate(raw: dict[str, Any], key: str, value: Any) -> None:
    """train.learning_rate and train.optimizer.learning_rate say the same thing: the one just set wins
    (only two values written in one file may disagree)."""
    train = raw.get("train")
    if not isinstance(train, dict):
        return
    optimizer = train.get("optimizer")
    if key == "train.learning_rate" and isinstance(optimizer, dict):
        optimizer.pop("learning_rate", None)
    elif key == "train.optimizer.learning_rate" or (
            key == "train.optimizer" and isinstance(value, dict) and "learning_rate" in value):
        train.pop("learning_rate", None)


def get_dotted(raw: dict[str, Any], key: str) -> Any:
    """The value at a dotted key of a raw spec, None if absent."""
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
