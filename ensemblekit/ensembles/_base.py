"""Shared machinery of the ensembles: input validation, member fits on folds, OOF assembly.

Every ensemble in this subpackage reduces to the same job list: fit each member on the training
rows of each split (and optionally on all rows), predict the split's held-out rows. All the jobs
go to one flat joblib batch so that cheap and expensive members share the workers evenly.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.model_selection import KFold, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    has_fit_parameter,
)

from .._compat import (
    StrOptions,
    _BaseHeterogeneousEnsemble,
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    _check_y,
    _safe_indexing,
)


def _is_dataframe(X) -> bool:
    return hasattr(X, "iloc") and hasattr(X, "columns")


def validate_X(estimator, X, *, reset: bool):
    """Check X without destroying what members need from it.

    DataFrames are passed to the members untouched, so that categorical columns reach the
    boosters natively; only the feature names and count are recorded and checked. Anything
    else becomes an array (NaN allowed: members such as the boosters handle it, and members
    that cannot will raise their own error).
    """
    _check_feature_names(estimator, X, reset=reset)
    if _is_dataframe(X):
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(
                f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
                "while a minimum of 1 is required."
            )
    else:
        X = check_array(X, dtype=None, ensure_all_finite=False, accept_sparse=False)
        if X.dtype.kind == "O":
            # An object array of numbers (e.g. a list mixing ints and floats) should reach
            # the members as floats; strings are left for the members to reject.
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError):
                pass
    _check_n_features(estimator, X, reset=reset)
    return X


def validate_Xy(estimator, X, y, sample_weight=None):
    """Validate the training data of an ensemble; return X (DataFrame kept), y, weights."""
    X = validate_X(estimator, X, reset=True)
    y = _check_y(y, multi_output=False, y_numeric=True, estimator=estimator)
    check_consistent_length(X, y)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X)
    return X, y, sample_weight


def resolve_cv(cv, random_state):
    """An int means shuffled KFold, so that every member sees the same shuffled folds.

    scikit-learn's own default is an unshuffled KFold, which silently gives correlated folds on
    sorted data (see the pitfalls of Serigne's Ames kernel).
    """
    if cv is None:
        cv = 5
    if isinstance(cv, Integral):
        return KFold(n_splits=int(cv), shuffle=True, random_state=random_state)
    return check_cv(cv)


def check_members_accept_weight(named_members, sample_weight) -> None:
    """Fail before any fit if a member cannot take the sample weights given."""
    if sample_weight is None:
        return
    for name, est in named_members:
        if _weight_route(est) is None:
            raise TypeError(
                f"Member {name!r} ({type(est).__name__}) does not accept sample_weight in fit; "
                "remove it from the ensemble or fit without sample_weight."
            )


def _weight_route(estimator) -> str | None:
    """The fit keyword that carries the sample weights to ``estimator`` (None: unsupported)."""
    if isinstance(estimator, Pipeline):
        last_name, last = estimator.steps[-1]
        if last not in (None, "passthrough") and _weight_route(last) is not None:
            return f"{last_name}__sample_weight"
        return None
    if has_fit_parameter(estimator, "sample_weight"):
        return "sample_weight"
    return None


def fit_estimator(estimator, X, y, sample_weight=None):
    """Fit ``estimator`` routing ``sample_weight`` (Pipelines: to their last step)."""
    if sample_weight is None:
        return estimator.fit(X, y)
    return estimator.fit(X, y, **{_weight_route(estimator): sample_weight})


def fit_meta_learner(final_estimator, Z, y, sample_weight=None):
    """Fit a clone of the meta-learner on the members' predictions ``Z``.

    The default, :class:`NonNegativeRidgeCV`, has non-negative weights (and a free
    intercept): the super learner's choice, which keeps a stack from extrapolating on
    correlated member predictions.
    """
    from ._meta import NonNegativeRidgeCV

    final = NonNegativeRidgeCV() if final_estimator is None else final_estimator
    return fit_estimator(clone(final), Z, y, sample_weight)


def _where(name: str, fold) -> str:
    if fold == "predict":
        return f"member {name!r} at predict time"
    if fold is None:
        return f"member {name!r} on the full training data"
    if isinstance(fold, str):
        return f"member {name!r} on {fold}"
    return f"member {name!r} on fold {fold}"


def _reraise(exc: BaseException, name: str, fold, action: str):
    msg = f"{action} failed for {_where(name, fold)}: {type(exc).__name__}: {exc}"
    try:
        # Same type as the original so that callers catching e.g. ValueError still do.
        new = type(exc)(msg)
    except Exception:  # exception types with unusual constructors
        new = RuntimeError(msg)
    raise new from exc


def _fit_predict_job(estimator, X, y, sample_weight, train, test, name, fold, keep=True):
    X_train = X if train is None else _safe_indexing(X, train)
    y_train = y if train is None else y[train]
    sw_train = None
    if sample_weight is not None:
        sw_train = sample_weight if train is None else sample_weight[train]
    try:
        fit_estimator(estimator, X_train, y_train, sw_train)
    except Exception as exc:
        _reraise(exc, name, fold, "fit")
    if test is None:
        return estimator, None
    try:
        pred = estimator.predict(_safe_indexing(X, test))
    except Exception as exc:
        _reraise(exc, name, fold, "predict")
    # Not shipping unneeded fold models back saves pickling whole boosters across processes.
    return (estimator if keep else None), np.asarray(pred, dtype=np.float64)


def check_member_prediction(pred, name: str, fold, n_rows: int) -> np.ndarray:
    """Reject member outputs the meta-level cannot use, naming the member."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if pred.shape != (n_rows,):
        raise ValueError(
            f"{_where(name, fold)} returned predictions of shape {pred.shape}; "
            f"expected ({n_rows},): ensembles here combine single-output regressors."
        )
    bad = ~np.isfinite(pred)
    if bad.any():
        raise ValueError(
            f"{_where(name, fold)} predicted {int(bad.sum())} non-finite value(s) (NaN or inf) "
            f"out of {n_rows}; the ensemble cannot combine them. Fix or drop this member "
            "(e.g. impute its inputs or regularize it)."
        )
    return pred


class FoldResults:
    """What the member-by-split job batch produced."""

    def __init__(self, fold_models, fold_preds, full_models):
        self.fold_models = fold_models  # [member][split] -> fitted estimator
        self.fold_preds = fold_preds  # [member][split] -> predictions on the split's test rows
        self.full_models = full_models  # [member] -> fitted on all rows, or None


def fit_members_on_splits(
    named_members,
    X,
    y,
    sample_weight,
    splits,
    *,
    fit_full: bool,
    n_jobs,
    verbose=0,
    split_labels=None,
    keep_fold_models=True,
) -> FoldResults:
    """Fit every member on every split (and on all rows if ``fit_full``) in one joblib batch.

    ``split_labels`` names the splits in error messages (default: their fold number). With
    ``keep_fold_models=False`` only the fold predictions come back (``fold_models`` is None).
    """
    labels = list(range(len(splits))) if split_labels is None else list(split_labels)
    jobs = []
    # The refits on all rows are the longest jobs: dispatching them first keeps the workers
    # from idling on a long tail at the end of the batch.
    if fit_full:
        jobs += [(i, None, clone(est), None, None, name)
                 for i, (name, est) in enumerate(named_members)]
    for i, (name, est) in enumerate(named_members):
        for k, (train, test) in enumerate(splits):
            jobs.append((i, k, clone(est), train, test, name))
    # One fit per dispatch: joblib's automatic batching groups tasks it sees finish fast, and
    # two fits queued on one worker leave the other idle at the end of the batch.
    out = Parallel(n_jobs=n_jobs, verbose=verbose, batch_size=1)(
        delayed(_fit_predict_job)(
            est, X, y, sample_weight, train, test, name, None if k is None else labels[k],
            keep_fold_models,
        )
        for (_, k, est, train, test, name) in jobs
    )
    m, s = len(named_members), len(splits)
    fold_models = [[None] * s for _ in range(m)]
    fold_preds = [[None] * s for _ in range(m)]
    full_models = [None] * m
    for (i, k, _, _, test, name), (fitted, pred) in zip(jobs, out, strict=True):
        if k is None:
            full_models[i] = fitted
        else:
            fold_models[i][k] = fitted
            fold_preds[i][k] = check_member_prediction(pred, name, labels[k], len(test))
    return FoldResults(fold_models, fold_preds, full_models)


def assemble_oof(fold_preds, splits, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Average each row's held-out predictions over the splits that held it out.

    Rows that no split held out get NaN, never 0: a 0 would be a silently wrong prediction
    for whatever is trained on these columns next (AutoGluon's bagged-ensemble rule).
    """
    m = len(fold_preds)
    total = np.zeros((n_samples, m))
    count = np.zeros(n_samples, dtype=np.int64)
    for k, (_, test) in enumerate(splits):
        test = np.asarray(test)
        count[test] += 1
        for i in range(m):
            total[test, i] += fold_preds[i][k]
    with np.errstate(invalid="ignore", divide="ignore"):
        oof = total / count[:, None]
    oof[count == 0] = np.nan
    return oof, count


class FoldAverage:
    """Predict-time stand-in for a member kept as its fold models (``refit="average"``)."""

    def __init__(self, estimators):
        self.estimators_ = estimators

    def predict(self, X):
        return np.mean([np.asarray(e.predict(X), dtype=np.float64) for e in self.estimators_], 0)

    def __repr__(self):
        return f"FoldAverage(<{len(self.estimators_)} x {type(self.estimators_[0]).__name__}>)"


def member_predictions(named_fitted, X) -> np.ndarray:
    """Column-stack the fitted members' predictions, with the same NaN check as at fit time."""
    n = X.shape[0]
    cols = []
    for name, est in named_fitted:
        try:
            pred = est.predict(X)
        except Exception as exc:
            _reraise(exc, name, "predict", "predict")
        cols.append(check_member_prediction(pred, name, "predict", n))
    return np.column_stack(cols)


def meta_features(X, P: np.ndarray, names, passthrough: bool, prefix: str):
    """Member predictions, with the original features in front when ``passthrough``.

    With a DataFrame the result stays a DataFrame so that categorical columns reach a
    meta-learner that understands them (e.g. a booster).
    """
    if not passthrough:
        return P
    if _is_dataframe(X):
        import pandas as pd

        if not all(isinstance(c, str) for c in X.columns):
            # Mixed int/str column names would make the meta-learner reject the frame.
            X = X.set_axis([str(c) for c in X.columns], axis=1)
        cols = [f"{prefix}_{n}" for n in names]
        extra = pd.DataFrame(P, columns=cols, index=X.index)
        return pd.concat([X, extra], axis=1)
    return np.hstack([np.asarray(X, dtype=np.float64), P])


def validate_final_estimator_input_rows(covered: np.ndarray) -> None:
    if not covered.any():
        raise ValueError(
            "The cross-validation splitter held out no row, so there are no out-of-fold "
            "predictions to train on; use a splitter whose test folds cover the data."
        )


class BaseOOFEnsemble(RegressorMixin, _BaseHeterogeneousEnsemble):
    """Members cross-fitted on shared folds; subclasses decide how to combine the OOF columns."""

    _parameter_constraints: dict = {
        "estimators": [list],
        "cv": ["cv_object"],
        "refit": [StrOptions({"full", "average"})],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _named_members(self):
        names, ests = self._validate_estimators()
        return [(n, e) for n, e in zip(names, ests, strict=True) if e != "drop"]

    def _cross_fit(self, X, y, sample_weight, groups):
        """Fit the members on the shared folds; set ``estimators_`` and ``oof_predictions_``."""
        members = self._named_members()
        check_members_accept_weight(members, sample_weight)
        cv = resolve_cv(self.cv, self.random_state)
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y, groups)]
        res = fit_members_on_splits(
            members,
            X,
            y,
            sample_weight,
            splits,
            fit_full=self.refit == "full",
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            keep_fold_models=self.refit == "average",
        )
        if self.refit == "full":
            self.estimators_ = res.full_models
        else:
            self.estimators_ = [FoldAverage(models) for models in res.fold_models]
        self.member_names_ = [n for n, _ in members]
        self.named_estimators_ = Bunch(
            **dict(zip(self.member_names_, self.estimators_, strict=True))
        )
        self.oof_predictions_, self.oof_counts_ = assemble_oof(res.fold_preds, splits, len(y))
        self.cv_splits_ = splits
        covered = self.oof_counts_ > 0
        validate_final_estimator_input_rows(covered)
        return covered

    def _predict_members(self, X):
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        return X, member_predictions(zip(self.member_names_, self.estimators_, strict=True), X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
