"""One line for every invalid spec: the dotted field, the value given and what is allowed.

`format_error` turns pydantic's ValidationError into that line; `FieldError` is
what a check across several keys raises to blame one of them. `show` writes a
value as the user wrote it, `kinds` reads the plain types of an annotation,
`did_you_mean` is the hint for every unknown name (spec keys, options, commands).
"""
from __future__ import annotations

import difflib
import json
import math
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..catalog import OPTIMIZERS

MISSING = object()  # the value of a FieldError about an absent key


class FieldError(ValueError):
    """A check across several keys that blames one of them: `format_error` names `field`
    (dotted, relative to the section that raised it) and shows `value`."""

    def __init__(self, field: str, value: Any, allowed: str):  # value: MISSING when the key is absent
        super().__init__(allowed)
        self.field, self.value, self.allowed = field, value, allowed


def format_error(e: ValidationError, root: type[BaseModel]) -> str:
    """One line: the dotted field, the value given and what is allowed (`root`: the model validated)."""
    err = _most_specific(e.errors())
    loc = [p for p in err["loc"] if not _internal(p)]
    given = err.get("input", MISSING)
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):  # a check across keys names the key it blames
        # a dotted field is absolute (raised by the root), a plain key is in the section that raised it
        loc = cause.field.split(".") if "." in cause.field else [*loc, cause.field]
        section = err.get("input")  # the value as the user wrote it (1, not 1.0), when the section has it
        given = section[cause.field] if isinstance(section, dict) and cause.field in section else cause.value
    field = _dotted(loc) or "spec"
    if err["type"] == "extra_forbidden":
        keys = _section_keys(root, loc[:-1])
        hint = did_you_mean(str(loc[-1]), keys)
        if len(loc) == 1 and not hint:   # a top-level key near a key inside a section: hiden -> model.hidden
            hint = did_you_mean(str(loc[0]), {f"{k}.{f}": f for k in keys if (cls := _model_at(root, [k]))
                                              for f in cls.model_fields})
        return f"{field}: unknown key; {hint}expected one of {', '.join(keys)}"
    if err["type"] == "missing":
        return f"{field}: missing; {_HINTS.get(_pattern(loc), 'this key is required')}"
    msg = _allowed(root, err, loc, cause)
    return f"{field}: {msg}" if given is MISSING else f"{field} = {show(given)}: {msg}"


def did_you_mean(given: str, known: Any) -> str:
    """ "did you mean epochs? " when a known name is close to the one given, else "". `known`: the
    names, or a mapping of what to suggest -> the name it is matched on."""
    names = known if isinstance(known, dict) else {k: k for k in known}
    by_name: dict[str, str] = {}
    for suggestion, name in names.items():
        by_name.setdefault(str(name), str(suggestion))
    near = difflib.get_close_matches(str(given), list(by_name), n=1)
    return f"did you mean {by_name[near[0]]}? " if near else ""


def show(value: Any) -> str:
    """A value as the user wrote it (JSON/TOML-like), never a Python repr."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # inf, -inf, nan as TOML writes them
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = str(value)
    if len(text) > SHOWN and isinstance(value, (list, dict)):   # a one-line message: its start and its size
        return f"{text[:SHOWN - 40].rsplit(', ', 1)[0]}, ... ({len(value):,} items)"
    return text


SHOWN = 160   # characters of a value a message shows


def kinds(annotation: Any) -> set:
    """The plain types an annotation admits: `int | None` -> {int, NoneType}."""
    args = get_args(annotation) if get_origin(annotation) in (Union, type(int | None)) else ()
    return set(args) if args else {annotation}


# What a field takes, said once, for when a value has the wrong shape altogether.
_HINTS = {
    "name": "expected a string",
    "data": "expected a table of keys (dataset, scale, validation_split, ...)",
    "model": "expected a table of keys (hidden, activation, init, ...)",
    "train": "expected a table of keys (optimizer, learning_rate, epochs, ...)",
    "sweep": 'expected a table, e.g. { grid = { "train.learning_rate" = [0.01, 0.1] } }',
    "sweep.grid": 'expected a table of dotted keys to lists of values, e.g. { "train.learning_rate" = [0.01, 0.1] }',
    "data.dataset": "expected digits, mnist, fashion-mnist, cosine2d or a path (.npz, .csv, IDX folder)",
    "model.hidden": "expected a list of positive layer widths, e.g. [128, 64] ([] is logistic regression)",
    "model.hidden[]": "expected a positive whole number (a layer width)",
    "model.init": 'expected an initializer name (e.g. "he_normal") or a table, e.g. { name = "random_normal", stddev = 0.05 }',
    "model.layers": 'expected a list of layer tables, e.g. [{ type = "dense", units = 64 }, { type = "dropout", rate = 0.2 }]',
    "model.layers[]": 'expected a layer table, e.g. { type = "dense", units = 64, activation = "relu" }',
    "model.layers[].init": 'expected an initializer name or a table, e.g. { name = "random_normal", stddev = 0.05 }',
    "train.optimizer": f'expected an optimizer name ({", ".join(OPTIMIZERS)}) or a table, e.g. {{ name = "sgd", momentum = 0.9 }}',
    "train.early_stopping": 'expected a table, e.g. { monitor = "val_loss", patience = 3 }, or false to turn it off',
}

_TYPE_WORDS = {
    "int_type": "expected a whole number", "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number", "float_type": "expected a number",
    "float_parsing": "expected a number", "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "string_type": "expected a string", "list_type": "expected a list", "dict_type": "expected a table",
    "model_type": "expected a table", "model_attributes_type": "expected a table",
}


def _most_specific(errors: list[dict]) -> dict:
    # Unions (init as a string or a table, early_stopping as a table or false) yield one
    # error per branch; the deepest one says most about what went wrong.
    return max(errors, key=lambda err: (err["type"] != "model_type" and err["type"] != "bool_type", len(err["loc"])))


def _internal(part: Any) -> bool:
    # pydantic's names for union branches and validator functions, not user keys
    return isinstance(part, str) and (part.startswith(("function-", "literal[", "tagged-union[", "nullable["))
                                      or part in ("Init", "Optimizer", "EarlyStopping", "Layer", "bool", "none",
                                                  "int", "float", "str", "list", "dict"))


def _dotted(loc: list) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pattern(loc: list) -> str:
    return "".join("[]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(loc))


def _allowed(root: type[BaseModel], err: dict, loc: list, cause: Any) -> str:
    kind = err["type"]
    if isinstance(cause, FieldError):
        return cause.allowed
    if kind == "finite_number":
        return "expected a finite number, not inf or nan"
    if kind == "value_error":
        return str(cause) if cause is not None else err["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        return "expected " + err["msg"].removeprefix("Input should be ").replace("'", '"')
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return _bounds(root, loc) or "expected " + err["msg"].removeprefix("Input should be ")
    if kind in _TYPE_WORDS:
        return _HINTS.get(_pattern(loc)) or _TYPE_WORDS[kind]
    msg = err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    return _HINTS.get(_pattern(loc)) or ("expected " + msg if err["msg"].startswith("Input should be") else msg)


def _model_at(root: type[BaseModel], loc: list) -> type[BaseModel] | None:
    """The spec section (a pydantic model class) at a location, if any."""
    cls: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or part not in cls.model_fields:
            return None
        cls = cls.model_fields[part].annotation
        for _ in range(3):  # unwrap Optional[...] and list[...]
            models = [a for a in get_args(cls) if isinstance(a, type) and issubclass(a, BaseModel)]
            if models:
                cls = models[0]
            elif get_args(cls):
                cls = get_args(cls)[0]
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _section_keys(root: type[BaseModel], loc: list) -> list[str]:
    cls = _model_at(root, loc)
    return list(cls.model_fields) if cls else []


def _bounds(root: type[BaseModel], loc: list) -> str | None:
    """ "a number >= 0 and < 1" from the field's constraints."""
    parent = _model_at(root, loc[:-1])
    info = parent.model_fields.get(str(loc[-1])) if parent and not isinstance(loc[-1], int) else None
    if info is None:
        return None
    parts = []
    for meta in info.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if getattr(meta, attr, None) is not None:
                parts.append(f"{sign} {getattr(meta, attr):_}".replace("_", ","))
    if not parts:
        return None
    kind = "a whole number" if int in kinds(info.annotation) else "a number"
    return f"expected {kind} {' and '.join(parts)}"
