"""Gradient boosting over XGBoost and LightGBM under one set of names, leak-free early stopping.

The two libraries are *backend adapters* (:class:`_XGBoost`, :class:`_LightGBM`) with the same
small interface; which library parameter each of our parameters becomes is one table,
:data:`PARAM_MAP`. The estimators (:class:`BoostingRegressor`, :class:`BoostingClassifier`)
never ask which library they drive.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, _fit_context, _safe_indexing
from ._base import ArrayLike, _is_dataframe, prepare_fit, validate_X
from ._device import resolve_device

# Our name -> (XGBoost name, LightGBM name): the one place where the two libraries' parameter
# names are told apart. A None value of ours is not passed (the library's default applies).
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
# Set by the estimators themselves; passing them through ``params`` would be ambiguous.
_RESERVED = {
    *(n for pair in PARAM_MAP.values() for n in pair),
    "early_stopping_rounds", "callbacks", "eval_set", "enable_categorical", "device_type",
    "n_iter_no_change", "validation_fraction", "early_stopping", "importance_type",
    "num_boost_round", "num_iterations", "seed", "eval_metric", "metric",
}
# Classifiers also choose the objective (binary or multiclass) for the user.
_RESERVED_CLASSIFIER = {"objective", "num_class", "class_weight"}


class _XGBoost:
    """The XGBoost side: ``XGBRegressor``/``XGBClassifier`` with the hist method."""

    name = "xgboost"
    column = 0
    fixed = {"tree_method": "hist", "enable_categorical": True, "importance_type": "total_gain"}
    metrics = {"regression": "rmse", "binary": "logloss", "multiclass": "mlogloss"}

    @staticmethod
    def model_class(classifier: bool):
        import xgboost as xgb

        return xgb.XGBClassifier if classifier else xgb.XGBRegressor

    def constructor_kwargs(self, est, metric: str) -> dict:
        # Since XGBoost 1.6 early stopping is set on the constructor (fit's argument is gone).
        if not est.early_stopping:
            return {}
        return {"early_stopping_rounds": est.n_iter_no_change, "eval_metric": metric}

    @staticmethod
    def eval_fit_kwargs(X_val, y_val, sw_val, patience: int) -> dict:
        kw = {"eval_set": [(X_val, y_val)], "verbose": False}
        if sw_val is not None:
            kw["sample_weight_eval_set"] = [sw_val]
        return kw

    @staticmethod
    def rounds(model, early_stopping: bool) -> tuple[int, int]:
        """(rounds predict uses, rounds trained)."""
        total = int(model.get_booster().num_boosted_rounds())
        best = getattr(model, "best_iteration", None) if early_stopping else None
        return (total if best is None else int(best) + 1), total

    @staticmethod
    def to_host(model, device: str) -> None:
        # Predicting on host data with a GPU model makes XGBoost copy the data and warn
        # ("mismatched devices", dmlc/xgboost#9594); the trees are the same on the CPU.
        if device != "cpu":
            model.set_params(device="cpu")

    @staticmethod
    def predict_kwargs(n_rounds: int) -> dict:
        return {"iteration_range": (0, n_rounds)}

    @staticmethod
    def shared_input(X, models):
        """One ``DMatrix`` for several fitted models: the frame is converted once."""
        import xgboost as xgb

        return xgb.DMatrix(X, enable_categorical=True, nthread=1)

    @staticmethod
    def raw_predict(model, data, n_rounds: int) -> np.ndarray:
        """What ``predict_proba`` computes from (two classes: the second class's column)."""
        return model.get_booster().predict(data, iteration_range=(0, n_rounds))

    @staticmethod
    def grow_kwargs(model) -> dict:
        return {"xgb_model": model.get_booster()}

    @staticmethod
    def curves(model) -> dict:
        """The validation curve of each metric (``{}`` without an evaluation set)."""
        try:
            result = model.evals_result()
        except Exception:  # XGBoost raises when fitted without eval_set
            return {}
        return next(iter(result.values()), {})

    @staticmethod
    def seed_of(model) -> int:
        return model.get_params()["random_state"]

    @staticmethod
    def match_format(X, fitted_sparse: bool):
        """XGBoost reads entries absent from a sparse matrix as *missing*, dense zeros as 0.

        A model fitted on one format and given the other would read the zeros differently (a
        silent error of whole trees' worth); predict input is converted to the fit's format.
        """
        if fitted_sparse and not sparse.issparse(X):
            return sparse.csr_matrix(X)
        if not fitted_sparse and sparse.issparse(X):
            return X.toarray()
        return X


class _LightGBM:
    """The LightGBM side: ``LGBMRegressor``/``LGBMClassifier``."""

    name = "lightgbm"
    column = 1
    fixed = {"verbose": -1, "importance_type": "gain"}
    metrics = {"regression": "rmse", "binary": "binary_logloss", "multiclass": "multi_logloss"}

    @staticmethod
    def model_class(classifier: bool):
        import lightgbm as lgb

        return lgb.LGBMClassifier if classifier else lgb.LGBMRegressor

    def constructor_kwargs(self, est, metric: str) -> dict:
        # LightGBM ignores subsample unless bagging is switched on with a frequency.
        kw = {"subsample_freq": 1 if est.subsample < 1.0 else 0}
        if est.early_stopping:
            # One metric, so that early stopping watches exactly it (as XGBoost's last one).
            kw["metric"] = metric
        return kw

    @staticmethod
    def eval_fit_kwargs(X_val, y_val, sw_val, patience: int) -> dict:
        import lightgbm as lgb

        # LightGBM >= 4.7 deprecates eval_set for eval_X/eval_y (LightGBM#6857).
        if "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters:
            kw = {"eval_X": (X_val,), "eval_y": (y_val,)}
        else:  # pragma: no cover - older LightGBM
            kw = {"eval_set": [(X_val, y_val)]}
        kw["callbacks"] = [lgb.early_stopping(patience, verbose=False)]
        if sw_val is not None:
            kw["eval_sample_weight"] = [sw_val]
        return kw

    @staticmethod
    def rounds(model, early_stopping: bool) -> tuple[int, int]:
        total = int(model.booster_.current_iteration())
        best = model.best_iteration_ if early_stopping else 0
        return (int(best) if best else total), total

    @staticmethod
    def to_host(model, device: str) -> None:
        """LightGBM models predict on the CPU whatever they were trained on."""

    @staticmethod
    def predict_kwargs(n_rounds: int) -> dict:
        return {"num_iteration": n_rounds}

    @staticmethod
    def shared_input(X, models):
        """The float array LightGBM makes of a frame (categories as codes, missing as NaN).

        None unless every model learned the frame's categories (then their codes agree).
        """
        if not _is_dataframe(X):
            return X
        cat_cols = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        learned = [list(X[c].cat.categories) for c in cat_cols]
        for model in models:
            if (getattr(model.model_.booster_, "pandas_categorical", None) or []) != learned:
                return None
        values = {c: (X[c].cat.codes.to_numpy(np.float64) if c in cat_cols
                      else X[c].to_numpy(np.float64, na_value=np.nan)) for c in X.columns}
        for c in cat_cols:
            values[c][values[c] < 0] = np.nan
        return np.column_stack(list(values.values()))

    @staticmethod
    def raw_predict(model, data, n_rounds: int) -> np.ndarray:
        return model.booster_.predict(data, num_iteration=n_rounds)

    @staticmethod
    def grow_kwargs(model) -> dict:
        return {"init_model": model.booster_}

    @staticmethod
    def curves(model) -> dict:
        return dict(next(iter(getattr(model, "evals_result_", {}).values()), {}))

    @staticmethod
    def seed_of(model) -> int:
        return model.get_params()["random_state"]

    @staticmethod
    def match_format(X, fitted_sparse: bool):
        """LightGBM reads sparse zeros as zeros: both formats give the same model."""
        return X


BACKENDS = {"xgboost": _XGBoost(), "lightgbm": _LightGBM()}


# -------------------------------------------------------------------------------------------------
# Input preparation shared by both backends: text columns, infinities, sparse data
# -------------------------------------------------------------------------------------------------


def _column_kind(s: pd.Series) -> str:
    """``"category"``, ``"number"`` or ``"text"`` (how the column reaches the booster)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return "number"
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        # An object column of numbers (e.g. after a concat) is numbers, not text.
        as_num = pd.to_numeric(s, errors="coerce")
        return "number" if as_num.notna().sum() == s.notna().sum() else "text"
    raise ValueError(
        f"X column {s.name!r} has dtype {s.dtype}, which the boosters cannot use; convert it to "
        "numbers (e.g. a date to days since a reference day) or to a pandas category."
    )


def _check_no_inf(values, name, est_name: str) -> None:
    values = np.asarray(values)
    if values.dtype.kind not in "fc":
        return
    n_inf = int(np.isinf(values).sum())
    if n_inf:
        raise ValueError(
            f"{est_name}: X column {name!r} holds {n_inf} infinite value(s) (inf or -inf), which "
            "XGBoost rejects and LightGBM treats as a huge number. Replace them, e.g. with "
            "X.replace([np.inf, -np.inf], np.nan): NaN is a missing value for both backends."
        )


def _reject_objects(X: np.ndarray, name: str) -> None:
    """An object array that is not all numbers: name the first bad cell."""
    for (_, j), v in np.ndenumerate(X):
        if isinstance(v, (str, bytes)):
            try:
                float(v)
            except ValueError:
                raise ValueError(
                    f"{name}: X column {j} holds text ({v!r}); pass a pandas DataFrame, whose "
                    "text columns become categories, or encode the column."
                ) from None
        else:
            try:
                float(v)
            except TypeError as exc:
                # The message keeps float()'s wording ("argument must be a string or a real
                # number"), which callers such as scikit-learn's checks look for.
                raise TypeError(f"{name}: X column {j} holds {v!r}: {exc}") from None


def _as_text(s: pd.Series) -> pd.Series:
    return s.astype(object).map(str, na_action="ignore")


class _FramePlan:
    """How each DataFrame column is prepared, learned at fit and replayed at predict.

    Text columns (``object`` or ``str``, as ``pd.read_csv`` returns them) become pandas
    categories with the categories seen at fit; at predict the same categories are imposed,
    so text, or categories listed in another order, give the same codes. Values never seen
    at fit become missing (NaN), as in scikit-learn's HistGradientBoosting.
    """

    def __init__(self, X: pd.DataFrame):
        self.kinds = {}
        self.categories = {}
        for col in X.columns:
            s = X[col]
            kind = _column_kind(s)
            self.kinds[col] = kind
            if kind == "category":
                self.categories[col] = s.cat.categories
            elif kind == "text":
                self.categories[col] = pd.Index(sorted(_as_text(s).dropna().unique()))

    def apply(self, X: pd.DataFrame, est_name: str) -> pd.DataFrame:
        out = {}
        for col, kind in self.kinds.items():
            s = X[col]
            if kind == "number":
                if not (pd.api.types.is_numeric_dtype(s.dtype)
                        or pd.api.types.is_bool_dtype(s.dtype)):
                    s = out[col] = self._numbers(s, col, est_name)
                _check_no_inf(s.to_numpy(), col, est_name)
            else:
                cats = self.categories[col]
                if not (isinstance(s.dtype, pd.CategoricalDtype)
                        and s.cat.categories.equals(cats)):
                    s = _as_text(s) if kind == "text" else s.astype(object)
                    # Unseen values become missing explicitly (pandas 4 will refuse to cast them).
                    out[col] = s.where(s.isin(cats)).astype(pd.CategoricalDtype(cats))
        return X.assign(**out) if out else X

    @staticmethod
    def _numbers(s, col, est_name):
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        num = pd.to_numeric(s, errors="coerce")
        bad = s[num.isna() & s.notna()]
        if len(bad):
            raise ValueError(
                f"{est_name}: X column {col!r} was numeric at fit but holds text such as "
                f"{bad.iloc[0]!r}; convert it, e.g. pd.to_numeric(X[{col!r}], errors='coerce')."
            )
        return num.astype(np.float64)


def _prepare_X(est, X, *, fit: bool):
    """Validate X for a booster: DataFrame columns per :class:`_FramePlan`, no inf anywhere."""
    name = type(est).__name__
    if _is_dataframe(X):
        if fit:
            est._frame_plan = _FramePlan(X)
            est.categories_ = dict(est._frame_plan.categories)
        plan = getattr(est, "_frame_plan", None)
        if plan is not None:
            return plan.apply(X, name)
        # Fitted on an array: the frame's values are what the array held.
        X = validate_X(est, X.to_numpy(), reset=False)
    elif fit:
        est._frame_plan = None
        est.__dict__.pop("categories_", None)
    if sparse.issparse(X):
        _check_no_inf(X.data, "(sparse)", name)
        return X
    if X.dtype.kind == "O":
        _reject_objects(X, name)
    for j in np.flatnonzero(np.isinf(X).any(axis=0)) if X.dtype.kind in "fc" else []:
        _check_no_inf(X[:, j], int(j), name)
    return X


# -------------------------------------------------------------------------------------------------
# The estimators
# -------------------------------------------------------------------------------------------------


class _BaseBoosting(BaseEstimator):
    """What regression and classification boosting share: parameters, early stopping, growth."""

    _parameter_constraints: dict = {
        "backend": [StrOptions(set(BACKENDS))],
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

    @property
    def _backend(self):
        return BACKENDS[self.backend]

    def _task_name(self) -> str:
        return "regression"

    def _library_kwargs(self, device: str, n_estimators: int, seed: int) -> dict:
        extra = dict(self.params or {})
        reserved = _RESERVED | (_RESERVED_CLASSIFIER if self._task_name() != "regression"
                                else set())
        clash = sorted(set(extra) & reserved)
        if clash:
            raise ValueError(
                f"params must not set {clash}: use {type(self).__name__}'s own parameters "
                "instead."
            )
        ours = {
            "n_estimators": n_estimators,
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "num_leaves": self.num_leaves,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "reg_alpha": self.reg_alpha,
            "reg_lambda": self.reg_lambda,
            "min_child_weight": self.min_child_weight,
            "random_state": seed,
            "n_jobs": self.n_jobs,
            "device": device,
        }
        backend = self._backend
        kw = {PARAM_MAP[k][backend.column]: v for k, v in ours.items() if v is not None}
        kw.update(backend.fixed)
        kw.update(backend.constructor_kwargs(self, backend.metrics[self._task_name()]))
        kw.update(extra)
        return kw

    def _new_model(self, device, n_estimators, seed):
        cls = self._backend.model_class(self._task_name() != "regression")
        return cls(**self._library_kwargs(device, n_estimators, seed))

    def _split(self, y, rng, stratify: bool):
        """Training and early-stopping rows (stratified for classifiers)."""
        n = len(y)
        n_val = max(1, int(np.ceil(self.validation_fraction * n)))
        if not stratify:
            if n - n_val < 1:
                raise ValueError(
                    f"early_stopping needs at least 2 samples to hold out a validation row, got "
                    f"n_samples={n}; set early_stopping=False."
                )
            perm = rng.permutation(n)
            return np.sort(perm[n_val:]), np.sort(perm[:n_val])
        counts = np.bincount(y)
        rare = int(np.argmin(counts))
        if counts[rare] < 2:
            raise ValueError(
                f"early_stopping holds out a stratified validation_fraction="
                f"{self.validation_fraction} of the rows, but class "
                f"{self.classes_.tolist()[rare]!r} has only {counts[rare]} sample: too few to be "
                "on both sides. Set "
                "early_stopping=False, or collect more samples of that class."
            )
        K = len(counts)
        n_val = max(n_val, K)
        if n - n_val < K:
            raise ValueError(
                f"early_stopping needs a stratified validation set with every class and a "
                f"training set with every class: {n} samples of {K} classes are too few; set "
                "early_stopping=False."
            )
        train, val = train_test_split(
            np.arange(n), test_size=n_val, stratify=y,
            random_state=int(rng.randint(np.iinfo(np.int32).max)),
        )
        return np.sort(train), np.sort(val)

    def _can_grow(self) -> bool:
        return (
            self.warm_start
            and not self.early_stopping
            and hasattr(self, "model_")
            and self._fitted_backend == self.backend
            and self.n_estimators >= self.n_estimators_
        )

    def _fit(self, X, y, sample_weight):
        grow = self._can_grow()
        X, y, sample_weight, task = prepare_fit(self, X, y, sample_weight)
        X = _prepare_X(self, X, fit=True)
        self._fitted_sparse = sparse.issparse(X)
        classifier = task.classes is not None
        if classifier:
            self.classes_ = task.classes
            sample_weight = self._with_class_weight(y, sample_weight)
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
            train, val = self._split(y, rng, stratify=classifier)
            self.validation_indices_ = val
            X_fit, y_fit = _safe_indexing(X, train), y[train]
            sw_fit = None if sample_weight is None else sample_weight[train]
            sw_val = None if sample_weight is None else sample_weight[val]
            fit_kw = self._backend.eval_fit_kwargs(
                _safe_indexing(X, val), y[val], sw_val, self.n_iter_no_change)
        model.fit(X_fit, y_fit, sample_weight=sw_fit, **fit_kw)
        self._set_fitted(model)
        return self

    def _with_class_weight(self, y, sample_weight):
        return sample_weight

    def _grow(self, X, y, sample_weight):
        extra = self.n_estimators - self.n_estimators_
        backend = self._backend
        model = self._new_model(self.device_, extra, backend.seed_of(self.model_))
        model.fit(X, y, sample_weight=sample_weight, **backend.grow_kwargs(self.model_))
        self._set_fitted(model)
        return self

    def _set_fitted(self, model):
        backend = self._backend
        self.best_iteration_, kept = backend.rounds(model, self.early_stopping)
        backend.to_host(model, self.device_)
        # One spelling for both libraries: the metric's name without the library's prefix.
        metric = backend.metrics[self._task_name()]
        curve = backend.curves(model).get(metric)
        plain = "rmse" if self._task_name() == "regression" else "logloss"
        self.evals_result_ = {} if curve is None else {"validation": {plain: list(curve)}}
        # LightGBM keeps only the best rounds of an early-stopped model; the curve tells how
        # many were trained, as XGBoost's booster does.
        self.n_estimators_ = max(kept, 0 if curve is None else len(curve))
        self.model_ = model
        self._fitted_backend = self.backend

    @property
    def feature_importances_(self) -> np.ndarray:
        """Total gain per feature, normalized to sum to 1."""
        check_is_fitted(self, "model_")
        imp = np.asarray(self.model_.feature_importances_, dtype=np.float64)
        s = imp.sum()
        return imp / s if s > 0 else imp

    def _library_predict(self, method: str, X):
        check_is_fitted(self, "model_")
        X = _prepare_X(self, validate_X(self, X, reset=False), fit=False)
        X = self._backend.match_format(X, self._fitted_sparse)
        kw = self._backend.predict_kwargs(self.best_iteration_)
        return getattr(self.model_, method)(X, **kw)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags


_SHARED_PARAMS_DOC = """
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
        Share of the ``fit`` rows held out for early stopping (at least one row%s).
    n_iter_no_change : int, default=10
        Rounds without improvement of the validation %s before stopping.
    warm_start : bool, default=False
        See "Growing a model" above.
    n_jobs : int, default=None
        Threads of the library (``None``: its default, all cores). Use 1 inside a parallel
        ensemble.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split and the library.
    params : dict, default=None
        Extra constructor arguments for the library (e.g. ``{"max_bin": 127}``)."""

_SHARED_ATTRS_DOC = """
    model_ : %s
        The fitted library model.
    device_ : str
        Device the model was trained on (``"cpu"``, ``"cuda"`` or LightGBM's ``"gpu"``).
    best_iteration_ : int
        Number of boosting rounds used by ``predict`` (1-based: the best round's count with
        early stopping, else all rounds trained).
    n_estimators_ : int
        Rounds actually trained (can exceed ``best_iteration_`` by up to
        ``n_iter_no_change``; LightGBM keeps only the first ``best_iteration_`` of them).
    validation_indices_ : ndarray of int or None
        Rows of the ``fit`` data used for early stopping.
    evals_result_ : dict
        The early-stopping curve under one name for both backends,
        ``{"validation": {"%s": [value after each round, ...]}}``; ``{}`` without early
        stopping.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Total gain per feature, normalized to sum to 1.
    categories_ : dict
        Only when fitted on a DataFrame: the categories of each categorical or text column,
        imposed again at predict time.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)"""

_INPUT_DOC = """
    Input: NumPy arrays, sparse matrices and DataFrames. Entries absent from a sparse matrix
    are zeros for LightGBM but *missing* values for XGBoost (each library's rule); with
    XGBoost, predict input is converted to the format seen at fit, so that the zeros are read
    the same way. DataFrame ``category`` columns are native categorical features for both
    libraries, and text columns (``object`` or ``str``, as ``pd.read_csv`` returns them) become
    categories; at predict time each such column gets the categories seen at fit (unseen values
    become missing), so text, categories or a different category order give the same model.
    NaN means missing for both libraries; ``inf`` is an error for both (XGBoost rejects it,
    LightGBM would silently treat it as a huge number)."""


class BoostingRegressor(RegressorMixin, _BaseBoosting):
    __doc__ = """Gradient-boosted trees through XGBoost or LightGBM under one set of names.

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
                          eval_set, metric rmse        eval set, metric rmse
    ====================  ===========================  ==================================

    XGBoost always runs with ``tree_method="hist"`` and ``enable_categorical=True``; LightGBM
    with ``verbose=-1``. Anything else goes through ``params`` to the library's constructor.
    {}

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
    ----------{}

    Attributes
    ----------{}

    See Also
    --------
    BoostingClassifier : the same for class labels.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from ensemblekit.ensembles import BoostingRegressor
    >>> X, y = make_regression(n_samples=300, n_features=5, noise=1.0, random_state=0)
    >>> model = BoostingRegressor("lightgbm", device="cpu", n_estimators=50, n_jobs=1,
    ...                           random_state=0).fit(X, y)
    >>> model.best_iteration_ <= 50, list(model.evals_result_["validation"])
    (True, ['rmse'])
    """.format(_INPUT_DOC, _SHARED_PARAMS_DOC % ("", "RMSE"),
               _SHARED_ATTRS_DOC % ("xgboost.XGBRegressor or lightgbm.LGBMRegressor", "rmse"))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> BoostingRegressor:
        """Fit the booster, holding out ``validation_fraction`` of the rows for early stopping.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Numbers (text is an error naming a value).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the training rows and the early-stopping metric.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict with the first ``best_iteration_`` trees.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._library_predict("predict", X)


class BoostingClassifier(ClassifierMixin, _BaseBoosting):
    __doc__ = """Gradient-boosted tree classifier through XGBoost or LightGBM, one set of names.

    The parameters are :class:`BoostingRegressor`'s (same mapping to each library), plus
    ``class_weight``. What the libraries leave to the user is done here:

    - any labels (strings, non-contiguous integers): they are encoded as ``0..K-1`` for the
      library, which ``XGBClassifier`` requires, and decoded by ``predict``;
    - the objective and the early-stopping metric follow the number of classes: binary
      logistic and log loss for two, softmax and multiclass log loss for more;
    - early stopping holds out a **stratified** ``validation_fraction`` of the ``fit`` rows
      (every class on both sides), never rows outside ``fit``, so it is leak-free inside
      cross-validation and stacking.
    {}

    Class weights multiply ``sample_weight``. As both libraries' documentation warns, weighted
    classes shift the predicted probabilities away from the observed frequencies: leave
    ``class_weight=None`` when calibrated probabilities matter (log loss, stacking), and
    reweight or move the decision threshold afterwards instead.

    Parameters
    ----------{}
    class_weight : dict, "balanced" or None, default=None
        Weights per class label (``"balanced"``: ``n_samples / (n_classes * count)``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, in the order of ``predict_proba``'s columns.{}

    See Also
    --------
    BoostingRegressor : the parameter mapping table.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from ensemblekit.ensembles import BoostingClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> labels = ["bad", "good"]
    >>> model = BoostingClassifier("xgboost", device="cpu", n_estimators=50, n_jobs=1,
    ...                            random_state=0).fit(X, [labels[v] for v in y])
    >>> model.classes_.tolist(), model.predict_proba(X[:2]).shape
    (['bad', 'good'], (2, 2))
    """.format(
        _INPUT_DOC,
        _SHARED_PARAMS_DOC % (" per class, stratified", "log loss"),
        _SHARED_ATTRS_DOC % ("xgboost.XGBClassifier or lightgbm.LGBMClassifier", "logloss"),
    )

    _parameter_constraints: dict = {
        **_BaseBoosting._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
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
        class_weight=None,
    ):
        super().__init__(
            backend, device=device, n_estimators=n_estimators, learning_rate=learning_rate,
            max_depth=max_depth, num_leaves=num_leaves, subsample=subsample,
            colsample_bytree=colsample_bytree, reg_alpha=reg_alpha, reg_lambda=reg_lambda,
            min_child_weight=min_child_weight, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            warm_start=warm_start, n_jobs=n_jobs, random_state=random_state, params=params,
        )
        self.class_weight = class_weight

    def _task_name(self) -> str:
        return "binary" if len(self.classes_) == 2 else "multiclass"

    def _with_class_weight(self, y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        weights = self.class_weight
        if isinstance(weights, dict):
            unknown = [k for k in weights if k not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names label(s) {unknown} that are not in y (classes: "
                    f"{self.classes_.tolist()})."
                )
            codes = {c: i for i, c in enumerate(self.classes_.tolist())}
            weights = {codes[k]: v for k, v in weights.items()}
        cw = compute_sample_weight(weights, y)
        return cw if sample_weight is None else cw * sample_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> BoostingClassifier:
        """Fit the booster, holding out a stratified ``validation_fraction`` for early stopping.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights the training rows and the early-stopping metric.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities from the first ``best_iteration_`` trees.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        proba = np.asarray(self._library_predict("predict_proba", X), dtype=np.float64)
        # The libraries compute in float32: rows would sum to 1 only to ~1e-7.
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class label.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _same_plan(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a.kinds == b.kinds and all(
        a.categories[c].equals(b.categories[c]) for c in a.categories
    )


def shared_predict_proba(models, X) -> list[np.ndarray] | None:
    """``[m.predict_proba(X) for m in models]`` with ``X`` prepared and converted once.

    For the fold models of a bagged booster (``refit="average"``): each model's own call would
    check the frame, impose the categories and convert it to the library's format again, which
    on credit_data's 900 rows costs as much as the trees. None when the models do not share
    one input (another estimator, another backend, other categories learned): call them one
    by one then. Same numbers as the one-by-one calls, computed from the same library arrays.
    """
    first = models[0] if models else None
    if not isinstance(first, BoostingClassifier) or not hasattr(first, "model_"):
        return None
    for model in models:
        if (type(model) is not type(first) or not hasattr(model, "model_")
                or model._fitted_backend != first._fitted_backend
                or model._fitted_sparse != first._fitted_sparse
                or len(model.classes_) != len(first.classes_)
                or not _same_plan(getattr(model, "_frame_plan", None),
                                  getattr(first, "_frame_plan", None))):
            return None
    backend = BACKENDS[first._fitted_backend]
    X = _prepare_X(first, validate_X(first, X, reset=False), fit=False)
    data = backend.shared_input(backend.match_format(X, first._fitted_sparse), models)
    if data is None:
        return None
    out = []
    for model in models:
        raw = backend.raw_predict(model.model_, data, model.best_iteration_)
        # As the libraries' predict_proba: the two-class column pair in the library's dtype.
        proba = np.vstack((1 - raw, raw)).T if raw.ndim == 1 else raw
        proba = np.asarray(proba, dtype=np.float64)
        out.append(proba / proba.sum(axis=1, keepdims=True))
    return out
