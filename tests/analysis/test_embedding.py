"""The t-SNE behind the hidden-representation figure, against scikit-learn's exact t-SNE.

analysis.embedding ports scikit-learn's `TSNE(method="exact")` to NumPy: its affinities and its
objective's gradient must equal scikit-learn's, its descent must follow scikit-learn's step for step
(until float rounding, which the descent amplifies, sets them apart), and the points it ends on must
keep the data's neighbourhoods as well as scikit-learn's do.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import squareform
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, _t_sne, trustworthiness
from sklearn.metrics import pairwise_distances

from mlplab.analysis import embedding


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:300].astype(np.float64), y[:300]


@pytest.mark.parametrize("perplexity", [5.0, 30.0])
def test_affinities_equal_sklearns(digits, perplexity):
    x, _ = digits
    theirs = squareform(_t_sne._joint_probabilities(pairwise_distances(x, squared=True), perplexity, 0))
    mine = embedding.joint_p(x, perplexity)
    np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-12)
    assert mine.sum() == pytest.approx(1.0)


def test_objective_and_gradient_equal_sklearns(digits):
    x, _ = digits
    p = embedding.joint_p(x, 30.0)
    y = np.random.default_rng(0).normal(size=(len(x), 2)) * 3
    kl, grad = embedding.kl_gradient(y, p.astype(np.float32), True)
    their_kl, their_grad = _t_sne._kl_divergence(y.ravel().copy(), squareform(p, checks=False), 1, len(x), 2)
    assert kl == pytest.approx(their_kl, rel=1e-5)
    np.testing.assert_allclose(grad, their_grad.reshape(-1, 2), rtol=1e-4, atol=1e-6 * np.abs(their_grad).max())
    assert np.isnan(embedding.kl_gradient(y, p.astype(np.float32), False)[0])


@pytest.mark.parametrize("steps", [1, 3])
def test_descent_follows_sklearns_steps(digits, steps, monkeypatch):
    """The first steps of the exaggerated phase, from the same start, land on scikit-learn's points."""
    x, _ = digits
    monkeypatch.setattr(embedding, "EXAGGERATED", steps)
    monkeypatch.setattr(embedding, "ITERATIONS", steps)
    mine = embedding.exact_tsne(x, 30.0)
    p = _t_sne._joint_probabilities(pairwise_distances(x, squared=True), 30.0, 0) * embedding.EXAGGERATION
    theirs, _, _ = _t_sne._gradient_descent(
        _t_sne._kl_divergence, embedding.pca_init(x).ravel(), 0, steps, n_iter_check=50, n_iter_without_progress=250,
        momentum=0.5, learning_rate=max(len(x) / 48, 50.0), args=[p, 1, len(x), 2], kwargs={})
    np.testing.assert_allclose(mine, theirs.reshape(-1, 2), rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


def test_points_keep_neighbourhoods_as_sklearns_do(digits):
    x, y = digits
    mine = embedding.tsne_points(x)
    theirs = TSNE(method="exact", init=embedding.pca_init(x), max_iter=500, random_state=0).fit_transform(x)
    assert mine.shape == (len(x), 2) and np.isfinite(mine).all()
    assert trustworthiness(x, mine, n_neighbors=5) >= trustworthiness(x, theirs, n_neighbors=5) - 0.005
    assert trustworthiness(x, mine, n_neighbors=5) > 0.98
    # the classes stay apart: each point's nearest other point shares its class, as in the data
    nearest = np.argsort(pairwise_distances(mine), axis=1)[:, 1]
    assert np.mean(y[nearest] == y) > 0.9
    np.testing.assert_array_equal(embedding.tsne_points(x), mine)   # no randomness


def test_pca_equals_sklearns_with_its_signs(digits):
    x, _ = digits
    np.testing.assert_allclose(embedding.pca(x, 10), PCA(10, svd_solver="full").fit_transform(x), atol=1e-8)
    assert embedding.pca(x[:, :1], 2).shape == (len(x), 1)   # no more components than features


def test_more_rows_than_exact_max_run_barnes_hut(digits, monkeypatch):
    import sklearn.manifold
    x, y = digits
    calls, real = [], sklearn.manifold.TSNE
    monkeypatch.setattr(sklearn.manifold, "TSNE", lambda **kw: calls.append(kw) or real(**kw))
    embedding.tsne_points(x[:100])
    assert calls == []                                        # up to EXACT_MAX rows: the exact t-SNE here
    monkeypatch.setattr(embedding, "EXACT_MAX", 100)
    points = embedding.tsne_points(x[:150])
    assert [c.get("method", "barnes_hut") for c in calls] == ["barnes_hut"] and calls[0]["init"].shape == (150, 2)
    assert points.shape == (150, 2) and trustworthiness(x[:150], points) > 0.95


def test_rows_all_alike_or_too_few_give_no_points():
    assert embedding.tsne_points(np.ones((20, 4))).shape == (0, 2)
    assert embedding.tsne_points(np.eye(4)).shape == (0, 2)
