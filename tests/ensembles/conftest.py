import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression


@pytest.fixture
def reg_data():
    X, y = make_regression(n_samples=120, n_features=6, n_informative=4, noise=5.0, random_state=0)
    return X, y


@pytest.fixture
def cat_frame():
    """A small frame whose target depends on a categorical column (codes shuffled vs effect)."""
    rng = np.random.default_rng(0)
    n = 300
    cat = rng.choice(["a", "b", "c", "d"], size=n)
    effect = {"a": 3.0, "b": -2.0, "c": 0.5, "d": -4.0}
    x1 = rng.normal(size=n)
    y = np.array([effect[c] for c in cat]) + x1 + rng.normal(scale=0.1, size=n)
    X = pd.DataFrame({"cat": pd.Categorical(cat), "x1": x1, "x2": rng.normal(size=n)})
    return X, y
