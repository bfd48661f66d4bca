"""Penalties: the regularization term, one of the three peer kinds of parts.

Every penalty of the package is a coordinate-weighted elastic net

    h(w) = sum_j l1_j |w_j| + 1/2 sum_j l2_j w_j^2,

because the estimators' penalty alpha (l1_ratio ||w||_1 + (1 - l1_ratio)/2 ||w||^2) on the
original coefficients becomes coordinate-weighted once the features are standardized
(``_precondition``): w_j = w~_j / s_j puts 1/s_j on the L1 weight of coordinate j and
1/s_j^2 on its L2 weight. The L2 part is smooth and goes into the gradient; the L1 part
is applied by its proximal operator (soft-thresholding), which produces exact zeros.
The solvers ask for the value, the prox, the distance of a gradient to the
subdifferential (the optimality violation) and the conjugate (duality gaps).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def penalty_split(penalty: str | None, alpha: float, l1_ratio: float) -> tuple[float, float]:
    """Return ``(alpha, l1_ratio)`` of the elastic-net form equivalent to ``penalty``."""
    if penalty is None:
        return 0.0, 0.0
    if penalty == "l2":
        return float(alpha), 0.0
    if penalty == "l1":
        return float(alpha), 1.0
    return float(alpha), float(l1_ratio)


def penalty_value(w: np.ndarray, alpha: float, l1_ratio: float) -> float:
    """alpha * (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||_2^2) on original coefficients."""
    w = np.asarray(w, dtype=np.float64)
    return float(alpha * (l1_ratio * np.abs(w).sum() + 0.5 * (1.0 - l1_ratio) * (w @ w)))


@njit(cache=True, inline="always")
def soft_threshold(x: float, threshold: float) -> float:
    """Proximal operator of threshold * |x|."""
    if x > threshold:
        return x - threshold
    if x < -threshold:
        return x + threshold
    return 0.0


@njit(cache=True)
def prox_l1(z: np.ndarray, step: float, l1: np.ndarray) -> np.ndarray:
    """Soft-threshold ``z[j]`` by ``step * l1[j]`` in place for j < len(l1) (the intercept,
    stored after the coefficients, is left alone)."""
    for j in range(l1.shape[0]):
        z[j] = soft_threshold(z[j], step * l1[j])
    return z


class WeightedElasticNet:
    """h(w) = sum_j l1_j |w_j| + 1/2 sum_j l2_j w_j^2 (weights of the solver's coordinates).

    Parameters
    ----------
    l1, l2 : ndarray of shape (n_coef,)
        Non-negative weights; zero weights leave a coordinate unpenalized.
    """

    def __init__(self, l1: np.ndarray, l2: np.ndarray):
        self.l1 = np.ascontiguousarray(l1, dtype=np.float64)
        self.l2 = np.ascontiguousarray(l2, dtype=np.float64)
        self.has_l1 = bool(np.any(self.l1 > 0))
        self.has_l2 = bool(np.any(self.l2 > 0))

    # Sums of products rather than ``@``: OpenBLAS's threaded dot took milliseconds on
    # vectors of 100,000 entries on a busy machine.
    def value(self, w: np.ndarray) -> float:
        return float(np.sum(self.l1 * np.abs(w)) + 0.5 * np.sum(self.l2 * w * w))

    def l1_value(self, w: np.ndarray) -> float:
        return float(np.sum(self.l1 * np.abs(w)))

    def prox_l1(self, z: np.ndarray, step: float) -> np.ndarray:
        """Prox of ``step`` times the L1 part on the first len(l1) entries of ``z``."""
        return prox_l1(z, float(step), self.l1)

    def subdiff_distance(self, w: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """|distance| of -grad to the subdifferential of the L1 part, per coordinate.

        ``grad`` is the gradient of the smooth part (data term plus the L2 part); zero
        everywhere exactly at an optimum.
        """
        nz = w != 0
        out = np.maximum(np.abs(grad) - self.l1, 0.0)
        out[nz] = np.abs(grad[nz] + self.l1[nz] * np.sign(w[nz]))
        return out

    def dual_scale(self, u: np.ndarray) -> float:
        """Largest k in [0, 1] with h*(k u) finite (0: no k > 0 works).

        h_j* is finite everywhere where l2_j > 0; where only l1_j > 0 it needs
        |u_j| <= l1_j; an unpenalized coordinate needs u_j = 0. Excesses below the
        rounding of u (1e-13 of its largest entry) do not count (as in ``_fista``).
        """
        flat = self.l2 <= 0.0
        if not np.any(flat):
            return 1.0
        slack = 1e-13 * float(np.max(np.abs(u))) if u.size else 0.0
        a = np.abs(u[flat])
        lim = self.l1[flat]
        if np.any((lim <= 0.0) & (a > slack)):
            return 0.0
        over = a > lim + slack
        if not np.any(over):
            return 1.0
        return float(np.min(lim[over] / a[over]))

    def conjugate(self, u: np.ndarray) -> float:
        """sum_j h_j*(u_j), for u inside the domain (see ``dual_scale``)."""
        excess = np.maximum(np.abs(u) - self.l1, 0.0)
        smooth = self.l2 > 0.0
        return float(np.sum(excess[smooth] ** 2 / (2.0 * self.l2[smooth])))
