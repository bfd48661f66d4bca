"""Stacking, blending, optimized weights, ensemble selection, k-fold bagging and boosting.

All classes are scikit-learn regressors: they nest in Pipelines and GridSearchCV (members'
parameters as ``name__param``), accept pandas input (categorical columns reach the boosters
natively), route ``sample_weight`` and run their fits in parallel through joblib (``n_jobs``).
"""

from ._bagging import KFoldBaggingRegressor
from ._blending import BlendingRegressor
from ._boosting import BoostingRegressor
from ._device import cuda_available
from ._meta import NonNegativeRidgeCV
from ._stacking import StackingCVRegressor, make_stacking_layers
from ._weight_optim import caruana_weights, nnls_weights, simplex_weights
from ._weighted import WeightedEnsembleRegressor

__all__ = [
    "BlendingRegressor",
    "BoostingRegressor",
    "KFoldBaggingRegressor",
    "NonNegativeRidgeCV",
    "StackingCVRegressor",
    "WeightedEnsembleRegressor",
    "caruana_weights",
    "cuda_available",
    "make_stacking_layers",
    "nnls_weights",
    "simplex_weights",
]
