"""Cross-validated hyperparameter search: Bayesian (GP) and Hyperband, resumable, distributed.

Public API
----------
Real, Integer, Categorical
    Search-space dimensions (scipy.stats frozen distributions and lists are accepted as well).
BayesSearchCV
    Gaussian-process Bayesian optimization with scikit-learn's search contract.
HyperbandSearchCV
    Hyperband / successive halving on epochs (partial_fit / warm_start), n_estimators or n_samples.
FinishedTrial
    What a search's ``callbacks`` receive after each trial.
dask_client
    Context manager connecting joblib to a Dask cluster (local by default).
plot_optimization_history, plot_parameter_scores
    Matplotlib plots of a fitted search (matplotlib imported lazily).
"""

from ._bayes import BayesSearchCV
from ._dask import dask_client
from ._hyperband import HyperbandSearchCV
from ._plot import plot_optimization_history, plot_parameter_scores
from ._space import Categorical, Integer, Real
from ._stopping import FinishedTrial

__all__ = [
    "BayesSearchCV",
    "Categorical",
    "FinishedTrial",
    "HyperbandSearchCV",
    "Integer",
    "Real",
    "dask_client",
    "plot_optimization_history",
    "plot_parameter_scores",
]
