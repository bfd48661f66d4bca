"""One epoch of per-sample or mini-batch descent, compiled once per dtype.

The stochastic solver's inner loop (``_sgd.StochasticSolver``). It works in the
preconditioned coordinates (``_precondition``): the rows it reads are raw, and the
standardization x~ = (x - m) / s is applied on the fly, so no standardized copy of X is
made. Dense and CSR inputs go through the same kernel (``is_sparse`` selects the row
access; the unused representation is an empty array), and loss, optimizer and schedule
are integer codes, so each dtype compiles this kernel exactly once. The arguments come
in small typed records (``RowData``, ``PrecondArgs``, ``PenaltyArgs``, ``OptimizerArgs``,
``ScheduleArgs``) built once by the solver.

Penalties in per-sample steps
-----------------------------
After each gradient step the L2 part of h(w) = sum_j l1_j |w_j| + l2_j w_j^2 / 2 is applied
as its exact flow over the rate, w_j <- w_j e^(-lr l2_j) (flows compose: the flow for a
then for b is the flow for a + b), and the L1 part by Tsuruoka et al.'s (2009)
cumulative penalty: u is the total rate so far, q_j the L1 penalty w_j actually
received, and w_j is clipped towards 0 by u l1_j - q_j (it keeps exact zeros where a
plain truncated gradient lets noise push weights off zero). Both are exact when
deferred, which makes the CSR path lazy: a coordinate untouched by the last k rows
receives the L2 flow of the summed rates and its cumulative L1 clip when its feature
next occurs (``lam[j]`` records up to which summed rate it is current), and every
coordinate is brought up to date at the end of the epoch. A CSR step costs
O(non-zeros of the row).

Why each fast path is fast
--------------------------
* Dense per-sample steps run on the raw-space weights v = theta / s (``_sgd_dense_epoch``):
  the prediction is x . v + (b - m . v), a plain dot product, and the step, the L2 flow
  and m . v share one loop over the row (``_raw_step``); with a constant rate the flow's
  factors e^(-lr l2_j) are computed once per epoch (else per step, by a cubic polynomial
  when x < 1e-3: relative error < 5e-14).
* CSR per-sample steps: the lazy penalties above. Only the columns stored on most rows
  are centred by per-sample steps (centring a column costs O(1) per step; centring all
  would make every step O(n_features)); the others are scaled.
* Mini-batches (``_batch_epoch``): the batch gradient is accumulated on raw rows with
  the raw-space parameters (``_passes.rows_loss_grad``: dot product, loss derivative and
  axpy fused), then turned into the preconditioned gradient, the optimizer and the L1
  proximal step run once per batch, O(p) per batch.
* Full batch: one read of X per epoch. The predictions that the gradient needs also give
  the loss of the iterate at the start of the epoch, so the solver gets the objective
  after epoch k from the gradient pass of epoch k + 1 (``_sgd``); it runs that pass and
  ``batch_update`` itself, so the loss of an iterate comes from the same compiled entry
  whichever way it is asked for (fit or partial_fit), to the bit.
* Dense rows in shuffled order are software-prefetched ``PREFETCH_AHEAD`` rows ahead;
  CSR rows in two steps (a shuffled 1,000,000 x 10,000 CSR epoch: 0.50 s -> 0.28 s).
  Rows in increasing order get no hints: the hardware prefetcher already follows them.
* float32 X is read as float32 (half the bytes) and accumulated in float64.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from ._losses import loss_derivative
from ._optimizers import ADAMW, SGD, bias_corrections, optimizer_step
from ._passes import rows_loss_grad
from ._penalties import soft_threshold
from ._prefetch import prefetch_row
from ._rows import FASTMATH, PREFETCH_AHEAD, dense_dot, is_increasing, prefetch_csr_ahead
from ._schedules import CONSTANT, SP_WARMUP, learning_rate_at

# Layout of the scalar state array ``st`` shared with the solver.
ST_T = 0  # updates made so far
ST_U = 1  # cumulative L1 penalty rate (Tsuruoka's u), summed over all updates
ST_EPOCH = 2  # completed epochs
ST_N_AVG = 3  # iterates in the running average
ST_LOSS_MODE = 4  # which data loss run_epoch also returns in st[ST_LOSS] (LOSS_*)
ST_LOSS = 5  # sum_i s_i phi_i of the iterate chosen by st[ST_LOSS_MODE]
ST_SIZE = 6

LOSS_NONE = 0  # no loss
LOSS_AFTER = 1  # loss and raw gradient of the reported iterate after the epoch (one pass)

RowData = namedtuple("RowData", ["Xd", "data", "indices", "indptr", "is_sparse", "y", "sw"])
# ``dense_cols``: the columns with a non-zero mean (all of them for dense input; for CSR
# per-sample steps, those stored on most rows).
PrecondArgs = namedtuple("PrecondArgs", ["mean", "inv_scale", "centered", "dense_cols"])
# ``l1_unit``, ``l2_unit``: l1_j = l1_unit / s_j and l2_j = l2_unit / s_j^2 exactly
# (``Preconditioner.penalty_units``).
PenaltyArgs = namedtuple("PenaltyArgs", ["l1", "l2", "has_l1", "has_l2", "l1_unit", "l2_unit"])
OptimizerArgs = namedtuple("OptimizerArgs", ["code", "hp"])
ScheduleArgs = namedtuple("ScheduleArgs", ["code", "lr0", "sp", "milestones"])

# e^-x by its cubic Taylor polynomial below this x (relative error x^4/24 < 5e-14).
_POLY_MAX = 1e-3


@njit(cache=True, inline="always")
def _decay(x):
    if x < _POLY_MAX:
        return 1.0 - x * (1.0 - x * (0.5 - x * (1.0 / 6.0)))
    return math.exp(-x)


@njit(cache=True, inline="always")
def _l1_clip(w, received, owed):
    """Tsuruoka et al.'s (2009) cumulative L1 step: clip w towards 0 by what it is owed (the
    total L1 penalty so far, ``owed``) minus what it ``received``; returns the new w and
    what it has now received.

    Written without a branch, as sign(w) max(0, |w| - (owed + sign(w) received)) with
    max(0, a) = (a + |a|) / 2 (exact): the sign of w is unpredictable, and the branches
    on it cost twice the rest of a lazy CSR step."""
    sgn = np.sign(w)
    a = abs(w) - (owed + sgn * received)
    nw = sgn * (0.5 * (a + abs(a)))
    return nw, received + (nw - w)


@njit(cache=True, fastmath=FASTMATH)
def _raw_step(Xd, i, mean, q2, f, a, v, p):
    """v_j <- (v_j + a (x_ij - m_j) / s_j^2) f_j; returns sum_j m_j v_j.

    v = theta / s are the raw-space weights: the step on theta along x~_i is this step on
    v, and the L2 flow multiplies both by the same f_j = e^(-lr l2_j) (1 without L2: one
    loop either way, which measured twice as fast as a flag choosing between two)."""
    mv = 0.0
    for j in range(p):
        z = (v[j] + a * (Xd[i, j] - mean[j]) * q2[j]) * f[j]
        v[j] = z
        mv += mean[j] * z
    return mv


@njit(cache=True, fastmath=FASTMATH)
def _decays(l2, lr, p, f):
    """f_j = e^(-lr l2_j); the polynomial when it is exact for every coordinate."""
    big = 0.0
    for j in range(p):
        big = max(big, lr * l2[j])
    if big < _POLY_MAX:
        for j in range(p):
            x = lr * l2[j]
            f[j] = 1.0 - x * (1.0 - x * (0.5 - x * (1.0 / 6.0)))
    else:
        for j in range(p):
            f[j] = math.exp(-lr * l2[j])


@njit(cache=True, fastmath=FASTMATH)
def _raw_step_l1(Xd, i, mean, q2, f, a, v, qv, l1v, u, p):
    """``_raw_step`` followed by the cumulative L1 step (``_l1_clip``) in raw units
    (l1v = l1 / s, qv = q / s), in one loop."""
    mv = 0.0
    for j in range(p):
        z = (v[j] + a * (Xd[i, j] - mean[j]) * q2[j]) * f[j]
        w, qv[j] = _l1_clip(z, qv[j], u * l1v[j])
        v[j] = w
        mv += mean[j] * w
    return mv


@njit(cache=True)
def _update_average(avg, theta, n_avg, p):
    inv = 1.0 / n_avg
    for j in range(p + 1):
        avg[j] += (theta[j] - avg[j]) * inv


@njit(cache=True)
def _scheduled_rate(sched, t, epoch_position):
    """The rate of a step under a schedule that is not constant. Per-sample loops call it
    only then (``lr0`` otherwise), and not inlined: an inlined helper taking the record of
    arrays pays their reference counting on every step."""
    return learning_rate_at(sched.code, sched.lr0, t, epoch_position, sched.sp,
                            sched.milestones)


@njit(cache=True, inline="always")
def _epoch_start(order, st, sched):
    """(rows, updates so far, Tsuruoka's u, completed epochs, whether the rate is constant)."""
    return (order.shape[0], st[ST_T], st[ST_U], st[ST_EPOCH],
            sched.code == CONSTANT and not sched.sp[SP_WARMUP] > 0.0)


@njit(cache=True)
def _sgd_dense_epoch(rd, pre, loss, pen, sched, order, p, theta, avg, q, st, fit_intercept,
                     average_start):
    """Per-sample steps on dense rows, run on the raw-space weights v = theta / s.

    The prediction is then x_i . v + c with c = b~ - m . v, one fused multiply-add per
    entry as in an unstandardized loop; m . v is refreshed by the step's own loop. The
    state (theta, q, the average) is in the preconditioned coordinates before and after.
    """
    Xd, y, sw = rd.Xd, rd.y, rd.sw
    mean, isc = pre.mean, pre.inv_scale
    n, t, u, epoch, const_lr = _epoch_start(order, st, sched)
    has_l1, has_l2 = pen.has_l1, pen.has_l2
    v = np.empty(p)
    q2 = np.empty(p)
    for j in range(p):
        v[j] = theta[j] * isc[j]
        q2[j] = isc[j] * isc[j]
    qv = q[:p] * isc if has_l1 else q
    l1v = pen.l1 * isc if has_l1 else pen.l1
    averaging = average_start > 0
    avg_v = avg[:p] * isc if averaging else avg
    f = np.ones(p)
    if has_l2 and const_lr:
        _decays(pen.l2, sched.lr0, p, f)
    mv = 0.0
    for j in range(p):
        mv += mean[j] * v[j]
    b = theta[p]
    status = 0
    for k in range(n):
        i = order[k]
        if k + PREFETCH_AHEAD < n:
            ahead = order[k + PREFETCH_AHEAD]
            # In-order rows (no shuffle) are prefetched by the hardware.
            if ahead != i + PREFETCH_AHEAD:
                prefetch_row(Xd, ahead)
        lr = sched.lr0 if const_lr else _scheduled_rate(sched, t, epoch + k / n)
        pred = dense_dot(Xd, i, v, p) + (b - mv)
        if not math.isfinite(pred):
            status = 1
            break
        dl = sw[i] * loss_derivative(loss.code, y[i], pred, loss.epsilon, loss.quantile)
        if has_l2 and not const_lr:
            _decays(pen.l2, lr, p, f)
        if has_l1:
            u += lr
            mv = _raw_step_l1(Xd, i, mean, q2, f, -lr * dl, v, qv, l1v, u, p)
        else:
            mv = _raw_step(Xd, i, mean, q2, f, -lr * dl, v, p)
        if fit_intercept:
            b -= lr * dl
        t += 1.0
        if averaging and t >= average_start:
            st[ST_N_AVG] += 1.0
            inv = 1.0 / st[ST_N_AVG]
            for j in range(p):
                avg_v[j] += (v[j] - avg_v[j]) * inv
            avg[p] += (b - avg[p]) * inv
    for j in range(p):
        theta[j] = v[j] / isc[j]
        if has_l1:
            q[j] = qv[j] / isc[j]
        if averaging:
            avg[j] = avg_v[j] / isc[j]
    theta[p] = b
    st[ST_T] = t
    st[ST_U] = u
    return status


# Columns of the per-column table of the CSR per-sample kernel (one row per feature).
_V, _REC, _SINCE, _Q2, _COLS = 0, 1, 2, 3, 4
TABLE_AHEAD = 2
TABLE_PREFETCH_BYTES = 1 << 19


@njit(cache=True)
def _column_table(theta, q, pre, p):
    """What a stored entry of column j needs, in row j of one (p, 4) table, in raw units
    (as ``_sgd_dense_epoch``): the weight v_j = theta_j / s_j, its received L1 penalty
    q_j / s_j, the summed rate up to which it is current, and 1/s_j^2. In raw units the
    prediction is a plain dot product, and the step along x_j, the L2 flow's exponent and
    the L1 clip all scale with 1/s_j^2 (weights l2_unit / s_j^2 and l1_unit / s_j^2). A
    step then touches one cache line per stored entry instead of one in each of six
    arrays."""
    c = np.zeros((p, _COLS))
    isc = pre.inv_scale
    for j in range(p):
        c[j, _V] = theta[j] * isc[j]
        c[j, _REC] = q[j] * isc[j]
        c[j, _Q2] = isc[j] * isc[j]
    return c


@njit(cache=True, inline="always")
def _catch_up(c, j, total, u, c1, c2, has_l1, has_l2):
    """Bring column j of the table up to date: the L2 flow of the rates summed since it was
    last current, then the cumulative L1 step (raw units: weights c2 / s_j^2 and
    c1 / s_j^2). Nothing is
    owed when it is current (the centred columns, caught up after every step): skipped.
    Scalars besides the table: a record of arrays passed on every stored entry costs the
    reference counting of each array (ten times the step, measured)."""
    since = c[j, _SINCE]
    if since < total:
        w = c[j, _V]
        q2 = c[j, _Q2]
        if has_l2:
            w *= _decay(c2 * q2 * (total - since))
        if has_l1:
            w, c[j, _REC] = _l1_clip(w, c[j, _REC], u * (c1 * q2))
        c[j, _V] = w
        c[j, _SINCE] = total


@njit(cache=True, inline="always")
def _prefetch_ahead(data, indices, indptr, order, k, n, c, prefetch, prefetch_table):
    """Request the CSR row of a shuffled order ahead (``prefetch``), and the table rows of
    the stored entries of the row TABLE_AHEAD steps ahead (``prefetch_table``: a table
    larger than the L2 cache is read at random)."""
    if prefetch:
        prefetch_csr_ahead(data, indices, indptr, order, k, n)
    if prefetch_table and k + TABLE_AHEAD < n:
        a = order[k + TABLE_AHEAD]
        for r in range(indptr[a], indptr[a + 1]):
            prefetch_row(c, indices[r])


# The same loop as ``_sgd_sparse_epoch`` for its common case (lazy penalty, no centred
# column, constant rate, no averaging), without the branches and loops that case never
# takes: 76 -> 56 ms of CPU for an epoch on CSR 1,000,000 x 10,000 (l2).
@njit(cache=True, fastmath=FASTMATH)
def _sgd_sparse_lazy_epoch(data, indices, indptr, y, sw, code, eps, quant, order, n, lr, c,
                           b, u, c1, c2, has_l1, has_l2, fit_intercept):
    """Steps on the table ``c`` of ``_column_table``; returns (status, b, u, summed rate,
    steps made)."""
    total = 0.0
    prefetch = not is_increasing(order)
    prefetch_table = c.shape[0] * _COLS * 8 > TABLE_PREFETCH_BYTES
    for k in range(n):
        i = order[k]
        _prefetch_ahead(data, indices, indptr, order, k, n, c, prefetch, prefetch_table)
        lo = indptr[i]
        hi = indptr[i + 1]
        z = 0.0
        for r in range(lo, hi):
            j = indices[r]
            _catch_up(c, j, total, u, c1, c2, has_l1, has_l2)
            z += data[r] * c[j, _V]
        pred = z + b
        if not math.isfinite(pred):
            return 1, b, u, total, k
        dl = sw[i] * loss_derivative(code, y[i], pred, eps, quant)
        if dl != 0.0:
            a = -lr * dl
            for r in range(lo, hi):
                j = indices[r]
                c[j, _V] += a * data[r] * c[j, _Q2]
            if fit_intercept:
                b += a
        total += lr
        if has_l1:
            u += lr
    return 0, b, u, total, n


# fastmath: the row's dot product is a reduction (reassociated, its additions need not
# wait for each other) and the steps contract to fused multiply-adds: an epoch on CSR
# 1,000,000 x 10,000 (l2) 92 -> 77 ms of CPU.
@njit(cache=True, fastmath=FASTMATH)
def _sgd_sparse_epoch(rd, pre, loss, pen, sched, order, p, theta, avg, q, st,
                      fit_intercept, average_start):
    """Per-sample steps on CSR rows, penalty applied lazily, on the raw-space weights
    v = theta / s (``_column_table``).

    The columns stored on most rows (``pre.dense_cols``, e.g. numeric columns with offsets
    next to one-hot ones) are centred: each costs O(1) per step either way, and their
    coordinates are kept current eagerly. The others are scaled only, so that a step costs
    O(non-zeros of the row). With averaging every coordinate must be current at every
    step (the average is taken over the true iterates), so the penalty is then applied to
    all of them each step. The state of the columns lives in one table for the epoch
    (``_column_table``).
    """
    data, indices, indptr, y, sw = rd.data, rd.indices, rd.indptr, rd.y, rd.sw
    dense, mean = pre.dense_cols, pre.mean
    n, t, u, epoch, const_lr = _epoch_start(order, st, sched)
    c = _column_table(theta, q, pre, p)
    c1, c2, has_l1, has_l2 = pen.l1_unit, pen.l2_unit, pen.has_l1, pen.has_l2
    b = theta[p]
    status = 0
    has_pen = has_l1 or has_l2
    lazy = has_pen and average_start == 0
    total = 0.0  # rates summed this epoch: the L2 flow owed since c[j, _SINCE]
    if lazy and const_lr and dense.shape[0] == 0:
        status, b, u, total, steps = _sgd_sparse_lazy_epoch(
            data, indices, indptr, y, sw, loss.code, loss.epsilon, loss.quantile, order, n,
            sched.lr0, c, b, u, c1, c2, has_l1, has_l2, fit_intercept)
        t += steps
        n = 0  # done: only the final catch-up below remains
    prefetch = not is_increasing(order)
    prefetch_table = p * _COLS * 8 > TABLE_PREFETCH_BYTES
    for k in range(n):
        i = order[k]
        _prefetch_ahead(data, indices, indptr, order, k, n, c, prefetch, prefetch_table)
        lr = sched.lr0 if const_lr else _scheduled_rate(sched, t, epoch + k / n)
        lo = indptr[i]
        hi = indptr[i + 1]
        z = 0.0
        for r in range(dense.shape[0]):
            j = dense[r]
            z -= mean[j] * c[j, _V]
        for r in range(lo, hi):
            j = indices[r]
            if lazy:
                _catch_up(c, j, total, u, c1, c2, has_l1, has_l2)
            z += data[r] * c[j, _V]
        pred = z + b
        if not math.isfinite(pred):
            status = 1
            break
        dl = sw[i] * loss_derivative(loss.code, y[i], pred, loss.epsilon, loss.quantile)
        if dl != 0.0:
            a = -lr * dl
            for r in range(lo, hi):
                j = indices[r]
                c[j, _V] += a * data[r] * c[j, _Q2]
            for r in range(dense.shape[0]):
                j = dense[r]
                c[j, _V] -= a * mean[j] * c[j, _Q2]
            if fit_intercept:
                b += a
        total += lr
        if has_l1:
            u += lr
        if has_pen:
            # Every coordinate without laziness (averaging), else the centred ones.
            for r in range(p if not lazy else dense.shape[0]):
                _catch_up(c, r if not lazy else dense[r], total, u, c1, c2, has_l1,
                          has_l2)
        t += 1.0
        if average_start > 0 and t >= average_start:
            st[ST_N_AVG] += 1.0
            inv = 1.0 / st[ST_N_AVG]
            for j in range(p):
                avg[j] += (c[j, _V] / pre.inv_scale[j] - avg[j]) * inv
            avg[p] += (b - avg[p]) * inv
    for j in range(p):
        if lazy:
            _catch_up(c, j, total, u, c1, c2, has_l1, has_l2)
        theta[j] = c[j, _V] / pre.inv_scale[j]
        q[j] = c[j, _REC] / pre.inv_scale[j]
    theta[p] = b
    st[ST_T] = t
    st[ST_U] = u
    return status


@njit(cache=True)
def raw_params(pre, theta, p, u):
    """u = (v, c) with x~.theta + b~ = x.v + c (the parameters of the raw-row passes)."""
    c = theta[p]
    for j in range(p):
        u[j] = pre.inv_scale[j] * theta[j]
        if pre.centered:
            c -= pre.mean[j] * u[j]
    u[p] = c


@njit(cache=True)
def batch_update(pre, pen, opt, sched, grad, n_rows, theta, m, v, avg, st, p, fit_intercept,
                 average_start, epoch):
    """One optimizer step from the raw batch gradient sum_i s_i phi'_i (x_i, 1) over
    ``n_rows`` rows: the preconditioned gradient of the data term, the optimizer, then the
    prox of the coordinate-weighted penalty with each coordinate's effective step,
    w <- soft(w, eff l1_j) / (1 + eff l2_j). The L2 part is in the prox, not in the
    gradient: its weights 1/s_j^2 span as many decades as the columns' scales, and a
    gradient step on the stiffest would diverge. adamw's decoupled weight decay is the
    same prox with the rate itself, w <- w / (1 + lr l2_j)."""
    adamw = opt.code == ADAMW
    t = st[ST_T]
    inv_b = 1.0 / n_rows
    gsum = grad[p]
    n_coef = p + 1 if fit_intercept else p
    lr = learning_rate_at(sched.code, sched.lr0, t, epoch, sched.sp, sched.milestones)
    t += 1.0
    bc1, bc2 = bias_corrections(opt.code, t, opt.hp)
    for j in range(n_coef):
        if j < p:
            if pre.centered:
                g = pre.inv_scale[j] * (grad[j] - pre.mean[j] * gsum) * inv_b
            else:
                g = pre.inv_scale[j] * grad[j] * inv_b
        else:
            g = gsum * inv_b
        w_new, m_new, v_new, eff = optimizer_step(opt.code, theta[j], g, m[j], v[j], lr, bc1,
                                                  bc2, opt.hp, 0.0)
        if j < p:
            if pen.has_l1:
                w_new = soft_threshold(w_new, eff * pen.l1[j])
            if pen.has_l2:
                w_new /= 1.0 + (lr if adamw else eff) * pen.l2[j]
        theta[j] = w_new
        m[j] = m_new
        v[j] = v_new
    st[ST_T] = t
    if average_start > 0 and t >= average_start:
        st[ST_N_AVG] += 1.0
        _update_average(avg, theta, st[ST_N_AVG], p)
    for j in range(p + 1):
        if not math.isfinite(theta[j]):
            return 1
    return 0


@njit(cache=True)
def _batch_epoch(rd, pre, loss, pen, opt, sched, order, batch_size, p, theta, m, v, avg,
                 grad, u, st, fit_intercept, average_start):
    n = order.shape[0]
    n_steps = (n + batch_size - 1) // batch_size
    epoch = st[ST_EPOCH]
    for s in range(n_steps):
        start = s * batch_size
        stop = min(n, start + batch_size)
        raw_params(pre, theta, p, u)
        grad[:] = 0.0
        status, _ = rows_loss_grad(rd.Xd, rd.data, rd.indices, rd.indptr, rd.is_sparse, rd.y,
                                   rd.sw, order, start, stop, u, p, loss.code, loss.epsilon,
                                   loss.quantile, grad, False)
        if status != 0:
            return 1
        if batch_update(pre, pen, opt, sched, grad, stop - start, theta, m, v, avg, st, p,
                        fit_intercept, average_start, epoch + s / n_steps) != 0:
            return 1
    return 0


def run_epoch(rd, pre, loss, pen, opt, sched, order, rows, batch_size, p, theta, m, v, avg,
              grad, u, st, fit_intercept, average_start) -> int:
    """Run one pass of per-sample or mini-batch steps over ``order``; return 0, or 1 at
    the first non-finite value.

    ``theta`` holds the coefficients followed by the intercept (preconditioned
    coordinates) and is updated in place, as are the optimizer states ``m``, ``v``, the
    running average ``avg`` and the scalar state ``st`` (layout ``ST_*``); ``grad`` and
    ``u`` are scratch of length p + 1. ``rd.sw`` are sample weights of mean one over the
    training ``rows`` (sorted) and zero elsewhere. ``average_start`` is 0 for no
    averaging, else the update count from which iterates are averaged.

    With ``st[ST_LOSS_MODE] == LOSS_AFTER`` the weighted data loss sum_i s_i phi_i of the
    reported iterate is returned in ``st[ST_LOSS]`` and its raw gradient
    sum_i s_i phi'_i (x_i, 1) in ``grad`` (one more pass over the rows). A full batch is
    not run here but by the solver, one ``_passes.rows_loss_grad`` and one
    ``batch_update`` per epoch, so that its objective can come from the next epoch's pass.

    The kind of epoch is chosen here, in Python, and its kernel and the common tail are
    called as compiled entries of their own: one compiled dispatcher would compile every
    kernel (the CSR ones included) on the first dense fit, seconds of cold compile and a
    larger cache to load on every import.
    """
    if opt.code == SGD and batch_size == 1:
        kernel = _sgd_sparse_epoch if rd.is_sparse else _sgd_dense_epoch
        status = kernel(rd, pre, loss, pen, sched, order, p, theta, avg, v, st, fit_intercept,
                        average_start)
    else:
        status = _batch_epoch(rd, pre, loss, pen, opt, sched, order, batch_size, p, theta, m,
                              v, avg, grad, u, st, fit_intercept, average_start)
    return _finish_epoch(rd, pre, loss, rows, p, theta, avg, grad, u, st, status)


@njit(cache=True)
def _finish_epoch(rd, pre, loss, rows, p, theta, avg, grad, u, st, status):
    """The status of the epoch: non-finite coefficients count as divergence; with
    ``LOSS_AFTER``, the loss and raw gradient of the reported iterate."""
    if status != 0:
        return status
    for j in range(p + 1):
        if not math.isfinite(theta[j]):
            return 1
    if st[ST_LOSS_MODE] == LOSS_AFTER:
        rep = avg if st[ST_N_AVG] > 0 else theta
        raw_params(pre, rep, p, u)
        grad[:] = 0.0
        _, st[ST_LOSS] = rows_loss_grad(rd.Xd, rd.data, rd.indices, rd.indptr, rd.is_sparse,
                                        rd.y, rd.sw, rows, 0, rows.shape[0], u, p, loss.code,
                                        loss.epsilon, loss.quantile, grad, True)
    return 0
