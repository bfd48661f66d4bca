"""Training monitoring: the curves are what they claim (checked against NumPy), callbacks
see every epoch and can stop training, and the plot and the diagnosis read over- and
under-fitting correctly."""

import warnings

import matplotlib
import numpy as np
import pytest
from _gd_problems import well_conditioned
from sklearn.exceptions import ConvergenceWarning

from ensemblekit.estimators import (
    EpochInfo,
    GDElasticNet,
    GDHuberRegressor,
    GDRegressor,
    diagnose_training,
    plot_training_curves,
)

matplotlib.use("Agg")

PARAMS = dict(solver="adam", batch_size=16, penalty="elasticnet", alpha=0.01, l1_ratio=0.5,
              loss="huber", epsilon=1.0, early_stopping=True, validation_fraction=0.25,
              tol=None, random_state=0)


def _split(n, seed=0, fraction=0.25):
    """The estimator's split: a permutation drawn first from random_state."""
    perm = np.random.RandomState(seed).permutation(n)
    n_val = int(np.ceil(fraction * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _huber(r, eps):
    a = np.abs(r)
    return np.where(a <= eps, 0.5 * r**2, eps * a - 0.5 * eps**2)


def test_curves_match_a_numpy_recomputation():
    X, y = well_conditioned(n=300, p=6)
    X = X * np.array([1.0, 10.0, 1e3, 0.1, 1.0, 5.0]) + 50.0  # raw scales and offsets
    y = 100.0 * y
    train, val = _split(len(y))
    full = GDRegressor(max_iter=6, **PARAMS).fit(X, y)
    h = full.history_
    assert all(len(v) == 6 for v in h.values())
    for k in (1, 3, 6):
        m = GDRegressor(max_iter=k, **PARAMS).fit(X, y)
        coef, b = m.coef_, m.intercept_  # early stopping restores the best: use the last
        last = m._gd["solver"].reported(m._gd["state"])
        coef, b = m._gd["problem_pre"].to_original(last)
        # validation loss: the mean Huber loss on the held-out rows, original units
        r = X[val] @ coef + b - y[val]
        assert h["validation_loss"][k - 1] == pytest.approx(np.mean(_huber(r, 1.0)), rel=1e-9)
        # training loss and objective
        rt = X[train] @ coef + b - y[train]
        loss = np.mean(_huber(rt, 1.0))
        pen = 0.01 * (0.5 * np.abs(coef).sum() + 0.25 * coef @ coef)
        assert h["loss"][k - 1] == pytest.approx(loss, rel=1e-9)
        assert h["objective"][k - 1] == pytest.approx(loss + pen, rel=1e-9)
        # gradient norm: minimal subgradient w.r.t. the coefficients of the standardized
        # features (training-row mean and standard deviation) and the intercept
        mu, sd = X[train].mean(0), X[train].std(0)
        d = np.clip(rt, -1.0, 1.0)  # Huber's derivative
        Z = (X[train] - mu) / sd
        beta = coef * sd
        g = Z.T @ d / len(train) + 0.01 * 0.5 * beta / sd**2
        l1 = 0.01 * 0.5 / sd
        sub = np.where(beta != 0, np.abs(g + l1 * np.sign(beta)), np.maximum(np.abs(g) - l1, 0))
        ref = np.linalg.norm(np.append(sub, d.mean()))
        assert h["grad_norm"][k - 1] == pytest.approx(ref, rel=1e-6)
    # the learning rate of the last update of each epoch (invscaling, per update t)
    steps = -(-len(train) // 16)
    lr0 = full.learning_rate_init_
    for k in range(1, 7):
        assert h["learning_rate"][k - 1] == pytest.approx(lr0 / (k * steps) ** 0.25, rel=1e-12)
    assert full.validation_loss_curve_ == h["validation_loss"]
    assert full.validation_scores_ == h["validation_score"]


def test_callback_sees_every_epoch_and_can_stop_training():
    X, y = well_conditioned(n=200)
    seen = []

    def stop_at_three(model, info):
        assert isinstance(info, EpochInfo)
        seen.append(info)
        return info.epoch == 3

    est = GDRegressor(solver="adam", batch_size=32, max_iter=50, random_state=0,
                      callbacks=[stop_at_three]).fit(X, y)
    assert [i.epoch for i in seen] == [1, 2, 3]
    assert est.n_iter_ == 3 and est.stopped_by_ == "callback" and not est.converged_
    ref = GDRegressor(solver="adam", batch_size=32, max_iter=3, tol=None,
                      random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.coef_, ref.coef_)
    np.testing.assert_array_equal(seen[-1].coef, ref.coef_)
    assert seen[-1].objective == ref.loss_curve_[-1]
    # every estimator takes callbacks, the full-batch solvers too
    calls = []
    GDElasticNet(alpha=0.1, callbacks=[lambda m, i: calls.append(i.certificate)]).fit(X, y)
    assert calls and calls[-1] <= 1e-6
    calls.clear()
    GDHuberRegressor(callbacks=[lambda m, i: calls.append(i.epoch)]).fit(X, y)
    assert calls


def _overfitting_case():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 80)
    y = X[:, :3] @ np.array([1.0, -1.0, 0.5]) + rng.randn(120)
    return X, y


def test_diagnosis_and_plot_of_an_overfitting_fit():
    X, y = _overfitting_case()
    est = GDRegressor(solver="adam", batch_size=8, learning_rate="constant",
                      learning_rate_init=0.01, alpha=1e-8, penalty="l2", early_stopping=True,
                      validation_fraction=0.3, n_iter_no_change=60, max_iter=150,
                      random_state=0).fit(X, y)
    d = diagnose_training(est)
    assert "overfitting" in d.verdicts, d
    assert "increase alpha" in str(d).lower()
    # the plot marks the best epoch, the one restored
    axes = plot_training_curves(est)
    labels = [line.get_label() for line in axes[0].get_lines()]
    assert "validation loss" in labels and f"best epoch ({est.best_iteration_})" in labels
    assert est.best_iteration_ < est.n_iter_
    # with a sound regularization the same data does not over-fit
    sound = GDRegressor(solver="adam", batch_size=8, learning_rate="constant",
                        learning_rate_init=0.01, alpha=0.5, penalty="l1", early_stopping=True,
                        validation_fraction=0.3, random_state=0).fit(X, y)
    assert "overfitting" not in diagnose_training(sound).verdicts


def test_diagnosis_of_underfitting_and_of_an_unconverged_fit():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 5)
    y = X @ np.array([1.0, 2.0, 0.0, -1.0, 0.5]) + 0.1 * rng.randn(300)
    strong = GDRegressor(alpha=100.0, random_state=0).fit(X, y)
    d = diagnose_training(strong)
    assert d.verdicts == ["underfitting"] and "decrease alpha" in str(d)
    plot_training_curves(strong)
    # features unrelated to y: under-fitting that a smaller alpha would not cure
    noise = GDRegressor(random_state=0).fit(X, rng.randn(300))
    d = diagnose_training(noise)
    assert d.verdicts == ["underfitting"] and "add features" in str(d)
    good = GDRegressor(random_state=0).fit(X, y)
    assert diagnose_training(good).ok
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = GDRegressor(max_iter=3, random_state=0).fit(X, y)
    d = diagnose_training(short)
    assert d.verdicts == ["not_converged"] and "max_iter" in str(d)
    with pytest.raises(ValueError, match="fit it first|not fitted"):
        diagnose_training(GDRegressor())


def test_full_batch_solvers_report_their_certificate():
    X, y = well_conditioned()
    with pytest.warns(ConvergenceWarning, match=r"certificate \d\.\d+e[-+]\d+ > tol=1e-06"):
        est = GDElasticNet(alpha=0.01, max_iter=3).fit(X, y)
    assert est.certificate_ == est.history_["certificate"][-1] > 1e-6
    est = GDElasticNet(alpha=0.01).fit(X, y)
    assert est.converged_ and est.certificate_ <= 1e-6


def test_verbose_prints_the_curves(capsys):
    X, y = well_conditioned(n=100)
    GDRegressor(max_iter=3, tol=None, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("objective") == 3 and out.count("gradient norm") == 3
