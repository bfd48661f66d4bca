"""Small estimators for the tuning tests (importable by subprocess scripts too)."""

import os
import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


def branin(x1, x2):
    a, b, c, r, s, t = 1, 5.1 / (4 * np.pi**2), 5 / np.pi, 6, 10, 1 / (8 * np.pi)
    return a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * np.cos(x1) + s


class Quadratic(BaseEstimator, RegressorMixin):
    """score = -(a - 0.3)^2 - (b - 2)^2 (+ a per-fold offset so folds differ).

    ``log`` is a side-channel file: every fit appends one line ``a,b``; ``sleep`` slows fits
    down so that a test can kill a search in the middle; ``fail_above`` makes fits raise;
    ``pid_log`` is a file where every fit appends the id of the process that ran it.
    """

    def __init__(
        self, a=0.0, b=0.0, kind="x", log=None, sleep=0.0, fail_above=None, pid_log=None
    ):
        self.a, self.b, self.kind = a, b, kind
        self.log, self.sleep, self.fail_above = log, sleep, fail_above
        self.pid_log = pid_log

    def fit(self, X, y=None):
        if self.pid_log is not None:
            with open(self.pid_log, "a") as f:
                f.write(f"{os.getpid()}\n")
        if self.log is not None:
            with open(self.log, "a") as f:
                f.write(f"{self.a!r},{self.b!r},{self.kind!r}\n")
        if self.sleep:
            time.sleep(self.sleep)
        if self.fail_above is not None and self.a > self.fail_above:
            raise RuntimeError("a too large")
        self.offset_ = float(np.mean(X[:, 0])) * 1e-3
        return self

    def score(self, X, y=None):
        bonus = {"x": 0.0, "y": 0.5, "z": -0.5}.get(self.kind, 0.0)
        return -((self.a - 0.3) ** 2) - (self.b - 2) ** 2 + bonus + self.offset_

    def predict(self, X):
        return np.full(X.shape[0], self.score(X))


class EpochCounter(BaseEstimator, RegressorMixin):
    """partial_fit counts epochs; predict returns the count, so a scorer can read it back."""

    def __init__(self, lr=0.1):
        self.lr = lr

    def partial_fit(self, X, y=None):
        self.epochs_ = getattr(self, "epochs_", 0) + 1
        return self

    def fit(self, X, y=None):
        self.epochs_ = 1
        return self

    def predict(self, X):
        return np.full(X.shape[0], float(self.epochs_))


def epochs_scorer(est, X, y):
    return float(est.predict(X[:1])[0])


def pid_file_fit_count(path):
    return sum(1 for _ in open(path)) if os.path.exists(path) else 0
