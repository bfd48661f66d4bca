"""GDQuantileRegressor: scikit-learn's QuantileRegressor objective fitted by restarted PDHG."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numba import njit
from sklearn.exceptions import ConvergenceWarning

from .._compat import Interval, StrOptions
from ._base import FEATURES_IN_DOC, BaseGD, init_params
from ._datafits import weighted_quantile
from ._exceptions import DivergenceError
from ._linalg import Design, single_threaded_blas, weighted_gram
from ._losses import QUANTILE, weighted_loss_sum
from ._passes import matvec, rmatvec
from ._penalties import soft_threshold
from ._precondition import column_moments
from ._training import new_history

# Checking the duality gap costs one pass over X; every this many iterations keeps it ~3%.
_CHECK_EVERY = 64
# The active-set polish costs a small least-squares solve; try it every few checks.
_POLISH_EVERY = 4


@njit(cache=True)
def _pdhg_chunk(
    Xd, data, indices, indptr, is_sparse, rows, y, sw, lo, hi, c, pen, fit_intercept,
    full, Pm, du, tau, sig, z, v, u, Xz, z_sum, v_sum, u_sum, Xz_sum, n_steps,
):
    """Run ``n_steps`` Chambolle-Pock iterations in place, accumulating iterate sums.

    Saddle problem: min_z max_{lo <= v <= hi} v^T (X~ z - y) + pen ||w||_1, where the dual
    box [-sw q, sw (1 - q)] comes from the conjugate of the weighted pinball loss; the dual
    step is Sigma = sig * diag(sw). Two primal metrics:

    * ``full=False``: T = tau * diag(c) and the L1 term is handled by its prox
      (soft-thresholding, exact zeros).
    * ``full=True``: T = tau * Pm with Pm the inverse weighted Gram matrix, which whitens
      correlated columns. The L1 term has no closed-form prox in that metric, so it is
      dualised as well, max_{|u| <= pen} u^T w, with the dual step sig * diag(du); the
      primal step is then a plain preconditioned gradient step.
    """
    q = c.shape[0]
    p = q - (1 if fit_intercept else 0)
    n = y.shape[0]
    g = np.empty(q)
    gw = np.empty(p)
    znew = np.empty(q)
    Xz_new = np.empty(n)
    for _ in range(n_steps):
        rmatvec(Xd, data, indices, indptr, is_sparse, rows, v, gw)
        for j in range(p):
            g[j] = gw[j]
        if fit_intercept:
            vs = 0.0
            for i in range(n):
                vs += v[i]
            g[p] = vs
        if full:
            for j in range(p):
                g[j] += u[j]
            for j in range(q):
                acc = 0.0
                for k in range(q):
                    acc += Pm[j, k] * g[k]
                znew[j] = z[j] - tau * acc
        else:
            for j in range(p):
                step = tau * c[j]
                # Soft-thresholding: the prox of the L1 penalty, which yields exact zeros.
                znew[j] = soft_threshold(z[j] - step * g[j], step * pen)
            if fit_intercept:
                znew[p] = z[p] - tau * c[p] * g[p]
        matvec(Xd, data, indices, indptr, is_sparse, rows, znew[:p], Xz_new)
        b_new = znew[p] if fit_intercept else 0.0
        for i in range(n):
            xn = Xz_new[i] + b_new
            vi = v[i] + sig * sw[i] * (2.0 * xn - Xz[i] - y[i])
            if vi < lo[i]:
                vi = lo[i]
            elif vi > hi[i]:
                vi = hi[i]
            v[i] = vi
            Xz[i] = xn
            v_sum[i] += vi
            Xz_sum[i] += xn
        if full:
            for j in range(p):
                uj = u[j] + sig * du[j] * (2.0 * znew[j] - z[j])
                if uj < -pen:
                    uj = -pen
                elif uj > pen:
                    uj = pen
                u[j] = uj
                u_sum[j] += uj
        for j in range(q):
            z[j] = znew[j]
            z_sum[j] += znew[j]


@njit(cache=True, inline="always")
def _clip(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@njit(cache=True)
def _balance_dual(v, sw, lo, hi):
    """Return clip(v - theta sw, lo, hi) with theta chosen so that the entries sum to zero.

    The sum is nonincreasing in theta and sweeps from sum(hi) > 0 to sum(lo) < 0, so
    bisection finds theta; this restores the dual constraint sum(v) = 0 of the intercept.
    """
    n = v.shape[0]
    t_lo = np.inf
    t_hi = -np.inf
    for i in range(n):
        if sw[i] > 0.0:
            a = (v[i] - hi[i]) / sw[i]
            b = (v[i] - lo[i]) / sw[i]
            if a < t_lo:
                t_lo = a
            if b > t_hi:
                t_hi = b
    out = v.copy()
    if not (t_lo < t_hi):
        return out
    for _ in range(200):
        th = 0.5 * (t_lo + t_hi)
        s = 0.0
        for i in range(n):
            s += _clip(v[i] - th * sw[i], lo[i], hi[i])
        if s > 0.0:
            t_lo = th
        else:
            t_hi = th
        if t_hi - t_lo <= 1e-15 * (abs(t_lo) + abs(t_hi)):
            break
    th = 0.5 * (t_lo + t_hi)
    for i in range(n):
        out[i] = _clip(v[i] - th * sw[i], lo[i], hi[i])
    return out


def quantile_objective(X, y, coef, intercept, quantile, alpha, sample_weight=None) -> float:
    """QuantileRegressor's objective as scikit-learn defines it.

    ``1 / sum(s) * sum_i s_i rho_q(y_i - x_i w - b) + alpha ||w||_1``.
    """
    sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    r = np.asarray(y, float) - np.asarray(X @ coef, float).ravel() - intercept
    loss = np.sum(sw * np.maximum(quantile * r, (quantile - 1.0) * r)) / sw.sum()
    return float(loss + alpha * np.abs(coef).sum())


class _Problem:
    """Data of the normalised problem and its primal/dual objectives."""

    def __init__(self, X, y, sw, quantile, alpha, fit_intercept):
        self.X, self.y, self.sw = X, y, sw
        self.design = Design(X, fit_intercept)
        self.quantile, self.alpha, self.fi = quantile, alpha, fit_intercept
        self.p = X.shape[1]
        self.lo = -sw * quantile
        self.hi = sw * (1.0 - quantile)
        # Forward error bound of (X^T v)_j computed in float64, per unit of ||v||_1
        # (gamma_n max_i |x_ij|): with alpha = 0 the dual constraint X^T v = 0 can hold
        # only up to it.
        n = X.shape[0]
        colmax = (abs(X).max(axis=0).toarray().ravel() if sp.issparse(X)
                  else np.abs(X).max(axis=0, initial=0.0))
        gamma = n * np.finfo(np.float64).eps / (1.0 - n * np.finfo(np.float64).eps)
        self.round_unit = gamma * np.asarray(colmax, dtype=np.float64)

    def primal(self, z, Xz) -> float:
        return weighted_loss_sum(QUANTILE, self.y, Xz, self.sw, 0.0, self.quantile) + (
            self.alpha * np.abs(z[: self.p]).sum())

    def dual(self, v) -> float:
        """Dual objective at a feasible point derived from ``v`` (a lower bound)."""
        if self.fi:
            v = _balance_dual(v, self.sw, self.lo, self.hi)
        g = self.design.rmatvec(v, False)
        # What of |X^T v| exceeds the rounding of its computation counts as infeasible.
        excess = np.abs(g) - self.round_unit * float(np.abs(v).sum())
        gmax = max(float(excess.max()), 0.0) if g.size else 0.0
        # Shrinking towards 0 (inside the box) enforces ||X^T v||_inf <= alpha.
        k = 1.0 if gmax <= self.alpha else self.alpha / gmax
        return -k * float(v @ self.y)


def _polish(prob: _Problem, z: np.ndarray, Xz: np.ndarray, u=None):
    # Multithreaded LAPACK on these small systems was measured 30x slower on a busy
    # 2-core machine (thread hand-offs dominate); one thread is always fast enough.
    with single_threaded_blas():
        return _polish_impl(prob, z, Xz, u)


def _polish_impl(prob: _Problem, z: np.ndarray, Xz: np.ndarray, u=None):
    """Vertex guess from the active sets of a PDHG iterate, with a matching dual point.

    At an optimum of this LP the residual vanishes on a set Z of samples whose size is the
    number of nonzero coefficients (plus the intercept), and the dual variables are pinned
    to a bound of the box wherever the residual does not vanish. Guessing Z (smallest
    residuals) and the support A from the iterate, one least-squares solve gives the
    primal vertex and one gives the free dual entries; the dual is then projected to
    feasibility and ``prob.dual`` turns it into a certified bound. A wrong guess only
    gives a looser bound, so the certificate stays valid either way. ``u`` (the dualised
    L1 multipliers, when available) sharpens the support guess: w_j can be nonzero only
    where |u_j| sits at alpha.
    Returns (primal value, z, Xz, dual value).
    """
    X, y, sw, p, fi = prob.X, prob.y, prob.sw, prob.p, prob.fi
    w = z[:p]
    wmax = max(np.abs(w).max(initial=0.0), 1e-300)
    if u is None:
        keep = np.abs(w) > 1e-12 * wmax
    else:
        keep = (np.abs(u) >= prob.alpha * (1.0 - 1e-6)) & (np.abs(w) > 1e-6 * wmax)
    A = np.flatnonzero(keep)
    k = A.size + int(fi)
    pos = np.flatnonzero(sw > 0)
    r = y - Xz
    if k == 0 or k > 2000:
        return np.inf, z, Xz, prob.dual(_signs_to_dual(prob, r))
    Z = pos[np.argsort(np.abs(r[pos]), kind="stable")[:k]]
    XZ = X[Z][:, A]
    XZ = XZ.toarray() if sp.issparse(XZ) else np.asarray(XZ)
    if fi:
        XZ = np.hstack([XZ, np.ones((Z.size, 1))])
    zA = np.linalg.lstsq(XZ, y[Z], rcond=None)[0]
    zc = np.zeros_like(z)
    zc[A] = zA[: A.size]
    if fi:
        zc[p] = zA[-1]
    Xzc = prob.design.matvec(zc)
    pc = prob.primal(zc, Xzc)
    rc = y - Xzc
    v = _signs_to_dual(prob, rc)
    # Free entries v_Z solve X_A^T v = -alpha sign(w_A) and sum(v) = 0 (stationarity in z).
    v[Z] = 0.0
    rhs = -prob.alpha * np.sign(zc[A]) - prob.design.rmatvec(v, False)[A]
    if fi:
        rhs = np.append(rhs, -v.sum())
    v[Z] = np.linalg.lstsq(XZ.T, rhs, rcond=None)[0]
    v = np.clip(v, prob.lo, prob.hi)
    return pc, zc, Xzc, prob.dual(v)


def _signs_to_dual(prob: _Problem, r: np.ndarray) -> np.ndarray:
    """The dual entries fixed by the residual signs: lower bound where r > 0, upper where r < 0."""
    return np.where(r > 0.0, prob.lo, np.where(r < 0.0, prob.hi, 0.0))


def _operator_norm(design, sw, c, n_iter=60) -> float:
    """Largest singular value of diag(sqrt(sw)) [X, 1] diag(sqrt(c)) by power iteration."""
    rs, rc = np.sqrt(sw), np.sqrt(c)
    x = np.ones(c.shape[0]) / np.sqrt(c.shape[0])
    s = 0.0
    for _ in range(n_iter):
        u = rs * design.matvec(rc * x)
        x = rc * design.rmatvec(rs * u)
        nx = np.linalg.norm(x)
        if nx == 0.0:
            return 1.0
        s_new = np.sqrt(nx)
        x /= nx
        if abs(s_new - s) <= 1e-4 * s_new:
            s = s_new
            break
        s = s_new
    return max(s, 1e-300)


class _State:
    """Iterates, their running sums since the last restart, and the best certified point."""

    def __init__(self, z, v, u, Xz):
        self.z, self.v, self.u, self.Xz = z, v, u, Xz
        self.best = (np.inf, np.inf, z.copy())
        self.reset_averages()

    def reset_averages(self):
        self.z0, self.v0, self.u0 = self.z.copy(), self.v.copy(), self.u.copy()
        self.z_sum, self.v_sum = np.zeros_like(self.z), np.zeros_like(self.v)
        self.u_sum, self.Xz_sum = np.zeros_like(self.u), np.zeros_like(self.Xz)
        self.k = 0


class _PDHG:
    """Restarted, preconditioned PDHG in one of the two primal metrics (see _pdhg_chunk)."""

    def __init__(self, prob: _Problem, c: np.ndarray, full: bool):
        X, sw, p, fi = prob.X, prob.sw, prob.p, prob.fi
        q = p + int(fi)
        self.prob, self.c, self.full = prob, c, full
        if full:
            G = weighted_gram(X, sw, fi)
            G[np.diag_indices(q)] += 1e-10 * max(np.trace(G) / q, 1e-300)
            Pm = np.linalg.inv(G)
            self.Pm = 0.5 * (Pm + Pm.T)
            self.du = 1.0 / np.diag(self.Pm)[:p]
            # ||Sigma^1/2 K T^1/2||^2 = 1 + lambda_max(D_u^1/2 Pm_ww D_u^1/2): X~ is whitened.
            rd = np.sqrt(self.du)
            lam = 0.0
            if p:
                Mu = rd[:, None] * self.Pm[:p, :p] * rd[None, :]
                lam = float(sla.eigh(Mu, eigvals_only=True, subset_by_index=[p - 1, p - 1])[0])
            self.knorm = 1.02 * np.sqrt(1.0 + max(lam, 0.0))
            self.G = G
        else:
            self.Pm, self.du = np.zeros((1, 1)), np.zeros(p)
            # Power iteration underestimates the norm a little; the margin keeps the
            # step condition tau sig ||K||^2 < 1.
            self.knorm = 1.02 * _operator_norm(prob.design, sw, c)
            self.G = None
        self.inputs = prob.design.inputs

    def _znorm(self, dz):
        if self.G is None:
            return float(np.sqrt(np.sum(dz * dz / self.c)))
        return float(np.sqrt(max(dz @ self.G @ dz, 0.0)))

    def run(self, st: _State, max_steps: int, certified, on_check=None):
        prob, sw = self.prob, self.prob.sw
        pos = sw > 0
        omega = 1.0
        p_now = prob.primal(st.z, st.Xz)
        gap_restart = max(p_now - prob.dual(st.v), 0.0)
        prev_gap = np.inf
        n_iter = 0
        while n_iter < max_steps:
            tau, sig = omega / self.knorm, 1.0 / (omega * self.knorm)
            steps = min(_CHECK_EVERY, max_steps - n_iter)
            _pdhg_chunk(
                *self.inputs, prob.design.rows, prob.y, sw, prob.lo, prob.hi, self.c,
                prob.alpha, prob.fi, self.full, self.Pm, self.du, tau, sig,
                st.z, st.v, st.u, st.Xz, st.z_sum, st.v_sum, st.u_sum, st.Xz_sum, steps,
            )
            n_iter += steps
            st.k += steps
            if not (np.all(np.isfinite(st.z)) and np.all(np.isfinite(st.v))):
                raise DivergenceError(
                    "GDQuantileRegressor diverged (non-finite iterates); rescale X and y."
                )
            k = st.k
            cands = []
            for zc, vc, uc, Xzc in (
                (st.z, st.v, st.u, st.Xz),
                (st.z_sum / k, st.v_sum / k, st.u_sum / k, st.Xz_sum / k),
            ):
                pc = prob.primal(zc, Xzc)
                cands.append((max(pc - prob.dual(vc), 0.0), pc, zc, vc, uc, Xzc))
            gap_c, p_c, zc, vc, uc, Xzc = min(cands, key=lambda t: t[0])
            if gap_c < st.best[0]:
                st.best = (gap_c, p_c, zc.copy())
            if certified(st.best):
                if on_check is not None:
                    on_check(steps, st.best)
                return n_iter, True
            if n_iter % (_POLISH_EVERY * _CHECK_EVERY) == 0:
                # A better bound from the polished dual certifies the PDHG iterate as well.
                p_pol, z_pol, _, d_pol = _polish(prob, zc, Xzc, uc if self.full else None)
                lower = max(d_pol, p_c - gap_c)
                for p_try, z_try in ((p_pol, z_pol), (p_c, zc)):
                    if p_try - lower < st.best[0]:
                        st.best = (max(p_try - lower, 0.0), p_try, z_try.copy())
                if certified(st.best):
                    if on_check is not None:
                        on_check(steps, st.best)
                    return n_iter, True
            if on_check is not None:  # once per check, after the polish when there is one
                on_check(steps, st.best)
            # PDLP-style restart rules: sufficient decay, or decay that has stalled, or a long run.
            if (
                gap_c <= 0.2 * gap_restart
                or (gap_c <= 0.8 * gap_restart and gap_c > prev_gap)
                or k >= max(0.36 * n_iter, 10 * _CHECK_EVERY)
            ):
                dz = self._znorm(zc - st.z0)
                dv2 = np.sum((vc[pos] - st.v0[pos]) ** 2 / sw[pos])
                if self.full:
                    dv2 += np.sum((uc - st.u0) ** 2 / self.du)
                dv = float(np.sqrt(dv2))
                if dz > 1e-10 and dv > 1e-10:
                    # Primal weight: balance the primal and dual distances travelled (PDLP).
                    omega = float(np.exp(0.5 * np.log(dv / dz) + 0.5 * np.log(omega)))
                st.z, st.v, st.u, st.Xz = zc.copy(), vc.copy(), uc.copy(), Xzc.copy()
                st.reset_averages()
                gap_restart, prev_gap = gap_c, np.inf
            else:
                prev_gap = gap_c
        return n_iter, False


class GDQuantileRegressor(BaseGD):
    __doc__ = r"""Linear quantile regression with an L1 penalty, by restarted primal-dual steps.

    Twin of :class:`sklearn.linear_model.QuantileRegressor` with the same objective and
    the same meaning of ``quantile`` and ``alpha``:

    .. math::

        \min_{w, b} \frac{1}{\sum_i s_i} \sum_{i=1}^n s_i\, \rho_q(y_i - x_i^\top w - b)
        + \alpha \|w\|_1, \qquad \rho_q(t) = \max(q t, (q - 1) t),

    with sample weights :math:`s_i`. Instead of a linear-programming solver it runs the
    primal-dual hybrid gradient method of Chambolle and Pock on the saddle problem
    :math:`\min_{w,b} \max_{v \in B} v^\top([X, 1](w, b) - y) + \alpha\|w\|_1` (both proximal
    maps are closed-form: a clip and a soft-threshold) with diagonal preconditioning,
    adaptive restarts and primal-weight updates in the spirit of PDLP. Convergence is
    certified by a duality gap computed from a feasible dual point.

    Parameters
    ----------
    quantile : float, default=0.5
        Quantile to predict, strictly between 0 and 1.
    alpha : float, default=1.0
        Strength of the L1 penalty ``alpha * ||w||_1`` (not on the intercept).
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    max_iter : int, default=100000
        Maximum number of primal-dual iterations.
    tol : float, default=1e-4
        Stop when the duality gap is below ``tol`` times the objective, which bounds the
        relative excess of the objective over its minimum.
    preconditioner : {"auto", "diagonal", "gram"}, default="auto"
        Primal metric. ``"diagonal"`` scales columns and applies the L1 penalty by its
        prox (exact zeros). ``"gram"`` uses the inverse weighted Gram matrix, which
        whitens correlated features, and dualises the L1 term (coefficients are then
        only approximately sparse unless the active-set polish certifies a vertex);
        it costs O(n_features^2) per iteration and needs more positively weighted samples
        than ``n_features + 1`` (otherwise ``"diagonal"`` is used). ``"auto"``, when
        ``n_features + 1 <= 1000`` and there are at least twice as many positively
        weighted samples, runs ``"gram"`` for up to a fifth of ``max_iter`` and, if that
        has not certified the solution, continues from its best iterates with
        ``"diagonal"``; otherwise it uses ``"diagonal"``.

    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` when refitting.
    verbose : int, default=0
        Print the objective and the certificate at every check.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients.
    intercept_ : float
        Intercept (0.0 when ``fit_intercept=False``).
    n_iter_ : int
        Number of primal-dual iterations run.
    duality_gap_ : float
        Certified gap of the returned solution on the normalised objective.
    certificate_ : float
        ``duality_gap_`` relative to the objective.
    loss_curve_ : list of float
        The objective (QuantileRegressor's) of the best certified point at each duality-gap
        check (every 64 iterations).
    history_ : dict of lists
        The curves (see :class:`GDRegressor`): ``objective`` and ``certificate`` per check.
""" + FEATURES_IN_DOC + r"""
    See Also
    --------
    sklearn.linear_model.QuantileRegressor : Same objective, solved as a linear program.

    Examples
    --------
    The 90% quantile leaves about 90% of the targets below it:

    >>> from sklearn.datasets import make_regression
    >>> from ensemblekit.estimators import GDQuantileRegressor
    >>> X, y = make_regression(n_samples=400, n_features=3, noise=10.0, random_state=0)
    >>> q90 = GDQuantileRegressor(quantile=0.9, alpha=0.01).fit(X, y)
    >>> round(float((y <= q90.predict(X)).mean()), 2)
    0.9
    """

    # A linear program certified to a relative gap of tol: float64 throughout.
    _fit_dtypes = (np.float64,)
    # Restarts and averages span the whole run: no partial_fit (warm_start continues).
    _incremental = False

    _parameter_constraints: dict = {
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "preconditioner": [StrOptions({"auto", "gram", "diagonal"})],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        quantile=0.5,
        alpha=1.0,
        fit_intercept=True,
        max_iter=100_000,
        tol=1e-4,
        preconditioner="auto",
        warm_start=False,
        verbose=0,
    ):
        init_params(self, locals())

    def _fit(self, X, y, sample_weight, coef_init=None, intercept_init=None):
        X, y, sw, _ = self._validate_training_data(X, y, sample_weight, reset=True)
        y = np.asarray(y, dtype=np.float64)
        sw = sw / sw.sum()
        n, p = X.shape
        fi = bool(self.fit_intercept)
        q = p + int(fi)
        prob = _Problem(X, y, sw, float(self.quantile), float(self.alpha), fi)

        # Jacobi column scaling, the preconditioner of the package without centring: each
        # primal coordinate sees a unit weighted column norm (1 / s_j^2, s the root mean
        # square).
        mean, scale = column_moments(prob.design.inputs, np.flatnonzero(sw > 0), sw, False, p)
        if not np.all(np.isfinite(scale)):
            raise DivergenceError(
                "GDQuantileRegressor: squared column norms of X overflow float64, so the "
                "fit would diverge; rescale X (e.g. StandardScaler)."
            )
        c = 1.0 / scale**2
        if fi:
            c = np.append(c, 1.0)

        z = np.zeros(q)
        warm = True
        if coef_init is not None or intercept_init is not None:
            if coef_init is not None:
                z[:p] = np.asarray(coef_init, dtype=np.float64).ravel()
            if fi and intercept_init is not None:
                z[p] = float(np.ravel(intercept_init)[0])
        elif self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (p,):
            z[:p] = self.coef_
            if fi:
                z[p] = self.intercept_
        else:
            warm = False
            if fi:
                z[p] = weighted_quantile(y, sw, float(self.quantile))
        state = _State(z, np.zeros(n), np.zeros(p), prob.design.matvec(z))
        p_obj = prob.primal(state.z, state.Xz)
        state.best = (max(p_obj - prob.dual(state.v), 0.0), p_obj, z.copy())
        if warm:
            # The dual starts from zero whatever the primal: a warm start pays only if the
            # polish can read a dual point off the given solution's active sets.
            p_pol, z_pol, _, d_pol = _polish(prob, z, state.Xz)
            for p_try, z_try in ((p_pol, z_pol), (p_obj, z)):
                if p_try - d_pol < state.best[0]:
                    state.best = (max(p_try - d_pol, 0.0), p_try, z_try.copy())
        self.history_ = new_history()

        def on_check(steps, best):
            gap, primal = best[0], best[1]
            h = self.history_
            h["objective"].append(float(primal))
            h["loss"].append(float(primal - self.alpha * np.abs(best[2][:p]).sum()))
            h["certificate"].append(float(gap / max(abs(primal), 1e-12)))
            for key in ("validation_loss", "validation_score", "learning_rate", "grad_norm"):
                h[key].append(None)
            if self.verbose:
                print(f"-- Check {len(h['objective'])}: objective {primal:.8g}, relative "
                      f"duality gap {h['certificate'][-1]:.3g}")

        gram_ok = q <= 1000 and np.count_nonzero(sw) >= 2 * q
        if self.preconditioner == "auto" and gram_ok:
            # Measured on correlated designs: with small alpha the LP is nearly flat along
            # correlated directions and only the whitening Gram metric certifies quickly;
            # near alpha_max the L1 geometry dominates and the diagonal metric with the
            # exact prox converges while the Gram one stalls. Try Gram on a fifth of the
            # budget, then hand its best iterates to the diagonal metric.
            plan = [(True, max(self.max_iter // 5, 1)), (False, self.max_iter)]
        else:
            # A Gram matrix of rank below n_features + 1 defines no metric.
            use_gram = self.preconditioner == "gram" and np.count_nonzero(sw) > q
            plan = [(use_gram, self.max_iter)]
        n_iter = 0
        converged = self._certified(state.best)
        for full, budget in plan:
            if converged or n_iter >= self.max_iter:
                break
            solver = _PDHG(prob, c, full)
            state.reset_averages()
            steps, converged = solver.run(
                state, min(budget, self.max_iter - n_iter), self._certified, on_check
            )
            n_iter += steps
        if not converged:
            best = state.best
            warnings.warn(
                f"GDQuantileRegressor did not converge in max_iter={self.max_iter} "
                f"iterations (relative duality gap {best[0] / max(abs(best[1]), 1e-12):.2e}); "
                "increase max_iter or tol.",
                ConvergenceWarning,
            )
        z = state.best[2]
        if not np.all(np.isfinite(z)):
            raise DivergenceError(
                "GDQuantileRegressor diverged (non-finite coefficients); rescale X and y."
            )
        self.coef_ = z[:p].copy()
        self.intercept_ = float(z[p]) if fi else 0.0
        self.n_iter_ = int(n_iter)
        self.duality_gap_ = float(state.best[0])
        self.certificate_ = float(state.best[0] / max(abs(state.best[1]), 1e-12))
        self.converged_ = bool(converged)
        self.loss_curve_ = list(self.history_["objective"])
        return self

    def _certified(self, best) -> bool:
        return best[0] <= self.tol * max(abs(best[1]), 1e-12)
