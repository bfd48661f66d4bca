"""The Examples sections of the public estimators run and give the documented output."""

import doctest

import pytest

from ensemblekit.estimators import _gd_regressor, _linear_twins


@pytest.mark.parametrize("module", [_gd_regressor, _linear_twins], ids=lambda m: m.__name__)
def test_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_docstrings_state_objective_and_multi_output():
    from ensemblekit.estimators import (
        GDElasticNet,
        GDLasso,
        GDLinearRegression,
        GDRegressor,
        GDRidge,
    )

    for est in (GDRegressor, GDLinearRegression, GDRidge, GDLasso, GDElasticNet):
        doc = est.__doc__
        assert ":math:" in doc and "Examples" in doc and "Parameters" in doc
        assert "Multi-output" in doc or "multi-output" in doc.lower()
