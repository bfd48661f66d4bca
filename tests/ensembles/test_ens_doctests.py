"""The Examples sections of the ensembles' docstrings run and give what they show."""

import doctest
import importlib

import pytest

MODULES = ["_bagging", "_blending", "_boosting", "_device", "_meta", "_stacking", "_weight_optim",
           "_weighted"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"ensemblekit.ensembles.{name}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
