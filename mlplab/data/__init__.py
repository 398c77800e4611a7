"""Data sets: names or files -> model-ready arrays plus info.

The stage reads top-down along the data's flow: data.files (files on disk -> RawData),
data.sources (a built-in name or a path -> RawData), data.prepare (RawData -> a checked,
split and scaled Dataset), data.experiment (an Experiment's [data] section -> its Dataset).
"""
from .experiment import cross_validation_fold, load_data
from .prepare import Dataset, DatasetInfo, Scaling, load_dataset
from .sources import DATASETS, load_raw

__all__ = ["DATASETS", "Dataset", "DatasetInfo", "Scaling", "cross_validation_fold", "load_data", "load_dataset",
           "load_raw"]
