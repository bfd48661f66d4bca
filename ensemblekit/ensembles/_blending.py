"""Blending: a meta-learner trained on the members' predictions for one holdout."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, Interval, _BaseHeterogeneousEnsemble, _fit_context, _safe_indexing
from ._base import (
    check_members_accept_weight,
    fit_members_on_splits,
    fit_meta_learner,
    member_predictions,
    meta_features,
    validate_X,
    validate_Xy,
)


class BlendingRegressor(RegressorMixin, _BaseHeterogeneousEnsemble):
    """Blend regressors with a meta-learner fitted on a single holdout.

    The rows are split once (shuffled) into a training part and a holdout. The members are fitted
    on the training part, predict the holdout, and the meta-learner is fitted on those holdout
    predictions. Cheaper than :class:`StackingCVRegressor` (one fit per member instead of one
    per fold), at the price of a meta-learner trained on fewer rows.

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
    refit : bool, default=False
        After the meta-learner is fitted, refit the members on all rows (in the same joblib
        batch) and predict with those. ``False`` keeps the members the meta-learner was trained
        against, the classic blend.
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
        Seeds the holdout split.
    verbose : int, default=0

    Attributes
    ----------
    estimators_ : list of estimators
    named_estimators_ : Bunch
    member_names_ : list of str
    final_estimator_ : estimator
    holdout_indices_ : ndarray of int
        Rows used to fit the meta-learner.
    holdout_predictions_ : ndarray of shape (n_holdout, n_members)
        Member predictions on those rows.
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
    >>> blend.holdout_predictions_.shape
    (50, 2)
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "final_estimator": [None, HasMethods(["fit", "predict"])],
        "holdout": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "passthrough": ["boolean"],
        "refit": ["boolean"],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        final_estimator=None,
        *,
        holdout=0.2,
        passthrough=False,
        refit=False,
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

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the members on the training part and the meta-learner on the holdout.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Routed to the members and the meta-learner.

        Returns
        -------
        self : object
        """
        X, y, sample_weight = validate_Xy(self, X, y, sample_weight)
        names, ests = self._validate_estimators()
        members = [(n, e) for n, e in zip(names, ests, strict=True) if e != "drop"]
        check_members_accept_weight(members, sample_weight)
        n = len(y)
        if n < 2:
            raise ValueError(f"Blending needs at least 2 samples, got n_samples={n}.")
        train, hold = train_test_split(
            np.arange(n), test_size=self.holdout, random_state=self.random_state
        )
        res = fit_members_on_splits(
            members,
            X,
            y,
            sample_weight,
            [(train, hold)],
            fit_full=self.refit,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            split_labels=["the training part of the holdout split"],
            keep_fold_models=not self.refit,
        )
        self.member_names_ = [name for name, _ in members]
        self.holdout_indices_ = hold
        self.holdout_predictions_ = np.column_stack([p[0] for p in res.fold_preds])
        self.estimators_ = res.full_models if self.refit else [m[0] for m in res.fold_models]
        self.named_estimators_ = Bunch(
            **dict(zip(self.member_names_, self.estimators_, strict=True))
        )
        Z = meta_features(
            _safe_indexing(X, hold),
            self.holdout_predictions_,
            self.member_names_,
            self.passthrough,
            type(self).__name__.lower(),
        )
        sw = None if sample_weight is None else sample_weight[hold]
        self.final_estimator_ = fit_meta_learner(self.final_estimator, Z, y[hold], sw)
        return self

    def predict(self, X):
        """Predict with the meta-learner on the members' predictions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "final_estimator_")
        X = validate_X(self, X, reset=False)
        P = member_predictions(zip(self.member_names_, self.estimators_, strict=True), X)
        Z = meta_features(X, P, self.member_names_, self.passthrough, type(self).__name__.lower())
        return self.final_estimator_.predict(Z)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
