"""Time XGBoost fits on a CUDA GPU against the CPU, through ``BoostingRegressor``.

Default problem: 1,000,000 rows x 50 float32 features (synthetic, nonlinear), 500 rounds of depth-8
trees, no early stopping (so both devices grow the same number of trees). The script prints the
fit time on each device, the speed-up and the holdout RMSE of both models (they should agree to a
few percent: GPU and CPU ``hist`` build slightly different quantile sketches).

Run standalone on a GPU machine:

    python benchmarks/bench_boosting_gpu.py
    python benchmarks/bench_boosting_gpu.py --n-rows 200000 --backend lightgbm

Without a usable GPU it times the CPU only and says why the GPU run was skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def make_data(n_rows: int, n_features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    w = rng.standard_normal(n_features).astype(np.float32)
    y = X @ w + 2.0 * np.sin(X[:, 0] * X[:, 1]) + (X[:, 2] > 0.5) * X[:, 3]
    y += rng.standard_normal(n_rows).astype(np.float32) * 0.5
    return X, y.astype(np.float32)


def time_fit(backend: str, device: str, X, y, X_te, y_te, n_estimators: int, max_depth: int,
             n_jobs: int | None) -> dict:
    from ensemblekit.ensembles import BoostingRegressor

    kw = dict(n_estimators=n_estimators, learning_rate=0.1, max_depth=max_depth,
              early_stopping=False, random_state=0, n_jobs=n_jobs)
    # Warm-up: the first CUDA fit pays for context creation and kernel loading.
    BoostingRegressor(backend, device=device, **{**kw, "n_estimators": 2}).fit(X[:10_000],
                                                                              y[:10_000])
    model = BoostingRegressor(backend, device=device, **kw)
    t0 = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(X_te)
    pred_s = time.perf_counter() - t0
    rmse = float(np.sqrt(np.mean((y_te - pred) ** 2)))
    return {"device": model.device_, "fit_s": fit_s, "predict_s": pred_s, "rmse": rmse}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-rows", type=int, default=1_000_000)
    p.add_argument("--n-features", type=int, default=50)
    p.add_argument("--n-estimators", type=int, default=500)
    p.add_argument("--max-depth", type=int, default=8)
    p.add_argument("--backend", choices=["xgboost", "lightgbm"], default="xgboost")
    p.add_argument("--n-jobs", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)

    from ensemblekit.ensembles._device import lightgbm_gpu, xgboost_cuda

    X, y = make_data(args.n_rows + 100_000, args.n_features)
    X_tr, y_tr, X_te, y_te = X[: args.n_rows], y[: args.n_rows], X[args.n_rows :], y[args.n_rows :]
    print(f"{args.backend}: {args.n_rows:,} x {args.n_features}, {args.n_estimators} rounds, "
          f"depth {args.max_depth}, CPU threads: {args.n_jobs or os.cpu_count()}", flush=True)
    results = {}
    usable, reason = (
        xgboost_cuda() if args.backend == "xgboost"
        else (lambda r: (r[0] is not None, r[1]))(lightgbm_gpu())
    )
    if usable:
        results["gpu"] = time_fit(args.backend, "cuda", X_tr, y_tr, X_te, y_te,
                                  args.n_estimators, args.max_depth, args.n_jobs)
        print(f"  GPU ({results['gpu']['device']}): fit {results['gpu']['fit_s']:.1f}s, "
              f"predict {results['gpu']['predict_s']:.2f}s, RMSE {results['gpu']['rmse']:.4f}",
              flush=True)
    else:
        print(f"  GPU skipped: {reason}", flush=True)
    results["cpu"] = time_fit(args.backend, "cpu", X_tr, y_tr, X_te, y_te,
                              args.n_estimators, args.max_depth, args.n_jobs)
    print(f"  CPU: fit {results['cpu']['fit_s']:.1f}s, predict {results['cpu']['predict_s']:.2f}s, "
          f"RMSE {results['cpu']['rmse']:.4f}")
    if "gpu" in results:
        speedup = results["cpu"]["fit_s"] / results["gpu"]["fit_s"]
        print(f"  speed-up (CPU fit / GPU fit): {speedup:.1f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
