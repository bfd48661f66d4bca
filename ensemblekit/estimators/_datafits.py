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
* ``n_outputs``: the number of columns K of the coefficient matrix it acts on (1 by
  default; a separable loss acts column by column on K targets, the multinomial log loss
  couples K classes).

The full-batch matrix solver (``_matrix_fista``) works on predictions Z of shape (n, K)
and asks for row-wise quantities: ``row_values`` (phi_i(z_i)), ``row_derivatives``
(the gradient of phi_i at z_i, a row of K), ``row_conjugates`` (phi_i*(theta_i), the
conjugate of z -> phi_i(z)), ``feasible_dual`` (a dual point that respects the
intercept's constraint sum_i s_i theta_i = 0 and the conjugates' domain) and
``start_intercepts`` (the best constant model).

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
    """A separable regression loss: (1/n) sum_i s_i sum_k phi(p_ik - y_ik).

    Parameters
    ----------
    loss : str
        One of ``_losses.LOSS_CODES``.
    epsilon : float
        Threshold of "huber", "epsilon_insensitive" and "squared_epsilon_insensitive".
    quantile : float
        Level of "quantile".
    n_outputs : int
        Number of target columns K (the sum over k is the multi-output objective of
        scikit-learn's linear models).
    """

    def __init__(self, loss: str, epsilon: float = 0.1, quantile: float = 0.5,
                 n_outputs: int = 1):
        self.loss = loss
        self.code = LOSS_CODES[loss]
        self.epsilon = float(epsilon)
        self.quantile = float(quantile)
        self.n_outputs = int(n_outputs)

    def __repr__(self):
        k = f", n_outputs={self.n_outputs}" if self.n_outputs != 1 else ""
        return (f"Datafit({self.loss!r}, epsilon={self.epsilon}, quantile={self.quantile}"
                f"{k})")

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
        return Datafit(self.loss, eps, self.quantile, self.n_outputs)

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


    # ------------------------------------------------- rows of K outputs (matrix solver)
    def row_values(self, Y, Z) -> np.ndarray:
        """sum_k phi(z_ik - y_ik) per row."""
        return self.values(Y, Z).sum(axis=1)

    def row_derivatives(self, Y, Z) -> np.ndarray:
        """d phi_i / d z_i, shape (n, K)."""
        return self.derivatives(Y, Z)

    def row_conjugates(self, Theta, Y) -> np.ndarray:
        """phi_i*(theta_i) = sum_k phi*(theta_ik) + theta_ik y_ik (the conjugate of
        z -> phi(z - y) is phi* shifted by the target)."""
        return (self.conjugate(Theta) + Theta * Y).sum(axis=1)

    def feasible_dual(self, Theta, Y, w, fit_intercept: bool) -> np.ndarray:
        """Theta shifted to sum_i w_i theta_i = 0 (intercept) and shrunk into the domain
        |theta| <= conjugate_radius; both keep the optimum's dual point unchanged."""
        out = Theta - (w @ Theta) if fit_intercept else Theta.copy()
        big = float(np.max(np.abs(out))) if out.size else 0.0
        radius = self.conjugate_radius
        if big > radius:
            out *= radius / big
        return out

    def start_intercepts(self, Y, w) -> np.ndarray:
        """The best constant prediction of each target column."""
        return np.array([self.start_intercept(Y[:, k], w) for k in range(Y.shape[1])])


class MultinomialLogLoss:
    """Softmax cross-entropy of K classes: phi_i(z) = log sum_k exp(z_k) - <y_i, z>.

    ``y_i`` is a row of class probabilities (one-hot labels). The first datafit that
    couples its K outputs: the gradient of row i is softmax(z_i) - y_i, whose Jacobian
    diag(q) - q q^T has eigenvalues at most 1/2 (Boehning's bound), hence
    ``curvature = 0.5``. Its conjugate is the negative entropy,
    phi_i*(theta) = sum_k q_k log q_k with q = theta + y_i in the probability simplex
    (finite only there).

    Parameters
    ----------
    n_classes : int
        K >= 2.
    """

    smooth = True
    has_conjugate = True
    curvature = 0.5
    degree = None
    loss = "log_loss"

    def __init__(self, n_classes: int):
        self.n_outputs = int(n_classes)

    def __repr__(self):
        return f"MultinomialLogLoss({self.n_outputs})"

    @staticmethod
    def _log_normalizer(Z) -> np.ndarray:
        m = Z.max(axis=1)
        return m + np.log(np.exp(Z - m[:, None]).sum(axis=1))

    def row_values(self, Y, Z) -> np.ndarray:
        return self._log_normalizer(Z) - np.sum(Y * Z, axis=1)

    def row_derivatives(self, Y, Z) -> np.ndarray:
        Q = np.exp(Z - self._log_normalizer(Z)[:, None])
        return Q - Y

    def row_conjugates(self, Theta, Y) -> np.ndarray:
        Q = Theta + Y
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = np.where(Q > 0.0, Q * np.log(np.where(Q > 0.0, Q, 1.0)), 0.0)
        return ent.sum(axis=1)

    def feasible_dual(self, Theta, Y, w, fit_intercept: bool) -> np.ndarray:
        """A dual point q_i - y_i with q_i in the simplex and, with an intercept,
        sum_i w_i q_i equal to the class frequencies pi.

        q_i + (pi - mean q) has the right mean and rows summing to one but may leave the
        simplex; mixing it with pi by the smallest lambda that brings it back keeps the
        mean. At the optimum the shift and lambda are zero."""
        Q = np.clip(Theta + Y, 0.0, None)
        Q /= Q.sum(axis=1, keepdims=True)
        if fit_intercept:
            pi = w @ Y
            Q += pi - w @ Q
            low = Q.min(axis=1)
            gap = pi[None, :] - Q  # q + lambda (pi - q) >= 0 <=> lambda >= -q / (pi - q)
            with np.errstate(divide="ignore", invalid="ignore"):
                need = np.where((Q < 0.0) & (gap > 0.0), -Q / gap, 0.0)
            lam = float(need.max()) if low.min() < 0.0 else 0.0
            if lam > 0.0:
                Q = (1.0 - lam) * Q + lam * pi[None, :]
                np.clip(Q, 0.0, None, out=Q)
        return Q - Y

    def start_intercepts(self, Y, w) -> np.ndarray:
        """Log class frequencies (centred; a class never seen gets log 1e-12 there)."""
        logp = np.log(np.maximum(w @ Y, 1e-12))
        return logp - logp.mean()


def weighted_quantile(y: np.ndarray, sw: np.ndarray, q: float) -> float:
    """Smallest y_(k) whose cumulative weight reaches q of the total (lower quantile, up to
    the rounding of the cumulative sums)."""
    order = np.argsort(y, kind="stable")
    cum = np.cumsum(sw[order])
    k = int(np.searchsorted(cum, q * cum[-1]))
    return float(y[order[min(k, len(y) - 1)]])
