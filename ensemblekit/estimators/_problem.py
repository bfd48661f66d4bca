"""The assembled problem a solver works on: data, datafit, penalty and preconditioner.

An estimator shell validates its input, then builds a ``Problem``: the training rows and
their mean-one weights, the preconditioner (``_precondition``), the datafit rescaled to
the standardized target, and the penalty weighted per coordinate. Solvers only see this
object: the objective they minimize is

    F~(w~, b~) = (1/n) sum_{i in train} s_i phi~(x~_i.w~ + b~ - y~_i) + h(w~),

and ``F = objective_scale * F~`` is the estimator's objective in original units.
"""

from __future__ import annotations

import numpy as np

from ._epoch import PenaltyArgs, PrecondArgs, RowData
from ._exceptions import DivergenceError
from ._passes import matvec, rmatvec, row_sq_norms
from ._precondition import Preconditioner, sample_rows
from ._rows import kernel_inputs, readonly

# Column statistics of stochastic fits are taken on at most this many rows: a full pass
# before the first epoch would cost as much as the epoch itself (any positive scale is an
# exact change of variables, so estimates only affect conditioning).
STATS_ROWS = 20_000


class Problem:
    """Training data, datafit, penalty and preconditioner, ready for the solvers.

    Parameters
    ----------
    X : ndarray (C-contiguous) or CSR matrix
    y : ndarray of X's dtype
    sample_weight : ndarray of float64 (non-negative)
    train_idx : sorted ndarray of int
        Rows that train (positive weight, minus a validation split).
    datafit : Datafit
    alpha, l1_ratio : float
        The penalty in ``GDRegressor``'s convention, on the original coefficients.
    fit_intercept : bool
    precondition : bool
        Standardize internally (``_precondition``); False trains on the raw columns.
    center : bool or "dense"
        Which columns the preconditioner centres: all, none, or the CSR columns stored on
        at least half of the rows (per-sample CSR steps: ``_epoch``).
    stats_rows : int or None
        Compute the column statistics on at most this many training rows (None: all).
    rng : numpy RandomState
        Draws the statistics rows.
    pre : Preconditioner or None
        Reuse these statistics (``partial_fit``: the first call's define the coordinates
        of the solver state).
    """

    def __init__(self, X, y, sample_weight, train_idx, datafit, alpha, l1_ratio,
                 fit_intercept=True, precondition=True, center=True, stats_rows=None,
                 rng=None, pre=None, check_finite=None):
        self.X = X
        self.inputs = kernel_inputs(X)
        self.n, self.p = X.shape
        self.dtype = X.dtype
        self.fit_intercept = bool(fit_intercept)
        self.train = np.ascontiguousarray(train_idx, dtype=np.intp)
        self.n_train = int(self.train.shape[0])
        # Mean-one weights over the training rows, zero elsewhere: the objective is then
        # (1/n_train) sum_i s_i L_i, which equals (1/sum s) sum s_i L_i.
        if self.n_train == self.n:  # every row (no copies through fancy indexing)
            sw = sample_weight * (self.n / np.sum(sample_weight))
        else:
            sw = np.zeros(self.n)
            sw_train = sample_weight[self.train]
            sw[self.train] = sw_train * (self.n_train / sw_train.sum())
        self.sw = sw
        self.raw_datafit = datafit
        self._check_finite = check_finite
        if check_finite is not None and self.n_train < self.n:
            # Rows that training does not read (zero weight, validation split) are checked
            # now; the training rows are checked by the first epoch's predictions.
            outside = np.ones(self.n, dtype=bool)
            outside[self.train] = False
            check_finite(X[outside])
        if pre is None and precondition:
            rows = self.train
            if stats_rows is not None:
                rows = sample_rows(self.train, stats_rows, rng or np.random.RandomState(0))
            pre = Preconditioner.from_data(self.inputs, y, sw, rows, fit_intercept=fit_intercept,
                                           center=center, datafit=datafit, n_features=self.p)
        elif pre is None:
            pre = Preconditioner.identity(self.p, fit_intercept)
        if not (np.all(np.isfinite(pre.scale)) and np.all(np.isfinite(pre.mean))
                and np.isfinite(pre.y_scale)):
            self.assert_finite_input()
            raise DivergenceError(
                "The squares of some columns of X (or of y) overflow float64, so any fit "
                "would diverge: rescale X and y (e.g. divide by a power of 10)."
            )
        self.pre = pre
        self.datafit = datafit.scaled(pre.y_scale)
        self.y = readonly(np.ascontiguousarray(pre.transform_y(y)))
        self.penalty = pre.penalty(alpha, l1_ratio)
        self.alpha, self.l1_ratio = float(alpha), float(l1_ratio)
        Xd, data, indices, indptr, is_sparse = self.inputs
        self.rows = RowData(Xd, data, indices, indptr, is_sparse, self.y, self.sw)
        self.pre_args = PrecondArgs(pre.mean, pre.inv_scale, pre.centered,
                                    np.flatnonzero(pre.mean != 0.0))
        pen = self.penalty
        self.pen_args = PenaltyArgs(pen.l1, pen.l2, pen.has_l1, pen.has_l2,
                                    *pre.penalty_units(alpha, l1_ratio))
        self._start_loss = None

    def assert_finite_input(self) -> None:
        """Raise scikit-learn's ValueError if X has NaN or inf entries and was not checked
        at validation (``BaseGD._validate_training_data``): called before anything
        non-finite is reported as divergence."""
        if self._check_finite is not None:
            self._check_finite(self.X)

    @property
    def is_sparse(self) -> bool:
        return self.inputs[4]

    # ---------------------------------------------------------------- objective pieces
    def objective(self, loss_sum: float, theta: np.ndarray) -> float:
        """F~ from the weighted loss sum over the training rows."""
        return loss_sum / self.n_train + self.penalty.value(theta[: self.p])

    def original(self, value: float) -> float:
        """A value of F~ (or of the data term) in the estimator's units."""
        return value * self.pre.objective_scale

    def smooth_grad(self, graw: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Gradient of the data term plus the L2 part, in the solver's coordinates, from
        the raw sum_i s_i phi'_i (x_i, 1) of a pass."""
        g = self.pre.tilde_grad(graw / self.n_train)
        g[: self.p] += self.penalty.l2 * theta[: self.p]
        if not self.fit_intercept:
            g[self.p] = 0.0
        return g

    def grad_norm(self, graw: np.ndarray, theta: np.ndarray) -> float:
        """Norm of the minimal subgradient of F with respect to the coefficients of the
        standardized features and the intercept, in units of the objective per unit of y
        (what ``grad_norm_curve_`` reports)."""
        g = self.smooth_grad(graw, theta)
        g[: self.p] = self.penalty.subdiff_distance(theta[: self.p], g[: self.p])
        d = self.pre.degree
        unit = self.pre.y_scale ** (d - 1) if d is not None else 1.0
        return float(np.sqrt(np.sum(g * g)) * unit)

    def _on_train(self, a: np.ndarray) -> np.ndarray:
        return a if self.n_train == self.n else a[self.train]

    def start_intercept(self) -> float:
        """b~ of the intercept-only starting point (0 without an intercept)."""
        if not self.fit_intercept:
            return 0.0
        y = self._on_train(np.asarray(self.y, dtype=np.float64))
        return self.datafit.start_intercept(y, self._on_train(self.sw))

    def constant_objective(self, b: float) -> float:
        """F~ of the model predicting the constant b~ (w~ = 0): no pass over X."""
        y = self._on_train(np.asarray(self.y, dtype=np.float64))
        values = self.datafit.values(y, b)
        return float(np.sum(self._on_train(self.sw) * values)) / self.n_train

    def initial_theta(self, coef=None, intercept=None) -> np.ndarray:
        """The solver's starting point: the intercept-only model, or the original
        (coef, intercept) given (warm start, ``coef_init``) mapped to its coordinates."""
        if coef is None:
            theta = np.zeros(self.p + 1)
            theta[self.p] = self.start_intercept()
            return theta
        return self.pre.from_original(coef, intercept if self.fit_intercept else 0.0)

    def to_original(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        return self.pre.to_original(theta)

    def predict_rows(self, theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Original-unit predictions of the model ``theta`` on ``rows`` of X (one compiled
        pass over those rows, no copy of them)."""
        u = self.pre.raw(theta)
        out = np.empty(self.n)
        matvec(*self.inputs, rows, u[: self.p], out)
        pred = out[rows] + u[self.p]
        return self.pre.y_mean + self.pre.y_scale * pred

    # ---------------------------------------------------------------- curvature
    def row_norms(self, rows: np.ndarray) -> np.ndarray:
        """||x~_i||^2 (+1 for the intercept) of ``rows``: per-sample Lipschitz factors."""
        out = np.empty(rows.shape[0])
        row_sq_norms(*self.inputs, rows, self.pre.mean, self.pre.inv_scale, out)
        return out + (1.0 if self.fit_intercept else 0.0)

    def top_eigenvalue(self, rows: np.ndarray, n_iter: int = 30) -> float:
        """Largest eigenvalue of [X~ 1]^T S [X~ 1] / sum(S) over ``rows`` (power iteration
        on compiled passes; the mean Hessian of the squared loss)."""
        p = self.p
        sw = self.sw
        total = float(sw[rows].sum())
        rng = np.random.RandomState(0)
        z = rng.standard_normal(p + 1)
        if not self.fit_intercept:
            z[p] = 0.0
        buf = np.zeros(self.n)
        graw = np.empty(p + 1)
        lam = 0.0
        for _ in range(n_iter):
            nz = float(np.sqrt(np.sum(z * z)))
            if nz == 0.0:
                break
            z /= nz
            u = self.pre.raw(z)
            matvec(*self.inputs, rows, u[:p], buf)
            buf[rows] = sw[rows] * (buf[rows] + u[p])
            rmatvec(*self.inputs, rows, buf, graw[:p])
            graw[p] = buf[rows].sum()
            zn = self.pre.tilde_grad(graw) / total
            if not self.fit_intercept:
                zn[p] = 0.0
            lam_new = float(np.sum(zn * z))
            z = zn
            if abs(lam_new - lam) <= 1e-3 * abs(lam_new):
                lam = lam_new
                break
            lam = lam_new
        return max(lam, 0.0)
