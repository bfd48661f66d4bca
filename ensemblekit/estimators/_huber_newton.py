"""Semismooth Newton steps for the concomitant Huber objective, with the certified gap.

The majorize-minimize steps of ``_fista`` in the metric of the Gram matrix contract by
about the outlier fraction per iteration; with a small ``alpha`` the duality gap only
certifies once the gradient is ~1e-9 of its size, which took ~13 iterations (two passes
over ``X`` each) after the subsample's warm start. Newton steps converge quadratically
from there (3 steps and one certifying evaluation on the benchmark's 200,000 x 100). Their
Hessian needs the Gram matrix of the inliers (|r| <= eps sigma, ~65-80% of the rows with
Gaussian noise): formed once in cache-sized row blocks, then updated by the few rows that
cross the threshold between steps. The gradient needs no pass over X either: psi is
2 s r / sigma on the inliers and 2 eps s sign(r) on the others, so X~^T psi follows from
sum_in s r [x~ 1] (moved by t G_in d along a step) and sum_out s sign(r) [x~ 1], both
corrected by the rows that change side. A step then costs one pass (X d, for the line
search); a certificate is only issued after the gradient is read afresh from X.

The same solver runs first on a contiguous copy of a small subsample (``_huber``): from
zero it needs ~8 damped steps there, and its answer is close enough for ~3 full steps.

With the scale eliminated (Danskin) the loss f(r) = min_sigma F(r, sigma) has, where no
residual sits on the threshold, the Hessian (2 / sigma) (S_in - a a^T / Q) with
a = S_in r and Q = r^T S_in r: the Schur complement of the joint Hessian in (r, sigma).

The solver has the interface of ``FistaSolver`` (``run``, ``reported``), so the shared
``TrainingLoop`` records its curves and runs callbacks, and it stops on the same
certificate (``concomitant_gap``) as ``fista_block``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from numba import njit

from ._concomitant import SIGMA_MIN, concomitant_gap, huber_loss, huber_loss_grad, optimal_scale
from ._fista import standardized_column_means
from ._linalg import single_threaded_blas
from ._passes import matvec, rmatvec
from ._rows import FASTMATH

# Armijo's sufficient-decrease fraction and the most halvings of a Newton step.
_ARMIJO = 1e-4
_MAX_HALVINGS = 30


class NewtonState:
    """The iterate theta (solver coordinates), X v of it, the scale, the last certificate."""

    def __init__(self, theta, z):
        self.x = theta
        self.z = z
        self.sigma = -1.0
        self.cert = np.inf
        self.flat_cert = np.inf  # the certificate at the last step taken on a flat objective
        self.start_objective = None
        self.objective = np.nan
        self.inliers = None  # the inlier mask of the Hessian in ``gram_in``
        self.gram_in = None
        self.side = None  # -1 / 0 / +1 per training row: where r was at ``gram_in``
        self.out_sum = None  # sum over the outliers of s_i side_i [x~_i 1]
        self.a_in = None  # sum over the inliers of s_i r_i [x~_i 1]


class HuberNewtonSolver:
    """Damped semismooth Newton on the standardized concomitant Huber problem.

    Parameters
    ----------
    tol : float
        Relative certified duality gap to stop at (as ``FistaSolver``).
    xts : ndarray of shape (n_features,) or None
        X~^T s / n (``standardized_column_means``); None: computed by ``start``.
    """

    def __init__(self, tol, xts):
        self.tol = float(tol)
        self.xts = xts

    def start(self, prob, theta0) -> NewtonState:
        theta = np.asarray(theta0, dtype=np.float64).copy()
        if not prob.fit_intercept:
            theta[prob.p] = 0.0
        z = np.zeros(prob.n)
        u = prob.pre.raw(theta)
        if self.xts is None and not prob.is_sparse:
            # X~^T s / n (``standardized_column_means``) read in the same pass as X v.
            xs = np.zeros(prob.p)
            _matvec_rmatvec(prob.X, prob.train, u[: prob.p], prob.sw, z, xs)
            xts = prob.pre.tilde_grad(np.append(xs, prob.sw.sum())) / prob.n_train
            self.xts = np.ascontiguousarray(xts[: prob.p])
        else:
            if self.xts is None:
                self.xts = standardized_column_means(prob)
            matvec(*prob.inputs, prob.train, u[: prob.p], z)
        return NewtonState(theta, z)

    @staticmethod
    def reported(state):
        return state.x

    def run(self, prob, state, n_epochs: int, interactive: bool):
        from ._sgd import EpochRecord

        p = prob.p
        train = prob.train
        y = np.asarray(prob.y, dtype=np.float64)[train]
        swn = prob.sw[train] / prob.n_train
        eps = float(prob.datafit.epsilon)
        sigma_min = SIGMA_MIN / prob.pre.y_scale
        l2 = prob.penalty.l2
        pre = prob.pre
        psi = np.empty(train.shape[0])
        scratch = np.empty(train.shape[0])
        afull = np.zeros(prob.n)
        graw = np.empty(p)
        dz = np.empty(prob.n)
        # Every row trains (the usual case): views, not fancy-indexed copies of n-vectors.
        full = prob.n_train == prob.n
        records = []
        for _ in range(n_epochs):
            theta = state.x
            u = pre.raw(theta)
            r = y - ((state.z if full else state.z[train]) + u[p])
            sigma = optimal_scale(r, swn, eps, sigma_min, state.sigma)
            state.sigma = sigma
            loss = huber_loss_grad(r, swn, eps, sigma, psi)
            pen = 0.5 * float(l2 @ (theta[:p] * theta[:p]))
            obj = loss + pen
            if state.start_objective is None:
                state.start_objective = obj
            state.objective = obj
            Q = self._band(prob, state, r, swn, sigma, eps)
            # X~^T psi and sum(psi), minus the data part of the gradient, without a pass
            # over X: psi is 2 s r / sigma on the inliers, 2 eps s side on the others, and
            # both sums over them are kept up to date (``_band``, and after each step).
            xpsi = (2.0 / sigma) * state.a_in + (2.0 * eps) * state.out_sum
            g, cert = self._certificate(prob, state, obj, psi, xpsi, y, swn, eps, scratch)
            if cert <= self.tol:
                # A certificate is only ever issued on a gradient read afresh from X.
                if not full:
                    afull[train] = psi
                rmatvec(*prob.inputs, train, psi if full else afull, graw)
                xpsi = pre.tilde_grad(np.append(graw, psi.sum()))
                g, cert = self._certificate(prob, state, obj, psi, xpsi, y, swn, eps,
                                            scratch)
                state.a_in = 0.5 * sigma * (xpsi - 2.0 * eps * state.out_sum)
            gnorm = float(np.linalg.norm(g))  # (degree 1: the same in original units)
            if cert <= self.tol:
                records.append(EpochRecord(objective=obj, loss=loss, grad_norm=gnorm,
                                           learning_rate=1.0, certificate=cert,
                                           converged=True))
                return records
            d = self._direction(prob, state, Q, sigma, g)
            if d is None:
                records.append(EpochRecord(objective=obj, loss=loss, grad_norm=gnorm,
                                           learning_rate=0.0, certificate=cert, stalled=True))
                return records
            # The step along d moves the predictions by X v(d) + c(d): one pass.
            du = pre.raw(d)
            matvec(*prob.inputs, train, du[:p], dz)
            dr = (dz if full else dz[train]) + du[p]
            slope = float(g @ d)
            slack = 1e-12 * max(abs(obj), 1.0)
            t = 1.0
            accepted = False
            for _ in range(_MAX_HALVINGS):
                rt = r + t * dr
                th = theta - t * d
                st = optimal_scale(rt, swn, eps, sigma_min, sigma)
                f_new = huber_loss(rt, swn, eps, st) + 0.5 * float(l2 @ (th[:p] * th[:p]))
                if not np.isfinite(f_new):
                    break
                if f_new <= obj - _ARMIJO * t * slope + slack:
                    accepted = True
                    break
                t *= 0.5
            # Near the optimum the decrease a Newton step promises (slope / 2) is below the
            # resolution of the objective, so f_new >= obj says nothing there, while the
            # gradient, hence the certificate, still has orders of magnitude to fall: take
            # such a full step as long as each one at least halves the certificate.
            flat = (accepted and t == 1.0 and f_new >= obj and slope <= slack
                    and cert <= 0.5 * state.flat_cert and np.isfinite(cert))
            if flat:
                state.flat_cert = cert
            if not accepted or (f_new >= obj and not flat):
                # No decrease at this precision (or a kink): hand over, uncertified.
                records.append(EpochRecord(objective=obj, loss=loss, grad_norm=gnorm,
                                           learning_rate=t, certificate=cert, stalled=True))
                return records
            state.x = th
            # sum_in s [x~ 1] r moves by t G_in d along the step (same inlier set; ``_band``
            # corrects for the rows that change side).
            state.a_in += t * (state.gram_in @ d)
            if full:
                state.z -= t * dz
            else:
                state.z[train] -= t * dz[train]
            state.sigma = st
            state.objective = f_new
            records.append(EpochRecord(objective=f_new, loss=f_new - 0.5 * float(
                l2 @ (th[:p] * th[:p])), grad_norm=gnorm, learning_rate=t, certificate=cert))
        return records

    def _certificate(self, prob, state, obj, psi, xpsi, y, swn, eps, scratch):
        """The gradient in the solver's coordinates and the relative duality gap."""
        p = prob.p
        l2 = prob.penalty.l2
        theta = state.x
        g = -xpsi
        g[:p] += l2 * theta[:p]
        if not prob.fit_intercept:
            g[p] = 0.0
        gap = concomitant_gap(obj, psi, np.ascontiguousarray(xpsi[:p]), self.xts, y, swn,
                              eps, l2, prob.fit_intercept, scratch)
        # At the optimum phi - D(u) can round below zero; -1 alone means no bound.
        scale = max(abs(obj), 1e-300)
        cert = abs(gap) / scale if gap >= 0.0 or (gap != -1.0 and -gap <= 1e-9 * scale) \
            else np.inf
        state.cert = cert
        return g, cert

    @staticmethod
    def _band(prob, state, r, swn, sigma, eps):
        """Bring the inliers' Gram matrix and sums up to date with the residuals r;
        returns Q = sum over the inliers of s_i r_i^2."""
        # -1 / 0 / +1: below, inside, above the band |r| <= eps sigma (one Numba pass:
        # the NumPy masks and index lists cost ~10 ms a step at n = 200,000).
        first = state.side is None
        side = np.empty(r.shape[0], dtype=np.int8)
        idx = np.empty(2 * r.shape[0], dtype=np.int64)
        Q, n_gone, n_came, n_moved = _classify(r, eps * sigma, swn, state.side if not first
                                               else side, first, side, idx)
        if first:
            state.gram_in, state.a_in = _rows_gram(prob, idx[:n_gone], swn, r)
            state.out_sum = _signed_rows_sum(prob, idx[n_gone:n_gone + n_came], side, swn)
        else:
            # The inlier set moves little between Newton steps: update, do not recompute.
            gone = idx[:n_gone]
            came = idx[n_gone:n_gone + n_came]
            if gone.size:
                G, a = _rows_gram(prob, gone, swn, r)
                state.gram_in -= G
                state.a_in -= a
            if came.size:
                G, a = _rows_gram(prob, came, swn, r)
                state.gram_in += G
                state.a_in += a
            moved = idx[n_gone + n_came:n_gone + n_came + n_moved]
            if moved.size:
                state.out_sum += _signed_rows_sum(
                    prob, moved, side.astype(np.float64) - state.side, swn)
        state.inliers = side == 0
        state.side = side
        return Q

    def _direction(self, prob, state, Q, sigma, g):
        """H^-1 g with H the Hessian of the eliminated objective (None: singular)."""
        p, q = prob.p, prob.p + 1
        fi = prob.fit_intercept
        # a~ = [X~ 1]^T S_in r_in enters the Hessian through the scale's elimination.
        a = state.a_in
        H = state.gram_in.copy()
        if Q > 0.0:
            H -= np.outer(a, a) / Q
        H *= 2.0 / sigma
        H[np.arange(p), np.arange(p)] += prob.penalty.l2
        if not fi:
            H[p, :] = 0.0
            H[:, p] = 0.0
            H[p, p] = 1.0
        jitter = 1e-12 * max(float(np.trace(H)) / q, 1e-300)
        H[np.arange(q), np.arange(q)] += jitter
        with single_threaded_blas():
            try:
                d = sla.cho_solve(sla.cho_factor(H, lower=True, check_finite=False), g,
                                  check_finite=False)
            except (np.linalg.LinAlgError, ValueError):
                return None
        if not np.all(np.isfinite(d)) or float(g @ d) <= 0.0:
            return None
        if not fi:
            d[p] = 0.0
        return d


@njit(cache=True, fastmath=FASTMATH)
def _matvec_rmatvec(Xd, rows, v, a, z, out):
    """z[i] = x_i.v and out += a_i x_i over ``rows``: two products in one read of X."""
    p = Xd.shape[1]
    for k in range(rows.shape[0]):
        i = rows[k]
        ai = a[i]
        s = 0.0
        for j in range(p):
            xij = Xd[i, j]
            s += xij * v[j]
            out[j] += ai * xij
        z[i] = s


@njit(cache=True)
def _classify(r, thr, swn, old, first, side, idx):
    """side_i = -1 / 0 / +1 (r_i < -thr, |r_i| <= thr, r_i > thr) and Q = sum over the
    inliers of s_i r_i^2. ``idx`` receives the positions: with ``first``, the inliers
    then the outliers; otherwise those that left the inliers, those that joined them,
    then every position whose side changed (the first two lists being among them)."""
    n = r.shape[0]
    Q = 0.0
    for i in range(n):
        a = r[i]
        if a > thr:
            side[i] = 1
        elif a < -thr:
            side[i] = -1
        else:
            side[i] = 0
            Q += swn[i] * a * a
    k = 0
    if first:
        for i in range(n):
            if side[i] == 0:
                idx[k] = i
                k += 1
        n_in = k
        for i in range(n):
            if side[i] != 0:
                idx[k] = i
                k += 1
        return Q, n_in, k - n_in, 0
    for i in range(n):
        if old[i] == 0 and side[i] != 0:
            idx[k] = i
            k += 1
    n_gone = k
    for i in range(n):
        if old[i] != 0 and side[i] == 0:
            idx[k] = i
            k += 1
    n_came = k - n_gone
    for i in range(n):
        if old[i] != side[i]:
            idx[k] = i
            k += 1
    return Q, n_gone, n_came, k - n_gone - n_came


def _signed_rows_sum(prob, pos, sign, swn):
    """sum_k s_k sign_k [x~_k 1] over the training rows at positions ``pos``."""
    a = np.zeros(prob.n)
    rows = prob.train[pos]
    a[rows] = swn[pos] * sign[pos]
    graw = np.empty(prob.p)
    rmatvec(*prob.inputs, rows, a, graw)
    return prob.pre.tilde_grad(np.append(graw, a[rows].sum()))


# Rows per block of the inlier Gram matrix: a few MB, so that the block written by the
# gather kernel is still in cache when the BLAS product reads it.
_GRAM_BLOCK = 4096


@njit(cache=True)
def _gather_rows(Xd, train, pos, mean, isc, swn, r, start, out, rout):
    """out[k] = sqrt(s_i) [(x_i - mean) * isc, 1] and rout[k] = sqrt(s_i) r_m for
    i = train[m], m = pos[start + k]: the standardized, weighted rows in one read of X
    (NumPy took five passes over a copy)."""
    p = Xd.shape[1]
    for k in range(out.shape[0]):
        m = pos[start + k]
        i = train[m]
        rs = np.sqrt(swn[m])
        for j in range(p):
            out[k, j] = (Xd[i, j] - mean[j]) * (isc[j] * rs)
        out[k, p] = rs
        rout[k] = rs * r[m]


def _rows_gram(prob, pos, swn, r=None):
    """[X~ 1]^T S [X~ 1] over the training rows at positions ``pos`` (standardized
    coordinates, normalized weights), in row blocks of ``_GRAM_BLOCK``; with residuals
    ``r`` also [X~ 1]^T S r over them: (G, a)."""
    p, q = prob.p, prob.p + 1
    pre = prob.pre
    X = prob.X
    H = np.zeros((q, q))
    a = np.zeros(q)
    if pos.shape[0] == 0:
        return H if r is None else (H, a)
    mean = pre.mean if pre.centered else np.zeros(p)
    isc = np.ascontiguousarray(pre.inv_scale, dtype=np.float64)
    pos = np.ascontiguousarray(pos, dtype=np.int64)
    train = np.ascontiguousarray(prob.train, dtype=np.int64)
    swn = np.ascontiguousarray(swn, dtype=np.float64)
    rr = np.zeros(pos.shape[0]) if r is None else np.ascontiguousarray(r, dtype=np.float64)
    dense = not hasattr(X, "toarray")
    chunk = min(pos.shape[0], _GRAM_BLOCK)
    buf = np.empty((chunk, q))
    rbuf = np.empty(chunk)
    with single_threaded_blas():
        for start in range(0, pos.shape[0], chunk):
            stop = min(start + chunk, pos.shape[0])
            Xb = buf[: stop - start]
            rb = rbuf[: stop - start]
            if dense:
                _gather_rows(X, train, pos, mean, isc, swn, rr, start, Xb, rb)
            else:
                idx = pos[start:stop]
                Xb[:, :p] = X[train[idx]].toarray()
                if pre.centered:
                    Xb[:, :p] -= pre.mean
                Xb[:, :p] *= pre.inv_scale
                Xb[:, p] = 1.0
                Xb *= np.sqrt(swn[idx])[:, None]
                rb[:] = np.sqrt(swn[idx]) * rr[idx]
            H += Xb.T @ Xb
            if r is not None:
                a += Xb.T @ rb
    return H if r is None else (H, a)
