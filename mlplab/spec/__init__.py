"""The experiment spec: a TOML/YAML file plus overrides -> a validated Experiment.

    files.py     read a spec file, apply --set overrides, load_spec / load_raw / stored_experiment
    schema.py    the sections (pydantic models built on the catalog's names and defaults), validate
    messages.py  a ValidationError -> one line naming the field, the value and what is allowed
    sweep.py     a spec's [sweep] -> its configurations, each a list of experiments
"""
from ..catalog import ACTIVATIONS, INITIALIZERS, OPTIMIZERS
from .files import (apply_override, get_dotted, load_raw, load_spec, parse_assignment, parse_value, read_file,
                    set_dotted, stored_experiment)
from .schema import (Data, EarlyStopping, Experiment, Init, Layer, ModelSpec, Optimizer, Train, describe_model,
                     validate)

__all__ = ["ACTIVATIONS", "INITIALIZERS", "OPTIMIZERS", "Data", "EarlyStopping", "Experiment", "Init", "Layer",
           "ModelSpec", "Optimizer", "Train", "apply_override", "describe_model", "get_dotted", "load_raw", "load_spec",
           "parse_assignment", "parse_value", "read_file", "set_dotted", "stored_experiment", "validate"]
