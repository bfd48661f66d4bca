"""The estimator shell shared by the gradient-descent regressors.

An estimator only assembles parts (model: skglm's ``GeneralizedLinearEstimator``): its
public parameters compile down once, in ``_gd_config``, to a typed record (``GDConfig``:
the datafit, the penalty in ``GDRegressor``'s convention and the solver settings), from
which ``BaseGD`` builds

* the problem (``_problem.Problem``: validated data, datafit, weighted penalty and the
  preconditioner that makes the fit independent of the units of the columns),
* the solver (``_sgd.StochasticSolver`` or ``_fista.FistaSolver``), which owns its loop,
  its state and its stopping rule,
* the training loop (``_training.TrainingLoop``: curves, early stopping, callbacks, and
  the rules that turn a diverging or unconverged run into an error or a warning),

and publishes the fitted attributes in original units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._compat import _check_sample_weight, _fit_context
from ._datafits import Datafit
from ._fista import FistaSolver
from ._multi_output import fit_multi_output
from ._optimizers import HP_SIZE, SGD, SOLVER_CODES
from ._problem import STATS_ROWS, Problem
from ._schedules import SCHEDULE_CODES, default_milestones
from ._sgd import StochasticSolver
from ._training import TrainingLoop, Validation, new_history

# What fit and predict accept: arrays, lists, DataFrames, sparse matrices.
ArrayLike = np.ndarray | Any


@dataclass
class GDConfig:
    """Everything a fit needs, in the ``GDRegressor`` objective convention."""

    datafit: Datafit
    alpha: float = 0.0
    l1_ratio: float = 0.0
    fit_intercept: bool = True
    solver: str = "sgd"
    batch_size: int | str = 1
    learning_rate: str = "constant"
    learning_rate_init: float | None = None
    sp: np.ndarray | None = None
    milestones: np.ndarray | None = None
    hp: np.ndarray | None = None
    max_iter: int = 1000
    tol: float | None = 1e-3
    n_iter_no_change: int = 5
    early_stopping: bool = False
    validation_fraction: float = 0.1
    shuffle: bool = True
    random_state: object = None
    average: int = 0
    verbose: int = 0
    precondition: bool = True
    callbacks: tuple = field(default_factory=tuple)


def _start_objective(state) -> float:
    """The objective of the starting point (the intercept-only model by default)."""
    if hasattr(state, "start_objective"):
        return state.start_objective
    from ._fista import SC_START

    return float(state.sc[SC_START])


FEATURES_IN_DOC = """    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
"""


def init_params(estimator, params: dict) -> None:
    """Store ``__init__``'s arguments (its ``locals()``) as attributes, as given: the
    scikit-learn contract, without one assignment line per parameter in every class."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def make_hp(momentum: float, beta_1: float, beta_2: float, epsilon: float,
            rho: float) -> np.ndarray:
    """Optimizer hyper-parameter array in the ``_optimizers.HP_*`` layout."""
    hp = np.empty(HP_SIZE)
    hp[:] = (momentum, beta_1, beta_2, epsilon, rho)
    return hp


class BaseGD(RegressorMixin, BaseEstimator):
    """Shared machinery; subclasses implement ``_gd_config(sample_weight_sum)``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # Whether y of shape (n, K) is fitted (the twins, with the K-output solver).
    _multi_output = False

    def _gd_config(self, sample_weight_sum: float) -> GDConfig:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ validation
    # float32 input is kept as float32 (the kernels are compiled per dtype).
    _fit_dtypes = (np.float64, np.float32)

    def _defers_finite_check(self) -> bool:
        """Whether X is checked for NaN/inf by the training passes instead of a pass of its
        own (``_validate_training_data``): the shells whose ``solver`` is stochastic."""
        return self.__dict__.get("solver", "fista") != "fista"

    def _check_finite_x(self, X):
        """The ValueError that scikit-learn's validation raises for non-finite X."""
        assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)

    def _validate_training_data(self, X, y, sample_weight, reset):
        """(X, y, sample_weight, whether X is known to be finite).

        Stochastic solvers defer the NaN/inf check of X (dense or CSR): every training
        row's prediction goes through the first epoch, where a non-finite entry makes it
        non-finite, and a non-finite prediction (or column statistic) is checked against X
        before it is reported as divergence (``Problem.assert_finite_input``); rows that
        training does not read are checked at once. That saves a read of X, a third of a
        per-sample epoch's time.
        """
        defer = self._defers_finite_check()
        X, y = validate_data(
            self, X, y, reset=reset, accept_sparse="csr", dtype=list(self._fit_dtypes),
            y_numeric=True, multi_output=True, ensure_min_samples=2,
            ensure_all_finite=not defer,
        )
        multi = y.ndim == 2 and y.shape[1] != 1
        if multi and not self._multi_output:
            raise ValueError(
                f"{type(self).__name__} does not support multi-output targets: y has shape "
                f"{y.shape}, expected a 1D array. Fit one estimator per column, e.g. with "
                "sklearn.multioutput.MultiOutputRegressor."
            )
        if not multi:
            y = column_or_1d(y, warn=True)
        y = np.ascontiguousarray(y, dtype=X.dtype)
        if not np.isfinite(y).all():
            raise ValueError(f"y does not fit in {X.dtype} (non-finite after conversion).")
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not sw.sum() > 0:
            raise ValueError("The total sample weight is zero: nothing to fit.")
        if multi and defer:
            # The K-output solver reads X without the stochastic kernels' deferred check.
            self._check_finite_x(X)
            defer = False
        return X, y, sw, not defer

    @staticmethod
    def _train_split(sw, rng, cfg):
        positive = np.flatnonzero(sw > 0)
        if not cfg.early_stopping:
            return positive, None
        n_val = int(np.ceil(cfg.validation_fraction * positive.shape[0]))
        if n_val < 1 or positive.shape[0] - n_val < 1:
            raise ValueError(
                f"early_stopping needs a validation set and a training set: with "
                f"{positive.shape[0]} samples of positive weight and validation_fraction="
                f"{cfg.validation_fraction}, one of them is empty. Change validation_fraction."
            )
        perm = rng.permutation(positive)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    @staticmethod
    def _check_config(cfg: GDConfig):
        if cfg.solver == "fista" and not cfg.datafit.smooth:
            raise ValueError(
                f"solver='fista' needs a smooth loss (squared_error, huber, log_cosh or "
                f"squared_epsilon_insensitive); loss={cfg.datafit.loss!r} is not "
                "differentiable. Use a stochastic solver."
            )
        if cfg.learning_rate == "multistep" and (cfg.milestones is None
                                                 or cfg.milestones.size == 0):
            cfg.milestones = default_milestones(cfg.max_iter)

    # ------------------------------------------------------------------ assembly
    def _solver(self, cfg: GDConfig, prob: Problem):
        """The solver of this configuration (subclasses with a solver of their own, such
        as the concomitant Huber twin's variable metric, override it)."""
        if cfg.solver == "fista":
            return FistaSolver(cfg.learning_rate_init, cfg.tol)
        return StochasticSolver(
            SOLVER_CODES[cfg.solver], cfg.batch_size, SCHEDULE_CODES[cfg.learning_rate],
            cfg.learning_rate_init, cfg.sp, cfg.milestones, cfg.hp, cfg.average, cfg.shuffle,
            cfg.tol, cfg.n_iter_no_change,
        )

    @staticmethod
    def _per_sample_sparse(cfg: GDConfig, X) -> bool:
        return (sp.issparse(X) and cfg.solver != "fista" and SOLVER_CODES[cfg.solver] == SGD
                and cfg.batch_size != "full" and int(cfg.batch_size) == 1)

    def _problem(self, X, y, sw, train_idx, cfg, rng, pre=None, finite=True) -> Problem:
        # Statistics on a sample of rows only where an epoch is cheaper than a full pass
        # (stochastic steps on dense rows); full-batch solvers read every row each
        # iteration anyway, and a CSR pass costs O(non-zeros): sampled, a rare feature could
        # get its scale from one small stored entry and reach thousands on the others.
        sampled = (cfg.solver != "fista" and cfg.batch_size != "full"
                   and not sp.issparse(X))
        return Problem(
            X, y, sw, train_idx, cfg.datafit, cfg.alpha, cfg.l1_ratio,
            fit_intercept=cfg.fit_intercept, precondition=cfg.precondition,
            center="dense" if self._per_sample_sparse(cfg, X) else True,
            stats_rows=STATS_ROWS if sampled else None, rng=rng, pre=pre,
            check_finite=None if finite else self._check_finite_x,
        )

    def _smooth(self, prob, solver, cfg):
        """The FISTA smooth part, reused across ``partial_fit`` calls on the same data.

        Building the Gram matrix costs O(n p^2), far more than the O(p^2) iteration that
        one call runs, so it is kept while the data (checked by address, shape, a checksum
        of X and the bytes of y and of the weights), the loss and the penalty are
        unchanged. The cache is not pickled.
        """
        X = prob.X
        if sp.issparse(X):
            where = (X.data.ctypes.data, X.indices.ctypes.data, X.nnz, float(X.data.sum()))
        else:
            where = (X.ctypes.data, X.strides, float(X.sum()))
        key = (X.shape, X.dtype.str, *where, hash(prob.y.tobytes()), hash(prob.sw.tobytes()),
               repr(cfg.datafit), cfg.alpha, cfg.l1_ratio, cfg.fit_intercept, solver.kind(prob))
        cache = getattr(self, "_smooth_cache", None)
        if cache is not None and cache[0] == key:
            return cache[1]
        smooth = solver.smooth_part(prob)
        self._smooth_cache = (key, smooth)
        return smooth

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_smooth_cache", None)
        return state

    # ------------------------------------------------------------------ fit
    def _initial(self, prob, coef_init, intercept_init):
        p = prob.p
        coef = intercept = None
        if self.__dict__.get("warm_start") and hasattr(self, "coef_") and coef_init is None:
            if self.coef_.shape == (p,):
                coef, intercept = np.asarray(self.coef_, dtype=np.float64), float(self.intercept_)
        if coef_init is not None:
            coef = np.asarray(coef_init, dtype=np.float64).ravel()
            if coef.shape != (p,):
                raise ValueError(f"coef_init has shape {coef.shape}, expected ({p},).")
            if intercept is None:
                intercept = 0.0
        if intercept_init is not None:
            b = np.asarray(intercept_init, dtype=np.float64).ravel()
            if b.shape != (1,):
                raise ValueError("intercept_init must be a scalar or have shape (1,).")
            intercept = float(b[0])
            if coef is None:
                coef = np.zeros(p)
        if coef is not None and not (np.isfinite(coef).all() and np.isfinite(intercept)):
            raise ValueError("coef_init and intercept_init must be finite.")
        return prob.initial_theta(coef, intercept)

    def _fit(self, X, y, sample_weight, coef_init, intercept_init):
        X, y, sw, finite = self._validate_training_data(X, y, sample_weight, reset=True)
        cfg = self._gd_config(float(sw.sum()))
        self._check_config(cfg)
        if y.ndim == 2:
            fit_multi_output(self, X, y, sw, cfg, coef_init, intercept_init)
            return self
        rng = check_random_state(cfg.random_state)
        train_idx, val_idx = self._train_split(sw, rng, cfg)
        prob = self._problem(X, y, sw, train_idx, cfg, rng, finite=finite)
        solver = self._solver(cfg, prob)
        theta0 = self._initial(prob, coef_init, intercept_init)
        if cfg.solver == "fista":
            state = solver.start(prob, theta0, rng, self._smooth(prob, solver, cfg))
        else:
            state = solver.start(prob, theta0, rng)
        history = new_history()
        validation = Validation(prob, val_idx, y, sw) if val_idx is not None else None
        schedule = None
        if cfg.solver != "fista":
            schedule = (SCHEDULE_CODES[cfg.learning_rate], cfg.sp)
        loop = TrainingLoop(self, prob, solver, state, max_iter=cfg.max_iter, history=history,
                            validation=validation, tol=cfg.tol,
                            n_iter_no_change=cfg.n_iter_no_change, callbacks=cfg.callbacks,
                            verbose=cfg.verbose, schedule=schedule,
                            stochastic=cfg.solver != "fista")
        result = loop.run()
        self._gd = {"problem_pre": prob.pre, "solver": solver, "state": state}
        self.initial_objective_ = float(prob.original(_start_objective(state)))
        self._set_history(history, result, prob, early=val_idx is not None)
        self._publish(prob, result["theta"], X.dtype, solver, state)
        return self

    def _partial_fit(self, X, y, sample_weight):
        first = not hasattr(self, "_gd")
        X, y, sw, finite = self._validate_training_data(X, y, sample_weight, reset=first)
        if y.ndim == 2 or (not first and np.ndim(self.coef_) == 2):
            raise ValueError(
                f"partial_fit of {type(self).__name__} takes a single-output target; "
                "multi-output targets (y of shape (n, K)) are fitted by fit only.")
        cfg = self._gd_config(float(sw.sum()))
        cfg.early_stopping = False
        self._check_config(cfg)
        if first:
            rng = check_random_state(cfg.random_state)
            prob = self._problem(X, y, sw, np.flatnonzero(sw > 0), cfg, rng, finite=finite)
            solver = self._solver(cfg, prob)
            theta0 = self._initial(prob, None, None)
            smooth = self._smooth(prob, solver, cfg) if cfg.solver == "fista" else None
            state = (solver.start(prob, theta0, rng, smooth) if smooth is not None
                     else solver.start(prob, theta0, rng))
            self._gd = {"problem_pre": prob.pre, "solver": solver, "state": state}
            self.history_ = new_history()
            self.n_iter_ = 0
        else:
            pre = self._gd["problem_pre"]
            solver, state = self._gd["solver"], self._gd["state"]
            rng = getattr(state, "rng", None)
            # The statistics of the first call define the coordinates of the state.
            prob = self._problem(X, y, sw, np.flatnonzero(sw > 0), cfg, rng, pre=pre,
                                 finite=finite)
            if cfg.solver == "fista":
                solver.ensure(prob, state, self._smooth(prob, solver, cfg))
        loop = TrainingLoop(self, prob, solver, state, max_iter=1, history=self.history_,
                            stochastic=False, warn=False, verbose=cfg.verbose)
        result = loop.run()
        self.n_iter_ += result["n_iter"]
        self.loss_curve_ = list(self.history_["objective"])
        self._publish(prob, solver.reported(state), X.dtype, solver, state)
        return self

    # ------------------------------------------------------------------ attributes
    def _set_history(self, history, result, prob, early):
        self.history_ = history
        self.loss_curve_ = list(history["objective"])
        self.n_iter_ = result["n_iter"]
        self.converged_ = bool(result["converged"])
        self.stopped_by_ = result["stopped_by"]
        if early:
            self.validation_scores_ = list(history["validation_score"])
            self.validation_loss_curve_ = list(history["validation_loss"])
            self.best_iteration_ = result["best_iteration"]
        else:
            for attr in ("validation_scores_", "validation_loss_curve_", "best_iteration_"):
                if hasattr(self, attr):
                    delattr(self, attr)

    def _publish(self, prob, theta, dtype, solver, state):
        coef, intercept = prob.to_original(theta)
        # What holds the fit back: the penalty's gradient at the solution (equal to the data
        # term's at an optimum), in the units of the gradient-norm curve.
        p = prob.p
        pen = prob.penalty
        g = pen.l2 * theta[:p] + pen.l1 * np.sign(theta[:p])
        d = prob.pre.degree
        self.penalty_gradient_norm_ = float(np.sqrt(np.sum(g * g))) * (
            prob.pre.y_scale ** (d - 1) if d is not None else 1.0)
        self.coef_ = coef.astype(dtype)
        self.intercept_ = dtype.type(intercept)
        self.preconditioner_ = {"mean": prob.pre.mean.copy(), "scale": prob.pre.scale.copy(),
                                "y_mean": prob.pre.y_mean, "y_scale": prob.pre.y_scale}
        if hasattr(state, "st"):
            from ._epoch import ST_T

            self.t_ = int(state.st[ST_T])
            self.learning_rate_init_ = float(state.lr0)
        else:
            self.t_ = int(self.n_iter_)
            cert = self.history_["certificate"]
            self.certificate_ = cert[-1] if cert else None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            coef_init: ArrayLike | None = None,
            intercept_init: float | ArrayLike | None = None) -> BaseGD:
        """Fit the model: up to ``max_iter`` epochs (iterations) of its solver.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (dense or CSR; float32 stays float32 where the solver allows).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values. Several columns only for the scikit-learn twins
            (``GDLinearRegression``, ``GDRidge``, ``GDLasso``, ``GDElasticNet``) with
            ``solver="fista"``: their objective summed over the columns, solved jointly.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights s_i of the objective.
        coef_init : array-like of shape (n_features,) or (n_targets, n_features), \
default=None
            Initial coefficients (original units).
        intercept_init : float or array-like of shape (1,) or (n_targets,), default=None
            Initial intercept.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    # Whether one call of the solver's loop is a meaningful increment (not for the
    # restarted primal-dual solver of the quantile twin).
    _incremental = True

    @available_if(lambda self: self._incremental)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    sample_weight: ArrayLike | None = None) -> BaseGD:
        """Run one epoch (one iteration of a full-batch solver) on (X, y), continuing from
        the current state.

        The solver's state (optimizer moments, schedule position, random generator, the
        standardization of the first call) persists between calls, so n calls equal
        ``fit`` with ``max_iter=n`` (no stopping rule, no early stopping here).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            Updated estimator.
        """
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            ``X @ coef_ + intercept_`` (``X @ coef_.T + intercept_`` for a model fitted
            on a multi-output target).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr",
                          dtype=[np.float64, np.float32])
        coef = self.coef_.astype(X.dtype, copy=False)
        if coef.ndim == 2:  # K outputs
            return np.asarray(X @ coef.T) + self.intercept_.astype(X.dtype, copy=False)
        return np.asarray(X @ coef).ravel() + X.dtype.type(self.intercept_)
