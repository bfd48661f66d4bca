"""The data loss and gradient of a large CSR problem, split over threads.

After each stochastic epoch the training loop needs the exact objective of the reported
iterate (``loss_curve_``, ``tol``, divergence checks) and its gradient
(``history_["grad_norm"]``): one more read of X. On a large CSR matrix one core does not
saturate the memory bandwidth for that read (its column indices make it scattered): the
loss pass over a 1,000,000 x 10,000 CSR matrix with 20 non-zeros a row took 57 ms on one
thread and 29 ms on two. A dense pass is left to one thread: it streams X at the speed
of ``X.sum()`` already (200,000 x 100 float64: 9.0 ms on one thread, 9.9 ms on two).

The rows are cut into a number of chunks set by the data alone, whatever the number of
threads; each chunk accumulates its own gradient, and the partial sums are added in chunk
order, so the values do not depend on the thread count. Each chunk costs a gradient buffer
of p + 1 entries to clear and add: with many columns and few stored entries per column
those dominate (200,000 rows x 100,000 columns, 20 a row: 33 ms with 16 chunks, 21 ms with
2), so the chunks are fewer where the entries per column are few.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._passes import csr_rows_loss_grad

# Below this many stored entries the pass takes about a millisecond: threads do not pay.
MIN_NNZ = 1 << 21
_MAX_CHUNKS = 16
# At least this many stored entries per buffer entry of a chunk.
_NNZ_PER_BUFFER = 32


def loss_threads() -> int:
    """Threads for the pass: the CPUs this process may use, capped by ``OMP_NUM_THREADS``
    when set (joblib's workers set it so that nested parallelism does not oversubscribe)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        n = min(n, int(env))
    return max(1, n)


def n_chunks(nnz: int, p: int) -> int:
    """Chunks of a pass over ``nnz`` stored entries and p columns (2 to ``_MAX_CHUNKS``)."""
    return int(min(_MAX_CHUNKS, max(2, nnz // (_NNZ_PER_BUFFER * (p + 1)))))


def _chunks(indptr, n, k):
    # Cut by stored entries, not rows, so that the chunks cost the same.
    targets = (np.arange(k + 1, dtype=np.int64) * int(indptr[n])) // k
    bounds = np.searchsorted(indptr[: n + 1], targets).astype(np.int64)
    bounds[0], bounds[-1] = 0, n
    return zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)


def threaded_csr_loss_grad(xdata, indices, indptr, y, sw, u, p, loss_code, epsilon, quantile,
                           n_threads: int, grad: np.ndarray) -> float:
    """sum_i s_i L(y_i, x_i.v + c) over all rows, and the raw gradient sum_i s_i L'_i (x_i, 1)
    written to ``grad``, in ``n_chunks`` chunks on threads."""
    n = y.shape[0]
    k_chunks = n_chunks(int(indptr[n]), p)
    parts = np.zeros((k_chunks, p + 1))
    args = (xdata, indices, indptr, y, sw, u, p, loss_code, epsilon, quantile)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = [pool.submit(csr_rows_loss_grad, *args, lo, hi, parts[k])
                   for k, (lo, hi) in enumerate(_chunks(indptr, n, k_chunks))]
        total = float(sum(f.result() for f in futures))
    grad[:] = 0.0
    for k in range(k_chunks):  # in chunk order: independent of the thread count
        grad += parts[k]
    return total


def chunked_pass(inputs) -> bool:
    """Whether the record pass over ``inputs`` (``_rows.kernel_inputs``) is split over
    threads: a CSR matrix of at least ``MIN_NNZ`` stored entries."""
    return bool(inputs[4]) and int(inputs[1].shape[0]) >= MIN_NNZ
