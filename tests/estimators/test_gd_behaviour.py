"""Behaviour of the estimators: composition, determinism, persistence, integration."""

import pickle
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _gd_problems import enet_objective, well_conditioned, wide
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.estimators import GDElasticNet, GDLasso, GDRegressor, GDRidge

SOLVER_CONFIGS = [
    dict(solver="sgd", batch_size=1, penalty="elasticnet", alpha=0.01),
    dict(solver="sgd", batch_size=1, penalty="l1", alpha=0.01, average=True),
    dict(solver="adam", batch_size=32, penalty="elasticnet", learning_rate="cosine", T_0=2),
    dict(solver="nesterov", batch_size=8, learning_rate="plateau", n_iter_no_change=1),
    dict(solver="rmsprop", batch_size="full", learning_rate="cyclic", step_size=2.0),
    dict(solver="fista", penalty="l1", alpha=0.01),
    dict(solver="fista", loss="huber", penalty="elasticnet", alpha=0.01),
]
CONFIG_IDS = ["sgd", "asgd-l1", "adam", "nesterov-plateau", "rmsprop-full", "fista",
              "fista-huber"]


@pytest.mark.parametrize("params", SOLVER_CONFIGS, ids=CONFIG_IDS)
def test_partial_fit_composes_into_fit(params):
    X, y = well_conditioned(n=150)
    fit = GDRegressor(max_iter=5, tol=None, shuffle=False, random_state=0, **params).fit(X, y)
    inc = GDRegressor(max_iter=5, tol=None, shuffle=False, random_state=0, **params)
    for _ in range(5):
        inc.partial_fit(X, y)
    np.testing.assert_array_equal(inc.coef_, fit.coef_)
    assert inc.intercept_ == fit.intercept_
    assert inc.t_ == fit.t_
    np.testing.assert_array_equal(inc.loss_curve_, fit.loss_curve_)


def test_partial_fit_composes_with_shuffle_and_elasticnet_twin():
    X, y = well_conditioned(n=150)
    fit = GDRegressor(solver="adam", batch_size=16, max_iter=4, tol=None, random_state=3).fit(
        X, y)
    inc = GDRegressor(solver="adam", batch_size=16, max_iter=4, tol=None, random_state=3)
    for _ in range(4):
        inc.partial_fit(X, y)
    np.testing.assert_array_equal(inc.coef_, fit.coef_)
    # The twin tuned by Hyperband: one partial_fit is one epoch of the same run.
    fit = GDElasticNet(alpha=0.01, learning_rate_init=0.05, max_iter=7, tol=None).fit(X, y)
    inc = GDElasticNet(alpha=0.01, learning_rate_init=0.05, max_iter=7, tol=None)
    for _ in range(7):
        inc.partial_fit(X, y)
    np.testing.assert_array_equal(inc.coef_, fit.coef_)
    assert inc.n_iter_ == 7


def test_learning_rate_init_matters_for_elasticnet_twin():
    X, y = well_conditioned(n=150)
    a = GDElasticNet(alpha=0.01, learning_rate_init=1e-3, max_iter=3, tol=None).fit(X, y)
    b = GDElasticNet(alpha=0.01, learning_rate_init=1e-1, max_iter=3, tol=None).fit(X, y)
    assert a.loss_curve_[-1] > b.loss_curve_[-1]
    c = GDElasticNet(alpha=0.01, solver="adam", batch_size=32, learning_rate_init=0.05,
                     max_iter=50, random_state=0).fit(X, y)
    assert c.score(X, y) > 0.95


@pytest.mark.parametrize("params", SOLVER_CONFIGS, ids=CONFIG_IDS)
def test_same_random_state_same_coefficients(params):
    X, y = well_conditioned(n=150)
    a = GDRegressor(max_iter=4, tol=None, random_state=7, **params).fit(X, y)
    b = GDRegressor(max_iter=4, tol=None, random_state=7, **params).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    if params["solver"] in ("sgd", "adam"):
        c = GDRegressor(max_iter=4, tol=None, random_state=8, **params).fit(X, y)
        assert not np.array_equal(a.coef_, c.coef_)


@pytest.mark.parametrize("est", [GDRegressor(random_state=0), GDLasso(alpha=0.01),
                                 GDRegressor(solver="adam", batch_size=16, random_state=0)])
def test_pickle_round_trip_predicts_identically(est):
    X, y = well_conditioned(n=150)
    est.fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    # The optimizer state survives too: training continues identically.
    est.partial_fit(X, y)
    restored.partial_fit(X, y)
    np.testing.assert_array_equal(restored.coef_, est.coef_)


def test_pipeline_gridsearch_pandas_and_set_output():
    X, y = well_conditioned(n=200, p=4)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    reg = GDRegressor(solver="fista", penalty="elasticnet").fit(df, y)
    np.testing.assert_array_equal(reg.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="feature names"):
        reg.predict(X)
    pipe = make_pipeline(StandardScaler(), GDRegressor(random_state=0)).set_output(
        transform="pandas")
    pipe.fit(df, y)
    assert pipe.score(df, y) > 0.95
    assert list(pipe[-1].feature_names_in_) == ["a", "b", "c", "d"]
    grid = GridSearchCV(
        GDRegressor(solver="adam", batch_size=32, random_state=0),
        {"beta_1": [0.5, 0.9], "beta_2": [0.9, 0.999], "adam_epsilon": [1e-8, 1e-6],
         "learning_rate_init": [0.01, 0.05]},
        cv=2,
    ).fit(df, y)
    assert set(grid.best_params_) == {"beta_1", "beta_2", "adam_epsilon", "learning_rate_init"}
    grid = GridSearchCV(GDElasticNet(), {"alpha": [0.01, 1.0], "l1_ratio": [0.2, 0.8],
                                         "learning_rate_init": [None, 0.1]}, cv=2).fit(X, y)
    assert grid.best_params_["alpha"] == 0.01
    c = clone(GDRegressor(momentum=0.5, milestones=(3, 6)))
    assert c.get_params()["momentum"] == 0.5 and c.milestones == (3, 6)


def test_float32_stays_float32_and_close_to_float64():
    X, y = well_conditioned()
    for est in (GDRegressor(random_state=0, max_iter=20, tol=None),
                GDRidge(alpha=1.0, tol=1e-8)):
        r64 = clone(est).fit(X, y)
        r32 = clone(est).fit(X.astype(np.float32), y.astype(np.float32))
        assert r32.coef_.dtype == np.float32
        assert r32.predict(X.astype(np.float32)).dtype == np.float32
        np.testing.assert_allclose(r32.coef_, r64.coef_, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("params", [
    # Per-sample CSR steps scale but do not centre (centring would cost O(n_features) a
    # step): the lazy CSR kernel replays the dense one on the same (raw) coordinates.
    dict(solver="sgd", batch_size=1, penalty="l2", precondition=False),
    dict(solver="adam", batch_size=8, penalty="elasticnet"),
    dict(solver="sgd", batch_size=1, penalty="elasticnet", average=True, precondition=False),
])
def test_sparse_and_dense_give_the_same_iterates(params):
    X, y = wide(n=80, p=30)
    X[np.random.RandomState(0).rand(*X.shape) < 0.7] = 0
    dense = GDRegressor(max_iter=5, tol=None, random_state=0, **params).fit(X, y)
    csr = GDRegressor(max_iter=5, tol=None, random_state=0, **params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(csr.coef_, dense.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("params", [
    # In raw units, the rate the lazy cumulative L1 path was first checked with...
    dict(learning_rate="constant", learning_rate_init=0.002, precondition=False),
    # ... and by default: standardized coordinates and the data-derived rate.
    dict(),
])
def test_lazy_l1_on_sparse_input_reaches_lasso(params):
    X, y = wide(n=400, p=40)
    X[np.random.RandomState(0).rand(*X.shape) < 0.7] = 0
    Xs = sp.csr_matrix(X)
    ref = Lasso(alpha=0.05, tol=1e-12).fit(X, y)
    gd = GDRegressor(penalty="l1", alpha=0.05, max_iter=100, tol=None, random_state=0,
                     **params).fit(Xs, y)
    f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, 0.05, 1.0)
    f_gd = enet_objective(X, y, gd.coef_, gd.intercept_, 0.05, 1.0)
    assert (f_gd - f_ref) / f_ref < 1e-3
    # Exact zeros, about as many as the Lasso solution has (8 here).
    assert np.count_nonzero(gd.coef_ == 0) >= np.count_nonzero(ref.coef_ == 0) - 2 > 0


def test_fortran_input_and_no_copy_of_c_contiguous_float32():
    # The speed benchmark's shape (200000 x 100) scaled down: fit allocates at most 0.3 X.
    X, y = well_conditioned(n=20000, p=100)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    a = GDRegressor(max_iter=2, tol=None, random_state=0).fit(np.asfortranarray(X), y)
    b = GDRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    for est in (GDRegressor(max_iter=2, tol=None, random_state=0),
                GDRegressor(solver="adam", batch_size=256, max_iter=2, tol=None),
                GDRidge(max_iter=20), GDElasticNet(alpha=0.01, max_iter=20)):
        # Compile outside of the measurement (more rows than a batch, so that the
        # mini-batch kernel, not the full-batch path, is the one compiled).
        est.fit(X32[:1000], y[:1000])
        tracemalloc.start()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X32, y)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak <= 0.3 * X32.nbytes, (est, peak / X32.nbytes)


def test_averaged_sgd_with_l1_is_correct():
    """scikit-learn 1.9's SGDRegressor(average=True, penalty="l1") is broken (R^2 < 0)."""
    X, y = well_conditioned(n=1000, p=20)
    ref = Lasso(alpha=0.05, tol=1e-12).fit(X, y)
    for penalty in ("l1", "elasticnet"):
        gd = GDRegressor(penalty=penalty, l1_ratio=0.7, alpha=0.05, average=True,
                         learning_rate="invscaling", learning_rate_init=0.01, max_iter=30,
                         tol=None, random_state=0).fit(X, y)
        assert gd.score(X, y) > ref.score(X, y) - 0.01
    gd = GDRegressor(penalty="l1", alpha=0.05, average=1000, learning_rate="constant",
                     learning_rate_init=0.005, max_iter=30, tol=None, random_state=0).fit(X, y)
    f_ref = enet_objective(X, y, ref.coef_, ref.intercept_, 0.05, 1.0)
    f_gd = enet_objective(X, y, gd.coef_, gd.intercept_, 0.05, 1.0)
    assert (f_gd - f_ref) / f_ref < 1e-3


def test_l1_gives_exact_zeros_for_every_solver():
    X, y = well_conditioned(n=300, p=10)  # half of the true coefficients are zero
    for solver in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "fista"):
        lr = 0.1 if solver == "adagrad" else 0.01  # adagrad's steps shrink as 1/sqrt(t)
        gd = GDRegressor(solver=solver, penalty="l1", alpha=0.1, batch_size=16,
                         learning_rate="constant", learning_rate_init=lr, max_iter=40,
                         tol=None, random_state=0).fit(X, y)
        assert np.count_nonzero(gd.coef_ == 0) >= 2, solver


def test_loss_curve_and_convergence_rule():
    X, y = well_conditioned()
    gd = GDRegressor(solver="fista", penalty="l2", alpha=0.1, loss="huber").fit(X, y)
    assert len(gd.loss_curve_) == gd.n_iter_
    assert np.all(np.diff(gd.loss_curve_) <= 1e-12)  # FISTA with restart is monotone
    gd = GDRegressor(random_state=0, tol=1e-3, n_iter_no_change=3).fit(X, y)
    curve = np.array(gd.loss_curve_)
    assert gd.n_iter_ < 1000 and gd.converged_
    # The rule: over the last n_iter_no_change epochs the objective neither improved on its
    # best before them nor moved from one epoch to the next by tol times its start.
    start = 0.5 * np.mean((y - y.mean()) ** 2)  # the intercept-only starting point
    tol = 1e-3 * start
    assert np.all(curve[-3:] > curve[:-3].min() - tol)
    assert np.all(np.abs(np.diff(curve[-4:])) <= tol)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        GDRegressor(max_iter=2, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GDRegressor(max_iter=2, tol=None, random_state=0).fit(X, y)


def test_early_stopping_restores_best_coefficients():
    X, y = well_conditioned(n=300)
    y = y + np.random.RandomState(0).standard_cauchy(300)  # noisy: validation fluctuates
    gd = GDRegressor(solver="adam", batch_size=8, learning_rate="constant",
                     learning_rate_init=0.1, early_stopping=True, validation_fraction=0.2,
                     n_iter_no_change=4, tol=0.0, random_state=0).fit(X, y)
    scores = gd.validation_scores_
    assert len(scores) == gd.n_iter_ == len(gd.loss_curve_)
    assert gd.best_iteration_ == int(np.argmax(scores)) + 1
    # Same split as the estimator: a permutation drawn first from random_state.
    val = np.sort(np.random.RandomState(0).permutation(300)[:60])
    pred = gd.predict(X[val])
    r2 = 1 - ((y[val] - pred) ** 2).sum() / ((y[val] - y[val].mean()) ** 2).sum()
    assert r2 == pytest.approx(max(scores), rel=1e-5)
    assert not hasattr(GDRegressor(max_iter=3).fit(X, y), "validation_scores_")


def test_warm_start_and_coef_init():
    X, y = well_conditioned()
    ref = GDLasso(alpha=0.05, tol=1e-10).fit(X, y)
    warm = GDLasso(alpha=0.05, tol=1e-10, warm_start=True).fit(X, y)
    warm.set_params(alpha=0.05).fit(X, y)
    assert warm.n_iter_ <= 3  # already at the optimum
    np.testing.assert_allclose(warm.coef_, ref.coef_, atol=1e-8)
    init = GDLasso(alpha=0.05, tol=1e-10).fit(X, y, coef_init=ref.coef_,
                                                intercept_init=ref.intercept_)
    assert init.n_iter_ <= 3
    gd = GDRegressor(max_iter=1, tol=None, learning_rate="constant", learning_rate_init=1e-12)
    gd.fit(X, y, coef_init=np.ones(X.shape[1]), intercept_init=2.0)
    np.testing.assert_allclose(gd.coef_, 1.0, atol=1e-6)
    assert gd.intercept_ == pytest.approx(2.0, abs=1e-6)


def test_all_losses_fit_sensible_models():
    X, y = well_conditioned(n=500)
    for loss in ("squared_error", "absolute_error", "huber", "log_cosh", "quantile",
                 "epsilon_insensitive", "squared_epsilon_insensitive"):
        gd = GDRegressor(loss=loss, epsilon=0.1, solver="adam", batch_size=16,
                         learning_rate="constant", learning_rate_init=0.02, max_iter=100,
                         random_state=0).fit(X, y)
        assert gd.score(X, y) > 0.97, loss
    # The quantile loss puts the requested fraction of the targets below the fit.
    for q in (0.2, 0.8):
        gd = GDRegressor(loss="quantile", quantile=q, solver="adam", batch_size=16,
                         learning_rate="cosine", T_0=100, learning_rate_init=0.05,
                         max_iter=100, tol=None, random_state=0).fit(X, y)
        assert np.mean(y < gd.predict(X)) == pytest.approx(q, abs=0.05)


def test_warmup_and_schedules_are_wired():
    X, y = well_conditioned(n=100)
    base = dict(max_iter=3, tol=None, shuffle=False, random_state=0)
    a = GDRegressor(learning_rate="constant", **base).fit(X, y)
    b = GDRegressor(learning_rate="constant", warmup_steps=50, **base).fit(X, y)
    c = GDRegressor(learning_rate="multistep", milestones=[1], gamma=0.1, **base).fit(X, y)
    assert not np.array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)
    # Every schedule works without extra parameters: "multistep" decays at 50% and 75%
    # of max_iter by default.
    d = GDRegressor(learning_rate="multistep", gamma=0.1, **dict(base, max_iter=4)).fit(X, y)
    e = GDRegressor(learning_rate="multistep", milestones=[2, 3], gamma=0.1,
                    **dict(base, max_iter=4)).fit(X, y)
    np.testing.assert_array_equal(d.coef_, e.coef_)
    plateau = GDRegressor(learning_rate="plateau", learning_rate_init=0.01, n_iter_no_change=2,
                          tol=1e-3, max_iter=500, random_state=0).fit(X, y)
    assert plateau.n_iter_ < 500  # stops once the rate fell below 1e-6


def test_verbose_prints_the_objective(capsys):
    X, y = well_conditioned(n=100)
    GDRegressor(max_iter=3, tol=None, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("objective") == 3


def test_partial_fit_reuses_the_gram_matrix_only_for_the_same_data(monkeypatch):
    import ensemblekit.estimators._fista as fista

    built = []
    real = fista.centered_gram

    def counting(prob):
        built.append(1)
        return real(prob)

    monkeypatch.setattr(fista, "centered_gram", counting)
    X, y = well_conditioned(n=200)
    est = GDElasticNet(alpha=0.01)
    for _ in range(5):
        est.partial_fit(X, y)
    assert len(built) == 1
    X2 = X.copy()
    X2[0, 0] += 1.0  # other data: rebuilt
    est.partial_fit(X2, y)
    est.partial_fit(X, y + 1.0)
    est.set_params(alpha=0.1).partial_fit(X, y)
    assert len(built) == 4
    restored = pickle.loads(pickle.dumps(est))
    assert not hasattr(restored, "_smooth_cache")
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
