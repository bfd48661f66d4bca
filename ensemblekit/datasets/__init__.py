"""Real tabular data sets used by the examples, benchmarks and tests, loaded offline."""

from ._ames import load_ames

__all__ = ["load_ames"]
