"""The twins reach scikit-learn's optimum; the stochastic solvers get close to it."""

import numpy as np
import pytest
import scipy.sparse as sp
from _gd_problems import PROBLEMS, enet_objective, ridge_objective, well_conditioned
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge

from ensemblekit.estimators import GDElasticNet, GDLasso, GDLinearRegression, GDRegressor, GDRidge

REL_GAP = 1e-6


def _rel_gap(f_ours, f_ref):
    return (f_ours - f_ref) / abs(f_ref)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("alpha", [0.1, 10.0])
def test_ridge_reaches_sklearn_objective(problem, alpha):
    X, y = PROBLEMS[problem]()
    ref = Ridge(alpha=alpha, solver="cholesky").fit(X, y)
    gd = GDRidge(alpha=alpha, tol=1e-10, max_iter=50000).fit(X, y)
    f_ref = ridge_objective(X, y, ref.coef_, ref.intercept_, alpha)
    f_gd = ridge_objective(X, y, gd.coef_, gd.intercept_, alpha)
    assert _rel_gap(f_gd, f_ref) <= REL_GAP


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_lasso_enet_reach_sklearn_objective_and_support(problem, l1_ratio):
    X, y = PROBLEMS[problem]()
    alpha = 0.05
    if l1_ratio == 1.0:
        ref = Lasso(alpha=alpha, tol=1e-12, max_iter=200000).fit(X, y)
        gd = GDLasso(alpha=alpha, tol=1e-10, max_iter=100000).fit(X, y)
    else:
        ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=200000).fit(X, y)
        gd = GDElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10, max_iter=100000).fit(X, y)
    f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, alpha, l1_ratio)
    f_gd = enet_objective(X, y, gd.coef_, gd.intercept_, alpha, l1_ratio)
    assert _rel_gap(f_gd, f_ref) <= REL_GAP
    np.testing.assert_array_equal(gd.coef_ != 0, ref.coef_ != 0)
    assert 0 < np.count_nonzero(gd.coef_) < X.shape[1]


@pytest.mark.parametrize("problem", ["well_conditioned", "correlated"])
def test_linear_regression_matches_sklearn(problem):
    X, y = PROBLEMS[problem]()
    ref = LinearRegression().fit(X, y)
    gd = GDLinearRegression(tol=1e-10, max_iter=50000).fit(X, y)
    f_ref = ridge_objective(X, y, ref.coef_, ref.intercept_, 0.0)
    f_gd = ridge_objective(X, y, gd.coef_, gd.intercept_, 0.0)
    assert _rel_gap(f_gd, f_ref) <= REL_GAP


def test_sample_weight_parity_ridge_and_enet():
    X, y = PROBLEMS["correlated"]()
    sw = np.random.RandomState(3).uniform(0.1, 3.0, size=len(y))
    ref = Ridge(alpha=3.0, solver="cholesky").fit(X, y, sample_weight=sw)
    gd = GDRidge(alpha=3.0, tol=1e-10, max_iter=50000).fit(X, y, sample_weight=sw)
    assert _rel_gap(ridge_objective(X, y, gd.coef_, gd.intercept_, 3.0, sw),
                    ridge_objective(X, y, ref.coef_, ref.intercept_, 3.0, sw)) <= REL_GAP
    ref = ElasticNet(alpha=0.05, l1_ratio=0.7, tol=1e-12, max_iter=100000).fit(
        X, y, sample_weight=sw)
    gd = GDElasticNet(alpha=0.05, l1_ratio=0.7, tol=1e-10, max_iter=50000).fit(
        X, y, sample_weight=sw)
    assert _rel_gap(enet_objective(X, y, gd.coef_, gd.intercept_, 0.05, 0.7, sw),
                    enet_objective(X, y, ref.coef_, ref.intercept_, 0.05, 0.7, sw)) <= REL_GAP


@pytest.mark.parametrize("problem", ["well_conditioned", "wide"])
def test_sparse_input_reaches_same_optimum(problem):
    X, y = PROBLEMS[problem]()
    X = X * (np.random.RandomState(1).rand(*X.shape) < 0.5)
    ref = ElasticNet(alpha=0.05, l1_ratio=0.5, tol=1e-12, max_iter=200000).fit(X, y)
    gd = GDElasticNet(alpha=0.05, l1_ratio=0.5, tol=1e-10, max_iter=100000).fit(
        sp.csr_matrix(X), y)
    f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, 0.05, 0.5)
    f_gd = enet_objective(X, y, gd.coef_, gd.intercept_, 0.05, 0.5)
    assert _rel_gap(f_gd, f_ref) <= REL_GAP


def test_fista_on_x_without_gram_reaches_enet_optimum():
    """Huber with a huge epsilon is the squared loss, fitted on X (not the Gram matrix)."""
    X, y = PROBLEMS["correlated"]()
    ref = ElasticNet(alpha=0.05, l1_ratio=0.5, tol=1e-12, max_iter=200000).fit(X, y)
    gd = GDRegressor(loss="huber", epsilon=1e6, solver="fista", penalty="elasticnet",
                     alpha=0.05, l1_ratio=0.5, tol=1e-10, max_iter=100000).fit(X, y)
    f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, 0.05, 0.5)
    f_gd = enet_objective(X, y, gd.coef_, gd.intercept_, 0.05, 0.5)
    assert _rel_gap(f_gd, f_ref) <= REL_GAP
    np.testing.assert_array_equal(gd.coef_ != 0, ref.coef_ != 0)


def test_no_intercept_parity():
    X, y = PROBLEMS["well_conditioned"]()
    ref = Lasso(alpha=0.1, fit_intercept=False, tol=1e-12).fit(X, y)
    gd = GDLasso(alpha=0.1, fit_intercept=False, tol=1e-10).fit(X, y)
    assert gd.intercept_ == 0.0
    assert _rel_gap(enet_objective(X, y, gd.coef_, 0.0, 0.1, 1.0),
                    enet_objective(X, y, ref.coef_, 0.0, 0.1, 1.0)) <= REL_GAP


# Stochastic solvers hover around the optimum; the stated tolerance is 0.1% of the objective.
STOCHASTIC_REL_GAP = 1e-3


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", batch_size=1, learning_rate="constant", learning_rate_init=0.01,
             average=400),
        dict(solver="sgd", batch_size=1, learning_rate="invscaling", learning_rate_init=0.01),
        dict(solver="adam", batch_size=32, learning_rate="cosine", learning_rate_init=0.05,
             T_0=30),
        dict(solver="nesterov", batch_size=16, learning_rate="step", learning_rate_init=0.01,
             step_size=10, gamma=0.5),
        dict(solver="rmsprop", batch_size=16, learning_rate="multistep", milestones=[20, 40],
             learning_rate_init=0.01),
        dict(solver="sgd", batch_size="full", learning_rate="constant",
             learning_rate_init=0.5),
    ],
    ids=["asgd", "sgd", "adam", "nesterov", "rmsprop", "full"],
)
def test_stochastic_solvers_reach_enet_optimum(params):
    X, y = well_conditioned()
    alpha, l1_ratio = 0.05, 0.5
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12).fit(X, y)
    gd = GDRegressor(penalty="elasticnet", alpha=alpha, l1_ratio=l1_ratio, max_iter=60,
                     tol=None, random_state=0, **params).fit(X, y)
    f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, alpha, l1_ratio)
    f_gd = enet_objective(X, y, gd.coef_, gd.intercept_, alpha, l1_ratio)
    assert _rel_gap(f_gd, f_ref) <= STOCHASTIC_REL_GAP
    # The objective the estimator reports is the same function.
    assert gd.loss_curve_[-1] == pytest.approx(f_gd, rel=1e-9)


def test_gdregressor_alpha_is_sgdregressor_alpha():
    """GDRegressor's objective with the squared loss is ElasticNet's, not Ridge's."""
    X, y = well_conditioned()
    ref = ElasticNet(alpha=0.3, l1_ratio=0.0, tol=1e-12).fit(X, y)
    gd = GDRegressor(penalty="l2", alpha=0.3, solver="fista", tol=1e-10, max_iter=10000).fit(
        X, y)
    np.testing.assert_allclose(gd.coef_, ref.coef_, atol=1e-6)
