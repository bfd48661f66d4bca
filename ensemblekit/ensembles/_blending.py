"""Blending: stacking with one split, the meta-learner trained on one holdout."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import TypeVar

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.deprecation import deprecated

from .._compat import Interval, StrOptions, _fit_context
from ._base import ArrayLike
from ._stacking import (
    StackingCVClassifier,
    _BaseStacking,
    _ClassifierStackingMixin,
    _RegressorStackingMixin,
)

_Blend = TypeVar("_Blend", bound="_BaseBlending")
_HOLDOUT = "the training part of the holdout split"


class _BaseBlending(_BaseStacking):
    """A stack whose only split is one shuffled (stratified, for classifiers) holdout."""

    _parameter_constraints: dict = {
        **{k: v for k, v in _BaseStacking._parameter_constraints.items() if k != "cv"},
        "holdout": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        # Booleans are the spelling before 0.2, deprecated.
        "refit": [StrOptions({"full", "average"}), "boolean"],
    }

    def _refit_mode(self) -> str:
        if isinstance(self.refit, str):
            return self.refit
        new = "full" if self.refit else "average"
        warnings.warn(
            f"refit={self.refit} is deprecated and will be removed in 0.3; use refit={new!r} "
            "(the spelling of the other ensembles).",
            FutureWarning,
        )
        return new

    def _splits(self, X, y, groups):
        n = len(y)
        if n < 2:
            raise ValueError(f"Blending needs at least 2 samples, got n_samples={n}.")
        stratify = y if self._task.classes is not None else None
        try:
            train, hold = train_test_split(
                np.arange(n), test_size=self.holdout, random_state=self.random_state,
                stratify=stratify,
            )
        except ValueError as exc:
            if stratify is None:
                raise
            raise ValueError(
                f"The stratified holdout (holdout={self.holdout!r}) cannot be drawn: {exc} "
                "Every class needs at least 2 samples and the holdout at least one row per "
                "class; use more data or a larger holdout."
            ) from exc
        self.holdout_indices_ = hold
        return [(train, hold)], [_HOLDOUT]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self: _Blend, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> _Blend:
        """Fit the members on the training part and the meta-learner on the holdout.

        Parameters
        ----------
        X : array-like, sparse matrix or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Numbers (regressors) or class labels of any type, at least two (classifiers).
        sample_weight : array-like of shape (n_samples,), default=None
            Routed to the members and the meta-learner.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, None)

    @deprecated("holdout_predictions_ is deprecated since 0.2 and will be removed in 0.3; use "
                "oof_predictions_[holdout_indices_]")
    @property
    def holdout_predictions_(self):
        return self.oof_predictions_[self.holdout_indices_]


class BlendingRegressor(_RegressorStackingMixin, RegressorMixin, _BaseBlending):
    """Blend regressors with a meta-learner fitted on a single holdout.

    Stacking with one split: the rows are split once (shuffled) into a training part and a
    holdout. The members are fitted on the training part, predict the holdout, and the
    meta-learner is fitted on those holdout predictions. Cheaper than
    :class:`StackingCVRegressor` (one fit per member instead of one per fold), at the price of
    a meta-learner trained on fewer rows.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members.
    final_estimator : estimator, default=None
        Meta-learner; ``None`` means :class:`NonNegativeRidgeCV`.
    holdout : float or int, default=0.2
        Fraction (float in (0, 1)) or number (int) of rows held out for the meta-learner.
    passthrough : bool, default=False
        Give the meta-learner the original features too.
    refit : {"average", "full"}, default="average"
        ``"average"`` predicts with the members fitted on the training part, the ones the
        meta-learner was trained against (the classic blend; the average of one fold model).
        ``"full"`` refits the members on all rows, in the same joblib batch. The booleans
        ``False``/``True`` of earlier versions are deprecated spellings of these.
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
        Seeds the holdout split, and every ``random_state`` left None in the members and the
        meta-learner.
    verbose : int, default=0

    Attributes
    ----------
    estimators_ : list of estimators
    named_estimators_ : Bunch
    member_names_ : list of str
    stack_method_ : list of str
    final_estimator_ : estimator
    holdout_indices_ : ndarray of int
        Rows used to fit the meta-learner.
    oof_predictions_ : ndarray of shape (n_samples, n_members)
        Member predictions on the holdout rows; NaN on the training part.
    oof_counts_ : ndarray of shape (n_samples,)
        1 on the holdout rows, 0 elsewhere.
    cv_splits_ : list of one (train, holdout) pair
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensembles import BlendingRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> blend = BlendingRegressor(
    ...     [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))],
    ...     holdout=0.25, random_state=0,
    ... ).fit(X, y)
    >>> blend.oof_predictions_[blend.holdout_indices_].shape
    (50, 2)
    """

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        holdout=0.2,
        passthrough=False,
        refit="average",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(estimators=estimators)
        self.final_estimator = final_estimator
        self.holdout = holdout
        self.passthrough = passthrough
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose



class BlendingClassifier(_ClassifierStackingMixin, ClassifierMixin, _BaseBlending):
    """Blend classifiers with a meta-learner fitted on the probabilities of one holdout.

    :class:`StackingCVClassifier` with one split: the holdout is drawn stratified, the members
    are fitted on the rest and predict the holdout's class probabilities, on which (as
    log-odds, by default) the meta-learner is fitted.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The member classifiers.
    final_estimator : estimator, default=None
        Meta-learner; ``None`` means :class:`StackingCVClassifier`'s default (non-negative
        logistic pool of the members' log-odds).
    holdout : float or int, default=0.2
        Fraction or number of rows held out (stratified) for the meta-learner.
    passthrough : bool, default=False
        Give the meta-learner the original features too (needs an explicit
        ``final_estimator``).
    refit : {"average", "full"}, default="average"
        ``"average"``: predict with the members fitted on the training part (the classic
        blend); ``"full"``: refit them on all rows. Booleans are deprecated spellings.
    metalearner_transform : {"logit", "identity"}, default="logit"
        As in :class:`StackingCVClassifier`.
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
        Seeds the holdout split, and every ``random_state`` left None in the members and the
        meta-learner.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    estimators_ : list of estimators
        Fitted on the codes ``0..n_classes-1``.
    named_estimators_ : Bunch
    member_names_ : list of str
    stack_method_ : list of str
    final_estimator_ : estimator
    holdout_indices_ : ndarray of int
    oof_predictions_ : ndarray of shape (n_samples, n_columns)
        The members' holdout probabilities, laid out as in :class:`StackingCVClassifier`;
        NaN on the training part.
    oof_counts_ : ndarray of shape (n_samples,)
    cv_splits_ : list of one (train, holdout) pair
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensembles import BlendingClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> blend = BlendingClassifier(
    ...     [("logreg", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3))],
    ...     holdout=0.3, random_state=0,
    ... ).fit(X, y)
    >>> len(blend.holdout_indices_), blend.predict_proba(X[:2]).shape
    (90, (2, 2))
    """

    _parameter_constraints: dict = {
        **_BaseBlending._parameter_constraints,
        "metalearner_transform": StackingCVClassifier._parameter_constraints[
            "metalearner_transform"],
    }

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        holdout=0.2,
        passthrough=False,
        refit="average",
        metalearner_transform="logit",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(estimators=estimators)
        self.final_estimator = final_estimator
        self.holdout = holdout
        self.passthrough = passthrough
        self.refit = refit
        self.metalearner_transform = metalearner_transform
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
