"""House prices: preprocess, tune, stack and compare against scikit-learn baselines.

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

    python examples/house_prices.py --quick                 # < 2 minutes
    python examples/house_prices.py                         # full run (see the README for timings)
    python examples/house_prices.py --csv train.csv --target SalePrice --test test.csv

Everything is written under ``--out`` (default: a fresh ``runs/house_prices-<timestamp>`` folder).
User errors (a missing target column, a non-positive price, ...) end with a one-line
``error: ...`` message and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

# =================================================================================================
# 1. User errors: one clear line, exit status 2, no traceback
# =================================================================================================


class UserError(Exception):
    """A problem with the user's input (files, columns, values), reported without a traceback."""


def warn(message: str) -> None:
    """Print a one-line warning to stderr (kept apart from the progress display on stdout)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


# =================================================================================================
# 2. Data: the Ames table by default, or the user's CSV (Kaggle "House Prices" layout works as is)
# =================================================================================================

ID_COLUMNS = ("Id", "ID", "id")  # Kaggle's row identifier: not a feature, kept for submissions


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
    notes: list[str] = field(default_factory=list)


def _read_csv(path: str, what: str) -> pd.DataFrame:
    if not os.path.isfile(path):
        raise UserError(f"{what} file not found: {path}")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {what} file {path}: {first_line}") from exc
    if df.shape[0] == 0:
        raise UserError(f"{what} file {path} has no rows")
    return df


def _to_model_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns become ``category`` (as in ``load_ames``) so that pipelines select by dtype."""
    df = df.copy()
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]) and not isinstance(
            df[col].dtype, pd.CategoricalDtype
        ):
            df[col] = df[col].astype("string").astype("category")
        elif pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].astype(float)
    return df


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

    raw = _read_csv(args.csv, "training")
    target = args.target
    if target not in raw.columns:
        close = [c for c in raw.columns if c.lower().replace("_", "") == target.lower().replace("_", "")]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"target column {target!r} not found in {args.csv}{hint}; use --target NAME")
    y = pd.to_numeric(raw.pop(target), errors="coerce")
    if y.isna().all():
        raise UserError(f"target column {target!r} has no numeric values")
    if y.isna().any():
        warn(f"dropping {int(y.isna().sum())} rows whose target {target!r} is missing or not numeric")
        raw, y = raw.loc[y.notna()], y[y.notna()]
    if args.log_target and (y <= 0).any():
        bad = y[y <= 0]
        raise UserError(
            f"target {target!r} has {len(bad)} non-positive value(s) (e.g. {bad.iloc[0]:g} in row "
            f"{bad.index[0] + 2} of the file); the log target needs prices > 0 "
            "(fix the rows, or pass --no-log-target)"
        )
    id_column = next((c for c in ID_COLUMNS if c in raw.columns), None)
    if id_column is not None:
        raw = raw.drop(columns=id_column)
    empty = [c for c in raw.columns if raw[c].isna().all()]
    if empty:
        warn(f"dropping column(s) with no values at all (all NaN): {', '.join(map(repr, empty))}")
        raw = raw.drop(columns=empty)
    if raw.shape[1] == 0:
        raise UserError(f"{args.csv} has no feature columns besides the target")
    if len(raw) < 20:
        raise UserError(f"{args.csv} has only {len(raw)} usable rows; need at least 20 for 5-fold CV")
    X = _to_model_dtypes(raw.reset_index(drop=True))
    data = Dataset(
        X=X,
        y=y.astype(float).reset_index(drop=True).rename(target),
        name=Path(args.csv).name,
        target=target,
        id_column=id_column or "Id",
    )
    if args.test is not None:
        data.X_new, data.new_ids = _load_new(args.test, data, id_column)
    return data


def _load_new(path: str, data: Dataset, id_column: str | None) -> tuple[pd.DataFrame, pd.Series]:
    """Read the table to predict and align it with the training columns and dtypes."""
    new = _read_csv(path, "--test")
    ids = new[id_column] if id_column in new.columns else pd.Series(np.arange(1, len(new) + 1))
    missing = [c for c in data.X.columns if c not in new.columns]
    if missing:
        shown = ", ".join(map(repr, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise UserError(f"--test table {path} lacks {len(missing)} training column(s): {shown}")
    new = new[list(data.X.columns)].copy()
    for col in data.X.columns:
        if isinstance(data.X[col].dtype, pd.CategoricalDtype):
            new[col] = new[col].astype("string").astype("category")
            unseen = sorted(set(new[col].dropna()) - set(data.X[col].dropna()))
            if unseen:
                shown = ", ".join(map(repr, unseen[:5])) + (" ..." if len(unseen) > 5 else "")
                warn(
                    f"--test column {col!r} has {len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'}"
                    f" never seen in training ({shown}); they are encoded as 'unknown'"
                )
        else:
            converted = pd.to_numeric(new[col], errors="coerce")
            bad = new[col][converted.isna() & new[col].notna()]
            if len(bad):
                raise UserError(
                    f"--test column {col!r} is numeric in training but has text values "
                    f"such as {bad.iloc[0]!r}"
                )
            new[col] = converted.astype(float)
    return new.reset_index(drop=True), ids.reset_index(drop=True)


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
            X[name] = X[name].astype("string").astype("category")
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


def linear_preprocessor() -> Pipeline:
    """Domain features, median imputation, log1p of skewed columns, scaling, one-hot categories."""
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
    columns = ColumnTransformer(
        [("num", numeric, _numeric), ("cat", categorical, _categorical)], sparse_threshold=0
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


def log_target(model: BaseEstimator, preprocessor: Pipeline, use_log: bool = True) -> BaseEstimator:
    """Preprocess then model, on the log price: errors in log space are relative errors in dollars."""
    pipe = Pipeline([("prep", preprocessor), ("model", model)])
    if not use_log:
        return pipe
    return TransformedTargetRegressor(regressor=pipe, func=np.log, inverse_func=np.exp)


def rmsle(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error of the log price (the Kaggle House Prices metric)."""
    y_pred = np.clip(np.asarray(y_pred, dtype=float), 1e-9, None)
    return float(np.sqrt(np.mean((np.log(y_true) - np.log(y_pred)) ** 2)))


if __name__ == "__main__":  # pragma: no cover - placeholder while the script is being built
    pass
