"""The experiment spec: a TOML/YAML file plus `--set` overrides, validated once.

`load_spec(path, overrides)` returns an `Experiment`; every invalid value raises
`BadInput` with one line naming the dotted field, the bad value and what is
allowed. Inside mlplab the types are trusted.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_serializer, model_validator

from .errors import BadInput

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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
            raise ValueError("a dense layer needs units (e.g. units = 64)")
        if self.type == "conv2d" and self.filters is None:
            raise ValueError("a conv2d layer needs filters (e.g. filters = 32)")
        return self


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

    @property
    def convolutional(self) -> bool:
        return any(layer.type in ("conv2d", "max_pool") for layer in self.layers or [])


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
        for key in self.model_fields_set - {"name", "learning_rate"} - allowed:
            if getattr(self, key) is not None:
                raise ValueError(
                    f"{key} does not apply to {self.name}; it takes learning_rate, {', '.join(sorted(allowed))}"
                )
        return self

    def settings(self) -> dict[str, float | bool]:
        """Every parameter of this optimizer, Keras defaults filled in."""
        from .optimizers import defaults
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
                raise ValueError(
                    f"learning_rate = {self.learning_rate} and optimizer.learning_rate = "
                    f"{self.optimizer.learning_rate} disagree; give one of them"
                )
            opt = self.optimizer.model_copy(update={"learning_rate": self.learning_rate})
            object.__setattr__(self, "optimizer", opt)
        return self

    @property
    def lr(self) -> float:
        return float(self.optimizer.settings()["learning_rate"])


class Data(_Strict):
    model_config = ConfigDict(extra="allow", validate_assignment=True)  # options of generated sets (n, a, noise)
    dataset: str = "digits"
    scale: Literal[SCALES] = "unit"  # type: ignore[valid-type]
    validation_split: float = Field(0.1, ge=0, lt=1)
    flatten: bool | None = None  # None: keep images for conv nets, flatten otherwise

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


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
            raise ValueError("data.flatten = true cannot feed a conv2d model; remove it or set it to false")
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
        raise BadInput(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set train.learning_rate=0.01")
    set_dotted(raw, key, parse_value(value.strip()))


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if isinstance(child, str) and part == "optimizer":  # optimizer = "sgd" then optimizer.momentum = 0.9
            child = node[part] = {"name": child}
        if not isinstance(child, dict):
            raise BadInput(f"--set {key}: {part} is {child!r}, not a section")
        node = child
    node[parts[-1]] = value


def validate(raw: dict[str, Any]) -> Experiment:
    try:
        return Experiment.model_validate(raw)
    except ValidationError as e:
        raise BadInput(format_error(e, raw)) from None


def format_error(e: ValidationError, raw: dict[str, Any]) -> str:
    """One line: the dotted field, the value given and what is allowed."""
    err = _most_specific(e.errors())
    loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "literal", "tagged"))]
    loc = [p for p in loc if p not in ("Init", "Optimizer", "EarlyStopping", "bool")]
    field = ".".join(loc) or "spec"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{field}: unknown key; check its spelling (allowed keys are in the README's spec section)"
    if err["type"] == "literal_error":
        msg = "expected " + msg.removeprefix("Input should be ").replace("'", '"')
    elif msg.startswith("Input should be"):
        msg = "expected " + msg.removeprefix("Input should be ")
    given = err.get("input")
    shown = json.dumps(given) if isinstance(given, (str, int, float, bool, list)) or given is None else repr(given)
    return f"{field} = {shown}: {msg}"


def _most_specific(errors: list[dict]) -> dict:
    # Unions (init as a string or a table, early_stopping as a table or false) yield one
    # error per branch; the deepest one says most about what went wrong.
    return max(errors, key=lambda err: (err["type"] != "model_type" and err["type"] != "bool_type", len(err["loc"])))


def load_spec(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Experiment:
    raw = read_file(path) if path else {}
    for assignment in overrides:
        apply_override(raw, assignment)
    return validate(raw)
