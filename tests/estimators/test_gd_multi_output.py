"""K outputs: the matrix datafits, the matrix FISTA solver and the twins' multi-output fits.

References: scikit-learn's solvers (multi-output Ridge / Lasso / ElasticNet, multinomial
LogisticRegression), least squares by LAPACK, finite differences, and the single-output
fits column by column.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge

from ensemblekit.estimators import GDElasticNet, GDLasso, GDLinearRegression, GDRidge
from ensemblekit.estimators._datafits import Datafit, MultinomialLogLoss
from ensemblekit.estimators._matrix_fista import ImplicitDesign, MatrixFistaSolver
from ensemblekit.estimators._penalties import WeightedElasticNet
from ensemblekit.estimators._precondition import column_moments
from ensemblekit.estimators._rows import kernel_inputs


def _regression(scales, n=300, p=12, K=3, seed=0, offset=1e5, gain=1e4):
    rng = np.random.default_rng(seed)
    mix = np.eye(p) + 0.5 * rng.standard_normal((p, p)) / np.sqrt(p)
    X = rng.standard_normal((n, p)) @ mix * scales
    coef = rng.standard_normal((p, K)) / scales[:, None]
    Y = X @ coef * gain + rng.standard_normal((n, K)) + offset
    return X, Y


SCALES = {"standardized": np.ones(12), "raw_scale": np.logspace(-2, 5, 12)}


def _enet_objective(X, Y, coef, intercept, alpha, l1_ratio):
    R = Y - X @ coef.T - intercept
    return (0.5 * np.mean(np.sum(R * R, axis=1)) + alpha * l1_ratio * np.abs(coef).sum()
            + 0.5 * alpha * (1.0 - l1_ratio) * np.sum(coef * coef))


# ------------------------------------------------------------------ twins, y of shape (n, K)
@pytest.mark.parametrize("kind", sorted(SCALES))
@pytest.mark.parametrize("name", ["lasso", "enet", "ridge"])
def test_multi_output_twins_reach_sklearn_objective_with_same_support(kind, name):
    X, Y = _regression(SCALES[kind])
    alpha = 5.0
    if name == "ridge":
        ours, ref = GDRidge(alpha=alpha, tol=1e-10), Ridge(alpha=alpha, tol=1e-12)
    elif name == "lasso":
        ours = GDLasso(alpha=alpha, tol=1e-10)
        ref = Lasso(alpha=alpha, tol=1e-12, max_iter=10**6)
    else:
        ours = GDElasticNet(alpha=alpha, l1_ratio=0.5, tol=1e-10)
        ref = ElasticNet(alpha=alpha, l1_ratio=0.5, tol=1e-12, max_iter=10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours.fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, Y)
    assert ours.coef_.shape == (3, 12) and ours.intercept_.shape == (3,)
    assert ours.predict(X).shape == (300, 3)
    if name == "ridge":
        def f(m):
            R = Y - m.predict(X)
            return np.sum(R * R) + alpha * np.sum(m.coef_ ** 2)
    else:
        l1r = 1.0 if name == "lasso" else 0.5

        def f(m):
            return _enet_objective(X, Y, m.coef_, m.intercept_, alpha, l1r)
    f_o, f_r = f(ours), f(ref)
    assert (f_o - f_r) / f_r <= 1e-6
    # Certified at tol, or at the rounding floor (gap <= 1e-13 of the start objective).
    assert ours.converged_ and ours.certificate_ <= 1e-8
    if name != "ridge":
        np.testing.assert_array_equal(ours.coef_ != 0, ref.coef_ != 0)


def test_multi_output_least_squares_matches_lapack_on_raw_scale():
    # scikit-learn's LinearRegression loses digits on these columns (scales 1e-2..1e5);
    # the reference is least squares on the standardized design.
    X, Y = _regression(SCALES["raw_scale"])
    m = GDLinearRegression(tol=1e-10).fit(X, Y)
    Xc = X - X.mean(axis=0)
    B = np.linalg.lstsq(Xc / Xc.std(axis=0), Y - Y.mean(axis=0), rcond=None)[0]
    R_ref = (Y - Y.mean(axis=0)) - (Xc / Xc.std(axis=0)) @ B
    R = Y - m.predict(X)
    assert abs(np.sum(R * R) - np.sum(R_ref * R_ref)) <= 1e-6 * np.sum(R_ref * R_ref)


def test_multi_output_equals_column_by_column_fits_dense_and_csr():
    X, Y = _regression(np.ones(12), offset=3.0)
    X[np.abs(X) < 0.7] = 0.0
    for data in (X, sp.csr_matrix(X)):
        joint = GDElasticNet(alpha=0.3, l1_ratio=0.7, tol=1e-10).fit(data, Y)
        for k in range(Y.shape[1]):
            single = GDElasticNet(alpha=0.3, l1_ratio=0.7, tol=1e-10).fit(data, Y[:, k])
            f_j = _enet_objective(X, Y[:, [k]], joint.coef_[[k]], joint.intercept_[k], 0.3, 0.7)
            f_s = _enet_objective(X, Y[:, [k]], single.coef_[None], single.intercept_, 0.3, 0.7)
            assert abs(f_j - f_s) <= 1e-8 * f_s


def test_multi_output_sample_weight_equals_repeated_rows():
    X, Y = _regression(np.ones(12), n=80, offset=2.0, gain=3.0)
    reps = np.random.default_rng(3).integers(0, 3, size=80)
    a = GDLasso(alpha=0.5, tol=1e-10).fit(X, Y, sample_weight=reps.astype(float))
    b = GDLasso(alpha=0.5, tol=1e-10).fit(np.repeat(X, reps, axis=0), np.repeat(Y, reps, axis=0))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-8)


def test_multi_output_warm_start_resumes_at_the_optimum():
    X, Y = _regression(SCALES["raw_scale"])
    m = GDElasticNet(alpha=5.0, tol=1e-10, warm_start=True).fit(X, Y)
    first = m.n_iter_
    coef = m.coef_.copy()
    m.fit(X, Y)
    assert m.n_iter_ < first
    np.testing.assert_allclose(m.coef_, coef, rtol=1e-6, atol=1e-10)


def test_multi_output_bad_requests_get_clear_errors():
    X, Y = _regression(np.ones(12), n=50)
    with pytest.raises(ValueError, match="solver='fista' only"):
        GDRidge(solver="sgd").fit(X, Y)
    with pytest.raises(ValueError, match="fitted by fit only"):
        GDRidge().partial_fit(X, Y)
    with pytest.raises(ValueError, match="callbacks are not supported"):
        GDRidge(callbacks=[lambda *a: None]).fit(X, Y)
    with pytest.raises(ValueError, match=r"expected \(3, 12\)"):
        GDRidge().fit(X, Y, coef_init=np.zeros(12))
    Y_bad = Y.copy()
    Y_bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN|non-finite"):
        GDRidge().fit(X, Y_bad)


def test_max_iter_warns_with_the_certificate():
    X, Y = _regression(SCALES["raw_scale"])
    with pytest.warns(ConvergenceWarning, match="certificate"):
        m = GDLasso(alpha=5.0, tol=1e-12, max_iter=3).fit(X, Y)
    assert not m.converged_ and m.certificate_ > 1e-12


# ------------------------------------------------------------------ the multinomial datafit
def _classes(scales, n=400, K=5, seed=0):
    rng = np.random.default_rng(seed)
    p = scales.shape[0]
    mix = np.eye(p) + 0.5 * rng.standard_normal((p, p)) / np.sqrt(p)
    X = rng.standard_normal((n, p)) @ mix * scales
    W = rng.standard_normal((p, K)) / scales[:, None]
    labels = np.argmax(X @ W + rng.gumbel(size=(n, K)), axis=1)
    return X, labels, np.eye(K)[labels]


def test_multinomial_gradient_and_conjugate_against_brute_force():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((6, 4)) * 3
    Y = np.eye(4)[rng.integers(0, 4, size=6)]
    df = MultinomialLogLoss(4)
    np.testing.assert_allclose(df.row_values(Y, Z), logsumexp(Z, axis=1) - np.sum(Y * Z, 1))
    G = df.row_derivatives(Y, Z)
    h = 1e-6
    for k in range(4):
        E = np.zeros_like(Z)
        E[:, k] = h
        fd = (df.row_values(Y, Z + E) - df.row_values(Y, Z - E)) / (2 * h)
        np.testing.assert_allclose(G[:, k], fd, atol=1e-7)
    # Fenchel-Young holds with equality at theta = grad phi(z).
    np.testing.assert_allclose(df.row_values(Y, Z) + df.row_conjugates(G, Y),
                               np.sum(G * Z, axis=1), atol=1e-12)
    # A feasible dual point: rows of q = theta + y in the simplex, weighted mean = pi.
    w = rng.random(6)
    w /= w.sum()
    theta = df.feasible_dual(G, Y, w, fit_intercept=True)
    Q = theta + Y
    assert Q.min() >= 0.0
    np.testing.assert_allclose(Q.sum(axis=1), 1.0)
    np.testing.assert_allclose(w @ Q, w @ Y, atol=1e-12)


def _fit_multinomial(X, Y, C, l1=False, tol=1e-9, sparse=False):
    n, p = X.shape
    w = np.full(n, 1.0 / n)
    mean, scale = column_moments(kernel_inputs(X), np.arange(n), np.ones(n), True, p)
    design = ImplicitDesign(sp.csr_matrix(X) if sparse else X, mean, 1.0 / scale, True)
    alpha = 1.0 / (C * n)  # LogisticRegression: C sum_i loss + pen, divided by C n
    pen = (WeightedElasticNet(alpha / scale, np.zeros(p)) if l1
           else WeightedElasticNet(np.zeros(p), alpha / scale**2))
    df = MultinomialLogLoss(Y.shape[1])
    T0 = np.zeros((p + 1, Y.shape[1]))
    T0[p] = df.start_intercepts(Y, w)
    res = MatrixFistaSolver(tol=tol, max_iter=20000).solve(design, Y, w, df, pen, T0)
    W = res.T[:p] / scale[:, None]
    return res, W, res.T[p] - mean @ W, alpha


def _multinomial_objective(X, Y, W, b, alpha, l1):
    Z = X @ W + b
    pen = alpha * np.abs(W).sum() if l1 else 0.5 * alpha * np.sum(W * W)
    return np.mean(logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)) + pen


@pytest.mark.parametrize("case", ["well_conditioned", "p_greater_than_n", "raw_scale",
                                  "l1", "csr"])
def test_multinomial_matrix_solver_reaches_logistic_regression_objective(case):
    l1 = case == "l1"
    if case == "p_greater_than_n":
        X, labels, Y = _classes(np.ones(150), n=60, K=3)
    elif case == "raw_scale":
        X, labels, Y = _classes(np.logspace(-2, 3, 20))
    else:
        X, labels, Y = _classes(np.ones(20))
    C = 0.1 if l1 else 1.0
    res, W, b, alpha = _fit_multinomial(X, Y, C, l1=l1, sparse=case == "csr")
    assert res.converged and res.certificate <= 1e-9
    if l1:
        ref = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=10**5)
    else:
        # newton-cholesky: lbfgs does not converge on the raw-scale columns.
        ref = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    if l1 and LogisticRegression().get_params().get("penalty") != "deprecated":
        ref.set_params(penalty="l1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, labels)
    f_o = _multinomial_objective(X, Y, W, b, alpha, l1)
    f_r = _multinomial_objective(X, Y, ref.coef_.T, ref.intercept_, alpha, l1)
    assert (f_o - f_r) / f_r <= 1e-6
    # The certificate bounds the true relative gap.
    assert (f_o - min(f_o, f_r)) / f_o <= res.certificate + 1e-12
    if l1:
        np.testing.assert_array_equal(W != 0, ref.coef_.T != 0)


def test_separable_datafit_rows_sum_their_columns():
    rng = np.random.default_rng(0)
    Y, Z = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    df = Datafit("huber", epsilon=0.5, n_outputs=3)
    np.testing.assert_allclose(
        df.row_values(Y, Z), sum(Datafit("huber", epsilon=0.5).values(Y[:, k], Z[:, k])
                                 for k in range(3)))
    theta = df.row_derivatives(Y, Z)
    np.testing.assert_allclose(df.row_values(Y, Z) + df.row_conjugates(theta, Y),
                               np.sum(theta * Z, axis=1), atol=1e-12)
