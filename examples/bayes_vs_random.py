"""Bayesian search against random search
=====================================

Bayesian search (ensemblekit's BayesSearchCV) against random search, same budget, same space.

Both searches tune a LightGBM ``BoostingRegressor`` (four hyperparameters) on the Ames log price
with the same 3 shuffled folds and the same number of trials. The search space is written once,
with scipy.stats distributions, which both ``BayesSearchCV`` and scikit-learn's
``RandomizedSearchCV`` accept. Each search runs with several seeds; the plot shows the best RMSE
found after each trial (median over seeds, and the range), which is what a budget buys.

Run::

    python examples/bayes_vs_random.py            # about a minute
    python examples/bayes_vs_random.py --quick    # seconds (used by the smoke test)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.compose import make_column_transformer
from sklearn.model_selection import KFold, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from ensemblekit.datasets import load_ames
from ensemblekit.ensembles import BoostingRegressor
from ensemblekit.tuning import BayesSearchCV

SPACE = {
    "boostingregressor__num_leaves": randint(4, 64),
    "boostingregressor__min_child_weight": loguniform(1.0, 100.0),
    "boostingregressor__colsample_bytree": uniform(0.1, 0.9),  # [0.1, 1.0]
    "boostingregressor__reg_lambda": loguniform(1e-3, 100.0),
}


def make_model() -> object:
    """Ordinal-coded categories, then LightGBM with early stopping inside each training fold."""
    prep = make_column_transformer(
        (
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
            lambda X: X.select_dtypes("category").columns,
        ),
        remainder="passthrough",
    )
    booster = BoostingRegressor(
        "lightgbm", device="cpu", n_estimators=500, learning_rate=0.1, n_iter_no_change=20,
        n_jobs=1, random_state=0,
    )  # fmt: skip
    return make_pipeline(prep, booster)


def best_so_far(search) -> np.ndarray:
    """RMSE of the best trial after each trial (scores are negative RMSE)."""
    return -np.maximum.accumulate(np.asarray(search.cv_results_["mean_test_score"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny budget (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    out = args.out or Path("runs") / f"bayes_vs_random-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    n_iter, seeds = (5, [0]) if args.quick else (15, [0, 1])

    X, y = load_ames(log_target=True)
    cv = KFold(3, shuffle=True, random_state=0)
    curves: dict[str, list[np.ndarray]] = {"random": [], "bayes": []}
    rows = []
    for seed in seeds:
        searches = {
            "random": RandomizedSearchCV(
                make_model(), SPACE, n_iter=n_iter, cv=cv, random_state=seed,
                scoring="neg_root_mean_squared_error", n_jobs=args.n_jobs,
            ),
            "bayes": BayesSearchCV(
                make_model(), SPACE, n_iter=n_iter, n_initial_points=min(5, n_iter // 2),
                cv=cv, random_state=seed, scoring="neg_root_mean_squared_error",
                n_jobs=args.n_jobs, n_points=2, refit=False,
            ),
        }  # fmt: skip
        searches["random"].set_params(refit=False)
        for name, search in searches.items():
            start = time.perf_counter()
            search.fit(X, y)
            curve = best_so_far(search)
            curves[name].append(curve)
            rows.append({
                "search": name, "seed": seed, "trials": n_iter, "best_rmse": curve[-1],
                "seconds": time.perf_counter() - start,
            })  # fmt: skip
            print(
                f"{name:>6} seed {seed}: best CV RMSE {curve[-1]:.4f} ({rows[-1]['seconds']:.0f} s)"
            )

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    trials = np.arange(1, n_iter + 1)
    for name, color in (("random", "C0"), ("bayes", "C3")):
        stack = np.vstack(curves[name])
        ax.plot(trials, np.median(stack, axis=0), color=color, label=f"{name} (median)")
        ax.fill_between(trials, stack.min(axis=0), stack.max(axis=0), color=color, alpha=0.15)
    ax.set_xlabel("trial")
    ax.set_ylabel("best CV RMSE of log price so far")
    ax.set_title(f"BayesSearchCV vs RandomizedSearchCV ({len(seeds)} seed(s))")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "bayes_vs_random.png", dpi=120)

    table = pd.DataFrame(rows)
    table.to_csv(out / "bayes_vs_random.csv", index=False)
    summary = table.groupby("search")[["best_rmse", "seconds"]].mean()
    print(summary.to_string(float_format=lambda v: f"{v:.4f}"))
    print(f"plot: {out / 'bayes_vs_random.png'}")
    return 0


if __name__ == "__main__":
    # No SystemExit on success: the documentation gallery runs this file in its own process.
    main()
