"""Data as users have it: the raw numeric Ames columns (price in dollars, areas in square
feet, years) and a synthetic set whose correlated columns span scales 1e-2 to 1e5."""

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def ames_numeric():
    """(X, y): the 33 numeric Ames columns as shipped, and the sale price in dollars."""
    from ensemblekit.datasets import load_ames

    X, y = load_ames()
    return X.select_dtypes("number").to_numpy(float), y.to_numpy(float)


@lru_cache(maxsize=1)
def ames_standardized():
    from sklearn.preprocessing import StandardScaler

    X, y = ames_numeric()
    return StandardScaler().fit_transform(X), y


@lru_cache(maxsize=1)
def ill_scaled(seed=0, n=3000, p=20):
    """Correlated columns (AR(1), rho 0.8) with scales 1e-2 ... 1e5 and offsets ten times
    their scale; y has an offset of 1000 and noise at half its signal's spread."""
    rng = np.random.RandomState(seed)
    cov = 0.8 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    Z = rng.randn(n, p) @ np.linalg.cholesky(cov).T
    scales = np.logspace(-2, 5, p)
    X = Z * scales + rng.uniform(-1, 1, p) * scales * 10
    w = rng.randn(p) / scales
    signal = X @ w
    y = signal + 1000.0 + 0.5 * rng.randn(n) * np.std(signal)
    return X, y


RAW_SETS = {"ames_raw": ames_numeric, "ill_scaled": ill_scaled}
ALL_SETS = {**RAW_SETS, "ames_standardized": ames_standardized}
