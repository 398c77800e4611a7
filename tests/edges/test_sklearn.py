"""ml.Classifier as scikit-learn sees it: a real GridSearchCV, a pipeline, check_estimator."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import mlplab as ml

pytestmark = pytest.mark.slow   # every test here trains, spawns a process or opens a browser

# scikit-learn's own checks that ml.Classifier does not run, and why
SKIPPED_CHECKS = {
    # sklearn skips it itself unless SCIPY_ARRAY_API=1: the engine takes numpy arrays only
    "check_array_api_input": "array API inputs are not supported (the engine converts to numpy float32)",
}


def test_fit_predict_score_and_fitted_attributes(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPLAB_HOME", str(tmp_path / "store"))
    X, y = load_digits(return_X_y=True)
    labels = np.array(list("abcdefghij"))[y]
    clf = ml.Classifier(hidden=(32,), epochs=5, learning_rate=0.01).fit(X / 16, labels)
    assert list(clf.classes_) == list("abcdefghij") and clf.n_features_in_ == 64
    assert clf.model_.output_shape == (None, 10) and len(clf.history_["loss"]) == clf.n_iter_ == 5
    proba = clf.predict_proba(X[:5] / 16)
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert set(clf.predict(X[:20] / 16)) <= set(clf.classes_) and clf.score(X / 16, labels) > 0.9
    assert clf.get_params()["hidden"] == (32,) and clf.set_params(epochs=2).epochs == 2
    assert not (tmp_path / "store").exists()  # nothing written to the user's store


def test_grid_search_over_a_pipeline():
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(make_pipeline(MinMaxScaler(), ml.Classifier(epochs=3)),
                          {"classifier__learning_rate": [1e-4, 3e-2]}, cv=2)
    search.fit(X[:600], y[:600])
    assert search.best_params_ == {"classifier__learning_rate": 3e-2}
    assert search.best_score_ > 0.7 and search.score(X[600:], y[600:]) > 0.7


def test_early_stopping_holds_out_rows():
    X, y = load_digits(return_X_y=True)
    clf = ml.Classifier(epochs=30, early_stopping=True, patience=1, learning_rate=0.05).fit(X / 16, y)
    assert "val_loss" in clf.history_ and clf.status_ in ("ok", "stopped")


def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(ml.Classifier(hidden=(8,), epochs=10, learning_rate=0.05), on_fail=None)
    failed = {r["check_name"]: str(r["exception"])[:300] for r in results if r["status"] == "failed"}
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert not failed, failed
    assert skipped <= set(SKIPPED_CHECKS)
    assert sum(r["status"] == "passed" for r in results) >= 40
