"""House prices: the whole tabular workflow
========================================

House prices: preprocess, tune, stack and compare against scikit-learn baselines.

This is the script to read first. It runs the whole tabular workflow on a house-price table:

1. load the Ames data (or your own CSV, e.g. Kaggle's "House Prices" ``train.csv``);
2. build leakage-free preprocessing: everything (imputation, log1p of skewed columns, one-hot or
   ordinal categoricals, domain features) lives inside scikit-learn pipelines, so it is re-fitted
   within every cross-validation fold; the price is modelled on the log scale through a
   ``TransformedTargetRegressor``;
3. tune gradient-descent linear models (``ensemblekit.estimators``) and boosted trees
   (``ensemblekit.ensembles.BoostingRegressor`` on XGBoost and LightGBM) with
   ``ensemblekit.tuning.BayesSearchCV``;
4. stack them (``StackingCVRegressor``) and weight them (``WeightedEnsembleRegressor``);
5. compare everything with plain scikit-learn / XGBoost / LightGBM baselines on the *same* folds,
   and report RMSLE (the RMSE of the log price);
6. save the leaderboard, plots, out-of-fold predictions and the fitted model, and predict new
   houses.

Run it::

    python examples/house_prices.py --quick   # 3 folds, small searches: under 2 min on 2 cores
    python examples/house_prices.py           # 5 folds, full searches: 4.5-13 min on 2 cores
    python examples/house_prices.py --csv train.csv --target SalePrice --test test.csv

Everything is written under ``--out`` (default: a fresh ``runs/house_prices-<timestamp>`` folder).
User errors (a missing target column, a non-positive price, ...) end with a one-line
``error: ...`` message and exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from _common import (  # examples/_common.py: what the main-job examples share
    ArgParser,
    Clock,
    UserError,
    as_category,
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
from lightgbm import LGBMRegressor
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor, make_column_selector
from sklearn.ensemble import StackingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.metrics import make_scorer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    OneHotEncoder,
    OrdinalEncoder,
    SplineTransformer,
    StandardScaler,
)
from tqdm.auto import tqdm
from xgboost import XGBRegressor

from ensemblekit.ensembles import BoostingRegressor, StackingCVRegressor, WeightedEnsembleRegressor
from ensemblekit.estimators import GDElasticNet, GDHuberRegressor
from ensemblekit.tuning import BayesSearchCV, Integer, Real

# =================================================================================================
# 1. User errors (UserError, warn in _common.py): one clear line, exit status 2, no traceback
# =================================================================================================

# =================================================================================================
# 2. Data: the Ames table by default, or the user's CSV (Kaggle "House Prices" layout works as is)
# =================================================================================================

@dataclass
class Dataset:
    """A validated training table, and optionally a table to predict."""

    X: pd.DataFrame
    y: pd.Series
    name: str
    target: str
    X_new: pd.DataFrame | None = None
    new_ids: pd.Series | None = None
    id_column: str = "Id"


def load_data(args: argparse.Namespace) -> Dataset:
    """Load and validate the training table (and the ``--test`` table) before any model is fitted.

    Every check that can fail on the user's input runs here, up front, so that a typo costs seconds
    rather than a full run.
    """
    if args.csv is None:
        if args.test is not None:
            raise UserError("--test needs --csv (the training table it should match)")
        from ensemblekit.datasets import load_ames

        X, y = load_ames()
        return Dataset(X=X, y=y, name="Ames (modeldata/ames, 2,930 sales)", target="Sale_Price")

    raw = read_csv(args.csv, "training")
    target = args.target
    if target not in raw.columns:
        close = [c for c in raw.columns if _key(c) == _key(target)]
        hint = f" (did you mean --target {close[0]}?)" if close else " (use --target NAME)"
        raise UserError(f"target column {target!r} not found in {args.csv}{hint}")
    y = pd.to_numeric(raw.pop(target), errors="coerce")
    if y.isna().all():
        raise UserError(f"target column {target!r} has no numeric values")
    if y.isna().any():
        n_bad = int(y.isna().sum())
        warn(f"dropping {n_bad} rows whose target {target!r} is missing or not numeric")
        raw, y = raw.loc[y.notna()], y[y.notna()]
    if args.log_target and (y <= 0).any():
        bad = y[y <= 0]
        raise UserError(
            f"target {target!r} has {len(bad)} non-positive value(s) (e.g. {bad.iloc[0]:g} in row "
            f"{bad.index[0] + 2} of the file); the log target needs prices > 0 "
            "(fix the rows, or pass --no-log-target)"
        )
    X, id_column = feature_table(raw, args.csv)
    data = Dataset(
        X=X,
        y=y.astype(float).reset_index(drop=True).rename(target),
        name=Path(args.csv).name,
        target=target,
        id_column=id_column or "Id",
    )
    if args.test is not None:
        data.X_new, data.new_ids = load_new_table(args.test, data.X, id_column)
    return data


# =================================================================================================
# 3. Domain features: stateless, row by row, so they cannot leak information across folds
# =================================================================================================


def _key(name: str) -> str:
    """Normalise a column name so that Ames (``First_Flr_SF``) and Kaggle (``1stFlrSF``) match."""
    key = re.sub(r"[^a-z0-9]", "", str(name).lower())
    for word, digit in (("first", "1st"), ("second", "2nd"), ("threeseason", "3ssn")):
        key = key.replace(word, digit)
    return key.replace("yearsold", "yrsold").replace("porchsf", "porch")


# The same quantity has different names in the two layouts; each entry lists the keys to look for.
_COLUMNS = {
    "bsmt": ("totalbsmtsf",),
    "first": ("1stflrsf",),
    "second": ("2ndflrsf",),
    "built": ("yearbuilt",),
    "remod": ("yearremodadd",),
    "sold": ("yrsold",),
    "month": ("mosold",),
    "full": ("fullbath",),
    "half": ("halfbath",),
    "bsmt_full": ("bsmtfullbath",),
    "bsmt_half": ("bsmthalfbath",),
    "porches": ("openporch", "enclosedporch", "3ssnporch", "screenporch", "wooddecksf"),
}

# Quality / condition ratings: words in both layouts, mapped to their natural order.
_RATING = {
    "ex": 5, "excellent": 5, "gd": 4, "good": 4, "ta": 3, "typical": 3, "average": 3,
    "fa": 2, "fair": 2, "po": 1, "poor": 1,
}  # fmt: skip
_RATING_10 = {  # Ames spells Overall_Cond / Overall_Qual out in words (Kaggle uses 1-10)
    "veryexcellent": 10, "excellent": 9, "verygood": 8, "good": 7, "aboveaverage": 6,
    "average": 5, "belowaverage": 4, "fair": 3, "poor": 2, "verypoor": 1,
}  # fmt: skip
_RATED = {
    "exterqual", "extercond", "bsmtqual", "bsmtcond", "heatingqc", "kitchenqual",
    "fireplacequ", "garagequal", "garagecond", "poolqc",
}  # fmt: skip
# Integer codes that are really categories (Kaggle's MSSubClass: 20, 60, 120, ...).
_CODED = {"mssubclass"}


def add_domain_features(X: pd.DataFrame) -> pd.DataFrame:
    """Add a few house-price features a practitioner would compute by hand.

    Each feature is computed from the row alone (no statistics of the table), so this step is safe
    to run before the folds are split; columns that are absent (another data set) are skipped.

    - ``Total_SF``: basement + first + second floor area, the single strongest size signal;
    - ``Age_At_Sale`` and ``Years_Since_Remodel``;
    - ``Total_Baths``: full baths + half of the half baths, above ground and in the basement;
    - ``Total_Porch_SF``: all porches and the wood deck;
    - ``Sold_Time``: year + month of the sale, to follow the 2008 market dip;
    - ``<rating>_Score``: quality/condition words (Ex/Gd/TA/..., Excellent/Good/...) as numbers, so
      that linear models see their order (the one-hot columns keep the rest).
    """
    X = X.copy()
    by_key = {_key(c): c for c in X.columns}

    def col(*keys: str) -> list[pd.Series] | None:
        found = [by_key.get(k) for k in keys]
        if any(f is None for f in found):
            return None
        return [pd.to_numeric(X[f], errors="coerce").astype(float) for f in found]

    def add(name: str, values: pd.Series | None) -> None:
        if values is not None and name not in X.columns:
            X[name] = values

    c = _COLUMNS
    parts = col(*c["bsmt"], *c["first"], *c["second"])
    add("Total_SF", None if parts is None else parts[0].fillna(0) + parts[1] + parts[2])
    sold = col(*c["sold"])
    if sold is not None:
        built, remod = col(*c["built"]), col(*c["remod"])
        add("Age_At_Sale", None if built is None else (sold[0] - built[0]).clip(lower=0))
        add("Years_Since_Remodel", None if remod is None else (sold[0] - remod[0]).clip(lower=0))
        month = col(*c["month"])
        add("Sold_Time", None if month is None else sold[0] + (month[0] - 1) / 12)
    baths = col(*c["full"], *c["half"], *c["bsmt_full"], *c["bsmt_half"])
    if baths is not None:
        full, half, bfull, bhalf = (b.fillna(0) for b in baths)
        add("Total_Baths", full + 0.5 * half + bfull + 0.5 * bhalf)
    porches = col(*c["porches"])
    add("Total_Porch_SF", None if porches is None else sum(p.fillna(0) for p in porches))

    for key, name in by_key.items():
        if key in _RATED or (key in ("overallqual", "overallcond") and not _is_numeric(X[name])):
            scale = _RATING if key in _RATED else _RATING_10
            words = X[name].astype("string").str.lower().str.replace(r"[^a-z]", "", regex=True)
            add(f"{name}_Score", words.map(scale).astype(float).fillna(0.0))  # none -> 0
        elif key in _CODED and _is_numeric(X[name]):
            X[name] = as_category(X[name])
    return X


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype)


# =================================================================================================
# 4. Preprocessing pipelines (fitted inside each fold)
# =================================================================================================


class SkewedLog1p(TransformerMixin, BaseEstimator):
    """``log1p`` the non-negative numeric columns whose skewness exceeds ``threshold``.

    Which columns are skewed is learned in ``fit`` (on the training fold only); areas and prices are
    typically right-skewed, and linear models fit them much better on the log scale.
    """

    def __init__(self, threshold: float = 0.75):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        centered = X - X.mean(axis=0)
        std = X.std(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            skew = (centered**3).mean(axis=0) / std**3
        self.skewed_ = (np.nan_to_num(skew) > self.threshold) & (X.min(axis=0) >= 0)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        X = np.array(X, dtype=float)
        X[:, self.skewed_] = np.log1p(np.clip(X[:, self.skewed_], 0, None))
        return X

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


_numeric = make_column_selector(dtype_include="number")
_categorical = make_column_selector(dtype_include="category")


class DomainFeatures(TransformerMixin, BaseEstimator):
    """Scikit-learn wrapper of :func:`add_domain_features` (stateless; fit only records names)."""

    def fit(self, X: pd.DataFrame, y=None):
        if not isinstance(X, pd.DataFrame):
            raise TypeError("DomainFeatures needs a pandas DataFrame (it finds columns by name)")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.feature_names_out_ = np.asarray(add_domain_features(X.head(2)).columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return add_domain_features(X)

    def get_feature_names_out(self, input_features=None):
        return self.feature_names_out_


# Sizes, ages and location: prices respond to them non-linearly (and a handful of huge houses
# sold cheaply would otherwise pull a straight line far out). Linear models get spline bases of
# these columns, wherever present.
_SPLINED = {"totalsf", "grlivarea", "lotarea", "ageatsale", "yearssinceremodel", "latitude",
            "longitude"}  # fmt: skip


def _splined(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if _key(c) in _SPLINED and _is_numeric(X[c])]


def linear_preprocessor() -> Pipeline:
    """Domain features, imputation, log1p of skewed columns, scaling, splines, one-hot categories.

    The splines (cubic B-splines, knots at quantiles of the training fold) let a linear model
    bend with size, age and location; ``extrapolation="constant"`` keeps their effect flat beyond
    the training range, so a house larger than any seen is not extrapolated to an absurd price.
    """
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("log1p", SkewedLog1p()),
            ("scale", StandardScaler()),
        ]
    )
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            # Unseen categories in new data give an all-zero row instead of an error.
            ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=3)),
        ]
    )
    splines = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("log1p", SkewedLog1p()),
            ("spline", SplineTransformer(n_knots=6, knots="quantile", extrapolation="constant")),
            ("scale", StandardScaler()),
        ]
    )
    columns = ColumnTransformer(
        [
            ("num", numeric, _numeric),
            ("spline", splines, _splined),
            ("cat", categorical, _categorical),
        ],
        sparse_threshold=0,
    )
    return Pipeline([("features", DomainFeatures()), ("columns", columns)])


def tree_preprocessor() -> Pipeline:
    """Domain features and ordinal-coded categories; boosters handle missing values natively."""
    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    columns = ColumnTransformer(
        [("num", "passthrough", _numeric), ("cat", ordinal, _categorical)], sparse_threshold=0
    )
    return Pipeline([("features", DomainFeatures()), ("columns", columns)])


def rmsle(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error of the log price (the Kaggle House Prices metric)."""
    y_pred = np.clip(np.asarray(y_pred, dtype=float), 1e-9, None)
    return float(np.sqrt(np.mean((np.log(y_true) - np.log(y_pred)) ** 2)))


RMSLE_SCORER = make_scorer(rmsle, greater_is_better=False)


# =================================================================================================
# 5. Models: scikit-learn baselines, and ensemblekit's tuned members and ensembles
# =================================================================================================


@dataclass(frozen=True)
class Budget:
    """How much work each stage gets; ``--quick`` trades accuracy for a run under two minutes."""

    n_iter_linear: int  # BayesSearchCV trials per linear model (each trial: one fit per fold)
    n_iter_trees: int  # ... per booster
    n_initial_points: int  # random trials before the Gaussian process takes over
    learning_rate: float  # boosters: fixed small rate and a fixed number of trees
    n_trees: int
    inner_cv: int  # folds the ensembles use, inside each outer fold, for their OOF predictions


FULL = Budget(n_iter_linear=12, n_iter_trees=16, n_initial_points=6, learning_rate=0.05,
              n_trees=800, inner_cv=5)  # fmt: skip
# --quick also uses 3 outer folds instead of 5 and skips the control row (see baselines()).
QUICK = Budget(n_iter_linear=4, n_iter_trees=4, n_initial_points=2, learning_rate=0.15,
               n_trees=150, inner_cv=2)  # fmt: skip


@dataclass
class Candidate:
    """A member of the ensembles: preprocessing + model on the log price, and its search space."""

    name: str
    member: Pipeline
    space: dict[str, Any]
    n_iter: int


def candidates(budget: Budget, args: argparse.Namespace) -> list[Candidate]:
    """The four tuned members: two regularised linear models and two boosters.

    - ``GDElasticNet``: the squared loss with L1 + L2 penalties on one-hot / scaled features.
    - ``GDHuberRegressor``: a robust loss. Ames has a few partial sales of very large houses at
      low prices; the Huber loss caps their pull on the coefficients.
    - ``BoostingRegressor`` on XGBoost and on LightGBM with a small fixed learning rate and a
      fixed number of trees. Early stopping (``BoostingRegressor``'s default) is switched off: on
      2,300 training rows its 10% stopping slice is noisy and costs 10% of the data; with row and
      column subsampling, a few hundred extra trees at rate 0.05 barely overfit. One thread
      each: on a small machine, parallel folds beat parallel threads.
    """
    seed = args.seed

    def booster(backend: str) -> BoostingRegressor:
        return BoostingRegressor(
            backend, device=args.device, n_estimators=budget.n_trees,
            learning_rate=budget.learning_rate, early_stopping=False, n_jobs=1,
            random_state=seed,
        )  # fmt: skip

    tree_space = {
        "model__subsample": Real(0.5, 1.0),
        "model__colsample_bytree": Real(0.2, 0.8),
        "model__min_child_weight": Real(1.0, 20.0, prior="log-uniform"),
        "model__reg_lambda": Real(1e-2, 30.0, prior="log-uniform"),
    }
    return [
        Candidate(
            "GDElasticNet",
            Pipeline([("prep", linear_preprocessor()), ("model", GDElasticNet(max_iter=5000))]),
            {
                "model__alpha": Real(1e-5, 1e-1, prior="log-uniform"),
                "model__l1_ratio": Real(0.05, 1.0),
            },
            budget.n_iter_linear,
        ),
        Candidate(
            "GDHuberRegressor",
            Pipeline([("prep", linear_preprocessor()), ("model", GDHuberRegressor())]),
            {
                "model__epsilon": Real(1.0, 3.0),
                "model__alpha": Real(1e-2, 1e3, prior="log-uniform"),
            },
            budget.n_iter_linear,
        ),
        Candidate(
            "Boosting[xgboost]",
            Pipeline([("prep", tree_preprocessor()), ("model", booster("xgboost"))]),
            {"model__max_depth": Integer(2, 6), **tree_space},
            budget.n_iter_trees,
        ),
        Candidate(
            "Boosting[lightgbm]",
            Pipeline([("prep", tree_preprocessor()), ("model", booster("lightgbm"))]),
            {"model__num_leaves": Integer(4, 48, prior="log-uniform"), **tree_space},
            budget.n_iter_trees,
        ),
    ]


def baselines(
    members: list[tuple[str, Pipeline]], inner_cv: KFold, control: bool = True
) -> dict[str, tuple[str, Any]]:
    """What a scikit-learn user would write first, with library defaults (same preprocessing).

    Returns ``name -> (kind, model)``. With ``control``, a last entry that is a control rather
    than a baseline: scikit-learn's stacker over *our tuned* members, which isolates what the
    stacker itself adds (skipped by ``--quick``, to save time).
    """
    default_members = [
        ("ridgecv", Pipeline([("prep", linear_preprocessor()), ("model", RidgeCV(ALPHAS))])),
        ("xgb", Pipeline([("prep", tree_preprocessor()), ("model", XGBRegressor(n_jobs=1))])),
        ("lgbm", Pipeline([("prep", tree_preprocessor()), ("model", LGBMRegressor(n_jobs=1,
                                                                                  verbose=-1))])),
    ]  # fmt: skip
    # final_estimator spelled out: RidgeCV() is scikit-learn's default, but with None its
    # predict() stays hidden until fitted, which TransformedTargetRegressor rejects.
    models = {
        "RidgeCV (sklearn)": ("baseline", default_members[0][1]),
        "XGBRegressor() defaults": ("baseline", default_members[1][1]),
        "LGBMRegressor() defaults": ("baseline", default_members[2][1]),
        "StackingRegressor (sklearn) of the 3 above": (
            "baseline",
            StackingRegressor(default_members, final_estimator=RidgeCV(), cv=inner_cv),
        ),
    }
    if control:
        models["StackingRegressor (sklearn) of our members"] = (
            "control",
            StackingRegressor(members, final_estimator=RidgeCV(), cv=inner_cv),
        )
    return models


ALPHAS = np.logspace(-2, 3, 30)


def ensembles(members: list[tuple[str, Pipeline]], inner_cv: KFold) -> dict[str, BaseEstimator]:
    """Our two ensembles over the tuned members, blending on the log scale (geometric means).

    Both cross-fit the members on ``inner_cv`` (inside each outer training fold), learn the
    combination on those out-of-fold predictions, then refit the members on all the rows they are
    given (``refit="full"``; ``"average"``, which keeps the fold models, was 0.001 worse here:
    on 2,300 rows, training on 4/5 of them costs more than bagging gains).
    """
    return {
        "StackingCVRegressor": StackingCVRegressor(members, cv=inner_cv, n_jobs=1),
        "WeightedEnsemble[simplex]": WeightedEnsembleRegressor(
            members, method="simplex", cv=inner_cv, n_jobs=1
        ),
    }


def tune(
    cand: Candidate,
    data: Dataset,
    folds: KFold,
    n_initial_points: int,
    args: argparse.Namespace,
    out: Path,
) -> BayesSearchCV:
    """Bayesian search of one member's hyperparameters, scored by RMSLE on the outer folds.

    Note: the leaderboard then evaluates the tuned member on these same folds, so its score is
    slightly optimistic (the usual selection bias of tuning by CV; nested CV would cost 5x more).
    The trials are appended to a JSONL file: rerunning with the same ``--out`` resumes the search.
    """
    prefix = "regressor__" if args.log_target else ""
    search = BayesSearchCV(
        log_target(cand.member, args.log_target),
        {prefix + k: v for k, v in cand.space.items()},
        n_iter=cand.n_iter,
        n_initial_points=n_initial_points,
        cv=folds,
        scoring=RMSLE_SCORER,
        n_jobs=args.n_jobs,
        n_points=2,  # proposals depend on n_points, not n_jobs: same trials on any machine
        random_state=args.seed,
        storage=str(out / "searches" / f"{slug(cand.name)}.jsonl"),
    )
    search.fit(data.X, data.y)
    return search


def log_target(model: BaseEstimator, use_log: bool = True) -> BaseEstimator:
    """Model the log price: errors on the log scale are relative errors on the price."""
    if not use_log:
        return model
    return TransformedTargetRegressor(regressor=model, func=np.log, inverse_func=np.exp)


# =================================================================================================
# 6. Evaluation: every model on the same folds, fitted from scratch in each fold
# =================================================================================================


@dataclass
class Result:
    name: str
    kind: str  # "baseline", "control" or "ensemblekit"
    scores: np.ndarray  # RMSLE per outer fold
    fit_times: np.ndarray  # seconds per fold (fit only)
    oof: np.ndarray  # out-of-fold predictions of the price
    tune_time: float = 0.0


def _fit_predict(model, X, y, train, test):
    model = clone(model)
    start = time.perf_counter()
    model.fit(X.iloc[train], y.iloc[train])
    fit_time = time.perf_counter() - start
    return test, model.predict(X.iloc[test]), fit_time


def cross_validate(
    name: str, kind: str, model: BaseEstimator, data: Dataset, folds: KFold, n_jobs: int
) -> Result:
    """Out-of-fold predictions and per-fold RMSLE; preprocessing is re-fitted inside each fold."""
    splits = list(folds.split(data.X))
    oof = np.full(len(data.y), np.nan)
    scores, times = np.zeros(len(splits)), np.zeros(len(splits))
    jobs = (delayed(_fit_predict)(model, data.X, data.y, tr, te) for tr, te in splits)
    runs = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    # A bar in a terminal; nothing in a log file (disable=None), where the lines below suffice.
    bar = tqdm(runs, total=len(splits), desc=f"  {name}", unit="fold", leave=False, disable=None)
    for i, (test, pred, fit_time) in enumerate(bar):
        oof[test] = pred
        scores[i] = rmsle(data.y.iloc[test], pred)
        times[i] = fit_time
    return Result(name, kind, scores, times, oof)


def leaderboard_frame(results: list[Result]) -> pd.DataFrame:
    rows = []
    for r in results:
        row = {
            "model": r.name,
            "kind": r.kind,
            "rmsle_mean": r.scores.mean(),
            "rmsle_std": r.scores.std(),
            "fit_time_s": r.fit_times.mean(),
            "tune_time_s": r.tune_time,
        }
        row.update({f"fold{i + 1}": s for i, s in enumerate(r.scores)})
        rows.append(row)
    board = pd.DataFrame(rows).sort_values("rmsle_mean", kind="stable").reset_index(drop=True)
    board.index = board.index + 1
    board.index.name = "rank"
    return board


def format_leaderboard(board: pd.DataFrame) -> str:
    """A Markdown table (paste it into an issue or a README)."""
    lines = [
        "| rank | model | kind | CV RMSLE (mean ± std) | fit time / fold | tuning time |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for rank, r in board.iterrows():
        tuning = f"{r.tune_time_s:.0f} s" if r.tune_time_s > 0 else "-"
        lines.append(
            f"| {rank} | {r.model} | {r.kind} | {r.rmsle_mean:.4f} ± {r.rmsle_std:.4f} "
            f"| {r.fit_time_s:.2f} s | {tuning} |"
        )
    return "\n".join(lines)


# =================================================================================================
# 7. Outputs: files are written whole (_common.write_atomic), so an interrupted or failed run
#    never leaves a half-written file behind
# =================================================================================================


def plot_leaderboard(board: pd.DataFrame, path: Path) -> Path:
    plt = pyplot()
    board = board.iloc[::-1]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(board) + 1.8))
    palette = {"ensemblekit": "#1f77b4", "baseline": "#a0a0a0", "control": "#e8a33d"}
    colors = [palette.get(k, "#a0a0a0") for k in board.kind]
    ax.barh(board.model, board.rmsle_mean, xerr=board.rmsle_std, color=colors, capsize=3)
    for i, (mean, std) in enumerate(zip(board.rmsle_mean, board.rmsle_std, strict=True)):
        ax.text(mean + std, i, f"  {mean:.4f}", va="center", ha="left", fontsize=8)
    low = max(0.0, (board.rmsle_mean - 2 * board.rmsle_std).min() * 0.9)
    ax.set_xlim(low, (board.rmsle_mean + board.rmsle_std).max() * 1.1)
    ax.set_xlabel(
        "CV RMSLE, mean ± std over folds (lower is better)\n"
        "blue: ensemblekit   grey: baselines   orange: sklearn's stacker on our tuned members"
    )
    ax.set_title("House prices leaderboard")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_predicted_vs_actual(result: Result, y: pd.Series, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(y, result.oof, s=6, alpha=0.4)
    lims = [min(y.min(), np.nanmin(result.oof)), max(y.max(), np.nanmax(result.oof))]
    ax.plot(lims, lims, color="C3", lw=1, label="perfect prediction")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.minorticks_off()  # log-axis minor labels overlap; label round prices instead
    ticks = [t for t in (25e3, 50e3, 100e3, 200e3, 400e3, 800e3) if lims[0] <= t <= lims[1] * 1.1]
    labels = [f"${t / 1e3:.0f}k" for t in ticks]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("actual price")
    ax.set_ylabel("out-of-fold predicted price")
    ax.set_title(f"{result.name}\nout-of-fold predictions, CV RMSLE {result.scores.mean():.4f}")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_learning_curve(search: BayesSearchCV, name: str, path: Path) -> Path:
    """Objective per iteration of the tuned gradient-descent model refitted on all rows."""
    plt = pyplot()
    best = search.best_estimator_
    pipe = best.regressor_ if isinstance(best, TransformedTargetRegressor) else best
    curve = np.asarray(pipe.named_steps["model"].loss_curve_)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(1, len(curve) + 1), curve)
    ax.set_yscale("log")
    ax.set_xlabel("iteration (FISTA)")
    ax.set_ylabel("training objective (loss_curve_)")
    ax.set_title(f"{name} learning curve ({len(curve)} iterations, tuned parameters)")
    fig.tight_layout()
    return save_figure(fig, path)


# =================================================================================================
# 8. The run
# =================================================================================================


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgParser(description=__doc__.split("\n\n")[1] if __doc__ else None,
                  formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small searches and ensembles (< 2 min)")
    p.add_argument("--csv", help="training table (default: the Ames data, offline)")
    p.add_argument(
        "--target", default="SalePrice", help="target column of --csv\n(default: %(default)s)"
    )
    p.add_argument("--test", help="table to predict; writes submission.csv (Id,<target>)")
    p.add_argument("--no-log-target", dest="log_target", action="store_false",
                   help="model the price itself instead of its logarithm")  # fmt: skip
    run_options(p, "house_prices")
    return checked_run_options(p.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    clock = Clock()
    budget = QUICK if args.quick else FULL
    data = load_data(args)  # all input checks happen here, before anything is written
    out = make_out_dir(args.out, "house_prices")
    clock(f"data: {data.name}, {data.X.shape[0]} rows x {data.X.shape[1]} columns; output: {out}")
    info = {
        "data": data.name, "rows": int(data.X.shape[0]), "columns": int(data.X.shape[1]),
        "target": data.target, "quick": args.quick, "folds": args.folds, "seed": args.seed,
        "log_target": args.log_target, "budget": budget.__dict__,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }  # fmt: skip
    write_json(out / "run.json", info)

    folds = KFold(args.folds, shuffle=True, random_state=args.seed)
    inner = KFold(budget.inner_cv, shuffle=True, random_state=args.seed)
    results: list[Result] = []
    board_path = out / "leaderboard.csv"

    def record(result: Result) -> None:
        results.append(result)
        board = leaderboard_frame(results)  # rewritten after every model: always a valid file
        write_atomic(board_path, lambda tmp: board.to_csv(tmp, float_format="%.6f"))
        clock(
            f"{result.name:<44} CV RMSLE {result.scores.mean():.4f} ± {result.scores.std():.4f}"
            f"  (fit {result.fit_times.mean():.1f} s/fold)"
        )

    # --- tune the members -------------------------------------------------------------------
    searches: dict[str, BayesSearchCV] = {}
    members: list[tuple[str, Pipeline]] = []
    tune_times: dict[str, float] = {}
    best_params: dict[str, dict] = {}
    prefix = "regressor__" if args.log_target else ""
    for cand in candidates(budget, args):
        clock(f"tuning {cand.name}: BayesSearchCV, {cand.n_iter} trials x {args.folds} folds")
        start = time.perf_counter()
        search = tune(cand, data, folds, budget.n_initial_points, args, out)
        tune_times[cand.name] = time.perf_counter() - start
        params = {k.removeprefix(prefix): v for k, v in search.best_params_.items()}
        best_params[cand.name] = params
        members.append((slug(cand.name), clone(cand.member).set_params(**params)))
        searches[cand.name] = search
        clock(f"tuned {cand.name}: best trial RMSLE {-search.best_score_:.4f}  "
              f"{short_params(params)}")
    write_json(out / "best_params.json", best_params)

    # --- cross-validate everything on the same folds ----------------------------------------
    clock(f"cross-validating every model on the same {args.folds} shuffled folds")
    for name, (kind, model) in baselines(members, inner, control=not args.quick).items():
        record(
            cross_validate(name, kind, log_target(model, args.log_target), data, folds, args.n_jobs)
        )
    for (_, member), cand_name in zip(members, best_params, strict=True):
        result = cross_validate(cand_name, "ensemblekit", log_target(member, args.log_target),
                                data, folds, args.n_jobs)  # fmt: skip
        result.tune_time = tune_times[cand_name]
        record(result)
    final_models = ensembles(members, inner)
    for name, model in final_models.items():
        record(cross_validate(name, "ensemblekit", log_target(model, args.log_target), data, folds,
                              args.n_jobs))  # fmt: skip

    board = leaderboard_frame(results)
    print("\n" + format_leaderboard(board) + "\n", flush=True)
    best_ours = min((r for r in results if r.name in final_models), key=lambda r: r.scores.mean())
    best_base = min((r for r in results if r.kind == "baseline"), key=lambda r: r.scores.mean())
    verdict = "better" if best_ours.scores.mean() < best_base.scores.mean() else "NOT better"
    clock(
        f"best ensemble {best_ours.name} ({best_ours.scores.mean():.4f}) is {verdict} than the best"
        f" baseline {best_base.name} ({best_base.scores.mean():.4f})"
    )
    for control in (r for r in results if r.kind == "control"):
        clock(
            f"control: {control.name} scores {control.scores.mean():.4f}; with the same tuned "
            "members the stacker matters little, the members' tuning and features do"
        )
    oof = pd.DataFrame({"actual": data.y, **{r.name: r.oof for r in results}})
    write_atomic(out / "oof_predictions.csv", lambda tmp: oof.to_csv(tmp, index_label="row"))

    # --- plots ---------------------------------------------------------------------------------
    if args.plots:
        plot_leaderboard(board, out / "leaderboard.png")
        plot_predicted_vs_actual(best_ours, data.y, out / "predicted_vs_actual.png")
        plot_learning_curve(searches["GDElasticNet"], "GDElasticNet", out / "learning_curve.png")
        plot_search_histories(searches, "- RMSLE (higher is better)",
                              out / "search_history.png")
        clock("plots written")

    # --- the final model: the best ensemble refitted on every row ------------------------------
    final = log_target(final_models[best_ours.name], args.log_target)
    clock(f"refitting {best_ours.name} on all {len(data.y)} rows")
    final.fit(data.X, data.y)
    model_path = write_atomic(out / "model.joblib", lambda tmp: joblib.dump(final, tmp))
    clock(f"saved the fitted model to {model_path}")
    predict_new_houses(model_path, data, out, clock)
    info.update(
        best_model=best_ours.name, best_rmsle=float(best_ours.scores.mean()),
        best_baseline=best_base.name, best_baseline_rmsle=float(best_base.scores.mean()),
        wall_time_s=round(time.perf_counter() - clock.start, 1),
    )  # fmt: skip
    write_json(out / "run.json", info)
    clock(f"done: outputs in {out}/")
    return 0


def predict_new_houses(model_path: Path, data: Dataset, out: Path, clock: Clock) -> None:
    """Reload the saved model, as a user would, and predict new houses."""
    model = joblib.load(model_path)
    if data.X_new is not None:
        pred = model.predict(data.X_new)
        sub = pd.DataFrame({data.id_column: data.new_ids, data.target: pred})
        path = write_atomic(out / "submission.csv", lambda tmp: sub.to_csv(tmp, index=False))
        clock(f"predicted {len(sub)} houses from --test: {path}")
        return
    # No --test table: show the round trip on a few known houses (in-sample, for illustration;
    # the leaderboard above is the honest estimate of the error on new houses).
    sample = data.X.head(5)
    shown = pd.DataFrame({"actual": data.y.head(5), "predicted": model.predict(sample).round(0)})
    clock("the saved model on five known houses (in-sample):\n" + shown.to_string())


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one ``error: ...`` line and exit status 2."""
    warnings.filterwarnings("ignore", message=".*X does not have valid feature names.*")
    return main_entry(parse_args, run, argv)


if __name__ == "__main__":
    # Run through the importable module "house_prices" rather than "__main__", so that the pickled
    # model refers to house_prices.DomainFeatures etc. and joblib.load works from other scripts
    # (with examples/ on sys.path).
    import house_prices

    sys.exit(house_prices.main())
