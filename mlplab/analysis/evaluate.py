"""Trained model outputs -> an evaluation: accuracy, per-class scores, confusion matrix."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def evaluate(probabilities: np.ndarray, y_true: np.ndarray, class_names: list[str]) -> dict:
    """Plain-data evaluation of test-set class probabilities (N, C)."""
    labels = np.arange(len(class_names))
    pred = probabilities.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(np.mean(pred == y_true)) if len(y_true) else float("nan"),
        "per_class": [
            {"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        ],
        "confusion_matrix": confusion_matrix(y_true, pred, labels=labels).tolist(),
    }
