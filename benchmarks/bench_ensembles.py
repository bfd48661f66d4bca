"""Stacking benchmark on the Ames house prices: 5-fold CV RMSE of log(price) and wall time.

Members: a GD elastic net (``ensemblekit.estimators.GDElasticNet`` behind one-hot encoding and a
Yeo-Johnson transform), XGBoost and LightGBM (``BoostingRegressor``, early stopping on a split of
each fit's own training rows). Ensembles over the same members and the same inner folds:

- ``StackingCVRegressor`` with ``refit="full"`` and ``refit="average"``;
- ``WeightedEnsembleRegressor(method="caruana", refit="average")``;
- scikit-learn's ``StackingRegressor`` (its default RidgeCV meta-learner).

Every model is scored by the same outer shuffled 5-fold CV; wall times are sums over the outer
folds, of fit and of predict separately, each the fastest of ``--repeats`` runs (default 3) on
that fold, in a shuffled order, so that a burst of load on the machine does not decide a ratio.
Boosters use one thread each and the ensembles ``n_jobs`` workers, so the ensembles' own
parallelism is what is compared. ``refit="average"`` saves the
refit on all rows (its training-time purpose, compared on fit time) and pays at prediction time:
each member predicts with its k fold models (AutoGluon's trade-off), shown in the predict column.

With ``--seeds S`` the whole run is repeated for S seeds (new outer and inner folds, new member
seeds) and the table pools every (seed, outer fold) pair: the score differences between
stackers are a fraction of the fold-to-fold spread, so more pairs are needed to tell them apart.

Run:  python benchmarks/bench_ensembles.py            (about 7 minutes on 2 cores)
      python benchmarks/bench_ensembles.py --seeds 3  (about 21 minutes)
      python benchmarks/bench_ensembles.py --quick    (3 outer folds, coarser boosters)
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import StackingRegressor
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PowerTransformer

from ensemblekit.datasets import load_ames
from ensemblekit.ensembles import BoostingRegressor, StackingCVRegressor, WeightedEnsembleRegressor
from ensemblekit.estimators import GDElasticNet


def make_members(quick: bool, seed: int) -> list[tuple[str, object]]:
    lr = 0.1 if quick else 0.05
    linear = make_pipeline(
        make_column_transformer(
            (PowerTransformer(), make_column_selector(dtype_include="number")),
            (
                OneHotEncoder(handle_unknown="ignore", min_frequency=5, sparse_output=False),
                make_column_selector(dtype_include="category"),
            ),
        ),
        GDElasticNet(alpha=0.0005, l1_ratio=0.9),
    )
    common = dict(
        n_estimators=2000, learning_rate=lr, subsample=0.7, colsample_bytree=0.5,
        n_iter_no_change=30, n_jobs=1, random_state=seed, device="cpu",
    )
    return [
        ("gd_enet", linear),
        ("xgboost", BoostingRegressor("xgboost", max_depth=4, **common)),
        ("lightgbm", BoostingRegressor("lightgbm", num_leaves=15,
                                       params={"min_child_samples": 10}, **common)),
    ]


def make_models(quick: bool, seed: int, n_jobs: int) -> dict[str, object]:
    members = make_members(quick, seed)
    inner = KFold(5, shuffle=True, random_state=seed + 1)
    models = {name: est for name, est in members}
    models["stack_full (ours)"] = StackingCVRegressor(members, cv=inner, refit="full",
                                                      n_jobs=n_jobs)
    models["stack_average (ours)"] = StackingCVRegressor(members, cv=inner, refit="average",
                                                         n_jobs=n_jobs)
    models["caruana_average (ours)"] = WeightedEnsembleRegressor(
        members, method="caruana", cv=inner, refit="average", n_jobs=n_jobs)
    models["sklearn StackingRegressor"] = StackingRegressor(members, cv=inner, n_jobs=n_jobs)
    return models


class _CPUClock:
    """CPU seconds used by this process and its joblib workers (psutil; None without it).

    The benchmark machine may be shared, in which case wall time mostly measures the load of
    others; CPU seconds measure the work each ensemble does.
    """

    def __init__(self):
        try:
            import psutil

            self._proc = psutil.Process()
            self._err = psutil.Error
        except ImportError:
            self._proc = None

    def read(self):
        if self._proc is None:
            return None
        own = sum(self._proc.cpu_times()[:2])
        children = {}
        for c in self._proc.children(recursive=True):
            try:
                children[c.pid] = sum(c.cpu_times()[:2])
            except self._err:
                pass
        return own, children

    @staticmethod
    def delta(a, b):
        if a is None or b is None:
            return float("nan")
        return b[0] - a[0] + sum(v - a[1].get(pid, 0.0) for pid, v in b[1].items())


def warm_up(models: dict, names, X, y, seed: int) -> None:
    """Untimed fits on 600 rows: start the joblib workers, so that no configuration pays."""
    sub = np.random.default_rng(seed).choice(len(y), 600, replace=False)
    for name, model in models.items():
        if name in names:
            model.fit(X.iloc[sub], y.iloc[sub])


def timed_fit_predict(clock: _CPUClock, model, X, y, train, test, method: str = "predict"):
    """Fit on rows ``train``, predict rows ``test``: ``(output, fit s, predict s, CPU s)``."""
    c0, t0 = clock.read(), time.perf_counter()
    model.fit(X.iloc[train], y.iloc[train])
    t1 = time.perf_counter()
    out = getattr(model, method)(X.iloc[test])
    t2 = time.perf_counter()
    return out, t1 - t0, t2 - t1, clock.delta(c0, clock.read())


def run(quick: bool = False, seed: int = 0, n_jobs: int = 2, outer_folds: int | None = None,
        only: list[str] | None = None, repeats: int = 1):
    load0 = list(os.getloadavg())
    X, y = load_ames(log_target=True)
    k = outer_folds or (3 if quick else 5)
    outer = list(KFold(k, shuffle=True, random_state=seed).split(X))
    names = [n for n in make_models(quick, seed, n_jobs) if not only or n in only]
    rmse = {n: [] for n in names}
    wall = {n: 0.0 for n in names}
    fit_wall = {n: 0.0 for n in names}
    cpu = {n: 0.0 for n in names}
    clock = _CPUClock()
    # Compiles the GD model's Numba kernels in every worker too.
    warm_up(make_models(True, seed, n_jobs), names, X, y, seed)
    order = np.random.default_rng(seed)
    for f, (tr, te) in enumerate(outer):
        best_fit = {n: np.inf for n in names}
        best_pred = {n: np.inf for n in names}
        best_cpu = {n: np.inf for n in names}
        for r in range(repeats):
            models = make_models(quick, seed, n_jobs)
            # A different order in each round, so that drifts in the machine's load do not
            # always hit the same configuration.
            for name in order.permutation(names):
                pred, t_fit, t_pred, dc = timed_fit_predict(clock, models[name], X, y, tr, te)
                best_fit[name] = min(best_fit[name], t_fit)
                best_pred[name] = min(best_pred[name], t_pred)
                best_cpu[name] = min(best_cpu[name], dc)
                score = float(np.sqrt(np.mean((y.iloc[te].to_numpy() - pred) ** 2)))
                if r == 0:
                    rmse[name].append(score)
                elif not np.isclose(score, rmse[name][-1], rtol=1e-6):
                    print(f"  note: {name} scored {score:.5f} in repeat {r}, "
                          f"{rmse[name][-1]:.5f} in the first (not deterministic)")
                print(f"  outer fold {f}, repeat {r}: {name:28s} rmse={score:.4f} "
                      f"fit={t_fit:6.1f}s predict={t_pred:5.2f}s cpu={dc:6.1f}s", flush=True)
        for name in names:
            fit_wall[name] += best_fit[name]
            wall[name] += best_fit[name] + best_pred[name]
            cpu[name] += best_cpu[name]
    return {"rmse": rmse, "wall": wall, "fit_wall": fit_wall, "cpu": cpu, "outer_folds": k,
            "repeats": repeats, "n_jobs": n_jobs, "quick": quick, "load_before": load0,
            "load_after": list(os.getloadavg()), "cpu_count": os.cpu_count()}


def merge(a, b):
    """Pool two runs (different seeds): RMSEs per (seed, outer fold), times summed."""
    out = dict(a)
    out["rmse"] = {n: a["rmse"][n] + b["rmse"][n] for n in a["rmse"]}
    for key in ("wall", "fit_wall", "cpu"):
        out[key] = {n: a[key][n] + b[key][n] for n in a[key]}
    out["outer_folds"] = a["outer_folds"] + b["outer_folds"]
    out["load_after"] = b["load_after"]
    return out


def _paired(a, b):
    d = np.asarray(a) - np.asarray(b)
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


def report(res) -> list[str]:
    rmse, wall = res["rmse"], res["wall"]
    seeds = res.get("seeds", [])
    seeds_txt = f" (seeds {', '.join(map(str, seeds))})" if len(seeds) > 1 else ""
    lines = [
        f"Ames, log(price), {res['outer_folds']} outer folds{seeds_txt}, n_jobs={res['n_jobs']}, "
        f"times the best of {res.get('repeats', 1)} per fold"
        f"{' (quick)' if res['quick'] else ''}; {res['cpu_count']} CPUs, load average "
        f"{res['load_before'][0]:.1f} before and {res['load_after'][0]:.1f} after the run",
        "",
        "| model | RMSE mean | RMSE std | fit + predict (s) | fit (s) | predict (s) | CPU (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    cpu, fit = res["cpu"], res["fit_wall"]
    for name in rmse:
        lines.append(f"| {name} | {np.mean(rmse[name]):.4f} | {np.std(rmse[name]):.4f} | "
                     f"{wall[name]:.1f} | {fit[name]:.1f} | {wall[name] - fit[name]:.2f} | "
                     f"{cpu[name]:.1f} |")
    members = [m for m in ("gd_enet", "xgboost", "lightgbm") if m in rmse]
    full, avg, skl = "stack_full (ours)", "stack_average (ours)", "sklearn StackingRegressor"
    lines.append("")
    if members:
        best_member = min(members, key=lambda m: np.mean(rmse[m]))
        for stack in (s for s in (full, avg) if s in rmse):
            d, se = _paired(rmse[stack], rmse[best_member])
            beats = all(np.mean(rmse[stack]) < np.mean(rmse[m]) for m in members)
            wins = sum(a < b for a, b in zip(rmse[stack], rmse[best_member], strict=True))
            lines.append(f"{stack} beats every member: {beats} (vs best member {best_member}: "
                         f"{d:+.4f} +- {se:.4f} paired SE, better on {wins}/{len(rmse[stack])} "
                         "folds)")
    if full in rmse and avg in rmse:
        d, se = _paired(rmse[avg], rmse[full])
        pf, pa = wall[full] - fit[full], wall[avg] - fit[avg]
        lines.append(f"refit='average' speed-up over 'full': {fit[full] / fit[avg]:.2f}x fit "
                     f"time, {wall[full] / wall[avg]:.2f}x fit + predict, "
                     f"{cpu[full] / cpu[avg]:.2f}x CPU; predicting takes {pa / pf:.1f}x longer "
                     "(k fold models per member); "
                     f"RMSE difference {d:+.4f} +- {se:.4f} (paired SE)")
    for ours in (o for o in (full, avg) if o in rmse and skl in rmse):
        d, se = _paired(rmse[ours], rmse[skl])
        lines.append(f"{ours} / sklearn: {wall[ours] / wall[skl]:.2f}x fit + predict time, "
                     f"{cpu[ours] / cpu[skl]:.2f}x CPU time; RMSE difference {d:+.4f} +- "
                     f"{se:.4f} (paired SE)")
    return lines


def common_options(p: argparse.ArgumentParser) -> None:
    """The options of the ensemble benchmarks (this one and bench_classification.py)."""
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1,
                   help="run seeds --seed, --seed + 1, ...: each draws its own outer and inner "
                        "folds and member seeds; the table pools every (seed, outer fold) pair")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the raw numbers here")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_options(p)
    p.add_argument("--outer-folds", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats of every fit per outer fold, the fastest counted "
                        "(default 3, 1 with --quick)")
    p.add_argument("--only", default=None,
                   help="comma-separated model names to run, e.g. "
                        "'stack_full (ours),stack_average (ours),sklearn StackingRegressor'")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",")] if args.only else None
    repeats = args.repeats or (1 if args.quick else 3)
    res = None
    for seed in range(args.seed, args.seed + args.seeds):
        r = run(args.quick, seed, args.n_jobs, args.outer_folds, only, repeats)
        res = r if res is None else merge(res, r)
    res["seeds"] = list(range(args.seed, args.seed + args.seeds))
    print("\n".join(report(res)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
