"""K-fold bagging: one model per fold, averaged, with out-of-fold predictions for free."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, is_regressor
from sklearn.model_selection import RepeatedKFold
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, Interval, _fit_context
from ._base import (
    FoldAverage,
    assemble_oof,
    check_members_accept_weight,
    fit_members_on_splits,
    member_predictions,
    resolve_cv,
    validate_X,
    validate_Xy,
)


class KFoldBaggingRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Bag a regressor over (repeated) k-fold splits; average the fold models.

    Each fold model is trained on ``(k-1)/k`` of the rows and predicts the fold it did not see,
    which gives an out-of-fold prediction for every row at no extra cost (AutoGluon's bagged
    models). Predictions are the mean over all ``n_splits * n_repeats`` fold models.

    Parameters
    ----------
    estimator : regressor
        The model to bag.
    n_splits : int, default=5
    n_repeats : int, default=1
        Repeats of the k-fold split with different shuffles; OOF values are averaged over them.
    cv : cross-validation generator or iterable, default=None
        Overrides ``n_splits``/``n_repeats``. Rows that no test fold covers get NaN in
        ``oof_prediction_`` (never 0).
    n_jobs : int, default=None
        Joblib workers for the fold fits.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffles.
    verbose : int, default=0

    Attributes
    ----------
    estimators_ : list of estimators
        The fold models.
    oof_prediction_ : ndarray of shape (n_samples,)
        Mean held-out prediction of each row; NaN where no fold held the row out.
    oof_count_ : ndarray of shape (n_samples,)
        Number of fold models that predicted each row out of fold.
    cv_splits_ : list of (train, test) index arrays
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from ensemblekit.ensembles import KFoldBaggingRegressor
    >>> X, y = make_regression(n_samples=100, n_features=3, noise=1.0, random_state=0)
    >>> bag = KFoldBaggingRegressor(Ridge(), n_splits=4, n_repeats=2, random_state=0).fit(X, y)
    >>> len(bag.estimators_), bag.oof_prediction_.shape
    (8, (100,))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "cv": [None, "cv_object"],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        n_splits=5,
        n_repeats=1,
        cv=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, *, groups=None):
        """Fit one clone of ``estimator`` per fold.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Sliced per fold and routed to each fit.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split``.

        Returns
        -------
        self : object
        """
        if not is_regressor(self.estimator):
            raise ValueError(
                f"The estimator {type(self.estimator).__name__} should be a regressor."
            )
        X, y, sample_weight = validate_Xy(self, X, y, sample_weight)
        member = [("estimator", self.estimator)]
        check_members_accept_weight(member, sample_weight)
        if self.cv is None:
            cv = RepeatedKFold(
                n_splits=self.n_splits, n_repeats=self.n_repeats, random_state=self.random_state
            )
        else:
            cv = resolve_cv(self.cv, self.random_state)
        splits = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y, groups)]
        res = fit_members_on_splits(
            member, X, y, sample_weight, splits,
            fit_full=False, n_jobs=self.n_jobs, verbose=self.verbose,
        )
        self.estimators_ = res.fold_models[0]
        oof, self.oof_count_ = assemble_oof(res.fold_preds, splits, len(y))
        self.oof_prediction_ = oof[:, 0]
        self.cv_splits_ = splits
        return self

    def predict(self, X):
        """Mean prediction of the fold models.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimators_")
        X = validate_X(self, X, reset=False)
        return member_predictions([("estimator", FoldAverage(self.estimators_))], X)[:, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = get_tags(self.estimator).input_tags.allow_nan
        tags.input_tags.sparse = False
        return tags
