"""Tests of examples/credit_risk.py: end to end (``--quick``), the 4-class case, a user's CSV,
bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _example_helpers import assert_user_error, run_example


def run_script(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_example("credit_risk.py", *args, cwd=cwd, timeout=timeout)


def make_loans(n: int, seed: int, with_target: bool = True, first_id: int = 1) -> pd.DataFrame:
    """A small loan table as a user would export it: an Id, text columns, missing incomes."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.5, n).round()
    debt = rng.uniform(0, 1.2, n) * income
    purpose = rng.choice(["car", "home", "studies", "travel"], n, p=[0.4, 0.3, 0.2, 0.1])
    df = pd.DataFrame({
        "Id": np.arange(first_id, first_id + n),
        "income": np.where(rng.random(n) < 0.1, np.nan, income),
        "debt": debt.round(),
        "age": rng.integers(20, 70, n),
        "purpose": purpose,
    })
    if with_target:
        score = 2.5 * debt / income - 1.5 + (purpose == "travel") - 0.02 * (df["age"] - 45)
        df["default"] = np.where(rng.random(n) < 1 / (1 + np.exp(-score)), "yes", "no")
    return df


# -------------------------------------------------------------------------------------------------
# End to end (subprocess, as a user runs it)
# -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_run_on_credit_data_end_to_end(tmp_path):
    out = tmp_path / "run"
    proc = run_script("--quick", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for name in ("leaderboard.csv", "leaderboard.png", "roc_curves.png", "reliability.png",
                 "search_history.png", "oof_probabilities.csv", "best_params.json", "run.json",
                 "model.joblib"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    board = pd.read_csv(out / "leaderboard.csv").set_index("model")
    baselines = ["LogisticRegression() defaults", "XGBClassifier() defaults",
                 "LGBMClassifier() defaults", "StackingClassifier (sklearn) of our members"]
    ours = ["StackingCVClassifier", "WeightedEnsemble[simplex, log loss]",
            "WeightedEnsemble[caruana, ROC AUC]"]
    members = ["LogisticRegression (tuned)", "Boosting[xgboost]", "Boosting[lightgbm]"]
    assert set(board.index) == set(baselines + ours + members)
    assert (board.loc[baselines, "kind"] == "baseline").all()
    assert (board.loc[ours + members, "kind"] == "ensemblekit").all()
    assert np.isfinite(board[["log_loss_mean", "roc_auc_mean", "brier_mean"]]).all().all()
    assert (board[["fold1_log_loss", "fold2_log_loss", "fold3_log_loss"]] > 0).all().all()
    best = board.loc[ours, "log_loss_mean"].idxmin()
    # The best ensemble beats the library defaults on both metrics, and scikit-learn's stacker
    # over the same members on the log loss (quick settings; the full run is in the README).
    for name in baselines[:3]:
        assert board.loc[best, "log_loss_mean"] < board.loc[name, "log_loss_mean"], name
        assert board.loc[best, "roc_auc_mean"] > board.loc[name, "roc_auc_mean"], name
    assert board.loc[best, "log_loss_mean"] < board.loc[baselines[3], "log_loss_mean"]
    assert board.loc[best, "log_loss_mean"] < 0.44  # prior-only predictions score 0.60
    # The out-of-fold probabilities reproduce the leaderboard (pooled vs mean over folds).
    oof = pd.read_csv(out / "oof_probabilities.csv")
    assert set(oof["actual"]) == {"good", "bad"}
    pooled = -np.log(oof[best]).mean()
    assert abs(pooled - board.loc[best, "log_loss_mean"]) < 0.01
    # The saved model loads in another process state and predicts the labels themselves.
    import joblib

    from ensemblekit.datasets import load_credit_data

    model = joblib.load(out / "model.joblib")
    X, y = load_credit_data()
    assert model.classes_.tolist() == ["bad", "good"]
    proba = model.predict_proba(X.head(50))
    assert proba.shape == (50, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(X.head(200)) == y.head(200)) > 0.75


@pytest.mark.slow
def test_multiclass_hpc_data_end_to_end(tmp_path):
    out = tmp_path / "hpc"
    proc = run_script("--quick", "--dataset", "hpc", "--folds", "2", "--out", str(out),
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    board = pd.read_csv(out / "leaderboard.csv").set_index("model")
    assert len(board) == 10 and np.isfinite(board["log_loss_mean"]).all()
    # Four classes: a multiclass log loss (prior-only predictions score 1.13 here).
    assert board.loc["StackingCVClassifier", "log_loss_mean"] < 0.6
    assert board.loc["StackingCVClassifier", "roc_auc_mean"] > 0.9
    import joblib

    model = joblib.load(out / "model.joblib")
    assert model.classes_.tolist() == ["F", "L", "M", "VF"]
    assert (out / "roc_curves.png").stat().st_size > 10_000


@pytest.mark.slow
def test_user_csv_with_a_test_table(tmp_path):
    loans = make_loans(300, seed=0)
    loans.to_csv(tmp_path / "loans.csv", index=False)
    new = make_loans(25, seed=1, with_target=False, first_id=1001)
    new.loc[3, "purpose"] = "yacht"  # a category never seen in training
    new.to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "run"
    proc = run_script("--quick", "--folds", "2", "--no-plots", "--csv", "loans.csv", "--target",
                      "default", "--test", "new.csv", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "'purpose'" in proc.stderr and "'yacht'" in proc.stderr
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns) == ["Id", "predicted", "p_no", "p_yes"]
    assert pred["Id"].tolist() == new["Id"].tolist()
    assert set(pred["predicted"]) <= {"yes", "no"}
    assert np.allclose(pred[["p_no", "p_yes"]].sum(axis=1), 1.0)
    info = pd.read_json(out / "run.json", typ="series")
    assert info["positive"] == loans["default"].value_counts().index[-1]  # the rarer class
    board = pd.read_csv(out / "leaderboard.csv")
    assert board["roc_auc_mean"].max() > 0.65  # the synthetic risk is learnable


# -------------------------------------------------------------------------------------------------
# Bad input: one line "error: ...", exit status 2, no traceback (these fail before any fit)
# -------------------------------------------------------------------------------------------------


_assert_user_error = assert_user_error


def test_missing_target_column_with_a_hint(tmp_path):
    make_loans(60, seed=0).to_csv(tmp_path / "loans.csv", index=False)
    proc = run_script("--csv", "loans.csv", "--target", "Default", cwd=tmp_path)
    _assert_user_error(proc, "'Default'", "not found", "--target default")
    assert not (tmp_path / "runs").exists()  # nothing was started
    proc = run_script("--csv", "loans.csv", cwd=tmp_path)  # the default target is Status
    _assert_user_error(proc, "'Status'", "(use --target NAME)")


def test_one_class_and_rare_class_targets(tmp_path):
    df = make_loans(60, seed=0)
    df.assign(default="no").to_csv(tmp_path / "one.csv", index=False)
    _assert_user_error(run_script("--csv", "one.csv", "--target", "default", cwd=tmp_path),
                       "one class only ('no')")
    df.loc[:2, "default"] = "maybe"
    df.to_csv(tmp_path / "rare.csv", index=False)
    _assert_user_error(run_script("--csv", "rare.csv", "--target", "default", cwd=tmp_path),
                       "class 'maybe'", "only 3 rows", "--folds 5 needs at least 5 per class")


def test_regression_target_and_bad_positive_class(tmp_path):
    df = make_loans(60, seed=0)
    df.assign(default=np.linspace(0.5, 9.5, 60)).to_csv(tmp_path / "num.csv", index=False)
    _assert_user_error(run_script("--csv", "num.csv", "--target", "default", cwd=tmp_path),
                       "60 distinct numbers", "house_prices.py")
    df.to_csv(tmp_path / "loans.csv", index=False)
    proc = run_script("--csv", "loans.csv", "--target", "default", "--positive", "maybe",
                      cwd=tmp_path)
    _assert_user_error(proc, "--positive 'maybe'", "classes: no, yes")


def test_test_table_mismatches(tmp_path):
    make_loans(60, seed=0).to_csv(tmp_path / "loans.csv", index=False)
    new = make_loans(10, seed=1, with_target=False)
    new.drop(columns=["debt"]).to_csv(tmp_path / "new.csv", index=False)
    args = ["--csv", "loans.csv", "--target", "default", "--test", "new.csv"]
    _assert_user_error(run_script(*args, cwd=tmp_path), "lacks 1 training column", "'debt'")
    new["age"] = new["age"].astype(object)
    new.loc[2, "age"] = "forty"
    new.to_csv(tmp_path / "new.csv", index=False)
    _assert_user_error(run_script(*args, cwd=tmp_path), "'age'", "'forty'")


def test_bad_options(tmp_path):
    _assert_user_error(run_script("--folds", "1", cwd=tmp_path), "--folds")
    _assert_user_error(run_script("--bogus", cwd=tmp_path), "--bogus")
    _assert_user_error(run_script("--test", "t.csv", cwd=tmp_path), "--test needs --csv")
    _assert_user_error(run_script("--dataset", "iris", cwd=tmp_path), "--dataset")
    _assert_user_error(run_script("--csv", "nope.csv", cwd=tmp_path), "not found", "nope.csv")
