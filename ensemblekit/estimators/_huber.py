"""GDHuberRegressor: scikit-learn's HuberRegressor objective fitted by a first-order method."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numba import njit
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._compat import Interval, StrOptions, _fit_context
from ._exceptions import DivergenceError
from ._robust_utils import (
    design_matvec,
    design_rmatvec,
    linear_predict,
    single_threaded_blas,
    validate_robust_fit_data,
    weighted_gram,
)

# Same lower bound on the scale as HuberRegressor's L-BFGS-B box constraint.
_SIGMA_MIN = 10.0 * np.finfo(np.float64).eps


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
def _optimal_scale(r, sw, eps, sigma_min, sigma_guess):
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
def _huber_loss(r, sw, eps, sigma):
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
def _huber_loss_grad(r, sw, eps, sigma, psi):
    """Loss as in ``_huber_loss`` and, in ``psi``, its derivative in each residual."""
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


class _Metric:
    """Preconditioner ``M`` of the (w, b) block: a Cholesky factor or a diagonal.

    ``M`` approximates the weighted Gram matrix plus the ridge term expressed in units of
    ``2 / sigma``, so that a step ``sigma / 2 * M^{-1} g`` is the exact majorise-minimise
    step of the Huber loss at fixed sigma when ``M`` is the full Gram (no outliers).
    """

    def __init__(self, gram: np.ndarray, diagonal: bool, ridge: float, p: int, exact: bool):
        self.exact = exact  # False when ``gram`` was computed on a subsample
        self.gram = gram
        self.diagonal = diagonal
        self.ridge = ridge
        self.p = p
        self.sigma_ref = None

    def update(self, sigma: float) -> None:
        if self.sigma_ref is not None and 0.5 <= sigma / self.sigma_ref <= 2.0:
            return
        self.sigma_ref = sigma
        q = self.gram.shape[0]
        diag = np.diag(self.gram).copy() if not self.diagonal else self.gram.copy()
        # Ridge in the metric's units: alpha ||w||^2 has curvature 2 alpha, that is
        # (2 / sigma) * alpha * sigma.
        add = np.zeros(q)
        add[: self.p] = self.ridge * sigma
        # Jitter keeps the factorisation defined when alpha = 0 and the Gram is singular
        # (p > n, duplicated or constant columns); it only perturbs the metric.
        jitter = 1e-10 * max(diag.mean(), 1e-300)
        if self.diagonal:
            self.inv_diag = 1.0 / (diag + add + jitter)
        else:
            M = self.gram + np.diag(add + jitter)
            self.factor = sla.cho_factor(M, lower=True, check_finite=False)

    def solve(self, g: np.ndarray) -> np.ndarray:
        if self.diagonal:
            return g * self.inv_diag
        return sla.cho_solve(self.factor, g, check_finite=False)


def _duality_gap(phi, psi, xpsi, xsw, y, sw, eps, alpha, fit_intercept) -> float:
    """Certified gap phi - D(u) from the loss gradient psi (inf when alpha = 0).

    Eliminating sigma leaves a positively homogeneous loss f(r), the support function of
    C = {u : |u_i| <= 2 eps s_i, sum_i u_i^2 / (4 s_i) <= 1}, whose gradient psi lies in
    C. The dual of min f(y - X~ z) + alpha ||w||^2 is max over u in C with sum(u) = 0 of
    u^T y - ||X^T u||^2 / (4 alpha). Shifting psi by a multiple of s (sum(s) = 1) enforces
    sum(u) = 0 and shrinking it returns it to C; X^T u follows from X^T psi and X^T s, so
    the bound costs no pass over X.
    """
    if alpha == 0.0:
        return np.inf
    if fit_intercept:
        shift = float(psi.sum())
        u = psi - shift * sw
        xu = xpsi - shift * xsw
    else:
        u, xu = psi, xpsi
    # Any k in [0, k_max] keeps k u in C; the best one maximises the concave k a - k^2 b.
    k_max = 1.0 / max(1.0, _dual_excess(u, sw, eps))
    a = float(u @ y)
    b = float(xu @ xu) / (4.0 * alpha)
    k = k_max if b <= 0.0 else min(k_max, max(0.0, a / (2.0 * b)))
    return phi - (k * a - k * k * b)


@njit(cache=True)
def _dual_excess(u, sw, eps):
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


def _huber_fista(X, y, sw, epsilon, alpha, fit_intercept, z0, metric, max_iter, tol):
    """Accelerated variable-metric gradient on phi(z) = min_sigma F(z, sigma), z = (w, b).

    ``sw`` is normalised to sum to one and ``alpha`` divided accordingly, so phi is the
    sklearn objective divided by the total sample weight. Partial minimisation over sigma
    keeps phi convex (F is jointly convex, being a perspective) and its gradient is the
    (w, b)-gradient of F at the optimal sigma (Danskin), which ``_optimal_scale`` computes
    exactly in O(n). Each iteration costs two passes over X (X^T psi and X d); residuals
    of trial points are linear combinations of stored products, so backtracking and
    momentum need no extra pass. With the Gram metric the plain step is already the
    majorise-minimise step, which contracts by about the outlier fraction per iteration,
    and momentum was measured to add iterations; it is used with the diagonal metric only.
    Returns (z, sigma, residual, n_iter, converged).
    """
    momentum = metric.diagonal
    p = X.shape[1]
    # X^T s for the dual certificate: read off this data's Gram matrix when there is one.
    # The Gram mode's step estimate is reliable, so a metric borrowed from a subsample
    # does not justify an extra pass and the certificate is skipped there.
    if metric.diagonal:
        xsw = design_rmatvec(X, sw, False)
    elif metric.exact:
        xsw = metric.gram[:p, p] if fit_intercept else np.zeros(p)
    else:
        xsw = None
    eps = float(epsilon)
    n = y.shape[0]
    psi = np.empty(n)

    def penalty(z):
        return alpha * float(z[:p] @ z[:p])

    z = z0.copy()
    Xz = design_matvec(X, z, fit_intercept)
    r_z = y - Xz
    sigma_z = _optimal_scale(r_z, sw, eps, _SIGMA_MIN, -1.0)
    phi_z = _huber_loss(r_z, sw, eps, sigma_z) + penalty(z)
    zy, Xy, r_y = z, Xz, r_z
    t = 1.0
    theta = 1.0
    sigma_y = sigma_z
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (read after the loop)
        sigma_y = _optimal_scale(r_y, sw, eps, _SIGMA_MIN, sigma_y)
        phi_y = _huber_loss_grad(r_y, sw, eps, sigma_y, psi) + penalty(zy)
        if not np.isfinite(phi_y):
            raise DivergenceError(
                "GDHuberRegressor diverged (non-finite objective); rescale X and y or "
                "increase alpha."
            )
        gx = design_rmatvec(X, psi, fit_intercept)
        g = -gx
        g[:p] += 2.0 * alpha * zy[:p]
        metric.update(sigma_y)
        d = metric.solve(g)
        gd = float(g @ d)
        gap = np.inf
        if xsw is not None:
            gap = _duality_gap(phi_y, psi, gx[:p], xsw, y, sw, eps, alpha, fit_intercept)
        # A full majorise-minimise step would lower phi by about sigma/4 g^T M^-1 g. That
        # estimate is trustworthy in the Gram metric (curvature within a small factor of
        # the metric); in the diagonal metric only the certified duality gap is, except
        # for alpha = 0 where the dual gives no finite bound.
        # At the lower bound of sigma phi behaves like an absolute loss (kinked; the case
        # for epsilon = 1), where the smooth-curvature estimate means nothing.
        smooth = sigma_y > 2.0 * _SIGMA_MIN
        estimate_ok = smooth and (not metric.diagonal or alpha == 0.0)
        small_step = 0.25 * sigma_y * gd <= tol * max(phi_y, 1e-300)
        if gap <= tol * max(phi_y, 1e-300) or (estimate_ok and small_step):
            z, sigma_z, phi_z, r_z = zy, sigma_y, phi_y, r_y
            converged = True
            break
        Xd = design_matvec(X, d, False)
        if fit_intercept:
            Xd += d[p]
        base = 0.5 * sigma_y
        accepted = False
        while theta < 1e12:
            h = base / theta
            r_new = r_y + h * Xd
            z_new = zy - h * d
            sigma_new = _optimal_scale(r_new, sw, eps, _SIGMA_MIN, sigma_y)
            phi_new = _huber_loss(r_new, sw, eps, sigma_new) + penalty(z_new)
            # The slack absorbs round-off once phi has converged to machine precision.
            if phi_new <= phi_y - 0.5 * h * gd + 1e-15 * abs(phi_y):
                accepted = True
                break
            theta *= 2.0
        if not accepted:
            # No step lowers phi at this precision: we sit on the floating-point floor.
            floor = 1e3 * tol * max(phi_y, 1e-300)
            converged = gap <= floor or (estimate_ok and 0.25 * sigma_y * gd <= floor)
            break
        theta = max(theta * 0.8, 1e-3)
        if phi_new > phi_z and t > 1.0:
            # Adaptive restart (O'Donoghue & Candes): momentum overshot, drop it.
            zy, Xy, r_y, t, sigma_y = z, Xz, r_z, 1.0, sigma_z
            continue
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t)) if momentum else 1.0
        beta = (t - 1.0) / t_new
        Xz_new = Xy - h * Xd
        zy = z_new + beta * (z_new - z)
        Xy = Xz_new + beta * (Xz_new - Xz)
        r_y = y - Xy
        z, Xz, r_z, sigma_z, phi_z = z_new, Xz_new, r_new, sigma_new, phi_new
        t = t_new
        sigma_y = sigma_new
    return z, sigma_z, r_z, n_iter, converged


class GDHuberRegressor(RegressorMixin, BaseEstimator):
    r"""L2-regularised Huber regression with a concomitant scale, fitted by a first-order method.

    Twin of :class:`sklearn.linear_model.HuberRegressor`: same objective, same meaning of
    ``epsilon`` and ``alpha``, same fitted attributes. It minimises jointly over the
    coefficients :math:`w`, the intercept :math:`b` and the scale :math:`\sigma > 0`

    .. math::

        \min_{w, b, \sigma} \sum_{i=1}^n s_i \left(\sigma + H_\epsilon\!\left(
        \frac{y_i - x_i^\top w - b}{\sigma}\right)\sigma\right) + \alpha \|w\|_2^2,
        \qquad H_\epsilon(z) = \begin{cases} z^2 & |z| \le \epsilon \\
        2\epsilon|z| - \epsilon^2 & |z| > \epsilon \end{cases}

    where :math:`s_i` are the sample weights. The objective is jointly convex (it is the
    perspective of the Huber function). The scale is eliminated exactly (an O(n) piecewise
    root find per evaluation) and the remaining convex function of :math:`(w, b)` is
    minimised by variable-metric gradient steps with backtracking: in the metric of the
    weighted Gram matrix (a fixed preconditioner computed once, ``preconditioner="gram"``)
    each step is a majorise-minimise step, or, with its diagonal (``"diagonal"``), FISTA
    with adaptive restart. For large ``n`` a fit on a random subsample provides the
    starting point and the metric, so the exact full-batch phase needs only a few passes
    over ``X``. A non-finite objective raises :class:`DivergenceError`.

    With ``epsilon=1`` the optimal scale is its lower bound and the objective is the
    kinked absolute loss, which this smooth solver approaches slowly (it then warns).

    Parameters
    ----------
    epsilon : float, default=1.35
        Threshold of the Huber function on the scaled residual; at least 1. Smaller is
        more robust.
    alpha : float, default=1e-4
        Strength of the squared L2 penalty ``alpha * ||w||^2`` (not on the intercept).
    max_iter : int, default=1000
        Maximum number of accelerated gradient iterations of the full-batch phase.
    tol : float, default=1e-8
        Stop when the decrease promised by one majorise-minimise step (Gram metric), or
        the certified duality gap (either metric), relative to the objective, is below
        ``tol``; float32 input uses at least 1e-6.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` when refitting.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    preconditioner : {"auto", "gram", "diagonal"}, default="auto"
        Metric of the gradient steps. ``"gram"`` factorises the weighted Gram matrix
        (p x p, once); ``"diagonal"`` uses its diagonal only (for very wide data) with
        momentum, and stops only on a certified duality gap, which is loose when
        ``alpha`` is tiny (it may then run to ``max_iter`` and warn); ``"auto"`` picks
        ``"gram"`` when ``n_features <= 2000``. When ``n_samples <= n_features + 1`` (or
        the iterations stall on exactly fitted data) the interpolating solution is
        checked against the optimality conditions and returned exactly if it passes.
    subsample : "auto", int or None, default="auto"
        Size of the random subsample whose fit warm-starts the full-batch phase.
        ``"auto"`` uses ``max(20000, 50 * n_features)`` rows when the data has at least
        four times as many; ``None`` disables it. It changes the path, not the objective.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample draw.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients.
    intercept_ : float
        Intercept (0.0 when ``fit_intercept=False``).
    scale_ : float
        Optimal scale :math:`\sigma`.
    n_iter_ : int
        Iterations of the full-batch phase.
    outliers_ : ndarray of shape (n_samples,) of bool
        True where ``|y - Xw - b| > epsilon * scale_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.HuberRegressor : Same objective, solved by L-BFGS-B.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.estimators import GDHuberRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = X @ np.array([2.0, -1.0]) + 0.1 * rng.normal(size=200)
    >>> y[:10] += 50.0
    >>> reg = GDHuberRegressor().fit(X, y)
    >>> np.round(reg.coef_, 1)
    array([ 2., -1.])
    >>> int(reg.outliers_[:10].sum())
    10
    """

    _parameter_constraints: dict = {
        "epsilon": [Interval(Real, 1.0, None, closed="left")],
        "alpha": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "warm_start": ["boolean"],
        "fit_intercept": ["boolean"],
        "preconditioner": [StrOptions({"auto", "gram", "diagonal"})],
        "subsample": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        epsilon=1.35,
        alpha=1e-4,
        max_iter=1000,
        tol=1e-8,
        warm_start=False,
        fit_intercept=True,
        preconditioner="auto",
        subsample="auto",
        random_state=None,
    ):
        self.epsilon = epsilon
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.fit_intercept = fit_intercept
        self.preconditioner = preconditioner
        self.subsample = subsample
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None) -> GDHuberRegressor:
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR is used as is, float32 is kept as float32.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : GDHuberRegressor
            Fitted estimator.
        """
        X, y, sw_raw = validate_robust_fit_data(self, X, y, sample_weight, [np.float64, np.float32])
        n, p = X.shape
        total = float(sw_raw.sum())
        sw = sw_raw / total
        # Dividing the objective by the total weight leaves the minimiser unchanged.
        alpha = float(self.alpha) / total
        fi = bool(self.fit_intercept)
        q = p + int(fi)
        # float32 products carry ~1e-7 relative error, a floor no tolerance can go below.
        tol = max(float(self.tol), 1e-6 if X.dtype == np.float32 else 0.0)
        diagonal = self.preconditioner == "diagonal" or (
            self.preconditioner == "auto" and p > 2000
        )

        z0 = np.zeros(q)
        warm = self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (p,)
        if warm:
            z0[:p] = self.coef_
            if fi:
                z0[p] = self.intercept_
        m = self._subsample_size(n, p)
        if fi and not warm:
            # The weighted median is a cheap, robust start for the intercept.
            z0[p] = _weighted_median(y, sw) if m is None else np.median(y)

        z_int = None if warm else _interpolation_certificate(
            X, y, sw, alpha, float(self.epsilon), fi
        )
        if z_int is not None:
            return self._set_fitted(X, y, sw, z_int, _SIGMA_MIN, 0)

        gram = None
        if m is not None and not warm:
            rng = check_random_state(self.random_state)
            idx = np.sort(rng.choice(n, size=m, replace=False))
            Xs, ys, sws = X[idx], y[idx], sw[idx]
            if sws.sum() > 0:
                sub_total = float(sws.sum())
                gram = _gram(Xs, sws / sub_total, fi, diagonal)
                # Weights renormalised to one on the subsample estimate the full
                # normalised loss, so the normalised penalty carries over unchanged.
                metric = _Metric(gram, diagonal, alpha, p, exact=True)
                z0, _, _, _, _ = _huber_fista(
                    Xs, ys, sws / sub_total, self.epsilon, alpha, fi, z0, metric,
                    self.max_iter, max(tol, 1e-6),
                )
        exact = gram is None
        if exact:
            gram = _gram(X, sw, fi, diagonal)
        # The subsample's Gram is an unbiased estimate of the full one; backtracking absorbs
        # the difference, which saves the O(n p^2) pass over the full data.
        metric = _Metric(gram, diagonal, alpha, p, exact)
        z, sigma, residual, n_iter, converged = _huber_fista(
            X, y, sw, self.epsilon, alpha, fi, z0, metric, self.max_iter, tol
        )
        if not np.all(np.isfinite(z)) or not np.isfinite(sigma):
            raise DivergenceError(
                "GDHuberRegressor diverged (non-finite coefficients); rescale X and y or "
                "increase alpha."
            )
        if not converged:
            # Typically noiseless data fitted exactly: the optimum sits on the kink r = 0.
            z_int = _interpolation_certificate(
                X, y, sw, alpha, float(self.epsilon), fi, overdetermined=True
            )
            if z_int is not None:
                return self._set_fitted(X, y, sw, z_int, _SIGMA_MIN, n_iter)
            warnings.warn(
                f"GDHuberRegressor did not converge in max_iter={self.max_iter} iterations; "
                "increase max_iter or tol.",
                ConvergenceWarning,
            )
        return self._set_fitted(X, y, sw, z, sigma, n_iter, residual)

    def _set_fitted(self, X, y, sw, z, sigma, n_iter, residual=None):
        p = X.shape[1]
        fi = bool(self.fit_intercept)
        self.coef_ = z[:p].copy()
        self.intercept_ = float(z[p]) if fi else 0.0
        if residual is None:
            residual = y - design_matvec(X, z, fi)
        # The solver's residual is tracked through linear updates (drift ~1e-15 relative),
        # which saves a pass; sigma is re-solved on it so scale_ and outliers_ agree.
        self.scale_ = float(_optimal_scale(residual, sw, float(self.epsilon), _SIGMA_MIN, sigma))
        self.outliers_ = np.abs(residual) > self.scale_ * self.epsilon
        self.n_iter_ = int(n_iter)
        return self

    def _subsample_size(self, n: int, p: int):
        if self.subsample is None:
            return None
        m = max(20000, 50 * p) if self.subsample == "auto" else int(self.subsample)
        if self.subsample == "auto" and n < 4 * m:
            return None
        return m if m < n else None

    def predict(self, X) -> np.ndarray:
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted values.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return linear_predict(self, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _interpolation_certificate(X, y, sw, alpha, eps, fit_intercept, overdetermined=False):
    # Multithreaded LAPACK on these small systems was measured 30x slower on a busy
    # 2-core machine (thread hand-offs dominate); one thread is always fast enough.
    with single_threaded_blas():
        return _interpolation_certificate_impl(
            X, y, sw, alpha, eps, fit_intercept, overdetermined
        )


def _interpolation_certificate_impl(X, y, sw, alpha, eps, fit_intercept, overdetermined):
    """Exact solution when the optimum interpolates the positively weighted rows, else None.

    After eliminating sigma the loss f(r) = min_sigma F(r, sigma) is positively homogeneous,
    the support function of C = {u : |u_i| <= 2 eps s_i, sum_i u_i^2 / (4 s_i) <= 1}
    (normalised weights). It has a kink at r = 0, where gradient steps shrink with sigma
    and crawl; this is the usual optimum when p >= n. There, z is optimal iff the
    minimum-penalty interpolant admits a multiplier u in C with X~^T u = (2 alpha w, 0).
    We take the multiplier of least weighted norm (the best candidate for the ellipsoid)
    and test it, which settles that case exactly instead of iterating.
    With ``overdetermined=True`` it also handles more rows than unknowns (noiseless
    data that the model fits exactly), at the price of a dense copy of those rows.
    """
    pos = np.flatnonzero(sw > 0)
    q = X.shape[1] + int(fit_intercept)
    if pos.size > (200_000 if overdetermined else min(q, 4000)):
        return None
    Xp = X[pos]
    Xp = Xp.toarray() if sp.issparse(Xp) else np.asarray(Xp)
    Xp = Xp.astype(np.float64)
    yp, swp = y[pos], sw[pos]
    if pos.size > q:
        Xt = np.hstack([Xp, np.ones((pos.size, 1))]) if fit_intercept else Xp
        z = sla.lstsq(Xt, yp, check_finite=False)[0]
        g = np.zeros(q)
        g[: Xp.shape[1]] = 2.0 * alpha * z[: Xp.shape[1]]
        # Least weighted-norm u with X~^T u = g: u = diag(s) X~ G^+ g, G = X~^T diag(s) X~.
        G = Xt.T @ (swp[:, None] * Xt)
        u = swp * (Xt @ (np.linalg.pinv(G) @ g))
        if not np.allclose(Xt.T @ u, g, rtol=1e-8, atol=1e-12 * (np.abs(g).max() + 1e-300)):
            return None
    elif alpha == 0.0:
        Xt = np.hstack([Xp, np.ones((pos.size, 1))]) if fit_intercept else Xp
        z = sla.lstsq(Xt, yp, check_finite=False)[0]
        u = np.zeros(pos.size)
    else:
        # Unknowns (v, b) with u = sqrt(s) v: least-norm v is the least weighted-norm u.
        rs = np.sqrt(swp)
        m = pos.size
        A = np.zeros((m + int(fit_intercept), m + int(fit_intercept)))
        A[:m, :m] = (Xp @ Xp.T) * rs[None, :] / (2.0 * alpha)
        rhs = np.zeros(A.shape[0])
        rhs[:m] = yp
        if fit_intercept:
            A[:m, m] = 1.0
            A[m, :m] = rs
        sol = sla.lstsq(A, rhs, check_finite=False)[0]
        u = rs * sol[:m]
        w = Xp.T @ u / (2.0 * alpha)
        z = np.concatenate([w, sol[m:]])
    r = yp - Xp @ z[: Xp.shape[1]] - (z[-1] if fit_intercept else 0.0)
    if not np.all(np.abs(r) <= 1e-10 * (np.abs(yp).max() + 1.0)):
        return None
    in_box = np.all(np.abs(u) <= 2.0 * eps * swp * (1.0 + 1e-12))
    in_ball = np.sum(u * u / (4.0 * swp)) <= 1.0 + 1e-12
    return z if in_box and in_ball else None


def _gram(X, sw, fit_intercept, diagonal):
    with np.errstate(over="ignore", invalid="ignore"):
        G = _gram_unchecked(X, sw, fit_intercept, diagonal)
    if not np.all(np.isfinite(G)):
        raise DivergenceError(
            "GDHuberRegressor: X^T X overflows float64, so the fit would diverge; "
            "rescale X (e.g. StandardScaler)."
        )
    return G


def _gram_unchecked(X, sw, fit_intercept, diagonal):
    if not diagonal:
        return weighted_gram(X, sw, fit_intercept)
    # Only the diagonal is needed: one elementwise pass instead of an O(n p^2) product.
    if sp.issparse(X):
        d = np.asarray(X.multiply(X).T @ sw, dtype=np.float64).ravel()
    else:
        X64 = np.asarray(X, dtype=np.float64)
        d = (X64 * X64).T @ sw
    return np.concatenate([d, [sw.sum()]]) if fit_intercept else d


def _weighted_median(y: np.ndarray, sw: np.ndarray) -> float:
    order = np.argsort(y, kind="stable")
    c = np.cumsum(sw[order])
    k = int(np.searchsorted(c, 0.5 * c[-1]))
    return float(y[order[min(k, len(y) - 1)]])
