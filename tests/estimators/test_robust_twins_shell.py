"""The robust twins on the shared shell: partial_fit, warm starts and curves where their
solvers allow (the Huber twin runs the shared FISTA loop; the quantile twin keeps its
restarted primal-dual solver, whose restarts span a run: no partial_fit)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from ensemblekit.estimators import GDHuberRegressor, GDQuantileRegressor


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(300, 4) * np.array([1.0, 100.0, 0.01, 5.0])
    y = X @ np.array([1.0, 0.02, 50.0, -1.0]) + 0.1 * rng.randn(300)
    y[:15] += 30.0
    return X, y


def test_huber_partial_fit_is_one_iteration_of_fit():
    X, y = _data()
    inc = GDHuberRegressor(subsample=None)
    for _ in range(4):
        inc.partial_fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = GDHuberRegressor(max_iter=4, subsample=None).fit(X, y)
    assert inc.n_iter_ == 4
    np.testing.assert_array_equal(inc.coef_, fit.coef_)
    assert inc.loss_curve_ == fit.loss_curve_
    assert inc.scale_ == pytest.approx(fit.scale_, rel=1e-12)
    np.testing.assert_array_equal(inc.outliers_, fit.outliers_)


def test_huber_curves_and_coef_init():
    X, y = _data()
    est = GDHuberRegressor().fit(X, y)
    curve = np.array(est.loss_curve_)
    assert est.converged_ and np.all(np.diff(curve) <= 1e-12 * abs(curve[0]))
    assert est.history_["certificate"][-1] <= est.tol
    again = GDHuberRegressor().fit(X, y, coef_init=est.coef_, intercept_init=est.intercept_)
    assert again.n_iter_ <= 2


def test_quantile_warm_start_curves_and_no_partial_fit():
    X, y = _data()
    assert not hasattr(GDQuantileRegressor(), "partial_fit")
    est = GDQuantileRegressor(quantile=0.3, alpha=0.01).fit(X, y)
    cert = np.array(est.history_["certificate"])
    assert est.converged_ and cert[-1] <= est.tol and cert[-1] <= cert[0]
    assert est.certificate_ == pytest.approx(cert[-1])
    warm = GDQuantileRegressor(quantile=0.3, alpha=0.01, warm_start=True)
    warm.fit(X, y)
    n_first = warm.n_iter_
    warm.fit(X, y)
    assert warm.n_iter_ < n_first
    init = GDQuantileRegressor(quantile=0.3, alpha=0.01).fit(
        X, y, coef_init=est.coef_, intercept_init=est.intercept_)
    assert init.n_iter_ < n_first
