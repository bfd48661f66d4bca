"""The preconditioner: the solvers work on standardized features and target, exactly.

Raw columns in dollars, square feet and years make first-order methods crawl or diverge:
the step that suits one column is 10^8 times too large for another. As glmnet does, the
solvers therefore see

    x~_ij = (x_ij - m_j) / s_j,        y~_i = (y_i - m_y) / s_y,

with m, s the weighted means and standard deviations of the training rows (without
centring, s is the root mean square). The change of variables is exact and undone
exactly: with w_j = s_y w~_j / s_j and b = m_y + s_y b~ - sum_j m_j w_j the predictions are
the same, so the optimum is the original one, and

* the penalty stays on the original coefficients: alpha l1_ratio |w_j| becomes
  l1_j |w~_j| with l1_j proportional to 1/s_j, the L2 part becomes coordinate-weighted by
  1/s_j^2 (``penalty``), applied by a per-coordinate weighted prox;
* the target is put in standard units only for losses that are homogeneous in the
  residual (``Datafit.degree``; epsilon is rescaled with it): phi(s_y r) = s_y^d phi_s(r),
  so the objective is the original one times s_y^-d (``objective_scale``);
* centring is implicit: no centred copy of X is made (sparse X stays sparse); the passes
  over X use the raw rows with the coefficients v = w~ / s and the offset b~ - m.v.

A learning rate, a tolerance and a step count then mean the same thing on every data set.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._penalties import WeightedElasticNet


@njit(cache=True)
def _dense_moments(Xd, rows, sw, shift, s1, s2):
    """s1_j = sum_r sw_r (x_rj - shift_j), s2_j = sum_r sw_r (x_rj - shift_j)^2 over
    ``rows`` (a shift near the mean keeps the variance free of cancellation)."""
    p = Xd.shape[1]
    for k in range(rows.shape[0]):
        i = rows[k]
        w = sw[i]
        if w == 0.0:
            continue
        for j in range(p):
            d = Xd[i, j] - shift[j]
            s1[j] += w * d
            s2[j] += w * d * d


@njit(cache=True)
def _csr_moments(data, indices, indptr, rows, sw, acc):
    """Per column j, in row j of ``acc``: the weighted sums of its stored entries and of
    their squares, the rows storing it and their summed weights (one pass; one table row
    per column, so that an entry updates one cache line)."""
    for k in range(rows.shape[0]):
        i = rows[k]
        w = sw[i]
        if w == 0.0:
            continue
        for q in range(indptr[i], indptr[i + 1]):
            v = data[q]
            j = indices[q]
            acc[j, 0] += w * v
            acc[j, 1] += w * v * v
            acc[j, 2] += 1.0
            acc[j, 3] += w


@njit(cache=True)
def _csr_moments_unit(data, indices, lo, hi, acc):
    """``_csr_moments`` of the stored entries lo:hi (every row, in order) with unit
    weights: no row loop, no weight (40 -> 32 ms of CPU on 1,000,000 x 10,000)."""
    for q in range(lo, hi):
        v = data[q]
        j = indices[q]
        acc[j, 0] += v
        acc[j, 1] += v * v
        acc[j, 2] += 1.0


def column_moments(inputs, rows: np.ndarray, sw: np.ndarray, center, p: int):
    """Weighted means and standard deviations of the p columns over ``rows``.

    ``center``: True (every column), False (none) or "dense" (the CSR columns with at least
    ``DENSE_FRACTION`` of their entries stored, the others scaled by the root mean square
    of their stored entries: per-sample CSR steps). A column not centred gets mean 0 and
    its root mean square as scale; a column that is constant once centred (or all zero)
    gets scale 1.
    """
    Xd, data, indices, indptr, is_sparse = inputs
    n = sw.shape[0]
    # ``rows`` are sorted and distinct: these are 0, ..., n - 1
    every_row = rows.shape[0] == n and n > 0 and rows[0] == 0 and rows[-1] == n - 1
    total = float(sw.sum() if every_row else sw[rows].sum())
    if is_sparse:
        acc = np.zeros((p, 4))
        if every_row and np.all(sw == 1.0):
            _csr_moments_unit(data, indices, indptr[0], indptr[n], acc)
            acc[:, 3] = acc[:, 2]
        else:
            _csr_moments(data, indices, indptr, rows, sw, acc)
        s1, s2, counts, stored = acc.T
        mean = s1 / total
        if center == "dense":
            mask = counts >= DENSE_FRACTION * rows.shape[0]
            # The other columns are scaled by the root mean square of their stored entries:
            # scaled by that of all rows, a feature on one row in a thousand would reach
            # ~30 and the per-sample steps (bounded by the largest row norm) would crawl.
            with np.errstate(over="ignore", invalid="ignore"):
                var = np.where(mask, s2 / total - mean**2, s2 / np.maximum(stored, 1e-300))
        else:
            mask = np.full(p, bool(center))
            with np.errstate(over="ignore", invalid="ignore"):
                var = np.where(mask, s2 / total - mean**2, s2 / total)
    else:
        mask = np.full(p, bool(center))
        shift = np.asarray(Xd[rows[0]], dtype=np.float64) if center and rows.size else np.zeros(p)
        s1, s2 = np.zeros(p), np.zeros(p)
        _dense_moments(Xd, rows, sw, shift, s1, s2)  # (overflow is reported by the caller)
        d = s1 / total
        mean = shift + d
        with np.errstate(over="ignore", invalid="ignore"):
            var = s2 / total - d**2 if center else s2 / total
    mean = np.where(mask, mean, 0.0)
    scale = np.sqrt(np.maximum(var, 0.0))
    scale[np.isnan(var)] = np.inf  # overflowed: the caller raises
    # A column that is constant on these rows carries no information once centred: any
    # scale is exact, 1 keeps it unchanged. Without centring only an all-zero column is.
    tiny = np.where(mask, 1e-12 * np.maximum(np.abs(mean), 1e-300), 0.0)
    scale[~(scale > tiny)] = 1.0
    return mean, scale


# CSR columns stored on at least this fraction of the rows are centred even by per-sample
# steps (``_epoch``): they cost O(1) each per step either way.
DENSE_FRACTION = 0.5


class Preconditioner:
    """Affine change of variables between the original and the solver's coordinates.

    Parameters
    ----------
    mean, scale : ndarray of shape (n_features,)
        m_j and s_j (s_j > 0); ``mean`` is zero without centring.
    y_mean, y_scale : float
        m_y and s_y.
    degree : int or None
        Homogeneity degree of the loss (``Datafit.degree``); None when y is not scaled.
    fit_intercept : bool
        Whether the model has an intercept (without one nothing is centred).
    """

    def __init__(self, mean, scale, y_mean=0.0, y_scale=1.0, degree=None, fit_intercept=True):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.inv_scale = 1.0 / self.scale
        self.y_mean = float(y_mean)
        self.y_scale = float(y_scale)
        self.degree = degree
        self.fit_intercept = bool(fit_intercept)
        self.centered = bool(np.any(self.mean != 0.0))

    @classmethod
    def identity(cls, p: int, fit_intercept: bool = True) -> Preconditioner:
        return cls(np.zeros(p), np.ones(p), fit_intercept=fit_intercept)

    @classmethod
    def from_data(cls, inputs, y, sw, rows, *, fit_intercept: bool, center,
                  datafit, n_features: int) -> Preconditioner:
        """Statistics of the rows ``rows`` (positive weight); y's over all of them."""
        mean, scale = column_moments(inputs, rows, sw, center if fit_intercept else False,
                                     n_features)
        degree = datafit.degree
        y_mean, y_scale = 0.0, 1.0
        if fit_intercept:
            y_mean = float(np.sum(sw * y) / sw.sum())
        if degree is not None:
            yc = y.astype(np.float64) - y_mean
            with np.errstate(over="ignore", invalid="ignore"):
                y_scale = float(np.sqrt(np.sum(sw * yc * yc) / sw.sum()))
            if not np.isfinite(y_scale):
                y_scale = np.inf  # overflowed: the caller raises
            elif not y_scale > 1e-12 * max(abs(y_mean), 1e-300):
                y_scale = 1.0
        else:
            degree = None
        return cls(mean, scale, y_mean, y_scale, degree, fit_intercept)

    @property
    def objective_scale(self) -> float:
        """Original objective = objective_scale * the solver's objective."""
        return 1.0 if self.degree is None else self.y_scale**self.degree

    def transform_y(self, y: np.ndarray) -> np.ndarray:
        if self.y_mean == 0.0 and self.y_scale == 1.0:
            return y
        out = (y.astype(np.float64) - self.y_mean) / self.y_scale
        return out.astype(y.dtype, copy=False)

    def penalty(self, alpha: float, l1_ratio: float) -> WeightedElasticNet:
        """alpha (l1_ratio |w|_1 + (1 - l1_ratio)/2 |w|^2) in the solver's coordinates,
        divided by ``objective_scale``."""
        l1_unit, l2_unit = self.penalty_units(alpha, l1_ratio)
        return WeightedElasticNet(l1_unit * self.inv_scale, l2_unit * self.inv_scale**2)

    def penalty_units(self, alpha: float, l1_ratio: float) -> tuple[float, float]:
        """(c1, c2) with the penalty's weights l1_j = c1 / s_j and l2_j = c2 / s_j^2, to
        the bit (the lazy CSR kernel recomputes them from 1/s_j)."""
        sy = self.y_scale if self.degree is not None else 1.0
        d = self.degree if self.degree is not None else 0
        return alpha * l1_ratio * sy ** (1 - d), alpha * (1.0 - l1_ratio) * sy ** (2 - d)

    def to_original(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        """(coef, intercept) of the solver's (w~, b~)."""
        p = self.scale.shape[0]
        sy = self.y_scale
        coef = sy * theta[:p] * self.inv_scale
        if not self.fit_intercept:
            return coef, 0.0
        return coef, float(self.y_mean + sy * theta[p] - self.mean @ coef)

    def from_original(self, coef: np.ndarray, intercept: float) -> np.ndarray:
        p = self.scale.shape[0]
        theta = np.zeros(p + 1)
        theta[:p] = np.asarray(coef, dtype=np.float64) * self.scale / self.y_scale
        if self.fit_intercept:
            theta[p] = (intercept - self.y_mean + self.mean @ coef) / self.y_scale
        return theta

    def raw(self, theta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(v, c) with x~.w~ + b~ = x.v + c: the parameters the passes over raw X take."""
        p = self.scale.shape[0]
        u = np.empty(p + 1) if out is None else out
        np.multiply(theta[:p], self.inv_scale, out=u[:p])
        u[p] = theta[p] - (self.mean @ u[:p] if self.centered else 0.0)
        return u

    def tilde_grad(self, graw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Gradient in the solver's coordinates from sum_i d_i (x_i, 1) on raw rows."""
        p = self.scale.shape[0]
        g = np.empty(p + 1) if out is None else out
        if self.centered:
            np.multiply(graw[:p] - self.mean * graw[p], self.inv_scale, out=g[:p])
        else:
            np.multiply(graw[:p], self.inv_scale, out=g[:p])
        g[p] = graw[p]
        return g


def sample_rows(positive: np.ndarray, limit: int, rng=None) -> np.ndarray:
    """All of ``positive``, or ``limit`` of them drawn without replacement (sorted).

    The draw is seeded by the sizes alone (``rng`` is not consumed): the statistics it
    serves are estimates, and the random stream of the solver (shuffles, splits) stays the
    same whether they are sampled or not. NumPy's Generator draws k of n without
    replacement in O(k); ``RandomState.choice`` permutes all n (2.6 ms against 0.35 ms for
    20,000 of 200,000)."""
    n = positive.shape[0]
    if n <= limit:
        return positive
    gen = np.random.default_rng([n, limit])
    return positive[np.sort(gen.choice(n, size=limit, replace=False, shuffle=False))]
