import numpy as np
import pandas as pd

from ensemblekit.datasets import load_ames


def test_load_ames_shape_and_dtypes():
    X, y = load_ames()
    assert X.shape == (2930, 73)
    assert y.shape == (2930,)
    assert (y > 0).all()
    assert isinstance(X["Neighborhood"].dtype, pd.CategoricalDtype)
    Xl, yl = load_ames(log_target=True)
    np.testing.assert_allclose(np.exp(yl), y)
