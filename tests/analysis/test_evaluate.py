"""The evaluation is scikit-learn's metrics, computed in numpy."""
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from mlplab.analysis.evaluate import evaluate


@pytest.mark.parametrize("seed", range(5))
def test_the_evaluation_is_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    classes = 6
    y = rng.integers(0, classes, 300)
    probs = rng.random((300, classes)) ** 4
    probs[:, 5] = 0          # a class never predicted: precision 0 by zero_division=0
    y[y == 4] = 3            # a class never present: recall 0
    ev = evaluate(probs, y, [f"c{i}" for i in range(classes)])
    pred = probs.argmax(1)
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=np.arange(classes), zero_division=0)
    assert ev["confusion_matrix"] == confusion_matrix(y, pred, labels=np.arange(classes)).tolist()
    for row, *theirs in zip(ev["per_class"], p, r, f, s):
        assert [row["precision"], row["recall"], row["f1"], row["support"]] == pytest.approx(theirs)
    assert ev["accuracy"] == pytest.approx(np.mean(pred == y))
