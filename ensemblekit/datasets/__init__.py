"""Real tabular data sets used by the examples, benchmarks and tests, loaded offline."""

from ._ames import load_ames
from ._modeldata import load_credit_data, load_hpc_data

__all__ = ["load_ames", "load_credit_data", "load_hpc_data"]
