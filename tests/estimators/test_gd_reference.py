"""Plain NumPy references of every compiled piece (losses and their conjugates, optimizer
steps, schedules, the preconditioned epochs, FISTA on the Gram matrix and on X, the
duality gap), compared iterate by iterate with the kernels.

This is lightning's testing pattern: an independent, obviously-correct implementation
replays the same updates and the compiled code must agree to 1e-10.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from ensemblekit.estimators._datafits import Datafit
from ensemblekit.estimators._epoch import (
    LOSS_NONE,
    ST_SIZE,
    ST_T,
    OptimizerArgs,
    ScheduleArgs,
    batch_update,
    run_epoch,
)
from ensemblekit.estimators._fista import (
    GRAM,
    ROWS,
    SC_SIZE,
    FistaOptions,
    GramArgs,
    centered_gram,
    fista_block,
)
from ensemblekit.estimators._gd_regressor import schedule_params
from ensemblekit.estimators._losses import (
    LOSS_CODES,
    SMOOTH_CURVATURE,
    loss_conjugate,
    loss_conjugate_numpy,
    loss_derivative,
    loss_derivatives_numpy,
    loss_value,
    loss_values_numpy,
)
from ensemblekit.estimators._optimizers import (
    SOLVER_CODES,
    bias_corrections,
    optimizer_step,
)
from ensemblekit.estimators._problem import Problem
from ensemblekit.estimators._schedules import CYCLIC_MODES, SCHEDULE_CODES, learning_rate_at

HP = dict(momentum=0.8, beta_1=0.85, beta_2=0.99, eps=1e-6, rho=0.95)
HP_ARR = np.array([HP["momentum"], HP["beta_1"], HP["beta_2"], HP["eps"], HP["rho"]])


# --------------------------------------------------------------------------- losses
@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
def test_loss_value_and_derivative(loss):
    code = LOSS_CODES[loss]
    rng = np.random.RandomState(0)
    y = rng.randn(200) * 3
    p = y + rng.randn(200) * 2
    eps, q = 0.7, 0.3
    ours = np.array([loss_value(code, y[i], p[i], eps, q) for i in range(200)])
    np.testing.assert_allclose(ours, loss_values_numpy(code, y, p, eps, q), rtol=1e-12,
                               atol=1e-12)
    h = 1e-6
    numeric = (loss_values_numpy(code, y, p + h, eps, q)
               - loss_values_numpy(code, y, p - h, eps, q)) / (2 * h)
    deriv = np.array([loss_derivative(code, y[i], p[i], eps, q) for i in range(200)])
    np.testing.assert_allclose(deriv, numeric, atol=1e-5)


@pytest.mark.parametrize("loss", sorted(LOSS_CODES))
def test_loss_derivatives_numpy_twin(loss):
    code = LOSS_CODES[loss]
    rng = np.random.RandomState(1)
    y, p = rng.randn(100), rng.randn(100) * 2
    ours = [loss_derivative(code, y[i], p[i], 0.7, 0.3) for i in range(100)]
    np.testing.assert_allclose(ours, loss_derivatives_numpy(code, y, p, 0.7, 0.3), rtol=1e-12)


@pytest.mark.parametrize("loss", sorted(k for k, c in LOSS_CODES.items() if c in SMOOTH_CURVATURE))
def test_conjugates_are_fenchel_duals(loss):
    """phi(r) + phi*(t) >= r t for all r, t, with equality at t = phi'(r): the property the
    duality-gap certificates rest on, checked against a brute-force sup over r."""
    code = LOSS_CODES[loss]
    eps = 0.7
    rng = np.random.RandomState(2)
    r = rng.randn(300) * 3
    t = loss_derivatives_numpy(code, 0.0, r, eps, 0.5)
    phi = loss_values_numpy(code, 0.0, r, eps, 0.5)
    conj = loss_conjugate_numpy(code, t, eps)
    np.testing.assert_allclose(phi + conj, r * t, rtol=1e-9, atol=1e-9)
    compiled = np.array([loss_conjugate(code, ti, eps) for ti in t])
    np.testing.assert_allclose(compiled, conj, rtol=1e-12, atol=1e-14)
    grid = np.linspace(-60, 60, 200001)
    phi_grid = loss_values_numpy(code, 0.0, grid, eps, 0.5)
    radius = min(Datafit(loss, eps).conjugate_radius, 3.0)
    for ti in rng.uniform(-0.95, 0.95, 20) * radius:
        brute = np.max(grid * ti - phi_grid)
        assert loss_conjugate(code, ti, eps) == pytest.approx(brute, abs=1e-6)


def test_log_cosh_is_stable_for_large_residuals():
    code = LOSS_CODES["log_cosh"]
    assert loss_value(code, 0.0, 1000.0, 0.0, 0.5) == pytest.approx(1000.0 - math.log(2.0))
    assert loss_derivative(code, 0.0, 1000.0, 0.0, 0.5) == 1.0


# --------------------------------------------------------------------------- optimizers
def numpy_optimizer(name, w, g, m, v, lr, t, decay):
    """Textbook vectorized form of each update; returns (w, m, v, effective step)."""
    if name == "sgd":
        return w - lr * g, m, v, lr
    if name == "momentum":
        m = HP["momentum"] * m - lr * g
        return w + m, m, v, lr / (1 - HP["momentum"])
    if name == "nesterov":
        m_new = HP["momentum"] * m - lr * g
        return w + HP["momentum"] * m_new - lr * g, m_new, v, lr / (1 - HP["momentum"])
    if name == "adagrad":
        v = v + g**2
        eff = lr / (np.sqrt(v) + HP["eps"])
        return w - eff * g, m, v, eff
    if name == "rmsprop":
        v = HP["rho"] * v + (1 - HP["rho"]) * g**2
        eff = lr / (np.sqrt(v) + HP["eps"])
        return w - eff * g, m, v, eff
    if name == "adamw":
        w = w - lr * decay * w
    m = HP["beta_1"] * m + (1 - HP["beta_1"]) * g
    v = HP["beta_2"] * v + (1 - HP["beta_2"]) * g**2
    m_hat = m / (1 - HP["beta_1"] ** t)
    v_hat = v / (1 - HP["beta_2"] ** t)
    eff = lr / (np.sqrt(v_hat) + HP["eps"])
    return w - eff * m_hat, m, v, eff


OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_step_matches_numpy(name):
    code = SOLVER_CODES[name]
    rng = np.random.RandomState(1)
    w = rng.randn(5)
    m, v = np.zeros(5), np.zeros(5)
    w_ref, m_ref, v_ref = w.copy(), m.copy(), v.copy()
    for t in range(1, 30):
        g = rng.randn(5)
        bc1, bc2 = bias_corrections(code, float(t), HP_ARR)
        for j in range(5):
            w[j], m[j], v[j], eff = optimizer_step(code, w[j], g[j], m[j], v[j], 0.05, bc1, bc2,
                                                   HP_ARR, 0.1)
        w_ref, m_ref, v_ref, eff_ref = numpy_optimizer(name, w_ref, g, m_ref, v_ref, 0.05, t,
                                                       0.1)
        np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(m, m_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(v, v_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(eff, np.broadcast_to(eff_ref, (5,))[-1], rtol=1e-12)


# --------------------------------------------------------------------------- schedules
def numpy_schedule(name, lr0, t, e, gamma=0.5, step_size=3.0, power_t=0.3, max_lr=0.2,
                   mode="triangular", T_0=4.0, T_mult=1.0, eta_min=0.001, milestones=(2, 5),
                   scale=1.0, warmup=0):
    """Independent textbook formulas (PyTorch / Smith 2017 / Loshchilov & Hutter 2017)."""
    ep = int(np.floor(e + 1e-12))
    if name == "constant":
        lr = lr0
    elif name == "step":
        lr = lr0 * gamma ** (ep // step_size)
    elif name == "multistep":
        lr = lr0 * gamma ** sum(ep >= mm for mm in milestones)
    elif name == "exponential":
        lr = lr0 * gamma**ep
    elif name == "invscaling":
        lr = lr0 / (t + 1) ** power_t
    elif name == "cyclic":
        cycle = np.floor(1 + e / (2 * step_size))
        x = abs(e / step_size - 2 * cycle + 1)
        amp = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1),
               "exp_range": gamma**e}[mode]
        lr = lr0 + (max_lr - lr0) * max(0.0, 1 - x) * amp
    elif name == "cosine":
        # Walk the restarts explicitly instead of using the closed form.
        start, length = 0.0, T_0
        while e >= start + length:
            start += length
            length *= T_mult
        lr = eta_min + (lr0 - eta_min) * (1 + np.cos(np.pi * (e - start) / length)) / 2
    else:
        lr = lr0 * scale
    if warmup and t < warmup:
        lr *= (t + 1) / warmup
    return lr


SCHEDULE_CASES = [
    ("constant", {}), ("step", {}), ("multistep", {}), ("exponential", {}),
    ("invscaling", {}), ("cyclic", {"mode": "triangular"}), ("cyclic", {"mode": "triangular2"}),
    ("cyclic", {"mode": "exp_range"}), ("cosine", {"T_mult": 1.0}), ("cosine", {"T_mult": 2.0}),
    ("plateau", {"scale": 0.01}), ("constant", {"warmup": 7}), ("cosine", {"warmup": 5}),
]


@pytest.mark.parametrize("name, kw", SCHEDULE_CASES)
def test_schedule_matches_numpy(name, kw):
    defaults = dict(gamma=0.5, step_size=3.0, power_t=0.3, max_lr=0.2, mode="triangular",
                    T_0=4.0, T_mult=1.0, eta_min=0.001, scale=1.0, warmup=0)
    defaults.update(kw)
    sp_arr = schedule_params(defaults["gamma"], defaults["step_size"], defaults["power_t"],
                             defaults["max_lr"], defaults["mode"], defaults["T_0"],
                             defaults["T_mult"], defaults["eta_min"], defaults["warmup"])
    sp_arr[8] = defaults["scale"]
    milestones = np.array([2.0, 5.0])
    steps_per_epoch = 7
    for t in range(0, 40 * steps_per_epoch, 3):
        e = t / steps_per_epoch
        ours = learning_rate_at(SCHEDULE_CODES[name], 0.05, float(t), e, sp_arr, milestones)
        ref = numpy_schedule(name, 0.05, t, e, **defaults)
        assert ours == pytest.approx(ref, rel=1e-10, abs=1e-14), (t, e)
    assert set(CYCLIC_MODES) == {"triangular", "triangular2", "exp_range"}




# --------------------------------------------------------------------------- epochs
def _small_problem(seed=0, n=37, p=6, sparse=False, scales=None):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    if sparse:
        X[rng.rand(n, p) < 0.5] = 0.0
    if scales is not None:
        X = X * scales + (0.0 if sparse else 3.0 * scales)
    y = X @ (rng.randn(p) / (1.0 if scales is None else scales)) + 0.3 + 0.1 * rng.randn(n)
    sw = rng.uniform(0.5, 1.5, n)
    return X, y, sw


def _problem(X, y, sw, alpha, l1_ratio, loss="huber", fit_intercept=True, center=True):
    """The preconditioned problem the kernels see (statistics of all rows)."""
    return Problem(X, y, sw, np.arange(len(y)), Datafit(loss, 0.5), alpha, l1_ratio,
                   fit_intercept=fit_intercept, center=center)


def _standardized(prob, X):
    """x~ = (x - m) / s and y~ as dense NumPy arrays (the reference works on them)."""
    pre = prob.pre
    return (X - pre.mean) / pre.scale, np.asarray(prob.y, dtype=np.float64)


SCALES = np.array([1e-2, 1.0, 30.0, 1e3, 1e5, 0.5])


def numpy_minibatch_epoch(Xt, y, sw, order, batch, theta, m, v, t, epoch, opt, lr0, sp_arr,
                          l1, l2, fit_intercept, eps=0.5, avg=None, n_avg=0):
    """Mini-batch proximal update on standardized rows with the textbook optimizer and
    coordinate-weighted penalties, written with NumPy."""
    p = Xt.shape[1]
    n_steps = -(-len(order) // batch)
    for s in range(n_steps):
        idx = order[s * batch:(s + 1) * batch]
        Xb = Xt[idx]
        r = Xb @ theta[:p] + theta[p] - y[idx]
        dl = sw[idx] * np.clip(r, -eps, eps)  # the Huber derivative
        g = np.append(Xb.T @ dl, dl.sum()) / len(idx)
        lr = numpy_schedule("step", lr0, t, epoch + s / n_steps, gamma=sp_arr[0],
                            step_size=sp_arr[1], power_t=sp_arr[2])
        t += 1
        w_new, m_new, v_new, eff = numpy_optimizer(opt, theta, g, m, v, lr, t, 0.0)
        eff = np.broadcast_to(eff, theta.shape)
        # the prox of the weighted elastic net (adamw: its decoupled decay, at the rate)
        w_new[:p] = np.sign(w_new[:p]) * np.maximum(np.abs(w_new[:p]) - eff[:p] * l1, 0)
        w_new[:p] /= 1 + (lr if opt == "adamw" else eff[:p]) * l2
        if not fit_intercept:
            w_new[p], m_new[p], v_new[p] = theta[p], m[p], v[p]
        theta, m, v = w_new, m_new, v_new
        if avg is not None:
            n_avg += 1
            avg = avg + (theta - avg) / n_avg
    return theta, m, v, t, avg


def _kernel(prob, order, batch, theta, m, v, st, opt, sched, lr0, sp_arr, average_start=0,
            avg=None, q=None):
    p = prob.p
    avg = np.zeros(p + 1) if avg is None else avg
    q = np.zeros(p + 1) if q is None else q
    st[4] = LOSS_NONE
    status = run_epoch(prob.rows, prob.pre_args, prob.datafit.args, prob.pen_args,
                       OptimizerArgs(SOLVER_CODES[opt], HP_ARR),
                       ScheduleArgs(SCHEDULE_CODES[sched], lr0, sp_arr, np.zeros(0)), order,
                       prob.train, batch, p, theta, m, v, avg, np.zeros(p + 1), np.zeros(p + 1),
                       st, prob.fit_intercept, average_start)
    assert status == 0
    st[2] += 1
    return avg


# Per-sample plain SGD has its own loops (lazy penalties), tested further below.
MINIBATCH_CASES = [(o, b) for o in OPTIMIZERS for b in (1, 5, 37) if (o, b) != ("sgd", 1)]


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("opt, batch", MINIBATCH_CASES)
def test_minibatch_epochs_match_numpy(opt, batch, sparse):
    """Raw columns spanning 1e-2 to 1e5: the kernel standardizes on the fly (CSR: centred
    implicitly) and applies the coordinate-weighted penalty of the original problem."""
    X, y, sw = _small_problem(sparse=sparse, scales=SCALES)
    n, p = X.shape
    prob = _problem(sp.csr_matrix(X) if sparse else X, y, sw, 0.05, 0.6)
    Xt, yt = _standardized(prob, X)
    l1, l2 = prob.penalty.l1, prob.penalty.l2
    rng = np.random.RandomState(2)
    sp_arr = schedule_params(0.7, 2.0, 0.3, 0.1, "triangular", 10, 1, 0.0, 0)
    theta, m, v, st = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), np.zeros(ST_SIZE)
    th_ref, m_ref, v_ref, t_ref = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), 0
    for epoch in range(4):
        order = rng.permutation(n)
        _kernel(prob, order, batch, theta, m, v, st, opt, "step", 0.02, sp_arr)
        th_ref, m_ref, v_ref, t_ref, _ = numpy_minibatch_epoch(
            Xt, yt, prob.sw, order, batch, th_ref, m_ref, v_ref, t_ref, epoch, opt, 0.02,
            sp_arr, l1, l2, True, eps=prob.datafit.epsilon)
        np.testing.assert_allclose(theta, th_ref, rtol=1e-9, atol=1e-10)
    assert st[ST_T] == t_ref


def test_full_batch_update_is_one_minibatch_step():
    X, y, sw = _small_problem(scales=SCALES)
    prob = _problem(X, y, sw, 0.05, 0.6)
    Xt, yt = _standardized(prob, X)
    p = prob.p
    theta = np.random.RandomState(3).randn(p + 1) * 0.1
    graw = np.zeros(p + 1)
    from ensemblekit.estimators._passes import rows_loss_grad

    rows_loss_grad(*prob.inputs, prob.y, prob.sw, prob.train, 0, prob.n_train,
                   prob.pre.raw(theta), p, *prob.datafit.args, graw, False)
    sp_arr = schedule_params(0.7, 2.0, 0.3, 0.1, "triangular", 10, 1, 0.0, 0)
    st = np.zeros(ST_SIZE)
    mine = theta.copy()
    batch_update(prob.pre_args, prob.pen_args, OptimizerArgs(SOLVER_CODES["adam"], HP_ARR),
                 ScheduleArgs(SCHEDULE_CODES["step"], 0.02, sp_arr, np.zeros(0)), graw,
                 prob.n_train, mine, np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), st, p,
                 True, 0, 0.0)
    ref, *_ = numpy_minibatch_epoch(Xt, yt, prob.sw, np.arange(len(y)), len(y), theta,
                                    np.zeros(p + 1), np.zeros(p + 1), 0, 0, "adam", 0.02, sp_arr,
                                    prob.penalty.l1, prob.penalty.l2, True,
                                    eps=prob.datafit.epsilon)
    np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_minibatch_average_and_no_intercept_match_numpy(sparse):
    X, y, sw = _small_problem(sparse=sparse, scales=SCALES)
    n, p = X.shape
    prob = _problem(sp.csr_matrix(X) if sparse else X, y, sw, 0.1, 1.0, fit_intercept=False)
    Xt, yt = _standardized(prob, X)
    assert not prob.pre.centered  # no intercept: scaled by the root mean square only
    sp_arr = schedule_params(0.5, 1.0, 0.5, 0.1, "triangular", 10, 1, 0.0, 0)
    theta, m, v, st = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), np.zeros(ST_SIZE)
    avg = np.zeros(p + 1)
    th_ref, m_ref, v_ref, avg_ref = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), None
    avg_ref = np.zeros(p + 1)
    t_ref = 0
    for epoch in range(3):
        order = np.arange(n)
        _kernel(prob, order, 4, theta, m, v, st, "adam", "step", 0.05, sp_arr, average_start=1,
                avg=avg)
        th_ref, m_ref, v_ref, t_ref, avg_ref = numpy_minibatch_epoch(
            Xt, yt, prob.sw, order, 4, th_ref, m_ref, v_ref, t_ref, epoch, "adam", 0.05,
            sp_arr, prob.penalty.l1, prob.penalty.l2, False, eps=prob.datafit.epsilon,
            avg=avg_ref, n_avg=epoch * 10)
        np.testing.assert_allclose(theta, th_ref, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(avg, avg_ref, rtol=1e-9, atol=1e-10)
    assert theta[p] == 0.0


def numpy_sgd_epoch(Xt, y, sw, order, theta, u, q, t, lr0, power_t, l1, l2, lazy, avg=None,
                    n_avg=0):
    """Per-sample SGD on standardized rows: gradient step, the exact L2 flow
    w <- w e^(-lr l2_j), then Tsuruoka's cumulative L1 on the row's non-zeros (lazy, with
    the L2 flow owed since each coordinate was last current) or on every coordinate."""
    p = Xt.shape[1]
    theta = theta.copy()
    lam = np.zeros(p)
    total = 0.0

    def catch_up(j):
        theta[j] *= np.exp(-l2[j] * (total - lam[j]))
        lam[j] = total
        if l1[j] > 0:
            z = theta[j]
            if z > 0:
                theta[j] = max(0.0, z - (u * l1[j] + q[j]))
            elif z < 0:
                theta[j] = min(0.0, z + (u * l1[j] - q[j]))
            q[j] += theta[j] - z

    for i in order:
        lr = lr0 / (t + 1) ** power_t
        nz = np.flatnonzero(Xt[i]) if lazy else range(p)
        if lazy:
            for j in nz:
                catch_up(j)
        pred = Xt[i] @ theta[:p] + theta[p]
        dl = sw[i] * (pred - y[i])
        theta[:p] -= lr * dl * Xt[i]
        theta[p] -= lr * dl
        total += lr
        if l1.any():
            u += lr
        if not lazy:
            for j in range(p):
                catch_up(j)
        t += 1
        if avg is not None:
            n_avg += 1
            avg = avg + (theta - avg) / n_avg
    if lazy:
        for j in range(p):
            catch_up(j)
    return theta, u, q, t, avg


@pytest.mark.parametrize("sparse", [False, True, "dense columns"])
@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_per_sample_sgd_matches_numpy(sparse, average, l1_ratio):
    """Dense rows: centred and scaled on the fly; CSR rows: scaled only, penalties lazy,
    except the columns stored on most rows, which are centred and kept current."""
    X, y, sw = _small_problem(sparse=bool(sparse), scales=SCALES)
    if sparse == "dense columns":
        X[:, :2] = 100.0 + np.arange(X.shape[0])[:, None] * np.array([1.0, 0.5])
    n, p = X.shape
    prob = _problem(sp.csr_matrix(X) if sparse else X, y, sw, 0.2, l1_ratio,
                    loss="squared_error", center="dense" if sparse else True)
    if sparse == "dense columns":
        assert np.all(prob.pre.mean[:2] != 0) and np.any(prob.pre.mean == 0)
    Xt, yt = _standardized(prob, X)
    sp_arr = schedule_params(0.5, 1.0, 0.25, 0.1, "triangular", 10, 1, 0.0, 0)
    theta, m, v, st, q = (np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), np.zeros(ST_SIZE),
                          np.zeros(p + 1))
    avg = np.zeros(p + 1)
    th_ref, u_ref, q_ref, t_ref = np.zeros(p + 1), 0.0, np.zeros(p), 0
    avg_ref = np.zeros(p + 1) if average else None
    rng = np.random.RandomState(5)
    for epoch in range(3):
        order = rng.permutation(n)
        _kernel(prob, order, 1, theta, m, v, st, "sgd", "invscaling", 0.05, sp_arr,
                average_start=int(average), avg=avg, q=q)
        th_ref, u_ref, q_ref, t_ref, avg_ref = numpy_sgd_epoch(
            Xt, yt, prob.sw, order, th_ref, u_ref, q_ref, t_ref, 0.05, 0.25, prob.penalty.l1,
            prob.penalty.l2, lazy=bool(sparse) and not average, avg=avg_ref, n_avg=epoch * n)
        np.testing.assert_allclose(theta, th_ref, rtol=1e-9, atol=1e-10)
        if average:
            np.testing.assert_allclose(avg, avg_ref, rtol=1e-9, atol=1e-10)
    if l1_ratio == 1.0:
        assert np.any(theta[:p] == 0.0)


# --------------------------------------------------------------------------- FISTA
def numpy_fista(f_grad, l1, l2, theta, step, n_iter, fit_intercept=True):
    """Textbook FISTA with backtracking and monotone restart (the compiled loop's
    algorithm) on a smooth f with gradient, and the weighted elastic-net prox."""
    p = len(l1)

    def prox(z, s):
        z = z.copy()
        z[:p] = np.sign(z[:p]) * np.maximum(np.abs(z[:p]) - s * l1, 0) / (1 + s * l2)
        if not fit_intercept:
            z[p] = 0.0
        return z

    def penalty(z):
        return l1 @ np.abs(z[:p]) + 0.5 * l2 @ z[:p] ** 2

    x, yk, t = theta.copy(), theta.copy(), 1.0
    obj = f_grad(x)[0] + penalty(x)
    objs = []
    for _ in range(n_iter):
        f_y, g_y = f_grad(yk)
        slack = 1e-12 * max(abs(f_y), 1.0)
        while True:
            x_new = prox(yk - step * g_y, step)
            d = x_new - yk
            f_new = f_grad(x_new)[0]
            if f_new <= f_y + g_y @ d + d @ d / (2 * step) + slack:
                break
            step *= 0.5
        obj_new = f_new + penalty(x_new)
        if obj_new > obj and t > 1.0:
            yk, t = x.copy(), 1.0
            objs.append(obj)
            continue
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        yk = x_new + (t - 1) / t_new * (x_new - x)
        x, t, obj = x_new, t_new, obj_new
        objs.append(obj)
    return x, np.array(objs)


OPTS = FistaOptions(np.zeros((0, 0)), True, 1.0, 0.0, 0.0)
BUF = (np.zeros(0),) * 5


def _run_fista(prob, kind, theta0, step, n_iter, until_converged=False):
    p, n = prob.p, prob.n
    if kind == GRAM:
        gram = GramArgs(*centered_gram(prob))
        xts = np.zeros(p)
    else:
        gram = GramArgs(np.zeros((0, 0)), np.zeros(0), 0.0)
        xts = np.zeros(p)
    x, yk = theta0.copy(), theta0.copy()
    zx = np.zeros(n)
    if kind == ROWS:
        u = prob.pre.raw(x)
        zx = np.asarray(prob.X @ u[:p], dtype=np.float64)
    zy, zbuf = zx.copy(), np.zeros(n)
    sc = np.zeros(SC_SIZE)
    sc[0], sc[1] = 1.0, step
    out = np.zeros((4, n_iter))
    from ensemblekit.estimators._fista import _value_lin

    sc[2] = _value_lin(kind, gram, prob.rows, prob.pre_args, prob.datafit.args, prob.pen_args,
                       prob.train, float(prob.n_train), p, OPTS, x, np.zeros(n),
                       np.zeros(p + 1), BUF, sc, True) + prob.penalty.l1_value(x[:p])
    sc[3] = sc[2]
    done, status = fista_block(kind, gram, prob.rows, prob.pre_args, prob.datafit.args,
                               prob.pen_args, prob.train, float(prob.n_train), p,
                               prob.fit_intercept, 1e300, xts, OPTS, x, yk, zx, zy, zbuf, BUF,
                               sc, n_iter, 0.0, *out)
    if until_converged:  # stops when the gap reaches rounding level
        assert status == 1
    else:
        assert status == 0 and done == n_iter
    return x, out[0, :done], zx


@pytest.mark.parametrize("loss, kind", [("squared_error", GRAM), ("squared_error", ROWS),
                                        ("huber", ROWS), ("log_cosh", ROWS)])
@pytest.mark.parametrize("sparse", [False, True])
def test_fista_matches_numpy(loss, kind, sparse):
    """The compiled loop on the standardized Gram matrix or on raw rows (residual reuse)
    replays textbook FISTA on the standardized problem, weighted L1 and L2 included."""
    X, y, sw = _small_problem(n=80, p=6, sparse=sparse, scales=SCALES)
    Xk = sp.csr_matrix(X) if sparse else X
    prob = _problem(Xk, y, sw, 0.02, 0.5, loss=loss)
    Xt, yt = _standardized(prob, X)
    p = prob.p
    s = prob.sw / prob.n_train
    fit = prob.datafit  # epsilon in the units of the standardized target

    def f_grad(theta):  # the data term (the penalty is in the prox)
        pred = Xt @ theta[:p] + theta[p]
        d = s * fit.derivatives(yt, pred)
        f = s @ fit.values(yt, pred)
        g = np.append(Xt.T @ d, d.sum())
        if kind == GRAM:
            g[p] = 0.0  # the intercept is eliminated (centred data)
        return f, g

    theta0 = np.zeros(p + 1)
    step = 3.0 / np.linalg.eigvalsh(Xt.T @ (s[:, None] * Xt))[-1]  # too large: backtracking
    x, objs, zx = _run_fista(prob, kind, theta0, step, 30)
    x_ref, objs_ref = numpy_fista(f_grad, prob.penalty.l1, prob.penalty.l2, theta0, step, 30)
    np.testing.assert_allclose(x, x_ref, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(objs, objs_ref, rtol=1e-9)
    if kind == ROWS:  # the stored products are those of the iterate (raw rows, v = w~ / s)
        np.testing.assert_allclose(zx, X @ (x[:p] / prob.pre.scale), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("case", ["sparse", "weighted", "equal_weights", "large_offsets",
                                  "float32", "subset"])
def test_centered_gram_matches_numpy(case):
    """Every way ``centered_gram`` builds the matrix: CSR, chunked centring (weights,
    offsets of 1e5 standard deviations, float32, a subset of rows) and the product on X
    itself centred by the rank-one correction (equal weights, moderate offsets)."""
    from ensemblekit.estimators._fista import _rank_one_centering

    sparse = case == "sparse"
    X, y, sw = _small_problem(n=80, p=6, sparse=sparse, scales=SCALES)
    if case in ("equal_weights", "large_offsets", "subset"):
        sw = np.ones_like(sw)
    if case == "large_offsets":
        X[:, 2] += 1e5 * X[:, 2].std()
    if case == "float32":
        X = X.astype(np.float32)
    data = sp.csr_matrix(X) if sparse else X
    if case == "subset":
        rows = np.arange(0, 80, 3)
        prob = Problem(data, y, sw, rows, Datafit("squared_error", 0.5), 0.0, 0.0)
        X, y, sw = X[rows], y[rows], sw[rows]
        keep = np.zeros(80, bool)
        keep[rows] = True
    else:
        prob = _problem(data, y, sw, 0.0, 0.0, loss="squared_error")
        keep = np.ones(80, bool)
    assert _rank_one_centering(prob) == (case == "equal_weights")
    Xt = (np.asarray(X, dtype=np.float64) - prob.pre.mean) / prob.pre.scale
    yt = np.asarray(prob.y, dtype=np.float64)[keep]
    s = prob.sw[keep] / prob.n_train
    G, c, yy = centered_gram(prob)
    np.testing.assert_allclose(G, Xt.T @ (s[:, None] * Xt), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(c, Xt.T @ (s * yt), rtol=1e-9, atol=1e-12)
    assert yy == pytest.approx(s @ yt**2, rel=1e-12)


def numpy_gap(prob, Xt, yt, theta, loss):
    """Fenchel duality gap of the standardized problem at theta, from scratch: dual point
    phi'(r), shifted to sum to zero, shrunk into the conjugate's domain and into the L1
    box where a coordinate has no L2 part."""
    p = prob.p
    s = prob.sw / prob.n_train
    fit = prob.datafit
    pen = prob.penalty
    r_pred = Xt @ theta[:p] + theta[p]
    primal = s @ fit.values(yt, r_pred) + pen.value(theta[:p])
    th = fit.derivatives(yt, r_pred)
    th = th - (s @ th) / s.sum()
    k = min(1.0, fit.conjugate_radius / np.max(np.abs(th)))
    u = Xt.T @ (s * th)
    k *= pen.dual_scale(k * u)
    dual = -(s @ (fit.conjugate(k * th) + k * th * yt)) - pen.conjugate(-k * u)
    return primal - dual


@pytest.mark.parametrize("loss, kind", [("squared_error", GRAM), ("squared_error", ROWS),
                                        ("huber", ROWS), ("log_cosh", ROWS)])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_duality_gap_matches_numpy_and_bounds_the_suboptimality(loss, kind, l1_ratio):
    from ensemblekit.estimators._fista import _gap, _value_grad

    X, y, sw = _small_problem(n=80, p=6, scales=SCALES)
    prob = _problem(X, y, sw, 0.02, l1_ratio, loss=loss)
    Xt, yt = _standardized(prob, X)
    p = prob.p
    rng = np.random.RandomState(4)
    gram = GramArgs(*centered_gram(prob)) if kind == GRAM else GramArgs(
        np.zeros((0, 0)), np.zeros(0), 0.0)
    radius = min(prob.datafit.conjugate_radius, 1e300)
    xts = np.zeros(p)
    # the optimum, by running the solver long
    x_star, objs, _ = _run_fista(prob, kind, np.zeros(p + 1), 1.0, 100000, until_converged=True)
    f_star = objs[-1]
    for scale in (1.0, 0.1, 0.0):
        theta = x_star + scale * rng.randn(p + 1) * 0.3
        if kind == GRAM:
            theta[p] = 0.0
        z = np.asarray(X @ (theta[:p] / prob.pre.scale), dtype=np.float64)
        g, graw = np.zeros(p + 1), np.zeros(p + 1)
        f = _value_grad(kind, gram, prob.rows, prob.pre_args, prob.datafit.args, prob.pen_args,
                        prob.train, float(prob.n_train), p, True, OPTS, theta, z, g, graw, BUF,
                        np.zeros(SC_SIZE), True)
        primal = f + prob.penalty.l1_value(theta[:p])
        gap = _gap(kind, gram, prob.rows, prob.pre_args, prob.datafit.args, prob.pen_args,
                   prob.train, float(prob.n_train), p, True, radius, xts, OPTS, theta, z, g,
                   primal, BUF)
        # (abs: the rounding of objectives of order 1)
        assert gap == pytest.approx(numpy_gap(prob, Xt, yt, theta, loss), rel=1e-7, abs=1e-10)
        assert gap >= primal - f_star - 1e-12  # a certificate: it bounds the suboptimality
