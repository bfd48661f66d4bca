"""GDHuberRegressor: scikit-learn's HuberRegressor objective fitted by a first-order method.

A thin shell: the concomitant-scale Huber datafit (``_concomitant``), the L2 penalty and
the full-batch solver (``_fista``, variable metric) do the work; this module adds the
two things that are particular to this objective: the subsample warm start, and the
interpolation certificate that settles the kinked optimum of p >= n exactly.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._compat import Interval, StrOptions
from ._base import FEATURES_IN_DOC, BaseGD, GDConfig, init_params
from ._concomitant import (  # noqa: F401 (re-exported for the tests and users)
    SIGMA_MIN,
    ConcomitantHuber,
    duality_gap,
    huber_loss,
    huber_loss_grad,
    huber_objective,
    optimal_scale,
)
from ._fista import (
    HUBER,
    SC_OBJ,
    SC_SIGMA,
    SC_SIZE,
    SC_START,
    SC_STEP,
    SC_T,
    FistaSolver,
    FistaState,
    standardized_column_means,
)
from ._huber_newton import HuberNewtonSolver, _rows_gram
from ._linalg import single_threaded_blas
from ._training import TrainingLoop, new_history

# The names the tests and earlier versions used.
_SIGMA_MIN = SIGMA_MIN
_optimal_scale = optimal_scale
_huber_loss = huber_loss
_huber_loss_grad = huber_loss_grad
_duality_gap = duality_gap


class GDHuberRegressor(BaseGD):
    __doc__ = r"""L2-regularised Huber regression with a concomitant scale, by a first-order method.

    Twin of :class:`sklearn.linear_model.HuberRegressor`: same objective, same meaning of
    ``epsilon`` and ``alpha``, same fitted attributes. It minimises jointly over the
    coefficients :math:`w`, the intercept :math:`b` and the scale :math:`\sigma > 0`

    .. math::

        \min_{w, b, \sigma} \sum_{i=1}^n s_i \left(\sigma + H_\epsilon\!\left(
        \frac{y_i - x_i^\top w - b}{\sigma}\right)\sigma\right) + \alpha \|w\|_2^2,
        \qquad H_\epsilon(z) = \begin{cases} z^2 & |z| \le \epsilon \\
        2\epsilon|z| - \epsilon^2 & |z| > \epsilon \end{cases}

    where :math:`s_i` are the sample weights. The objective is jointly convex (it is the
    perspective of the Huber function). It is assembled from the package's parts: the
    concomitant-scale datafit (``_concomitant``: the scale is eliminated exactly, an O(n)
    piecewise root find per evaluation), the L2 penalty, and the full-batch solver
    (``_fista``) on the standardized problem, with variable-metric steps and
    backtracking: in the metric of the weighted Gram matrix (a fixed preconditioner
    computed once, ``preconditioner="gram"``) each step is a majorise-minimise step, or,
    in the standardized coordinates (``"diagonal"``), FISTA with adaptive restart. It
    stops on the datafit's certified duality gap. For large ``n`` a fit on a random
    subsample provides the starting point and the metric, and the exact full-batch phase
    (dense ``X``, Gram metric) takes damped Newton steps on the Hessian of the objective
    with the scale eliminated (``_huber_newton``), which converge quadratically from
    there; they certify with the same duality gap. A non-finite objective raises
    :class:`DivergenceError`.

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
        Maximum number of iterations of the full-batch phase (Newton steps, then
        first-order steps should they stall).
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
        ``"auto"`` uses ``max(5000, 25 * n_features)`` rows (dense ``X`` with the Gram
        metric, where Newton steps follow; else ``max(20000, 50 * n_features)``) when the
        data has at least four times as many; ``None`` disables it. It changes the path,
        not the objective.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample draw.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients of the robust fit (float64 whatever the input dtype).
    intercept_ : float
        Its intercept; 0.0 without one.
    scale_ : float
        Optimal scale :math:`\sigma`.
    n_iter_ : int
        Iterations of the full-batch phase (with ``partial_fit``: calls so far).
    loss_curve_ : list of float
        HuberRegressor's objective divided by the total sample weight, after each
        iteration.
    history_ : dict of lists
        The training curves (see :class:`GDRegressor`); ``certificate`` is the relative
        duality gap.
    certificate_ : float
        The certificate of the returned solution.
    outliers_ : ndarray of shape (n_samples,) of bool
        True where ``|y - Xw - b| > epsilon * scale_``.
""" + FEATURES_IN_DOC + r"""
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
        "callbacks": [list, tuple, None],
        "verbose": ["verbose"],
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
        callbacks=None,
        verbose=0,
    ):
        init_params(self, locals())

    def _gd_config(self, sample_weight_sum: float) -> GDConfig:
        # HuberRegressor's alpha ||w||^2 over the total weight is GDRegressor's
        # (alpha / 2) ||w||^2 with alpha -> 2 alpha / sum(s).
        return GDConfig(
            datafit=ConcomitantHuber(float(self.epsilon)),
            alpha=2.0 * float(self.alpha) / sample_weight_sum,
            l1_ratio=0.0,
            fit_intercept=bool(self.fit_intercept),
            solver="fista",
            max_iter=int(self.max_iter),
            tol=float(self.tol),
            random_state=self.random_state,
            verbose=int(self.verbose),
            callbacks=tuple(self.callbacks or ()),
        )

    def _diagonal(self, p: int) -> bool:
        return self.preconditioner == "diagonal" or (self.preconditioner == "auto" and p > 2000)

    def _solver(self, cfg, prob) -> FistaSolver:
        # (partial_fit: one iteration of the variable-metric solver per call)
        return self._solver_for(prob.p, cfg.tol)

    def _solver_for(self, p: int, tol: float) -> FistaSolver:
        diagonal = self._diagonal(p)
        # With the Gram metric the plain step is already the majorize-minimize step, which
        # contracts by about the outlier fraction per iteration; momentum was measured to
        # add iterations there, so it is used in the diagonal metric only.
        return FistaSolver(None, tol, metric="identity" if diagonal else "gram",
                           momentum=diagonal, grow=1.25)

    def _set_scale(self, X, y, swn, residual=None):
        if residual is None:
            residual = y - np.asarray(X @ self.coef_.astype(X.dtype, copy=False),
                                      dtype=np.float64) - self.intercept_
        # sigma is re-solved on the final residual, so scale_ and outliers_ agree.
        self.scale_ = float(optimal_scale(residual, swn, float(self.epsilon), SIGMA_MIN, -1.0))
        self.outliers_ = np.abs(residual) > self.scale_ * self.epsilon

    def _publish(self, prob, theta, dtype, solver, state):
        # (partial_fit) float64 coefficients as HuberRegressor's, and the scale
        super()._publish(prob, theta, np.dtype(np.float64), solver, state)
        self.intercept_ = float(self.intercept_)
        y = prob.pre.y_mean + prob.pre.y_scale * np.asarray(prob.y, dtype=np.float64)
        self._set_scale(prob.X, y, prob.sw / prob.sw.sum())

    def _newton(self, X, p: int) -> bool:
        # Dense rows only: the outlier rows are gathered into a dense block each step.
        return not sp.issparse(X) and not self._diagonal(p)

    def _subsample_newton(self, sub, theta0, tol, cfg):
        """Newton steps on the subsample (they replace ~16 first-order iterations): the
        full phase's starting point, and the subsample's Gram matrix of [X~ 1] (q x q),
        which the first-order solver takes as its metric should the full phase hand
        over to it (``_recentred_gram``)."""
        sub_tol = max(tol, 1e-6)
        solver = HuberNewtonSolver(sub_tol, None)
        state = solver.start(sub, theta0)
        TrainingLoop(self, sub, solver, state, max_iter=self.max_iter, history=new_history(),
                     tol=sub_tol, stochastic=False, warn=False).run()
        swn = sub.sw[sub.train] / sub.n_train
        if state.inliers is None:
            G = _rows_gram(sub, np.arange(sub.n_train), swn)
        else:
            # Gram of all rows = the inliers' (kept by the Newton steps) + the outliers'.
            G = state.gram_in + _rows_gram(sub, np.flatnonzero(~state.inliers), swn)
        return state.x, G

    def _subsample_size(self, n: int, p: int, newton: bool = False):
        if self.subsample is None:
            return None
        if self.subsample == "auto":
            # Newton's steps need only a starting point near the optimum: on the
            # benchmark's 200,000 x 100 the full phase took 4 iterations from 2,500 rows as
            # from 20,000, and the subsample's own steps cost 5x less. The first-order
            # phase also takes the subsample's Gram matrix as its metric: more rows.
            m = max(5000, 25 * p) if newton else max(20000, 50 * p)
        else:
            m = int(self.subsample)
        if self.subsample == "auto" and n < 4 * m:
            return None
        return m if m < n else None

    def _fit(self, X, y, sample_weight, coef_init=None, intercept_init=None):
        X, y, sw, _ = self._validate_training_data(X, y, sample_weight, reset=True)
        n, p = X.shape
        total = float(sw.sum())
        swn = sw / total
        y64 = np.asarray(y, dtype=np.float64)
        eps, fi = float(self.epsilon), bool(self.fit_intercept)
        alpha_n = float(self.alpha) / total
        # float32 products carry ~1e-7 relative error, a floor no tolerance can go below.
        tol = max(float(self.tol), 1e-6 if X.dtype == np.float32 else 0.0)
        warm = (self.warm_start and hasattr(self, "coef_") and self.coef_.shape == (p,)
                ) or coef_init is not None or intercept_init is not None
        self.history_ = new_history()
        if not warm:
            z = _interpolation_certificate(X, y64, swn, alpha_n, eps, fi)
            if z is not None:
                return self._set_fitted(X, y64, swn, z[:p], z[p] if fi else 0.0, 0, True)
        cfg = self._gd_config(total)
        rng = check_random_state(cfg.random_state)
        train = np.flatnonzero(sw > 0)
        prob = self._problem(X, y, sw, train, cfg, rng)
        solver = self._solver_for(p, tol)
        theta0 = self._initial(prob, coef_init, intercept_init)
        m = self._subsample_size(n, p, self._newton(X, p))
        smooth = None
        newton = None
        if m is not None and not warm:
            rows = np.sort(rng.choice(n, size=m, replace=False))
            rows = rows[sw[rows] > 0]
            if rows.size:
                if self._newton(X, p):
                    # Its rows copied together: a pass over rows scattered through X read
                    # ~2.5x slower than over the same rows contiguous.
                    sub = self._problem(np.ascontiguousarray(X[rows]), y[rows], sw[rows],
                                        np.arange(rows.size), cfg, rng, pre=prob.pre)
                    theta0, gram = self._subsample_newton(sub, theta0, tol, cfg)
                    newton = HuberNewtonSolver(tol, None)
                else:
                    sub = self._problem(X, y, sw, rows, cfg, rng, pre=prob.pre)
                    sub_solver = self._solver_for(p, max(tol, 1e-6))
                    # A fit on a subsample gives the starting point and the metric: the
                    # subsample's Gram matrix is an unbiased estimate of the full one (the
                    # backtracking absorbs the difference), which saves the O(n p^2) pass.
                    # Multithreaded BLAS was measured 6x slower than one thread for it on
                    # a busy 2-core machine.
                    with single_threaded_blas():
                        sub_smooth = sub_solver.smooth_part(sub)
                    state = sub_solver.start(sub, theta0, rng, sub_smooth)
                    TrainingLoop(self, sub, sub_solver, state, max_iter=self.max_iter,
                                 history=new_history(), tol=max(tol, 1e-6),
                                 stochastic=False, warn=False).run()
                    theta0 = sub_solver.reported(state)
                    smooth = (sub_smooth[0], standardized_column_means(prob))
        used = 0
        if newton is not None:
            nstate = newton.start(prob, theta0)
            smooth = (_recentred_gram(gram, newton.xts), newton.xts)
            result = TrainingLoop(self, prob, newton, nstate, max_iter=self.max_iter,
                                  history=self.history_, tol=tol, callbacks=cfg.callbacks,
                                  verbose=cfg.verbose, stochastic=False, warn=False).run()
            self.initial_objective_ = float(prob.original(nstate.start_objective))
            used = result["n_iter"]
            theta0 = result["theta"]
            nresult = result
        if newton is None or (result["stopped_by"] == "stalled" and used < self.max_iter):
            # (after a stalled Newton phase: a kink, which the first-order path and the
            # kink certificate below handle)
            state = solver.start(prob, theta0, rng, smooth)
            if newton is None:
                self.initial_objective_ = float(prob.original(state.sc[SC_START]))
            loop = TrainingLoop(self, prob, solver, state, max_iter=self.max_iter - used,
                                history=self.history_, tol=tol, callbacks=cfg.callbacks,
                                verbose=cfg.verbose, stochastic=False, warn=False)
            result = loop.run()
            result["n_iter"] += used
        else:
            state = _fista_state(prob, solver, nstate, smooth)
        theta = result["theta"]
        if not np.all(np.isfinite(theta)):
            from ._exceptions import DivergenceError

            raise DivergenceError(
                "GDHuberRegressor diverged (non-finite coefficients); rescale X and y or "
                "increase alpha."
            )
        coef, intercept = prob.to_original(theta)
        if not result["converged"] and result["stopped_by"] in (None, "stalled"):
            gap = _kink_certificate(X, y64, swn, alpha_n, eps, coef, intercept, fi)
            if gap is not None and gap[0] <= tol * gap[1]:
                self._gd = {"problem_pre": prob.pre, "solver": solver, "state": state}
                self.history_["certificate"][-1] = gap[0] / gap[1]
                return self._set_fitted(X, y64, swn, coef, intercept, result["n_iter"], True)
            # Typically noiseless data fitted exactly: the optimum sits on the kink r = 0.
            z = _interpolation_certificate(X, y64, swn, alpha_n, eps, fi, overdetermined=True)
            if z is not None:
                return self._set_fitted(X, y64, swn, z[:p], z[p] if fi else 0.0,
                                        result["n_iter"], True)
            cert = self.history_["certificate"][-1] if self.history_["certificate"] else 1.0
            why = (f"stalled after {result['n_iter']} iterations at floating-point precision"
                   if result["stopped_by"] == "stalled"
                   else f"did not converge in max_iter={self.max_iter} iterations")
            warnings.warn(
                f"GDHuberRegressor {why} (certificate {cert:.2e} > tol={tol:g}); increase "
                "max_iter or tol.",
                ConvergenceWarning,
            )
        self._gd = {"problem_pre": prob.pre, "solver": solver, "state": state}
        residual = None
        if newton is not None and result is nresult and prob.n_train == n:
            # The Newton phase keeps X v of its iterate: the final residuals without
            # another pass over X.
            u = prob.pre.raw(theta)
            residual = y64 - (prob.pre.y_mean + prob.pre.y_scale * (nstate.z + u[p]))
        return self._set_fitted(X, y64, swn, coef, intercept, result["n_iter"],
                                result["converged"], residual)

    def _set_fitted(self, X, y, swn, coef, intercept, n_iter, converged, residual=None):
        self.coef_ = np.asarray(coef, dtype=np.float64).copy()
        self.intercept_ = float(intercept) if self.fit_intercept else 0.0
        self._set_scale(X, y, swn, residual)
        self.n_iter_ = int(n_iter)
        self.converged_ = bool(converged)
        self.loss_curve_ = list(self.history_["objective"])
        cert = self.history_["certificate"]
        self.certificate_ = cert[-1] if cert else 0.0
        return self


def _recentred_gram(Gq, xts):
    """The subsample's Gram matrix of [X~ 1] (q x q, weights summing to one) as the
    first-order metric's G~, its column means replaced by the full data's ``xts``.

    The metric is [[G~, xts], [xts, 1]]; with the subsample's own G~ and the full data's
    means it is indefinite when the columns carry offsets (the sampling error of the means,
    times the offsets), and its Cholesky factorization failed. Re-centred, its Schur
    complement is the subsample's covariance: positive semi-definite.
    """
    from ._fista import GramArgs

    p = xts.shape[0]
    c = Gq[:p, p]
    G = Gq[:p, :p] - np.outer(c, c) / max(Gq[p, p], 1e-300) + np.outer(xts, xts)
    return GramArgs(np.ascontiguousarray(G), np.zeros(p), 0.0)


def _fista_state(prob, solver, nstate, smooth):
    """The first-order solver's state at the Newton phase's answer, for ``partial_fit``.

    Built without a pass over X: its products X v are attached when a later call needs
    them (``FistaSolver.ensure``), so a fit that is never continued does not pay for them.
    """
    sc = np.zeros(SC_SIZE)
    sc[SC_T] = 1.0
    sc[SC_SIGMA] = nstate.sigma
    sc[SC_STEP] = 0.5 * nstate.sigma  # the majorize-minimize step in the Gram metric
    sc[SC_OBJ] = nstate.objective
    sc[SC_START] = nstate.start_objective
    state = FistaState(nstate.x.copy(), HUBER, sc, *smooth)
    state.metric = solver._metric(prob, state, *smooth)
    return state


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




def _kink_certificate(X, y, sw, alpha, eps, coef, intercept, fit_intercept):
    """(gap, objective) of a solution on the kink of the loss, or None.

    With the scale at its lower bound the loss is kinked at r = 0: the dual multipliers of
    the rows fitted exactly are free in [-2 eps s_i, 2 eps s_i] (those of the other rows
    are fixed by their sign), and the multipliers that the loss gradient gives there (0)
    make a useless dual point. Solving for the free ones (least weighted norm subject to
    stationarity, X^T u = 2 alpha w and sum(u) = 0) and checking that they lie in C gives
    an exact dual point, hence a certified gap: what the iterations cannot provide at a
    kink. (Normalized weights; the objective is HuberRegressor's divided by sum(s).)
    """
    with single_threaded_blas():
        pos = np.flatnonzero(sw > 0)
        r = y - np.asarray(X @ coef, dtype=np.float64).ravel() - intercept
        sigma = optimal_scale(r[pos], sw[pos] / sw[pos].sum(), eps, SIGMA_MIN, -1.0)
        phi = huber_loss(r[pos], sw[pos], eps, sigma) + alpha * float(coef @ coef)
        free = pos[np.abs(r[pos]) <= eps * sigma]
        fixed = pos[np.abs(r[pos]) > eps * sigma]
        if free.size == 0 or free.size > 200_000:
            return None
        u = np.zeros(y.shape[0])
        u[fixed] = 2.0 * eps * sw[fixed] * np.sign(r[fixed])
        target = 2.0 * alpha * coef - np.asarray(X[fixed].T @ u[fixed], dtype=np.float64)
        Xf = X[free]
        Xf = Xf.toarray() if sp.issparse(Xf) else np.asarray(Xf, dtype=np.float64)
        A = Xf.T
        b = target
        if fit_intercept:
            A = np.vstack([A, np.ones(free.size)])
            b = np.append(b, -u[fixed].sum())
        # Least weighted norm: u_f = D A^T (A D A^T)^+ b with D = diag(s_f).
        d = sw[free]
        M = (A * d) @ A.T
        u[free] = d * (A.T @ (np.linalg.pinv(M) @ b))
        if not np.allclose(A @ u[free], b, rtol=1e-8, atol=1e-12 * (np.abs(b).max() + 1e-300)):
            return None
        in_box = np.all(np.abs(u[pos]) <= 2.0 * eps * sw[pos] * (1.0 + 1e-12))
        in_ball = np.sum(u[pos] ** 2 / (4.0 * sw[pos])) <= 1.0 + 1e-12
        if not (in_box and in_ball):
            return None
        dual = float(u[pos] @ y[pos]) - alpha * float(coef @ coef)
        return max(phi - dual, 0.0), phi
