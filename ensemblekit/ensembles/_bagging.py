"""K-fold bagging: one model per fold, averaged, with out-of-fold predictions for free."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import TypeVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    is_classifier,
)
from sklearn.model_selection import RepeatedKFold
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.deprecation import deprecated
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, Hidden, Interval, StrOptions, _fit_context
from ._base import (
    ArrayLike,
    ClassificationTask,
    RegressionTask,
    assemble_oof,
    check_members_accept_weight,
    fit_members_on_splits,
    prepare_fit,
    seed_unseeded,
    validate_X,
)

_Bag = TypeVar("_Bag", bound="_BaseKFoldBagging")


class _BaseKFoldBagging(MetaEstimatorMixin, BaseEstimator):
    """One clone of ``estimator`` per fold of ``cv``; predictions are the fold models' mean."""

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "cv": ["cv_object"],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _check_estimator_kind(self):
        task = ClassificationTask if is_classifier(self) else RegressionTask
        if not task.is_member(self.estimator):
            raise ValueError(
                f"The estimator {type(self.estimator).__name__} should be a {task.kind}: "
                f"{type(self).__name__} bags {task.kind}s."
            )

    def _cv(self, task):
        return task.default_cv(self.cv, self.random_state)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self: _Bag,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        groups: ArrayLike | None = None,
    ) -> _Bag:
        """Fit one clone of ``estimator`` per fold.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Sliced per fold and routed to each fit.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split``.

        Returns
        -------
        self : object
        """
        self._check_estimator_kind()
        X, y_fit, sample_weight, task = prepare_fit(self, X, y, sample_weight)
        seed = None
        if self.random_state is not None:
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        member = [("estimator", seed_unseeded(self.estimator, seed))]
        check_members_accept_weight(member, sample_weight)
        method = task.member_method("estimator", self.estimator, self._methods)
        splits = [(np.asarray(tr), np.asarray(te))
                  for tr, te in self._cv(task).split(X, y_fit, groups)]
        labels = list(range(len(splits)))
        task.check_splits(splits, y_fit, labels)
        res = fit_members_on_splits(
            member, X, y_fit, sample_weight, splits,
            fit_full=False, n_jobs=self.n_jobs, verbose=self.verbose,
            methods=[method], task=task,
        )
        self._set_fold_results(task, res.fold_models[0], splits, res.fold_preds[0], method,
                               len(y_fit))
        return self

    def _set_fold_results(self, task, models, splits, blocks, method, n_samples):
        self.estimators_ = models
        self.cv_splits_ = splits
        self.oof_method_ = method
        oof, self.oof_counts_ = assemble_oof([blocks], splits, n_samples)
        if method == "predict_proba":
            oof = task.full_proba(oof)  # NaN rows stay NaN
        self.oof_predictions_ = oof[:, 0] if oof.shape[1] == 1 else oof
        self._task = task

    def _mean(self, method, X):
        check_is_fitted(self, "estimators_")
        X = validate_X(self, X, reset=False)
        task = self._task
        outputs = None
        if method == "predict_proba":
            from ._boosting import shared_predict_proba  # _boosting imports _base only

            outputs = shared_predict_proba(self.estimators_, X)
        if outputs is None:
            outputs = [getattr(est, method)(X) for est in self.estimators_]
        blocks = [
            task.check_output(out, f"estimator (fold {k})", "predict", X.shape[0], method)
            for k, out in enumerate(outputs)
        ]
        return np.mean(blocks, axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator).input_tags
        tags.input_tags.allow_nan = inner.allow_nan
        tags.input_tags.sparse = inner.sparse
        return tags


class KFoldBaggingRegressor(RegressorMixin, _BaseKFoldBagging):
    """Bag a regressor over k-fold splits; average the fold models.

    Each fold model is trained on ``(k-1)/k`` of the rows and predicts the fold it did not see,
    which gives an out-of-fold prediction for every row at no extra cost (AutoGluon's bagged
    models). Predictions are the mean over all fold models.

    Parameters
    ----------
    estimator : regressor
        The model to bag.
    cv : int, cross-validation generator or iterable, default=5
        An int ``k`` means ``KFold(k, shuffle=True, random_state=random_state)``; for repeated
        bagging pass ``RepeatedKFold(n_splits=k, n_repeats=r, random_state=...)``, whose OOF
        values are averaged over the repeats. Rows that no test fold covers get NaN in
        ``oof_predictions_`` (never 0).
    n_jobs : int, default=None
        Joblib workers for the fold fits.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffles, and every ``random_state`` of ``estimator`` left None.
    verbose : int, default=0
    n_splits : int
        Deprecated: use ``cv``.
    n_repeats : int
        Deprecated: use ``cv=RepeatedKFold(...)``.

    Attributes
    ----------
    estimators_ : list of estimators
        The fold models.
    oof_predictions_ : ndarray of shape (n_samples,)
        Mean held-out prediction of each row; NaN where no fold held the row out.
    oof_counts_ : ndarray of shape (n_samples,)
        Number of fold models that predicted each row out of fold.
    oof_method_ : str
        ``"predict"``.
    cv_splits_ : list of (train, test) index arrays
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.model_selection import RepeatedKFold
    >>> from ensemblekit.ensembles import KFoldBaggingRegressor
    >>> X, y = make_regression(n_samples=100, n_features=3, noise=1.0, random_state=0)
    >>> cv = RepeatedKFold(n_splits=4, n_repeats=2, random_state=0)
    >>> bag = KFoldBaggingRegressor(Ridge(), cv=cv).fit(X, y)
    >>> len(bag.estimators_), bag.oof_predictions_.shape
    (8, (100,))
    """

    _parameter_constraints: dict = {
        **_BaseKFoldBagging._parameter_constraints,
        "n_splits": [Interval(Integral, 2, None, closed="left"),
                     Hidden(StrOptions({"deprecated"}))],
        "n_repeats": [Interval(Integral, 1, None, closed="left"),
                      Hidden(StrOptions({"deprecated"}))],
    }
    _methods = ("predict",)

    def __init__(
        self,
        estimator,
        *,
        cv=5,
        n_jobs=None,
        random_state=None,
        verbose=0,
        n_splits="deprecated",
        n_repeats="deprecated",
    ):
        self.estimator = estimator
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.n_splits = n_splits
        self.n_repeats = n_repeats

    def _cv(self, task):
        old = {k: v for k, v in (("n_splits", self.n_splits), ("n_repeats", self.n_repeats))
               if v != "deprecated"}
        if not old:
            return super()._cv(task)
        if self.cv != 5:
            raise ValueError(
                f"Pass the folds once: cv={self.cv!r} and the deprecated {', '.join(old)} "
                "were both given; keep cv."
            )
        n_splits, n_repeats = old.get("n_splits", 5), old.get("n_repeats", 1)
        warnings.warn(
            f"{' and '.join(old)} {'is' if len(old) == 1 else 'are'} deprecated and will be "
            f"removed in 0.3; use cv=RepeatedKFold(n_splits={n_splits}, n_repeats={n_repeats}, "
            "random_state=...) instead (an int cv=k means KFold(k, shuffle=True)).",
            FutureWarning,
        )
        return RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats,
                             random_state=self.random_state)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Mean prediction of the fold models.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._mean("predict", X)[:, 0]

    # Attribute names before 0.2, when KFoldBaggingRegressor named them apart from the others.
    @deprecated("oof_prediction_ was renamed oof_predictions_ in 0.2 and will be removed in 0.3")
    @property
    def oof_prediction_(self):
        return self.oof_predictions_

    @deprecated("oof_count_ was renamed oof_counts_ in 0.2 and will be removed in 0.3")
    @property
    def oof_count_(self):
        return self.oof_counts_


class KFoldBaggingClassifier(ClassifierMixin, _BaseKFoldBagging):
    """Bag a classifier over stratified k-fold splits; average the fold models' probabilities.

    The classification twin of :class:`KFoldBaggingRegressor`: each fold model predicts the
    fold it did not see, giving out-of-fold class probabilities for every row, and
    ``predict_proba`` is the mean of the fold models' probabilities. Labels can be anything
    (the fold models are fitted on codes ``0..K-1``).

    Parameters
    ----------
    estimator : classifier
        The model to bag. Its ``predict_proba`` is averaged (``decision_function`` where it has
        no probabilities).
    cv : int, cross-validation generator or iterable, default=5
        An int ``k`` means ``StratifiedKFold(k, shuffle=True, random_state=random_state)``.
        Every training part must hold every class. Rows that no test fold covers get NaN in
        ``oof_predictions_``.
    n_jobs : int, default=None
        Joblib workers for the fold fits.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffles, and every ``random_state`` of ``estimator`` left None.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    estimators_ : list of estimators
        The fold models (fitted on the codes ``0..n_classes-1``).
    oof_predictions_ : ndarray of shape (n_samples, n_classes)
        Mean held-out probabilities of each row (decision values if the estimator has no
        ``predict_proba``; binary: shape (n_samples,)); NaN where no fold held the row out.
    oof_counts_ : ndarray of shape (n_samples,)
    oof_method_ : str
        ``"predict_proba"`` or ``"decision_function"``.
    cv_splits_ : list of (train, test) index arrays
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.ensembles import KFoldBaggingClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> bag = KFoldBaggingClassifier(LogisticRegression(), cv=4, random_state=0).fit(X, y)
    >>> bag.oof_predictions_.shape, bag.predict_proba(X[:3]).shape
    ((200, 2), (3, 2))
    """

    _methods = ("predict_proba", "decision_function")

    def __init__(self, estimator, *, cv=5, n_jobs=None, random_state=None, verbose=0):
        self.estimator = estimator
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _has(method):
        def check(self):
            if hasattr(self, "estimators_"):
                return hasattr(self.estimators_[0], method)
            return hasattr(self.estimator, method)

        return check

    @available_if(_has("predict_proba"))
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Mean class probabilities of the fold models.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        mean = self._mean("predict_proba", X)
        return self._task.full_proba(mean)

    @available_if(_has("decision_function"))
    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Mean decision function of the fold models.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        scores = self._mean("decision_function", X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class with the highest mean probability (or score).

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimators_")
        if self.oof_method_ == "predict_proba":
            proba = self.predict_proba(X)
            return self.classes_[np.argmax(proba, axis=1)]
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        groups: ArrayLike | None = None,
    ) -> KFoldBaggingClassifier:
        """Fit one clone of ``estimator`` per stratified fold.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Any class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Sliced per fold and routed to each fit.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split``.

        Returns
        -------
        self : object
        """
        super().fit(X, y, sample_weight, groups=groups)
        self.classes_ = self._task.classes
        return self


def bag_from_folds(ensemble, estimator, models, splits, blocks, method):
    """A member kept as its fold models (``refit="average"``), as a fitted estimator.

    With several folds this is a fitted :class:`KFoldBaggingRegressor` or
    :class:`KFoldBaggingClassifier` over the ensemble's folds; with one split (blending) the
    fold model itself. Either way ``estimators_`` of the ensemble holds real estimators, which
    predict (and pickle, and clone) on their own.
    """
    if len(models) == 1:
        return models[0]
    task = ensemble._task
    cls = KFoldBaggingClassifier if task.classes is not None else KFoldBaggingRegressor
    bag = cls(estimator, cv=ensemble.cv, n_jobs=ensemble.n_jobs,
              random_state=ensemble.random_state)
    # Fold models of a classifier ensemble were fitted on the codes 0..K-1.
    bag_task = task if task.classes is None else ClassificationTask(np.arange(task.n_classes))
    bag._set_fold_results(bag_task, models, splits, blocks, method, len(ensemble.oof_counts_))
    if bag_task.classes is not None:
        bag.classes_ = bag_task.classes
    bag.n_features_in_ = ensemble.n_features_in_
    if hasattr(ensemble, "feature_names_in_"):
        bag.feature_names_in_ = ensemble.feature_names_in_
    return bag
