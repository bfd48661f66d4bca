"""Linear models fitted by first-order methods, with the hot loops compiled by Numba.

``GDRegressor`` exposes every loss, penalty, optimizer and schedule; ``GDLinearRegression``,
``GDRidge``, ``GDLasso`` and ``GDElasticNet`` minimize exactly scikit-learn's objectives
with its meaning of ``alpha``; ``GDHuberRegressor`` and ``GDQuantileRegressor`` do the same
for ``HuberRegressor`` and ``QuantileRegressor``. A learning rate that makes training
diverge raises ``DivergenceError`` (a ``ValueError``).

The robust twins (``_huber``, ``_quantile``) and the training diagnostics are imported on
first access, so that importing the package costs only what ``GDRegressor`` and the
linear twins need.
"""

import importlib

from ._exceptions import DivergenceError
from ._gd_regressor import GDRegressor
from ._linear_twins import GDElasticNet, GDLasso, GDLinearRegression, GDRidge

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
    "GDElasticNet",
    "GDHuberRegressor",
    "GDLasso",
    "GDLinearRegression",
    "GDQuantileRegressor",
    "GDRegressor",
    "GDRidge",
]
