"""Full-batch FISTA with backtracking and monotone restart.

The smooth part (data fit plus the L2 term) is either evaluated on X (``LossFit``) or, for
the squared loss with many more samples than features, on the precomputed centred Gram
matrix (``GramFit``), which makes an iteration O(p^2). The L1 part is handled by
soft-thresholding. The intercept is never penalized; in the Gram form it is eliminated
(b = ybar - xbar.w) and recovered from ``GramFit.intercept``.

Why each fast path is fast
--------------------------
* Gram matrix (squared loss, n >= 2p, p <= 4000): X^T S X, X^T S y and the column sums are
  formed once with BLAS (``_weighted_moments``: ``X.T @ X`` on X itself for unweighted
  float64, else float64 row chunks of at most 1/16 of X, so float32 X is never upcast
  whole); every iteration is then O(p^2), independent of n.
* On X (any other smooth loss, or p > n/2): two passes over X per iteration, with the
  residual reuse of ``fista_iteration``. The state keeps z_x = X x of the iterate and
  z_y = X y of the extrapolated point. The gradient at y needs only X^T (s * L'(z_y + b)):
  one pass of row axpys (``_epoch.data_loss_grad_lin``), no dot products. The candidate
  x_new = prox(y - step * g) costs one pass of row dot products (``_epoch.data_loss_lin``)
  that gives both z_new = X x_new and the objective for the sufficient-decrease test
  (one more pass only when the step is halved). The next extrapolated point
  y' = x_new + beta (x_new - x) then has X y' = z_new + beta (z_new - z_x), an O(n)
  vector operation instead of a pass over X. A restart sets y = x and z_y = z_x.
  Compiled row loops are used instead of BLAS gemv: on a tall C-ordered X OpenBLAS's
  single-threaded gemv measured ~3x ``X.sum()`` per product here, each row loop ~1-2x.
"""

import numpy as np
import scipy.sparse as sp
from numba import njit

from ._epoch import (
    data_loss_grad_lin,
    data_loss_lin,
    kernel_inputs,
    readonly,
    weighted_data_loss,
    weighted_data_loss_grad,
)
from ._losses import SQUARED_ERROR


@njit(cache=True)
def prox_l1(z: np.ndarray, threshold: float, p: int) -> np.ndarray:
    """Soft-threshold the first ``p`` entries of ``z`` in place (the intercept is last)."""
    for j in range(p):
        zj = z[j]
        if zj > threshold:
            z[j] = zj - threshold
        elif zj < -threshold:
            z[j] = zj + threshold
        else:
            z[j] = 0.0
    return z


class LossFit:
    """(1/n) sum_i s_i L(y_i, x_i.w + b) + l2/2 ||w||^2 with ``s`` of mean one on n rows.

    Values and gradients are computed by compiled single passes over the rows of X
    (``_epoch.weighted_data_loss[_grad]``), cheaper than separate BLAS products.
    """

    def __init__(self, X, y, sw, n_eff, loss_code, epsilon, quantile, l2, fit_intercept):
        self.X, self.y, self.sw, self.n_eff = X, y, sw, float(n_eff)
        self.loss_code, self.epsilon, self.quantile = loss_code, epsilon, quantile
        self.l2, self.fit_intercept = l2, fit_intercept
        self.p = X.shape[1]
        self._inputs = kernel_inputs(X)
        self._y = readonly(np.ascontiguousarray(y))
        self._grad = np.empty(self.p + 1)

    def value(self, theta):
        w = theta[: self.p]
        data = weighted_data_loss(*self._inputs, self._y, self.sw, theta, self.p,
                                  self.loss_code, float(self.epsilon), float(self.quantile))
        return data / self.n_eff + 0.5 * self.l2 * (w @ w)

    def value_grad(self, theta):
        w = theta[: self.p]
        data = weighted_data_loss_grad(*self._inputs, self._y, self.sw, theta, self.p,
                                       self.loss_code, float(self.epsilon),
                                       float(self.quantile), self._grad)
        g = self._grad / self.n_eff
        g[: self.p] += self.l2 * w
        if not self.fit_intercept:
            g[self.p] = 0.0
        return data / self.n_eff + 0.5 * self.l2 * (w @ w), g

    def lin(self, theta, out=None):
        """(value at theta, z = X w): one pass over X; z is what ``value_grad_lin`` takes.

        ``out``: an n-vector to write z into (FISTA recycles its buffers).
        """
        w = theta[: self.p]
        z = np.empty(self._y.shape[0]) if out is None else out
        data = data_loss_lin(*self._inputs, self._y, self.sw, theta, self.p, self.loss_code,
                             float(self.epsilon), float(self.quantile), z)
        return data / self.n_eff + 0.5 * self.l2 * (w @ w), z

    def value_grad_lin(self, theta, z):
        """``value_grad(theta)`` given z = X w: one pass over X (no dot products)."""
        w = theta[: self.p]
        data = data_loss_grad_lin(*self._inputs, self._y, self.sw, z, float(theta[self.p]),
                                  self.p, self.loss_code, float(self.epsilon),
                                  float(self.quantile), self._grad)
        g = self._grad / self.n_eff
        g[: self.p] += self.l2 * w
        if not self.fit_intercept:
            g[self.p] = 0.0
        return data / self.n_eff + 0.5 * self.l2 * (w @ w), g

    def lipschitz(self, curvature, random_state):
        """Power-iteration estimate of the Lipschitz constant of the gradient.

        The operator [X 1]^T S [X 1] is applied with the compiled row passes of the squared
        loss at target 0 (``data_loss_lin``: u = X z; ``data_loss_grad_lin``: X^T S (u + b)
        and its sum), float64 throughout: ~2.5x faster than two BLAS gemv per step here.
        """
        p = self.p
        n = self._y.shape[0]
        rng = np.random.RandomState(random_state)
        z = rng.standard_normal(p + 1)
        if not self.fit_intercept:
            z[p] = 0.0
        y0 = readonly(np.zeros(n, dtype=self._y.dtype))
        u = np.empty(n)
        zn = np.empty(p + 1)
        lam = 0.0
        for _ in range(20):
            nz = np.linalg.norm(z)
            if nz == 0.0:
                break
            z /= nz
            data_loss_lin(*self._inputs, y0, self.sw, z, p, SQUARED_ERROR, 0.0, 0.5, u)
            data_loss_grad_lin(*self._inputs, y0, self.sw, u, float(z[p]), p, SQUARED_ERROR,
                               0.0, 0.5, zn)
            if not self.fit_intercept:
                zn[p] = 0.0
            lam = float(zn @ z)
            z = zn.copy()
        return curvature * lam / self.n_eff + self.l2


def _weighted_moments(X, y, sw, fit_intercept):
    """X^T S X, X^T S y, sum S y^2 and the weighted sums, in float64."""
    n, p = X.shape
    ys = float(sw @ y)
    yy = float(sw @ (y * y))
    if sp.issparse(X):
        Xs = X.multiply(sw[:, None]).tocsr()
        G = np.asarray((X.T @ Xs).toarray(), dtype=np.float64)
        xs = np.asarray(Xs.sum(axis=0), dtype=np.float64).ravel()
        c = np.asarray(X.T @ (sw * y), dtype=np.float64).ravel()
        return G, c, xs, ys, yy
    swy = sw * y
    c = np.asarray(X.T @ swy.astype(X.dtype, copy=False), dtype=np.float64)
    xs = np.asarray(sw.astype(X.dtype, copy=False) @ X, dtype=np.float64)
    if X.dtype == np.float64 and np.all(sw == 1.0):
        return X.T @ X, c, xs, ys, yy  # BLAS on X itself, no copy
    # float32 X (accumulate in float64) or weights: row chunks whose float64 working copy is
    # at most 1/16 of X, so the peak memory stays close to the size of X.
    chunk = max(256, X.nbytes // 16 // (8 * max(p, 1)))
    G = np.zeros((p, p))
    root = np.sqrt(sw)
    for start in range(0, n, chunk):
        Xb = X[start:start + chunk].astype(np.float64)
        Xb *= root[start:start + chunk, None]
        G += Xb.T @ Xb
    return G, c, xs, ys, yy


class GramFit:
    """Squared loss through the centred Gram matrix: O(p^2) per evaluation."""

    def __init__(self, X, y, sw, n_eff, l2, fit_intercept):
        y = np.asarray(y, dtype=np.float64)
        G, c, xs, ys, yy = _weighted_moments(X, y, sw, fit_intercept)
        self.n_eff = float(n_eff)
        sw_sum = float(sw.sum())
        if fit_intercept:
            self.xbar, self.ybar = xs / sw_sum, ys / sw_sum
            G -= sw_sum * np.outer(self.xbar, self.xbar)
            c -= sw_sum * self.xbar * self.ybar
            yy -= sw_sum * self.ybar**2
        else:
            self.xbar, self.ybar = np.zeros_like(xs), 0.0
        self.G, self.c, self.yy = G, c, yy
        self.l2, self.fit_intercept = l2, fit_intercept
        self.p = G.shape[0]

    def intercept(self, theta):
        return self.ybar - self.xbar @ theta[: self.p] if self.fit_intercept else 0.0

    def value(self, theta):
        w = theta[: self.p]
        quad = w @ (self.G @ w) - 2.0 * (self.c @ w) + self.yy
        return 0.5 * max(quad, 0.0) / self.n_eff + 0.5 * self.l2 * (w @ w)

    def value_grad(self, theta):
        w = theta[: self.p]
        Gw = self.G @ w
        quad = w @ Gw - 2.0 * (self.c @ w) + self.yy
        g = np.zeros_like(theta)
        g[: self.p] = (Gw - self.c) / self.n_eff + self.l2 * w
        return 0.5 * max(quad, 0.0) / self.n_eff + 0.5 * self.l2 * (w @ w), g

    def lin(self, theta, out=None):
        return self.value(theta), None

    def value_grad_lin(self, theta, z):
        return self.value_grad(theta)

    def lipschitz(self, curvature, random_state):
        lam = np.linalg.eigvalsh(self.G)[-1] if self.p else 0.0
        return curvature * max(lam, 0.0) / self.n_eff + self.l2


class FistaState:
    """Iterate, extrapolated point, momentum and step; pickled with the estimator.

    ``zx``/``zy`` cache X w of the iterate and of the extrapolated point for the smooth part
    ``owner`` they were computed with (``LossFit``; ``None`` for ``GramFit``); they are not
    pickled and are recomputed when the smooth part changes.
    """

    def __init__(self, theta, step, objective):
        self.x = theta.copy()
        self.y = theta.copy()
        self.t = 1.0
        self.step = step
        self.objective = objective
        self.owner = self.zx = self.zy = self.spare = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["owner"] = d["zx"] = d["zy"] = d["spare"] = None
        return d

    def __setstate__(self, d):
        for key in ("owner", "zx", "zy", "spare"):
            d.setdefault(key, None)
        self.__dict__.update(d)

    def attach(self, smooth, zx=None):
        """Make ``zx``/``zy`` those of ``smooth`` (``zx`` given: X w of ``self.x``)."""
        if self.owner is smooth and zx is None:
            return
        if zx is None:
            zx = smooth.lin(self.x)[1]
        same = np.array_equal(self.x, self.y)
        self.zx = zx
        self.zy = zx if same else smooth.lin(self.y)[1]
        self.spare = None
        self.owner = smooth


def fista_iteration(state: FistaState, smooth, l1: float, p: int) -> float:
    """One FISTA iteration in place; return the norm of the proximal-gradient mapping.

    Backtracking halves the step until the quadratic upper bound holds. When an
    accelerated step would increase the objective, it is rejected and the momentum reset
    (monotone restart), so the next iteration is a plain proximal-gradient step from
    ``state.x``.

    On X (``LossFit``) an iteration is two passes over X: the gradient at the extrapolated
    point y from its stored predictions X y (axpys only), and X x_new with the objective
    for the sufficient-decrease test (dot products only; one more per backtracking halving).
    X y of the next extrapolated point is X x_new + beta (X x_new - X x), no pass.
    """
    state.attach(smooth)
    f_y, g_y = smooth.value_grad_lin(state.y, state.zy)
    slack = 1e-12 * max(abs(f_y), 1.0)
    # n-vectors are recycled (allocating ~3 per iteration cost ~10% of an iteration).
    buf = state.spare
    if buf is state.zx or buf is state.zy:
        buf = None
    for _ in range(60):
        x_new = prox_l1(state.y - state.step * g_y, state.step * l1, p)
        d = x_new - state.y
        f_new, z_new = smooth.lin(x_new, buf)
        buf = z_new
        if f_new <= f_y + g_y @ d + (d @ d) / (2.0 * state.step) + slack:
            break
        state.step *= 0.5
    violation = float(np.max(np.abs(d))) / state.step if d.size else 0.0
    obj_new = f_new + l1 * float(np.abs(x_new[:p]).sum())
    # A plain step (t == 1, y == x) is a descent step up to rounding: always accept it,
    # otherwise rounding near the optimum would reject it forever.
    if obj_new > state.objective and state.t > 1.0:
        state.y = state.x.copy()
        state.zy = state.zx
        state.spare = z_new
        state.t = 1.0
        return violation
    t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * state.t**2))
    beta = (state.t - 1.0) / t_new
    state.y = x_new + beta * (x_new - state.x)
    if z_new is not None:
        old_zy = state.zy if state.zy is not state.zx else None
        if beta != 0.0:
            # zy = z_new + beta (z_new - zx), in the buffer of the old zy.
            zy = old_zy if old_zy is not None else np.empty_like(z_new)
            np.subtract(z_new, state.zx, out=zy)
            zy *= beta
            zy += z_new
            state.spare = state.zx
        else:
            zy = z_new
            state.spare = old_zy if old_zy is not None else state.zx
        state.zy = zy
    state.x = x_new
    state.zx = z_new
    state.t = t_new
    state.objective = obj_new
    return violation
