"""The generic training loop shared by every gradient-descent estimator.

Estimators are thin shells: each one translates its public parameters into a
``GDConfig`` (loss, elastic-net penalty in the convention of ``GDRegressor``, optimizer,
schedule) and ``BaseGD`` does the rest: validation, the epoch loop over the compiled
kernel (``_epoch.run_epoch``) or FISTA (``_fista``), the stopping rules, early stopping,
``partial_fit`` and the fitted attributes.

Why each fast path is fast
--------------------------
* One compiled kernel per fit: ``run_epoch`` also returns the data loss that
  ``loss_curve_`` reports (``_epoch.ST_LOSS_MODE``), and the divergence threshold f(0) is
  computed in NumPy only when the objective exceeds its lower bound, so a cached first
  fit loads one function from Numba's on-disk cache.
* Full batch (``batch_size="full"``): one read of X per epoch. The gradient pass of an
  epoch evaluates the objective of the iterate it starts from, so the objective after
  epoch k comes from epoch k + 1's pass (``_fused_full_batch``); epoch k + 1 is run
  speculatively and rolled back (O(p) copies) if the stopping rule ends training after
  epoch k. Only the objective after the last epoch allowed by ``max_iter`` costs an extra
  pass. ``loss_curve_``, ``n_iter_`` and the coefficients are those of the plain loop.
* Per-sample SGD (wscale lazy L2, cumulative lazy L1 on sparse rows) and mini-batches:
  see ``_epoch``. FISTA (Gram matrix for n >> p squared loss, fused residual reuse on X):
  see ``_fista``; ``partial_fit`` keeps the smooth part between calls so that neither the
  Gram matrix nor the stored products X w are rebuilt.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._compat import _check_sample_weight
from ._epoch import (
    LOSS_AFTER,
    LOSS_NONE,
    LOSS_START,
    ST_EPOCH,
    ST_LOSS,
    ST_LOSS_MODE,
    ST_N_AVG,
    ST_SIZE,
    ST_T,
    kernel_inputs,
    readonly,
    run_epoch,
    weighted_data_loss,
)
from ._exceptions import DivergenceError
from ._fista import FistaState, GramFit, LossFit, fista_iteration
from ._losses import (
    LOSS_CODES,
    SMOOTH_CURVATURE,
    SQUARED_ERROR,
    loss_values_numpy,
    weighted_loss_sum,
)
from ._optimizers import ADAM, ADAMW, HP_SIZE, SOLVER_CODES
from ._penalties import penalty_value
from ._schedules import SCHEDULE_CODES, SP_GAMMA, SP_SCALE
from ._threaded_loss import MIN_NNZ, loss_threads, threaded_csr_loss

# Below this learning rate, "plateau" stops training (as SGDRegressor's "adaptive").
_PLATEAU_MIN_LR = 1e-6
# An objective this many times above the one of the zero model counts as divergence even
# while it is still finite (a diverging run can take many steps to overflow).
_DIVERGENCE_FACTOR = 1e12
# The Gram path stores a p x p matrix; beyond this many features it is not worth it.
_GRAM_MAX_FEATURES = 4000


@dataclass
class GDConfig:
    """Everything the training loop needs, in the ``GDRegressor`` objective convention."""

    loss: str = "squared_error"
    epsilon: float = 0.1
    quantile: float = 0.5
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
    gram: bool = True


class _Data:
    """Validated training data in the layout the kernels want (no copy of C-ordered X)."""

    def __init__(self, X, y, sw_raw, train_idx):
        self.X = X
        self.is_sparse = sp.issparse(X)
        self.n, self.p = X.shape
        self.y = readonly(y)
        self.train_idx = train_idx
        self.n_train = train_idx.shape[0]
        # Mean-one weights over the training rows, zero elsewhere: the objective is then
        # (1/n_train) sum_i sw_i L_i, which equals (1/sum s) sum s_i L_i.
        if self.n_train == self.n:  # every row trains: the same values, no fancy indexing
            sw = sw_raw * (self.n_train / sw_raw.sum())
        else:
            sw = np.zeros(self.n)
            sw_train = sw_raw[train_idx]
            sw[train_idx] = sw_train * (self.n_train / sw_train.sum())
        self.sw = sw
        self._kernel_inputs = None

    def kernel_inputs(self):
        if self._kernel_inputs is None:
            self._kernel_inputs = kernel_inputs(self.X) + (self.y,)
        return self._kernel_inputs

    def predict(self, theta):
        w = theta[: self.p].astype(self.X.dtype, copy=False)
        return np.asarray(self.X @ w, dtype=np.float64) + theta[self.p]


def _default_learning_rate(solver: str) -> float:
    return 0.001 if SOLVER_CODES[solver] in (ADAM, ADAMW) else 0.01


class BaseGD(RegressorMixin, BaseEstimator):
    """Shared machinery; subclasses implement ``_gd_config(sample_weight_sum)``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _gd_config(self, sample_weight_sum: float) -> GDConfig:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ validation
    def _validate_training_data(self, X, y, sample_weight, reset):
        X, y = validate_data(
            self, X, y, reset=reset, accept_sparse="csr", dtype=[np.float64, np.float32],
            y_numeric=True, multi_output=True, ensure_min_samples=2,
        )
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__} does not support multi-output targets: y has shape "
                f"{y.shape}. Fit one estimator per column, e.g. with "
                "sklearn.multioutput.MultiOutputRegressor."
            )
        y = column_or_1d(y, warn=True)
        y = np.ascontiguousarray(y, dtype=X.dtype)
        if not np.isfinite(y).all():
            raise ValueError(f"y does not fit in {X.dtype} (non-finite after conversion).")
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        if not sw.sum() > 0:
            raise ValueError("The total sample weight is zero: nothing to fit.")
        return X, y, sw

    def _train_split(self, sw, rng, cfg):
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

    def _check_config(self, cfg: GDConfig):
        if cfg.solver == "fista" and LOSS_CODES[cfg.loss] not in SMOOTH_CURVATURE:
            smooth = sorted(k for k, c in LOSS_CODES.items() if c in SMOOTH_CURVATURE)
            raise ValueError(
                f"solver='fista' needs a smooth loss (one of {smooth}); loss={cfg.loss!r} is "
                "not differentiable. Use a stochastic solver."
            )
        if cfg.learning_rate == "multistep" and (cfg.milestones is None
                                                 or cfg.milestones.size == 0):
            raise ValueError("learning_rate='multistep' needs milestones (a list of epochs).")

    # ------------------------------------------------------------------ state
    def _new_state(self, p, cfg, coef_init, intercept_init, rng, data):
        theta = np.zeros(p + 1)
        if self.warm_start and hasattr(self, "coef_") and coef_init is None:
            if self.coef_.shape == (p,):
                theta[:p] = self.coef_
                theta[p] = self.intercept_
        if coef_init is not None:
            coef_init = np.asarray(coef_init, dtype=np.float64).ravel()
            if coef_init.shape != (p,):
                raise ValueError(f"coef_init has shape {coef_init.shape}, expected ({p},).")
            theta[:p] = coef_init
        if intercept_init is not None:
            intercept_init = np.asarray(intercept_init, dtype=np.float64).ravel()
            if intercept_init.shape != (1,):
                raise ValueError("intercept_init must be a scalar or have shape (1,).")
            theta[p] = intercept_init[0]
        if not cfg.fit_intercept:
            theta[p] = 0.0
        if not np.isfinite(theta).all():
            raise ValueError("coef_init and intercept_init must be finite.")
        sp_arr = cfg.sp.copy()
        sp_arr[SP_SCALE] = 1.0
        return {
            "theta": theta,
            "m": np.zeros(p + 1),
            "v": np.zeros(p + 1),
            "q": np.zeros(p + 1),
            "avg": np.zeros(p + 1),
            "grad": np.zeros(p + 1),
            "st": np.zeros(ST_SIZE),
            "sp": sp_arr,
            "rng": rng,
            "plateau_best": np.inf,
            "plateau_count": 0,
            "fista": None,
            "fista_scale": 1.0,
        }

    @staticmethod
    def _reported(state):
        if state["st"][ST_N_AVG] > 0:
            return state["avg"]
        return state["theta"]

    # ------------------------------------------------------------------ epochs
    def _smooth_part(self, data, cfg, state):
        l2 = cfg.alpha * (1.0 - cfg.l1_ratio)
        code = LOSS_CODES[cfg.loss]
        if (code == SQUARED_ERROR and cfg.gram and data.p <= _GRAM_MAX_FEATURES
                and data.n_train >= 2 * data.p):
            return GramFit(data.X, data.y, data.sw, data.n_train, l2, cfg.fit_intercept)
        return LossFit(data.X, data.y, data.sw, data.n_train, code, cfg.epsilon, cfg.quantile,
                       l2, cfg.fit_intercept)

    def _cached_smooth_part(self, data, cfg, state):
        """The smooth part for ``partial_fit``, reused across calls.

        Building the Gram matrix costs O(n p^2), far more than the O(p^2) iteration that one
        ``partial_fit`` call runs; a ``LossFit`` carries the products X w of FISTA's iterates
        (``FistaState.attach``), which would cost two passes over X to rebuild, and reusing
        them keeps ``partial_fit`` equal to ``fit`` to the bit. So it is kept while the data
        (checked by address, shape, a checksum of X and the bytes of y and of the weights),
        the loss and the penalty are unchanged. The cache is not pickled.
        """
        smooth = None
        key = None
        if LOSS_CODES[cfg.loss] in SMOOTH_CURVATURE:
            X = data.X
            if sp.issparse(X):
                where = (X.data.ctypes.data, X.indices.ctypes.data, X.nnz, float(X.data.sum()))
            else:
                where = (X.ctypes.data, X.strides, float(X.sum()))
            key = (X.shape, X.dtype.str, *where, hash(data.y.tobytes()),
                   hash(data.sw.tobytes()), cfg.loss, cfg.epsilon, cfg.quantile, cfg.alpha,
                   cfg.l1_ratio, cfg.fit_intercept, cfg.gram)
            cache = getattr(self, "_smooth_cache", None)
            if cache is not None and cache[0] == key:
                smooth = cache[1]
        if smooth is None:
            smooth = self._smooth_part(data, cfg, state)
            if key is not None:
                self._smooth_cache = (key, smooth)
        return smooth

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_smooth_cache", None)
        return state

    def _fista_epoch(self, data, cfg, state, smooth):
        l1 = cfg.alpha * cfg.l1_ratio
        p = data.p
        if state["fista"] is None:
            theta = state["theta"]
            if isinstance(smooth, GramFit):
                theta[p] = 0.0
            if cfg.learning_rate_init is None:
                lip = smooth.lipschitz(SMOOTH_CURVATURE[LOSS_CODES[cfg.loss]], 0)
                step = 1.0 / lip if lip > 0 else 1.0
            else:
                step = cfg.learning_rate_init
            f0, z0 = smooth.lin(theta)
            state["fista"] = FistaState(theta, step, f0 + l1 * np.abs(theta[:p]).sum())
            state["fista"].attach(smooth, z0)
            _, g0 = smooth.value_grad(np.zeros(p + 1))
            scale = float(np.max(np.abs(g0))) if g0.size else 0.0
            state["fista_scale"] = scale if scale > 0 else 1.0
        fs = state["fista"]
        violation = fista_iteration(fs, smooth, l1, p)
        theta = fs.x.copy()
        if isinstance(smooth, GramFit):
            theta[p] = smooth.intercept(theta)
        state["theta"] = theta
        state["st"][ST_T] += 1
        state["st"][ST_EPOCH] += 1
        if not np.isfinite(theta).all() or not np.isfinite(fs.objective):
            self._diverged(cfg, int(state["st"][ST_EPOCH]))
        return fs.objective, violation / state["fista_scale"]

    def _stochastic_epoch(self, data, cfg, state, need_pred=False, fused=False):
        """One epoch of the compiled kernel; return (objective, predictions or None).

        The objective is that of the reported iterate after the epoch, except with
        ``fused=True`` (a full batch): then it is the objective of the iterate at the
        *start* of the epoch, which the kernel evaluates in the same pass over X as the
        gradient (see ``_fused_full_batch``).
        """
        Xd, xdata, indices, indptr, is_sparse, y = data.kernel_inputs()
        order = data.train_idx
        if cfg.batch_size == "full":
            batch_size = data.n_train
        else:
            batch_size = min(int(cfg.batch_size), data.n_train)
            if cfg.shuffle:
                order = state["rng"].permutation(order)
        lr0 = (cfg.learning_rate_init if cfg.learning_rate_init is not None
               else _default_learning_rate(cfg.solver))
        st = state["st"]
        threads = 1
        if fused:
            st[ST_LOSS_MODE] = LOSS_START
            penalty = penalty_value(state["theta"][: data.p], cfg.alpha, cfg.l1_ratio)
        elif need_pred:
            st[ST_LOSS_MODE] = LOSS_NONE
        else:
            if is_sparse and xdata.shape[0] >= MIN_NNZ:
                threads = loss_threads()
            # a large CSR pass is split over threads here, after the kernel
            st[ST_LOSS_MODE] = LOSS_NONE if threads > 1 else LOSS_AFTER
        status = run_epoch(
            Xd, xdata, indices, indptr, is_sparse, y, data.sw, order, batch_size, data.p,
            state["theta"], state["m"], state["v"], state["q"], state["avg"], state["grad"], st,
            LOSS_CODES[cfg.loss], float(cfg.epsilon), float(cfg.quantile),
            SOLVER_CODES[cfg.solver], cfg.hp, SCHEDULE_CODES[cfg.learning_rate], float(lr0),
            state["sp"], cfg.milestones, float(cfg.alpha), float(cfg.l1_ratio),
            bool(cfg.fit_intercept), int(cfg.average),
        )
        st[ST_EPOCH] += 1
        if status != 0:
            self._diverged(cfg, int(st[ST_EPOCH]), lr0)
        elif threads > 1:
            st[ST_LOSS] = threaded_csr_loss(
                xdata, indices, indptr, y, data.sw, self._reported(state), data.p,
                LOSS_CODES[cfg.loss], float(cfg.epsilon), float(cfg.quantile), threads)
        if fused:
            obj = st[ST_LOSS] / data.n_train + penalty
            if st[ST_EPOCH] > 1:  # the starting point (epoch 0) is not judged
                self._check_divergence(data, cfg, state, obj, int(st[ST_EPOCH]) - 1, lr0)
            return obj, None
        theta = self._reported(state)
        pred = None
        if need_pred:
            pred = data.predict(theta)
            data_loss = weighted_loss_sum(LOSS_CODES[cfg.loss], data.y, pred, data.sw,
                                          cfg.epsilon, cfg.quantile)
        else:
            data_loss = st[ST_LOSS]
        obj = data_loss / data.n_train + penalty_value(theta[: data.p], cfg.alpha, cfg.l1_ratio)
        self._check_divergence(data, cfg, state, obj, int(st[ST_EPOCH]), lr0)
        if cfg.learning_rate == "plateau":
            tol = cfg.tol if cfg.tol is not None else 0.0
            if obj > state["plateau_best"] - tol:
                state["plateau_count"] += 1
            else:
                state["plateau_count"] = 0
            state["plateau_best"] = min(state["plateau_best"], obj)
            if state["plateau_count"] >= cfg.n_iter_no_change:
                state["sp"][SP_SCALE] *= cfg.sp[SP_GAMMA]
                state["plateau_count"] = 0
        return obj, pred

    def _check_divergence(self, data, cfg, state, obj, epoch, lr0):
        # The threshold is _DIVERGENCE_FACTOR * max(f(0), 1e-12) >= _DIVERGENCE_FACTOR *
        # 1e-12, so f(0) (an O(n) pass over y) is only needed above that bound.
        if obj <= _DIVERGENCE_FACTOR * 1e-12:
            return
        if "zero_objective" not in state:
            # In NumPy: no compiled kernel besides run_epoch is needed for a fit.
            code = LOSS_CODES[cfg.loss]
            if code == SQUARED_ERROR:  # 0.5 sum_i s_i y_i^2 without the generic temporaries
                y64 = data.y.astype(np.float64, copy=False)
                loss0_sum = 0.5 * float(data.sw @ (y64 * y64))
            else:
                loss0 = loss_values_numpy(code, data.y, np.zeros(1), cfg.epsilon, cfg.quantile)
                loss0_sum = float(data.sw @ loss0)
            state["zero_objective"] = loss0_sum / data.n_train
        if not obj <= _DIVERGENCE_FACTOR * max(state["zero_objective"], 1e-12):
            self._diverged(cfg, epoch, lr0)

    @staticmethod
    def _use_fused(cfg, data, val_idx):
        """Full-batch epochs whose objective can come from the next epoch's gradient pass.

        Needs the reported iterate to be the iterate itself (no averaging), no validation
        predictions, and a schedule that does not depend on the objective (not "plateau").
        """
        return (cfg.solver != "fista" and cfg.batch_size == "full" and not cfg.average
                and val_idx is None and cfg.learning_rate != "plateau")

    def _fused_full_batch(self, data, cfg, state):
        """Full-batch epochs at one pass over X each; yields the objective after each epoch.

        A full-batch gradient step needs the predictions of the current iterate, and these
        also give its objective. So epoch k + 1's fused pass returns the objective of the
        iterate after epoch k, and the loop runs epoch k + 1 speculatively before it knows
        whether epoch k was the last one: the caller ``send``s True to stop after epoch k,
        and the state is rolled back to the iterate after epoch k (a copy of O(p) arrays).
        Only after the last epoch allowed by ``max_iter`` is the objective evaluated by an
        extra pass. ``loss_curve_``, ``n_iter_`` and the coefficients are exactly those of
        the unfused loop (objective after every epoch).
        """
        keys = ("theta", "m", "v", "st")
        self._stochastic_epoch(data, cfg, state, fused=True)  # f(theta_0) is not reported
        for k in range(1, cfg.max_iter + 1):
            if k < cfg.max_iter:
                snap = {key: state[key].copy() for key in keys}
                obj, _ = self._stochastic_epoch(data, cfg, state, fused=True)
            else:
                snap = None
                obj = self._objective_now(data, cfg, state)
            stop = yield obj, (snap or state)["st"]
            if stop or snap is None:
                if snap is not None:
                    for key in keys:
                        state[key][...] = snap[key]
                return

    def _objective_now(self, data, cfg, state):
        # The same compiled row loop as run_epoch's, so the value is the same to the bit.
        theta = self._reported(state)
        loss = weighted_data_loss(*data.kernel_inputs(), data.sw, theta, data.p,
                                  LOSS_CODES[cfg.loss], float(cfg.epsilon),
                                  float(cfg.quantile))
        return loss / data.n_train + penalty_value(theta[: data.p], cfg.alpha, cfg.l1_ratio)

    def _diverged(self, cfg, epoch, lr=None):
        lr = cfg.learning_rate_init if lr is None else lr
        raise DivergenceError(
            f"The training objective of {type(self).__name__} diverged (non-finite, or "
            f"{_DIVERGENCE_FACTOR:.0e} times that of the zero model) during "
            f"epoch {epoch} (solver={cfg.solver!r}, learning_rate_init={lr}). The learning "
            "rate is too large for this data: lower learning_rate_init (or scale the "
            "features)."
        )

    # ------------------------------------------------------------------ public API
    def _publish(self, state, dtype, p):
        theta = self._reported(state)
        self.coef_ = theta[:p].astype(dtype)
        self.intercept_ = dtype.type(theta[p])
        self.t_ = int(state["st"][ST_T])

    def _fit(self, X, y, sample_weight, coef_init, intercept_init):
        X, y, sw = self._validate_training_data(X, y, sample_weight, reset=True)
        cfg = self._gd_config(float(sw.sum()))
        self._check_config(cfg)
        rng = check_random_state(cfg.random_state)
        train_idx, val_idx = self._train_split(sw, rng, cfg)
        data = _Data(X, y, sw, train_idx)
        state = self._new_state(data.p, cfg, coef_init, intercept_init, rng, data)
        is_fista = cfg.solver == "fista"
        smooth = self._smooth_part(data, cfg, state) if is_fista else None

        loss_curve, val_scores = [], []
        best_obj, best_score, no_improvement = np.inf, -np.inf, 0
        best_theta, best_iter = None, 0
        converged = False
        if val_idx is not None:
            y_val, sw_val = data.y[val_idx].astype(np.float64), sw[val_idx]
            ss_tot = sw_val @ (y_val - np.average(y_val, weights=sw_val)) ** 2
        n_iter = 0
        fused = self._use_fused(cfg, data, val_idx)
        epochs = self._fused_full_batch(data, cfg, state) if fused else None
        for epoch in range(cfg.max_iter):
            n_iter = epoch + 1
            st_now = state["st"]
            if fused:
                obj, st_now = epochs.send(None if epoch == 0 else False)
                pred = None
            elif is_fista:
                obj, violation = self._fista_epoch(data, cfg, state, smooth)
                pred = data.predict(state["theta"]) if val_idx is not None else None
            else:
                obj, pred = self._stochastic_epoch(data, cfg, state, val_idx is not None)
            loss_curve.append(float(obj))
            if cfg.verbose:
                print(f"-- Epoch {n_iter}: objective {obj:.8g}, updates {int(st_now[ST_T])}")
            if val_idx is not None:
                resid = y_val - pred[val_idx]
                score = 1.0 - (sw_val @ resid**2) / ss_tot if ss_tot > 0 else 0.0
                val_scores.append(float(score))
                tol = cfg.tol if cfg.tol is not None else -np.inf
                no_improvement = no_improvement + 1 if score < best_score + tol else 0
                if score > best_score:
                    best_score, best_iter = score, n_iter
                    best_theta = self._reported(state).copy()
                if cfg.tol is not None and no_improvement >= cfg.n_iter_no_change:
                    converged = True
            elif is_fista:
                if cfg.tol is not None and violation <= cfg.tol:
                    converged = True
            elif cfg.learning_rate == "plateau":
                lr_now = (cfg.learning_rate_init or _default_learning_rate(cfg.solver))
                if cfg.tol is not None and lr_now * state["sp"][SP_SCALE] < _PLATEAU_MIN_LR:
                    converged = True
            elif cfg.tol is not None:
                no_improvement = no_improvement + 1 if obj > best_obj - cfg.tol else 0
                best_obj = min(best_obj, obj)
                if no_improvement >= cfg.n_iter_no_change:
                    converged = True
            if converged:
                if cfg.verbose:
                    print(f"Convergence after {n_iter} epochs")
                break
        if epochs is not None:
            try:  # stop: roll back the speculative epoch, if one was run
                epochs.send(True)
            except StopIteration:
                pass
        if not converged and (cfg.tol is not None):
            warnings.warn(
                f"Maximum number of iterations ({cfg.max_iter}) reached before convergence. "
                "Consider increasing max_iter to improve the fit.",
                ConvergenceWarning,
            )
        if best_theta is not None:
            state["theta"] = best_theta
            state["st"][ST_N_AVG] = 0.0
            self.validation_scores_ = val_scores
            self.best_iteration_ = best_iter
        else:
            for attr in ("validation_scores_", "best_iteration_"):
                if hasattr(self, attr):
                    delattr(self, attr)
        self._gd_state = state
        self.loss_curve_ = loss_curve
        self.n_iter_ = n_iter
        self._publish(state, X.dtype, data.p)
        return self

    def _partial_fit(self, X, y, sample_weight):
        first = not hasattr(self, "_gd_state")
        X, y, sw = self._validate_training_data(X, y, sample_weight, reset=first)
        cfg = self._gd_config(float(sw.sum()))
        cfg.early_stopping = False
        self._check_config(cfg)
        data = _Data(X, y, sw, np.flatnonzero(sw > 0))
        if first:
            rng = check_random_state(cfg.random_state)
            self._gd_state = self._new_state(data.p, cfg, None, None, rng, data)
            self.loss_curve_ = []
            self.n_iter_ = 0
        state = self._gd_state
        if state["st"].shape[0] < ST_SIZE:  # a state pickled before ST_LOSS_* existed
            state["st"] = np.concatenate([state["st"], np.zeros(ST_SIZE - state["st"].shape[0])])
        if cfg.solver == "fista":
            smooth = self._cached_smooth_part(data, cfg, state)
            obj, _ = self._fista_epoch(data, cfg, state, smooth)
        else:
            obj, _ = self._stochastic_epoch(data, cfg, state)
        self.loss_curve_.append(float(obj))
        self.n_iter_ += 1
        self._publish(state, X.dtype, data.p)
        return self

    def predict(self, X) -> np.ndarray:
        """Predict with the fitted linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            ``X @ coef_ + intercept_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr",
                          dtype=[np.float64, np.float32])
        coef = self.coef_.astype(X.dtype, copy=False)
        return np.asarray(X @ coef).ravel() + X.dtype.type(self.intercept_)


def make_hp(momentum: float, beta_1: float, beta_2: float, epsilon: float,
            rho: float) -> np.ndarray:
    """Optimizer hyper-parameter array in the ``_optimizers.HP_*`` layout."""
    hp = np.empty(HP_SIZE)
    hp[:] = (momentum, beta_1, beta_2, epsilon, rho)
    return hp

