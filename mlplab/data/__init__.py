"""Data sets: names or files -> model-ready arrays plus info (see data.datasets)."""
from .datasets import DATASETS, Dataset, DatasetInfo, load_dataset, load_raw
from .experiment import cross_validation_fold, load_data

__all__ = ["DATASETS", "Dataset", "DatasetInfo", "cross_validation_fold", "load_data", "load_dataset", "load_raw"]
