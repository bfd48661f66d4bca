"""Shared test problems and plain NumPy objectives (the references of the parity tests)."""

import numpy as np


def well_conditioned(seed=0, n=400, p=10):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    w = np.zeros(p)
    w[: p // 2] = rng.randn(p // 2) * 2
    y = X @ w + 1.5 + 0.3 * rng.randn(n)
    return X, y


def correlated(seed=0, n=300, p=20, rho=0.95):
    rng = np.random.RandomState(seed)
    cov = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.randn(n, p) @ np.linalg.cholesky(cov).T
    w = np.zeros(p)
    w[::4] = rng.randn(len(w[::4])) * 2
    y = X @ w - 0.7 + 0.5 * rng.randn(n)
    return X, y


def wide(seed=0, n=60, p=150):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    w = np.zeros(p)
    w[:8] = rng.randn(8) * 3
    y = X @ w + 0.2 + 0.1 * rng.randn(n)
    return X, y


PROBLEMS = {"well_conditioned": well_conditioned, "correlated": correlated, "wide": wide}


def ridge_objective(X, y, w, b, alpha, sw=None):
    """scikit-learn Ridge: sum_i s_i (y_i - x_i.w - b)^2 + alpha ||w||^2."""
    sw = np.ones(len(y)) if sw is None else sw
    r = y - X @ w - b
    return float(sw @ r**2 + alpha * w @ w)


def enet_objective(X, y, w, b, alpha, l1_ratio, sw=None):
    """scikit-learn ElasticNet/Lasso: 1/(2 sum s) sum s r^2 + a rho |w|_1 + a (1-rho)/2 |w|^2."""
    sw = np.ones(len(y)) if sw is None else sw
    r = y - X @ w - b
    return float(0.5 * (sw @ r**2) / sw.sum() + alpha * l1_ratio * np.abs(w).sum()
                 + 0.5 * alpha * (1 - l1_ratio) * w @ w)
