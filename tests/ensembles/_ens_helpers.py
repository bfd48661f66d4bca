"""Small regressors and classifiers with known misbehaviour, shared by the ensemble tests."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin


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


class _ScriptedClassifier(ClassifierMixin, BaseEstimator):
    """Fits like a prior-only model; what predict_proba returns is set by subclasses."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.prior_ = np.bincount(np.searchsorted(self.classes_, y)) / len(y)
        return self

    def _proba(self, X):
        return np.tile(self.prior_, (np.asarray(X).shape[0], 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class NaNProbaClassifier(_ScriptedClassifier):
    """Predicts NaN probabilities (a broken member)."""

    def predict_proba(self, X):
        return np.full_like(self._proba(X), np.nan)


class OutOfRangeProbaClassifier(_ScriptedClassifier):
    """Probabilities that overshoot [0, 1] (e.g. an unclipped linear model)."""

    def predict_proba(self, X):
        p = self._proba(X)
        p[:, 0] += 0.7
        p[:, -1] -= 0.7
        return p


class ReversedClassesClassifier(_ScriptedClassifier):
    """Learns the labels in reverse order: its ``classes_`` disagree with the ensemble's."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y)
        self.classes_ = self.classes_[::-1]
        self.prior_ = self.prior_[::-1]
        return self

    def predict_proba(self, X):
        return self._proba(X)


class ScoreOnlyClassifier(ClassifierMixin, BaseEstimator):
    """A linear scorer without ``predict_proba`` (as LinearSVC)."""

    def fit(self, X, y, sample_weight=None):
        from sklearn.linear_model import RidgeClassifier

        self.model_ = RidgeClassifier().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def decision_function(self, X):
        return self.model_.decision_function(X)

    def predict(self, X):
        return self.model_.predict(X)
