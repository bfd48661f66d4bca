"""Shared validation and linear-algebra helpers of the robust twins (Huber, quantile)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import validate_data
from threadpoolctl import ThreadpoolController

from .._compat import _check_sample_weight

_CONTROLLER: list = []


def single_threaded_blas():
    """Context manager limiting BLAS/LAPACK to one thread.

    The controller is built once: building it scans the loaded libraries, which was
    measured at ~5 ms per call, more than the small solves it protects.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def validate_robust_fit_data(estimator, X, y, sample_weight, dtype):
    """Validate ``X``, ``y`` and ``sample_weight`` for a robust linear twin.

    Returns ``X`` (dense C-contiguous or CSR), ``y`` as float64 and the sample
    weights as float64. Raises a ``ValueError`` with an explicit message on
    NaN/inf, strings, empty data, a single sample, a 2-D ``y`` or a zero total
    sample weight.
    """
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse="csr",
        dtype=dtype,
        order="C",
        y_numeric=True,
        multi_output=False,
        ensure_min_samples=2,
    )
    if sp.issparse(X):
        X.sort_indices()
    # Own writeable copies (n floats, cheap): a read-only y or weight vector would make
    # numba compile a second specialisation of every kernel it reaches.
    y = np.array(y, dtype=np.float64, order="C", copy=True)
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    sw = np.array(sw, dtype=np.float64, order="C", copy=True)
    total = float(sw.sum())
    if not np.isfinite(total) or total <= 0.0:
        raise ValueError(
            f"{type(estimator).__name__} needs a strictly positive total sample weight; "
            f"got sum(sample_weight)={total!r}."
        )
    return X, y, sw


def design_matvec(X, z: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """Return ``X @ z[:p] (+ z[p])`` as float64, computing the product in X's dtype.

    Keeping the product in X's own dtype lets float32 data run through float32
    BLAS without an upcast copy of ``X`` on every call.
    """
    p = X.shape[1]
    w = z[:p].astype(X.dtype, copy=False)
    out = np.asarray(X @ w, dtype=np.float64)
    if fit_intercept:
        out += z[p]
    return out


def design_rmatvec(X, v: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """Return ``[X.T @ v, sum(v)]`` (the intercept row only if fitted) as float64."""
    vv = v.astype(X.dtype, copy=False)
    if sp.issparse(X):
        g = np.asarray(X.T @ vv, dtype=np.float64)
    else:
        g = np.asarray(vv @ X, dtype=np.float64)
    if fit_intercept:
        return np.concatenate([g, [float(v.sum())]])
    return g


def weighted_gram(X, sw: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """Return ``Xt^T diag(sw) Xt`` in float64 with ``Xt = [X, 1]`` when fitting an intercept."""
    p = X.shape[1]
    q = p + int(fit_intercept)
    G = np.empty((q, q), dtype=np.float64)
    if sp.issparse(X):
        Xw = X.multiply(sw[:, None]).tocsr()
        G[:p, :p] = (X.T @ Xw).toarray()
        if fit_intercept:
            col = np.asarray(Xw.sum(axis=0), dtype=np.float64).ravel()
    else:
        # A float32 Gram loses too much for a metric; one upcast copy is cheap next to X^T X.
        X64 = np.asarray(X, dtype=np.float64)
        Xs = X64 * np.sqrt(sw)[:, None]
        G[:p, :p] = Xs.T @ Xs
        if fit_intercept:
            col = sw @ X64
    if fit_intercept:
        G[:p, p] = col
        G[p, :p] = col
        G[p, p] = sw.sum()
    return G


def linear_predict(estimator, X) -> np.ndarray:
    """Shared ``predict`` body: validate ``X`` against the fit and apply the linear model."""
    X = validate_data(estimator, X, accept_sparse="csr", reset=False)
    coef = estimator.coef_.astype(X.dtype, copy=False) if X.dtype == np.float32 else estimator.coef_
    return np.asarray(X @ coef, dtype=np.float64) + estimator.intercept_
