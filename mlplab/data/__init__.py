"""Data sets: names or files -> model-ready arrays plus info (see data.datasets)."""
from .datasets import DATASETS, Dataset, DatasetInfo, load_dataset, load_raw

__all__ = ["DATASETS", "Dataset", "DatasetInfo", "load_dataset", "load_raw"]
