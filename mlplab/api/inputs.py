"""What the API takes in: spec overrides in their three spellings, and data sets.

Overrides are spec keys: dotted in a dict ({"train.learning_rate": 0.01}), with `__` for
dots as keyword arguments (train__learning_rate=0.01), or a bare field name when it names
one field of one section (epochs=5, hidden=[128]).
"""
from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any

from ..data import Dataset
from ..errors import BadInput
from .display import shown

TOP_LEVEL = ("name", "seed", "data", "model", "train", "sweep")


def section_of() -> dict[str, str]:
    """Field name -> section, for the fields that only one section has (epochs -> train)."""
    from ..spec import Data, ModelSpec, Train
    owners: dict[str, list[str]] = {}
    for section, cls in (("data", Data), ("model", ModelSpec), ("train", Train)):
        for key in cls.model_fields:
            owners.setdefault(key, []).append(section)
    return {k: v[0] for k, v in owners.items() if len(v) == 1}


def dotted(key: str) -> str:
    """An override's key as a dotted spec key: "train__learning_rate" and "learning_rate" -> "train.learning_rate"."""
    key = key.replace("__", ".")
    if "." in key or key in TOP_LEVEL:
        return key
    section = section_of().get(key)
    return f"{section}.{key}" if section else key


def table_argument(name: str, value: Any, example: str) -> dict:
    """An argument that takes a dict (overrides, a grid, variants): the dict ({} for None), or BadInput
    naming the argument, what it was given and what it takes."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        from ..spec.messages import show
        raise BadInput(f"{name} = {show(value)}: expected a dict, e.g. {example}")
    return value


def overrides_of(overrides: Any, keywords: dict) -> dict:
    """The overrides argument and the keyword overrides as one dict (the keywords win)."""
    return {**table_argument("overrides", overrides, '{"train.epochs": 1}, or keyword arguments: epochs=1'),
            **keywords}


def merge(raw: dict, overrides: dict, prefix: str = "") -> dict:
    """Apply overrides (dotted keys, or nested tables merged key by key) to a raw spec.

    Every key is set on the whole spec through `set_dotted` (prefix: the table a nested dict is in)."""
    from ..spec import get_dotted, set_dotted
    for key, value in overrides.items():
        if not isinstance(key, str):
            raise BadInput(f"override {key!r}: expected a spec key such as \"train.learning_rate\"")
        where = f"{prefix}.{key}" if prefix else dotted(key)
        table = isinstance(value, dict) and "." not in (key if prefix else where)
        if table and isinstance(get_dotted(raw, where), dict):
            merge(raw, value, where)
        else:
            set_dotted(raw, where, copy.deepcopy(value))
    return raw


def raw_spec(spec_or_path: Any, overrides: dict) -> dict:
    """A raw (not yet validated) spec from a file, a dict or an Experiment, with the overrides applied."""
    from ..spec import Experiment, read_file
    if spec_or_path is None:
        raw: dict = {}
    elif isinstance(spec_or_path, (str, os.PathLike)):
        raw = read_file(spec_or_path)
    elif isinstance(spec_or_path, Experiment):
        raw = spec_or_path.resolved()
    elif isinstance(spec_or_path, dict):
        raw = merge({}, spec_or_path)
    else:
        raise BadInput(f"spec {type(spec_or_path).__name__}: expected a path to a TOML/YAML spec, a dict of spec "
                       "keys or an Experiment")
    return merge(raw, overrides)


@dataclasses.dataclass
class ShownDataset(Dataset):
    """A Dataset that can show its rows: `ds.show(500)` is `plt.imshow(x_train[500])` with its label."""

    def show(self, index: int | None = None, *, count: int | None = None, split: str = "train",
             class_index: int | None = None, seed: int = 0):
        """Row `index` (large, with its label) or `count` rows from it; without an index, `count`
        random samples (25), of one class with `class_index`. split: "train" or "test"."""
        from ..present.figures import dataset_samples
        return shown(dataset_samples(self, split, index=index, count=count, class_index=class_index, seed=seed))


def load_dataset(name: str = "digits", *, scale: str = "unit", validation_split: float = 0.1, flatten: bool = True,
                 **options):
    """A data set as model-ready arrays plus info: `x_train, y_train, x_val, y_val, x_test, y_test`
    and `info` (class_names, input_shape, image_shape, counts, warnings).

    options are the generator's parameters of generated sets (cosine2d: n, a, noise, seed).
    """
    from ..data import load_dataset as load
    ds = load(name, scale=scale, validation_split=validation_split, flatten=flatten, options=options)
    return ShownDataset(**{f.name: getattr(ds, f.name) for f in dataclasses.fields(ds)})


def pandas():
    """pandas, which the API's tables are made of."""
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is a dependency
        raise ImportError("mlplab's Python API returns pandas DataFrames: pip install pandas") from None
    return pandas
