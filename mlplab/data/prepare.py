"""Raw data -> a model-ready Dataset: check it, split off the validation rows, scale and shape it.

    raw = load_raw("mnist")                # data.sources: arrays as stored
    warnings = check_raw(raw, "mnist")     # BadInput on anything unusable
    ds = prepare(raw, "mnist", scale="unit", validation_split=0.1)
    ds = load_dataset("mnist")             # load_raw + prepare (which checks) in one call

Anything wrong with the data the user gave raises `BadInput` with one line
naming the file or field, the bad value and what is allowed; what merely looks
odd (imbalance, unscaled pixels, a class missing from the test set) becomes a
warning in `DatasetInfo.warnings`. numpy only: no Keras, no JAX.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..catalog import SCALES
from ..errors import BadInput
from .files import LABEL_RULE, RawData, show_value
from .sources import DATASETS, load_raw



@dataclass
class DatasetInfo:
    """How a Dataset was made and what it holds: names, shapes, rows and classes per split, scaling, warnings."""
    name: str
    source: str
    class_names: list[str]
    num_classes: int
    input_shape: tuple[int, ...]
    image_shape: tuple[int, int] | None
    scale: str
    n_train: int
    n_val: int
    n_test: int
    class_counts: dict[str, list[int]]
    value_min: float
    value_max: float
    warnings: list[str]
    warning_codes: list[str] = field(default_factory=list)   # what each warning is (WARNING_CODES), in its order


@dataclass
class Dataset:
    """Model-ready arrays: float32 inputs, int32 class indices."""
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    info: DatasetInfo
    scaling: Scaling | None = field(default=None, repr=False)   # what the inputs were scaled with (None: not known)


@dataclass(frozen=True)
class Scaling:
    """How `data.scale` maps inputs, with the statistics of the training rows: x -> (x - offset) / divisor,
    then 2x - 1 for "symmetric"; "none" leaves x as it is. offset and divisor are float32, per feature for
    "standard" (the shape of one row), else one number. Stored with each run (the run's scaling.json), so
    predict scales a new input as the run's training rows were."""
    scale: str
    offset: np.ndarray = field(default_factory=lambda: np.float32(0))
    divisor: np.ndarray = field(default_factory=lambda: np.float32(1))

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Scale the float32 array `x` (rows, or one row) in place; returns it."""
        if self.scale == "none":
            return x
        x -= self.offset
        x /= self.divisor
        if self.scale == "symmetric":
            x *= 2
            x -= 1
        return x

    def to_json(self) -> dict:
        return {"scale": self.scale, "offset": np.asarray(self.offset).tolist(),
                "divisor": np.asarray(self.divisor).tolist()}

    @classmethod
    def from_json(cls, doc: dict) -> Scaling:
        return cls(doc["scale"], np.asarray(doc["offset"], np.float32), np.asarray(doc["divisor"], np.float32))


def load_dataset(name: str, *, scale: str = "unit", validation_split: float = 0.1, flatten: bool = True,
                 options: dict | None = None) -> Dataset:
    """Load, check and prepare a data set: `load_raw` + `check_raw` + `prepare`.

    >>> ds = load_dataset("digits")
    >>> ds.x_train.shape, ds.info.class_names[:3]
    ((1294, 64), ['0', '1', '2'])
    """
    raw = load_raw(name, options)
    return prepare(raw, name, scale=scale, validation_split=validation_split, flatten=flatten)


def prepare(raw: RawData, name: str, *, scale: str = "unit", validation_split: float = 0.1,
            flatten: bool = True) -> Dataset:
    """Check, scale, shape and split raw data into model-ready arrays.

    scale: "unit" maps the nominal value range (or the training min/max when
    there is none) to [0, 1]; "symmetric" to [-1, 1]; "standard" gives each
    feature zero mean and unit std; "none" leaves values as they are.
    Statistics (min/max, mean/std) come from the training rows only, after
    the validation rows are split off.

    validation_split: the LAST `int(n_train * validation_split)` training rows
    become the validation set, as Keras' `fit(validation_split=...)` takes them.

    flatten: True gives rows of features (N, F); False keeps images as
    (N, H, W, 1) for convolutional models.
    """
    _check_arguments(raw, name, scale, validation_split, flatten)
    warnings = raw_warnings(raw, name)

    n_all = len(raw.x_train)
    n_val = int(n_all * validation_split)
    n_fit = n_all - n_val
    _check_split(raw, float(validation_split), n_fit, n_val)
    row_shape = (math.prod(raw.x_train.shape[1:]),) if flatten else (*raw.image_shape, 1)

    def as_float(x: np.ndarray) -> np.ndarray:  # always a fresh float32 copy: scaled in place below
        return np.array(x.reshape((len(x), *row_shape)), dtype=np.float32, order="C", copy=True)

    x_all, x_test = as_float(raw.x_train), as_float(raw.x_test)
    scaling = fit_scaling(x_all[:n_fit], raw, scale)
    for x in (x_all, x_test):
        scaling.apply(x)
    x_fit = x_all[:n_fit]

    y_all = np.ascontiguousarray(raw.y_train, dtype=np.int32)
    y_test = np.ascontiguousarray(raw.y_test, dtype=np.int32)
    names = list(raw.class_names)
    n_classes = len(names)
    counts = {"train": np.bincount(y_all[:n_fit], minlength=n_classes).tolist(),
              "val": np.bincount(y_all[n_fit:], minlength=n_classes).tolist(),
              "test": np.bincount(y_test, minlength=n_classes).tolist()}
    value_min, value_max = float(x_fit.min()), float(x_fit.max())
    warnings += _scaling_warnings(raw, scale, max(abs(value_min), abs(value_max)))
    warnings += _balance_warnings(names, counts, n_val)

    info = DatasetInfo(
        name=os.fspath(name), source=raw.source, class_names=names, num_classes=n_classes,
        input_shape=tuple(int(d) for d in row_shape), image_shape=raw.image_shape, scale=scale,
        n_train=n_fit, n_val=n_val, n_test=len(x_test), class_counts=counts,
        value_min=value_min, value_max=value_max, warnings=[text for _, text in warnings],
        warning_codes=[code for code, _ in warnings])
    return Dataset(x_all[:n_fit], y_all[:n_fit], x_all[n_fit:], y_all[n_fit:], x_test, y_test, info, scaling)


def _check_arguments(raw: RawData, name: str, scale: str, validation_split: float, flatten: bool) -> None:
    """BadInput for a scale, validation_split or flatten that `prepare` cannot use."""
    if scale not in SCALES:
        raise BadInput(f"data.scale = {json.dumps(scale, default=str)}: expected one of {', '.join(SCALES)}")
    if (not isinstance(validation_split, (int, float, np.number)) or isinstance(validation_split, bool)
            or not (0 <= validation_split < 1)):
        raise BadInput(f"data.validation_split = {show_value(validation_split)}: expected a number in [0, 1), e.g. 0.1")
    if not isinstance(flatten, (bool, np.bool_)):
        raise BadInput(f"data.flatten = {show_value(flatten)}: expected true or false")
    if not flatten and raw.image_shape is None:
        raise BadInput(f"data.flatten = false: dataset {name} has no image shape "
                       f"(its rows are {math.prod(np.shape(raw.x_train)[1:])} features); use flatten = true")


# ---------------------------------------------------------------- checking

# What each data warning is, for readers that act on it (the doctor): a rule never reads the sentence.
WARNING_CODES = {
    "test_class_missing": "the test set has no rows of some class",
    "outside_nominal_range": "training inputs outside their nominal range",
    "inputs_all_zero": "every input is zero after scaling",
    "inputs_tiny": "every input below 0.01 after scaling (scaled twice)",
    "unscaled_inputs": "large inputs with scale = 'none'",
    "class_imbalance": "a class with over 3x the training rows of another",
    "validation_class_missing": "the validation rows miss some class (the rows may be ordered by class)",
}


def check_raw(raw: RawData, name: str) -> list[str]:
    """Raise BadInput if the data cannot be used; return warnings about what looks odd."""
    return [text for _, text in raw_warnings(raw, name)]


def raw_warnings(raw: RawData, name: str) -> list[tuple[str, str]]:
    """`check_raw`'s warnings as (code, sentence), the code one of WARNING_CODES."""
    where = _where(name, raw)
    names = list(raw.class_names)
    n_classes = len(names)
    for split in ("train", "test"):
        _check_rows(where, split, getattr(raw, f"x_{split}"), getattr(raw, f"y_{split}"))
    if n_classes < 2:
        raise BadInput(f"{where}: labels of {n_classes} class{'' if n_classes == 1 else 'es'} "
                       f"({_list(names) or 'none'}); a classifier needs labels of at least 2 classes")
    for split in ("train", "test"):
        _check_split_labels(where, split, getattr(raw, f"y_{split}"), names)
    if raw.x_train.shape[1:] != raw.x_test.shape[1:]:
        raise BadInput(f"{where}: x_train rows have shape {raw.x_train.shape[1:]} but x_test rows "
                       f"{raw.x_test.shape[1:]}; they must match")
    n_features = math.prod(raw.x_train.shape[1:])
    if raw.image_shape is not None and math.prod(raw.image_shape) != n_features:
        raise BadInput(f"{where}: image shape {raw.image_shape} does not fit rows of {n_features} values")

    warnings = []
    train_counts = np.bincount(raw.y_train.astype(np.int64), minlength=n_classes)
    empty = [names[i] for i in np.flatnonzero(train_counts == 0)]
    if empty:
        seen = np.unique(raw.y_train.astype(np.int64))
        raise BadInput(f"{where}: class {_list(empty)} has no training rows (labels present: "
                       f"{seen.min()}..{seen.max()}); labels must be 0..{n_classes - 1}, every class in the training set")
    test_counts = np.bincount(raw.y_test.astype(np.int64), minlength=n_classes)
    absent = [names[i] for i in np.flatnonzero(test_counts == 0)]
    if absent:
        warnings.append(("test_class_missing", f"test set has no rows of class {_list(absent)}: its accuracy says "
                         "nothing about them"))
    if raw.value_range is not None:
        lo, hi = raw.value_range
        x_min, x_max = float(raw.x_train.min()), float(raw.x_train.max())
        if x_min < lo or x_max > hi:
            warnings.append(("outside_nominal_range", f"training inputs span [{x_min:g}, {x_max:g}], outside the "
                             f"nominal range [{lo:g}, {hi:g}]: scaled values will leave [0, 1]"))
    return warnings


def _where(name, raw: RawData) -> str:
    builtin = isinstance(name, str) and name in DATASETS
    return f"dataset {name}" if builtin else f"data file {raw.source}"


def _check_rows(where: str, split: str, x, y) -> None:
    """Arrays of numbers, one label per row, at least one row, no NaN/inf inputs."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise BadInput(f"{where}: x_{split} and y_{split} must be numpy arrays")
    if x.dtype.kind not in "biuf":
        raise BadInput(f"{where}: x_{split} holds {_kind(x)}, expected numbers")
    if x.ndim < 2:
        raise BadInput(f"{where}: x_{split} has shape {x.shape}, expected (rows, features) or (rows, height, width)")
    if y.ndim != 1:
        raise BadInput(f"{where}: y_{split} has shape {y.shape}, expected one class index per row")
    if len(x) != len(y):
        raise BadInput(f"{where}: x_{split} has {len(x)} rows but y_{split} has {len(y)} labels; they must match")
    if len(x) == 0:
        raise BadInput(f"{where}: the {split} set has no rows")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            row = int(np.argmax(bad.reshape(len(x), -1).any(axis=1)))
            raise BadInput(f"{where}: x_{split} holds {int(bad.sum())} NaN/inf value(s) (first in row {row}); "
                           f"remove or fill them")


def _check_split_labels(where: str, split: str, y: np.ndarray, names: list[str]) -> None:
    """Whole numbers 0..C-1."""
    n_classes = len(names)
    if y.dtype.kind not in "biuf":
        raise BadInput(f"{where}: y_{split} holds {_kind(y)}; {LABEL_RULE} (here 0..{n_classes - 1})")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            raise BadInput(f"{where}: y_{split} holds label {show_value(y[bad][0])} ({int(bad.sum())} row(s)); "
                           f"expected integer class indices 0..{n_classes - 1}")
    out = (y < 0) | (y >= n_classes)
    if out.any():
        value = y[out][0]
        value = int(value) if y.dtype.kind != "b" else value
        raise BadInput(f"{where}: y_{split} holds label {value} ({int(out.sum())} row(s)); "
                       f"expected 0..{n_classes - 1} for the {n_classes} classes {_list(names)}")


def _kind(a: np.ndarray) -> str:
    """What an array of something other than numbers holds, in words, with an example."""
    words = {"U": "text", "S": "text", "O": "Python objects", "M": "dates", "m": "time spans",
             "c": "complex numbers"}.get(a.dtype.kind, "values that are not numbers")
    return f"{words} (e.g. {show_value(a.flat[0])})" if a.size and a.dtype.kind in "USMm" else words


def _list(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ---------------------------------------------------------------- the validation split, scaling, warnings

def _check_split(raw: RawData, split: float, n_fit: int, n_val: int) -> None:
    """BadInput when validation_split leaves no validation rows, or too few training rows to hold every class."""
    field, rows = f"data.validation_split = {split:g}", f"{n_fit} training and {n_val} validation rows"
    n_classes = len(raw.class_names)
    if split > 0 and n_val == 0:
        least = math.ceil(1000 / n_fit) / 1000  # int(n_fit * least) >= 1
        raise BadInput(f"{field}: leaves 0 of the {n_fit} training rows for validation; use 0 (no validation) "
                       f"or a split of at least {least:g}")
    if n_fit < n_classes:
        raise BadInput(f"{field}: leaves {rows}, fewer training rows than the {n_classes} classes; "
                       f"use a smaller split")
    missing = np.flatnonzero(np.bincount(raw.y_train[:n_fit].astype(np.int64), minlength=n_classes) == 0)
    if len(missing):
        raise BadInput(f"{field}: leaves {rows}, and no training row of class "
                       f"{_list([raw.class_names[i] for i in missing])} (the split takes the LAST rows); "
                       f"use a smaller split, or shuffle the rows first")


def fit_scaling(x_fit: np.ndarray, raw: RawData, scale: str) -> Scaling:
    """The Scaling `scale` gives, from the training rows `x_fit` (float32): the nominal value range (or the rows'
    min/max when there is none) for "unit" and "symmetric", each feature's mean and std for "standard"."""
    if scale in ("unit", "symmetric"):
        lo, hi = raw.value_range if raw.value_range is not None else (float(x_fit.min()), float(x_fit.max()))
        return Scaling(scale, np.float32(lo), np.float32((hi - lo) or 1.0))
    if scale == "standard":
        mean, std = _mean_std(x_fit)
        std[std == 0] = 1.0
        return Scaling(scale, mean.astype(np.float32), std.astype(np.float32))
    return Scaling(scale)


def _mean_std(x: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std in float64, in row chunks (no full-size float64 copy)."""
    total = np.zeros(x.shape[1:], np.float64)
    for i in range(0, len(x), chunk):
        total += x[i:i + chunk].sum(axis=0, dtype=np.float64)
    mean = total / len(x)
    squares = np.zeros_like(mean)
    for i in range(0, len(x), chunk):
        squares += ((x[i:i + chunk] - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(squares / len(x))


def _scaling_warnings(raw: RawData, scale: str, biggest: float) -> list[tuple[str, str]]:
    if biggest == 0:
        return [("inputs_all_zero", "inputs are all zero after scaling: the model cannot learn anything from them")]
    if biggest < 0.01:
        return [("inputs_tiny", f"inputs all below 0.01 after scaling (largest |x| = {biggest:.3g}): probably scaled twice")]
    if scale == "none":
        pixels = raw.value_range is not None or raw.image_shape is not None
        if pixels and biggest > 1.5:
            return [("unscaled_inputs", f"inputs reach {biggest:g} with scale = 'none': unscaled pixels make "
                     f"training slow or unstable; use scale = 'unit'")]
        if not pixels and biggest > 10:  # features like cosine2d's x1 in [-pi, pi] are fine as they are
            return [("unscaled_inputs", f"inputs reach {biggest:g} with scale = 'none': large unscaled features "
                     f"make training slow or unstable; use scale = 'standard' or 'unit'")]
    return []


def _balance_warnings(names: list[str], counts: dict[str, list[int]], n_val: int) -> list[tuple[str, str]]:
    warnings = []
    train = np.array(counts["train"])
    if train.min() * 3 < train.max():
        big, small = int(train.argmax()), int(train.argmin())
        warnings.append(("class_imbalance", f"class imbalance: class {names[big]!r} has {train.max()} training rows, "
                        f"class {names[small]!r} only {train.min()} (over 3x); look at per-class accuracy, "
                        f"not only overall accuracy"))
    val = np.array(counts["val"])
    if n_val >= 5 * len(names) and (val == 0).any():
        absent = [names[i] for i in np.flatnonzero(val == 0)]
        warnings.append(("validation_class_missing", f"validation rows (the last {n_val} training rows) hold no "
                        f"class {_list(absent)}: the training data may be ordered by class; shuffle it first"))
    return warnings
