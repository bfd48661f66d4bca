"""The fast paths keep the results of the plain algorithms (issue 3).

* Full batch: the objective after epoch k comes from epoch k + 1's gradient pass (one
  read of X per epoch), with a speculative epoch rolled back when training stops.
* FISTA on X: X w of the iterates is stored and the extrapolated point's products are
  combined linearly; two passes over X per iteration.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from ensemblekit.estimators import GDRegressor, _base, _fista
from ensemblekit.estimators._fista import FistaState, LossFit, fista_iteration, prox_l1
from ensemblekit.estimators._losses import LOSS_CODES, loss_values_numpy


def _problem(n=300, p=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    y = X @ rng.randn(p) + 0.5 + 0.3 * rng.randn(n)
    return X, y


def _objective(est, X, y, loss="squared_error", epsilon=0.1):
    r = loss_values_numpy(LOSS_CODES[loss], y, X @ est.coef_ + est.intercept_, epsilon, 0.5)
    w = est.coef_
    a, l1 = est.alpha, est.l1_ratio if est.penalty == "elasticnet" else 0.0
    return r.mean() + a * (l1 * np.abs(w).sum() + 0.5 * (1 - l1) * w @ w)


FULL = dict(solver="sgd", batch_size="full", learning_rate="constant",
            learning_rate_init=0.3, penalty="elasticnet", alpha=0.01, l1_ratio=0.3)


def test_full_batch_loss_curve_is_the_objective_after_each_epoch():
    X, y = _problem()
    curve = GDRegressor(max_iter=6, tol=None, **FULL).fit(X, y).loss_curve_
    assert len(curve) == 6
    for k in range(1, 7):
        est = GDRegressor(max_iter=k, tol=None, **FULL).fit(X, y)
        assert curve[k - 1] == pytest.approx(_objective(est, X, y), rel=1e-12)
        assert est.loss_curve_ == curve[:k]


@pytest.mark.parametrize("solver", ["sgd", "adam", "nesterov"])
def test_full_batch_early_stop_rolls_back_the_speculative_epoch(solver):
    X, y = _problem()
    params = dict(FULL, solver=solver, learning_rate_init=0.05)
    stopped = GDRegressor(max_iter=500, tol=1e-3, n_iter_no_change=2, **params).fit(X, y)
    assert 2 < stopped.n_iter_ < 500
    plain = GDRegressor(max_iter=stopped.n_iter_, tol=None, **params).fit(X, y)
    np.testing.assert_array_equal(stopped.coef_, plain.coef_)
    assert stopped.intercept_ == plain.intercept_
    assert stopped.t_ == plain.t_ == stopped.n_iter_
    assert stopped.loss_curve_ == plain.loss_curve_
    # Resuming with warm start continues from the rolled-back state.
    inc = GDRegressor(max_iter=stopped.n_iter_, tol=None, **params)
    for _ in range(stopped.n_iter_):
        inc.partial_fit(X, y)
    np.testing.assert_array_equal(inc.coef_, stopped.coef_)
    np.testing.assert_array_equal(inc.loss_curve_, stopped.loss_curve_)


def test_full_batch_runs_one_kernel_pass_per_epoch(monkeypatch):
    X, y = _problem()
    calls = {"run_epoch": 0, "loss": 0}
    run_epoch, wdl = _base.run_epoch, _base.weighted_data_loss

    def counting_run_epoch(*args):
        calls["run_epoch"] += 1
        return run_epoch(*args)

    def counting_loss(*args):
        calls["loss"] += 1
        return wdl(*args)

    monkeypatch.setattr(_base, "run_epoch", counting_run_epoch)
    monkeypatch.setattr(_base, "weighted_data_loss", counting_loss)
    GDRegressor(max_iter=7, tol=None, **FULL).fit(X, y)
    # 7 epochs + 0 extra: the objective of epoch k comes from epoch k + 1's pass, and the
    # one after the last epoch from a single extra loss pass.
    assert calls == {"run_epoch": 7, "loss": 1}


def test_full_batch_with_divergence_still_raises():
    X, y = _problem()
    params = dict(FULL, learning_rate_init=50.0)
    with pytest.raises(ValueError, match="diverged"):
        GDRegressor(max_iter=200, tol=None, **params).fit(X, y)


def _fista_reference(smooth, theta, step, l1, p, n_iter):
    """FISTA as before the residual reuse: value_grad at y, value at each candidate."""
    x, yk, t, obj = theta.copy(), theta.copy(), 1.0, smooth.value(theta) + l1 * np.abs(
        theta[:p]).sum()
    for _ in range(n_iter):
        f_y, g_y = smooth.value_grad(yk)
        slack = 1e-12 * max(abs(f_y), 1.0)
        for _ in range(60):
            x_new = prox_l1(yk - step * g_y, step * l1, p)
            d = x_new - yk
            f_new = smooth.value(x_new)
            if f_new <= f_y + g_y @ d + (d @ d) / (2.0 * step) + slack:
                break
            step *= 0.5
        obj_new = f_new + l1 * np.abs(x_new[:p]).sum()
        if obj_new > obj and t > 1.0:
            yk, t = x.copy(), 1.0
            continue
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t**2))
        yk = x_new + ((t - 1.0) / t_new) * (x_new - x)
        x, t, obj = x_new, t_new, obj_new
    return x, obj


@pytest.mark.parametrize("loss", ["huber", "log_cosh"])
def test_fista_on_x_matches_the_reference_and_costs_two_passes(loss, monkeypatch):
    X, y = _problem(n=200, p=12)
    sw = np.ones(len(y))
    p = X.shape[1]
    smooth = LossFit(X, y, sw, len(y), LOSS_CODES[loss], 0.5, 0.5, 0.01, True)
    step = 4.0 / smooth.lipschitz(1.0, 0)  # too large: exercises the backtracking
    theta = np.zeros(p + 1)
    x_ref, obj_ref = _fista_reference(smooth, theta, step, 0.02, p, 40)

    passes = {"lin": 0, "grad": 0}
    lin, grad = _fista.data_loss_lin, _fista.data_loss_grad_lin

    def count_lin(*a):
        passes["lin"] += 1
        return lin(*a)

    def count_grad(*a):
        passes["grad"] += 1
        return grad(*a)

    monkeypatch.setattr(_fista, "data_loss_lin", count_lin)
    monkeypatch.setattr(_fista, "data_loss_grad_lin", count_grad)
    state = FistaState(theta, step, smooth.value(theta))
    halvings = 0
    for _ in range(40):
        before = state.step
        fista_iteration(state, smooth, 0.02, p)
        halvings += int(round(np.log2(before / state.step)))
    # Same algorithm; X y = z_x + beta (z_x - z_x_old) differs from a fresh product in the
    # last bits only, which 40 accelerated iterations amplify to ~1e-8 at most.
    np.testing.assert_allclose(state.x, x_ref, rtol=1e-6, atol=1e-9)
    assert state.objective == pytest.approx(obj_ref, rel=1e-10)
    # The stored products are those of the iterate and of the extrapolated point.
    np.testing.assert_allclose(state.zx, X @ state.x[:p], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(state.zy, X @ state.y[:p], rtol=1e-10, atol=1e-10)
    assert halvings >= 1
    # One gradient pass and one candidate pass per iteration (plus one per halving, and
    # the initial X x when the state is attached).
    assert passes == {"grad": 40, "lin": 40 + halvings + 1}


def test_fista_state_pickles_without_the_cached_products():
    import pickle

    X, y = _problem(n=100, p=5)
    est = GDRegressor(solver="fista", loss="huber", epsilon=0.5, penalty="l2", alpha=0.01,
                      max_iter=3, tol=None).fit(X, y)
    state = est._gd_state["fista"]
    assert state.zx is not None
    clone = pickle.loads(pickle.dumps(est))
    assert clone._gd_state["fista"].zx is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clone.partial_fit(X, y)  # recomputes the products on the first call
        est.partial_fit(X, y)
    np.testing.assert_allclose(clone.coef_, est.coef_, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- threaded CSR loss
def _csr_problem(n=3000, p=400, nnz=12, seed=0):
    import scipy.sparse as sp

    rng = np.random.RandomState(seed)
    indptr = np.arange(0, n * nnz + 1, nnz)
    X = sp.csr_matrix((rng.randn(n * nnz), rng.randint(0, p, n * nnz), indptr), shape=(n, p))
    X.sum_duplicates()
    y = X @ rng.randn(p) + 0.5 + 0.3 * rng.randn(n)
    return X, y


@pytest.mark.parametrize("loss", ["squared_error", "huber", "epsilon_insensitive"])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_threaded_csr_loss_matches_numpy_whatever_the_thread_count(loss, n_threads):
    from ensemblekit.estimators._threaded_loss import threaded_csr_loss

    X, y = _csr_problem()
    # empty rows and zero weights: chunk bounds by stored entries, skipped rows
    X = X.tolil()
    X[10:20] = 0
    X = X.tocsr()
    rng = np.random.RandomState(1)
    sw = rng.rand(X.shape[0]) * (rng.rand(X.shape[0]) > 0.2)
    theta = rng.randn(X.shape[1] + 1)
    code = LOSS_CODES[loss]
    ref = sw @ loss_values_numpy(code, y, X @ theta[:-1] + theta[-1], 0.1, 0.5)
    got = threaded_csr_loss(X.data, X.indices, X.indptr, y, sw, theta, X.shape[1], code, 0.1,
                            0.5, n_threads)
    assert got == pytest.approx(ref, rel=1e-12)
    # fixed chunks summed in order: the same bits whatever the number of threads
    assert got == threaded_csr_loss(X.data, X.indices, X.indptr, y, sw, theta, X.shape[1],
                                    code, 0.1, 0.5, 1)


@pytest.mark.parametrize("average", [False, True])
def test_threaded_loss_curve_is_the_exact_objective(monkeypatch, average):
    """Above MIN_NNZ the objective after each epoch comes from the threaded pass (here
    forced on a small matrix); it must be the objective of the reported iterate, and
    equal to the single-threaded kernel's."""
    from ensemblekit.estimators import _threaded_loss

    X, y = _csr_problem()
    params = dict(solver="sgd", batch_size=1, learning_rate="constant",
                  learning_rate_init=0.005, penalty="elasticnet", alpha=0.001, l1_ratio=0.5,
                  average=average, random_state=0)
    serial = GDRegressor(max_iter=4, tol=None, **params).fit(X, y)
    calls = []
    real = _threaded_loss.threaded_csr_loss

    def counting(*args):
        calls.append(args[-1])
        return real(*args)

    monkeypatch.setattr(_base, "MIN_NNZ", 1)
    monkeypatch.setattr(_base, "loss_threads", lambda: 2)
    monkeypatch.setattr(_base, "threaded_csr_loss", counting)
    threaded = GDRegressor(max_iter=4, tol=None, **params).fit(X, y)
    assert calls == [2] * 4
    np.testing.assert_array_equal(threaded.coef_, serial.coef_)
    np.testing.assert_allclose(threaded.loss_curve_, serial.loss_curve_, rtol=1e-12)
    assert threaded.loss_curve_[-1] == pytest.approx(_objective(threaded, X, y), rel=1e-10)


def test_loss_threads_respects_omp_num_threads(monkeypatch):
    from ensemblekit.estimators._threaded_loss import loss_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert loss_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert loss_threads() >= 1
