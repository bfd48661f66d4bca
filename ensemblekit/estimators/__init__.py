"""Linear models fitted by first-order methods, with the hot loops compiled by Numba.

``GDRegressor`` exposes every loss, penalty, optimizer and schedule; ``GDLinearRegression``,
``GDRidge``, ``GDLasso`` and ``GDElasticNet`` minimize exactly scikit-learn's objectives
with its meaning of ``alpha``; ``GDHuberRegressor`` and ``GDQuantileRegressor`` do the same
for ``HuberRegressor`` and ``QuantileRegressor``. A learning rate that makes training
diverge raises ``DivergenceError`` (a ``ValueError``). Every estimator records its training
curves (``history_``); ``plot_training_curves`` draws them and ``diagnose_training`` reads
them (over-fitting, under-fitting, not converged); ``callbacks`` receive an ``EpochInfo``
after each epoch.

The robust twins (``_huber``, ``_quantile``) and the training diagnostics are imported on
first access, so that importing the package costs only what ``GDRegressor`` and the
linear twins need.
"""

import importlib

from ._diagnostics import TrainingDiagnosis, diagnose_training, plot_training_curves
from ._exceptions import DivergenceError
from ._gd_regressor import GDRegressor
from ._linear_twins import GDElasticNet, GDLasso, GDLinearRegression, GDRidge
from ._training import EpochInfo

_LAZY = {
    "GDHuberRegressor": "._huber",
    "GDQuantileRegressor": "._quantile",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DivergenceError",
    "EpochInfo",
    "GDElasticNet",
    "GDHuberRegressor",
    "GDLasso",
    "GDLinearRegression",
    "GDQuantileRegressor",
    "GDRegressor",
    "GDRidge",
    "TrainingDiagnosis",
    "diagnose_training",
    "plot_training_curves",
]
