"""A layer's outputs -> 2-D t-SNE points: the computation behind the hidden-representation figure.

Plain NumPy in, NumPy out, scikit-learn imported on first use: the report's t-SNE process needs
neither Keras nor matplotlib.
"""
from __future__ import annotations

import numpy as np


def tsne_points(h: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE points of the rows of `h` (after PCA to 50 dimensions); none when the rows are all alike.

    Barnes-Hut t-SNE, 500 iterations (the first 250 of them exaggerated, as sklearn's default
    1000), one OpenMP thread: with several, every iteration waits on a barrier, which on a
    busy machine made it several times slower (21 s vs 3 s on 360 digits)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits
    h = np.nan_to_num(np.asarray(h, dtype=np.float64).reshape(len(h), -1))
    if len(h) < 5 or np.allclose(h, h[0]):
        return np.zeros((0, 2))
    if h.shape[1] > 50 and len(h) > 50:
        h = PCA(n_components=50, random_state=seed).fit_transform(h)
    with threadpool_limits(limits=1, user_api="openmp"):   # this thread only (OpenMP's count is per thread)
        return TSNE(n_components=2, perplexity=min(perplexity, (len(h) - 1) / 3), init="pca", max_iter=500,
                    random_state=seed).fit_transform(h)
