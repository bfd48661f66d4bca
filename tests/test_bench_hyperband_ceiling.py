"""benchmarks/bench_hyperband_ceiling.py: the replay of Hyperband on recorded learning curves.

The replay must follow HyperbandSearchCV's schedule and promotion, and its oracle must be an
upper bound; a bug in either would misstate how much of issue #5's Hyperband target is
reachable.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
ceiling = pytest.importorskip("bench_hyperband_ceiling")


def _synthetic_curves(n=300, seed=0):
    """Curves that improve with epochs at a configuration-specific rate and plateau."""
    rng = np.random.RandomState(seed)
    floor = 0.14 + 0.05 * rng.rand(n, 1)
    speed = 10 ** rng.uniform(-2, 0, size=(n, 1))
    t = np.arange(1, ceiling.R + 1)[None, :]
    return floor + 0.5 * np.exp(-speed * t)


def test_oracle_bounds_the_raw_promotion_on_every_seed():
    curves = _synthetic_curves()
    for seed in range(30):
        rnd_a, raw = ceiling.replay(curves, seed, "raw")
        rnd_b, oracle = ceiling.replay(curves, seed, "oracle")
        assert rnd_a == rnd_b  # the same random-60 draw
        assert oracle <= raw  # the oracle sees every configuration the brackets drew


def test_raw_promotion_equals_the_oracle_when_rungs_rank_perfectly():
    # Curves whose every epoch ranks the configurations as the last one does.
    base = np.linspace(0.15, 0.30, 200)[:, None]
    curves = base + 0.3 / np.arange(1, ceiling.R + 1)[None, :]
    for seed in range(20):
        assert ceiling.replay(curves, seed, "raw") == ceiling.replay(curves, seed, "oracle")


def test_replay_spends_what_the_search_would():
    from ensemblekit.tuning._schedulers import hyperband_schedule

    sched = hyperband_schedule(1, ceiling.R, ceiling.ETA, max_budget=ceiling.BUDGET,
                               n_folds=ceiling.N_FOLDS)
    # iteration 0 runs all four brackets, iteration 1 the two the budget still pays for:
    # 2,580 epochs, what HyperbandSearchCV reports as resource_used_ in bench_tuning
    assert [it for it, _ in sched] == [0, 0, 0, 0, 1, 1]
    assert sum(b.cost() * ceiling.N_FOLDS for _, b in sched) == 2580 <= ceiling.BUDGET


def test_learning_curves_smoke():
    curves, cfgs = ceiling.learning_curves(3, seed=0, n_jobs=1)
    assert curves.shape == (3, ceiling.R) and len(cfgs) == 3
    finite = curves[curves < 1e9]
    assert finite.size and np.all(finite > 0)
