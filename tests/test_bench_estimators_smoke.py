"""Smoke test of benchmarks/bench_estimators.py: every row runs at tiny sizes without raising.

Timings at these sizes mean nothing, so PASS/FAIL against the targets is not asserted; what is
asserted is that the script exits 0, prints its markdown table with every row, and no row
ends in ERROR (an exception, e.g. a parameter the estimators no longer accept). The compile
row (fresh subprocesses with a cold Numba cache) is skipped to keep this under ~30 s.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_estimators.py"


def test_bench_estimators_smoke():
    est = pytest.importorskip("ensemblekit.estimators")
    missing = [c for c in ("GDRegressor", "GDRidge", "GDElasticNet") if not hasattr(est, c)]
    if missing:
        pytest.skip(f"ensemblekit.estimators does not export {missing} yet")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--skip", "compile", "--repeats", "1"],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONWARNINGS="ignore"),
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| row | measures |" in out, out[-2000:]
    table = [ln for ln in out.splitlines() if ln.startswith("| ")]
    names = {ln.split("|")[1].strip() for ln in table[1:]}
    for row in ("sgd_l2", "sgd_enet", "adam_enet", "fullbatch", "enet_opt", "ridge_opt", "huber",
                "sparse_l2", "sparse_enet", "sparse_lazy", "float32", "scaling_n", "scaling_p"):
        assert row in names, (row, out[-3000:])
    assert any(n.startswith("float32_mem[") for n in names), out[-3000:]
    errors = [ln for ln in table if ln.rstrip().endswith("| ERROR |")]
    assert not errors, "\n".join(errors)
