"""Optimizers and learning-rate schedules
======================================

Optimizers and learning-rate schedules of GDRegressor, compared on one least-squares problem.

The problem: predict the log sale price of Ames houses from the numeric columns (imputed, skewed
columns log1p-ed, standardized) with a ridge penalty. Its exact optimum is known (scikit-learn's
``Ridge`` solves it in closed form), so each run's ``loss_curve_`` (training objective after each
epoch) can be plotted as the gap to the optimum, on a log scale.

Two comparisons:

- optimizers (same epochs, mini-batches of 32, constant rate): SGD, momentum, Nesterov, Adagrad,
  RMSprop, Adam, and full-batch FISTA;
- schedules of plain per-sample SGD: constant, inverse scaling, step, exponential, cosine with warm
  restarts, cyclic and reduce-on-plateau.

Run::

    python examples/lr_schedules.py            # about 30 s
    python examples/lr_schedules.py --quick    # a few seconds (used by the smoke test)
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
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from ensemblekit.datasets import load_ames
from ensemblekit.estimators import DivergenceError, GDRegressor

ALPHA = 1e-3  # GDRegressor's alpha: objective = mean(r^2)/2 + alpha/2 ||w||^2


def load_problem(seed: int):
    """Numeric Ames features, centred log price; a 75/25 split (test RMSE is reported too)."""
    X, y = load_ames(log_target=True)
    X = X.select_dtypes("number")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
    prep = make_pipeline(
        SimpleImputer(strategy="median"),
        # Areas and counts are right-skewed; log1p makes the problem better conditioned.
        FunctionTransformer(lambda a: np.sign(a) * np.log1p(np.abs(a))),
        StandardScaler(),
    )
    # Centre the target on the training mean: otherwise the first epochs of every method are spent
    # moving the intercept from 0 to ~12 (log dollars), adaptive methods (Adam...) most slowly.
    center = y_train.mean()
    return (
        prep.fit_transform(X_train),
        prep.transform(X_test),
        y_train.to_numpy() - center,
        y_test.to_numpy() - center,
    )


def objective(X, y, coef, intercept) -> float:
    """GDRegressor's training objective for the squared loss and the L2 penalty."""
    r = X @ coef + intercept - y
    return 0.5 * np.mean(r**2) + 0.5 * ALPHA * coef @ coef


def runs(epochs: int, seed: int) -> dict[str, dict[str, GDRegressor]]:
    """The configurations to compare (fixed number of epochs: tol=None disables stopping)."""
    common = dict(penalty="l2", alpha=ALPHA, max_iter=epochs, tol=None, random_state=seed)
    mini = dict(batch_size=32, learning_rate="constant", **common)
    optimizers = {
        "sgd (lr 0.01)": GDRegressor(solver="sgd", learning_rate_init=0.01, **mini),
        "momentum": GDRegressor(solver="momentum", learning_rate_init=0.01, **mini),
        "nesterov": GDRegressor(solver="nesterov", learning_rate_init=0.01, **mini),
        "adagrad": GDRegressor(solver="adagrad", learning_rate_init=0.1, **mini),
        "rmsprop": GDRegressor(solver="rmsprop", learning_rate_init=0.001, **mini),
        "adam": GDRegressor(solver="adam", learning_rate_init=0.01, **mini),
        "fista (full batch)": GDRegressor(solver="fista", **common),
    }
    sgd = dict(solver="sgd", batch_size=1, learning_rate_init=0.005, **common)
    schedules = {
        "constant": GDRegressor(learning_rate="constant", **sgd),
        "invscaling": GDRegressor(learning_rate="invscaling", power_t=0.25, **sgd),
        "step (x0.5 / 5 ep)": GDRegressor(learning_rate="step", gamma=0.5, step_size=5, **sgd),
        "exponential (x0.9)": GDRegressor(learning_rate="exponential", gamma=0.9, **sgd),
        "cosine (T_0=10)": GDRegressor(learning_rate="cosine", T_0=10, **sgd),
        "cyclic": GDRegressor(learning_rate="cyclic", max_lr=0.01, step_size=4, **sgd),
        "plateau": GDRegressor(learning_rate="plateau", gamma=0.5, n_iter_no_change=2, **sgd),
    }
    return {"optimizers (mini-batch 32)": optimizers, "schedules (per-sample SGD)": schedules}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="few epochs (smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or Path("runs") / f"lr_schedules-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    epochs = 6 if args.quick else 40

    X_train, X_test, y_train, y_test = load_problem(args.seed)
    exact = Ridge(alpha=ALPHA * len(y_train)).fit(X_train, y_train)  # the same objective, solved
    f_star = objective(X_train, y_train, exact.coef_, exact.intercept_)
    print(
        f"{X_train.shape[0]} training rows x {X_train.shape[1]} features; optimum F* = {f_star:.6f}"
    )

    rows = []
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, (group, models) in zip(axes, runs(epochs, args.seed).items(), strict=True):
        for name, model in models.items():
            start = time.perf_counter()
            try:
                model.fit(X_train, y_train)
            except DivergenceError:
                rows.append({"group": group, "run": name, "status": "diverged"})
                continue
            seconds = time.perf_counter() - start
            gap = np.maximum(np.asarray(model.loss_curve_) - f_star, 1e-12)
            ax.plot(np.arange(1, len(gap) + 1), gap, label=name)
            rmse = float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))
            rows.append({
                "group": group, "run": name, "status": "ok", "epochs": model.n_iter_,
                "final_gap": gap[-1], "test_rmse": rmse, "seconds": seconds,
            })  # fmt: skip
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(group)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("objective - optimum (loss_curve_ - F*)")
    fig.suptitle("GDRegressor on Ames (log price, ridge): distance to the optimum per epoch")
    fig.tight_layout()
    fig.savefig(out / "lr_schedules.png", dpi=120)

    table = pd.DataFrame(rows)
    table.to_csv(out / "lr_schedules.csv", index=False)
    ridge_rmse = float(np.sqrt(np.mean((exact.predict(X_test) - y_test) ** 2)))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"exact ridge solution: test RMSE {ridge_rmse:.4f}")
    print(f"plot: {out / 'lr_schedules.png'}")
    return 0


if __name__ == "__main__":
    # No SystemExit on success: the documentation gallery runs this file in its own process.
    main()
