"""Full-batch FISTA on a matrix of coefficients: K outputs, one solver.

The problem is min over W (p x K) and b (K) of

    sum_i w_i phi_i(x~_i W + b) + sum_jk h_j(W_jk),

with weights w_i summing to one, x~ the preconditioned rows (``_precondition``: the
columns standardized implicitly, so dense and CSR X are read as they are) and h_j the
coordinate-weighted elastic net of ``_penalties``. The datafit is any K-output datafit of
``_datafits`` (K target columns of a separable loss, or the multinomial log loss, which
couples its K classes), so one iteration is two BLAS-3 products, X (W / s) and
X^T D, for all K outputs at once: K separate vector solves would read X 2K times.

Steps are those of ``_fista``: the smooth part is the data term, the penalty is applied by
its prox (soft-thresholding then the L2 shrink), the step starts at 1/L with
L = curvature * lambda_max([X~ 1]^T diag(w) [X~ 1]) and is halved until the quadratic
upper bound holds; an accelerated step that raises the objective resets the momentum
(monotone restart).

The stop certifies, as in ``_fista``: the duality gap at the extrapolated point, from
the dual point theta_i = grad phi_i made feasible by the datafit (``feasible_dual``) and
scaled into the domain of h* (``dual_scale``), relative to the objective; where some
coordinate is unpenalized (no dual bound), the KKT violation relative to its value at
the start. As there, a gap below 1e-13 of the starting objective counts as converged
(rounding level).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from ._penalties import WeightedElasticNet

# Power iterations for the Lipschitz constant; backtracking corrects an underestimate.
_POWER_ITER = 30
# A gap below this fraction of the starting objective is at rounding level (``_fista``).
_FLOOR = 1e-13


class ImplicitDesign:
    """x~_i = (x_i - m) / s over the rows of X, without forming X~ (dense or CSR)."""

    def __init__(self, X, mean: np.ndarray, inv_scale: np.ndarray, fit_intercept: bool):
        self.X = X
        self.mean = mean
        self.inv_scale = inv_scale
        self.centered = bool(np.any(mean != 0.0))
        self.fit_intercept = fit_intercept

    def forward(self, T: np.ndarray) -> np.ndarray:
        """[X~ 1] T for T of shape (p + 1, K): Z = X (W / s) + (b - m.(W / s))."""
        p = self.mean.shape[0]
        V = T[:p] * self.inv_scale[:, None]
        Z = np.asarray(self.X @ V)
        c = T[p] - self.mean @ V if self.centered else T[p]
        return Z + c

    def backward(self, D: np.ndarray) -> np.ndarray:
        """[X~ 1]^T D, shape (p + 1, K)."""
        p = self.mean.shape[0]
        G = np.empty((p + 1, D.shape[1]))
        raw = np.asarray(self.X.T @ D)
        col = D.sum(axis=0)
        if self.centered:
            raw = raw - self.mean[:, None] * col
        G[:p] = raw * self.inv_scale[:, None]
        G[p] = col
        return G

    def top_eigenvalue(self, w: np.ndarray, seed: int = 0) -> float:
        """lambda_max of [X~ 1]^T diag(w) [X~ 1] (the intercept column only if fitted)."""
        p = self.mean.shape[0]
        v = np.random.default_rng(seed).standard_normal((p + 1, 1))
        if not self.fit_intercept:
            v[p] = 0.0
        lam = 0.0
        for _ in range(_POWER_ITER):
            nv = math.sqrt(float(np.sum(v * v)))
            if nv == 0.0:
                return 0.0
            v /= nv
            u = self.backward(w[:, None] * self.forward(v))
            if not self.fit_intercept:
                u[p] = 0.0
            lam = float(np.sum(u * v))
            v = u
        return lam


@dataclass
class MatrixResult:
    """What a solve returns: T = [W; b] in the solver's coordinates and its record."""

    T: np.ndarray
    n_iter: int
    converged: bool
    certificate: float
    objective: list = field(default_factory=list)
    certificates: list = field(default_factory=list)
    start_objective: float = float("nan")


class MatrixFistaSolver:
    """FISTA with backtracking, restart and a certified stop, on (p + 1) x K parameters.

    Parameters
    ----------
    tol : float or None
        Stop when the certificate (relative duality gap, or relative KKT violation) is at
        most ``tol``; None runs ``max_iter`` iterations.
    max_iter : int
        Iterations; reaching it uncertified warns with the certificate.
    learning_rate_init : float or None
        Initial step; None is 1/L.
    """

    def __init__(self, tol: float | None = 1e-6, max_iter: int = 10000,
                 learning_rate_init: float | None = None):
        self.tol = tol
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init

    def solve(self, design: ImplicitDesign, Y: np.ndarray, w: np.ndarray, datafit,
              penalty: WeightedElasticNet, T0: np.ndarray) -> MatrixResult:
        p = design.mean.shape[0]
        K = Y.shape[1]
        fit_intercept = design.fit_intercept
        l1 = penalty.l1[:, None]
        l2 = penalty.l2[:, None]
        flat = WeightedElasticNet(np.repeat(penalty.l1, K), np.repeat(penalty.l2, K))
        has_dual = bool(np.all((penalty.l1 > 0) | (penalty.l2 > 0))) and datafit.has_conjugate

        def data_value(Z):
            return float(w @ datafit.row_values(Y, Z))

        def pen_value(T):
            W = T[:p]
            return float(np.sum(l1 * np.abs(W)) + 0.5 * np.sum(l2 * W * W))

        def grad(Z):
            D = datafit.row_derivatives(Y, Z)
            G = design.backward(w[:, None] * D)
            if not fit_intercept:
                G[p] = 0.0
            return G, D

        def prox(T, step):
            out = T.copy()
            W = out[:p]
            np.copyto(W, np.sign(W) * np.maximum(np.abs(W) - step * l1, 0.0) / (1.0 + step * l2))
            if not fit_intercept:
                out[p] = 0.0
            return out

        def certificate(T, G, D, F, kkt0):
            if not has_dual:
                sub = G[:p] + l2 * T[:p]
                W = T[:p]
                dist = np.where(W != 0.0, np.abs(sub + l1 * np.sign(W)),
                                np.maximum(np.abs(sub) - l1, 0.0))
                big = float(dist.max()) if dist.size else 0.0
                if fit_intercept:
                    big = max(big, float(np.max(np.abs(G[p]))))
                return big / kkt0 if kkt0 > 0 else big
            theta = datafit.feasible_dual(D, Y, w, fit_intercept)
            U = -design.backward(w[:, None] * theta)[:p]
            k = flat.dual_scale(U.ravel())
            dual = -float(w @ datafit.row_conjugates(k * theta, Y)) - flat.conjugate(
                k * U.ravel())
            return max(F - dual, 0.0) / max(abs(F), 1e-300)

        x = np.array(T0, dtype=np.float64)
        if not fit_intercept:
            x[p] = 0.0
        Zx = design.forward(x)
        Fx = data_value(Zx) + pen_value(x)
        start = Fx
        L = datafit.curvature * design.top_eigenvalue(w)
        step = (float(self.learning_rate_init) if self.learning_rate_init is not None
                else (1.0 / L if L > 0 else 1.0))
        yk, Zy, fy = x, Zx, Fx - pen_value(x)
        Gy, Dy = grad(Zy)
        kkt0 = 0.0
        if not has_dual:
            kkt0 = max(float(np.max(np.abs(Gy))) if Gy.size else 0.0, 1e-300)
        t = 1.0
        result = MatrixResult(x, 0, False, float("inf"), start_objective=start)
        cert = certificate(yk, Gy, Dy, fy + pen_value(yk), kkt0)
        if self.tol is not None and cert <= self.tol:
            result.certificate = cert
            result.converged = True
            return result
        for it in range(1, self.max_iter + 1):
            while True:
                cand = prox(yk - step * Gy, step)
                Zc = design.forward(cand)
                fc = data_value(Zc)
                d = cand - yk
                bound = fy + float(np.sum(Gy * d)) + float(np.sum(d * d)) / (2.0 * step)
                if fc <= bound + 1e-12 * abs(fy) or step < 1e-300:
                    break
                step *= 0.5
            Fc = fc + pen_value(cand)
            if Fc >= Fx and t == 1.0 and np.array_equal(cand, x):
                # A plain prox-gradient step from x that moves nothing: x is a fixed
                # point up to rounding, no iteration can improve the certificate.
                result.n_iter = it
                break
            # (A plain step, t == 1, is a descent step: accepted even where rounding makes
            # Fc exceed Fx, so the iterate keeps moving once the objective's changes are
            # below its rounding and only the certificate still measures progress.)
            if Fc > Fx and t > 1.0:
                # Monotone restart: drop the momentum, step again from x.
                t = 1.0
                yk, Zy, fy = x, Zx, Fx - pen_value(x)
                Gy, Dy = grad(Zy)
                result.objective.append(Fx)
                result.certificates.append(cert)
                continue
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / t_next
            x_prev, Zx_prev = x, Zx
            x, Zx, Fx = cand, Zc, Fc
            yk = x + beta * (x - x_prev)
            Zy = Zx + beta * (Zx - Zx_prev)
            t = t_next
            fy = data_value(Zy)
            Gy, Dy = grad(Zy)
            Fy = fy + pen_value(yk)
            cert = certificate(yk, Gy, Dy, Fy, kkt0)
            result.objective.append(Fx)
            result.certificates.append(cert)
            result.n_iter = it
            floor = has_dual and cert * abs(Fy) <= _FLOOR * abs(start)
            if self.tol is not None and (cert <= self.tol or floor):
                result.converged = True
                # The certificate holds at y; keep y only where it is no worse than x.
                result.T = yk if Fy <= Fx else x
                result.certificate = cert
                return result
        result.T = x
        result.certificate = cert
        if self.tol is not None:
            why = (f"reached max_iter={self.max_iter}" if result.n_iter >= self.max_iter
                   else "stalled at rounding level (a step from x changes nothing)")
            warnings.warn(
                f"The K-output FISTA solver {why} before certifying tol={self.tol:g}: "
                f"certificate {cert:.3g}. Increase max_iter, or tol if the solver stalled.",
                ConvergenceWarning, stacklevel=3)
        return result


def as_design_input(X):
    """CSR stays CSR (products without densifying); dense as a C array."""
    return X.tocsr() if sp.issparse(X) else np.ascontiguousarray(X)
