"""An experiment's data: its [data] section -> the Dataset it trains on (cross-validation folds included)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import BadInput
from ..spec import Experiment
from .prepare import Dataset, load_dataset


def load_data(exp: Experiment) -> Dataset:
    """The data set an experiment trains on: flattened unless its model is convolutional."""
    flatten = exp.data.flatten if exp.data.flatten is not None else not exp.model.convolutional
    options = exp.data.options
    folds, fold = options.pop("folds", None), options.pop("fold", 0)
    data = load_dataset(exp.data.dataset, scale=exp.data.scale,
                        validation_split=0.0 if folds else exp.data.validation_split,
                        flatten=flatten, options=options)
    # a sweep's folds (spec.sweep.expand) set data.fold on each of its runs
    key = "sweep.folds" if exp.data.fold is not None else "data.folds"
    return cross_validation_fold(data, folds, fold, key) if folds else data


def cross_validation_fold(data: Dataset, folds: int, fold: int, key: str = "data.folds") -> Dataset:
    """Fold `fold` of a stratified k-fold split of the training rows as the validation set
    (scikit-learn's StratifiedKFold without shuffling, as GridSearchCV uses). `key`: the spec key
    that asked for the folds, named when there are more than the data can hold."""
    from sklearn.model_selection import StratifiedKFold
    if not (isinstance(folds, int) and folds >= 2 and isinstance(fold, int) and 0 <= fold < folds):
        raise BadInput(f"data.fold = {fold!r} of data.folds = {folds!r}: expected folds >= 2 and 0 <= fold < folds")
    counts = np.bincount(data.y_train, minlength=data.info.num_classes)
    smallest = int(counts[counts > 0].min())   # a class absent from the training rows is in no fold
    if folds > smallest:
        name = data.info.class_names[int(np.flatnonzero(counts == smallest)[0])]
        raise BadInput(f"{key} = {folds}: expected a whole number from 2 to {smallest}: every fold holds each "
                       f"class, and the class {name} of {data.info.name} has {smallest} training rows")
    train, val = list(StratifiedKFold(n_splits=folds).split(data.x_train, data.y_train))[fold]
    counts = {"train": np.bincount(data.y_train[train], minlength=data.info.num_classes).tolist(),
              "val": np.bincount(data.y_train[val], minlength=data.info.num_classes).tolist(),
              "test": data.info.class_counts["test"]}
    info = replace(data.info, n_train=len(train), n_val=len(val), class_counts=counts)
    return replace(data, x_train=data.x_train[train], y_train=data.y_train[train],
                   x_val=data.x_train[val], y_val=data.y_train[val], info=info)
