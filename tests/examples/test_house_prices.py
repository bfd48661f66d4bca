"""Tests of examples/house_prices.py: end to end (``--quick``), Kaggle layout, bad input."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _example_helpers import assert_user_error, run_example

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPT = EXAMPLES / "house_prices.py"


def _load_module():
    """Import the example as the module ``house_prices`` (as the script itself does)."""
    if str(EXAMPLES) not in sys.path:  # the script imports examples/_common.py
        sys.path.insert(0, str(EXAMPLES))
    if "house_prices" in sys.modules:
        return sys.modules["house_prices"]
    spec = importlib.util.spec_from_file_location("house_prices", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["house_prices"] = module
    spec.loader.exec_module(module)
    return module


hp = _load_module()


def run_script(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_example(SCRIPT.name, *args, cwd=cwd, timeout=timeout)


def make_kaggle_table(n: int, seed: int, with_target: bool = True, first_id: int = 1):
    """A small synthetic table in the layout of Kaggle's House Prices ``train.csv``/``test.csv``.

    Same column names and conventions (``Id``, ``1stFlrSF``, ``YrSold``, integer ``MSSubClass``
    codes, ``Ex/Gd/TA/Fa`` ratings, "NA" for no basement, missing ``LotFrontage``), with a price
    that depends on the usual drivers so that a model has something to learn.
    """
    rng = np.random.default_rng(seed)
    qual = rng.integers(3, 10, n)
    first = rng.normal(1100, 250, n).clip(500).round()
    second = np.where(rng.random(n) < 0.4, rng.normal(700, 200, n).clip(200), 0).round()
    bsmt = np.where(rng.random(n) < 0.9, rng.normal(1000, 300, n).clip(300), 0).round()
    built = rng.integers(1900, 2009, n)
    sold = rng.integers(2006, 2011, n)
    hood = rng.choice(["NAmes", "CollgCr", "OldTown", "Edwards", "Somerst"], n)
    kitchen = np.array(["Fa", "TA", "Gd", "Ex"])[np.clip((qual - 3) // 2, 0, 3)]
    df = pd.DataFrame(
        {
            "Id": np.arange(first_id, first_id + n),
            "MSSubClass": rng.choice([20, 60, 50, 120], n),
            "MSZoning": rng.choice(["RL", "RM", "FV"], n, p=[0.7, 0.2, 0.1]),
            "LotFrontage": np.where(rng.random(n) < 0.15, np.nan, rng.normal(70, 15, n).round()),
            "LotArea": rng.lognormal(9.1, 0.4, n).round(),
            "Neighborhood": hood,
            "OverallQual": qual,
            "OverallCond": rng.integers(3, 9, n),
            "YearBuilt": built,
            "YearRemodAdd": np.maximum(built, rng.integers(1950, 2010, n)),
            "ExterQual": kitchen,
            "BsmtQual": np.where(bsmt > 0, kitchen, "NA"),
            "TotalBsmtSF": bsmt,
            "1stFlrSF": first,
            "2ndFlrSF": second,
            "GrLivArea": first + second,
            "BsmtFullBath": (bsmt > 0) * rng.integers(0, 2, n),
            "BsmtHalfBath": 0,
            "FullBath": rng.integers(1, 3, n),
            "HalfBath": rng.integers(0, 2, n),
            "KitchenQual": kitchen,
            "GarageCars": rng.integers(0, 4, n),
            "WoodDeckSF": rng.choice([0, 120, 200], n),
            "OpenPorchSF": rng.choice([0, 40, 60], n),
            "EnclosedPorch": 0,
            "3SsnPorch": 0,
            "ScreenPorch": rng.choice([0, 0, 0, 150], n),
            "MoSold": rng.integers(1, 13, n),
            "YrSold": sold,
            "SaleCondition": rng.choice(["Normal", "Abnorml", "Partial"], n, p=[0.8, 0.1, 0.1]),
        }
    )
    if with_target:
        log_price = (
            10.4
            + 0.09 * qual
            + 0.00035 * (first + second + 0.5 * bsmt)
            + 0.002 * (built - 1950)
            + 0.04 * df["GarageCars"]
            + rng.normal(0, 0.08, n)
        )
        df["SalePrice"] = np.exp(log_price).round()
    return df


# -------------------------------------------------------------------------------------------------
# End to end (subprocess, as a user runs it)
# -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_run_on_ames_end_to_end(tmp_path):
    out = tmp_path / "run"
    proc = run_script("--quick", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for name in (
        "leaderboard.csv",
        "leaderboard.png",
        "predicted_vs_actual.png",
        "learning_curve.png",
        "search_history.png",
        "oof_predictions.csv",
        "best_params.json",
        "run.json",
        "model.joblib",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    board = pd.read_csv(out / "leaderboard.csv")
    expected = {
        "RidgeCV (sklearn)",
        "XGBRegressor() defaults",
        "LGBMRegressor() defaults",
        "StackingRegressor (sklearn) of the 3 above",
        "GDElasticNet",
        "GDHuberRegressor",
        "Boosting[xgboost]",
        "Boosting[lightgbm]",
        "StackingCVRegressor",
        "WeightedEnsemble[simplex]",
    }
    assert set(board["model"]) == expected
    kinds = board.set_index("model")["kind"]
    assert (
        kinds["RidgeCV (sklearn)"] == "baseline" and kinds["StackingCVRegressor"] == "ensemblekit"
    )
    assert kinds["StackingRegressor (sklearn) of the 3 above"] == "baseline"
    assert np.isfinite(board["rmsle_mean"]).all()
    assert (board[["fold1", "fold2", "fold3"]] > 0).all().all()  # --quick: 3 folds
    assert board["rmsle_mean"].min() < 0.16
    ensembles = board[board["model"].isin(["StackingCVRegressor", "WeightedEnsemble[simplex]"])]
    assert ensembles["rmsle_mean"].max() < 0.16
    # The out-of-fold predictions reproduce the leaderboard's mean RMSLE (fold sizes differ a
    # little, so the pooled RMSLE is close to, not equal to, the mean over folds).
    oof = pd.read_csv(out / "oof_predictions.csv")
    pooled = hp.rmsle(oof["actual"], oof["StackingCVRegressor"])
    mean = board.set_index("model").loc["StackingCVRegressor", "rmsle_mean"]
    assert abs(pooled - mean) < 0.01
    # The saved model loads in another process state and predicts positive prices.
    import joblib

    from ensemblekit.datasets import load_ames

    model = joblib.load(out / "model.joblib")
    X, y = load_ames()
    pred = model.predict(X.head(50))
    assert pred.shape == (50,) and (pred > 0).all()
    assert hp.rmsle(y.head(50), pred) < 0.2


@pytest.mark.slow
def test_kaggle_layout_train_and_submission(tmp_path):
    train = make_kaggle_table(160, seed=0)
    test = make_kaggle_table(40, seed=1, with_target=False, first_id=1461)
    test.loc[3, "Neighborhood"] = "Atlantis"  # a category never seen in training
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "run"
    proc = run_script(
        "--quick", "--csv", "train.csv", "--target", "SalePrice", "--test", "test.csv",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "'Neighborhood'" in proc.stderr and "Atlantis" in proc.stderr
    sub = pd.read_csv(out / "submission.csv")
    assert list(sub.columns) == ["Id", "SalePrice"]
    assert sub["Id"].tolist() == test["Id"].tolist()
    assert np.isfinite(sub["SalePrice"]).all() and (sub["SalePrice"] > 0).all()
    board = pd.read_csv(out / "leaderboard.csv")
    assert np.isfinite(board["rmsle_mean"]).all()
    # The synthetic price is learnable: the best model beats predicting the mean log price.
    y = np.log(train["SalePrice"])
    assert board["rmsle_mean"].min() < 0.7 * y.std()


# -------------------------------------------------------------------------------------------------
# Bad input: one line "error: ...", exit status 2, no traceback (these fail before any fit)
# -------------------------------------------------------------------------------------------------


_assert_user_error = assert_user_error


def test_missing_target_column(tmp_path):
    make_kaggle_table(50, seed=0).to_csv(tmp_path / "train.csv", index=False)
    proc = run_script("--csv", "train.csv", "--target", "Price", "--quick", cwd=tmp_path)
    _assert_user_error(proc, "'Price'", "not found")
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_target_column_hint_for_near_miss(tmp_path):
    make_kaggle_table(50, seed=0).to_csv(tmp_path / "train.csv", index=False)
    proc = run_script("--csv", "train.csv", "--target", "Sale_Price", "--quick", cwd=tmp_path)
    _assert_user_error(proc, "--target SalePrice")


def test_non_positive_target_with_log(tmp_path):
    df = make_kaggle_table(50, seed=0)
    df.loc[7, "SalePrice"] = 0
    df.to_csv(tmp_path / "train.csv", index=False)
    proc = run_script("--csv", "train.csv", "--quick", cwd=tmp_path)
    _assert_user_error(proc, "non-positive", "row 9", "--no-log-target")


def test_missing_file_and_bad_options(tmp_path):
    _assert_user_error(run_script("--csv", "nope.csv", cwd=tmp_path), "not found", "nope.csv")
    _assert_user_error(run_script("--folds", "1", cwd=tmp_path), "--folds")
    _assert_user_error(run_script("--bogus", cwd=tmp_path), "--bogus")
    _assert_user_error(run_script("--test", "t.csv", cwd=tmp_path), "--test needs --csv")


def test_unreadable_csv(tmp_path):
    (tmp_path / "train.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n\x00")
    proc = run_script("--csv", "train.csv", cwd=tmp_path)
    _assert_user_error(proc, "train.csv")


def test_test_table_missing_columns_and_text_in_numbers(tmp_path):
    make_kaggle_table(50, seed=0).to_csv(tmp_path / "train.csv", index=False)
    test = make_kaggle_table(10, seed=1, with_target=False)
    test.drop(columns=["GrLivArea"]).to_csv(tmp_path / "test.csv", index=False)
    proc = run_script("--csv", "train.csv", "--test", "test.csv", cwd=tmp_path)
    _assert_user_error(proc, "lacks 1 training column", "'GrLivArea'")
    test["LotArea"] = test["LotArea"].astype(object)
    test.loc[2, "LotArea"] = "big"
    test.to_csv(tmp_path / "test.csv", index=False)
    proc = run_script("--csv", "train.csv", "--test", "test.csv", cwd=tmp_path)
    _assert_user_error(proc, "'LotArea'", "'big'")


# -------------------------------------------------------------------------------------------------
# The loader and the features, in process (fast)
# -------------------------------------------------------------------------------------------------


def test_all_nan_column_is_named_and_dropped(tmp_path, capsys):
    df = make_kaggle_table(60, seed=0)
    df["PoolQC"] = np.nan
    df.to_csv(tmp_path / "train.csv", index=False)
    data = hp.load_data(hp.parse_args(["--csv", str(tmp_path / "train.csv")]))
    assert "PoolQC" not in data.X.columns and "Id" not in data.X.columns
    assert "'PoolQC'" in capsys.readouterr().err


def test_unseen_categories_in_test_are_named(tmp_path, capsys):
    make_kaggle_table(60, seed=0).to_csv(tmp_path / "train.csv", index=False)
    test = make_kaggle_table(10, seed=1, with_target=False, first_id=1461)
    test.loc[0, "MSZoning"] = "C (all)"
    test.to_csv(tmp_path / "test.csv", index=False)
    args = ["--csv", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv")]
    data = hp.load_data(hp.parse_args(args))
    err = capsys.readouterr().err
    assert "'MSZoning'" in err and "'C (all)'" in err
    assert data.new_ids.tolist() == list(range(1461, 1471))
    # ... and the pipelines accept them (unknown category, not an error).
    model = hp.log_target(
        hp.Pipeline([("prep", hp.linear_preprocessor()), ("model", hp.RidgeCV())])
    ).fit(data.X, data.y)
    assert np.isfinite(model.predict(data.X_new)).all()
    trees = hp.tree_preprocessor().fit(data.X)
    assert trees.transform(data.X_new).shape[0] == 10


def test_domain_features_match_between_ames_and_kaggle_layouts():
    from ensemblekit.datasets import load_ames

    X, _ = load_ames()
    feats = hp.add_domain_features(X.head(100))
    expected_sf = X["Total_Bsmt_SF"] + X["First_Flr_SF"] + X["Second_Flr_SF"]
    np.testing.assert_allclose(feats["Total_SF"], expected_sf.head(100))
    np.testing.assert_allclose(
        feats["Age_At_Sale"], (X["Year_Sold"] - X["Year_Built"]).clip(lower=0).head(100)
    )
    assert feats["Overall_Cond_Score"].between(1, 10).all()

    kaggle = make_kaggle_table(30, seed=0).drop(columns=["Id", "SalePrice"])
    kf = hp.add_domain_features(kaggle)
    np.testing.assert_allclose(
        kf["Total_SF"], kaggle["TotalBsmtSF"] + kaggle["1stFlrSF"] + kaggle["2ndFlrSF"]
    )
    np.testing.assert_allclose(
        kf["Total_Baths"],
        kaggle["FullBath"] + 0.5 * kaggle["HalfBath"] + kaggle["BsmtFullBath"]
        + 0.5 * kaggle["BsmtHalfBath"],
    )  # fmt: skip
    # A remodel recorded after the sale counts as "just remodelled" (0), not as a negative age.
    since = (kaggle["YrSold"] - kaggle["YearRemodAdd"]).clip(lower=0)
    assert (kaggle["YrSold"] < kaggle["YearRemodAdd"]).any()  # the fixture has such rows
    np.testing.assert_allclose(kf["Years_Since_Remodel"], since)
    assert set(kf["KitchenQual_Score"]) <= {2.0, 3.0, 4.0, 5.0}
    assert (
        kf.loc[kaggle["BsmtQual"].eq("NA") | kaggle["BsmtQual"].isna(), "BsmtQual_Score"] == 0
    ).all()
    assert isinstance(kf["MSSubClass"].dtype, pd.CategoricalDtype)  # integer codes -> categories
    # Unrelated tables pass through untouched.
    other = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    pd.testing.assert_frame_equal(hp.add_domain_features(other), other)


def test_skewed_log1p_learns_columns_on_the_training_rows_only():
    rng = np.random.default_rng(0)
    train = np.column_stack([rng.lognormal(0, 1, 500), rng.normal(0, 1, 500)])
    step = hp.SkewedLog1p().fit(train)
    assert step.skewed_.tolist() == [True, False]
    new = np.array([[np.e - 1, -5.0]])
    np.testing.assert_allclose(step.transform(new), [[1.0, -5.0]])


def test_rmsle_is_rmse_of_log_price():
    y = np.array([100.0, 200.0, 400.0])
    p = np.array([110.0, 180.0, 400.0])
    expected = np.sqrt(np.mean((np.log(y) - np.log(p)) ** 2))
    assert hp.rmsle(y, p) == pytest.approx(expected)
    assert hp.rmsle(y, y) == 0.0


def test_write_atomic_keeps_the_previous_file_when_writing_fails(tmp_path):
    path = tmp_path / "leaderboard.csv"
    hp.write_atomic(path, lambda tmp: tmp.write_text("old,complete\n"))

    def failing(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        hp.write_atomic(path, failing)
    assert path.read_text() == "old,complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.csv"]
