"""Row access to the design matrix, compiled: the one place where x_i . w is computed.

Every kernel (the stochastic epochs, the full passes of ``_passes``, the robust twins'
solvers) reads X through these few functions, dense or CSR. The data arrays are passed
as ``(Xd, data, indices, indptr, is_sparse)`` with the unused representation empty, so
a kernel compiles once per dtype whatever the input format.

Dense and CSR rows go through separate small functions chosen at the call site: a
sparse branch inside the row loop, or a dispatching wrapper, made the dense per-sample
loop 2-3x slower (no vectorization).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit

from ._prefetch import prefetch_item, prefetch_span

FASTMATH = {"reassoc", "contract", "nsz"}
# Rows ahead to prefetch in shuffled per-sample / mini-batch loops over dense X.
PREFETCH_AHEAD = 2
# CSR rows: the row's extent (indptr) is fetched twice as far ahead as its entries.
CSR_AHEAD = 8


# Not inlined: inlined code takes the caller's flags, and these loops need fastmath
# (reassociation) to vectorize.
@njit(cache=True, fastmath=FASTMATH)
def dense_dot(Xd, i, w, p):
    s = 0.0
    for j in range(p):
        s += Xd[i, j] * w[j]
    return s


@njit(cache=True, fastmath=FASTMATH)
def dense_axpy(Xd, i, a, out, p):
    for j in range(p):
        out[j] += a * Xd[i, j]


@njit(cache=True, fastmath=FASTMATH, inline="always")
def csr_dot(data, indices, indptr, i, w):
    s = 0.0
    for k in range(indptr[i], indptr[i + 1]):
        s += data[k] * w[indices[k]]
    return s


@njit(cache=True, fastmath=FASTMATH, inline="always")
def csr_axpy(data, indices, indptr, i, a, out):
    for k in range(indptr[i], indptr[i + 1]):
        out[indices[k]] += a * data[k]


@njit(cache=True, inline="always")
def prefetch_csr_ahead(data, indices, indptr, order, k, n):
    if k + 2 * CSR_AHEAD < n:
        prefetch_item(indptr, order[k + 2 * CSR_AHEAD])
    if k + CSR_AHEAD < n:
        a = order[k + CSR_AHEAD]
        lo = indptr[a]
        hi = indptr[a + 1]
        prefetch_span(data, lo, hi)
        prefetch_span(indices, lo, hi)


@njit(cache=True)
def is_increasing(order):
    """Rows visited in increasing order (no shuffle) are prefetched by the hardware."""
    for k in range(order.shape[0] - 1):
        if order[k + 1] <= order[k]:
            return False
    return True


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
    """``(dense X, CSR data, indices, indptr, is_sparse)`` as the kernels take them.

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
