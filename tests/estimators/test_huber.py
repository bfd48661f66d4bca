"""GDHuberRegressor: sklearn contract, objective parity with HuberRegressor, edge cases."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import HuberRegressor
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from ensemblekit.estimators._exceptions import DivergenceError
from ensemblekit.estimators._huber import (
    GDHuberRegressor,
    _duality_gap,
    _huber_loss,
    _huber_loss_grad,
    _optimal_scale,
    huber_objective,
)


@parametrize_with_checks(
    [
        GDHuberRegressor(),
        # The diagonal metric needs more iterations on the badly scaled check data.
        GDHuberRegressor(preconditioner="diagonal", fit_intercept=False, max_iter=5000),
    ]
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def _problem(kind, seed=0):
    rng = np.random.RandomState(seed)
    if kind == "well_conditioned":  # n >> p, 5% gross outliers
        X = rng.randn(3000, 8)
        y = X @ rng.randn(8) + 1.0 + 0.3 * rng.randn(3000)
        y[:150] += 30 * rng.randn(150)
    elif kind == "correlated":  # 20 near-collinear columns
        X = rng.randn(600, 1) + 0.01 * rng.randn(600, 20)
        y = X[:, :3].sum(1) + 0.1 * rng.randn(600)
        y[:30] += 10.0
    elif kind == "heavy_outliers":  # Cauchy noise
        X = rng.randn(400, 5)
        y = X.sum(1) + rng.standard_cauchy(400)
    elif kind == "p_gt_n":
        X = rng.randn(40, 120)
        y = X[:, :5].sum(1) + 0.1 * rng.randn(40)
        y[:4] += 20.0
    return X, y


def _reference(X, y, sw, **params):
    """sklearn's L-BFGS-B solution pushed to its own convergence limit."""
    ref = HuberRegressor(max_iter=100_000, tol=1e-12, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ref.fit(X, y, sample_weight=sw)


def _objective(est, X, y, sw, epsilon=1.35, alpha=1e-4):
    return huber_objective(X, y, est.coef_, est.intercept_, est.scale_, epsilon, alpha, sw)


@pytest.mark.parametrize("kind", ["well_conditioned", "correlated", "heavy_outliers", "p_gt_n"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha", [1e-4, 1.0])
def test_objective_parity_with_sklearn(kind, weighted, alpha):
    X, y = _problem(kind)
    sw = np.random.RandomState(1).randint(0, 4, len(y)).astype(float) if weighted else None
    ref = _reference(X, y, sw, alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDHuberRegressor(alpha=alpha).fit(X, y, sample_weight=sw)
    f_ref = _objective(ref, X, y, sw, alpha=alpha)
    f_est = _objective(est, X, y, sw, alpha=alpha)
    assert (f_est - f_ref) / abs(f_ref) <= 1e-6, (f_est, f_ref)


@pytest.mark.parametrize("kind", ["well_conditioned", "correlated"])
def test_sparse_and_diagonal_metric_match_dense(kind):
    X, y = _problem(kind)
    sw = np.random.RandomState(2).uniform(0.5, 2.0, len(y))
    dense = GDHuberRegressor(alpha=1.0).fit(X, y, sample_weight=sw)
    sparse = GDHuberRegressor(alpha=1.0).fit(sp.csr_matrix(X), y, sample_weight=sw)
    # The diagonal metric stops on a certified duality gap only.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        diag = GDHuberRegressor(alpha=1.0, preconditioner="diagonal", max_iter=5000).fit(
            X, y, sample_weight=sw
        )
    f = [_objective(m, X, y, sw, alpha=1.0) for m in (dense, sparse, diag)]
    assert abs(f[1] - f[0]) <= 1e-8 * f[0]
    assert abs(f[2] - f[0]) <= 1e-6 * f[0]
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_duality_gap_is_a_valid_bound(fit_intercept):
    # D(u) built from the loss gradient at ANY point must lower-bound the optimum.
    X, y = _problem("heavy_outliers")
    sw_raw = np.random.RandomState(4).uniform(0.0, 2.0, len(y))
    alpha = 0.5
    ref = _reference(X, y, sw_raw, alpha=alpha, fit_intercept=fit_intercept)
    f_opt = _objective(ref, X, y, sw_raw, alpha=alpha) / sw_raw.sum()
    sw = sw_raw / sw_raw.sum()
    a_n = alpha / sw_raw.sum()
    Xt = np.hstack([X, np.ones((len(y), 1))]) if fit_intercept else X
    rng = np.random.RandomState(5)
    gaps = []
    for scale in (1.0, 0.1, 1e-3):
        z = np.append(ref.coef_, ref.intercept_)[: Xt.shape[1]]
        z = z + scale * rng.randn(z.size)
        r = y - Xt @ z
        sigma = _optimal_scale(r, sw, 1.35, 1e-15, -1.0)
        psi = np.empty_like(r)
        phi = _huber_loss_grad(r, sw, 1.35, sigma, psi) + a_n * z[: X.shape[1]] @ z[: X.shape[1]]
        gap = _duality_gap(phi, psi, X.T @ psi, X.T @ sw, y, sw, 1.35, a_n, fit_intercept)
        assert phi - gap <= f_opt * (1 + 1e-9)
        gaps.append(gap)
    assert gaps[-1] < gaps[0]  # and it tightens near the optimum


def test_fit_intercept_false_and_epsilon_parity():
    X, y = _problem("heavy_outliers", seed=3)
    y = y + 5.0  # an intercept the model is not allowed to fit
    for params in ({"fit_intercept": False}, {"epsilon": 2.5}, {"epsilon": 1.1}):
        ref = _reference(X, y, None, **params)
        est = GDHuberRegressor(**params).fit(X, y)
        eps = params.get("epsilon", 1.35)
        f_ref = huber_objective(X, y, ref.coef_, ref.intercept_, ref.scale_, eps, 1e-4)
        f_est = huber_objective(X, y, est.coef_, est.intercept_, est.scale_, eps, 1e-4)
        assert (f_est - f_ref) / f_ref <= 1e-6
    assert GDHuberRegressor(fit_intercept=False).fit(X, y).intercept_ == 0.0


def test_epsilon_one_never_claims_false_convergence():
    # epsilon = 1 drives sigma to its lower bound: the objective becomes the kinked
    # absolute loss, which this smooth solver only approaches slowly. It must then say so.
    X, y = _problem("heavy_outliers", seed=3)
    ref = _reference(X, y, None, epsilon=1.0)
    f_ref = huber_objective(X, y, ref.coef_, ref.intercept_, ref.scale_, 1.0, 1e-4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est = GDHuberRegressor(epsilon=1.0, max_iter=200).fit(X, y)
    f_est = huber_objective(X, y, est.coef_, est.intercept_, est.scale_, 1.0, 1e-4)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert warned or (f_est - f_ref) / f_ref <= 1e-6


def test_fitted_attributes_follow_sklearn_definitions():
    X, y = _problem("well_conditioned")
    est = GDHuberRegressor().fit(X, y)
    ref = _reference(X, y, None)
    # tol bounds the relative objective excess (1e-8); coefficients then agree to ~sqrt(tol).
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-3)
    np.testing.assert_allclose(est.scale_, ref.scale_, rtol=1e-4)
    residual = np.abs(y - X @ est.coef_ - est.intercept_)
    np.testing.assert_array_equal(est.outliers_, residual > est.epsilon * est.scale_)
    assert est.outliers_[:150].mean() > 0.9  # the gross outliers
    assert np.mean(est.outliers_ == ref.outliers_) > 0.99
    assert 1 <= est.n_iter_ <= est.max_iter


def test_optimal_scale_against_scalar_minimisation():
    rng = np.random.RandomState(0)
    for trial in range(20):
        r = rng.standard_cauchy(200) * rng.uniform(0.01, 100)
        sw = rng.uniform(0, 1, 200)
        sw /= sw.sum()
        eps = rng.uniform(1.0, 3.0)
        sigma = _optimal_scale(r, sw, eps, 1e-15, -1.0)
        brute = minimize_scalar(
            lambda s, r=r, sw=sw, eps=eps: _huber_loss(r, sw, eps, s),
            bounds=(1e-12, 1e4), method="bounded", options={"xatol": 1e-12},
        )
        best = _huber_loss(r, sw, eps, brute.x)
        assert _huber_loss(r, sw, eps, sigma) <= best + 1e-12 * abs(best), trial


def test_float32_input():
    X, y = _problem("well_conditioned")
    est64 = GDHuberRegressor().fit(X, y)
    est32 = GDHuberRegressor().fit(X.astype(np.float32), y.astype(np.float32))
    assert est32.coef_.dtype == np.float64
    f64, f32 = _objective(est64, X, y, None), _objective(est32, X, y, None)
    assert (f32 - f64) / f64 <= 1e-5
    est32s = GDHuberRegressor().fit(sp.csr_matrix(X.astype(np.float32)), y)
    assert (_objective(est32s, X, y, None) - f64) / f64 <= 1e-5


def test_subsample_warm_start_is_deterministic_and_exact():
    rng = np.random.RandomState(0)
    X = rng.randn(90_000, 4)
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.2 * rng.randn(90_000)
    y[rng.rand(90_000) < 0.05] += 50.0
    a = GDHuberRegressor(random_state=0).fit(X, y)
    b = GDHuberRegressor(random_state=0).fit(X, y)
    c = GDHuberRegressor(random_state=1).fit(X, y)
    full = GDHuberRegressor(subsample=None).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    f = [_objective(m, X, y, None) for m in (a, c, full)]
    assert max(f) - min(f) <= 1e-7 * min(f)


def test_warm_start_resumes_from_solution():
    X, y = _problem("well_conditioned")
    est = GDHuberRegressor(warm_start=True).fit(X, y)
    f1 = _objective(est, X, y, None)
    est.fit(X, y)
    assert est.n_iter_ <= 2
    assert _objective(est, X, y, None) <= f1 * (1 + 1e-9)


def test_p_greater_than_n_interpolation_certificate():
    # With p > n the optimum interpolates, sigma hits its lower bound and the objective
    # is alpha ||w||^2 of the minimum-norm interpolant: check that closed form directly.
    X, y = _problem("p_gt_n")
    est = GDHuberRegressor(alpha=1e-2).fit(X, y)
    Xt = np.hstack([X, np.ones((len(y), 1))])
    # Minimum ||w|| interpolant with a free intercept: project out the intercept column.
    C = np.eye(len(y)) - 1.0 / len(y)
    w = np.linalg.pinv(C @ X) @ (C @ y)
    b = np.mean(y - X @ w)
    np.testing.assert_allclose(Xt @ np.append(est.coef_, est.intercept_), y, atol=1e-8)
    np.testing.assert_allclose(est.coef_, w, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(est.intercept_, b, rtol=1e-6, atol=1e-9)
    # A large alpha makes the interpolant non-optimal: the iterative path must take over.
    ref = _reference(X, y, None, alpha=300.0)
    big = GDHuberRegressor(alpha=300.0).fit(X, y)
    assert big.n_iter_ > 0
    f_ref = _objective(ref, X, y, None, alpha=300.0)
    assert (_objective(big, X, y, None, alpha=300.0) - f_ref) / f_ref <= 1e-6


def test_exact_fit_of_noiseless_data():
    # n > p and y exactly linear: the optimum interpolates (r = 0, sigma at its bound).
    rng = np.random.RandomState(0)
    X = rng.randn(60, 3)
    y = X @ np.array([1.0, -2.0, 0.5]) + 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDHuberRegressor(alpha=1e-6).fit(X, y)
    np.testing.assert_allclose(est.predict(X), y, atol=1e-8)
    ref = _reference(X, y, None, alpha=1e-6)
    f_ref = huber_objective(X, y, ref.coef_, ref.intercept_, ref.scale_, 1.35, 1e-6)
    f_est = huber_objective(X, y, est.coef_, est.intercept_, est.scale_, 1.35, 1e-6)
    assert f_est <= f_ref * (1 + 1e-6)


def test_meta_estimators_pickle_and_pandas():
    X, y = _problem("heavy_outliers")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = GDHuberRegressor().fit(df, y)
    np.testing.assert_array_equal(est.feature_names_in_, df.columns.to_numpy())
    clone_ = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone_.predict(df), est.predict(df))
    assert clone(est).get_params() == est.get_params()
    pipe = make_pipeline(StandardScaler(), GDHuberRegressor()).fit(df, y)
    manual = GDHuberRegressor().fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(pipe[-1].coef_, manual.coef_, rtol=1e-10)
    grid = GridSearchCV(GDHuberRegressor(), {"epsilon": [1.1, 1.35, 2.0]}, cv=3).fit(X, y)
    assert grid.best_params_["epsilon"] in (1.1, 1.35, 2.0)


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
        ([[1.0], [2.0], [3.0]], [1.0, 2.0], None, "inconsistent"),
    ],
)
def test_invalid_input_raises_clear_error(X, y, sw, match):
    with pytest.raises(ValueError, match=match):
        GDHuberRegressor().fit(np.asarray(X) if not isinstance(X, list) else X, y, sw)


def test_non_convergence_warns_and_overflow_raises():
    X, y = _problem("correlated")
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        GDHuberRegressor(max_iter=1).fit(X, y)
    with pytest.raises(DivergenceError, match="rescale X"):
        GDHuberRegressor().fit(X * 1e200, y)


def test_newton_phase_matches_sklearn_and_certifies():
    # Large n takes the subsample warm start, then exact Newton steps on the full data
    # (inlier Gram matrix updated between steps): same optimum as HuberRegressor, a
    # certified gap below tol, and partial_fit can continue from the Newton answer.
    rng = np.random.RandomState(3)
    X = rng.randn(100_000, 6) * np.array([1.0, 10.0, 0.1, 1.0, 3.0, 1.0]) + 5.0
    y = X @ rng.randn(6) + 2.0 + rng.randn(100_000)
    y[rng.rand(100_000) < 0.05] += 40.0
    sw = rng.uniform(0.5, 2.0, 100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDHuberRegressor(random_state=0).fit(X, y, sample_weight=sw)
    assert est.converged_ and est.certificate_ <= est.tol
    assert est.n_iter_ <= 10
    ref = _reference(X, y, sw)
    f_ref, f_est = _objective(ref, X, y, sw), _objective(est, X, y, sw)
    assert (f_est - f_ref) / abs(f_ref) <= 1e-9, (f_est, f_ref)
    f_before = f_est
    est.partial_fit(X, y, sample_weight=sw)
    assert _objective(est, X, y, sw) <= f_before * (1 + 1e-10)


def test_newton_band_sums_match_their_definitions():
    # The Newton phase keeps the inliers' Gram matrix and the two sums that give its
    # gradient (sum_in s r [x~ 1], sum_out s sign(r) [x~ 1]) up to date across steps (the
    # Gram matrix times the step, corrections from the rows that change side) instead of
    # reading X again: after every step they must equal their definitions at the new
    # iterate, with offsets in X, weights and zero-weight rows (the non-contiguous path).
    from ensemblekit.estimators._huber_newton import HuberNewtonSolver

    rng = np.random.RandomState(1)
    n, p = 4000, 5
    X = rng.randn(n, p) * np.array([1.0, 5.0, 0.2, 1.0, 2.0]) + 3.0
    y = X @ rng.randn(p) + 1.0 + rng.randn(n)
    y[rng.rand(n) < 0.1] += 30.0
    sw = rng.uniform(0.5, 2.0, n)
    sw[rng.rand(n) < 0.1] = 0.0
    est = GDHuberRegressor()
    cfg = est._gd_config(float(sw.sum()))
    train = np.flatnonzero(sw > 0)
    prob = est._problem(X, y, sw, train, cfg, rng)
    solver = HuberNewtonSolver(1e-10, None)
    state = solver.start(prob, np.zeros(p + 1))
    pre = prob.pre
    swn = prob.sw[train] / prob.n_train
    Xt = np.hstack([(X[train] - pre.mean) * pre.inv_scale, np.ones((train.size, 1))])
    steps = 0
    for _ in range(20):
        records = solver.run(prob, state, 1, False)
        if records[-1].converged or records[-1].stalled:
            break
        steps += 1
        r = np.asarray(prob.y, dtype=np.float64)[train] - Xt @ state.x
        inl = state.side == 0
        np.testing.assert_allclose(state.gram_in, Xt[inl].T @ (swn[inl, None] * Xt[inl]),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(state.a_in, Xt[inl].T @ (swn[inl] * r[inl]),
                                   rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(state.out_sum, Xt[~inl].T @ (swn[~inl] * state.side[~inl]),
                                   rtol=1e-10, atol=1e-12)
    assert steps >= 2
    assert records[-1].converged, records[-1]


def test_newton_fit_reports_scale_of_its_residuals():
    # scale_ and outliers_ come from the Newton phase's own X v (no pass over X): they
    # must agree with the residuals recomputed from coef_ and intercept_.
    rng = np.random.RandomState(2)
    n, p = 40_000, 4
    X = rng.randn(n, p) + 1.0
    y = X @ rng.randn(p) + rng.randn(n)
    y[rng.rand(n) < 0.05] -= 25.0
    est = GDHuberRegressor(random_state=0).fit(X, y)
    assert est.converged_ and est.certificate_ <= est.tol
    r = y - X @ est.coef_ - est.intercept_
    sigma = _optimal_scale(r, np.full(n, 1.0 / n), 1.35, 10 * np.finfo(float).eps, -1.0)
    assert abs(est.scale_ - sigma) <= 1e-12 * sigma
    assert np.array_equal(est.outliers_, np.abs(r) > est.epsilon * est.scale_)
    ref = _reference(X, y, None)
    f_ref, f_est = _objective(ref, X, y, None), _objective(est, X, y, None)
    assert (f_est - f_ref) / abs(f_ref) <= 1e-9, (f_est, f_ref)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_newton_phase_with_column_offsets(fit_intercept):
    # Columns with offsets far larger than their spread: the first-order metric built
    # from the subsample (kept for partial_fit) must stay positive definite (it mixed the
    # subsample's Gram matrix with the full data's means, and its Cholesky failed), and
    # the Newton phase must still certify and match HuberRegressor's objective.
    rng = np.random.RandomState(0)
    n, p = 30_000, 6
    X = rng.randn(n, p) * rng.uniform(0.1, 10.0, p) + rng.uniform(-50.0, 50.0, p)
    y = X @ rng.randn(p) + 5.0 + rng.randn(n)
    y[rng.rand(n) < 0.08] += 60.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = GDHuberRegressor(random_state=0, fit_intercept=fit_intercept).fit(X, y)
    assert est.converged_ and est.certificate_ <= est.tol and est.n_iter_ <= 10
    ref = _reference(X, y, None, fit_intercept=fit_intercept)
    f_ref, f_est = _objective(ref, X, y, None), _objective(est, X, y, None)
    assert (f_est - f_ref) / abs(f_ref) <= 1e-9, (f_est, f_ref)
    est.partial_fit(X, y)
    assert _objective(est, X, y, None) <= f_est * (1 + 1e-10)
