"""Stacking, blending, optimized weights, ensemble selection, k-fold bagging and boosting.

Every ensemble comes as a regressor and a classifier built on one shared base: they nest in
Pipelines and GridSearchCV (members' parameters as ``name__param``), accept pandas input
(categorical columns reach the boosters natively) and sparse matrices, route ``sample_weight``
and run their fits in parallel through joblib (``n_jobs``). The classifiers accept any labels
and combine the members' out-of-fold class probabilities.
"""

from ._bagging import KFoldBaggingClassifier, KFoldBaggingRegressor
from ._blending import BlendingClassifier, BlendingRegressor
from ._boosting import BoostingClassifier, BoostingRegressor
from ._device import cuda_available
from ._meta import NonNegativeRidgeCV
from ._stacking import StackingCVClassifier, StackingCVRegressor, make_stacking_layers
from ._weight_optim import (
    caruana_weights,
    combine,
    log_loss_of,
    nnls_weights,
    simplex_weights,
)
from ._weighted import WeightedEnsembleClassifier, WeightedEnsembleRegressor

__all__ = [
    "BlendingClassifier",
    "BlendingRegressor",
    "BoostingClassifier",
    "BoostingRegressor",
    "KFoldBaggingClassifier",
    "KFoldBaggingRegressor",
    "NonNegativeRidgeCV",
    "StackingCVClassifier",
    "StackingCVRegressor",
    "WeightedEnsembleClassifier",
    "WeightedEnsembleRegressor",
    "caruana_weights",
    "combine",
    "cuda_available",
    "log_loss_of",
    "make_stacking_layers",
    "nnls_weights",
    "simplex_weights",
]
