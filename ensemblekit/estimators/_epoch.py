"""One epoch of per-sample or mini-batch descent, compiled once per dtype.

Dense and CSR inputs go through the same kernel (``is_sparse`` selects the row access;
the unused representation is an empty array), and loss, optimizer and schedule are
integer codes, so each dtype compiles this kernel exactly once. The objective that the
training loop reports is computed by the same kernel (``st[ST_LOSS_MODE]``), so a fit
loads one compiled function from the on-disk cache.

Why each fast path is fast
--------------------------
* Per-sample SGD with L2 (the SGDRegressor case, ``_plain_sgd_epoch``): the weights are
  stored as ``wscale * theta``, so the L2 shrinkage ``w <- (1 - lr l2) w`` multiplies one
  scalar instead of p weights (``theta`` is rescaled only when ``wscale < 1e-9``); a step
  is one dot product and one axpy over the row's entries.
* L1 on sparse rows: Tsuruoka et al.'s (2009) cumulative penalty. ``u`` is the total L1
  penalty so far and ``q[j]`` what weight j actually received; a weight is clipped only
  when its feature occurs in the current CSR row, and all are flushed once at the end of
  the epoch, so a step costs O(non-zeros of the row), not O(n_features). (Dense rows clip
  every coordinate each step, as SGDRegressor does. When an averaged iterate is requested
  the L1 penalty is applied to every coordinate at every step so that the average is
  taken over the true (post-prox) iterates; scikit-learn's lazy averaging skips that and
  returns wrong averages with L1, see the tests.)
* Mini-batches (``_batch_epoch``): the batch gradient is accumulated row by row in one
  fused pass (dot product, loss derivative, axpy), then the optimizer and the L1 proximal
  step run once per batch, O(p) per batch.
* Full batch: one read of X per epoch. The predictions x_i.w + b that the gradient needs
  also give the loss of the iterate at the *start* of the epoch (``LOSS_START``), so the
  training loop gets the objective after epoch k from the gradient pass of epoch k + 1
  (``_base.BaseGD._fused_full_batch``) instead of a third pass over X. The fused row loop
  (dot + axpy per row, X read once) is used rather than two BLAS gemv calls (X w, then
  X^T r: two reads): OpenBLAS's single-threaded gemv on a tall C-ordered X measured ~3x
  ``X.sum()`` each here, the row loop ~1-2x in all.
* Dense rows in shuffled order are software-prefetched ``_PREFETCH_AHEAD`` rows ahead
  (``_prefetch``): per-sample SGD on shuffled rows is bound by memory latency. CSR rows
  too, in two steps: the row's extent in ``indptr`` ``2 * _CSR_AHEAD`` rows ahead, its
  ``data`` and ``indices`` ``_CSR_AHEAD`` rows ahead (a shuffled 1,000,000 x 10,000 CSR
  epoch: 0.50 s -> 0.28 s). Rows in increasing order get no hints: the hardware prefetcher
  already follows them, and the hints cost ~10% there.
* The exact objective after a per-sample or mini-batch epoch on a large CSR matrix is
  one more read of X, split over threads (``_threaded_loss``).
* float32 X is read as float32 (half the bytes) and accumulated in float64.
"""

import math

import numpy as np
import scipy.sparse as sp
from numba import njit

from ._losses import loss_derivative, loss_value
from ._optimizers import ADAMW, SGD, bias_corrections, optimizer_step
from ._penalties import soft_threshold
from ._prefetch import prefetch_item, prefetch_row, prefetch_span
from ._schedules import CONSTANT, SP_WARMUP, learning_rate_at

# Layout of the scalar state array ``st`` shared with the estimator.
ST_T = 0  # updates made so far
ST_U = 1  # cumulative L1 penalty (Tsuruoka's u)
ST_EPOCH = 2  # completed epochs
ST_N_AVG = 3  # iterates in the running average
ST_LOSS_MODE = 4  # which data loss run_epoch also returns in st[ST_LOSS] (LOSS_*)
ST_LOSS = 5  # sum_i sw_i L_i of the iterate chosen by st[ST_LOSS_MODE]
ST_SIZE = 6

LOSS_NONE = 0  # no loss
LOSS_AFTER = 1  # of the reported iterate after the epoch (one more pass over X)
LOSS_START = 2  # of the iterate at the start of the epoch (full batch: fused, no extra pass)

_FM = {"reassoc", "contract", "nsz"}
# Rows ahead to prefetch in shuffled per-sample / mini-batch loops over dense X.
_PREFETCH_AHEAD = 2
# CSR rows: the row's extent (indptr) is fetched twice as far ahead as its entries.
_CSR_AHEAD = 8


# Dense and CSR rows go through separate small functions, chosen at the call site: a
# sparse branch inside the row loop, or a dispatching wrapper, made the dense per-sample
# loop 2-3x slower (no vectorization).
@njit(cache=True, fastmath=_FM)
def _dense_dot(Xd, i, w, p):
    s = 0.0
    for j in range(p):
        s += Xd[i, j] * w[j]
    return s


@njit(cache=True, fastmath=_FM)
def _dense_axpy(Xd, i, a, out, p):
    for j in range(p):
        out[j] += a * Xd[i, j]


@njit(cache=True, fastmath=_FM, inline="always")
def _csr_dot(data, indices, indptr, i, w):
    s = 0.0
    for k in range(indptr[i], indptr[i + 1]):
        s += data[k] * w[indices[k]]
    return s


@njit(cache=True, fastmath=_FM, inline="always")
def _csr_axpy(data, indices, indptr, i, a, out):
    for k in range(indptr[i], indptr[i + 1]):
        out[indices[k]] += a * data[k]


@njit(cache=True)
def _scale(theta, factor, p):
    # An explicit loop: array-slice expressions in the SGD loop blocked its vectorization.
    for j in range(p):
        theta[j] *= factor


@njit(cache=True, inline="always")
def _prefetch_csr_ahead(data, indices, indptr, order, k, n):
    if k + 2 * _CSR_AHEAD < n:
        prefetch_item(indptr, order[k + 2 * _CSR_AHEAD])
    if k + _CSR_AHEAD < n:
        a = order[k + _CSR_AHEAD]
        lo = indptr[a]
        hi = indptr[a + 1]
        prefetch_span(data, lo, hi)
        prefetch_span(indices, lo, hi)


@njit(cache=True)
def _is_increasing(order):
    # Rows visited in increasing order (no shuffle) are prefetched by the hardware.
    for k in range(order.shape[0] - 1):
        if order[k + 1] <= order[k]:
            return False
    return True


@njit(cache=True, inline="always")
def _cumulative_l1(theta, q, j, u, wscale, inv_wscale):
    z = theta[j]
    if z > 0.0:
        theta[j] = max(0.0, z - (u + q[j]) * inv_wscale)
    elif z < 0.0:
        theta[j] = min(0.0, z + (u - q[j]) * inv_wscale)
    q[j] += wscale * (theta[j] - z)


@njit(cache=True)
def _update_average(avg, theta, wscale, n_avg, p):
    inv = 1.0 / n_avg
    for j in range(p):
        avg[j] += (wscale * theta[j] - avg[j]) * inv
    avg[p] += (theta[p] - avg[p]) * inv


@njit(cache=True)
def _plain_sgd_epoch(Xd, data, indices, indptr, is_sparse, y, sw, order, p, theta, q, avg,
                     st, loss_code, epsilon, quantile, sched_code, lr0, sp, milestones,
                     alpha, l1_ratio, fit_intercept, average_start):
    n = order.shape[0]
    l2 = alpha * (1.0 - l1_ratio)
    l1 = alpha * l1_ratio
    lazy = is_sparse and average_start == 0
    wscale = 1.0
    t = st[ST_T]
    u = st[ST_U]
    epoch = st[ST_EPOCH]
    status = 0
    # learning_rate_at(CONSTANT, ...) is lr0 unless there is a warm-up: skip the call.
    const_lr = sched_code == CONSTANT and not sp[SP_WARMUP] > 0.0
    csr_prefetch = is_sparse and not _is_increasing(order)
    for k in range(n):
        i = order[k]
        if not is_sparse and k + _PREFETCH_AHEAD < n:
            ahead = order[k + _PREFETCH_AHEAD]
            # In-order rows (no shuffle) are prefetched by the hardware.
            if ahead != i + _PREFETCH_AHEAD:
                prefetch_row(Xd, ahead)
        elif csr_prefetch:
            _prefetch_csr_ahead(data, indices, indptr, order, k, n)
        if const_lr:
            lr = lr0
        else:
            lr = learning_rate_at(sched_code, lr0, t, epoch + k / n, sp, milestones)
        if is_sparse:
            pred = wscale * _csr_dot(data, indices, indptr, i, theta) + theta[p]
        else:
            pred = wscale * _dense_dot(Xd, i, theta, p) + theta[p]
        if not math.isfinite(pred):
            status = 1
            break
        dl = sw[i] * loss_derivative(loss_code, y[i], pred, epsilon, quantile)
        if l2 > 0.0:
            shrink = 1.0 - lr * l2
            if shrink <= 0.0:
                _scale(theta, 0.0, p)
                wscale = 1.0
            else:
                wscale *= shrink
                if wscale < 1e-9:
                    _scale(theta, wscale, p)
                    wscale = 1.0
        if dl != 0.0:
            if is_sparse:
                _csr_axpy(data, indices, indptr, i, -lr * dl / wscale, theta)
            else:
                _dense_axpy(Xd, i, -lr * dl / wscale, theta, p)
            if fit_intercept:
                theta[p] -= lr * dl
        if l1 > 0.0:
            u += lr * l1
            inv_wscale = 1.0 / wscale
            if lazy:
                for kk in range(indptr[i], indptr[i + 1]):
                    _cumulative_l1(theta, q, indices[kk], u, wscale, inv_wscale)
            else:
                for j in range(p):
                    _cumulative_l1(theta, q, j, u, wscale, inv_wscale)
        t += 1.0
        if average_start > 0 and t >= average_start:
            st[ST_N_AVG] += 1.0
            _update_average(avg, theta, wscale, st[ST_N_AVG], p)
    _scale(theta, wscale, p)
    if l1 > 0.0 and lazy and status == 0:
        for j in range(p):
            _cumulative_l1(theta, q, j, u, 1.0, 1.0)
    st[ST_T] = t
    st[ST_U] = u
    return status


@njit(cache=True, fastmath=_FM)
def _dense_rows_grad(Xd, y, sw, order, start, stop, theta, p, grad, loss_code, epsilon,
                     quantile, want_loss):
    """Add sum_k sw_i L'_i (x_i, 1) over i = order[start:stop] to ``grad``: one call per
    batch, with the row dot product and axpy written inline (a call per row cost ~10% of a
    full-batch pass). Return (1 at a non-finite prediction else 0, sum_k sw_i L_i if
    ``want_loss``)."""
    n = order.shape[0]
    b = theta[p]
    total = 0.0
    for k in range(start, stop):
        i = order[k]
        if k + _PREFETCH_AHEAD < n:
            ahead = order[k + _PREFETCH_AHEAD]
            # In-order rows (full batch, no shuffle) are prefetched by the hardware.
            if ahead != i + _PREFETCH_AHEAD:
                prefetch_row(Xd, ahead)
        z = 0.0
        for j in range(p):
            z += Xd[i, j] * theta[j]
        pred = z + b
        if not math.isfinite(pred):
            return 1, total
        if want_loss:
            total += sw[i] * loss_value(loss_code, y[i], pred, epsilon, quantile)
        dl = sw[i] * loss_derivative(loss_code, y[i], pred, epsilon, quantile)
        if dl != 0.0:
            for j in range(p):
                grad[j] += dl * Xd[i, j]
            grad[p] += dl
    return 0, total


@njit(cache=True, fastmath=_FM)
def _dense_rows_loss(Xd, y, sw, theta, p, loss_code, epsilon, quantile):
    """sum_i sw_i L_i over the rows of non-zero weight, with the same inline dot product
    as ``_dense_rows_grad`` (so that both give the same loss to the bit)."""
    b = theta[p]
    total = 0.0
    for i in range(y.shape[0]):
        if sw[i] == 0.0:
            continue
        z = 0.0
        for j in range(p):
            z += Xd[i, j] * theta[j]
        pred = z + b
        total += sw[i] * loss_value(loss_code, y[i], pred, epsilon, quantile)
    return total


@njit(cache=True)
def _batch_epoch(Xd, data, indices, indptr, is_sparse, y, sw, order, batch_size, p, theta,
                 m, v, avg, grad, st, loss_code, epsilon, quantile, opt_code, hp, sched_code,
                 lr0, sp, milestones, alpha, l1_ratio, fit_intercept, average_start):
    n = order.shape[0]
    l2 = alpha * (1.0 - l1_ratio)
    l1 = alpha * l1_ratio
    adamw = opt_code == ADAMW
    n_steps = (n + batch_size - 1) // batch_size
    t = st[ST_T]
    epoch = st[ST_EPOCH]
    n_coef = p + 1 if fit_intercept else p
    # A single full batch: the loss of the starting iterate comes from the same predictions.
    fuse = st[ST_LOSS_MODE] == LOSS_START and n_steps == 1
    total = 0.0
    for s in range(n_steps):
        start = s * batch_size
        stop = min(n, start + batch_size)
        grad[:] = 0.0
        if not is_sparse:
            status, part = _dense_rows_grad(Xd, y, sw, order, start, stop, theta, p, grad,
                                            loss_code, epsilon, quantile, fuse)
            total += part
            if status != 0:
                st[ST_T] = t
                return 1
        else:
            for k in range(start, stop):
                i = order[k]
                pred = _csr_dot(data, indices, indptr, i, theta) + theta[p]
                if not math.isfinite(pred):
                    st[ST_T] = t
                    return 1
                if fuse:
                    total += sw[i] * loss_value(loss_code, y[i], pred, epsilon, quantile)
                dl = sw[i] * loss_derivative(loss_code, y[i], pred, epsilon, quantile)
                if dl != 0.0:
                    _csr_axpy(data, indices, indptr, i, dl, grad)
                    grad[p] += dl
        inv_b = 1.0 / (stop - start)
        lr = learning_rate_at(sched_code, lr0, t, epoch + s / n_steps, sp, milestones)
        t += 1.0
        bc1, bc2 = bias_corrections(opt_code, t, hp)
        for j in range(n_coef):
            g = grad[j] * inv_b
            decay = 0.0
            if j < p:
                if adamw:
                    decay = l2
                else:
                    g += l2 * theta[j]
            w_new, m_new, v_new, eff = optimizer_step(
                opt_code, theta[j], g, m[j], v[j], lr, bc1, bc2, hp, decay
            )
            if j < p and l1 > 0.0:
                w_new = soft_threshold(w_new, eff * l1)
            theta[j] = w_new
            m[j] = m_new
            v[j] = v_new
        if average_start > 0 and t >= average_start:
            st[ST_N_AVG] += 1.0
            _update_average(avg, theta, 1.0, st[ST_N_AVG], p)
    st[ST_T] = t
    if fuse:
        st[ST_LOSS] = total
    return 0


@njit(cache=True)
def run_epoch(Xd, data, indices, indptr, is_sparse, y, sw, order, batch_size, p, theta, m, v,
              q, avg, grad, st, loss_code, epsilon, quantile, opt_code, hp, sched_code, lr0,
              sp, milestones, alpha, l1_ratio, fit_intercept, average_start) -> int:
    """Run one pass over ``order`` and return 0, or 1 at the first non-finite prediction.

    ``theta`` holds the coefficients followed by the intercept and is updated in place,
    as are the optimizer states ``m``, ``v``, the cumulative-L1 record ``q``, the running
    average ``avg`` and the scalar state ``st`` (layout ``ST_*``). ``sw`` are sample
    weights rescaled to mean one over the rows in ``order``. ``average_start`` is 0 for
    no averaging, else the update count from which iterates are averaged.

    ``st[ST_LOSS_MODE]`` asks for the weighted data loss sum_i sw_i L_i in ``st[ST_LOSS]``:
    of the reported iterate after the epoch (``LOSS_AFTER``, one more pass over X), or of
    the iterate at the start of the epoch (``LOSS_START``; for a full batch it is fused into
    the gradient pass). Computing it here keeps a fit to one compiled kernel.
    """
    mode = st[ST_LOSS_MODE]
    fused = batch_size >= order.shape[0] and not (opt_code == SGD and batch_size == 1)
    if mode == LOSS_START and not fused:
        st[ST_LOSS] = _data_loss(Xd, data, indices, indptr, is_sparse, y, sw, theta, p,
                                 loss_code, epsilon, quantile)
    if opt_code == SGD and batch_size == 1:
        status = _plain_sgd_epoch(Xd, data, indices, indptr, is_sparse, y, sw, order, p, theta,
                                  q, avg, st, loss_code, epsilon, quantile, sched_code, lr0, sp,
                                  milestones, alpha, l1_ratio, fit_intercept, average_start)
    else:
        status = _batch_epoch(Xd, data, indices, indptr, is_sparse, y, sw, order, batch_size, p,
                              theta, m, v, avg, grad, st, loss_code, epsilon, quantile, opt_code,
                              hp, sched_code, lr0, sp, milestones, alpha, l1_ratio,
                              fit_intercept, average_start)
    if status == 0:
        for j in range(p + 1):
            if not math.isfinite(theta[j]):
                return 1
        if mode == LOSS_AFTER:
            rep = avg if st[ST_N_AVG] > 0 else theta
            st[ST_LOSS] = _data_loss(Xd, data, indices, indptr, is_sparse, y, sw, rep, p,
                                     loss_code, epsilon, quantile)
    return status


@njit(cache=True, nogil=True, fastmath=_FM)
def csr_rows_loss(data, indices, indptr, y, sw, theta, p, loss_code, epsilon, quantile, lo,
                  hi) -> float:
    """sum_i sw_i L(y_i, x_i.w + b) over CSR rows lo <= i < hi. Releases the GIL, so that
    ``_threaded_loss`` can split a large pass over threads."""
    # fastmath here, not only in the inlined _csr_dot: inlined code takes the caller's flags,
    # and without reassociation each row's dot product is one serial chain of adds.
    total = 0.0
    for i in range(lo, hi):
        if sw[i] == 0.0:
            continue
        pred = _csr_dot(data, indices, indptr, i, theta) + theta[p]
        total += sw[i] * loss_value(loss_code, y[i], pred, epsilon, quantile)
    return total


@njit(cache=True)
def _data_loss(Xd, data, indices, indptr, is_sparse, y, sw, theta, p, loss_code, epsilon,
               quantile):
    if not is_sparse:
        return _dense_rows_loss(Xd, y, sw, theta, p, loss_code, epsilon, quantile)
    return csr_rows_loss(data, indices, indptr, y, sw, theta, p, loss_code, epsilon, quantile, 0,
                         y.shape[0])


@njit(cache=True)
def weighted_data_loss(Xd, data, indices, indptr, is_sparse, y, sw, theta, p, loss_code,
                       epsilon, quantile) -> float:
    """sum_i sw_i L(y_i, x_i.w + b) in one pass over X, without a prediction array."""
    return _data_loss(Xd, data, indices, indptr, is_sparse, y, sw, theta, p, loss_code,
                      epsilon, quantile)


@njit(cache=True)
def weighted_data_loss_grad(Xd, data, indices, indptr, is_sparse, y, sw, theta, p, loss_code,
                            epsilon, quantile, grad) -> float:
    """sum_i sw_i L_i, and grad = sum_i sw_i dL_i/dp (x_i, 1), in one pass over X."""
    total = 0.0
    grad[:] = 0.0
    for i in range(y.shape[0]):
        if sw[i] == 0.0:
            continue
        if is_sparse:
            pred = _csr_dot(data, indices, indptr, i, theta) + theta[p]
        else:
            pred = _dense_dot(Xd, i, theta, p) + theta[p]
        total += sw[i] * loss_value(loss_code, y[i], pred, epsilon, quantile)
        dl = sw[i] * loss_derivative(loss_code, y[i], pred, epsilon, quantile)
        if dl != 0.0:
            if is_sparse:
                _csr_axpy(data, indices, indptr, i, dl, grad)
            else:
                _dense_axpy(Xd, i, dl, grad, p)
            grad[p] += dl
    return total


@njit(cache=True, fastmath=_FM)
def _dense_rows_lin(Xd, y, sw, theta, p, loss_code, epsilon, quantile, z):
    b = theta[p]
    total = 0.0
    for i in range(y.shape[0]):
        if sw[i] == 0.0:
            z[i] = 0.0
            continue
        zi = 0.0
        for j in range(p):
            zi += Xd[i, j] * theta[j]
        z[i] = zi
        total += sw[i] * loss_value(loss_code, y[i], zi + b, epsilon, quantile)
    return total


@njit(cache=True, fastmath=_FM)
def _dense_rows_grad_lin(Xd, y, sw, z, b, p, loss_code, epsilon, quantile, grad):
    total = 0.0
    for i in range(y.shape[0]):
        if sw[i] == 0.0:
            continue
        pred = z[i] + b
        total += sw[i] * loss_value(loss_code, y[i], pred, epsilon, quantile)
        dl = sw[i] * loss_derivative(loss_code, y[i], pred, epsilon, quantile)
        if dl != 0.0:
            for j in range(p):
                grad[j] += dl * Xd[i, j]
            grad[p] += dl
    return total


@njit(cache=True)
def data_loss_lin(Xd, data, indices, indptr, is_sparse, y, sw, theta, p, loss_code, epsilon,
                  quantile, z) -> float:
    """z_i = x_i.w for the rows of non-zero weight, and sum_i sw_i L(y_i, z_i + b).

    One pass over X (row dot products). FISTA keeps z of its iterates, so that the
    extrapolated point's predictions are a linear combination of two stored vectors.
    """
    total = 0.0
    b = theta[p]
    if not is_sparse:
        return _dense_rows_lin(Xd, y, sw, theta, p, loss_code, epsilon, quantile, z)
    for i in range(y.shape[0]):
        if sw[i] == 0.0:
            z[i] = 0.0
            continue
        zi = _csr_dot(data, indices, indptr, i, theta)
        z[i] = zi
        total += sw[i] * loss_value(loss_code, y[i], zi + b, epsilon, quantile)
    return total


@njit(cache=True)
def data_loss_grad_lin(Xd, data, indices, indptr, is_sparse, y, sw, z, b, p, loss_code,
                       epsilon, quantile, grad) -> float:
    """sum_i sw_i L_i and grad = sum_i sw_i dL_i/dp (x_i, 1) at predictions z + b.

    One pass over X (row axpys only: the products x_i.w are given).
    """
    total = 0.0
    grad[:] = 0.0
    if not is_sparse:
        return _dense_rows_grad_lin(Xd, y, sw, z, b, p, loss_code, epsilon, quantile, grad)
    for i in range(y.shape[0]):
        if sw[i] == 0.0:
            continue
        pred = z[i] + b
        total += sw[i] * loss_value(loss_code, y[i], pred, epsilon, quantile)
        dl = sw[i] * loss_derivative(loss_code, y[i], pred, epsilon, quantile)
        if dl != 0.0:
            _csr_axpy(data, indices, indptr, i, dl, grad)
            grad[p] += dl
    return total


def readonly(a: np.ndarray) -> np.ndarray:
    """Read-only view of ``a``.

    Numba compiles read-only and writeable arrays separately; the data arrays (X, y) are
    always passed read-only so that a memory-mapped X does not cost another compilation.
    """
    v = a.view()
    v.flags.writeable = False
    return v


def empty_inputs(dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Placeholders for the representation (dense or CSR) that is not in use."""
    return (readonly(np.empty((0, 0), dtype=dtype)), readonly(np.empty(0, dtype=dtype)),
            readonly(np.empty(0, dtype=np.uint32)), readonly(np.empty(0, dtype=np.uint32)))


def kernel_inputs(X) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """(dense X, CSR data, indices, indptr, is_sparse) as ``run_epoch`` takes them.

    A C-contiguous X is not copied; an F-ordered one is (rows are read one at a time).
    CSR indices are passed as unsigned 32-bit views of the int32 arrays (no copy): Numba
    then emits no negative-index wraparound on ``w[indices[k]]``, ~30% of a sparse pass.
    """
    Xd, data, indices, indptr = empty_inputs(X.dtype)
    if sp.issparse(X):
        if X.nnz >= np.iinfo(np.int32).max or X.shape[1] >= np.iinfo(np.int32).max:
            raise ValueError("Sparse X with 2**31 or more stored values or columns is not "
                             "supported.")
        data = readonly(X.data)
        indices = readonly(X.indices.astype(np.int32, copy=False).view(np.uint32))
        indptr = readonly(X.indptr.astype(np.int32, copy=False).view(np.uint32))
        return Xd, data, indices, indptr, True
    return readonly(np.ascontiguousarray(X)), data, indices, indptr, False
