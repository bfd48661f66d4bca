"""Shared machinery of the ensembles: input validation, member fits on folds, OOF assembly.

Every ensemble in this subpackage reduces to the same job list: fit each member on the training
rows of each split (and optionally on all rows), predict the split's held-out rows. All the jobs
go to one flat joblib batch so that cheap and expensive members share the workers evenly.

What differs between regression and classification (the targets, the default folds, which
member method gives the columns, what a valid member output is) lives in two small *task*
objects, :class:`RegressionTask` and :class:`ClassificationTask`; the ensembles themselves are
written once, against the task interface.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch, assert_all_finite, check_random_state
from sklearn.utils.multiclass import check_classification_targets
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

# What fit and predict accept: arrays, lists, DataFrames, sparse matrices (the alias of
# ensemblekit.estimators, repeated so that importing the ensembles does not import them).
ArrayLike = np.ndarray | Any


def _is_dataframe(X) -> bool:
    return hasattr(X, "iloc") and hasattr(X, "columns")


def validate_X(estimator, X, *, reset: bool):
    """Check X without destroying what members need from it.

    DataFrames are passed to the members untouched, so that categorical columns reach the
    boosters natively; only the feature names and count are recorded and checked. Sparse input
    becomes CSR (row slicing per fold is then cheap); anything else becomes an array (NaN
    allowed: members such as the boosters handle it, and members that cannot will raise their
    own error).
    """
    _check_feature_names(estimator, X, reset=reset)
    if _is_dataframe(X):
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(
                f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
                "while a minimum of 1 is required."
            )
    elif sparse.issparse(X):
        X = check_array(X, accept_sparse="csr", dtype=None, ensure_all_finite=False)
    else:
        X = check_array(X, dtype=None, ensure_all_finite=False)
        if X.dtype.kind == "O":
            # An object array of numbers (e.g. a list mixing ints and floats) should reach
            # the members as floats; strings are left for the members to reject.
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError):
                pass
    _check_n_features(estimator, X, reset=reset)
    return X


def numeric_target(estimator, y) -> np.ndarray:
    """A regression target as float64, with one clear error for text labels.

    Without this, a column of strings reaches XGBoost as "Unicode-2 is not supported" (with a
    C++ stack trace) and other members as "could not convert string to float".
    """
    y = _check_y(y, multi_output=False, y_numeric=False, estimator=estimator)
    if y.dtype.kind in "OUS":
        try:
            y = y.astype(np.float64)
            # None in an object array becomes NaN here, after _check_y's finiteness check.
            assert_all_finite(y, input_name="y", estimator_name=type(estimator).__name__)
            return y
        except (TypeError, ValueError):
            if y.dtype.kind == "f":  # converted, but not finite: the check's own message
                raise
            bad = next(v for v in y if not _is_number(v))
            name = type(estimator).__name__
            raise ValueError(
                f"{name} needs a numeric target, but y holds "
                + (f"text such as {str(bad)!r}" if isinstance(bad, (str, bytes))
                   else f"values that are not numbers, such as {bad!r}")
                + f". For class labels use a classifier "
                f"({name.replace('Regressor', 'Classifier')}); for numbers stored as text "
                "convert y first, e.g. pd.to_numeric(y)."
            ) from None
    return y.astype(np.float64, copy=False)


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def class_targets(estimator, y) -> tuple[np.ndarray, np.ndarray]:
    """Encode class labels as ``0..K-1``; return ``(codes, classes)``.

    Members are fitted on the codes (as scikit-learn's ``StackingClassifier`` does), so that
    members which only accept ``0..K-1`` (``XGBClassifier``) work with any labels.
    """
    y = _check_y(y, multi_output=False, y_numeric=False, estimator=estimator)
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    classes = encoder.classes_
    if len(classes) < 2:
        raise ValueError(
            f"{type(estimator).__name__} needs at least 2 classes in y, but y holds one class "
            f"only ({classes.tolist()[0]!r}): there is nothing to classify."
        )
    return encoder.transform(y), classes


def resolve_cv(cv, random_state, classifier: bool = False):
    """An int means shuffled (stratified, for classifiers) folds shared by all members.

    scikit-learn's own default is unshuffled, which silently gives correlated folds on sorted
    data (see the pitfalls of Serigne's Ames kernel).
    """
    if cv is None:
        cv = 5
    if isinstance(cv, Integral):
        splitter = StratifiedKFold if classifier else KFold
        return splitter(n_splits=int(cv), shuffle=True, random_state=random_state)
    return check_cv(cv)


def seed_unseeded(estimator, random_state):
    """Give every ``random_state`` of ``estimator`` that is None a seed drawn from ``random_state``.

    ``random_state`` is an ensemble's (int, RandomState or None); with None nothing changes.
    Parameters the user set are kept: only the unseeded ones would make two fits differ
    (e.g. a booster's early-stopping split). Returns a clone, the original is not touched.
    """
    estimator = clone(estimator)
    if random_state is None:
        return estimator
    rng = check_random_state(random_state)
    params = estimator.get_params(deep=True)
    keys = sorted(k for k in params if k == "random_state" or k.endswith("__random_state"))
    # One draw per key, seeded or not, so that seeding one parameter by hand does not shift
    # the seeds the others get.
    seeds = {k: int(rng.randint(np.iinfo(np.int32).max)) for k in keys}
    unseeded = {k: s for k, s in seeds.items() if params[k] is None}
    if unseeded:
        estimator.set_params(**unseeded)
    return estimator


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


def where(name: str, fold) -> str:
    """How an error message names a member and the data it was fitted on."""
    if fold == "predict":
        return f"member {name!r} at predict time"
    if fold is None:
        return f"member {name!r} on the full training data"
    if isinstance(fold, str):
        return f"member {name!r} on {fold}"
    return f"member {name!r} on fold {fold}"


def _reraise(exc: BaseException, name: str, fold, action: str):
    msg = f"{action} failed for {where(name, fold)}: {type(exc).__name__}: {exc}"
    try:
        # Same type as the original so that callers catching e.g. ValueError still do.
        new = type(exc)(msg)
    except Exception:  # exception types with unusual constructors
        new = RuntimeError(msg)
    raise new from exc


# -------------------------------------------------------------------------------------------------
# Tasks: what regression and classification ensembles expect from their members
# -------------------------------------------------------------------------------------------------


def _check_finite(pred: np.ndarray, name: str, fold, n_rows: int) -> None:
    bad = ~np.isfinite(pred)
    if bad.any():
        raise ValueError(
            f"{where(name, fold)} predicted {int(bad.sum())} non-finite value(s) (NaN or inf) "
            f"on {n_rows} rows; the ensemble cannot combine them. Fix or drop this member "
            "(e.g. impute its inputs or regularize it)."
        )


class RegressionTask:
    """Regression: members are regressors, each gives one column, ``predict``."""

    kind = "regressor"
    classes = None

    @staticmethod
    def is_member(est) -> bool:
        return is_regressor(est)

    @staticmethod
    def default_cv(cv, random_state):
        return resolve_cv(cv, random_state, classifier=False)

    def member_method(self, name, est, allowed) -> str:
        return "predict"

    def width(self, method: str) -> int:
        return 1

    def check_splits(self, splits, y, labels) -> None:
        """Any rows can train a regressor."""

    def check_fitted(self, est, name, fold) -> None:
        """Regressors carry no label set to compare."""

    def check_output(self, pred, name: str, fold, n_rows: int, method: str) -> np.ndarray:
        """Reject member outputs the meta-level cannot use; return them as ``(n_rows, 1)``."""
        pred = np.asarray(pred, dtype=np.float64)
        if pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        if pred.shape != (n_rows,):
            raise ValueError(
                f"{where(name, fold)} returned predictions of shape {pred.shape}; "
                f"expected ({n_rows},): ensembles here combine single-output regressors."
            )
        _check_finite(pred, name, fold, n_rows)
        return pred[:, None]


class ClassificationTask:
    """Classification on ``K`` classes encoded ``0..K-1``.

    Each member contributes a block of columns: its probabilities (``predict_proba``), or its
    ``decision_function`` where it has none. Binary problems keep one column per member (the
    second class's), as the two are redundant; ``K > 2`` classes keep ``K`` columns.
    """

    kind = "classifier"

    def __init__(self, classes):
        self.classes = np.asarray(classes)
        self.n_classes = len(self.classes)

    @staticmethod
    def is_member(est) -> bool:
        return is_classifier(est)

    @staticmethod
    def default_cv(cv, random_state):
        return resolve_cv(cv, random_state, classifier=True)

    def member_method(self, name, est, allowed) -> str:
        for method in allowed:
            if hasattr(est, method):
                return method
        raise ValueError(
            f"Member {name!r} ({type(est).__name__}) has none of {', '.join(allowed)}; "
            "this ensemble combines "
            + ("class probabilities: " if allowed == ("predict_proba",) else "class scores: ")
            + "wrap it in sklearn.calibration.CalibratedClassifierCV or drop it."
        )

    def width(self, method: str) -> int:
        return 1 if self.n_classes == 2 else self.n_classes

    def check_splits(self, splits, y, labels) -> None:
        """Every training part must hold every class, or members would learn fewer classes."""
        counts = np.bincount(y, minlength=self.n_classes)
        for (train, _), label in zip(splits, labels, strict=True):
            present = np.bincount(y[train], minlength=self.n_classes) > 0
            if not present.all():
                k = int(np.flatnonzero(~present)[0])
                on = f"fold {label}" if not isinstance(label, str) else label
                raise ValueError(
                    f"The training rows of {on} hold no sample of class "
                    f"{self.classes.tolist()[k]!r} "
                    f"(y has {counts[k]} of it), so every member would be fitted there without "
                    "that class. Use a stratified splitter (an int cv gives StratifiedKFold), "
                    "fewer folds, or merge the rare class with another."
                )

    def check_fitted(self, est, name, fold) -> None:
        """The member must have learned the ensemble's classes, in the same order."""
        learned = getattr(est, "classes_", None)
        if learned is None:
            return
        learned = np.asarray(learned)
        if np.array_equal(learned, np.arange(self.n_classes)):
            return
        names = self.classes.tolist()
        shown = [
            names[c] if isinstance(c, Integral) and 0 <= c < self.n_classes else c
            for c in learned.tolist()
        ]
        raise ValueError(
            f"{where(name, fold)} learned the classes {shown}, but the ensemble's classes are "
            f"{self.classes.tolist()}: members are fitted on the labels encoded as "
            f"0..{self.n_classes - 1} and must predict all of them, in that order. Drop this "
            "member or fit it on the same labels."
        )

    def check_output(self, pred, name: str, fold, n_rows: int, method: str) -> np.ndarray:
        """Validate a member's probabilities or scores; return its block of columns."""
        pred = np.asarray(pred, dtype=np.float64)
        K = self.n_classes
        if method == "decision_function" and K == 2:
            if pred.ndim == 2 and pred.shape[1] == 1:
                pred = pred[:, 0]
            expected = (n_rows,)
        else:
            expected = (n_rows, K)
        if pred.shape != expected:
            raise ValueError(
                f"{where(name, fold)} returned {method} output of shape {pred.shape}; expected "
                f"{expected} for the ensemble's {K} classes."
            )
        _check_finite(pred, name, fold, n_rows)
        if method == "predict_proba":
            # Rounding can put a probability a few ulps outside; a real excursion is a bug.
            low, high = pred.min(), pred.max()
            if low < -1e-9 or high > 1 + 1e-9:
                raise ValueError(
                    f"{where(name, fold)} returned probabilities outside [0, 1] (min {low:.6g}, "
                    f"max {high:.6g}); its predict_proba is broken. Fix or drop this member "
                    "(a regressor's output is not a probability)."
                )
            pred = np.clip(pred, 0.0, 1.0)
            return pred[:, 1:] if K == 2 else pred
        return pred[:, None] if K == 2 else pred

    def full_proba(self, block: np.ndarray) -> np.ndarray:
        """A member's probability block back to ``(n, K)`` (binary blocks hold one column)."""
        if self.n_classes == 2:
            return np.column_stack([1.0 - block[:, 0], block[:, 0]])
        return block


# -------------------------------------------------------------------------------------------------
# Fits on splits, in one joblib batch
# -------------------------------------------------------------------------------------------------


def _fit_predict_job(estimator, X, y, sample_weight, train, test, name, fold, keep, method, task):
    X_train = X if train is None else _safe_indexing(X, train)
    y_train = y if train is None else y[train]
    sw_train = None
    if sample_weight is not None:
        sw_train = sample_weight if train is None else sample_weight[train]
    try:
        fit_estimator(estimator, X_train, y_train, sw_train)
    except Exception as exc:
        _reraise(exc, name, fold, "fit")
    task.check_fitted(estimator, name, fold)
    if test is None:
        return estimator, None
    try:
        pred = getattr(estimator, method)(_safe_indexing(X, test))
    except Exception as exc:
        _reraise(exc, name, fold, "predict")
    # Not shipping unneeded fold models back saves pickling whole boosters across processes.
    return (estimator if keep else None), np.asarray(pred, dtype=np.float64)


class FoldResults:
    """What the member-by-split job batch produced."""

    def __init__(self, fold_models, fold_preds, full_models):
        self.fold_models = fold_models  # [member][split] -> fitted estimator
        self.fold_preds = fold_preds  # [member][split] -> (n_test, width) block of columns
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
    methods=None,
    task=None,
) -> FoldResults:
    """Fit every member on every split (and on all rows if ``fit_full``) in one joblib batch.

    ``split_labels`` names the splits in error messages (default: their fold number). With
    ``keep_fold_models=False`` only the fold predictions come back (``fold_models`` is None).
    ``methods`` gives the method each member predicts with (default ``predict``), ``task`` the
    checks of fitted members and their outputs (default: regression).
    """
    task = RegressionTask() if task is None else task
    methods = ["predict"] * len(named_members) if methods is None else list(methods)
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
            keep_fold_models, methods[i], task,
        )
        for (i, k, est, train, test, name) in jobs
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
            fold_preds[i][k] = task.check_output(pred, name, labels[k], len(test), methods[i])
    return FoldResults(fold_models, fold_preds, full_models)


def assemble_oof(fold_preds, splits, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Average each row's held-out predictions over the splits that held it out.

    ``fold_preds[i][k]`` is member ``i``'s block of columns on split ``k``'s test rows; the
    blocks are laid side by side. Rows that no split held out get NaN, never 0: a 0 would be a
    silently wrong prediction for whatever is trained on these columns next (AutoGluon's
    bagged-ensemble rule).
    """
    widths = [np.shape(preds[0])[1] for preds in fold_preds]
    starts = np.concatenate([[0], np.cumsum(widths)])
    total = np.zeros((n_samples, int(starts[-1])))
    count = np.zeros(n_samples, dtype=np.int64)
    for k, (_, test) in enumerate(splits):
        test = np.asarray(test)
        count[test] += 1
        for i, preds in enumerate(fold_preds):
            total[test, starts[i]:starts[i + 1]] += preds[k]
    with np.errstate(invalid="ignore", divide="ignore"):
        oof = total / count[:, None]
    oof[count == 0] = np.nan
    return oof, count


def member_predictions(named_fitted, X, methods=None, task=None) -> np.ndarray:
    """The fitted members' blocks of columns side by side, checked as at fit time."""
    task = RegressionTask() if task is None else task
    named_fitted = list(named_fitted)
    methods = ["predict"] * len(named_fitted) if methods is None else methods
    n = X.shape[0]
    cols = []
    for (name, est), method in zip(named_fitted, methods, strict=True):
        try:
            pred = getattr(est, method)(X)
        except Exception as exc:
            _reraise(exc, name, "predict", "predict")
        cols.append(task.check_output(pred, name, "predict", n, method))
    return np.hstack(cols)


def meta_features(X, P: np.ndarray, names, passthrough: bool, prefix: str):
    """Member columns, with the original features in front when ``passthrough``.

    ``names`` names the columns of ``P``. With a DataFrame the result stays a DataFrame so that
    categorical columns reach a meta-learner that understands them (e.g. a booster); sparse
    input stays sparse.
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
    if sparse.issparse(X):
        return sparse.hstack([X, sparse.csr_matrix(P)], format="csr")
    return np.hstack([np.asarray(X, dtype=np.float64), P])


def fit_meta_learner(final_estimator, Z, y, sample_weight=None):
    """Fit a clone of the meta-learner on the members' columns ``Z``."""
    return fit_estimator(clone(final_estimator), Z, y, sample_weight)


def prepare_fit(estimator, X, y, sample_weight):
    """Validate an ensemble's (or booster's) training data; return ``X, y, weights, task``.

    For a classifier ``y`` comes back as codes ``0..K-1`` and ``task.classes`` holds the labels;
    DataFrames are kept (see :func:`validate_X`).
    """
    X = validate_X(estimator, X, reset=True)
    if is_classifier(estimator):
        y, classes = class_targets(estimator, y)
        task = ClassificationTask(classes)
    else:
        y = numeric_target(estimator, y)
        task = RegressionTask()
    check_consistent_length(X, y)
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, X)
    return X, y, sample_weight, task


# -------------------------------------------------------------------------------------------------
# The base of every ensemble of several members
# -------------------------------------------------------------------------------------------------


class BaseOOFEnsemble(_BaseHeterogeneousEnsemble):
    """Members cross-fitted on shared folds; subclasses decide how to combine the OOF columns.

    ``_member_methods`` are the methods tried, in order, for a classifier member's columns
    (regressors always ``predict``); subclasses may override ``_splits`` (blending: one holdout
    split). Sparse and NaN input are accepted when every member accepts them (scikit-learn's
    ``_BaseHeterogeneousEnsemble`` tags).
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "cv": ["cv_object"],
        "refit": [StrOptions({"full", "average"})],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _member_methods = ("predict_proba", "decision_function")

    def _validate_estimators(self):
        # scikit-learn's own check names the class only ("The estimator Ridge should be a
        # classifier"); with two Ridge members the user would not know which one.
        task = ClassificationTask if is_classifier(self) else RegressionTask
        for item in self.estimators if isinstance(self.estimators, list) else []:
            if isinstance(item, (tuple, list)) and len(item) == 2:
                name, est = item
                if est != "drop" and hasattr(est, "fit") and not task.is_member(est):
                    raise ValueError(
                        f"Member {name!r} ({type(est).__name__}) should be a {task.kind}: "
                        f"{type(self).__name__} combines {task.kind}s. Remove it or replace it."
                    )
        return super()._validate_estimators()

    def _named_members(self):
        """The members not dropped, as seeded clones; and the meta-learner's seed.

        With an ensemble ``random_state``, every member parameter ``random_state`` left None
        gets a seed (see :func:`seed_unseeded`), so that a seeded ensemble is reproducible
        even over members such as early-stopping boosters. One seed is drawn per position in
        ``estimators`` (dropped ones included) after the meta-learner's, so that dropping or
        appending a member does not change the others' seeds.
        """
        names, ests = self._validate_estimators()
        seeds = [None] * (len(ests) + 1)
        if self.random_state is not None:
            rng = check_random_state(self.random_state)
            seeds = [int(s) for s in rng.randint(np.iinfo(np.int32).max, size=len(ests) + 1)]
        members = [
            (name, seed_unseeded(est, seed))
            for name, est, seed in zip(names, ests, seeds[1:], strict=True)
            if est != "drop"
        ]
        return members, seeds[0]

    def _refit_mode(self) -> str:
        """``"full"`` or ``"average"`` (blending also reads its deprecated booleans here)."""
        return self.refit

    def _splits(self, X, y, groups):
        """The shared folds, with the label each gets in error messages."""
        cv = self._task.default_cv(self.cv, self.random_state)
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y, groups)]
        return splits, list(range(len(splits)))

    def _cross_fit(self, X, y, sample_weight, groups):
        """Fit the members on the shared folds; set ``estimators_`` and ``oof_predictions_``.

        Returns the mask of rows some fold held out and the seed for the meta-learner.
        """
        members, meta_seed = self._named_members()
        check_members_accept_weight(members, sample_weight)
        refit = self._refit_mode()
        task = self._task
        methods = [task.member_method(n, e, self._member_methods) for n, e in members]
        splits, labels = self._splits(X, y, groups)
        task.check_splits(splits, y, labels)
        res = fit_members_on_splits(
            members,
            X,
            y,
            sample_weight,
            splits,
            fit_full=refit == "full",
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            split_labels=labels,
            keep_fold_models=refit == "average",
            methods=methods,
            task=task,
        )
        self.member_names_ = [n for n, _ in members]
        self.stack_method_ = methods
        self.oof_predictions_, self.oof_counts_ = assemble_oof(res.fold_preds, splits, len(y))
        self.cv_splits_ = splits
        if refit == "full":
            self.estimators_ = res.full_models
        else:
            from ._bagging import bag_from_folds  # _bagging builds on this module

            self.estimators_ = [
                bag_from_folds(self, est, models, splits, res.fold_preds[i], method)
                for i, ((_, est), models, method) in enumerate(
                    zip(members, res.fold_models, methods, strict=True))
            ]
        self.named_estimators_ = Bunch(
            **dict(zip(self.member_names_, self.estimators_, strict=True))
        )
        covered = self.oof_counts_ > 0
        if not covered.any():
            raise ValueError(
                "The cross-validation splitter held out no row, so there are no out-of-fold "
                "predictions to train on; use a splitter whose test folds cover the data."
            )
        return covered, meta_seed

    def _column_names(self):
        """One name per column of ``oof_predictions_``: the member, and the class if several."""
        names = []
        for name, method in zip(self.member_names_, self.stack_method_, strict=True):
            width = self._task.width(method)
            if width == 1:
                names.append(name)
            else:
                names += [f"{name}_{c}" for c in self.classes_]
        return names

    def _predict_members(self, X):
        check_is_fitted(self)
        X = validate_X(self, X, reset=False)
        P = member_predictions(
            zip(self.member_names_, self.estimators_, strict=True), X, self.stack_method_,
            self._task,
        )
        return X, P
