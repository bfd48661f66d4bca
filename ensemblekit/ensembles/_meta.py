"""The default meta-learner: ridge-regularized non-negative least squares, alpha by LOO."""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import RidgeCV
from sklearn.utils.validation import check_is_fitted, validate_data

from .._compat import Interval, _check_sample_weight, _fit_context


class NonNegativeRidgeCV(RegressorMixin, BaseEstimator):
    """Linear regression with non-negative coefficients and a ridge penalty chosen by LOO.

    Minimizes ``sum_i sw_i (y_i - x_i . w - b)^2 + alpha ||w||^2`` subject to ``w >= 0``
    (the intercept ``b`` is free and not penalized). ``alpha`` is the value among ``alphas``
    with the lowest efficient leave-one-out error of the unconstrained ridge
    (``sklearn.linear_model.RidgeCV``); the constrained problem is then solved exactly, as
    a non-negative least-squares problem on the ridge-augmented system.

    This is the default meta-learner of :class:`StackingCVRegressor` and
    :class:`BlendingRegressor`. Non-negative weights are the super learner's choice: the
    members' predictions are strongly correlated, and unconstrained weights of opposite
    signs extrapolate. The ridge term shrinks the weights of near-duplicate members towards
    each other, which plain non-negative least squares does not do; with the same ``alphas``
    it equals scikit-learn's ``RidgeCV`` (``StackingRegressor``'s default) whenever the
    ridge weights are already non-negative.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,), default=(0.1, 1.0, 10.0)
        Candidate penalties (positive), as in ``RidgeCV``.
    fit_intercept : bool, default=True
        Fit a free intercept (data centred with the weighted means).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Non-negative weights.
    intercept_ : float
    alpha_ : float
        The chosen penalty.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles import NonNegativeRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=200)
    >>> Z = np.c_[y + 0.3 * rng.normal(size=200), y + 0.5 * rng.normal(size=200), -y]
    >>> meta = NonNegativeRidgeCV().fit(Z, y)
    >>> bool((meta.coef_ >= 0).all()), float(meta.coef_[2])
    (True, 0.0)
    """

    _parameter_constraints: dict = {
        "alphas": ["array-like", Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, alphas=(0.1, 1.0, 10.0), fit_intercept=True):
        self.alphas = alphas
        self.fit_intercept = fit_intercept

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Choose ``alpha`` by leave-one-out, then solve the non-negative ridge problem.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        if alphas.ndim != 1 or alphas.size == 0 or not np.all(alphas > 0):
            raise ValueError(f"alphas must be a non-empty list of positive floats, got {alphas}.")
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if alphas.size == 1:
            self.alpha_ = float(alphas[0])
        else:
            loo = RidgeCV(alphas=alphas, fit_intercept=self.fit_intercept)
            self.alpha_ = float(loo.fit(X, y, sample_weight=sw).alpha_)
        if self.fit_intercept:
            x_mean = np.average(X, axis=0, weights=sw)
            y_mean = float(np.average(y, weights=sw))
        else:
            x_mean, y_mean = np.zeros(X.shape[1]), 0.0
        root = np.sqrt(sw)[:, None]
        p = X.shape[1]
        A = np.vstack([root * (X - x_mean), np.sqrt(self.alpha_) * np.eye(p)])
        b = np.concatenate([root[:, 0] * (y - y_mean), np.zeros(p)])
        self.coef_, _ = nnls(A, b)
        self.intercept_ = y_mean - float(x_mean @ self.coef_)
        return self

    def predict(self, X):
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_
