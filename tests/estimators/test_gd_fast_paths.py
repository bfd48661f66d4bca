"""The fast paths keep the results of the plain algorithms.

* Full batch: the pass that gives the objective after epoch k also gives the gradient of
  epoch k + 1's step, so an epoch costs one read of X; fit and partial_fit get the same
  bits.
* FISTA runs compiled blocks of iterations on the Gram matrix or on X (two passes an
  iteration with residual reuse, replayed against NumPy in ``test_gd_reference``).
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from ensemblekit.estimators import GDRegressor, _sgd
from ensemblekit.estimators._losses import (
    LOSS_CODES,
    loss_derivatives_numpy,
    loss_values_numpy,
)


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
def test_full_batch_early_stop_is_the_plain_run(solver):
    X, y = _problem()
    params = dict(FULL, solver=solver, learning_rate_init=0.05)
    stopped = GDRegressor(max_iter=500, tol=1e-3, n_iter_no_change=2, **params).fit(X, y)
    assert 2 < stopped.n_iter_ < 500
    plain = GDRegressor(max_iter=stopped.n_iter_, tol=None, **params).fit(X, y)
    np.testing.assert_array_equal(stopped.coef_, plain.coef_)
    assert stopped.intercept_ == plain.intercept_
    assert stopped.t_ == plain.t_ == stopped.n_iter_
    assert stopped.loss_curve_ == plain.loss_curve_
    # partial_fit runs the same epochs, to the bit.
    inc = GDRegressor(max_iter=stopped.n_iter_, tol=None, **params)
    for _ in range(stopped.n_iter_):
        inc.partial_fit(X, y)
    np.testing.assert_array_equal(inc.coef_, stopped.coef_)
    np.testing.assert_array_equal(inc.loss_curve_, stopped.loss_curve_)


def test_full_batch_runs_one_pass_per_epoch(monkeypatch):
    X, y = _problem()
    calls = []
    real = _sgd.rows_loss_grad

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(_sgd, "rows_loss_grad", counting)
    GDRegressor(max_iter=7, tol=None, **FULL).fit(X, y)
    # 7 epochs: one pass at the start, then one per epoch, which gives both the objective
    # after the epoch and the gradient of the next step.
    assert len(calls) == 8


def test_full_batch_with_divergence_still_raises():
    X, y = _problem()
    params = dict(FULL, learning_rate_init=50.0)
    with pytest.raises(ValueError, match="diverged"):
        GDRegressor(max_iter=200, tol=None, **params).fit(X, y)


def test_fista_state_pickles_without_the_cached_products():
    X, y = _problem(n=100, p=5)
    est = GDRegressor(solver="fista", loss="huber", epsilon=0.5, penalty="l2", alpha=0.01,
                      max_iter=3, tol=None).fit(X, y)
    state = est._gd["state"]
    assert state.zx is not None
    clone = pickle.loads(pickle.dumps(est))
    assert clone._gd["state"].zx is None
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
def test_threaded_csr_loss_grad_matches_numpy_whatever_the_thread_count(loss, n_threads):
    from ensemblekit.estimators._threaded_loss import threaded_csr_loss_grad

    X, y = _csr_problem()
    # empty rows and zero weights: chunk bounds by stored entries, skipped rows
    X = X.tolil()
    X[10:20] = 0
    X = X.tocsr()
    rng = np.random.RandomState(1)
    sw = rng.rand(X.shape[0]) * (rng.rand(X.shape[0]) > 0.2)
    u = rng.randn(X.shape[1] + 1)
    code = LOSS_CODES[loss]
    pred = X @ u[:-1] + u[-1]
    ref = sw @ loss_values_numpy(code, y, pred, 0.1, 0.5)
    d = sw * loss_derivatives_numpy(code, y, pred, 0.1, 0.5)
    grad = np.zeros(X.shape[1] + 1)
    got = threaded_csr_loss_grad(X.data, X.indices, X.indptr, y, sw, u, X.shape[1], code, 0.1,
                                 0.5, n_threads, grad)
    assert got == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(grad, np.append(X.T @ d, d.sum()), rtol=1e-10, atol=1e-10)
    # fixed chunks summed in order: the same bits whatever the number of threads
    grad1 = np.zeros_like(grad)
    assert got == threaded_csr_loss_grad(X.data, X.indices, X.indptr, y, sw, u, X.shape[1], code,
                                         0.1, 0.5, 1, grad1)
    np.testing.assert_array_equal(grad, grad1)


@pytest.mark.parametrize(("batch_size", "average"),
                         [(1, False), (1, True), (16, False), (16, True), ("full", False)])
def test_threaded_record_pass_is_the_exact_objective(monkeypatch, average, batch_size):
    """Above MIN_NNZ the objective and gradient after each epoch come from the chunked
    pass on threads (here forced on a small matrix); they must be those of the reported
    iterate, and equal to the single-threaded kernel's."""
    from ensemblekit.estimators import _threaded_loss

    X, y = _csr_problem()
    params = dict(solver="sgd", batch_size=batch_size, learning_rate="constant",
                  penalty="elasticnet", alpha=0.001, l1_ratio=0.5, average=average,
                  random_state=0)
    serial = GDRegressor(max_iter=4, tol=None, **params).fit(X, y)
    calls = []
    real = _threaded_loss.threaded_csr_loss_grad

    def counting(*args):
        calls.append(args[-2])
        return real(*args)

    monkeypatch.setattr(_threaded_loss, "MIN_NNZ", 1)
    monkeypatch.setattr(_sgd, "loss_threads", lambda: 2)
    monkeypatch.setattr(_sgd, "threaded_csr_loss_grad", counting)
    threaded = GDRegressor(max_iter=4, tol=None, **params).fit(X, y)
    assert calls and set(calls) == {2}
    if batch_size != "full":
        assert len(calls) == 4
        np.testing.assert_array_equal(threaded.coef_, serial.coef_)
    else:
        np.testing.assert_allclose(threaded.coef_, serial.coef_, rtol=1e-10)
    np.testing.assert_allclose(threaded.loss_curve_, serial.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(threaded.history_["grad_norm"], serial.history_["grad_norm"],
                               rtol=1e-9)
    assert threaded.loss_curve_[-1] == pytest.approx(_objective(threaded, X, y), rel=1e-10)


def test_loss_threads_respects_omp_num_threads(monkeypatch):
    from ensemblekit.estimators._threaded_loss import loss_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert loss_threads() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert loss_threads() >= 1


def test_rare_csr_columns_get_their_scale_from_every_row():
    """Per-sample CSR steps scale a column by the root mean square of its stored entries
    over every row (a sample of rows would give a column stored on a few rows the scale of
    one small entry, and the others would reach thousands: the epochs then diverged at
    any fixed rate). One epoch at a fixed rate then lowers the objective."""
    rng = np.random.RandomState(0)
    n, p, nnz = 30_000, 60_000, 20
    indptr = np.arange(0, n * nnz + 1, nnz)
    X = sp.csr_matrix((rng.randn(n * nnz) * np.exp(rng.randn(n * nnz)),
                       rng.randint(0, p, n * nnz), indptr), shape=(n, p))
    X.sum_duplicates()
    y = X @ rng.randn(p) + 1.0 + 0.5 * rng.randn(n)
    est = GDRegressor(penalty="elasticnet", alpha=1e-4, l1_ratio=0.15, learning_rate="constant",
                      learning_rate_init=1e-3, max_iter=1, tol=None, shuffle=False).fit(X, y)
    Xc = X.tocsc()
    stored = np.diff(Xc.indptr)
    sq = np.add.reduceat(Xc.data**2, np.minimum(Xc.indptr[:-1], Xc.nnz - 1)) * (stored > 0)
    rms = np.where(stored > 0, np.sqrt(sq / np.maximum(stored, 1)), 1.0)
    np.testing.assert_allclose(est.preconditioner_["scale"], rms, rtol=1e-10)
    assert est.loss_curve_[-1] < est.initial_objective_
