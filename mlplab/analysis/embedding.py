"""A layer's outputs -> 2-D t-SNE points: the computation behind the hidden-representation figure.

Plain NumPy in, NumPy out. Up to EXACT_MAX rows (a run's default of at most 1000 test samples)
the t-SNE is exact and written here in NumPy: scikit-learn's `TSNE(method="exact")` step for step
(its perplexity search, early exaggeration, momentum and gains; tested against it), so the
report's t-SNE process imports neither scikit-learn (about 2.5 s), Keras nor matplotlib. More rows
than that: scikit-learn's Barnes-Hut t-SNE, imported then.
"""
from __future__ import annotations

import numpy as np

EXACT_MAX = 1000            # rows up to which the exact t-SNE runs (O(rows^2) per iteration; ~2-4 s at 1000)
ITERATIONS = 500            # of which the first EXAGGERATED with P x EXAGGERATION
EXAGGERATED, EXAGGERATION = 250, 12.0
_CHECK = 50                 # iterations between checks of the error (scikit-learn's _N_ITER_CHECK)
_EPS = np.finfo(np.double).eps


def tsne_points(h: np.ndarray, *, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE points of the rows of `h` (after PCA to 50 dimensions); none when the rows are all alike.
    `seed` matters only above EXACT_MAX rows (the exact t-SNE starts from the PCA: no randomness).

    On one thread of BLAS and OpenMP: with more, every product waits for a thread that shares its core
    with the report's other process, which made the t-SNE 3x slower on two cores (1.7 s vs 0.5 s on 360
    digits; 11.6 s vs 4.2 s on 1000)."""
    from threadpoolctl import threadpool_limits
    h = np.nan_to_num(np.asarray(h, dtype=np.float64).reshape(len(h), -1))
    if len(h) < 5 or np.allclose(h, h[0]):
        return np.zeros((0, 2))
    with threadpool_limits(limits=1):
        if h.shape[1] > 50 and len(h) > 50:
            h = pca(h, 50)
        perplexity = min(perplexity, (len(h) - 1) / 3)
        if len(h) <= EXACT_MAX:
            return exact_tsne(h, perplexity)
        from sklearn.manifold import TSNE
        return TSNE(n_components=2, perplexity=perplexity, init=pca_init(h), max_iter=ITERATIONS,
                    random_state=seed).fit_transform(h)


def pca(x: np.ndarray, k: int) -> np.ndarray:
    """The rows of `x` on its first `k` principal components (exact SVD; signs as scikit-learn's PCA)."""
    x = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    return (u[:, :k] * s[:k]) * signs[:k]


def pca_init(x: np.ndarray) -> np.ndarray:
    """t-SNE's starting points: the first two principal components, scaled to a standard deviation of
    1e-4 along the first (scikit-learn's init="pca")."""
    y = pca(x, 2).astype(np.float32)
    return y / np.std(y[:, 0]) * 1e-4


def squared_distances(x: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", x, x)
    d = sq[:, None] - 2 * (x @ x.T) + sq[None, :]
    np.maximum(d, 0, out=d)
    np.fill_diagonal(d, 0)
    return d


def conditional_p(d: np.ndarray, perplexity: float, steps: int = 100, tol: float = 1e-5) -> np.ndarray:
    """Each row's Gaussian over the others, its precision found by bisection so that the row's entropy
    is log(perplexity) (scikit-learn's _binary_search_perplexity, all rows at once)."""
    n = len(d)
    d = d.astype(np.float32).astype(np.float64)    # scikit-learn searches on float32 distances
    off = ~np.eye(n, dtype=bool)
    beta = np.ones(n)
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    p = np.zeros_like(d)
    active = np.ones(n, dtype=bool)
    target = np.log(perplexity)
    for _ in range(steps):
        rows = np.flatnonzero(active)
        dr, b = d[rows], beta[rows]              # the rows still searching, gathered once per step
        pr = np.exp(-dr * b[:, None]) * off[rows]
        total = pr.sum(axis=1)
        total[total == 0] = 1e-8
        pr /= total[:, None]
        p[rows] = pr
        diff = np.log(total) + b * (dr * pr).sum(axis=1) - target
        done = np.abs(diff) <= tol
        up = diff > 0
        lo[rows] = np.where(up, b, lo[rows])
        hi[rows] = np.where(up, hi[rows], b)
        new = np.where(up, np.where(np.isinf(hi[rows]), b * 2, (b + hi[rows]) / 2),
                       np.where(np.isinf(lo[rows]), b / 2, (b + lo[rows]) / 2))
        beta[rows] = np.where(done, b, new)
        active[rows[done]] = False
        if not active.any():
            break
    return p


def joint_p(x: np.ndarray, perplexity: float) -> np.ndarray:
    """The symmetric affinities of the rows of `x`, summing to 1 (zero diagonal)."""
    c = conditional_p(squared_distances(x), perplexity)
    p = c + c.T
    p /= max(p.sum(), _EPS)
    np.maximum(p, _EPS, out=p)
    np.fill_diagonal(p, 0)
    return p


def kl_gradient(y: np.ndarray, p: np.ndarray, error: bool, work: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """KL(P || Q) of the points `y` (Student-t Q; NaN unless `error`) and its gradient,
    4 sum_j (p_ij - q_ij) num_ij (y_i - y_j) with num_ij = 1 / (1 + |y_i - y_j|^2), q = num / sum(num).
    The n x n work in float32, in place, in `work` (2 x n x n, reused across iterations: a new 4 MB
    array per step costs its page faults): about 13 passes over n^2 floats."""
    y32 = y.astype(np.float32)
    num, t = work if work is not None else np.empty((2, len(y), len(y)), np.float32)
    a, b = np.ascontiguousarray(y32[:, 0]), np.ascontiguousarray(y32[:, 1])
    np.subtract(a[:, None], a[None, :], out=num)
    num *= num
    np.subtract(b[:, None], b[None, :], out=t)
    t *= t
    num += t
    num += 1
    np.divide(1, num, out=num)
    np.fill_diagonal(num, 0)
    total = float(num.sum())
    q = np.multiply(num, 1 / total, out=t)
    kl = np.nan
    if error:
        kl = float(np.sum(p * np.log(np.divide(p, np.maximum(q, _EPS), where=p > 0, out=np.ones_like(p)))))
    w = np.subtract(p, q, out=t)
    w *= num
    return kl, 4.0 * (w.sum(axis=1)[:, None] * y - (w @ y32).astype(np.float64))


def exact_tsne(x: np.ndarray, perplexity: float) -> np.ndarray:
    """Exact t-SNE of the rows of `x` to 2-D: gradient descent with momentum and per-coordinate gains,
    the first EXAGGERATED iterations on exaggerated affinities (scikit-learn's defaults)."""
    n = len(x)
    p = joint_p(x, perplexity)
    y = pca_init(x).astype(np.float64)
    p = p.astype(np.float32)
    rate = max(n / EXAGGERATION / 4, 50.0)
    update, gains = np.zeros_like(y), np.ones_like(y)
    work = np.empty((2, n, n), np.float32)
    it = 0
    for stop, momentum, patience, scale in ((EXAGGERATED, 0.5, EXAGGERATED, EXAGGERATION),
                                            (ITERATIONS, 0.8, 300, 1.0)):
        best, best_it = np.inf, it
        scaled = p * np.float32(scale)
        for i in range(it, stop):
            check = (i + 1) % _CHECK == 0
            kl, grad = kl_gradient(y, scaled, check or i == stop - 1, work)
            inc = update * grad < 0
            gains = np.maximum(np.where(inc, gains + 0.2, gains * 0.8), 0.01)
            grad *= gains
            update = momentum * update - rate * grad
            y += update
            if check:
                if kl < best:
                    best, best_it = kl, i
                elif i - best_it > patience:
                    break
                if np.linalg.norm(grad) <= 1e-7:
                    break
        it = i + 1
    return y
