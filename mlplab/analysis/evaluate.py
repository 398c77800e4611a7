"""Trained model outputs -> an evaluation: accuracy, per-class scores, confusion matrix."""
from __future__ import annotations

import numpy as np


def evaluate(probabilities: np.ndarray, y_true: np.ndarray, class_names: list[str]) -> dict:
    """Plain-data evaluation of test-set class probabilities (N, C): scikit-learn's confusion_matrix and
    precision_recall_fscore_support(zero_division=0), in numpy (a sweep evaluates every member)."""
    n = len(class_names)
    pred = probabilities.argmax(axis=1)
    y = np.asarray(y_true).astype(int)
    known = (y >= 0) & (y < n) & (pred < n)
    matrix = np.bincount(y[known] * n + pred[known], minlength=n * n).reshape(n, n)
    right, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros(n), where=b > 0)
    precision, recall, f1 = ratio(right, predicted), ratio(right, support), ratio(2 * right, support + predicted)
    return {
        "accuracy": float(np.mean(pred == y)) if len(y) else float("nan"),
        "per_class": [
            {"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        ],
        "confusion_matrix": matrix.tolist(),
    }
