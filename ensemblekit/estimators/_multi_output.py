"""Multi-output targets of the linear twins: K columns of y, one matrix of coefficients.

scikit-learn's ``LinearRegression``, ``Ridge``, ``Lasso`` and ``ElasticNet`` accept y of
shape (n, K) and minimize the sum over the K columns of their objective (the penalty on
every entry of the coefficient matrix). The twins do the same with the K-output
squared-error datafit and the matrix FISTA solver (``_matrix_fista``): one pass over X
per product serves all K outputs. The features are preconditioned as in the
single-output fit (``_precondition``); each target column is centred (with an intercept)
and all are divided by one common scale, which is exact for the squared loss (the penalty
is rescaled with them) and keeps the iterate and its certificate away from rounding.
"""

from __future__ import annotations

import numpy as np

from ._datafits import Datafit
from ._matrix_fista import ImplicitDesign, MatrixFistaSolver, as_design_input
from ._precondition import Preconditioner, column_moments
from ._rows import kernel_inputs


def fit_multi_output(est, X, Y: np.ndarray, sw: np.ndarray, cfg, coef_init,
                     intercept_init) -> None:
    """Fit ``est`` (a twin, solver "fista") on the (n, K) target ``Y``; set its attributes."""
    if cfg.solver != "fista":
        raise ValueError(
            f"{type(est).__name__} fits multi-output targets (y of shape {Y.shape}) with "
            f"solver='fista' only, not solver={cfg.solver!r}. Use solver='fista', or fit "
            "one estimator per column with sklearn.multioutput.MultiOutputRegressor."
        )
    if cfg.callbacks:
        raise ValueError(
            "callbacks are not supported with multi-output targets: the K-output solver "
            "runs without per-epoch calls. Remove callbacks or fit one column at a time."
        )
    n, p = X.shape
    K = Y.shape[1]
    fit_intercept = cfg.fit_intercept
    rows = np.flatnonzero(sw > 0)
    w = np.zeros(n)
    w[rows] = sw[rows] / sw[rows].sum()
    if cfg.precondition:
        mean, scale = column_moments(kernel_inputs(X), rows, w * rows.shape[0],
                                     fit_intercept, p)
        if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(mean))):
            raise ValueError(
                "The squares of some columns of X overflow float64, so any fit would "
                "diverge: rescale X (e.g. divide by a power of 10).")
    else:
        mean, scale = np.zeros(p), np.ones(p)
    Y64 = np.asarray(Y, dtype=np.float64)
    y_mean = w @ Y64 if fit_intercept else np.zeros(K)
    Yc = Y64 - y_mean
    # One scale for all columns (the root mean square), so that the penalty keeps one
    # weight per feature: the solver then works on coefficients of order one, as the
    # single-output fit does, where raw targets in the 1e4s left its steps below the
    # rounding of the iterate.
    with np.errstate(over="ignore"):
        y_scale = float(np.sqrt(np.sum(w @ (Yc * Yc)) / K))
    if not np.isfinite(y_scale):
        raise ValueError("The squares of y overflow float64: rescale y.")
    if not y_scale > 0.0:
        y_scale = 1.0
    Yc /= y_scale
    pre = Preconditioner(mean, scale, y_scale=y_scale, degree=2, fit_intercept=fit_intercept)
    penalty = pre.penalty(cfg.alpha, cfg.l1_ratio)
    design = ImplicitDesign(as_design_input(X), mean, pre.inv_scale, fit_intercept)
    T0 = _start(est, pre, p, K, y_mean, coef_init, intercept_init)
    solver = MatrixFistaSolver(cfg.tol, cfg.max_iter, cfg.learning_rate_init)
    datafit = Datafit(cfg.datafit.loss, cfg.datafit.epsilon, cfg.datafit.quantile, K)
    res = solver.solve(design, Yc, w, datafit, penalty, T0)
    coef = (y_scale * res.T[:p] * pre.inv_scale[:, None]).T
    intercept = (y_mean + y_scale * res.T[p] - coef @ mean) if fit_intercept else np.zeros(K)
    est.coef_ = coef.astype(X.dtype)
    est.intercept_ = intercept.astype(X.dtype)
    est.n_iter_ = int(res.n_iter)
    est.t_ = int(res.n_iter)
    est.converged_ = bool(res.converged)
    est.stopped_by_ = "solver" if res.converged else None
    est.certificate_ = float(res.certificate)
    unit = pre.objective_scale  # the solver's objective times s_y^2: the estimator's
    est.initial_objective_ = float(res.start_objective) * unit
    objective = [v * unit for v in res.objective]
    est.history_ = {"objective": objective, "certificate": list(res.certificates)}
    est.loss_curve_ = list(objective)
    est.preconditioner_ = {"mean": mean.copy(), "scale": scale.copy(),
                           "y_mean": y_mean.copy(), "y_scale": y_scale}
    for attr in ("validation_scores_", "validation_loss_curve_", "best_iteration_",
                 "penalty_gradient_norm_", "_gd"):
        if hasattr(est, attr):
            delattr(est, attr)


def _start(est, pre, p, K, y_mean, coef_init, intercept_init) -> np.ndarray:
    """T0 = [W; b] in the solver's coordinates: zeros (the column means), the previous fit
    (``warm_start``) or ``coef_init`` / ``intercept_init`` of shapes (K, p) / (K,)."""
    T0 = np.zeros((p + 1, K))
    coef = intercept = None
    if (est.__dict__.get("warm_start") and coef_init is None
            and getattr(est, "coef_", np.zeros(0)).shape == (K, p)):
        coef, intercept = np.asarray(est.coef_, np.float64), np.asarray(est.intercept_, np.float64)
    if coef_init is not None:
        coef = np.asarray(coef_init, dtype=np.float64)
        if coef.shape != (K, p):
            raise ValueError(f"coef_init has shape {coef.shape}, expected ({K}, {p}) for a "
                             f"target of {K} columns.")
    if intercept_init is not None:
        intercept = np.asarray(intercept_init, dtype=np.float64).ravel()
        if intercept.shape != (K,):
            raise ValueError(f"intercept_init must have shape ({K},).")
    if coef is None and intercept is None:
        return T0
    coef = np.zeros((K, p)) if coef is None else coef
    intercept = np.zeros(K) if intercept is None else intercept
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ValueError("coef_init and intercept_init must be finite.")
    T0[:p] = coef.T * pre.scale[:, None] / pre.y_scale
    if pre.fit_intercept:
        T0[p] = (intercept - y_mean + coef @ pre.mean) / pre.y_scale
    return T0
