"""Weighted averaging of members, weights fitted on out-of-fold predictions."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, _fit_context
from ._base import BaseOOFEnsemble, validate_Xy
from ._weight_optim import caruana_weights, nnls_weights, simplex_weights


class _Precomputed(RegressorMixin, BaseEstimator):
    """Lets a scikit-learn scorer evaluate a prediction vector we already have."""

    def __init__(self, pred):
        self.pred = pred

    def predict(self, X):
        return self.pred


def make_loss(scoring, y, sample_weight=None):
    """Turn a scikit-learn ``scoring`` (greater is better) into ``loss(pred)`` to minimize."""
    scorer = check_scoring(None, scoring=scoring)
    dummy_X = np.zeros((len(y), 1))
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}

    def loss(pred):
        return -float(scorer(_Precomputed(pred), dummy_X, y, **kwargs))

    return loss


class WeightedEnsembleRegressor(BaseOOFEnsemble):
    """Weighted average of members, weights optimized on their out-of-fold predictions.

    Members are cross-fitted on one shared shuffled split (as in :class:`StackingCVRegressor`);
    the weights are then fitted on the out-of-fold (OOF) prediction matrix by one of:

    - ``"nnls"``: non-negative least squares without intercept (weights need not sum to 1);
      ``scoring`` is not used.
    - ``"simplex"``: weights ``>= 0`` summing to 1 minimizing ``-scoring`` (SLSQP, multi-start).
    - ``"caruana"``: Caruana's greedy ensemble selection with replacement for
      ``ensemble_size`` steps, best prefix kept (AutoGluon's final ``WeightedEnsemble``).

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members.
    method : {"nnls", "simplex", "caruana"}, default="nnls"
    cv : int, cross-validation generator or iterable, default=5
        An int means shuffled ``KFold`` seeded by ``random_state``.
    scoring : str or callable, default="neg_mean_squared_error"
        A scikit-learn scorer (greater is better) for ``"simplex"`` and ``"caruana"``.
    ensemble_size : int, default=25
        Greedy steps for ``"caruana"``.
    refit : {"full", "average"}, default="full"
        Refit members on all rows, or keep and average the fold models.
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    weights_ : ndarray of shape (n_members,)
    estimators_ : list of estimators
    named_estimators_ : Bunch
    member_names_ : list of str
    oof_predictions_ : ndarray of shape (n_samples, n_members)
    oof_counts_ : ndarray of shape (n_samples,)
    cv_splits_ : list of (train, test) index arrays
    oof_score_ : float
        ``scoring`` of the weighted OOF prediction.
    trajectory_ : list of float
        Caruana only: loss after each greedy step.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensembles import WeightedEnsembleRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> ens = WeightedEnsembleRegressor(
    ...     [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3))],
    ...     method="caruana", random_state=0,
    ... ).fit(X, y)
    >>> ens.weights_.round(2)
    array([1., 0.])
    """

    _parameter_constraints: dict = {
        **BaseOOFEnsemble._parameter_constraints,
        "method": [StrOptions({"nnls", "simplex", "caruana"})],
        "scoring": [str, callable],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimators,
        *,
        method="nnls",
        cv=5,
        scoring="neg_mean_squared_error",
        ensemble_size=25,
        refit="full",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(estimators=estimators)
        self.method = method
        self.cv = cv
        self.scoring = scoring
        self.ensemble_size = ensemble_size
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, *, groups=None):
        """Cross-fit the members and optimize the weights on their OOF predictions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Routed to the members and used in the weight optimization.
        groups : array-like of shape (n_samples,), default=None
            Passed to the splitter's ``split``.

        Returns
        -------
        self : object
        """
        X, y, sample_weight = validate_Xy(self, X, y, sample_weight)
        covered = self._cross_fit(X, y, sample_weight, groups)
        P, yc = self.oof_predictions_[covered], y[covered]
        sw = None if sample_weight is None else sample_weight[covered]
        loss = make_loss(self.scoring, yc, sw)
        if self.method == "nnls":
            self.weights_ = nnls_weights(P, yc, sw)
        elif self.method == "caruana":
            self.weights_, _, self.trajectory_ = caruana_weights(P, loss, self.ensemble_size)
        else:
            self.weights_ = simplex_weights(P, loss)
        self.oof_score_ = -loss(P @ self.weights_)
        return self

    def predict(self, X):
        """Weighted sum of the member predictions.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "weights_")
        _, P = self._predict_members(X)
        return P @ self.weights_
