"""A scikit-learn estimator over mlplab's engine, for GridSearchCV and pipelines.

    from sklearn.model_selection import GridSearchCV
    search = GridSearchCV(ml.Classifier(epochs=10), {"hidden": [(32,), (64, 64)], "learning_rate": [1e-3, 1e-2]})
    search.fit(X, y)

Constructors store, `fit` learns, learned attributes end in `_`. Nothing is written
to the run store: the estimator trains in memory (the model is `model_`).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class Classifier(ClassifierMixin, BaseEstimator):
    """A dense neural-network classifier trained by mlplab's engine.

    hidden: widths of the hidden layers (() is logistic regression); activation, init,
    dropout, batchnorm, l2 as in the spec's [model]; optimizer ("adam", "sgd", ... or a table
    such as {"name": "sgd", "momentum": 0.9}), learning_rate, epochs, batch_size as in [train];
    early_stopping: hold out `validation_fraction` of the rows and stop when their loss stops
    improving (patience epochs), keeping the best weights. random_state seeds the initial
    weights and the shuffling. Inputs are used as given: scale them first (e.g. StandardScaler).

    Fitted: classes_, n_features_in_, model_ (a keras.Model), history_ (a dict of lists per
    epoch), n_iter_ (epochs run), status_ ("ok", "stopped" or "diverged").
    """

    def __init__(self, hidden=(64,), activation="relu", *, optimizer="adam", learning_rate=0.001, epochs=20,
                 batch_size=32, init="glorot_uniform", dropout=0.0, batchnorm=False, l2=0.0, early_stopping=False,
                 validation_fraction=0.1, patience=3, random_state=0):
        self.hidden = hidden
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.init = init
        self.dropout = dropout
        self.batchnorm = batchnorm
        self.l2 = l2
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def _experiment(self):
        from .spec import validate
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) else 0
        optimizer = {"name": self.optimizer} if isinstance(self.optimizer, str) else dict(self.optimizer)
        optimizer["learning_rate"] = self.learning_rate
        es = {"monitor": "val_loss", "patience": self.patience, "restore_best": True} if self.early_stopping else False
        raw = {"seed": int(seed) % 2**31,
               "model": {"hidden": [int(w) for w in self.hidden], "activation": self.activation, "init": self.init,
                         "dropout": self.dropout, "batchnorm": self.batchnorm, "l2": self.l2},
               "train": {"optimizer": optimizer, "epochs": self.epochs, "batch_size": self.batch_size,
                         "early_stopping": es}}
        try:
            return validate(raw)
        except Exception as e:  # BadInput names the spec field; sklearn expects ValueError for a bad parameter
            raise ValueError(f"Classifier parameter: {e}") from None

    def fit(self, X, y):
        from .data import Dataset, DatasetInfo
        from .training.population import Population, member_of, program_of, train_population
        from .engine.models import build_model, set_weights
        exp = self._experiment()
        X, y = validate_data(self, X, y, dtype=np.float32, ensure_min_samples=1)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"Classifier needs samples of at least 2 classes in the data, but the data contains only "
                             f"one class: {self.classes_[0]!r}")
        codes = encoder.transform(y).astype(np.int32)
        X = np.ascontiguousarray(X, dtype=np.float32)
        n_val = int(len(X) * self.validation_fraction) if self.early_stopping else 0
        if self.early_stopping and n_val < 1:
            raise ValueError(f"early_stopping needs validation rows: validation_fraction = {self.validation_fraction} "
                             f"of {len(X)} samples is none")
        order = np.random.default_rng(exp.seed).permutation(len(X)) if n_val else np.arange(len(X))
        fit_rows, val_rows = order[n_val:], order[:n_val]
        names = [str(c) for c in self.classes_]
        info = DatasetInfo(name="array", source="scikit-learn", class_names=names, num_classes=len(names),
                           input_shape=(X.shape[1],), image_shape=None, scale="none", n_train=len(fit_rows),
                           n_val=n_val, n_test=0, class_counts={}, value_min=float(X.min()), value_max=float(X.max()),
                           warnings=[])
        empty = np.zeros((0, X.shape[1]), np.float32)
        data = Dataset(X[fit_rows], codes[fit_rows], X[val_rows], codes[val_rows], empty, np.zeros(0, np.int32), info)
        model = build_model(exp.model, info.input_shape, info.num_classes, exp.train.loss, exp.seed)
        population = Population([exp], 1, [model], [member_of(exp, model)], program_of(exp, model))
        outcome = train_population(population, data, diverged=False)[0]
        set_weights(model, outcome.trainable, outcome.non_trainable)
        self.model_ = model
        self.history_ = {k: list(v) for k, v in outcome.history.items()}
        self.n_iter_ = outcome.epochs_run
        self.status_ = outcome.status
        return self

    def predict_proba(self, X):
        from .engine.inference import predict_probabilities
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)), np.float32)
        return np.asarray(predict_probabilities(self.model_, np.ascontiguousarray(X, dtype=np.float32)))

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
