"""The experiment spec: a TOML/YAML file plus `--set` overrides, validated once.

`load_spec(path, overrides)` returns an `Experiment`; every invalid value raises
`BadInput` with one line naming the dotted field, the bad value and what is
allowed. Inside mlplab the types are trusted.
"""
from __future__ import annotations

import difflib
import json
import math
import tomllib
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_serializer,
                      model_validator)

from ..errors import BadInput

ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear", "elu", "gelu", "leaky_relu", "selu", "softplus", "swish")
INITIALIZERS = {
    # name -> the parameters it takes (Keras names)
    "glorot_uniform": (), "glorot_normal": (), "he_normal": (), "he_uniform": (),
    "lecun_normal": (), "lecun_uniform": (),
    "random_normal": ("mean", "stddev"), "truncated_normal": ("mean", "stddev"),
    "random_uniform": ("minval", "maxval"),
    "zeros": (), "ones": (), "constant": ("value",),
}
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse")
SCALES = ("unit", "symmetric", "standard", "none")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy", "train_loss", "train_accuracy")


class FieldError(ValueError):
    """A check across several keys that blames one of them: `format_error` names `field`
    (dotted, relative to the section that raised it) and shows `value`."""

    def __init__(self, field: str, value: Any, allowed: str):  # value: _MISSING when the key is absent
        super().__init__(allowed)
        self.field, self.value, self.allowed = field, value, allowed


_MISSING = object()


class _Strict(BaseModel):
    # allow_inf_nan=False: TOML and YAML read `inf` and `nan` as numbers; no setting takes them
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1: `epochs = true` would train one epoch without a word
        if isinstance(v, bool) and info.field_name in cls.model_fields:
            kinds = _kinds(cls.model_fields[info.field_name].annotation)
            if bool not in kinds and kinds & {int, float}:
                raise ValueError("expected a whole number, not true/false" if float not in kinds
                                 else "expected a number, not true/false")
        return v


def _kinds(annotation: Any) -> set:
    """The plain types an annotation admits: `int | None` -> {int, NoneType}."""
    args = get_args(annotation) if get_origin(annotation) in (Union, type(int | None)) else ()
    return set(args) if args else {annotation}


class Init(_Strict):
    """A weight initializer: a name and, for some, parameters."""
    name: str = "glorot_uniform"
    mean: float = 0.0
    stddev: float = 0.05
    minval: float = -0.05
    maxval: float = 0.05
    value: float = 0.0

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in INITIALIZERS:
            raise ValueError(f"expected one of {', '.join(INITIALIZERS)}")
        return v

    @field_validator("stddev")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v < 0:
            raise ValueError("expected a number >= 0")
        return v

    @model_validator(mode="after")
    def _applies(self) -> "Init":
        takes = INITIALIZERS[self.name]
        for key in sorted(self.model_fields_set - {"name"} - set(takes)):
            raise FieldError(key, getattr(self, key), f"does not apply to {self.name}; it takes "
                             + (", ".join(takes) if takes else "no parameters"))
        if self.name == "random_uniform" and self.minval > self.maxval:
            if "maxval" in self.model_fields_set:
                raise FieldError("maxval", self.maxval, f"expected a number >= minval ({self.minval:g})")
            raise FieldError("minval", self.minval, f"expected a number <= maxval ({self.maxval:g})")
        return self

    @model_serializer
    def _dump(self) -> dict[str, Any]:
        # only the parameters this initializer takes
        return {"name": self.name, **{k: getattr(self, k) for k in INITIALIZERS[self.name]}}


def _init(v: Any) -> Any:
    return {"name": v} if isinstance(v, str) else v


Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]


class Layer(_Strict):
    """One layer of the `layers` list (full control over the architecture)."""
    type: Literal["dense", "dropout", "batchnorm", "conv2d", "max_pool", "flatten"]
    units: int | None = Field(None, gt=0)
    activation: Activation | None = None
    init: Init | None = None
    l1: float = Field(0.0, ge=0)
    l2: float | None = Field(None, ge=0)
    filters: int | None = Field(None, gt=0)
    kernel: int = Field(3, gt=0)
    strides: int = Field(1, gt=0)
    padding: Literal["valid", "same"] = "valid"
    size: int = Field(2, gt=0)
    rate: float = Field(0.0, ge=0, lt=1)

    _coerce_init = field_validator("init", mode="before")(lambda cls, v: _init(v))

    @model_validator(mode="after")
    def _needs(self) -> "Layer":
        if self.type == "dense" and self.units is None:
            raise FieldError("units", _MISSING, "missing: a dense layer needs units (e.g. units = 64)")
        if self.type == "conv2d" and self.filters is None:
            raise FieldError("filters", _MISSING, "missing: a conv2d layer needs filters (e.g. filters = 32)")
        takes = LAYER_KEYS[self.type]
        for key in sorted(self.model_fields_set - {"type"} - set(takes)):
            raise FieldError(key, getattr(self, key), f"does not apply to a {self.type} layer; it takes "
                             + (", ".join(takes) if takes else "no other keys"))
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        # only the keys this type of layer takes, so that a dumped layer validates again
        return {k: v for k, v in handler(self).items() if k == "type" or k in LAYER_KEYS[self.type]}


LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "dense": ("units", "activation", "init", "l1", "l2"),
    "conv2d": ("filters", "kernel", "strides", "padding", "activation", "init", "l1", "l2"),
    "max_pool": ("size",),
    "flatten": (),
    "dropout": ("rate",),
    "batchnorm": ("activation",),
}


class ModelSpec(_Strict):
    hidden: list[int] = [64, 64]
    activation: Activation = "relu"
    init: Init = Init()
    dropout: float = Field(0.0, ge=0, lt=1)
    batchnorm: bool = False
    l1: float = Field(0.0, ge=0)
    l2: float = Field(0.0, ge=0)
    layers: list[Layer] | None = None

    _coerce_init = field_validator("init", mode="before")(lambda cls, v: _init(v))

    @field_validator("hidden")
    @classmethod
    def _widths(cls, v: list[int]) -> list[int]:
        if any(w <= 0 for w in v):
            raise ValueError("expected positive layer widths, e.g. [128, 64] ([] is logistic regression)")
        return v

    @model_validator(mode="after")
    def _layers_replace_shorthand(self) -> "ModelSpec":
        # with `layers`, the shorthand keys would be silently ignored: refuse them
        if self.layers is not None:
            for key in sorted(self.model_fields_set & set(SHORTHAND)):
                raise FieldError(key, getattr(self, key),
                                 f"does not apply when model.layers is given; {SHORTHAND[key]}")
        return self

    @property
    def convolutional(self) -> bool:
        return any(layer.type in ("conv2d", "max_pool") for layer in self.layers or [])


# ModelSpec keys that `layers` replaces, and how to say the same with layers
SHORTHAND = {
    "hidden": 'list the layers instead, e.g. { type = "dense", units = 64 }',
    "activation": "set activation on each layer",
    "dropout": 'add { type = "dropout", rate = ... } layers',
    "batchnorm": 'add { type = "batchnorm" } layers',
}


class Optimizer(_Strict):
    name: Literal[OPTIMIZERS] = "adam"  # type: ignore[valid-type]
    learning_rate: float | None = Field(None, gt=0)
    momentum: float | None = Field(None, ge=0, lt=1)
    nesterov: bool | None = None
    beta_1: float | None = Field(None, ge=0, lt=1)
    beta_2: float | None = Field(None, ge=0, lt=1)
    epsilon: float | None = Field(None, gt=0)
    amsgrad: bool | None = None
    weight_decay: float | None = Field(None, ge=0)
    rho: float | None = Field(None, ge=0, lt=1)
    centered: bool | None = None
    initial_accumulator_value: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _applies(self) -> "Optimizer":
        allowed = {
            "sgd": {"momentum", "nesterov"},
            "adam": {"beta_1", "beta_2", "epsilon", "amsgrad"},
            "adamw": {"beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"},
            "rmsprop": {"rho", "momentum", "epsilon", "centered"},
            "adagrad": {"initial_accumulator_value", "epsilon"},
        }[self.name]
        for key in sorted(self.model_fields_set - {"name", "learning_rate"} - allowed):
            if getattr(self, key) is not None:
                raise FieldError(key, getattr(self, key), f"does not apply to {self.name}; "
                                 f"{self.name} takes learning_rate, {', '.join(sorted(allowed))}")
        return self

    def settings(self) -> dict[str, float | bool]:
        """Every parameter of this optimizer, Keras defaults filled in."""
        from ..engine.optimizers import defaults
        values = defaults(self.name)
        values.update({k: v for k, v in self.model_dump().items() if k in values and v is not None})
        return values


class EarlyStopping(_Strict):
    monitor: Literal[MONITORS] = "val_loss"  # type: ignore[valid-type]
    patience: int = Field(3, ge=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = True


class Train(_Strict):
    optimizer: Optimizer = Optimizer()
    learning_rate: float | None = Field(None, gt=0)
    loss: Literal[LOSSES] = "sparse_categorical_crossentropy"  # type: ignore[valid-type]
    epochs: int = Field(20, gt=0, le=100_000)
    batch_size: int = Field(32, gt=0)
    shuffle: bool = True
    early_stopping: EarlyStopping | None = EarlyStopping()

    @field_validator("optimizer", mode="before")
    @classmethod
    def _opt(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _es(cls, v: Any) -> Any:
        if v is False:
            return None
        if v is True:
            return {}
        return v

    @model_validator(mode="after")
    def _lr(self) -> "Train":
        # `learning_rate` is a shorthand for optimizer.learning_rate: fold it in once.
        if self.learning_rate is not None:
            if self.optimizer.learning_rate is not None and self.optimizer.learning_rate != self.learning_rate:
                raise FieldError("learning_rate", self.learning_rate,
                                 f"disagrees with optimizer.learning_rate = {self.optimizer.learning_rate}; "
                                 "give one of them")
            opt = self.optimizer.model_copy(update={"learning_rate": self.learning_rate})
            object.__setattr__(self, "optimizer", opt)
        return self

    @property
    def lr(self) -> float:
        return float(self.optimizer.settings()["learning_rate"])


class Data(_Strict):
    dataset: str = "digits"
    scale: Literal[SCALES] = "unit"  # type: ignore[valid-type]
    validation_split: float = Field(0.1, ge=0, lt=1)
    flatten: bool | None = None  # None: keep images for conv nets, flatten otherwise
    # options: of the generated cosine2d set (see data.cosine2d) ...
    n: int | None = Field(None, ge=4)
    a: float | None = None
    noise: float | None = Field(None, ge=0)
    seed: int | None = Field(None, ge=0)
    # ... and of k-fold cross-validation, any data set (set by sweeps with `folds`)
    folds: int | None = Field(None, ge=2)
    fold: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _options_apply(self) -> "Data":
        if not _is_cosine2d(self.dataset):
            for key in COSINE2D_OPTIONS:
                if getattr(self, key) is not None:
                    raise FieldError(key, getattr(self, key), f"only for cosine2d (options "
                                     f"{', '.join(COSINE2D_OPTIONS)}); dataset {_show(self.dataset)} takes none")
        if self.fold is not None and self.folds is None:
            raise FieldError("fold", self.fold, "needs data.folds (the number of folds)")
        if self.fold is not None and self.fold >= self.folds:
            raise FieldError("fold", self.fold, f"expected a whole number >= 0 and < folds ({self.folds})")
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The options given (cosine2d's, cross-validation's), for `data.load_raw` and the runner."""
        return {k: getattr(self, k) for k in (*COSINE2D_OPTIONS, "folds", "fold") if getattr(self, k) is not None}


COSINE2D_OPTIONS = ("n", "a", "noise", "seed")


def _is_cosine2d(dataset: str) -> bool:
    return dataset.strip().lower() == "cosine2d"  # as data.load_raw reads the name: "Cosine2D" too


class Sweep(_Strict):
    model_config = ConfigDict(extra="allow")  # owned by the sweep issue
    grid: dict[str, list[Any]] = {}
    repeats: int = Field(1, gt=0)


class Experiment(_Strict):
    name: str | None = None
    seed: int = Field(0, ge=0, lt=2**31)
    data: Data = Data()
    model: ModelSpec = ModelSpec()
    train: Train = Train()
    sweep: Sweep | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Experiment":
        if self.model.convolutional and self.data.flatten:
            raise FieldError("data.flatten", True, "cannot feed a model with conv2d/max_pool layers; "
                             "remove it or set it to false")
        return self

    @property
    def display_name(self) -> str:
        return self.name or derive_name(self)

    def resolved(self) -> dict[str, Any]:
        """The full spec with defaults filled in: stored with the run, re-runnable as is."""
        out = self.model_dump(mode="json", exclude_none=True)
        out["name"] = self.display_name
        out["train"]["optimizer"] = {"name": self.train.optimizer.name, **self.train.optimizer.settings()}
        out["train"].pop("learning_rate", None)
        out["train"]["early_stopping"] = out["train"].get("early_stopping", False)
        if self.model.layers is not None:  # the layers say it all; the shorthand keys would be refused
            for key in SHORTHAND:
                out["model"].pop(key)
        return out


def describe_model(m: ModelSpec) -> str:
    """A short human description: "64-64 relu", "conv32-pool-64 relu"."""
    if m.layers is None:
        return ("-".join(map(str, m.hidden)) or "logistic") + ("" if not m.hidden else f" {m.activation}")
    parts = []
    for layer in m.layers:
        if layer.type == "dense":
            parts.append(str(layer.units))
        elif layer.type == "conv2d":
            parts.append(f"conv{layer.filters}")
        elif layer.type == "max_pool":
            parts.append("pool")
    return "-".join(parts) or "logistic"


def derive_name(e: Experiment) -> str:
    return f"{e.data.dataset}-{describe_model(e.model).replace(' ', '-')}-{e.train.optimizer.name}"


# ---------------------------------------------------------------- loading

def read_file(path: str | Path) -> dict[str, Any]:
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


def parse_value(text: str) -> Any:
    """A --set VALUE: a TOML value (0.1, [128, 64], true, { name = "sgd" }), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(raw: dict[str, Any], assignment: str) -> None:
    key, sep, value = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise BadInput(f"--set {assignment}: expected KEY=VALUE, e.g. --set train.learning_rate=0.01")
    set_dotted(raw, key, parse_value(value.strip()))


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
            raise BadInput(f"--set {key}: {part} is {_show(child)}, not a table of keys")
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


def validate(raw: dict[str, Any]) -> Experiment:
    try:
        return Experiment.model_validate(raw)
    except ValidationError as e:
        raise BadInput(format_error(e, raw)) from None


def format_error(e: ValidationError, raw: dict[str, Any]) -> str:
    """One line: the dotted field, the value given and what is allowed."""
    err = _most_specific(e.errors())
    loc = [p for p in err["loc"] if not _internal(p)]
    given = err.get("input", _MISSING)
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, FieldError):  # a check across keys names the key it blames
        # a dotted field is absolute (raised by Experiment), a plain key is in the section that raised it
        loc = cause.field.split(".") if "." in cause.field else [*loc, cause.field]
        section = err.get("input")  # the value as the user wrote it (1, not 1.0), when the section has it
        given = section[cause.field] if isinstance(section, dict) and cause.field in section else cause.value
    field = _dotted(loc) or "spec"
    if err["type"] == "extra_forbidden":
        keys = _section_keys(loc[:-1])
        near = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        return f"{field}: unknown key; {hint}expected one of {', '.join(keys)}"
    if err["type"] == "missing":
        return f"{field}: missing; {_HINTS.get(_pattern(loc), 'this key is required')}"
    msg = _allowed(err, loc, cause)
    return f"{field}: {msg}" if given is _MISSING else f"{field} = {_show(given)}: {msg}"


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


def _show(value: Any) -> str:
    """A value as the user wrote it (JSON/TOML-like), never a Python repr."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # inf, -inf, nan as TOML writes them
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _model_at(loc: list) -> type[BaseModel] | None:
    """The spec section (a pydantic model class) at a location, if any."""
    cls: Any = Experiment
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


def _section_keys(loc: list) -> list[str]:
    cls = _model_at(loc)
    return list(cls.model_fields) if cls else []


def _bounds(loc: list) -> str | None:
    """ "a number >= 0 and < 1" from the field's constraints."""
    parent = _model_at(loc[:-1])
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
    kind = "a whole number" if int in _kinds(info.annotation) else "a number"
    return f"expected {kind} {' and '.join(parts)}"


def _allowed(err: dict, loc: list, cause: Any) -> str:
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
        return _bounds(loc) or "expected " + err["msg"].removeprefix("Input should be ")
    if kind in _TYPE_WORDS:
        return _HINTS.get(_pattern(loc)) or _TYPE_WORDS[kind]
    msg = err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")
    return _HINTS.get(_pattern(loc)) or ("expected " + msg if err["msg"].startswith("Input should be") else msg)


def _most_specific(errors: list[dict]) -> dict:
    # Unions (init as a string or a table, early_stopping as a table or false) yield one
    # error per branch; the deepest one says most about what went wrong.
    return max(errors, key=lambda err: (err["type"] != "model_type" and err["type"] != "bool_type", len(err["loc"])))


def load_spec(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Experiment:
    raw = read_file(path) if path else {}
    for assignment in overrides:
        apply_override(raw, assignment)
    return validate(raw)


def stored_experiment(resolved: dict[str, Any]) -> Experiment:
    """The Experiment of a stored run's resolved spec. Runs stored by older versions kept the
    shorthand model keys beside `layers` (unused there); they are dropped, not refused."""
    model = resolved.get("model")
    if isinstance(model, dict) and model.get("layers") is not None:
        resolved = {**resolved, "model": {k: v for k, v in model.items() if k not in SHORTHAND}}
    return validate(resolved)
