"""How often *can* Hyperband match random search's best, on the Hyperband task of bench_tuning?

``bench_tuning.py --tasks hyperband`` asks Hyperband over epochs (R=27, eta=3) to reach the best
score of ``RandomizedSearchCV``'s 60 fully trained trials within a third of its epochs (2,700 of
8,100, summed over 5 folds). This script measures what that target allows on this task. It trains
a pool of random configurations of the same GDElasticNet (Adam, batch 128) on the same Ames
folds, epoch by epoch through ``partial_fit`` (as Hyperband continues training), and records the
5-fold CV RMSE after every epoch. Then it replays many seeds of both searches on that pool (each
draws its configurations from the pool at random):

* random-60: the best 27-epoch score of 60 configurations;
* Hyperband as ``HyperbandSearchCV`` runs it within the budget (iteration 1: brackets s=3..0,
  iteration 2: s=3, s=2; 2,580 epochs), promoting on the rung's score;
* the same brackets with an *oracle* promotion: every configuration a bracket draws counts with
  its 27-epoch score, as if every rung ranked perfectly. This is the most any promotion rule can
  get from Hyperband's brackets here;
* promotion on a learning-curve extrapolation (the rung's score plus the slope in log epochs of
  the second half of the curve, carried to 27 epochs);
* random search with the same budget (20 fully trained configurations).

It also prints the rank correlation between the score after 1, 3 and 9 epochs and after 27.

Run:  python benchmarks/bench_hyperband_ceiling.py            (about 4 minutes on 2 cores)
      python benchmarks/bench_hyperband_ceiling.py --pool 300 (quicker, coarser)
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from sklearn.base import clone  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_tuning as bt  # noqa: E402

# the schedule HyperbandSearchCV runs (same brackets, same budget rule)
from ensemblekit.tuning._schedulers import hyperband_schedule  # noqa: E402

R, ETA, N_FOLDS = 27, 3, 5
BUDGET = bt.N_RANDOM * R * N_FOLDS // 3


def _curves_of(cfg, X, y, splits):
    out = np.full((len(splits), R), np.inf)
    for f, (tr, te) in enumerate(splits):
        est = clone(bt.gd_estimator()).set_params(**cfg)
        for e in range(R):
            try:
                est.partial_fit(X[tr], y[tr])
            except Exception:  # a diverging learning rate: the rest of the curve stays inf
                break
            out[f, e] = np.sqrt(np.mean((y[te] - est.predict(X[te])) ** 2))
    return out


def learning_curves(n_pool: int, seed: int, n_jobs: int):
    task = bt.task_gd(False)
    X, y = task["X"], task["y"]
    splits = list(task["cv"].split(X))
    rng = np.random.RandomState(seed)
    cfgs = [
        {
            "alpha": float(10 ** rng.uniform(-5, 0)),
            "l1_ratio": float(rng.uniform()),
            "learning_rate_init": float(10 ** rng.uniform(-4, -1)),
        }
        for _ in range(n_pool)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = Parallel(n_jobs=n_jobs, batch_size=8)(
            delayed(_curves_of)(c, X, y, splits) for c in cfgs
        )
    curves = np.array(res).mean(axis=1)  # (n_pool, R): mean fold RMSE after each epoch
    return np.where(np.isfinite(curves), curves, 1e9), cfgs


def _extrapolate(curve, r):
    if r < 2:
        return curve[r - 1]
    k = max(2, r // 2)
    slope = np.polyfit(np.log(np.arange(r - k + 1, r + 1)), curve[r - k : r], 1)[0]
    return curve[r - 1] + min(slope, 0.0) * (np.log(R) - np.log(r))


def replay(curves, seed: int, rule: str) -> tuple[float, float]:
    """(random-60's best, the searcher's best) on one replayed seed; RMSE, lower is better."""
    rng = np.random.RandomState(seed)
    n = len(curves)
    final = curves[:, -1]
    rnd60 = final[rng.randint(0, n, bt.N_RANDOM)].min()
    if rule == "random_same_budget":
        return rnd60, final[rng.randint(0, n, BUDGET // (R * N_FOLDS))].min()
    best = np.inf
    for _, b in hyperband_schedule(1, R, ETA, max_budget=BUDGET, n_folds=N_FOLDS):
        alive = rng.randint(0, n, b.n_trials[0])
        if rule == "oracle":
            best = min(best, final[alive].min())
            continue
        for i, r in enumerate(b.resources):
            if r == R:
                best = min(best, final[alive].min())
                break
            if rule == "raw":
                score = curves[alive, r - 1]
            else:
                score = np.array([_extrapolate(curves[a], r) for a in alive])
            alive = alive[np.argsort(score, kind="stable")[: b.n_trials[i + 1]]]
    return rnd60, best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pool", type=int, default=1500, help="configurations trained (default 1500)")
    p.add_argument("--replays", type=int, default=400, help="replayed seeds (default 400)")
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args(argv)
    t0 = time.time()
    curves, cfgs = learning_curves(args.pool, args.seed, args.n_jobs)
    print(f"{args.pool} configurations x {R} epochs x {N_FOLDS} folds trained in "
          f"{time.time() - t0:.0f}s; budget {BUDGET} epochs (random-60: {3 * BUDGET})")
    ok = curves[:, -1] < 1.0
    for e in (1, 3, 9):
        rho = spearmanr(curves[ok, e - 1], curves[ok, -1]).correlation
        print(f"  rank correlation of the score after {e} epoch(s) with the 27-epoch score: "
              f"{rho:.2f}")
    top = curves[:, -1] <= np.quantile(curves[:, -1], 0.02)
    lr = np.array([c["learning_rate_init"] for c in cfgs])[top]
    print(f"  best 2% of configurations: learning_rate_init {lr.min():.4f}-{lr.max():.4f}")
    print("\n| searcher | reaches random-60's best (share of replayed seeds) | median gap |")
    print("|---|---|---|")
    for rule, label in (
        ("raw", "Hyperband (promotion on the rung's score)"),
        ("extrapolate", "Hyperband, promotion on an extrapolated learning curve"),
        ("oracle", "Hyperband's brackets with an oracle promotion (ceiling)"),
        ("random_same_budget", "random search, same budget (20 configurations)"),
    ):
        res = np.array([replay(curves, s, rule) for s in range(args.replays)])
        share = np.mean(res[:, 1] <= res[:, 0])
        gap = np.median(res[:, 1] - res[:, 0])
        print(f"| {label} | {share:.2f} | {gap:+.5f} |")


if __name__ == "__main__":
    main()
