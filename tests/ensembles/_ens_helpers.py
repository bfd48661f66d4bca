"""Small regressors with known misbehaviour, shared by the ensemble tests."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class NaNRegressor(RegressorMixin, BaseEstimator):
    """Predicts NaN for every row (a broken member)."""

    def fit(self, X, y, sample_weight=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        return np.full(np.asarray(X).shape[0], np.nan)


class FailOnSmallRegressor(RegressorMixin, BaseEstimator):
    """Fails to fit whenever it gets fewer than ``min_rows`` rows."""

    def __init__(self, min_rows=10_000):
        self.min_rows = min_rows

    def fit(self, X, y, sample_weight=None):
        if len(y) < self.min_rows:
            raise ValueError(f"boom: got {len(y)} rows")
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(np.asarray(X).shape[0], self.mean_)


class WeightRecorder(RegressorMixin, BaseEstimator):
    """Mean predictor that records the sample weights it was fitted with."""

    def fit(self, X, y, sample_weight=None):
        self.sample_weight_ = None if sample_weight is None else np.asarray(sample_weight)
        self.n_rows_ = len(y)
        self.mean_ = float(np.average(y, weights=sample_weight))
        return self

    def predict(self, X):
        return np.full(np.asarray(X).shape[0], self.mean_)


class NoWeightRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(np.asarray(X).shape[0], self.mean_)


class NegatedRegressor(RegressorMixin, BaseEstimator):
    """Predicts minus what ``estimator`` predicts (anti-correlated with the target)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, sample_weight=None):
        from sklearn.base import clone

        self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def predict(self, X):
        return -self.estimator_.predict(X)
