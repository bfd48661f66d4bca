"""ensemblekit: scikit-learn-compatible tools for classical machine learning on tabular data.

Subpackages
-----------
estimators
    Linear models trained by first-order gradient methods, hot loops compiled by Numba.
ensembles
    Stacking, blending, optimized weights, ensemble selection, k-fold bagging, boosting.
tuning
    Bayesian and Hyperband cross-validated search, resumable, parallel through joblib/Dask.
datasets
    Real tables for the examples and benchmarks (Ames, credit data, HPC jobs), loaded offline.

Subpackages are imported lazily so that ``import ensemblekit`` stays cheap.
"""

import importlib

__version__ = "0.1.0"
__all__ = ["datasets", "estimators", "ensembles", "tuning", "__version__"]


def __getattr__(name):
    if name in ("datasets", "estimators", "ensembles", "tuning"):
        return importlib.import_module(f"ensemblekit.{name}")
    raise AttributeError(f"module 'ensemblekit' has no attribute {name!r}")
