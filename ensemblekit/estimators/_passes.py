"""Full and batch passes over rows of X: data loss, its gradient, and the products X v.

A pass takes raw rows and the raw-space parameters ``u = (v, c)`` of the preconditioner
(``Preconditioner.raw``), so standardization costs nothing inside the row loops; the
gradient is returned as sum_i s_i phi'_i (x_i, 1) on raw rows and turned into the
solver's coordinates in O(p) (``Preconditioner.tilde_grad``).

Why each pass is fast
---------------------
* The loss and the gradient come from one fused pass (dot product, loss derivative,
  axpy per row): one read of X instead of the two of ``X @ w`` + ``X.T @ r``. OpenBLAS's
  single-threaded gemv on a tall C-ordered X measured ~3x ``X.sum()`` per product here,
  the fused row loop ~1-2x in all.
* Dense rows in shuffled order are software-prefetched ``PREFETCH_AHEAD`` rows ahead.
* FISTA keeps z = X v of its iterates: ``rows_lin`` (dot products only) and
  ``rows_grad_lin`` (axpys only) split the fused pass for it.
* float32 X is read as float32 (half the bytes) and accumulated in float64.
* ``csr_rows_loss_grad`` releases the GIL, so ``_threaded_loss`` can split a large CSR
  pass over threads.
"""

from __future__ import annotations

import math

from numba import njit

from ._losses import loss_derivative, loss_value
from ._prefetch import prefetch_row
from ._rows import FASTMATH, PREFETCH_AHEAD, csr_axpy, csr_dot, dense_axpy


# One row's share of a loss-and-gradient pass: scalars in and out (a helper taking the
# arrays paid their reference counting on every row: a third of a CSR pass).
@njit(cache=True, inline="always")
def _row_share(code, yi, si, pred, eps, q, want_loss):
    """(s_i phi_i or 0 unless ``want_loss``, s_i phi'_i)."""
    value = si * loss_value(code, yi, pred, eps, q) if want_loss else 0.0
    return value, si * loss_derivative(code, yi, pred, eps, q)


@njit(cache=True, fastmath=FASTMATH)
def _dense_rows_loss_grad(Xd, y, sw, order, start, stop, u, p, code, eps, q, grad, want_loss):
    n = order.shape[0]
    c = u[p]
    total = 0.0
    for k in range(start, stop):
        i = order[k]
        if k + PREFETCH_AHEAD < n:
            ahead = order[k + PREFETCH_AHEAD]
            # In-order rows (full batch, no shuffle) are prefetched by the hardware.
            if ahead != i + PREFETCH_AHEAD:
                prefetch_row(Xd, ahead)
        z = 0.0
        for j in range(p):
            z += Xd[i, j] * u[j]
        pred = z + c
        if not math.isfinite(pred):
            return 1, total
        value, dl = _row_share(code, y[i], sw[i], pred, eps, q, want_loss)
        total += value
        if dl != 0.0:
            dense_axpy(Xd, i, dl, grad, p)
            grad[p] += dl
    return 0, total


@njit(cache=True)
def rows_loss_grad(Xd, data, indices, indptr, is_sparse, y, sw, order, start, stop, u, p,
                   code, eps, q, grad, want_loss):
    """Add sum_k s_i phi'_i (x_i, 1) over i = order[start:stop] to ``grad``.

    Returns (1 at a non-finite prediction else 0, sum_k s_i phi_i if ``want_loss``).
    The row dot product and axpy are inline (a call per row cost ~10% of a pass).
    """
    if not is_sparse:
        return _dense_rows_loss_grad(Xd, y, sw, order, start, stop, u, p, code, eps, q, grad,
                                     want_loss)
    c = u[p]
    total = 0.0
    for k in range(start, stop):
        i = order[k]
        pred = csr_dot(data, indices, indptr, i, u) + c
        if not math.isfinite(pred):
            return 1, total
        value, dl = _row_share(code, y[i], sw[i], pred, eps, q, want_loss)
        total += value
        if dl != 0.0:
            csr_axpy(data, indices, indptr, i, dl, grad)
            grad[p] += dl
    return 0, total


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def csr_rows_loss_grad(data, indices, indptr, y, sw, u, p, code, eps, q, lo, hi, grad):
    """sum_i s_i phi(x_i.v + c) over CSR rows lo <= i < hi of non-zero weight, and the raw
    gradient sum_i s_i phi'_i (x_i, 1) added to ``grad``. Releases the GIL."""
    total = 0.0
    c = u[p]
    for i in range(lo, hi):
        si = sw[i]
        if si == 0.0:
            continue
        pred = csr_dot(data, indices, indptr, i, u) + c
        value, dl = _row_share(code, y[i], si, pred, eps, q, True)
        total += value
        if dl != 0.0:
            csr_axpy(data, indices, indptr, i, dl, grad)
            grad[p] += dl
    return total


@njit(cache=True)
def rows_lin(Xd, data, indices, indptr, is_sparse, y, sw, order, u, p, code, eps, q, z):
    """z_i = x_i.v for the rows ``order``, and sum_i s_i phi(z_i + c): dot products only.

    FISTA keeps z of its iterates, so that the extrapolated point's products are a
    linear combination of two stored vectors.
    """
    matvec(Xd, data, indices, indptr, is_sparse, order, u[:p], z)
    c = u[p]
    total = 0.0
    for k in range(order.shape[0]):
        i = order[k]
        total += sw[i] * loss_value(code, y[i], z[i] + c, eps, q)
    return total


@njit(cache=True)
def rows_grad_lin(Xd, data, indices, indptr, is_sparse, y, sw, order, z, c, p, code, eps, q,
                  grad):
    """sum_i s_i phi_i and grad = sum_i s_i phi'_i (x_i, 1) at predictions z + c: axpys
    only (the products x_i.v are given)."""
    grad[:] = 0.0
    total = 0.0
    for k in range(order.shape[0]):
        i = order[k]
        value, dl = _row_share(code, y[i], sw[i], z[i] + c, eps, q, True)
        total += value
        if dl != 0.0:
            if is_sparse:
                csr_axpy(data, indices, indptr, i, dl, grad)
            else:
                dense_axpy(Xd, i, dl, grad, p)
            grad[p] += dl
    return total


@njit(cache=True, fastmath=FASTMATH)
def matvec(Xd, data, indices, indptr, is_sparse, rows, v, out):
    """out[i] = x_i.v for i in ``rows`` (raw rows, no offset)."""
    if is_sparse:
        for k in range(rows.shape[0]):
            i = rows[k]
            out[i] = csr_dot(data, indices, indptr, i, v)
    else:
        p = Xd.shape[1]
        for k in range(rows.shape[0]):
            i = rows[k]
            s = 0.0
            for j in range(p):
                s += Xd[i, j] * v[j]
            out[i] = s


@njit(cache=True, fastmath=FASTMATH)
def rmatvec(Xd, data, indices, indptr, is_sparse, rows, a, out):
    """out = sum_{i in rows} a_i x_i (raw rows; ``out`` of length n_features, reset)."""
    out[:] = 0.0
    if is_sparse:
        for k in range(rows.shape[0]):
            i = rows[k]
            if a[i] != 0.0:
                csr_axpy(data, indices, indptr, i, a[i], out)
    else:
        p = Xd.shape[1]
        for k in range(rows.shape[0]):
            i = rows[k]
            ai = a[i]
            if ai != 0.0:
                for j in range(p):
                    out[j] += ai * Xd[i, j]


@njit(cache=True, inline="always")
def _dense_sq_norm(Xd, i, mean, isc):
    s = 0.0
    for j in range(Xd.shape[1]):
        a = (Xd[i, j] - mean[j]) * isc[j]
        s += a * a
    return s


@njit(cache=True, fastmath=FASTMATH)
def row_sq_norms(Xd, data, indices, indptr, is_sparse, rows, mean, isc, out):
    """out[k] = ||(x_i - mean) * isc||^2 for i = rows[k] (CSR rows: the centred norm from
    the stored entries and one constant, without densifying)."""
    if is_sparse:
        const = 0.0
        for j in range(mean.shape[0]):
            const += (mean[j] * isc[j]) ** 2
        for k in range(rows.shape[0]):
            i = rows[k]
            s = const
            for q in range(indptr[i], indptr[i + 1]):
                j = indices[q]
                a = data[q] * isc[j]
                m = mean[j] * isc[j]
                s += a * a - 2.0 * a * m
            out[k] = s
    else:
        for k in range(rows.shape[0]):
            out[k] = _dense_sq_norm(Xd, rows[k], mean, isc)
