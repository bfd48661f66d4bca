import numpy as np
import pandas as pd

from ensemblekit.datasets import load_ames, load_credit_data, load_hpc_data


def test_load_ames_shape_and_dtypes():
    X, y = load_ames()
    assert X.shape == (2930, 73)
    assert y.shape == (2930,)
    assert (y > 0).all()
    assert isinstance(X["Neighborhood"].dtype, pd.CategoricalDtype)
    Xl, yl = load_ames(log_target=True)
    np.testing.assert_allclose(np.exp(yl), y)


def test_load_credit_data_shape_dtypes_and_missing_values():
    X, y = load_credit_data()
    assert X.shape == (4454, 13) and y.shape == (4454,)
    assert y.value_counts().to_dict() == {"good": 3200, "bad": 1254}
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    assert cats == ["Home", "Marital", "Records", "Job"]
    assert int(X.isna().sum().sum()) == 455  # what makes it a test of imputation paths


def test_load_hpc_data_four_imbalanced_classes():
    X, y = load_hpc_data()
    assert X.shape == (4331, 7)
    assert y.value_counts().to_dict() == {"VF": 2211, "F": 1347, "M": 514, "L": 259}
    assert isinstance(X["protocol"].dtype, pd.CategoricalDtype)


def test_docstring_examples_run():
    import doctest

    from ensemblekit.datasets import _ames, _modeldata

    for mod in (_ames, _modeldata):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0
