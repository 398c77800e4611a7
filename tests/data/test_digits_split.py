"""The embedded digits are read from scikit-learn's own file and split by a NumPy copy of its
train_test_split (data.sources.split_like_sklearn): the same arrays and rows as scikit-learn gives, for the
default stratified split, the course's seeds and class counts whose shares tie."""
import numpy as np
import pytest

from mlplab.data.prepare import load_dataset
from mlplab.data.sources import load_raw, split_like_sklearn
from mlplab.errors import BadInput


def test_digits_are_read_and_split_exactly_as_scikit_learn_does():
    """The digits are read from scikit-learn's file and split by a NumPy copy of its train_test_split:
    same arrays, same rows, for the default stratified split and the course's seeds."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    for seed in (None, 0, 7, 42):
        want = train_test_split(d.images, d.target, test_size=0.2,
                                **({"random_state": 0, "stratify": d.target} if seed is None else {"random_state": seed}))
        raw = load_raw("digits", {} if seed is None else {"split_seed": seed})
        for got, expected in zip((raw.x_train, raw.x_test, raw.y_train, raw.y_test), want):
            assert got.dtype == expected.dtype and np.array_equal(got, expected), seed


@pytest.mark.parametrize("counts", [[5, 5, 5, 5, 3], [2, 7, 2, 7, 2, 9], [40, 3, 3, 3]])
def test_split_like_sklearn_breaks_ties_as_scikit_learn_does(counts):
    """Class counts whose shares leave equal remainders (ties broken at random) and odd totals."""
    from sklearn.model_selection import train_test_split
    y = np.random.default_rng(3).permutation(np.repeat(np.arange(len(counts)), counts))
    rows = np.arange(len(y))
    for seed in (None, 1):
        want_train, want_test = train_test_split(
            rows, test_size=0.3, **({"random_state": 0, "stratify": y} if seed is None else {"random_state": seed}))
        train, test = split_like_sklearn(y, 0.3, seed)
        assert np.array_equal(train, want_train) and np.array_equal(test, want_test), (counts, seed)


def test_digits_split_as_the_course_splits_them():
    """data.split_seed = 42: train_test_split(test_size=0.2, random_state=42), as the notebooks call it."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.2, random_state=42)
    data = load_dataset("digits", scale="none", validation_split=0.0, options={"split_seed": 42})
    assert np.array_equal(data.y_test, y_test) and np.array_equal(data.y_train, y_train)
    assert np.array_equal(data.x_test.reshape(len(y_test), -1), x_test)
    default = load_dataset("digits", scale="none", validation_split=0.0)
    assert not np.array_equal(default.y_test, y_test)  # the default split is stratified, seed 0
    with pytest.raises(BadInput, match="data.split_seed: only for digits"):
        load_raw("cosine2d", {"split_seed": 1})
