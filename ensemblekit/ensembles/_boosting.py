"""One gradient-boosting regressor over XGBoost and LightGBM, with leak-free early stopping."""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, _fit_context, _safe_indexing
from ._base import validate_X, validate_Xy
from ._device import resolve_device

# Our name -> (XGBoost name, LightGBM name). None in a value means "library default".
PARAM_MAP = {
    "n_estimators": ("n_estimators", "n_estimators"),
    "learning_rate": ("learning_rate", "learning_rate"),
    "max_depth": ("max_depth", "max_depth"),
    "num_leaves": ("max_leaves", "num_leaves"),
    "subsample": ("subsample", "subsample"),
    "colsample_bytree": ("colsample_bytree", "colsample_bytree"),
    "reg_alpha": ("reg_alpha", "reg_alpha"),
    "reg_lambda": ("reg_lambda", "reg_lambda"),
    "min_child_weight": ("min_child_weight", "min_child_weight"),
    "random_state": ("random_state", "random_state"),
    "n_jobs": ("n_jobs", "n_jobs"),
    "device": ("device", "device_type"),
}
# Set by BoostingRegressor itself; passing them through ``params`` would be ambiguous.
_RESERVED = {
    *(n for pair in PARAM_MAP.values() for n in pair),
    "early_stopping_rounds", "callbacks", "eval_set", "enable_categorical", "device_type",
    "n_iter_no_change", "validation_fraction", "early_stopping", "importance_type",
    "num_boost_round", "num_iterations", "seed",
}


def _lightgbm_eval_kwargs(X_val, y_val) -> dict:
    import lightgbm as lgb

    # LightGBM >= 4.7 deprecates eval_set for eval_X/eval_y (LightGBM#6857); older ones lack them.
    if "eval_X" in inspect.signature(lgb.LGBMRegressor.fit).parameters:
        return {"eval_X": (X_val,), "eval_y": (y_val,)}
    return {"eval_set": [(X_val, y_val)]}


class BoostingRegressor(RegressorMixin, BaseEstimator):
    """Gradient-boosted trees through XGBoost or LightGBM under one set of parameter names.

    Parameter mapping (``None`` keeps the library's own default):

    ====================  ===========================  ==================================
    here                  XGBoost (``XGBRegressor``)   LightGBM (``LGBMRegressor``)
    ====================  ===========================  ==================================
    n_estimators          n_estimators                 n_estimators
    learning_rate         learning_rate                learning_rate
    max_depth             max_depth (None: 6)          max_depth (None: -1, unlimited)
    num_leaves            max_leaves (None: 0, none)   num_leaves (None: 31)
    subsample             subsample                    subsample, ``subsample_freq=1``
                                                       when < 1 (else LightGBM ignores it)
    colsample_bytree      colsample_bytree             colsample_bytree (feature_fraction)
    reg_alpha             reg_alpha                    reg_alpha
    reg_lambda            reg_lambda (None: 1)         reg_lambda (None: 0)
    min_child_weight      min_child_weight (None: 1)   min_child_weight (None: 1e-3)
    device                device (``"cuda"``)          device_type (``"cuda"`` or ``"gpu"``)
    early stopping        early_stopping_rounds +      ``lgb.early_stopping`` callback +
                          eval_set                     eval_set
    ====================  ===========================  ==================================

    XGBoost always runs with ``tree_method="hist"`` and ``enable_categorical=True``; LightGBM
    with ``verbose=-1``. Pandas ``category`` columns are passed natively to both. Anything else
    goes through ``params`` to the library's constructor.

    Early stopping never looks outside the rows given to ``fit``: a shuffled
    ``validation_fraction`` of *those* rows is held out as the evaluation set, and the trees are
    grown on the rest. Inside cross-validation or stacking, ``fit`` only receives a fold's
    training rows, so the fold's test rows never steer the stopping (unlike a shared
    ``eval_set``, see dmlc/xgboost#7782). As with scikit-learn's HistGradientBoosting, the
    final model is the one trained on the remaining ``1 - validation_fraction`` of the rows.

    Growing a model (Hyperband's ``n_estimators`` resource): with ``warm_start=True`` and
    ``early_stopping=False``, calling ``fit`` again on the same data with a larger
    ``n_estimators`` adds only the missing trees to the fitted booster, giving the same model as
    one fit with the larger ``n_estimators``. With early stopping on, ``fit`` always starts
    afresh (a stopped model would not grow anyway).

    Parameters
    ----------
    backend : {"xgboost", "lightgbm"}, default="xgboost"
    device : {"auto", "cpu", "cuda"}, default="auto"
        ``"auto"`` uses a CUDA GPU when the library can use one (probed once per process), and
        otherwise the CPU, with one INFO line on the ``ensemblekit.ensembles`` logger. ``"cuda"``
        raises a ``ValueError`` if no GPU is usable. A GPU-trained XGBoost model is switched to
        the CPU for ``predict`` on host data, which avoids XGBoost's "mismatched devices"
        fallback (dmlc/xgboost#9594); the trees are the same. Inside an ensemble fitted with
        ``n_jobs > 1``, each joblib worker would put its own booster on the one GPU: prefer
        ``n_jobs=1`` for the ensemble when the boosters run on a GPU.
    n_estimators : int, default=100
        Maximum number of boosting rounds.
    learning_rate : float, default=0.1
    max_depth : int, default=None
    num_leaves : int, default=None
    subsample : float, default=1.0
    colsample_bytree : float, default=1.0
    reg_alpha : float, default=0.0
    reg_lambda : float, default=None
    min_child_weight : float, default=None
    early_stopping : bool, default=True
    validation_fraction : float, default=0.1
        Share of the ``fit`` rows held out for early stopping (at least one row).
    n_iter_no_change : int, default=10
        Rounds without improvement of the validation RMSE before stopping.
    warm_start : bool, default=False
        See "Growing a model" above.
    n_jobs : int, default=None
        Threads of the library (``None``: its default, all cores). Use 1 inside a parallel
        ensemble.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and the library.
    params : dict, default=None
        Extra constructor arguments for the library (e.g. ``{"max_bin": 127}``).

    Attributes
    ----------
    model_ : xgboost.XGBRegressor or lightgbm.LGBMRegressor
        The fitted library model.
    device_ : str
        Device the model was trained on (``"cpu"``, ``"cuda"`` or LightGBM's ``"gpu"``).
    best_iteration_ : int
        Number of boosting rounds used by ``predict`` (1-based: the best round's count with
        early stopping, else all rounds trained).
    n_estimators_ : int
        Rounds actually trained (can exceed ``best_iteration_`` by up to
        ``n_iter_no_change``).
    validation_indices_ : ndarray of int or None
        Rows of the ``fit`` data used for early stopping.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Total gain per feature, normalized to sum to 1.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from ensemblekit.ensembles import BoostingRegressor
    >>> X, y = make_regression(n_samples=300, n_features=5, noise=1.0, random_state=0)
    >>> model = BoostingRegressor("lightgbm", device="cpu", n_estimators=50, n_jobs=1,
    ...                           random_state=0).fit(X, y)
    >>> model.best_iteration_ <= 50
    True
    """

    _parameter_constraints: dict = {
        "backend": [StrOptions({"xgboost", "lightgbm"})],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_depth": [None, Interval(Integral, 0, None, closed="left")],
        "num_leaves": [None, Interval(Integral, 2, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_alpha": [Interval(Real, 0, None, closed="left")],
        "reg_lambda": [None, Interval(Real, 0, None, closed="left")],
        "min_child_weight": [None, Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "params": [None, dict],
    }

    def __init__(
        self,
        backend="xgboost",
        *,
        device="auto",
        n_estimators=100,
        learning_rate=0.1,
        max_depth=None,
        num_leaves=None,
        subsample=1.0,
        colsample_bytree=1.0,
        reg_alpha=0.0,
        reg_lambda=None,
        min_child_weight=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        params=None,
    ):
        self.backend = backend
        self.device = device
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.num_leaves = num_leaves
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.min_child_weight = min_child_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.params = params

    def _library_kwargs(self, device: str, n_estimators: int, seed: int) -> dict:
        extra = dict(self.params or {})
        clash = sorted(set(extra) & _RESERVED)
        if clash:
            raise ValueError(
                f"params must not set {clash}: use BoostingRegressor's own parameters instead."
            )
        common = {
            "n_estimators": n_estimators,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "reg_alpha": self.reg_alpha,
            "random_state": seed,
            "n_jobs": self.n_jobs,
        }
        if self.reg_lambda is not None:
            common["reg_lambda"] = self.reg_lambda
        if self.min_child_weight is not None:
            common["min_child_weight"] = self.min_child_weight
        if self.backend == "xgboost":
            kw = {
                **common,
                "tree_method": "hist",
                "device": device,
                "enable_categorical": True,
                "importance_type": "total_gain",
            }
            if self.max_depth is not None:
                kw["max_depth"] = self.max_depth
            if self.num_leaves is not None:
                kw["max_leaves"] = self.num_leaves
            if self.early_stopping:
                kw["early_stopping_rounds"] = self.n_iter_no_change
        else:
            kw = {
                **common,
                "device_type": device,
                "verbose": -1,
                "importance_type": "gain",
                "subsample_freq": 1 if self.subsample < 1.0 else 0,
            }
            if self.max_depth is not None:
                kw["max_depth"] = self.max_depth
            if self.num_leaves is not None:
                kw["num_leaves"] = self.num_leaves
        kw.update(extra)
        return kw

    def _split(self, n: int, rng):
        n_val = max(1, int(np.ceil(self.validation_fraction * n)))
        if n - n_val < 1:
            raise ValueError(
                f"early_stopping needs at least 2 samples to hold out a validation row, got "
                f"n_samples={n}; set early_stopping=False."
            )
        perm = rng.permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _can_grow(self) -> bool:
        return (
            self.warm_start
            and not self.early_stopping
            and hasattr(self, "model_")
            and self._fitted_backend == self.backend
            and self.n_estimators >= self.n_estimators_
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the booster, holding out ``validation_fraction`` of the rows for early stopping.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            DataFrame ``category`` columns are used as native categorical features.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the training rows and the early-stopping metric.

        Returns
        -------
        self : object
        """
        grow = self._can_grow()
        X, y, sample_weight = validate_Xy(self, X, y, sample_weight)
        if grow:
            if self.n_estimators == self.n_estimators_:
                return self
            return self._grow(X, y, sample_weight)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.device_ = resolve_device(self.backend, self.device)
        model = self._new_model(self.device_, self.n_estimators, seed)
        fit_kw = {}
        X_fit, y_fit, sw_fit = X, y, sample_weight
        self.validation_indices_ = None
        if self.early_stopping:
            train, val = self._split(len(y), rng)
            self.validation_indices_ = val
            X_fit, y_fit = _safe_indexing(X, train), y[train]
            X_val, y_val = _safe_indexing(X, val), y[val]
            sw_fit = None if sample_weight is None else sample_weight[train]
            sw_val = None if sample_weight is None else sample_weight[val]
            if self.backend == "xgboost":
                fit_kw["eval_set"] = [(X_val, y_val)]
                fit_kw["verbose"] = False
                if sw_val is not None:
                    fit_kw["sample_weight_eval_set"] = [sw_val]
            else:
                import lightgbm as lgb

                fit_kw.update(_lightgbm_eval_kwargs(X_val, y_val))
                fit_kw["eval_metric"] = "l2"
                fit_kw["callbacks"] = [lgb.early_stopping(self.n_iter_no_change, verbose=False)]
                if sw_val is not None:
                    fit_kw["eval_sample_weight"] = [sw_val]
        model.fit(X_fit, y_fit, sample_weight=sw_fit, **fit_kw)
        self._set_fitted(model)
        return self

    def _new_model(self, device, n_estimators, seed):
        kw = self._library_kwargs(device, n_estimators, seed)
        if self.backend == "xgboost":
            import xgboost as xgb

            return xgb.XGBRegressor(**kw)
        import lightgbm as lgb

        return lgb.LGBMRegressor(**kw)

    def _grow(self, X, y, sample_weight):
        extra = self.n_estimators - self.n_estimators_
        old = self.model_
        seed = old.get_params()["random_state"]
        model = self._new_model(self.device_, extra, seed)
        if self.backend == "xgboost":
            model.fit(X, y, sample_weight=sample_weight, xgb_model=old.get_booster())
        else:
            model.fit(X, y, sample_weight=sample_weight, init_model=old.booster_)
        self._set_fitted(model)
        return self

    def _set_fitted(self, model):
        if self.backend == "xgboost":
            total = model.get_booster().num_boosted_rounds()
            best = getattr(model, "best_iteration", None) if self.early_stopping else None
            self.best_iteration_ = total if best is None else int(best) + 1
            if self.device_ != "cpu":
                model.set_params(device="cpu")
        else:
            total = model.booster_.current_iteration()
            best = model.best_iteration_ if self.early_stopping else 0
            self.best_iteration_ = int(best) if best else total
        self.n_estimators_ = int(total)
        self.model_ = model
        self._fitted_backend = self.backend

    @property
    def feature_importances_(self) -> np.ndarray:
        """Total gain per feature, normalized to sum to 1."""
        check_is_fitted(self, "model_")
        imp = np.asarray(self.model_.feature_importances_, dtype=np.float64)
        s = imp.sum()
        return imp / s if s > 0 else imp

    def predict(self, X):
        """Predict with the first ``best_iteration_`` trees.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "model_")
        X = validate_X(self, X, reset=False)
        if self.backend == "xgboost":
            return self.model_.predict(X, iteration_range=(0, self.best_iteration_))
        return self.model_.predict(X, num_iteration=self.best_iteration_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
