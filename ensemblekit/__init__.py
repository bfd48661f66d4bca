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
    Real tables for the examples, benchmarks and tests (Ames, credit data, HPC jobs), loaded
    offline.

Subpackages are imported lazily so that ``import ensemblekit`` stays cheap.
"""

import importlib

__version__ = "0.1.0"
_SUBPACKAGES = ("datasets", "ensembles", "estimators", "tuning")
__all__ = [*_SUBPACKAGES, "__version__"]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"ensemblekit.{name}")
    raise AttributeError(f"module 'ensemblekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBPACKAGES))
