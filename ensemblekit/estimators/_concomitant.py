"""The concomitant-scale Huber datafit of ``HuberRegressor`` (a non-separable datafit).

scikit-learn's HuberRegressor minimizes, jointly over the coefficients and the scale
sigma > 0, sum_i s_i (sigma + sigma H_eps(r_i / sigma)) + alpha ||w||^2 with
H_eps(z) = z^2 for |z| <= eps and 2 eps |z| - eps^2 otherwise. The objective is jointly
convex (the perspective of the Huber function) and positively homogeneous of degree 1 in
(r, sigma), so the target can be standardized exactly (``degree = 1``). Eliminating sigma
exactly (``optimal_scale``, an O(n) piecewise root find) leaves a convex function of the
residuals whose gradient is the residual gradient at the optimal sigma (Danskin): that is
what the full-batch solver (``_fista``, kind ``HUBER``) asks of this datafit, together with
its own duality gap (``concomitant_gap``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Same lower bound on the scale as HuberRegressor's L-BFGS-B box constraint (original
# units of y; the solver divides it by the target's scale).
SIGMA_MIN = 10.0 * np.finfo(np.float64).eps


@njit(cache=True)
def _scale_stats(r, sw, thr):
    """Weight of the outliers (|r| > thr) and weighted sum of squares of the inliers."""
    s_out = 0.0
    q_in = 0.0
    for i in range(r.shape[0]):
        a = abs(r[i])
        if a > thr:
            s_out += sw[i]
        else:
            q_in += sw[i] * a * a
    return s_out, q_in


@njit(cache=True)
def optimal_scale(r, sw, eps, sigma_min, sigma_guess):
    """Exact minimiser over sigma >= sigma_min of sum_i sw_i (sigma + sigma H_eps(r_i / sigma)).

    ``sw`` sums to one. The derivative in sigma, 1 - eps^2 S_out(sigma) - Q_in(sigma) / sigma^2,
    is nondecreasing and piecewise smooth; on each piece (fixed inlier set) its root has a
    closed form, so a bracketed "root of the current piece" iteration lands on the exact
    root after a handful of O(n) sweeps, with bisection as the safeguard.
    """
    eps2 = eps * eps
    s_out, q_in = _scale_stats(r, sw, eps * sigma_min)
    if 1.0 - eps2 * s_out - q_in / (sigma_min * sigma_min) >= 0.0:
        return sigma_min
    amax = 0.0
    q_all = 0.0
    for i in range(r.shape[0]):
        a = abs(r[i])
        if a > amax:
            amax = a
        q_all += sw[i] * a * a
    lo = sigma_min
    # Above max|r|/eps every sample is an inlier and the derivative is 1 - q_all/sigma^2.
    hi = max(amax / eps, np.sqrt(q_all)) * (1.0 + 1e-12) + sigma_min
    sigma = sigma_guess
    if not (sigma > lo and sigma < hi):
        sigma = 0.5 * (lo + hi)
    for it in range(200):
        s_out, q_in = _scale_stats(r, sw, eps * sigma)
        gp = 1.0 - eps2 * s_out - q_in / (sigma * sigma)
        if gp == 0.0:
            return sigma
        if gp < 0.0:
            lo = sigma
        else:
            hi = sigma
        den = 1.0 - eps2 * s_out
        cand = -1.0
        if den > 0.0 and q_in > 0.0:
            cand = np.sqrt(q_in / den)
        if abs(cand - sigma) <= 1e-15 * sigma:
            return sigma
        if cand > lo and cand < hi and it % 8 != 7:
            sigma = cand
        else:
            # Geometric bisection: the bracket can span many orders of magnitude.
            sigma = np.sqrt(lo * hi) if lo > 0.0 else 0.5 * hi
        if hi - lo <= 4e-16 * hi:
            return 0.5 * (lo + hi)
    return sigma


@njit(cache=True)
def huber_loss(r, sw, eps, sigma):
    """sum_i sw_i (sigma + sigma H_eps(r_i / sigma)) in sklearn's parametrisation."""
    thr = eps * sigma
    loss = 0.0
    for i in range(r.shape[0]):
        a = abs(r[i])
        if a > thr:
            loss += sw[i] * (2.0 * eps * a - sigma * eps * eps)
        else:
            loss += sw[i] * a * a / sigma
    return loss + sigma * sw.sum()


@njit(cache=True)
def huber_loss_grad(r, sw, eps, sigma, psi):
    """Loss as in ``huber_loss`` and, in ``psi``, its derivative in each residual."""
    thr = eps * sigma
    loss = 0.0
    for i in range(r.shape[0]):
        a = r[i]
        if a > thr:
            loss += sw[i] * (2.0 * eps * a - sigma * eps * eps)
            psi[i] = 2.0 * eps * sw[i]
        elif a < -thr:
            loss += sw[i] * (-2.0 * eps * a - sigma * eps * eps)
            psi[i] = -2.0 * eps * sw[i]
        else:
            loss += sw[i] * a * a / sigma
            psi[i] = 2.0 * sw[i] * a / sigma
    return loss + sigma * sw.sum()


@njit(cache=True)
def dual_excess(u, sw, eps):
    """Smallest factor by which u must shrink to enter C (<= 1 means u is in C)."""
    box = 0.0
    ell = 0.0
    for i in range(u.shape[0]):
        if sw[i] > 0.0:
            b = abs(u[i]) / (2.0 * eps * sw[i])
            if b > box:
                box = b
            ell += u[i] * u[i] / (4.0 * sw[i])
    return max(box, np.sqrt(ell))


@njit(cache=True)
def concomitant_gap(phi, psi, xpsi, xsw, y, sw, eps, l2, fit_intercept, u):
    """Certified gap phi - D(u) from the loss gradient psi; -1 where there is no bound.

    Eliminating sigma leaves a positively homogeneous loss f(r), the support function of
    C = {u : |u_i| <= 2 eps s_i, sum_i u_i^2 / (4 s_i) <= 1}, whose gradient psi lies in
    C. The dual of min f(y - X~ z) + sum_j l2_j w_j^2 / 2 is the max over u in C with
    sum(u) = 0 of u^T y - sum_j (X~^T u)_j^2 / (2 l2_j). Shifting psi by a multiple of s
    (sum(s) = 1) enforces sum(u) = 0 and shrinking it returns it to C; X~^T u follows
    from X~^T psi and X~^T s, so the bound costs no pass over X. ``u`` is scratch.
    """
    shift = 0.0
    if fit_intercept:
        for i in range(psi.shape[0]):
            shift += psi[i]
    for i in range(psi.shape[0]):
        u[i] = psi[i] - shift * sw[i]
    a = 0.0
    for i in range(psi.shape[0]):
        a += u[i] * y[i]
    b = 0.0
    for j in range(xpsi.shape[0]):
        xu = xpsi[j] - shift * xsw[j]
        if l2[j] > 0.0:
            b += xu * xu / (2.0 * l2[j])
        elif xu != 0.0:
            return -1.0
    # Any k in [0, k_max] keeps k u in C; the best one maximises the concave k a - k^2 b.
    k_max = 1.0 / max(1.0, dual_excess(u, sw, eps))
    k = k_max if b <= 0.0 else min(k_max, max(0.0, a / (2.0 * b)))
    return phi - (k * a - k * k * b)


def duality_gap(phi, psi, xpsi, xsw, y, sw, eps, alpha, fit_intercept) -> float:
    """``concomitant_gap`` with the penalty alpha ||w||^2 (l2_j = 2 alpha); inf when
    alpha = 0."""
    if alpha == 0.0:
        return np.inf
    l2 = np.full(xpsi.shape[0], 2.0 * alpha)
    return float(concomitant_gap(phi, psi, xpsi, xsw, y, sw, eps, l2, fit_intercept,
                                 np.empty_like(psi)))


def huber_objective(X, y, coef, intercept, scale, epsilon, alpha, sample_weight=None) -> float:
    """HuberRegressor's objective, exactly as scikit-learn defines it (unnormalised).

    ``sum_i s_i (sigma + H_eps((y_i - x_i w - b) / sigma) sigma) + alpha ||w||^2`` with
    ``H_eps(z) = z^2`` for ``|z| <= eps`` and ``2 eps |z| - eps^2`` otherwise.
    """
    sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    r = np.asarray(y, float) - np.asarray(X @ coef, float).ravel() - intercept
    a = np.abs(r)
    out = a > epsilon * scale
    h = np.where(out, 2.0 * epsilon * a / scale - epsilon**2, (r / scale) ** 2)
    return float(np.sum(sw * (scale + h * scale)) + alpha * np.dot(coef, coef))


class ConcomitantHuber:
    """The datafit min_sigma (1/n) sum_i s_i (sigma + sigma H_eps(r_i / sigma)) (solver kind
    ``HUBER``): smooth in the residuals (except at sigma's lower bound), degree 1."""

    n_outputs = 1
    smooth = True
    curvature = None  # 2 / sigma: it changes with sigma, the step is found by backtracking
    degree = 1
    has_conjugate = False
    conjugate_radius = np.inf
    loss = "huber_concomitant"
    code = -1  # no separable loss code

    def __init__(self, epsilon: float = 1.35):
        self.epsilon = float(epsilon)

    def __repr__(self):
        return f"ConcomitantHuber(epsilon={self.epsilon})"

    @property
    def args(self):
        from ._datafits import LossArgs

        # Not a separable loss: the rows passes never see it (epsilon only for the record).
        return LossArgs(0, self.epsilon, 0.5)

    def scaled(self, y_scale: float) -> ConcomitantHuber:
        return self  # epsilon applies to r / sigma: unchanged when both scale

    def values(self, y, pred) -> np.ndarray:
        raise NotImplementedError("the concomitant loss is not separable")

    def start_intercept(self, y: np.ndarray, sw: np.ndarray) -> float:
        """The weighted mean. Not the median, robust as it is: with tied targets (half of
        them equal, say) the median zeroes those residuals exactly, the optimal scale is
        then at its lower bound, where the loss is kinked and no gradient step moves (seen
        on scikit-learn's check data, where it returned an objective 1.6 times the
        optimum)."""
        return float(np.sum(sw * y) / np.sum(sw))
