"""GDQuantileRegressor: sklearn contract, objective parity with QuantileRegressor(highs)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import QuantileRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ensemblekit.estimators._exceptions import DivergenceError
from ensemblekit.estimators._quantile import GDQuantileRegressor, quantile_objective

PARITY = 1e-3  # relative objective excess allowed over the LP optimum


@parametrize_with_checks([GDQuantileRegressor(), GDQuantileRegressor(preconditioner="gram")])
def test_sklearn_contract(estimator, check):
    check(estimator)


def _problem(kind, seed=0):
    rng = np.random.RandomState(seed)
    if kind == "well_conditioned":
        X = rng.randn(1500, 8)
        y = X @ rng.randn(8) + 1.0 + 0.3 * rng.randn(1500)
    elif kind == "correlated":
        X = rng.randn(400, 1) + 0.02 * rng.randn(400, 15)
        y = X[:, :3].sum(1) + 0.2 * rng.randn(400)
        y[:20] += 10.0
    elif kind == "heavy_outliers":
        X = rng.randn(300, 5)
        y = X.sum(1) + rng.standard_cauchy(300)
    elif kind == "p_gt_n":
        X = rng.randn(50, 120)
        y = X[:, :5].sum(1) + 0.1 * rng.randn(50)
    return X, y


def _objectives(est, X, y, sw, quantile, alpha):
    ref = QuantileRegressor(quantile=quantile, alpha=alpha, solver="highs")
    ref.fit(X, y, sample_weight=sw)
    f_ref = quantile_objective(X, y, ref.coef_, ref.intercept_, quantile, alpha, sw)
    f_est = quantile_objective(X, y, est.coef_, est.intercept_, quantile, alpha, sw)
    return f_est, f_ref


# (problem, quantile, alpha): certified within max_iter, so no ConvergenceWarning either.
CERTIFIED = [
    ("well_conditioned", 0.5, 0.01),
    ("well_conditioned", 0.8, 0.001),
    ("well_conditioned", 0.2, 0.1),
    ("correlated", 0.8, 0.001),
    ("correlated", 0.5, 0.01),
    ("heavy_outliers", 0.5, 0.01),
    ("heavy_outliers", 0.8, 0.001),
    ("p_gt_n", 0.2, 0.1),
    # No penalty: the dual constraint X^T v = 0 holds up to the rounding of X^T v only.
    ("well_conditioned", 0.7, 0.0),
    ("correlated", 0.5, 0.0),
    ("heavy_outliers", 0.8, 0.0),
]


@pytest.mark.parametrize("kind, quantile, alpha", CERTIFIED)
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_parity_with_highs(kind, quantile, alpha, weighted):
    X, y = _problem(kind)
    sw = np.random.RandomState(1).randint(1, 4, len(y)).astype(float) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDQuantileRegressor(quantile=quantile, alpha=alpha).fit(X, y, sample_weight=sw)
    f_est, f_ref = _objectives(est, X, y, sw, quantile, alpha)
    assert (f_est - f_ref) / f_ref <= PARITY, (f_est, f_ref)
    # The certificate is a true bound: the excess over the LP optimum cannot exceed it.
    assert f_est - f_ref <= est.duality_gap_ + 1e-9 * f_ref
    assert est.duality_gap_ <= est.tol * f_est * (1 + 1e-9)


def test_parity_on_correlated_design_near_alpha_max():
    # Here the certificate does not close within the default budget, but the returned
    # point must still be within parity of the LP optimum.
    X, y = _problem("correlated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = GDQuantileRegressor(quantile=0.2, alpha=0.1, max_iter=20_000).fit(X, y)
    f_est, f_ref = _objectives(est, X, y, None, 0.2, 0.1)
    assert (f_est - f_ref) / f_ref <= PARITY
    assert f_est - f_ref <= est.duality_gap_ + 1e-9 * f_ref


@pytest.mark.parametrize("preconditioner", ["diagonal", "gram"])
def test_sparse_matches_dense_and_metrics_agree(preconditioner):
    X, y = _problem("well_conditioned")
    X[np.abs(X) < 0.8] = 0.0
    sw = np.random.RandomState(2).uniform(0.5, 2.0, len(y))
    kw = dict(quantile=0.7, alpha=0.01, preconditioner=preconditioner)
    dense = GDQuantileRegressor(**kw).fit(X, y, sample_weight=sw)
    sparse = GDQuantileRegressor(**kw).fit(sp.csr_matrix(X), y, sample_weight=sw)
    f_dense, f_ref = _objectives(dense, X, y, sw, 0.7, 0.01)
    f_sparse = quantile_objective(X, y, sparse.coef_, sparse.intercept_, 0.7, 0.01, sw)
    assert (f_dense - f_ref) / f_ref <= PARITY and (f_sparse - f_ref) / f_ref <= PARITY
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-8, atol=1e-10)


def test_diagonal_metric_gives_exact_zeros():
    X, y = _problem("heavy_outliers")
    X = np.hstack([X, np.random.RandomState(3).randn(len(y), 5)])  # 5 useless features
    est = GDQuantileRegressor(alpha=0.05, preconditioner="diagonal").fit(X, y)
    ref = QuantileRegressor(alpha=0.05).fit(X, y)
    np.testing.assert_array_equal(est.coef_ == 0.0, np.abs(ref.coef_) < 1e-12)


def test_weights_match_repetition_and_zero_weight_drops_rows():
    X, y = _problem("heavy_outliers")
    sw = np.random.RandomState(4).randint(0, 3, len(y))
    weighted = GDQuantileRegressor(alpha=0.01).fit(X, y, sample_weight=sw)
    repeated = GDQuantileRegressor(alpha=0.01).fit(np.repeat(X, sw, 0), np.repeat(y, sw))
    # Same objective up to tol each; the LP can have several minimisers, so compare values.
    f_w = quantile_objective(X, y, weighted.coef_, weighted.intercept_, 0.5, 0.01, sw)
    f_r = quantile_objective(X, y, repeated.coef_, repeated.intercept_, 0.5, 0.01, sw)
    assert abs(f_w - f_r) <= 2 * 1e-4 * f_w


def test_no_intercept_and_large_alpha():
    X, y = _problem("heavy_outliers")
    est = GDQuantileRegressor(alpha=0.01, fit_intercept=False).fit(X, y + 3.0)
    assert est.intercept_ == 0.0
    ref = QuantileRegressor(alpha=0.01, fit_intercept=False).fit(X, y + 3.0)
    f = quantile_objective(X, y + 3.0, est.coef_, 0.0, 0.5, 0.01)
    f_ref = quantile_objective(X, y + 3.0, ref.coef_, 0.0, 0.5, 0.01)
    assert (f - f_ref) / f_ref <= PARITY
    # Beyond alpha_max every coefficient is exactly zero and the intercept minimises the
    # pinball loss of y alone, whose optimum np.quantile attains.
    big = GDQuantileRegressor(alpha=100.0, quantile=0.3).fit(X, y)
    np.testing.assert_array_equal(big.coef_, 0.0)
    f_big = quantile_objective(X, y, big.coef_, big.intercept_, 0.3, 100.0)
    f_opt = quantile_objective(X, y, big.coef_, np.quantile(y, 0.3), 0.3, 100.0)
    assert f_big <= f_opt * (1 + big.tol)


def test_deterministic_pickle_meta_estimators_and_pandas():
    X, y = _problem("heavy_outliers")
    a = GDQuantileRegressor(alpha=0.01).fit(X, y)
    b = GDQuantileRegressor(alpha=0.01).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = GDQuantileRegressor(alpha=0.01).fit(df, y)
    np.testing.assert_array_equal(est.feature_names_in_, df.columns.to_numpy())
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(df), est.predict(df))
    assert clone(est).get_params() == est.get_params()
    pipe = make_pipeline(StandardScaler(), GDQuantileRegressor(alpha=0.01)).fit(df, y)
    manual = GDQuantileRegressor(alpha=0.01).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(pipe[-1].coef_, manual.coef_, rtol=1e-10)
    grid = GridSearchCV(GDQuantileRegressor(), {"alpha": [0.001, 0.1]}, cv=3).fit(X, y)
    assert grid.best_params_["alpha"] in (0.001, 0.1)


@pytest.mark.parametrize(
    "X, y, sw, match",
    [
        ([[1.0, np.nan], [2.0, 1.0]], [1.0, 2.0], None, "NaN"),
        ([[1.0, np.inf], [2.0, 1.0]], [1.0, 2.0], None, "infinity"),
        ([["a", "b"], ["c", "d"]], [1.0, 2.0], None, "could not convert|numeric|dtype"),
        (np.empty((0, 2)), np.empty(0), None, "0 sample"),
        ([[1.0, 2.0]], [1.0], None, "minimum of 2"),
        ([[1.0], [2.0], [3.0]], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], "non-zero|total sample weight"),
        ([[1.0], [2.0], [3.0]], [1.0, 2.0, 3.0], [1.0, -1.0, 1.0], "[Nn]egative"),
        ([[1.0], [2.0], [3.0]], [[1.0, 2.0], [2.0, 3.0], [3.0, 4.0]], None, "1d array|1D"),
    ],
)
def test_invalid_input_raises_clear_error(X, y, sw, match):
    with pytest.raises(ValueError, match=match):
        GDQuantileRegressor().fit(X, y, sw)


def test_non_convergence_warns_and_overflow_raises():
    X, y = _problem("correlated")
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        GDQuantileRegressor(alpha=0.01, max_iter=10).fit(X, y)
    with pytest.raises(DivergenceError, match="rescale X"):
        GDQuantileRegressor().fit(X * 1e200, y)
