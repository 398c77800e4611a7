"""The experiment spec: a TOML/YAML file plus overrides -> a validated Experiment (see spec.schema)."""
from .schema import (ACTIVATIONS, INITIALIZERS, OPTIMIZERS, Data, EarlyStopping, Experiment, Init, Layer,
                     ModelSpec, Train, apply_override, describe_model, get_dotted, load_spec, parse_value, read_file,
                     set_dotted, stored_experiment, validate)

__all__ = ["ACTIVATIONS", "INITIALIZERS", "OPTIMIZERS", "Data", "EarlyStopping", "Experiment", "Init", "Layer",
           "ModelSpec", "Train", "apply_override", "describe_model", "get_dotted", "load_spec", "parse_value",
           "read_file", "set_dotted", "stored_experiment", "validate"]
