"""Every kind of bad input raises a clear ValueError; divergence is caught, never returned."""

import numpy as np
import pytest
import scipy.sparse as sp
from _gd_problems import well_conditioned

from ensemblekit.estimators import (
    DivergenceError,
    GDElasticNet,
    GDLasso,
    GDLinearRegression,
    GDRegressor,
    GDRidge,
)

ESTIMATORS = [GDRegressor, GDLinearRegression, GDRidge, GDLasso, GDElasticNet]
X, Y = well_conditioned(n=50, p=4)


@pytest.fixture(params=ESTIMATORS, ids=lambda c: c.__name__)
def est(request):
    return request.param(max_iter=5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_or_y(est, bad):
    Xb = X.copy()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.fit(Xb, Y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.partial_fit(Xb, Y)
    yb = Y.copy()
    yb[0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.fit(X, yb)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.fit(sp.csr_matrix(Xb), Y)


STOCHASTIC = [dict(solver="sgd", batch_size=1), dict(solver="sgd", batch_size=8),
              dict(solver="sgd", batch_size="full"), dict(solver="adam", batch_size=16),
              dict(solver="sgd", batch_size=1, average=True),
              dict(solver="sgd", batch_size=1, early_stopping=True, n_iter_no_change=2)]


@pytest.mark.parametrize("params", STOCHASTIC, ids=lambda d: "-".join(map(str, d.values())))
@pytest.mark.parametrize("where", [(0, 0), (25, 2), (49, 3)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_deferred_finite_check_of_x(params, where, bad):
    """Stochastic solvers leave the NaN/inf check of X to the first epoch's predictions and
    the column statistics: every row position, every kind of step (and a held-out
    validation row), dense or CSR, still raises scikit-learn's message, for a fixed rate
    and for the data-derived one."""
    Xb = X.copy()
    Xb[where] = bad
    for data in (Xb, sp.csr_matrix(Xb)):
        for lr in (None, 1e-3):
            with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
                GDRegressor(max_iter=3, learning_rate_init=lr, random_state=0,
                            **params).fit(data, Y)


def test_deferred_finite_check_covers_rows_training_does_not_read():
    Xb = X.copy()
    Xb[7, 2] = np.nan
    sw = np.ones(X.shape[0])
    sw[7] = 0.0  # a zero-weight row is never visited by the epochs
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GDRegressor(max_iter=3).fit(Xb, Y, sample_weight=sw)
    est = GDRegressor(max_iter=3).partial_fit(X, Y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.partial_fit(Xb, Y)
    # a NaN in a column whose coefficient is exactly zero still surfaces (0 * NaN = NaN)
    Xb = X.copy()
    Xb[:, 3] = 0.0
    Xb[10, 3] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GDRegressor(max_iter=3, penalty="l1", alpha=10.0).fit(Xb, Y)


def test_y_too_large_for_float32(est):
    yb = Y.copy()
    yb[0] = 1e300
    with pytest.raises(ValueError, match="float32"):
        est.fit(X.astype(np.float32), yb)


def test_wrong_shapes(est):
    with pytest.raises(ValueError, match="2D array"):
        est.fit(X[:, 0], Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, Y[:-1])
    est.fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3], Y)
    with pytest.raises(ValueError, match="sample_weight"):
        est.fit(X, Y, sample_weight=np.ones(3))


def test_strings(est):
    with pytest.raises(ValueError, match="could not convert|string"):
        est.fit(np.array([["a", "b"], ["c", "d"], ["e", "f"]]), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        est.fit(X, np.array(["a"] * len(Y)))


def test_empty_and_single_sample(est):
    with pytest.raises(ValueError, match="0 sample"):
        est.fit(np.empty((0, 4)), np.empty(0))
    with pytest.raises(ValueError, match="0 feature"):
        est.fit(np.empty((5, 0)), np.ones(5))
    with pytest.raises(ValueError, match="1 sample"):
        est.fit(X[:1], Y[:1])


def test_sample_weights(est):
    with pytest.raises(ValueError, match="zero|positive"):
        est.fit(X, Y, sample_weight=np.zeros(len(Y)))
    with pytest.raises(ValueError, match="(?i)negative"):
        est.fit(X, Y, sample_weight=-np.ones(len(Y)))


def test_multi_output_is_rejected_where_unsupported(est):
    # The twins fit y of shape (n, K) (test_gd_multi_output); partial_fit never does.
    if est._multi_output:
        est.set_params(max_iter=10000).fit(X, np.c_[Y, Y])
        assert est.coef_.shape == (2, X.shape[1])
    else:
        with pytest.raises(ValueError, match="multi-output"):
            est.fit(X, np.c_[Y, Y])
    with pytest.raises(ValueError, match="multi-output"):
        est.partial_fit(X, np.c_[Y, Y])


def test_coef_init_shape(est):
    with pytest.raises(ValueError, match="coef_init"):
        est.fit(X, Y, coef_init=np.zeros(3))
    with pytest.raises(ValueError, match="intercept_init"):
        est.fit(X, Y, intercept_init=np.zeros(2))


@pytest.mark.parametrize("params", [
    dict(solver="sgd", batch_size=1),
    dict(solver="momentum", batch_size=8),
    dict(solver="sgd", batch_size="full"),
    dict(solver="sgd", batch_size=1, penalty="l1", average=True),
])
def test_divergence_raises_and_names_the_setting(params):
    Xs = X * 100
    est = GDRegressor(learning_rate="constant", learning_rate_init=10.0, max_iter=50, tol=None,
                      random_state=0, **params)
    with pytest.raises(DivergenceError, match="lower learning_rate_init") as info:
        est.fit(Xs, Y)
    assert isinstance(info.value, ValueError)
    assert not hasattr(est, "coef_")  # never NaN coefficients
    inc = GDRegressor(learning_rate="constant", learning_rate_init=10.0, random_state=0,
                      **params)
    with pytest.raises(DivergenceError, match="learning_rate_init"):
        for _ in range(50):
            inc.partial_fit(Xs, Y)
            assert np.isfinite(inc.coef_).all()


def test_twin_with_large_step_diverges_or_recovers():
    # FISTA's backtracking repairs a too-large initial step instead of diverging...
    gd = GDElasticNet(alpha=0.01, learning_rate_init=1e6, tol=1e-8).fit(X * 100, Y)
    assert np.isfinite(gd.coef_).all()
    # ... but a first-order stochastic twin cannot: it raises.
    with pytest.raises(DivergenceError):
        GDElasticNet(alpha=0.01, solver="sgd", learning_rate_init=1e3).fit(X * 100, Y)


@pytest.mark.parametrize("params, match", [
    (dict(loss="foo"), "loss"),
    (dict(solver="lbfgs"), "solver"),
    (dict(learning_rate="optimal"), "learning_rate"),
    (dict(alpha=-1.0), "alpha"),
    (dict(l1_ratio=1.5), "l1_ratio"),
    (dict(batch_size=0), "batch_size"),
    (dict(quantile=1.0), "quantile"),
    (dict(beta_1=1.0), "beta_1"),
    (dict(T_mult=0.5), "T_mult"),
    (dict(solver="fista", loss="absolute_error"), "smooth loss"),
])
def test_invalid_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        GDRegressor(**params).fit(X, Y)


def test_early_stopping_without_validation_samples():
    with pytest.raises(ValueError, match="validation_fraction"):
        GDRegressor(early_stopping=True, validation_fraction=0.99).fit(X[:3], Y[:3])


def test_predict_before_fit(est):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        est.predict(X)
