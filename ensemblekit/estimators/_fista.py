"""The full-batch solver: accelerated proximal gradient (FISTA) with a certificate.

One compiled loop (``fista_block``) runs on either smooth part:

* ``GRAM`` (squared loss, n_train >= 2 p, p <= 4000): the standardized Gram matrix
  G~ = X~^T S X~ / n and c~ = X~^T S y~ / n are formed once; every iteration is then
  O(p^2), independent of n. The intercept is eliminated by the (exact) centring.
* ``ROWS`` (any smooth separable loss, or p > n/2): two passes over the raw rows of X per
  iteration with residual reuse. The state keeps z_x = X v of the iterate and z_y = X v of
  the extrapolated point; the gradient at y needs only X^T (s * phi'(z_y + c)) (axpys,
  ``_passes.rows_grad_lin``), the candidate x+ = prox(y - step g) one pass of dot products
  that gives z+ and its objective (``rows_lin``; one more per halving of the step), and
  the next z_y = z+ + beta (z+ - z_x) is an O(n) vector operation.

Running whole blocks of iterations compiled matters on the data users have: on the raw
numeric Ames columns (2,930 x 33) the elastic net needs ~3,000 iterations, ~1 us each
here, where a Python-level iteration costs ~30 us.

The penalty's L1 and L2 parts are both applied by their prox,
w <- soft(w - step g, step l1) / (1 + step l2), so the step is set by the data term alone:
on raw columns the L2 weights 1/s_j^2 span as many decades as the scales of the columns.
Backtracking halves the step until the quadratic upper bound holds; an accelerated step
that would increase the objective is rejected and the momentum reset (monotone restart).

Stopping certifies: at every iteration the duality gap of the extrapolated point y is
computed from the loss derivatives that its gradient already needs (the dual point is
theta_i = phi'(r_i), shifted to sum to zero for the intercept and shrunk into the domain
of the conjugates; Fenchel: D = -(1/n) sum_i s_i (phi*(theta_i) + theta_i y~_i)
- sum_j h_j*(-(X~^T S theta)_j / n)), and training stops when gap <= tol * F~(y), which
bounds the relative distance to the optimum of the objective. Where the objective has no
dual bound (no penalty on some coordinate), the certificate is the KKT violation: the
largest entry of the minimal subgradient relative to its value at the start.

Without an L1 part and on the Gram matrix the problem is a linear system: ``solve_gram``
solves it exactly (Cholesky, or the minimum-norm solution of a singular system), which
is FISTA in the metric of the Hessian, converged in one step.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from numba import njit

from ._concomitant import concomitant_gap, huber_loss, huber_loss_grad, optimal_scale
from ._losses import loss_conjugate, loss_derivative
from ._passes import matvec, rmatvec, rows_grad_lin, rows_lin
from ._penalties import soft_threshold

GRAM = 0
ROWS = 1
HUBER = 2  # the concomitant-scale Huber datafit (``_concomitant``), on the rows of X

GramArgs = namedtuple("GramArgs", ["G", "c", "yy"])
# How the loop steps: ``metric`` the lower Cholesky factor of a p+1 x p+1 metric M (steps
# y - h M^-1 g; empty: the identity, with the L1 prox), ``momentum`` (accelerate or not),
# ``grow`` (the step is multiplied by it after each accepted step: for a curvature that
# changes along the path), ``eps`` and ``sigma_min`` (HUBER).
FistaOptions = namedtuple("FistaOptions", ["metric", "momentum", "grow", "eps", "sigma_min"])
# Scalars carried between blocks: t (momentum), step, objective of x, objective at
# the start, KKT scale, last certificate, sigma (HUBER).
SC_T, SC_STEP, SC_OBJ, SC_START, SC_KKT0, SC_CERT, SC_SIGMA, SC_SIZE = range(8)

# The Gram path stores a p x p matrix; beyond this many features it is not worth it.
GRAM_MAX_FEATURES = 4000
# Below this relative gap to the starting objective the objective is at rounding level.
_FLOOR = 1e-13


@njit(cache=True)
def _raw_offset(pre, theta, p):
    c = theta[p]
    if pre.centered:
        for j in range(p):
            c -= pre.mean[j] * pre.inv_scale[j] * theta[j]
    return c


@njit(cache=True)
def _l2_value(pen, theta, p):
    s = 0.0
    for j in range(p):
        s += pen.l2[j] * theta[j] * theta[j]
    return 0.5 * s


@njit(cache=True)
def _l1_value(pen, theta, p):
    s = 0.0
    for j in range(p):
        s += pen.l1[j] * abs(theta[j])
    return s


@njit(cache=True)
def _gram_quadratic(gram, theta, p, g):
    """1/2 ||r||^2 / n from the Gram matrix; with ``g`` of length p + 1, G theta - c in it."""
    G, c = gram.G, gram.c
    quad = 0.0
    lin = 0.0
    for j in range(p):
        s = 0.0
        for k in range(p):
            s += G[j, k] * theta[k]
        if g.shape[0] > 0:
            g[j] = s - c[j]
        quad += theta[j] * s
        lin += c[j] * theta[j]
    return 0.5 * max(quad - 2.0 * lin + gram.yy, 0.0), lin


@njit(cache=True)
def _huber_residuals(rd, train, z, off, n_eff, r, swn):
    """r_k = y~_i - (z_i + c) and the weights normalized to sum one, over training rows."""
    for k in range(train.shape[0]):
        i = train[k]
        r[k] = rd.y[i] - (z[i] + off)
        swn[k] = rd.sw[i] / n_eff


@njit(cache=True)
def _value_grad(kind, gram, rd, pre, loss, pen, train, n_eff, p, fit_intercept, opts, theta,
                z, g, graw, buf, sc, with_l2):
    """f(theta) and its gradient g in the solver's coordinates: the data term, plus the L2
    part with ``with_l2`` (else the L2 part is left to the prox).

    ROWS/HUBER: z = X v of theta is given (axpys only); GRAM: O(p^2).
    """
    w2 = 1.0 if with_l2 else 0.0
    if kind == GRAM:
        f, _ = _gram_quadratic(gram, theta, p, g)
        for j in range(p):
            g[j] += w2 * pen.l2[j] * theta[j]
        g[p] = 0.0
        return f + w2 * _l2_value(pen, theta, p)
    off = _raw_offset(pre, theta, p)
    if kind == ROWS:
        total = rows_grad_lin(rd.Xd, rd.data, rd.indices, rd.indptr, rd.is_sparse, rd.y,
                              rd.sw, train, z, off, p, loss.code, loss.epsilon, loss.quantile,
                              graw) / n_eff
        scale = 1.0 / n_eff
    else:
        r, swn, psi, afull = buf[0], buf[1], buf[2], buf[3]
        _huber_residuals(rd, train, z, off, n_eff, r, swn)
        sigma = optimal_scale(r, swn, opts.eps, opts.sigma_min, sc[SC_SIGMA])
        sc[SC_SIGMA] = sigma
        total = huber_loss_grad(r, swn, opts.eps, sigma, psi)
        for k in range(train.shape[0]):
            afull[train[k]] = -psi[k]  # d/dprediction, as the rows passes write it
        rmatvec(rd.Xd, rd.data, rd.indices, rd.indptr, rd.is_sparse, train, afull, graw[:p])
        gs = 0.0
        for k in range(train.shape[0]):
            gs -= psi[k]
        graw[p] = gs
        scale = 1.0
    gsum = graw[p]
    for j in range(p):
        gj = graw[j]
        if pre.centered:
            gj -= pre.mean[j] * gsum
        g[j] = pre.inv_scale[j] * gj * scale + w2 * pen.l2[j] * theta[j]
    g[p] = gsum * scale if fit_intercept else 0.0
    return total + w2 * _l2_value(pen, theta, p)


@njit(cache=True)
def _value_lin(kind, gram, rd, pre, loss, pen, train, n_eff, p, opts, theta, z, u, buf, sc,
               with_l2):
    """f(theta) (the L2 part with ``with_l2``), and z = X v of theta (ROWS/HUBER: one pass
    of dot products)."""
    w2 = 1.0 if with_l2 else 0.0
    if kind == GRAM:
        f, _ = _gram_quadratic(gram, theta, p, u[:0])
        return f + w2 * _l2_value(pen, theta, p)
    for j in range(p):
        u[j] = pre.inv_scale[j] * theta[j]
    u[p] = _raw_offset(pre, theta, p)
    if kind == ROWS:
        total = rows_lin(rd.Xd, rd.data, rd.indices, rd.indptr, rd.is_sparse, rd.y, rd.sw,
                         train, u, p, loss.code, loss.epsilon, loss.quantile, z) / n_eff
    else:
        matvec(rd.Xd, rd.data, rd.indices, rd.indptr, rd.is_sparse, train, u[:p], z)
        r, swn = buf[0], buf[1]
        _huber_residuals(rd, train, z, u[p], n_eff, r, swn)
        sigma = optimal_scale(r, swn, opts.eps, opts.sigma_min, sc[SC_SIGMA])
        total = huber_loss(r, swn, opts.eps, sigma)
    return total + w2 * _l2_value(pen, theta, p)


@njit(cache=True)
def _dual_scale(pen, ud, k, p):
    """Shrink k so that sum_j h_j*(k ud_j) is finite; -1 when no k > 0 works.

    Excesses below the rounding of ud (absolute, ~1e-13 of its largest entry) are not
    violations: at an optimum |ud_j| = l1_j up to rounding, and a coordinate with a tiny
    L1 weight (a column of tiny scale) would otherwise shrink the whole dual point.
    """
    slack = 0.0
    for j in range(p):
        slack = max(slack, abs(ud[j]))
    slack *= 1e-13
    for j in range(p):
        if pen.l2[j] <= 0.0:
            a = abs(k * ud[j])
            if a > pen.l1[j] + slack:
                if pen.l1[j] <= 0.0:
                    return -1.0
                k = pen.l1[j] / abs(ud[j])
    return k


@njit(cache=True)
def _penalty_conjugate(pen, ud, k, p):
    s = 0.0
    for j in range(p):
        if pen.l2[j] > 0.0:
            e = abs(k * ud[j]) - pen.l1[j]
            if e > 0.0:
                s += e * e / (2.0 * pen.l2[j])
    return s


@njit(cache=True)
def _gap(kind, gram, rd, pre, loss, pen, train, n_eff, p, fit_intercept, radius, xts, opts,
         theta, z, g, primal, buf):
    """Duality gap at ``theta`` from the gradient ``g`` just computed there (-1: none)."""
    ud = np.empty(p)
    for j in range(p):
        ud[j] = g[j] - pen.l2[j] * theta[j]  # (X~^T S dual / n)_j, the data part
    if kind == HUBER:
        # psi (buf[2]) is the residual gradient at theta: X~^T psi = -ud.
        if pen.has_l1:
            return -1.0
        for j in range(p):
            ud[j] = -ud[j]
        return concomitant_gap(primal, buf[2], ud, xts, buf[4], buf[1], opts.eps, pen.l2,
                               fit_intercept, buf[0])
    if kind == GRAM:
        # Squared loss: the dual point is the residual, centred with the data.
        k = _dual_scale(pen, ud, 1.0, p)
        if k < 0.0:
            return -1.0
        f, lin = _gram_quadratic(gram, theta, p, ud[:0])
        rr = 2.0 * f  # ||r||^2 / n
        ry = lin - gram.yy  # r . y~ / n
        dual = -0.5 * k * k * rr - k * ry - _penalty_conjugate(pen, ud, k, p)
        return primal - dual
    off = _raw_offset(pre, theta, p)
    y, sw = rd.y, rd.sw
    shift = 0.0
    if fit_intercept:
        num = 0.0
        den = 0.0
        for q in range(train.shape[0]):
            i = train[q]
            num += sw[i] * loss_derivative(loss.code, y[i], z[i] + off, loss.epsilon,
                                           loss.quantile)
            den += sw[i]
        shift = num / den
    big = 0.0
    for q in range(train.shape[0]):
        i = train[q]
        a = abs(loss_derivative(loss.code, y[i], z[i] + off, loss.epsilon, loss.quantile)
                - shift)
        if a > big:
            big = a
    k = 1.0
    if big > radius:
        k = radius / big
    for j in range(p):
        ud[j] -= shift * xts[j]
    k = _dual_scale(pen, ud, k, p)
    if k < 0.0:
        return -1.0
    conj = 0.0
    for q in range(train.shape[0]):
        i = train[q]
        th = k * (loss_derivative(loss.code, y[i], z[i] + off, loss.epsilon, loss.quantile)
                  - shift)
        conj += sw[i] * (loss_conjugate(loss.code, th, loss.epsilon) + th * y[i])
    dual = -conj / n_eff - _penalty_conjugate(pen, ud, k, p)
    return primal - dual


@njit(cache=True)
def _kkt(pen, theta, g, p, fit_intercept):
    """Largest entry of the minimal subgradient (the distance of -g to the L1 part's
    subdifferential), and the Euclidean norm of that subgradient."""
    big = 0.0
    sq = 0.0
    for j in range(p):
        gj = g[j]
        if theta[j] != 0.0:
            d = abs(gj + pen.l1[j] * math.copysign(1.0, theta[j]))
        else:
            d = max(abs(gj) - pen.l1[j], 0.0)
        big = max(big, d)
        sq += d * d
    if fit_intercept:
        big = max(big, abs(g[p]))
        sq += g[p] * g[p]
    return big, math.sqrt(sq)


@njit(cache=True)
def _metric_solve(L, g, d):
    """d = M^-1 g with M = L L^T (forward and back substitution, O(q^2))."""
    q = L.shape[0]
    for i in range(q):
        s = g[i]
        for k in range(i):
            s -= L[i, k] * d[k]
        d[i] = s / L[i, i]
    for i in range(q - 1, -1, -1):
        s = d[i]
        for k in range(i + 1, q):
            s -= L[k, i] * d[k]
        d[i] = s / L[i, i]


@njit(cache=True)
def fista_block(kind, gram, rd, pre, loss, pen, train, n_eff, p, fit_intercept, radius, xts,
                opts, x, yk, zx, zy, zbuf, buf, sc, max_iter, tol, out_obj, out_loss, out_cert,
                out_gnorm):
    """Run up to ``max_iter`` FISTA iterations in place; return (iterations, status).

    status: 1 converged (certificate <= tol), 0 not yet, 2 stalled (no step decreases the
    objective at this precision: stopped, not certified), -1 non-finite values.
    ``x``/``yk`` are the iterate and the extrapolated point (p + 1 entries, intercept
    last; GRAM keeps the intercept at 0), ``zx``/``zy`` their products X v (ROWS, HUBER),
    ``zbuf`` a spare n-vector, ``buf`` HUBER's scratch (residuals, normalized weights,
    residual gradient, an n-vector, targets), ``sc`` the scalars ``SC_*``. Per iteration
    the objective of the iterate, its data term, the certificate and the gradient norm at
    the extrapolated point are written to the ``out_*`` arrays.
    """
    q = p + 1
    g = np.empty(q)
    gfull = np.empty(q)
    graw = np.empty(q)
    u = np.empty(q)
    xn = np.empty(q)
    dvec = np.empty(q)
    use_metric = opts.metric.shape[0] > 0
    # The L2 part goes to the prox (w <- soft(w, step l1) / (1 + step l2)), not to the
    # smooth part: its weights 1/s_j^2 span as many decades as the columns' scales, and
    # the step of a smooth part that carried them would be set by the stiffest one. In
    # the Gram metric (no prox) it stays in the smooth part, inside the metric.
    l2_prox = not use_metric
    w2 = 1.0 if l2_prox else 0.0
    rows_kind = kind != GRAM
    for it in range(max_iter):
        f_y = _value_grad(kind, gram, rd, pre, loss, pen, train, n_eff, p, fit_intercept, opts,
                          yk, zy, g, graw, buf, sc, not l2_prox)
        if not math.isfinite(f_y):
            return it, -1
        for j in range(q):
            gfull[j] = g[j]
        for j in range(p):
            gfull[j] += w2 * pen.l2[j] * yk[j]
        p_y = f_y + _l1_value(pen, yk, p) + w2 * _l2_value(pen, yk, p)
        big, gnorm = _kkt(pen, yk, gfull, p, fit_intercept)
        if sc[SC_KKT0] <= 0.0:
            sc[SC_KKT0] = max(big, 1e-300)
        gap = _gap(kind, gram, rd, pre, loss, pen, train, n_eff, p, fit_intercept, radius,
                   xts, opts, yk, zy, gfull, p_y, buf)
        if gap >= 0.0:
            cert = max(gap, 0.0) / max(abs(p_y), 1e-300)
            done = gap <= tol * abs(p_y) or gap <= _FLOOR * abs(sc[SC_START])
        else:
            cert = big / sc[SC_KKT0]
            done = cert <= tol
        sc[SC_CERT] = cert
        if done:
            # The extrapolated point is certified: it is the answer.
            for j in range(q):
                x[j] = yk[j]
            if rows_kind:
                for i in range(zx.shape[0]):
                    zx[i] = zy[i]
            sc[SC_OBJ] = p_y
            out_obj[it] = p_y
            out_loss[it] = f_y - (1.0 - w2) * _l2_value(pen, yk, p)
            out_cert[it] = cert
            out_gnorm[it] = gnorm
            return it + 1, 1
        if use_metric:
            _metric_solve(opts.metric, g, dvec)
        else:
            for j in range(q):
                dvec[j] = g[j]
        gdir = 0.0
        for j in range(q):
            gdir += g[j] * dvec[j]
        slack = 1e-12 * max(abs(f_y), 1.0)
        step = sc[SC_STEP]
        f_new = 0.0
        accepted = False
        for _ in range(60):
            for j in range(q):
                xn[j] = yk[j] - step * dvec[j]
            if l2_prox:
                for j in range(p):
                    xn[j] = soft_threshold(xn[j], step * pen.l1[j]) / (1.0 + step * pen.l2[j])
            if not fit_intercept:
                xn[p] = 0.0
            f_new = _value_lin(kind, gram, rd, pre, loss, pen, train, n_eff, p, opts, xn, zbuf,
                               u, buf, sc, not l2_prox)
            gd = 0.0
            quad = 0.0
            for j in range(q):
                d = xn[j] - yk[j]
                gd += g[j] * d
                quad += d * d
            if use_metric:
                quad = step * step * gdir  # ||x+ - y||_M^2 = step^2 g^T M^-1 g
            if f_new <= f_y + gd + quad / (2.0 * step) + slack:
                accepted = True
                break
            step *= 0.5
        if not math.isfinite(f_new):
            return it, -1
        if not accepted:
            # No step lowers the objective at this precision: the floating-point floor
            # (or a kink, e.g. the Huber scale at its lower bound). Stop, uncertified.
            out_obj[it] = sc[SC_OBJ]
            out_loss[it] = out_loss[it - 1] if it > 0 else sc[SC_OBJ] - _l1_value(
                pen, x, p) - _l2_value(pen, x, p)
            out_cert[it] = cert
            out_gnorm[it] = gnorm
            return it + 1, 2
        obj_new = f_new + _l1_value(pen, xn, p) + w2 * _l2_value(pen, xn, p)
        # Grow the step only after a decrease well above rounding: at the floating-point
        # floor every step passes the test and a growing step would make the iterates
        # wander (and the certificate with them).
        sc[SC_STEP] = step * opts.grow if f_y - f_new > 1e3 * slack else step
        out_cert[it] = cert
        out_gnorm[it] = gnorm
        t = sc[SC_T]
        # A plain step (t == 1, y == x) is a descent step up to rounding: always accept it,
        # otherwise rounding near the optimum would reject it forever.
        if obj_new > sc[SC_OBJ] and t > 1.0:
            for j in range(q):
                yk[j] = x[j]
            if rows_kind:
                for i in range(zx.shape[0]):
                    zy[i] = zx[i]
            sc[SC_T] = 1.0
            out_obj[it] = sc[SC_OBJ]
            out_loss[it] = out_loss[it - 1] if it > 0 else sc[SC_OBJ] - _l1_value(
                pen, x, p) - _l2_value(pen, x, p)
            continue
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t)) if opts.momentum else 1.0
        beta = (t - 1.0) / t_new
        for j in range(q):
            yk[j] = xn[j] + beta * (xn[j] - x[j])
            x[j] = xn[j]
        if rows_kind:
            for k in range(train.shape[0]):
                i = train[k]
                zn = zbuf[i]
                zy[i] = zn + beta * (zn - zx[i])
                zx[i] = zn
        sc[SC_T] = t_new
        sc[SC_OBJ] = obj_new
        out_obj[it] = obj_new
        out_loss[it] = f_new - (1.0 - w2) * _l2_value(pen, xn, p)
    return max_iter, 0


# -------------------------------------------------------------------- the Gram matrix
def centered_gram(prob):
    """G~ = X~^T S X~ / n, c~ = X~^T S y~ / n and y~^T S y~ / n over the training rows.

    Dense float64 X with equal weights and moderate column offsets goes through one BLAS
    product on X itself, centred after by the rank-one correction; otherwise dense X is
    centred and scaled in float64 row chunks of at most 1/16 of X (so float32 X is never
    upcast whole and raw columns such as years lose no digits to cancellation); CSR X is
    scaled without densifying and centred by the rank-one correction (sparse columns
    rarely carry large offsets).
    """
    pre = prob.pre
    X, rows, sw = prob.X, prob.train, prob.sw
    y = np.asarray(prob.y, dtype=np.float64)
    n = prob.n_train
    p = prob.p
    isc, mean = pre.inv_scale, pre.mean
    if sp.issparse(X):
        Xr = X[rows] if rows.shape[0] != X.shape[0] else X
        swr, yr = sw[rows], y[rows]
        Xs = Xr.multiply(swr[:, None]).tocsr()
        G = np.asarray((Xr.T @ Xs).toarray(), dtype=np.float64)
        xs = np.asarray(Xs.sum(axis=0), dtype=np.float64).ravel()
        c = np.asarray(Xr.T @ (swr * yr), dtype=np.float64).ravel()
        if pre.centered:
            ys = float(np.sum(swr * yr))
            G -= np.outer(xs, mean) + np.outer(mean, xs) - float(swr.sum()) * np.outer(mean, mean)
            c -= mean * ys
        G *= np.outer(isc, isc) / n
        c *= isc / n
    elif _rank_one_centering(prob):
        # One BLAS product on X itself, centred afterwards: no copy of X.
        w = float(sw[rows[0]])
        G = X.T @ X
        xs = X.T @ np.full(n, w)
        c = X.T @ (w * y)
        G *= w
        if pre.centered:
            G -= np.outer(xs, mean) + np.outer(mean, xs) - (w * n) * np.outer(mean, mean)
            c -= mean * float(np.sum(w * y))
        G *= np.outer(isc, isc) / n
        c *= isc / n
    else:
        chunk = min(rows.shape[0], max(256, X.nbytes // 16 // (8 * max(p, 1))))
        G = np.zeros((p, p))
        c = np.zeros(p)
        buf = np.empty((chunk, p))
        all_rows = rows.shape[0] == X.shape[0]
        for start in range(0, rows.shape[0], chunk):
            stop = min(start + chunk, rows.shape[0])
            Xb = buf[: stop - start]
            idx = slice(start, stop) if all_rows else rows[start:stop]
            np.subtract(X[idx], mean if pre.centered else 0.0, out=Xb)
            Xb *= isc
            c += Xb.T @ (sw[idx] * y[idx])
            Xb *= np.sqrt(sw[idx])[:, None]
            G += Xb.T @ Xb
        G /= n
        c /= n
    yy = float(np.sum(sw * y * y)) / n
    return G, c, yy


# Largest |m_j / s_j| for which the Gram matrix is centred after the product: the
# subtraction then loses about eps * (m_j / s_j)^2 of a standardized entry (< 1e-13).
RANK_ONE_MAX_OFFSET = 30.0


def _rank_one_centering(prob) -> bool:
    """Whether ``centered_gram`` may take X^T X on X itself and centre it by the rank-one
    correction: float64 rows (all of them), equal weights, offsets within
    ``RANK_ONE_MAX_OFFSET`` standard deviations (raw columns such as years are not)."""
    X, rows, sw = prob.X, prob.train, prob.sw
    if (prob.is_sparse or X.dtype != np.float64 or rows.shape[0] != X.shape[0]
            or not X.flags.c_contiguous):
        return False
    if not np.all(sw == sw[0]):
        return False
    pre = prob.pre
    return not pre.centered or float(np.max(np.abs(pre.mean * pre.inv_scale),
                                            initial=0.0)) <= RANK_ONE_MAX_OFFSET


def standardized_column_means(prob) -> np.ndarray:
    """X~^T s / n over the training rows (zero up to rounding when the preconditioner
    centres; the dual points' intercept shift needs the exact value): one pass."""
    xs = np.zeros(prob.p)
    rmatvec(*prob.inputs, prob.train, prob.sw, xs)
    xts = prob.pre.tilde_grad(np.append(xs, prob.sw.sum())) / prob.n_train
    return np.ascontiguousarray(xts[: prob.p])


def solve_gram(G, c, l2):
    """argmin 1/2 w^T G w - c^T w + 1/2 sum l2 w^2: the linear system (G + diag l2) w = c,
    by Cholesky, or the minimum-norm least-squares solution when it is singular."""
    H = G + np.diag(l2)
    try:
        factor = sla.cho_factor(H, lower=True, check_finite=False)
        w = sla.cho_solve(factor, c, check_finite=False)
        if np.all(np.isfinite(w)):
            return w
    except np.linalg.LinAlgError:
        pass
    vals, vecs = np.linalg.eigh(H)
    keep = vals > vals[-1] * H.shape[0] * np.finfo(float).eps
    return vecs[:, keep] @ ((vecs[:, keep].T @ c) / vals[keep])


def quadratic_suboptimality(G, c, l2, w):
    """F(w) - min F for the quadratic of ``solve_gram``, exactly: 1/2 g^T H^+ g."""
    H = G + np.diag(l2)
    g = H @ w - c
    vals, vecs = np.linalg.eigh(H)
    keep = vals > vals[-1] * H.shape[0] * np.finfo(float).eps
    a = vecs[:, keep].T @ g
    return 0.5 * float(a @ (a / vals[keep]))


# -------------------------------------------------------------------- the solver
class FistaState:
    """Iterate, extrapolated point, their products X v (ROWS, HUBER) and the scalars ``SC_*``.

    The n-vectors are not pickled; they are recomputed (one pass) when needed.
    """

    def __init__(self, x, kind, sc, gram=None, xts=None, direct=False):
        self.x = x
        self.y = x.copy()
        self.kind = kind
        self.sc = sc
        self.gram = gram
        self.xts = xts
        self.direct = direct
        self.zx = self.zy = None
        self.metric = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["zx"] = d["zy"] = d["gram"] = d["xts"] = None
        return d


def _largest_eigenvalue(G, n_iter=100):
    p = G.shape[0]
    if p == 0:
        return 0.0
    if p <= 64:  # LAPACK is exact and quicker than the Python loop below at this size
        return float(np.linalg.eigvalsh(G)[-1]) * (1.0 + 1e-12)
    z = np.random.RandomState(0).standard_normal(p)
    lam = 0.0
    for _ in range(n_iter):
        z /= np.linalg.norm(z)
        zn = G @ z
        lam_new = float(z @ zn)
        z = zn
        if abs(lam_new - lam) <= 1e-6 * abs(lam_new):
            return lam_new * (1.0 + 1e-6)
        lam = lam_new
    return lam


class FistaSolver:
    """Full-batch accelerated proximal gradient with a certified stopping rule.

    Parameters
    ----------
    learning_rate_init : float or None
        Initial step of the backtracking line search (solver coordinates); None: 1/L.
    tol : float or None
        Relative duality gap (KKT violation where there is no dual bound) to stop at.
    use_gram : bool
        Allow the Gram path for the squared loss.
    metric : {"identity", "gram"}
        Steps in the standardized coordinates, or in the metric of the Gram matrix of
        [X~ 1] (a variable-metric method: with the concomitant Huber loss each step is then
        a majorize-minimize step; only without an L1 part, whose prox it has no closed
        form for).
    momentum : bool
        Nesterov's acceleration (with restart).
    grow : float
        Factor applied to the step after each accepted step (>= 1): for a curvature that
        changes along the path (the concomitant Huber loss, 2 / sigma).
    """

    def __init__(self, learning_rate_init=None, tol=1e-6, use_gram=True, metric="identity",
                 momentum=True, grow=1.0):
        self.learning_rate_init = learning_rate_init
        self.tol = tol
        self.use_gram = use_gram
        self.metric = metric
        self.momentum = momentum
        self.grow = grow

    def kind(self, prob) -> int:
        from ._concomitant import ConcomitantHuber
        from ._losses import SQUARED_ERROR

        if isinstance(prob.datafit, ConcomitantHuber):
            return HUBER
        if (self.use_gram and prob.datafit.code == SQUARED_ERROR
                and prob.p <= GRAM_MAX_FEATURES and prob.n_train >= 2 * prob.p
                and (prob.pre.centered or not prob.fit_intercept)):
            return GRAM
        return ROWS

    def smooth_part(self, prob):
        """What ``start`` builds from the data alone (cached by ``partial_fit``): the Gram
        matrix (GRAM, and the metric "gram"), X~^T s / n (ROWS, HUBER)."""
        kind = self.kind(prob)
        gram = _EMPTY_GRAM
        if kind == GRAM or self.metric == "gram":
            gram = GramArgs(*centered_gram(prob))
        return gram, standardized_column_means(prob)

    def start(self, prob, theta0, rng, smooth=None) -> FistaState:
        kind = self.kind(prob)
        gram, xts = smooth if smooth is not None else self.smooth_part(prob)
        x = theta0.copy()
        if kind == GRAM or not prob.fit_intercept:
            x[prob.p] = 0.0
        sc = np.zeros(SC_SIZE)
        sc[SC_T] = 1.0
        sc[SC_SIGMA] = -1.0
        direct = (kind == GRAM and not prob.penalty.has_l1 and self.learning_rate_init is None)
        state = FistaState(x, kind, sc, gram, xts, direct)
        self._attach(prob, state)
        f0 = self._value(prob, state, state.x)
        sc[SC_OBJ] = f0
        sc[SC_START] = f0
        if self.metric == "gram" and not prob.penalty.has_l1:
            state.metric = self._metric(prob, state, gram, xts)
        if self.learning_rate_init is not None:
            sc[SC_STEP] = float(self.learning_rate_init)
        elif direct:
            sc[SC_STEP] = 1.0
        elif kind == HUBER:
            # The majorize-minimize step of the Huber loss at the starting scale: sigma / 2
            # in the Gram metric; the backtracking and ``grow`` follow sigma afterwards.
            sigma = max(sc[SC_SIGMA], 1e-300)
            lip = 2.0 / sigma * (1.0 if state.metric is not None else max(
                prob.top_eigenvalue(self._stats_rows(prob, rng)), 1e-300))
            sc[SC_STEP] = 1.0 / lip
        else:
            # The data term's Lipschitz constant (the L2 part is in the prox).
            if kind == GRAM:
                lip = _largest_eigenvalue(gram.G)
            else:
                rows = self._stats_rows(prob, rng)
                lip = (prob.datafit.curvature or 1.0) * prob.top_eigenvalue(rows)
            sc[SC_STEP] = 1.0 / lip if lip > 0 else 1.0
        return state

    @staticmethod
    def _stats_rows(prob, rng):
        from ._problem import STATS_ROWS, sample_rows

        return sample_rows(prob.train, STATS_ROWS, rng)

    @staticmethod
    def _metric(prob, state, gram, xts):
        """Lower Cholesky factor of G~ (with the intercept row) + diag(l2) sigma / 2."""
        p = prob.p
        q = p + 1
        M = np.zeros((q, q))
        M[:p, :p] = gram.G
        M[:p, p] = M[p, :p] = xts
        M[p, p] = 1.0 if prob.fit_intercept else 0.0
        sigma = state.sc[SC_SIGMA] if state.kind == HUBER and state.sc[SC_SIGMA] > 0 else 1.0
        M[np.arange(p), np.arange(p)] += prob.penalty.l2 * (0.5 * sigma)
        if not prob.fit_intercept:
            M[p, p] = 1.0
        # Jitter keeps the factorization defined for singular Gram matrices (p > n,
        # duplicated or constant columns); it only perturbs the metric, not the problem.
        jitter = 1e-10 * max(np.trace(M) / q, 1e-300)
        M[np.arange(q), np.arange(q)] += jitter
        return np.ascontiguousarray(sla.cholesky(M, lower=True, check_finite=False))

    def _attach(self, prob, state):
        if state.kind != GRAM and state.zx is None:
            state.zx = np.zeros(prob.n)
            state.zy = np.zeros(prob.n)
            u = prob.pre.raw(state.x)
            matvec(*prob.inputs, prob.train, u[: prob.p], state.zx)
            u = prob.pre.raw(state.y)
            matvec(*prob.inputs, prob.train, u[: prob.p], state.zy)

    def _buffers(self, prob, state):
        if state.kind != HUBER:
            return _EMPTY_BUF
        m = prob.n_train
        y = np.ascontiguousarray(np.asarray(prob.y, dtype=np.float64)[prob.train])
        return (np.zeros(m), np.zeros(m), np.zeros(m), np.zeros(prob.n), y)

    def _options(self, prob, state):
        from ._concomitant import SIGMA_MIN

        metric = state.metric if state.metric is not None else _NO_METRIC
        eps = getattr(prob.datafit, "epsilon", 0.0)
        return FistaOptions(metric, bool(self.momentum), float(self.grow), float(eps),
                            SIGMA_MIN / prob.pre.y_scale)

    def _value(self, prob, state, theta):
        z = np.zeros(prob.n if state.kind != GRAM else 0)
        u = np.empty(prob.p + 1)
        f = _value_lin(state.kind, state.gram, prob.rows, prob.pre_args, prob.datafit.args,
                       prob.pen_args, prob.train, float(prob.n_train), prob.p,
                       self._options(prob, state), theta, z, u, self._buffers(prob, state),
                       state.sc, True)
        if state.kind == HUBER:
            # the scale at the start, for the first step and the metric
            from ._concomitant import optimal_scale

            buf = self._buffers(prob, state)
            r = buf[4] - (z[prob.train] + u[prob.p])
            swn = prob.sw[prob.train] / prob.n_train
            state.sc[SC_SIGMA] = optimal_scale(r, swn, self._options(prob, state).eps,
                                               self._options(prob, state).sigma_min, -1.0)
        return f + prob.penalty.l1_value(theta[: prob.p])

    def ensure(self, prob, state, smooth):
        """Re-attach data-dependent parts after unpickling or a change of data."""
        if state.gram is None and state.xts is None:
            state.gram, state.xts = smooth
        self._attach(prob, state)

    def run(self, prob, state, n_epochs: int, interactive: bool):
        from ._sgd import EpochRecord

        if state.direct:
            return [self._direct(prob, state)]
        tol = 0.0 if self.tol is None else float(self.tol)
        out = np.zeros((4, n_epochs))
        zbuf = np.zeros(prob.n if state.kind != GRAM else 0)
        zx = state.zx if state.kind != GRAM else zbuf
        zy = state.zy if state.kind != GRAM else zbuf
        radius = min(prob.datafit.conjugate_radius, 1e300)
        n_done, status = fista_block(
            state.kind, state.gram, prob.rows, prob.pre_args, prob.datafit.args, prob.pen_args,
            prob.train, float(prob.n_train), prob.p, prob.fit_intercept, radius, state.xts,
            self._options(prob, state), state.x, state.y, zx, zy, zbuf,
            self._buffers(prob, state), state.sc, n_epochs, tol, out[0], out[1], out[2],
            out[3])
        if status < 0:
            from ._exceptions import DivergenceError

            raise DivergenceError(
                "FISTA met a non-finite objective: the data overflow the floating-point "
                "range (rescale X or y)."
            )
        unit, step = _grad_unit(prob), float(state.sc[SC_STEP])
        obj, loss, cert, grad = (out[i, :n_done].tolist() for i in range(4))
        records = [EpochRecord(objective=obj[k], loss=loss[k], grad_norm=grad[k] * unit,
                               learning_rate=step, certificate=cert[k])
                   for k in range(n_done)]
        if status == 1 and records:
            records[-1].converged = True
        elif status == 2 and records:
            records[-1].stalled = True
        return records

    def _direct(self, prob, state):
        from ._sgd import EpochRecord

        G, c = state.gram.G, state.gram.c
        l2 = prob.penalty.l2
        w = solve_gram(G, c, l2)
        p = prob.p
        state.x[:p] = w
        state.x[p] = 0.0
        state.y[:] = state.x
        quad = float(w @ (G @ w))
        f = 0.5 * max(quad - 2.0 * float(c @ w) + state.gram.yy, 0.0)
        obj = f + 0.5 * float((l2 * w) @ w)
        sub = quadratic_suboptimality(G, c, l2, w)
        cert = sub / max(obj, 1e-300)
        state.sc[SC_OBJ] = obj
        state.sc[SC_CERT] = cert
        g = (G + np.diag(l2)) @ w - c
        return EpochRecord(objective=obj, loss=f, grad_norm=float(np.linalg.norm(g))
                           * _grad_unit(prob), learning_rate=1.0, certificate=cert,
                           converged=True)

    @staticmethod
    def reported(state):
        return state.x


def _grad_unit(prob) -> float:
    d = prob.pre.degree
    return prob.pre.y_scale ** (d - 1) if d is not None else 1.0


_EMPTY_GRAM = GramArgs(np.zeros((0, 0)), np.zeros(0), 0.0)
_NO_METRIC = np.zeros((0, 0))
_EMPTY_BUF = (np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
