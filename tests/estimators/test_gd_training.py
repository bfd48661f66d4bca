"""Training that never silently goes wrong, and defaults that train well.

* Every solver x schedule x learning rate either raises DivergenceError or returns a model
  better than the intercept-only one, on raw and on standardized columns; GridSearchCV
  records the diverging candidates as failed.
* With its default rate and schedule every solver x penalty x batch size reaches the
  training R^2 of Ridge within 0.02 in at most 50 epochs, on raw and standardized data.
* The stopping rules: an oscillating or rising objective is not "converged"; cyclical
  schedules are judged at the end of their cycles.
"""

import warnings

import numpy as np
import pytest
from _raw_data import ALL_SETS, ames_numeric, ames_standardized
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from ensemblekit.estimators import DivergenceError, GDRegressor
from ensemblekit.estimators._optimizers import SOLVER_CODES
from ensemblekit.estimators._schedules import SCHEDULE_CODES

STOCHASTIC = sorted(s for s in SOLVER_CODES if s != "fista")
SCHEDULES = sorted(SCHEDULE_CODES)
RATES = [1e-3, 1e-2, 1e-1, 1.0, 10.0]


def _objective(model, X, y):
    """GDRegressor's objective (squared loss, default penalty) in original units."""
    r = y - X @ model.coef_ - model.intercept_
    return 0.5 * np.mean(r**2) + 1e-4 * 0.5 * model.coef_ @ model.coef_


@pytest.mark.parametrize("data", ["ames_raw", "ames_standardized"])
@pytest.mark.parametrize("solver", STOCHASTIC)
def test_every_rate_diverges_loudly_or_beats_the_intercept(data, solver):
    X, y = ALL_SETS[data]()
    null = 0.5 * np.var(y)  # the intercept-only model's objective
    outcomes = {"raised": 0, "fitted": 0}
    for schedule in SCHEDULES:
        for batch_size in (1, 64, "full"):
            for lr in RATES:
                est = GDRegressor(solver=solver, learning_rate=schedule, learning_rate_init=lr,
                                  batch_size=batch_size, max_iter=50, random_state=0)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        est.fit(X, y)
                except DivergenceError as exc:
                    assert "learning_rate_init" in str(exc)
                    assert not hasattr(est, "coef_")
                    outcomes["raised"] += 1
                    continue
                assert np.isfinite(est.coef_).all()
                assert _objective(est, X, y) < null, (schedule, batch_size, lr)
                outcomes["fitted"] += 1
    # the sweep exercises both outcomes
    assert outcomes["raised"] > 0 and outcomes["fitted"] > 0


def test_grid_search_records_diverging_candidates_as_failed():
    X, y = ames_standardized()
    grid = GridSearchCV(
        GDRegressor(solver="sgd", learning_rate="constant", max_iter=20, random_state=0),
        {"learning_rate_init": [1e-3, 10.0]}, cv=3, error_score=np.nan,
    )
    with pytest.warns(FitFailedWarning, match="DivergenceError"):
        grid.fit(X, y)
    scores = grid.cv_results_["mean_test_score"]
    assert np.isnan(scores[1]) and np.isfinite(scores[0]) and scores[0] > 0.5
    assert grid.best_params_ == {"learning_rate_init": 1e-3}


def test_the_issue_s_silent_divergence_now_raises():
    """SGD with a constant rate on standardized Ames stopped after 6 epochs with the
    objective up 10^8-fold and no error; an explicit too-large rate now raises, with a
    rate computed from the data, and the default rate trains."""
    X, y = ames_standardized()
    with pytest.raises(DivergenceError, match=r"lower learning_rate_init to \d"):
        GDRegressor(solver="sgd", learning_rate="constant", learning_rate_init=0.5,
                    max_iter=50, random_state=0).fit(X, y)
    for schedule in ("constant", "cosine"):
        est = GDRegressor(solver="sgd", learning_rate=schedule, max_iter=50,
                          random_state=0).fit(X, y)
        assert est.score(X, y) > 0.75
        assert est.loss_curve_[-1] < est.loss_curve_[0]


@pytest.mark.parametrize("data", sorted(ALL_SETS))
@pytest.mark.parametrize("solver", STOCHASTIC + ["fista"])
def test_defaults_reach_ridge_within_50_epochs(data, solver):
    X, y = ALL_SETS[data]()
    target = Ridge().fit(X, y).score(X, y) - 0.02
    for penalty in ("l2", "l1", "elasticnet", None):
        for batch_size in ((1, 64, "full") if solver != "fista" else ("full",)):
            est = GDRegressor(solver=solver, penalty=penalty, batch_size=batch_size,
                              max_iter=50, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(X, y)
            assert est.n_iter_ <= 50
            assert est.score(X, y) >= target, (penalty, batch_size, est.score(X, y))


def test_default_gdregressor_trains_on_raw_columns():
    """GDRegressor() raised DivergenceError on the raw Ames columns, and its advice led to
    learning_rate_init=1e-8; now the defaults train there."""
    X, y = ames_numeric()
    est = GDRegressor(random_state=0).fit(X, y)
    assert est.score(X, y) > Ridge().fit(X, y).score(X, y) - 0.02


def test_oscillating_momentum_is_not_called_converged():
    """Heavy ball overshoots and comes back: scikit-learn's rule (no improvement of the
    best for n epochs) stopped it at R^2 0.65; the objective must settle first."""
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=2000, n_features=30, n_informative=10, noise=5.0,
                           random_state=0)
    est = GDRegressor(solver="momentum", batch_size="full", learning_rate="constant",
                      learning_rate_init=0.1, max_iter=200).fit(X, y)
    curve = np.array(est.loss_curve_)
    assert est.converged_ and est.score(X, y) > 0.99
    tol = 1e-3 * 0.5 * np.var(y)
    assert np.all(np.abs(np.diff(curve[-6:])) <= tol)


def test_cosine_restarts_stop_only_at_the_end_of_a_cycle():
    """The README's Adam + cosine restarts + early stopping: early stopping fired at the
    bottom of a cosine cycle (R^2 0.136); it is now judged at cycle ends only."""
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=2000, n_features=30, n_informative=10, noise=5.0,
                           random_state=0)
    model = GDRegressor(
        loss="huber", penalty="elasticnet", alpha=1e-4, solver="adam", batch_size=64,
        learning_rate="cosine", learning_rate_init=0.01, T_0=5, T_mult=2,
        early_stopping=True, max_iter=100, random_state=0,
    ).fit(X, y)
    assert model.score(X, y) >= 0.99
    ends = {5, 15, 35, 75}  # cycles of 5, 10, 20, 40 epochs
    assert model.n_iter_ in ends
    # the no-improvement rule on the training objective too
    plain = GDRegressor(solver="sgd", batch_size=32, learning_rate="cosine", T_0=4,
                        max_iter=200, random_state=0).fit(X, y)
    assert plain.n_iter_ % 4 == 0


def test_stochastic_run_never_ends_above_its_start():
    """A rate that keeps the iterates bounded but oscillating would end 'converged' above
    where it started; the training loop refuses it."""
    X, y = ames_standardized()
    with pytest.raises(DivergenceError, match="(above where it started|far above its best)"):
        GDRegressor(solver="adam", batch_size=64, learning_rate="constant",
                    learning_rate_init=1.0, max_iter=50, random_state=0).fit(X, y)
