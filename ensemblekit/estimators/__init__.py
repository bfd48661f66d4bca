"""Linear models fitted by first-order methods, with the hot loops compiled by Numba.

``GDRegressor`` exposes every loss, penalty, optimizer and schedule; ``GDLinearRegression``,
``GDRidge``, ``GDLasso`` and ``GDElasticNet`` minimize exactly scikit-learn's objectives
with its meaning of ``alpha``; ``GDHuberRegressor`` and ``GDQuantileRegressor`` do the same
for ``HuberRegressor`` and ``QuantileRegressor``. A learning rate that makes training
diverge raises ``DivergenceError`` (a ``ValueError``).
"""

from ._exceptions import DivergenceError
from ._gd_regressor import GDRegressor
from ._huber import GDHuberRegressor
from ._linear_twins import GDElasticNet, GDLasso, GDLinearRegression, GDRidge
from ._quantile import GDQuantileRegressor

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
