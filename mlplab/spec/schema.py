"""The experiment spec's sections as pydantic models, and `validate` (a raw dict -> an Experiment).

Every invalid value raises `BadInput` with one line naming the dotted field, the
bad value and what is allowed (spec/messages.py writes it). The names and
defaults come from the catalog: the optimizer and initializer tables are built
from it, so a new catalog entry needs no change here. Inside mlplab the types are
trusted. Sections are defined before the sections that hold them:

    Init, Layer -> ModelSpec;  Optimizer, Schedule, EarlyStopping -> Train;  Data;  Sweep  -> Experiment
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator,
                      model_serializer, model_validator)

from ..catalog import (ACTIVATIONS, COSINE2D_OPTIONS, DATASET_OPTIONS, IMAGE_LAYERS, INITIALIZER_BOUNDS, INITIALIZERS,
                       LAYER_KEYS, LAYER_NEEDS, LOSSES, MAX_LAYERS, MONITORS, OPTIMIZER_BOUNDS, OPTIMIZER_PARAMETERS,
                       OPTIMIZERS, SCALES, SCHEDULE_BOUNDS, SCHEDULES)
from ..errors import BadInput
from .help import optimizer_keys
from .messages import MISSING, FieldError, did_you_mean, format_error, kinds, show

__all__ = ["COSINE2D_OPTIONS", "SHORTHAND", "Data", "EarlyStopping", "Experiment", "Init", "Layer", "ModelSpec",
           "Optimizer", "Schedule", "Sweep", "Train", "derive_name", "describe_model", "validate"]


class _Strict(BaseModel):
    # allow_inf_nan=False: TOML and YAML read `inf` and `nan` as numbers; no setting takes them
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1: `epochs = true` would train one epoch without a word
        if isinstance(v, bool) and info.field_name in cls.model_fields:
            admits = kinds(cls.model_fields[info.field_name].annotation)
            if bool not in admits and admits & {int, float}:
                raise ValueError("expected a whole number, not true/false" if float not in admits
                                 else "expected a number, not true/false")
        return v


def _parameter_fields(table: dict[str, dict[str, Any]], bounds: dict[str, dict[str, float]],
                      optional: bool) -> dict[str, Any]:
    """pydantic fields for every parameter of a catalog table (initializers, optimizers), in the
    order first seen: typed by the catalog's default, limited by `bounds`; the default is the
    first one seen, or None (`optional`: unset means the catalog's default for the chosen name)."""
    first: dict[str, Any] = {}
    for parameters in table.values():
        for key, value in parameters.items():
            first.setdefault(key, value)
    fields = {}
    for key, value in first.items():
        kind = bool if isinstance(value, bool) else float if isinstance(value, (int, float)) else type(value)
        fields[key] = ((kind | None) if optional else kind, Field(None if optional else value, **bounds.get(key, {})))
    return fields


# ---------------------------------------------------------------- model

class _InitChecks(_Strict):
    """A weight initializer: a name and, for some, parameters (catalog.INITIALIZERS)."""
    name: str = "glorot_uniform"

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in INITIALIZERS:
            raise ValueError(f"expected one of {', '.join(INITIALIZERS)}")
        return v

    @model_validator(mode="after")
    def _applies(self) -> "_InitChecks":
        takes = INITIALIZERS[self.name]
        for key in sorted(self.model_fields_set - {"name"} - set(takes)):
            raise FieldError(key, getattr(self, key), f"does not apply to {self.name}; it takes "
                             + (", ".join(takes) if takes else "no parameters"))
        for key, default in takes.items():  # this initializer's own defaults
            if key not in self.model_fields_set:
                object.__setattr__(self, key, default)
        if self.name == "random_uniform" and self.minval > self.maxval:
            if "maxval" in self.model_fields_set:
                raise FieldError("maxval", self.maxval, f"expected a number >= minval ({self.minval:g})")
            raise FieldError("minval", self.minval, f"expected a number <= maxval ({self.maxval:g})")
        return self

    @model_serializer
    def _dump(self) -> dict[str, Any]:
        # only the parameters this initializer takes
        return {"name": self.name, **{k: getattr(self, k) for k in INITIALIZERS[self.name]}}


Init = create_model("Init", __base__=_InitChecks, __module__=__name__, __doc__=_InitChecks.__doc__,
                    **_parameter_fields(INITIALIZERS, INITIALIZER_BOUNDS, optional=False))


def _init(v: Any) -> Any:
    return {"name": v} if isinstance(v, str) else v


Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]


class Layer(_Strict):
    """One layer of the `layers` list (full control over the architecture); which keys each
    type takes is catalog.LAYER_KEYS."""
    type: Literal[tuple(LAYER_KEYS)]  # type: ignore[valid-type]
    units: int | None = Field(None, gt=0)
    activation: Activation | None = None
    init: Init | None = None  # type: ignore[valid-type]
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
        for key, example in LAYER_NEEDS.get(self.type, {}).items():
            if getattr(self, key) is None:
                raise FieldError(key, MISSING, f"missing: a {self.type} layer needs {key} (e.g. {key} = {example})")
        takes = LAYER_KEYS[self.type]
        for key in sorted(self.model_fields_set - {"type"} - set(takes)):
            raise FieldError(key, getattr(self, key), f"does not apply to a {self.type} layer; it takes "
                             + (", ".join(takes) if takes else "no other keys"))
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> dict[str, Any]:
        # only the keys this type of layer takes, so that a dumped layer validates again
        return {k: v for k, v in handler(self).items() if k == "type" or k in LAYER_KEYS[self.type]}


class ModelSpec(_Strict):
    hidden: list[int] = [64, 64]
    activation: Activation = "relu"
    init: Init = Init()  # type: ignore[valid-type]
    dropout: float = Field(0.0, ge=0, lt=1)
    batchnorm: bool = False
    l1: float = Field(0.0, ge=0)
    l2: float = Field(0.0, ge=0)
    output_l2: float | None = Field(None, ge=0)  # None: l2 (mlplab); 0: none on the output layer (as Keras notebooks)
    layers: list[Layer] | None = None

    _coerce_init = field_validator("init", mode="before")(lambda cls, v: _init(v))

    @field_validator("hidden")
    @classmethod
    def _widths(cls, v: list[int]) -> list[int]:
        if any(w <= 0 for w in v):
            raise ValueError("expected positive layer widths, e.g. [128, 64] ([] is logistic regression)")
        return v

    @model_validator(mode="after")
    def _depth(self) -> "ModelSpec":
        if (count := len(self.spelled_out())) > MAX_LAYERS:
            key = "hidden" if self.layers is None else "layers"
            raise FieldError(key, getattr(self, key), f"{count} layers as built; a model has at most {MAX_LAYERS} "
                             "(Keras builds them recursively and fails near 1,000)")
        return self

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
        return any(layer.type in IMAGE_LAYERS for layer in self.layers or [])

    def spelled_out(self) -> list[Layer]:
        """The layers, the hidden/activation shorthand spelled out as a `layers` list."""
        if self.layers is not None:
            return self.layers
        out: list[Layer] = []
        for width in self.hidden:
            out.append(Layer(type="dense", units=width, activation=None if self.batchnorm else self.activation))
            if self.batchnorm:
                out.append(Layer(type="batchnorm", activation=self.activation))
            if self.dropout:
                out.append(Layer(type="dropout", rate=self.dropout))
        return out


# ModelSpec keys that `layers` replaces, and how to say the same with layers
SHORTHAND = {
    "hidden": 'list the layers instead, e.g. { type = "dense", units = 64 }',
    "activation": "set activation on each layer",
    "dropout": 'add { type = "dropout", rate = ... } layers',
    "batchnorm": 'add { type = "batchnorm" } layers',
}


# ---------------------------------------------------------------- train

def _not_taken(model: BaseModel, takes: dict[str, Any]) -> tuple[str, Any] | None:
    """The first parameter set on a named table (an optimizer, a schedule) that its name does not
    take, as (key, value); None when all apply."""
    for key in sorted(model.model_fields_set - {"name"} - set(takes)):
        if getattr(model, key) is not None:
            return key, getattr(model, key)
    return None


def _filled(model: BaseModel, takes: dict[str, Any]) -> dict[str, Any]:
    """A named table's parameters, the catalog's defaults (`takes`) filled in."""
    return {**takes, **{k: getattr(model, k) for k in takes if getattr(model, k) is not None}}


class _OptimizerChecks(_Strict):
    """An optimizer: a name (catalog.OPTIMIZERS) and any of its parameters; unset ones take Keras' defaults."""
    name: Literal[tuple(OPTIMIZERS)] = "adam"  # type: ignore[valid-type]

    @model_validator(mode="before")
    @classmethod
    def _takes(cls, data: Any) -> Any:
        """A key this optimizer does not take, named with the parameters it does take (its own alone)."""
        name = data.get("name", "adam") if isinstance(data, dict) else None
        for key in data if name in OPTIMIZERS else ():
            if key != "name" and key not in OPTIMIZERS[name]:
                what = (f"does not apply to {name}; " if key in OPTIMIZER_PARAMETERS
                        else f"unknown key; {did_you_mean(key, list(OPTIMIZERS[name]))}")
                raise FieldError(key, data[key], f"{what}{name} takes {optimizer_keys(name)}")
        return data

    def settings(self) -> dict[str, float | bool]:
        """Every parameter of this optimizer, Keras defaults filled in."""
        return _filled(self, OPTIMIZERS[self.name])


Optimizer = create_model("Optimizer", __base__=_OptimizerChecks, __module__=__name__,
                         __doc__=_OptimizerChecks.__doc__,
                         **_parameter_fields(OPTIMIZERS, OPTIMIZER_BOUNDS, optional=True))


class Schedule(_Strict):
    """A learning-rate schedule per epoch (catalog.SCHEDULES, formulas in engine/schedules.py): the
    optimizer's learning rate times a factor that follows the epochs, or the validation loss (plateau).
    Unset parameters take the catalog's defaults; each member of a sweep has its own."""
    name: Literal[tuple(SCHEDULES)] = "constant"  # type: ignore[valid-type]
    decay_rate: float | None = Field(None, **SCHEDULE_BOUNDS["decay_rate"])
    every: int | None = Field(None, **SCHEDULE_BOUNDS["every"])
    factor: float | None = Field(None, **SCHEDULE_BOUNDS["factor"])
    alpha: float | None = Field(None, **SCHEDULE_BOUNDS["alpha"])
    monitor: Literal[MONITORS] | None = None  # type: ignore[valid-type]
    patience: int | None = Field(None, **SCHEDULE_BOUNDS["patience"])
    min_delta: float | None = Field(None, **SCHEDULE_BOUNDS["min_delta"])
    cooldown: int | None = Field(None, **SCHEDULE_BOUNDS["cooldown"])
    min_lr: float | None = Field(None, **SCHEDULE_BOUNDS["min_lr"])

    @model_validator(mode="after")
    def _applies(self) -> "Schedule":
        takes, bad = SCHEDULES[self.name], _not_taken(self, SCHEDULES[self.name])
        if bad:
            raise FieldError(*bad, f"does not apply to the {self.name} schedule; "
                             + (f"it takes {', '.join(takes)}" if takes else "it takes no parameters"))
        return self

    def settings(self) -> dict[str, Any]:
        """The name and every parameter of this schedule, the catalog's defaults filled in."""
        return {"name": self.name, **_filled(self, SCHEDULES[self.name])}


class EarlyStopping(_Strict):
    monitor: Literal[MONITORS] = "val_loss"  # type: ignore[valid-type]
    patience: int = Field(3, ge=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best: bool = True


class Train(_Strict):
    optimizer: Optimizer = Optimizer()  # type: ignore[valid-type]
    learning_rate: float | None = Field(None, gt=0)
    loss: Literal[LOSSES] = "sparse_categorical_crossentropy"  # type: ignore[valid-type]
    epochs: int = Field(20, gt=0, le=100_000)
    batch_size: int = Field(32, gt=0)
    shuffle: bool = True
    early_stopping: EarlyStopping | None = EarlyStopping()
    schedule: Schedule | None = None
    tensorboard: str | None = Field(None, min_length=1)   # a folder: event files under it/<run-id>/ while training

    @field_validator("optimizer", "schedule", mode="before")
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


# ---------------------------------------------------------------- data

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
    # ... of digits (the course's train_test_split(test_size=0.2, random_state=split_seed)) ...
    split_seed: int | None = Field(None, ge=0)
    # ... and of k-fold cross-validation, any data set (set by sweeps with `folds`)
    folds: int | None = Field(None, ge=2)
    fold: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _options_apply(self) -> "Data":
        for dataset, keys in DATASET_OPTIONS.items():
            if self.dataset.strip().lower() != dataset:  # as data.load_raw reads the name: "Cosine2D" too
                for key in keys:
                    if getattr(self, key) is not None:
                        raise FieldError(key, getattr(self, key), f"only for {dataset} (options {', '.join(keys)}); "
                                         f"dataset {show(self.dataset)} does not take it")
        if self.fold is not None and self.folds is None:
            raise FieldError("fold", self.fold, "needs data.folds (the number of folds)")
        if self.fold is not None and self.fold >= self.folds:
            raise FieldError("fold", self.fold, f"expected a whole number >= 0 and < folds ({self.folds})")
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The options given (cosine2d's, cross-validation's), for `data.load_raw` and the runner."""
        keys = [k for ks in DATASET_OPTIONS.values() for k in ks] + ["folds", "fold"]
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def _is_cosine2d(dataset: str) -> bool:
    return dataset.strip().lower() == "cosine2d"  # as data.load_raw reads the name: "Cosine2D" too


# ---------------------------------------------------------------- the experiment

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
        if self.train.schedule is not None:
            out["train"]["schedule"] = self.train.schedule.settings()
        if self.model.layers is not None:  # the layers say it all; the shorthand keys would be refused
            for key in SHORTHAND:
                out["model"].pop(key)
        return out


def validate(raw: dict[str, Any]) -> Experiment:
    """The Experiment a raw spec (a dict as read from a file) stands for, or BadInput with one line."""
    try:
        return Experiment.model_validate(raw)
    except ValidationError as e:
        raise BadInput(format_error(e, Experiment)) from None


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
