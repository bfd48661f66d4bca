"""Smoke tests of the small examples: each runs with --quick and writes its plot and table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, out: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / f"{name}.png").stat().st_size > 10_000  # a real figure, not an empty canvas
    return proc


def test_lr_schedules(tmp_path):
    run_example("lr_schedules", tmp_path)
    table = pd.read_csv(tmp_path / "lr_schedules.csv")
    assert {"sgd (lr 0.01)", "adam", "fista (full batch)", "cosine (T_0=10)"} <= set(table.run)
    ok = table[table.status == "ok"]
    assert len(ok) >= 12
    # Every run made progress towards the known optimum (the gap is measured against Ridge).
    assert (ok.final_gap >= 0).all() and (ok.final_gap < 0.05).all()
    assert ok.loc[ok.run == "fista (full batch)", "final_gap"].item() < 1e-2


def test_bayes_vs_random(tmp_path):
    run_example("bayes_vs_random", tmp_path)
    table = pd.read_csv(tmp_path / "bayes_vs_random.csv")
    assert set(table.search) == {"bayes", "random"}
    assert table.best_rmse.between(0.05, 0.4).all()  # log-price RMSE of a real model


def test_stacking_vs_sklearn(tmp_path):
    proc = run_example("stacking_vs_sklearn", tmp_path)
    table = pd.read_csv(tmp_path / "stacking_vs_sklearn.csv").set_index("model")
    assert table.loc["StackingCVRegressor (full)", "rmse_mean"] == pytest.approx(
        table.loc["sklearn StackingRegressor", "rmse_mean"], abs=1e-6
    )
    assert table.rmse_mean.between(0.05, 0.4).all()
    assert "prediction gap" in proc.stdout
