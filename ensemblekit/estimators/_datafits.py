"""Datafits: the data term of the objective, one of the three peer kinds of parts.

A datafit is the mean weighted loss (1/n) sum_i s_i phi(p_i - y_i) of the predictions
p_i, with mean-one sample weights s_i. The solvers ask it for what they need and nothing
else (model: skglm's ``datafits``):

* ``args``: the integer code and parameters that select the loss inside the compiled
  kernels (value, per-sample derivative dphi/dp, conjugate), so that every loss shares
  one compiled kernel per dtype;
* ``curvature``: a bound on phi'' (the Lipschitz constant of the per-sample derivative;
  ``None`` for a non-smooth loss), from which the solvers derive Lipschitz bounds
  curvature * ||x||^2;
* ``degree``: phi(c r) = c^degree phi_{c}(r) for a rescaled copy of the loss (its
  epsilon divided by c); the preconditioner uses it to put the target in standard units
  exactly (``None``: the loss is not homogeneous, y is only centred);
* ``conjugate`` / ``conjugate_radius``: phi* and the half-width of its domain, for the
  duality-gap certificates; ``None`` where the loss has no finite smooth conjugate;
* ``n_outputs``: the number of columns of the coefficient matrix it acts on (1 for every
  regression loss; the multinomial log loss carries K).

Non-separable datafits (the concomitant-scale Huber loss of ``GDHuberRegressor``) have
their own class with the same interface in their module.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ._losses import (
    ABSOLUTE_ERROR,
    EPSILON_INSENSITIVE,
    HUBER,
    LOG_COSH,
    LOSS_CODES,
    QUANTILE,
    SMOOTH_CURVATURE,
    SQUARED_EPSILON_INSENSITIVE,
    SQUARED_ERROR,
    conjugate_radius,
    loss_conjugate_numpy,
    loss_derivatives_numpy,
    loss_values_numpy,
)

# What the compiled kernels take: the loss code and its two parameters.
LossArgs = namedtuple("LossArgs", ["code", "epsilon", "quantile"])

# Homogeneity degree of each loss in the residual (with epsilon rescaled alongside).
_DEGREE = {
    SQUARED_ERROR: 2,
    HUBER: 2,
    SQUARED_EPSILON_INSENSITIVE: 2,
    ABSOLUTE_ERROR: 1,
    QUANTILE: 1,
    EPSILON_INSENSITIVE: 1,
    LOG_COSH: None,
}
_HAS_EPSILON = (HUBER, EPSILON_INSENSITIVE, SQUARED_EPSILON_INSENSITIVE)


class Datafit:
    """A separable regression loss: (1/n) sum_i s_i phi(p_i - y_i).

    Parameters
    ----------
    loss : str
        One of ``_losses.LOSS_CODES``.
    epsilon : float
        Threshold of "huber", "epsilon_insensitive" and "squared_epsilon_insensitive".
    quantile : float
        Level of "quantile".
    """

    n_outputs = 1

    def __init__(self, loss: str, epsilon: float = 0.1, quantile: float = 0.5):
        self.loss = loss
        self.code = LOSS_CODES[loss]
        self.epsilon = float(epsilon)
        self.quantile = float(quantile)

    def __repr__(self):
        return f"Datafit({self.loss!r}, epsilon={self.epsilon}, quantile={self.quantile})"

    @property
    def args(self) -> LossArgs:
        return LossArgs(self.code, self.epsilon, self.quantile)

    @property
    def smooth(self) -> bool:
        return self.code in SMOOTH_CURVATURE

    @property
    def curvature(self) -> float | None:
        return SMOOTH_CURVATURE.get(self.code)

    @property
    def degree(self) -> int | None:
        return _DEGREE[self.code]

    @property
    def has_conjugate(self) -> bool:
        return self.smooth

    @property
    def conjugate_radius(self) -> float:
        return conjugate_radius(self.code, self.epsilon)

    def scaled(self, y_scale: float) -> Datafit:
        """The same loss for targets divided by ``y_scale``: phi(c r) = c^degree phi_c(r)."""
        if self.degree is None or y_scale == 1.0:
            return self
        eps = self.epsilon / y_scale if self.code in _HAS_EPSILON else self.epsilon
        return Datafit(self.loss, eps, self.quantile)

    # ---------------------------------------------------------------- NumPy twins
    def values(self, y, pred) -> np.ndarray:
        return loss_values_numpy(self.code, y, pred, self.epsilon, self.quantile)

    def derivatives(self, y, pred) -> np.ndarray:
        return loss_derivatives_numpy(self.code, y, pred, self.epsilon, self.quantile)

    def conjugate(self, theta) -> np.ndarray:
        return loss_conjugate_numpy(self.code, theta, self.epsilon)

    def start_intercept(self, y: np.ndarray, sw: np.ndarray) -> float:
        """A good constant to start from: the mean for symmetric smooth losses, the
        weighted median (absolute, epsilon-insensitive) or quantile of y otherwise."""
        if self.code in (ABSOLUTE_ERROR, EPSILON_INSENSITIVE):
            return weighted_quantile(y, sw, 0.5)
        if self.code == QUANTILE:
            return weighted_quantile(y, sw, self.quantile)
        return float(np.sum(sw * y) / sw.sum())


def weighted_quantile(y: np.ndarray, sw: np.ndarray, q: float) -> float:
    """Smallest y_(k) whose cumulative weight reaches q of the total (lower quantile, up to
    the rounding of the cumulative sums)."""
    order = np.argsort(y, kind="stable")
    cum = np.cumsum(sw[order])
    k = int(np.searchsorted(cum, q * cum[-1]))
    return float(y[order[min(k, len(y) - 1)]])
