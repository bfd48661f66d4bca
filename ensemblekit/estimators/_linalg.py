"""Small linear-algebra helpers of the robust twins: products with [X, 1] through the
compiled row passes, the weighted Gram matrix, and single-threaded BLAS for small
systems."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from ._passes import matvec, rmatvec
from ._rows import kernel_inputs

_CONTROLLER: list = []


def single_threaded_blas():
    """Context manager limiting BLAS/LAPACK to one thread.

    Multithreaded LAPACK on the small systems of the robust twins was measured 30x slower
    on a busy 2-core machine (thread hand-offs dominate). The controller is built once:
    building it scans the loaded libraries, which was measured at ~5 ms per call, more
    than the small solves it protects.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


class Design:
    """[X, 1] (the column of ones only with an intercept) for the compiled row passes."""

    def __init__(self, X, fit_intercept: bool):
        self.X = X
        self.inputs = kernel_inputs(X)
        self.n, self.p = X.shape
        self.fit_intercept = fit_intercept
        self.rows = np.arange(self.n)

    def matvec(self, z: np.ndarray) -> np.ndarray:
        """X @ z[:p] (+ z[p]) in float64."""
        out = np.empty(self.n)
        matvec(*self.inputs, self.rows, np.ascontiguousarray(z[: self.p], dtype=np.float64),
               out)
        if self.fit_intercept:
            out += z[self.p]
        return out

    def rmatvec(self, v: np.ndarray, with_intercept: bool | None = None) -> np.ndarray:
        """[X.T @ v, sum(v)] (the intercept row only if fitted) in float64."""
        out = np.empty(self.p)
        rmatvec(*self.inputs, self.rows, np.ascontiguousarray(v, dtype=np.float64), out)
        if self.fit_intercept if with_intercept is None else with_intercept:
            return np.append(out, float(v.sum()))
        return out


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
