"""Stacking against scikit-learn's StackingRegressor
=================================================

StackingCVRegressor against scikit-learn's StackingRegressor, same members, same folds.

Three members (a gradient-descent ridge on one-hot features, LightGBM and XGBoost on ordinal
codes) are stacked on the Ames log price four ways:

- ``sklearn.ensemble.StackingRegressor`` with a non-negative linear meta-learner;
- ``StackingCVRegressor(refit="full")`` with the same meta-learner and inner folds: it fits the
  same models, so its predictions match scikit-learn's (checked below), in one joblib batch;
- ``StackingCVRegressor(refit="average")``: keeps the inner-fold models and averages them
  (bagging, one fit per member fewer);
- ``WeightedEnsembleRegressor(method="caruana")``: greedy ensemble selection.

Each is scored by 3-fold CV RMSE (the RMSLE of the price), next to the members alone.

Run::

    python examples/stacking_vs_sklearn.py            # about a minute
    python examples/stacking_vs_sklearn.py --quick    # seconds (used by the smoke test)
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
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import StackingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from ensemblekit.datasets import load_ames
from ensemblekit.ensembles import (
    BoostingRegressor,
    StackingCVRegressor,
    WeightedEnsembleRegressor,
)
from ensemblekit.estimators import GDRidge

numeric = make_column_selector(dtype_include="number")
categorical = make_column_selector(dtype_include="category")


def members(n_trees: int) -> list[tuple[str, object]]:
    linear = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (OneHotEncoder(handle_unknown="ignore", min_frequency=5), categorical),
            sparse_threshold=0,
        ),
        GDRidge(alpha=30.0),
    )
    ordinal = make_column_transformer(
        (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), categorical),
        remainder="passthrough",
    )

    def booster(backend: str, **params) -> object:
        model = BoostingRegressor(
            backend, device="cpu", n_estimators=n_trees, learning_rate=0.1, subsample=0.8,
            colsample_bytree=0.5, n_jobs=1, random_state=0, **params,
        )  # fmt: skip
        return make_pipeline(ordinal, model)

    return [
        ("ridge", linear),
        ("lightgbm", booster("lightgbm", num_leaves=15)),
        ("xgboost", booster("xgboost", max_depth=4)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="subsample and few trees (smoke)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    out = args.out or Path("runs") / f"stacking_vs_sklearn-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)

    X, y = load_ames(log_target=True)
    if args.quick:
        X, y = X.iloc[:800], y.iloc[:800]
    base = members(n_trees=60 if args.quick else 200)
    inner = KFold(3, shuffle=True, random_state=1)  # the stackers' own folds, shared
    outer = KFold(3, shuffle=True, random_state=0)  # the evaluation
    nnls = LinearRegression(positive=True)
    models = {name: model for name, model in base}
    models.update({
        "sklearn StackingRegressor": StackingRegressor(base, final_estimator=nnls, cv=inner),
        "StackingCVRegressor (full)": StackingCVRegressor(
            base, final_estimator=nnls, cv=inner, refit="full", n_jobs=args.n_jobs
        ),
        "StackingCVRegressor (average)": StackingCVRegressor(
            base, final_estimator=nnls, cv=inner, refit="average", n_jobs=args.n_jobs
        ),
        "WeightedEnsemble (caruana)": WeightedEnsembleRegressor(
            base, method="caruana", cv=inner, n_jobs=args.n_jobs
        ),
    })  # fmt: skip

    rows = []
    for name, model in models.items():
        res = cross_validate(
            model, X, y, cv=outer, scoring="neg_root_mean_squared_error", return_estimator=True
        )
        rmse = -res["test_score"]
        rows.append({
            "model": name, "rmse_mean": rmse.mean(), "rmse_std": rmse.std(),
            "fit_s": res["fit_time"].mean(),
        })  # fmt: skip
        fit_s = rows[-1]["fit_s"]
        print(f"{name:<32} CV RMSE {rmse.mean():.4f} ± {rmse.std():.4f}  fit {fit_s:.1f} s")

    # Same members, same inner folds, same meta-learner: the two stackers fit the same models.
    first_train, first_test = next(outer.split(X))
    ours = models["StackingCVRegressor (full)"].fit(X.iloc[first_train], y.iloc[first_train])
    theirs = models["sklearn StackingRegressor"].fit(X.iloc[first_train], y.iloc[first_train])
    gap = np.max(np.abs(ours.predict(X.iloc[first_test]) - theirs.predict(X.iloc[first_test])))
    print(f"largest prediction gap, StackingCVRegressor(full) vs StackingRegressor: {gap:.2e}")

    table = pd.DataFrame(rows)
    table.to_csv(out / "stacking_vs_sklearn.csv", index=False)
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    order = table.sort_values("rmse_mean", ascending=False)
    colors = ["C3" if "Regressor (" in m or "Ensemble" in m else "C7" for m in order.model]
    ax.barh(order.model, order.rmse_mean, xerr=order.rmse_std, color=colors, capsize=3)
    ax.set_xlim(order.rmse_mean.min() * 0.9, (order.rmse_mean + order.rmse_std).max() * 1.03)
    ax.set_xlabel("3-fold CV RMSE of log price (lower is better)")
    ax.set_title("Members alone and stacked")
    fig.tight_layout()
    fig.savefig(out / "stacking_vs_sklearn.png", dpi=120)
    print(f"plot: {out / 'stacking_vs_sklearn.png'}")
    return 0


if __name__ == "__main__":
    # No SystemExit on success: the documentation gallery runs this file in its own process.
    main()
