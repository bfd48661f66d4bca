"""Plain NumPy references of every compiled piece (losses, optimizer steps, schedules,
epochs, FISTA's smooth parts), compared iterate by iterate with the kernels.

This is lightning's testing pattern: an independent, obviously-correct implementation
replays the same updates and the compiled code must agree to 1e-10.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from ensemblekit.estimators._epoch import ST_SIZE, ST_T, kernel_inputs, readonly, run_epoch
from ensemblekit.estimators._fista import GramFit, LossFit
from ensemblekit.estimators._gd_regressor import schedule_params
from ensemblekit.estimators._losses import (
    LOSS_CODES,
    loss_derivative,
    loss_value,
    loss_values_numpy,
)
from ensemblekit.estimators._optimizers import (
    SOLVER_CODES,
    bias_corrections,
    optimizer_step,
)
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
def numpy_minibatch_epoch(X, y, sw, order, batch, theta, m, v, t, epoch, loss, opt, sched,
                          lr0, sp_arr, alpha, l1_ratio, fit_intercept, eps=0.5, q=0.5,
                          avg=None, n_avg=0):
    """Mini-batch proximal update with the textbook optimizer, written with NumPy."""
    p = X.shape[1]
    n_steps = -(-len(order) // batch)
    l2, l1 = alpha * (1 - l1_ratio), alpha * l1_ratio
    for s in range(n_steps):
        idx = order[s * batch:(s + 1) * batch]
        Xb = X[idx]
        pred = Xb @ theta[:p] + theta[p]
        # Closed-form derivatives of the two losses used here (squared error and Huber).
        r = pred - y[idx]
        if loss == "squared_error":
            dl = r
        else:
            dl = np.clip(r, -eps, eps)
        dl = sw[idx] * dl
        g = np.append(Xb.T @ dl, dl.sum()) / len(idx)
        lr = numpy_schedule(sched, lr0, t, epoch + s / n_steps, gamma=sp_arr[0],
                            step_size=sp_arr[1], power_t=sp_arr[2])
        t += 1
        decay = 0.0
        if opt == "adamw":
            decay = l2
        else:
            g[:p] += l2 * theta[:p]
        dec = np.append(np.full(p, decay), 0.0)
        w_new, m_new, v_new, eff = numpy_optimizer(opt, theta, g, m, v, lr, t, dec)
        eff = np.broadcast_to(eff, theta.shape)
        w_new[:p] = np.sign(w_new[:p]) * np.maximum(np.abs(w_new[:p]) - eff[:p] * l1, 0)
        if not fit_intercept:
            w_new[p], m_new[p], v_new[p] = theta[p], m[p], v[p]
        theta, m, v = w_new, m_new, v_new
        if avg is not None:
            n_avg += 1
            avg = avg + (theta - avg) / n_avg
    return theta, m, v, t, avg


def _run_kernel(X, y, sw, order, batch, theta, m, v, st, loss, opt, sched, lr0, sp_arr,
                alpha, l1_ratio, fit_intercept, average_start=0, avg=None, q=None):
    p = X.shape[1]
    avg = np.zeros(p + 1) if avg is None else avg
    q = np.zeros(p + 1) if q is None else q
    Xd, data, ind, ptr, is_sparse = kernel_inputs(X)
    status = run_epoch(
        Xd, data, ind, ptr, is_sparse, readonly(y), sw, order, batch, p, theta, m, v, q, avg,
        np.zeros(p + 1), st, LOSS_CODES[loss], 0.5, 0.5, SOLVER_CODES[opt], HP_ARR,
        SCHEDULE_CODES[sched], lr0, sp_arr, np.zeros(0), alpha, l1_ratio, fit_intercept,
        average_start,
    )
    assert status == 0
    st[2] += 1
    return avg


def _small_problem(seed=0, n=37, p=6, sparse=False):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    if sparse:
        X[rng.rand(n, p) < 0.5] = 0.0
    y = X @ rng.randn(p) + 0.3 + 0.1 * rng.randn(n)
    sw = rng.uniform(0.5, 1.5, n)
    sw *= n / sw.sum()
    return X, y, sw


# Per-sample plain SGD has its own loop (wscale, cumulative L1), tested further below.
MINIBATCH_CASES = [(o, b) for o in OPTIMIZERS for b in (1, 5, 37) if (o, b) != ("sgd", 1)]


@pytest.mark.parametrize("opt, batch", MINIBATCH_CASES)
def test_minibatch_epochs_match_numpy(opt, batch):
    X, y, sw = _small_problem()
    n, p = X.shape
    rng = np.random.RandomState(2)
    sp_arr = schedule_params(0.7, 2.0, 0.3, 0.1, "triangular", 10, 1, 0.0, 0)
    theta, m, v, st = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), np.zeros(ST_SIZE)
    th_ref, m_ref, v_ref, t_ref = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), 0
    alpha, l1_ratio, lr0 = 0.05, 0.6, 0.02
    for epoch in range(4):
        order = rng.permutation(n)
        _run_kernel(X, y, sw, order, batch, theta, m, v, st, "huber", opt, "step", lr0, sp_arr,
                    alpha, l1_ratio, True)
        th_ref, m_ref, v_ref, t_ref, _ = numpy_minibatch_epoch(
            X, y, sw, order, batch, th_ref, m_ref, v_ref, t_ref, epoch, "huber", opt, "step",
            lr0, sp_arr, alpha, l1_ratio, True)
        np.testing.assert_allclose(theta, th_ref, rtol=1e-10, atol=1e-10)
    assert st[ST_T] == t_ref


@pytest.mark.parametrize("sparse", [False, True])
def test_minibatch_average_and_no_intercept_match_numpy(sparse):
    X, y, sw = _small_problem(sparse=sparse)
    n, p = X.shape
    Xk = sp.csr_matrix(X) if sparse else X
    sp_arr = schedule_params(0.5, 1.0, 0.5, 0.1, "triangular", 10, 1, 0.0, 0)
    theta, m, v, st = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), np.zeros(ST_SIZE)
    avg = np.zeros(p + 1)
    th_ref, m_ref, v_ref, avg_ref = np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), None
    avg_ref = np.zeros(p + 1)
    t_ref = 0
    for epoch in range(3):
        order = np.arange(n)
        _run_kernel(Xk, y, sw, order, 4, theta, m, v, st, "squared_error", "adam",
                    "invscaling", 0.05, sp_arr, 0.1, 1.0, False, average_start=1, avg=avg)
        th_ref, m_ref, v_ref, t_ref, avg_ref = numpy_minibatch_epoch(
            X, y, sw, order, 4, th_ref, m_ref, v_ref, t_ref, epoch, "squared_error", "adam",
            "invscaling", 0.05, sp_arr, 0.1, 1.0, False, avg=avg_ref, n_avg=epoch * 10)
        np.testing.assert_allclose(theta, th_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(avg, avg_ref, rtol=1e-10, atol=1e-10)
    assert theta[p] == 0.0


def numpy_sgd_epoch(X, y, sw, order, w, b, u, q, t, lr0, power_t, alpha, l1_ratio, lazy,
                    avg=None, n_avg=0):
    """Per-sample SGD with explicit weights: L2 by (1 - lr l2) shrinkage, gradient step,
    then Tsuruoka's cumulative L1 on the row's non-zeros (lazy) or on every coordinate."""
    p = X.shape[1]
    l2, l1 = alpha * (1 - l1_ratio), alpha * l1_ratio
    for i in order:
        lr = lr0 / (t + 1) ** power_t
        pred = X[i] @ w + b
        dl = sw[i] * (pred - y[i])
        w = w * max(0.0, 1 - lr * l2)
        w = w - lr * dl * X[i]
        b = b - lr * dl
        u += lr * l1
        for j in (np.flatnonzero(X[i]) if lazy else range(p)):
            z = w[j]
            if z > 0:
                w[j] = max(0.0, z - (u + q[j]))
            elif z < 0:
                w[j] = min(0.0, z + (u - q[j]))
            q[j] += w[j] - z
        t += 1
        if avg is not None:
            n_avg += 1
            avg = avg + (np.append(w, b) - avg) / n_avg
    if lazy:
        for j in range(p):
            z = w[j]
            if z > 0:
                w[j] = max(0.0, z - (u + q[j]))
            elif z < 0:
                w[j] = min(0.0, z + (u - q[j]))
            q[j] += w[j] - z
    return w, b, u, q, t, avg


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("l1_ratio", [0.0, 0.5, 1.0])
def test_per_sample_sgd_matches_numpy(sparse, average, l1_ratio):
    X, y, sw = _small_problem(sparse=sparse)
    n, p = X.shape
    Xk = sp.csr_matrix(X) if sparse else X
    sp_arr = schedule_params(0.5, 1.0, 0.25, 0.1, "triangular", 10, 1, 0.0, 0)
    theta, m, v, st, q = (np.zeros(p + 1), np.zeros(p + 1), np.zeros(p + 1), np.zeros(ST_SIZE),
                          np.zeros(p + 1))
    avg = np.zeros(p + 1)
    w_ref, b_ref, u_ref, q_ref, t_ref = np.zeros(p), 0.0, 0.0, np.zeros(p), 0
    avg_ref = np.zeros(p + 1) if average else None
    rng = np.random.RandomState(5)
    alpha = 0.2
    for epoch in range(3):
        order = rng.permutation(n)
        _run_kernel(Xk, y, sw, order, 1, theta, m, v, st, "squared_error", "sgd", "invscaling",
                    0.05, sp_arr, alpha, l1_ratio, True, average_start=int(average), avg=avg,
                    q=q)
        w_ref, b_ref, u_ref, q_ref, t_ref, avg_ref = numpy_sgd_epoch(
            X, y, sw, order, w_ref, b_ref, u_ref, q_ref, t_ref, 0.05, 0.25, alpha, l1_ratio,
            lazy=sparse and not average, avg=avg_ref, n_avg=epoch * n)
        np.testing.assert_allclose(theta[:p], w_ref, rtol=1e-10, atol=1e-10)
        assert theta[p] == pytest.approx(b_ref, rel=1e-10, abs=1e-12)
        if average:
            np.testing.assert_allclose(avg, avg_ref, rtol=1e-10, atol=1e-10)
    if l1_ratio == 1.0:
        assert np.any(theta[:p] == 0.0)


# --------------------------------------------------------------------------- FISTA pieces
@pytest.mark.parametrize("sparse", [False, True])
def test_gram_and_loss_fit_agree(sparse):
    X, y, sw = _small_problem(n=80, p=5, sparse=sparse)
    Xk = sp.csr_matrix(X) if sparse else X
    l2 = 0.3
    gram = GramFit(Xk, y, sw, len(y), l2, True)
    direct = LossFit(Xk, y, sw, len(y), LOSS_CODES["squared_error"], 0.1, 0.5, l2, True)
    rng = np.random.RandomState(0)
    for _ in range(5):
        theta = rng.randn(6)
        theta[5] = gram.intercept(theta)
        f_g, g_g = gram.value_grad(theta)
        f_d, g_d = direct.value_grad(theta)
        # At the optimal intercept both objectives and w-gradients coincide (envelope theorem).
        assert f_g == pytest.approx(f_d, rel=1e-10)
        np.testing.assert_allclose(g_g[:5], g_d[:5], rtol=1e-9, atol=1e-10)
        assert abs(g_d[5]) < 1e-10
    r = y - X @ theta[:5] - theta[5]
    ref = 0.5 * (sw @ r**2) / len(y) + 0.5 * l2 * theta[:5] @ theta[:5]
    assert f_d == pytest.approx(ref, rel=1e-12)
    lip = direct.lipschitz(1.0, 0)
    A = np.hstack([X, np.ones((80, 1))])
    exact = np.linalg.eigvalsh(A.T @ (sw[:, None] * A))[-1] / 80 + l2
    assert lip == pytest.approx(exact, rel=1e-3)
