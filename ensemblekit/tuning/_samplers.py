"""Samplers: decide which parameters to try next from the trials seen so far.

A sampler only reads the history it is given (``(space_index, params, score)`` triples, scores
to maximize, failed trials already imputed) and returns new proposals, so the same code path
serves a fresh search, a resumed one and a distributed one. Randomness is derived from the seed
and the history length, which makes proposals reproducible and independent of how trials were
executed.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

from ._space import SearchSpace

__all__ = ["RandomSampler", "GPSampler"]


def _rng(seed: int, *salt: int) -> np.random.RandomState:
    return np.random.RandomState(np.random.SeedSequence([seed, *salt]).generate_state(1)[0])


class RandomSampler:
    """Independent uniform draws in the encoded space (scipy distributions: their own law)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def ask(self, space: SearchSpace, history, n: int, pending=()) -> list[tuple[int, dict]]:
        rng = _rng(self.seed, len(history) + len(pending), 1)
        out = []
        for j in range(n):
            k = (len(history) + len(pending) + j) % len(space)
            out.append((k, space.spaces[k].sample(rng, 1)[0]))
        return out


class GPSampler:
    """Gaussian-process Bayesian optimization (Matérn-5/2 ARD kernel) with EI, UCB or PI.

    The first ``n_initial_points`` trials come from a random design. After that, proposals
    alternate between two steps:

    * global: the acquisition of a GP fitted to all trials (warped scores, see :func:`_warp`),
      maximized over random candidates, perturbations of the best points at several scales, and
      L-BFGS-B refinement from the best few;
    * local (every ``local_every``-th proposal): a trust-region step. A GP fitted to the raw scores
      of the ``n_local`` trials nearest the incumbent models its basin (a global GP, whose length
      scales are set by the whole landscape, resolves the bottom of a basin poorly), and the
      optimistic mean ``mu + local_kappa * sigma`` is maximized in a box of half-width
      ``local_radius`` (unit-cube coordinates) around the incumbent.

    The local steps turn "near the optimum" into "at the optimum" on smooth objectives (Branin:
    median best of 25 trials 0.4406 -> 0.3979, optimum 0.397887), while the global steps keep
    exploring the other basins.

    Batches use the constant liar: each proposal is added with the worst observed score (and the
    kernel kept fixed) before the next is chosen, which pushes the batch apart.
    """

    def __init__(
        self,
        seed: int,
        n_initial_points: int = 10,
        acquisition: str = "ei",
        n_candidates: int = 2000,
        n_restarts: int = 5,
        xi: float = 0.0,
        kappa: float = 1.96,
        local_every: int = 2,
        local_radius: float = 0.1,
        n_local: int = 15,
        local_kappa: float = 0.5,
    ) -> None:
        self.seed = seed
        self.n_initial_points = n_initial_points
        self.acquisition = acquisition
        self.n_candidates = n_candidates
        self.n_restarts = n_restarts
        self.xi = xi
        self.kappa = kappa
        self.local_every = local_every
        self.local_radius = local_radius
        self.n_local = n_local
        self.local_kappa = local_kappa
        # Perturbation scales (unit-cube coordinates) of the candidates around the best points.
        self.local_scales = (0.2, 0.05, 0.01, 0.002)

    def initial_design(self, space: SearchSpace) -> list[tuple[int, dict]]:
        """The fixed random design, indexed by trial number (so resumes pick up where they were)."""
        rng = _rng(self.seed, 0)
        design, seen = [], set()
        for i in range(self.n_initial_points):
            k = i % len(space)
            # Redraw duplicates (small discrete spaces); give up after a few tries.
            for _ in range(20):
                p = space.spaces[k].sample(rng, 1)[0]
                if space.spaces[k].key(p) not in seen:
                    break
            seen.add(space.spaces[k].key(p))
            design.append((k, p))
        return design

    def ask(self, space: SearchSpace, history, n: int, pending=()) -> list[tuple[int, dict]]:
        from threadpoolctl import threadpool_limits

        # The matrices are tiny: BLAS threads only add contention (10x slower on a busy host).
        with threadpool_limits(1):
            return self._ask(space, history, n, pending)

    def _ask(self, space, history, n, pending):
        rng = _rng(self.seed, len(history) + len(pending), 2)
        ys = np.array([s for _, _, s in history], dtype=float)
        if len(ys) == 0 or not np.all(np.isfinite(ys)):
            raise ValueError("GPSampler needs finite scores (impute failed trials first)")
        raw = (ys - ys.mean()) / (ys.std() if ys.std() > 0 else 1.0)
        ys = _warp(ys)
        mu, sd = ys.mean(), ys.std()
        sd = sd if sd > 0 else 1.0
        # Per subspace: observed encoded points and standardized scores (global scale, so that
        # acquisition values of different subspaces are comparable).
        data = []
        for k, sp in enumerate(space.spaces):
            X = [sp.encode(p) for kk, p, _ in history if kk == k]
            y = [(s - mu) / sd for (kk, _, _), s in zip(history, ys, strict=True) if kk == k]
            data.append([np.array(X).reshape(len(X), sp.n_coords), np.array(y)])
        y_best = (ys.max() - mu) / sd
        y_lie = (ys.min() - mu) / sd
        seen = {space.spaces[k].key(p) for k, p, _ in history}
        seen |= {space.spaces[k].key(p) for k, p in pending}
        for k, p in pending:
            self._add(data, k, space.spaces[k].encode(p), y_lie)
        gps = [None] * len(space)
        out = []
        for j in range(n):
            t = len(history) + len(pending) + j
            best = None
            if self.local_every and t % self.local_every == self.local_every - 1:
                best = self._local_step(space, history, raw, data, rng, seen)
            for k, sp in enumerate(space.spaces if best is None else []):
                X, y = data[k]
                if len(y) < 2:
                    cand = sp.sample(rng, 1)[0]
                    score = np.inf  # a subspace without data gets explored first
                    if sp.key(cand) not in seen and (best is None or score > best[0]):
                        best = (score, k, cand)
                    continue
                if gps[k] is None:
                    gps[k] = _fit_gp(X, y, rng, optimize=True)
                else:
                    gps[k] = _fit_gp(X, y, rng, optimize=False, kernel=gps[k].kernel_)
                cand, score = self._maximize(gps[k], sp, y_best, rng, seen)
                if cand is not None and (best is None or score > best[0]):
                    best = (score, k, cand)
            if best is None:
                # Every candidate was a duplicate (tiny discrete space): fall back to random.
                k = len(out) % len(space)
                best = (0.0, k, space.spaces[k].sample(rng, 1)[0])
            _, k, cand = best
            out.append((k, cand))
            seen.add(space.spaces[k].key(cand))
            self._add(data, k, space.spaces[k].encode(cand), y_lie)
        return out

    def _local_step(self, space, history, raw, data, rng, seen):
        """Trust-region proposal around the incumbent from a GP of its neighbourhood (or None)."""
        k = history[int(np.argmax(raw))][0]
        sp = space.spaces[k]
        X, y = data[k]
        if len(y) < 3:
            return None
        # Raw standardized scores of this subspace; pending/batch points carry the worst one.
        yr = np.array([r for (kk, _, _), r in zip(history, raw, strict=True) if kk == k])
        yr = np.append(yr, np.full(len(y) - len(yr), raw.min()))
        inc = X[np.argmax(yr)]
        near = np.argsort(np.abs(X - inc).max(axis=1), kind="stable")
        near = near[: max(self.n_local, 2 * sp.n_coords + 2)]
        yl = yr[near]
        # Winsorize disasters (e.g. a diverging learning rate next to the incumbent) at the lower
        # Tukey fence, so they do not flatten the local model of the basin.
        q1, q3 = np.percentile(yl, [25, 75])
        yl = np.maximum(yl, q1 - 1.5 * (q3 - q1))
        yl = (yl - yl.mean()) / (yl.std() if yl.std() > 0 else 1.0)
        gp = _fit_gp(X[near], yl, rng, optimize=True)
        cand, _ = self._maximize(gp, sp, yl.max(), rng, seen, radius=self.local_radius)
        return None if cand is None else (0.0, k, cand)

    @staticmethod
    def _add(data, k, x, y):
        X, Y = data[k]
        data[k] = [np.vstack([X, x[None, :]]), np.append(Y, y)]

    def _acq(self, gp, X, y_best, local=False):
        m, s = gp.predict(X, return_std=True)
        s = np.maximum(s, 1e-9)
        if local:
            return m + self.local_kappa * s
        if self.acquisition == "ucb":
            return m + self.kappa * s
        z = (m - y_best - self.xi) / s
        if self.acquisition == "pi":
            return norm.cdf(z)
        return (m - y_best - self.xi) * norm.cdf(z) + s * norm.pdf(z)

    def _maximize(self, gp, sp, y_best, rng, seen, radius=None):
        local = radius is not None
        d = sp.n_coords
        X_obs = gp.X_train_
        order = np.argsort(-gp.y_train_)
        lo, hi = np.zeros(d), np.ones(d)
        if radius is not None:
            # Local step: the optimistic mean of the local GP in a box around the incumbent.
            inc = X_obs[order[0]]
            lo, hi = np.clip(inc - radius, 0, 1), np.clip(inc + radius, 0, 1)
            cands = [rng.uniform(lo, hi, size=(self.n_candidates, d)), inc[None, :]]
            for scale in self.local_scales:
                cands.append(np.clip(inc + rng.normal(scale=scale, size=(200, d)), lo, hi))
        else:
            cands = [rng.uniform(size=(self.n_candidates, d))]
            # Local candidates around the best observed points: the optimum usually sits near them.
            for x in X_obs[order[:5]]:
                for scale in self.local_scales:
                    cands.append(np.clip(x + rng.normal(scale=scale, size=(50, d)), 0, 1))
        C = np.vstack(cands)
        a = self._acq(gp, C, y_best, local)
        starts = C[np.argsort(-a)[: self.n_restarts]]
        refined = []
        eye = np.eye(d) * 1e-6

        def neg_acq_and_grad(x):
            # One predict call for the point and its d forward differences.
            pts = np.vstack([x[None, :], x[None, :] + eye])
            v = -self._acq(gp, pts, y_best, local)
            return v[0], (v[1:] - v[0]) / 1e-6

        for x0 in starts:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = minimize(
                    neg_acq_and_grad,
                    x0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=list(zip(lo, hi, strict=True)),
                    options={"maxiter": 100},
                )
            refined.append(np.clip(res.x, lo, hi))
        C = np.vstack([np.array(refined), C])
        # Snap to representable points (integers, one-hot) before judging them.
        decoded = [sp.decode(x) for x in C]
        snapped = np.array([sp.encode(p) for p in decoded])
        a = self._acq(gp, snapped, y_best, local)
        for i in np.argsort(-a, kind="stable"):
            if sp.key(decoded[i]) not in seen:
                return decoded[i], float(a[i])
        return None, -np.inf


def _warp(ys: np.ndarray) -> np.ndarray:
    """Monotone warping of the scores: log of the gap to the best, then Yeo-Johnson (cf. HEBO).

    Scores are often heavy-tailed (a few disastrous settings, e.g. a diverging learning rate);
    a GP fitted to them raw spends its flexibility on the tail and models the region near the
    optimum badly. A monotone map keeps the argmax and resolves the top; on Branin it took the
    median best of 25 trials from 0.449 (raw) to 0.406 (optimum 0.398).
    """
    if len(ys) < 3 or np.ptp(ys) == 0:
        return ys
    from sklearn.preprocessing import PowerTransformer

    z = -np.log(ys.max() - ys + 0.01 * np.ptp(ys))
    z = (z - z.mean()) / z.std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = PowerTransformer(method="yeo-johnson").fit_transform(z[:, None])[:, 0]
        except (ValueError, FloatingPointError):
            return ys
    return out if np.all(np.isfinite(out)) else ys


def _fit_gp(X, y, rng, *, optimize, kernel=None):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    d = X.shape[1]
    if kernel is None:
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
        ) + WhiteKernel(1e-4, (1e-9, 1e-1))
    gp = GaussianProcessRegressor(
        kernel=kernel,
        alpha=1e-8,
        normalize_y=False,
        n_restarts_optimizer=2 if optimize else 0,
        optimizer="fmin_l_bfgs_b" if optimize else None,
        random_state=rng.randint(2**31 - 1),
    )
    with warnings.catch_warnings():
        # Convergence warnings from the kernel optimizer are expected on tiny data sets.
        warnings.simplefilter("ignore")
        gp.fit(X, y)
    return gp
