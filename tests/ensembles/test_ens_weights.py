"""NNLS, simplex and Caruana weights against brute-force searches on small problems."""

import itertools

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

from ensemblekit.ensembles import (
    WeightedEnsembleRegressor,
    caruana_weights,
    combine,
    log_loss_of,
    nnls_weights,
    simplex_weights,
)
from ensemblekit.ensembles._weighted import make_loss


def _problem(seed=0, n=60, m=4):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    # Members of varying quality, some correlated, one anti-correlated.
    P = np.column_stack([
        y + rng.normal(scale=s, size=n) for s in (0.5, 0.8, 1.2)
    ][: m - 1] + [-0.5 * y + rng.normal(scale=0.5, size=n)])
    return P, y


def _brute_force_nnls(P, y, sw):
    # The NNLS optimum is the least-squares fit on some active set of columns that is
    # feasible (all >= 0); enumerate every subset and keep the best feasible one.
    s = np.sqrt(sw)
    A, b = P * s[:, None], y * s
    best, best_w = np.inf, None
    m = P.shape[1]
    for k in range(m + 1):
        for S in itertools.combinations(range(m), k):
            w = np.zeros(m)
            if S:
                w[list(S)] = np.linalg.lstsq(A[:, S], b, rcond=None)[0]
            if np.all(w >= -1e-12):
                r = np.sum((b - A @ w) ** 2)
                if r < best:
                    best, best_w = r, w
    return best_w


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nnls_matches_active_set_enumeration(seed):
    P, y = _problem(seed)
    sw = np.random.default_rng(seed).uniform(0.2, 3.0, size=len(y))
    w = nnls_weights(P, y, sw)
    ref = _brute_force_nnls(P, y, sw)
    np.testing.assert_allclose(w, ref, atol=1e-8)
    assert w[-1] == 0.0  # the anti-correlated member is switched off


def _simplex_grid(m, step):
    k = int(round(1 / step))
    for c in itertools.product(range(k + 1), repeat=m - 1):
        if sum(c) <= k:
            yield np.array([*c, k - sum(c)]) / k


@pytest.mark.parametrize("metric", ["mse", "mae"])
def test_simplex_beats_or_matches_grid_search(metric):
    P, y = _problem(3, m=3)
    if metric == "mse":
        def loss(p):
            return np.mean((y - p) ** 2)
    else:
        def loss(p):
            return np.mean(np.abs(y - p))
    w = simplex_weights(P, loss)
    assert np.all(w >= 0) and np.isclose(w.sum(), 1.0)
    grid = list(_simplex_grid(3, 0.005))
    losses = np.array([loss(P @ g) for g in grid])
    g_best = grid[int(np.argmin(losses))]
    # The grid is a subset of the simplex: the optimizer must do at least as well...
    assert loss(P @ w) <= losses.min() + 1e-9
    # ...and (squared error: unique optimum) land next to the grid's best point.
    if metric == "mse":
        np.testing.assert_allclose(w, g_best, atol=0.01)


def _reference_caruana(P, y, size):
    # Straightforward greedy search written independently: at each step try every member.
    chosen = []
    history = []
    for _ in range(size):
        scores = []
        for j in range(P.shape[1]):
            idx = chosen + [j]
            pred = P[:, idx].mean(axis=1)
            scores.append(np.mean((y - pred) ** 2))
        j = int(np.argmin(scores))
        chosen.append(j)
        history.append(scores[j])
    best = int(np.argmin(history))
    counts = np.bincount(chosen[: best + 1], minlength=P.shape[1])
    return counts / counts.sum(), chosen, history


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_caruana_matches_reference_greedy_and_brute_force(seed):
    P, y = _problem(seed)

    def loss(p):
        return np.mean((y - p) ** 2)

    w, picks, traj = caruana_weights(P, loss, ensemble_size=12)
    ref_w, ref_picks, ref_traj = _reference_caruana(P, y, 12)
    assert picks == ref_picks
    np.testing.assert_allclose(traj, ref_traj)
    np.testing.assert_allclose(w, ref_w)
    # Brute force over all multisets of size <= 3: step 1 is the best single member, and the
    # kept ensemble is never worse than the best single member.
    singles = [loss(P[:, j]) for j in range(P.shape[1])]
    assert picks[0] == int(np.argmin(singles))
    assert loss(P @ w) <= min(singles) + 1e-12
    # Greedy can miss the best multiset, but the best multiset of size 2 containing the first
    # pick must equal the greedy size-2 ensemble.
    pair_losses = {j: loss((P[:, picks[0]] + P[:, j]) / 2) for j in range(P.shape[1])}
    assert traj[1] == pytest.approx(min(pair_losses.values()))


def test_weighted_ensemble_weights_come_from_oof(reg_data):
    X, y = reg_data
    members = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0)),
               ("knn", KNeighborsRegressor(5))]
    for method in ("nnls", "simplex", "caruana"):
        ens = WeightedEnsembleRegressor(members, method=method, cv=3, ensemble_size=10,
                                        random_state=0).fit(X, y)
        P = ens.oof_predictions_
        loss = make_loss("neg_mean_squared_error", y)
        if method == "nnls":
            ref = nnls_weights(P, y)
        elif method == "caruana":
            ref = caruana_weights(P, loss, 10)[0]
        else:
            ref = simplex_weights(P, loss)
        np.testing.assert_allclose(ens.weights_, ref)
        np.testing.assert_allclose(ens.oof_score_, -np.mean((y - P @ ens.weights_) ** 2))
        full = np.column_stack([e.predict(X) for e in ens.estimators_])
        np.testing.assert_allclose(ens.predict(X), full @ ens.weights_)


def test_scoring_changes_the_objective():
    P, y = _problem(4, m=3)
    y = y.copy()
    y[:3] += 25.0  # outliers: absolute and squared error disagree on the best blend
    w_mae = simplex_weights(P, make_loss("neg_mean_absolute_error", y))
    w_mse = simplex_weights(P, make_loss("neg_mean_squared_error", y))
    assert not np.allclose(w_mae, w_mse, atol=1e-3)
    assert np.mean(np.abs(y - P @ w_mae)) <= np.mean(np.abs(y - P @ w_mse))


# -------------------------------------------------------------------------------------------------
# Class probabilities: (n_samples, n_members, n_classes)
# -------------------------------------------------------------------------------------------------


def _proba_problem(seed=0, n=300, K=3):
    """Three members' probabilities: sharp but noisy, blurred, and overconfident."""
    from scipy.special import softmax

    rng = np.random.default_rng(seed)
    truth = rng.normal(scale=1.5, size=(n, K))
    y = np.array([rng.choice(K, p=p) for p in softmax(truth, axis=1)])
    members = [softmax(truth + rng.normal(scale=1.0, size=(n, K)), axis=1),
               softmax(0.3 * truth, axis=1),
               softmax(3.0 * truth + rng.normal(scale=2.0, size=(n, K)), axis=1)]
    return np.stack(members, axis=1), y


def test_log_loss_of_equals_sklearn():
    from sklearn.metrics import log_loss

    P, y = _proba_problem()
    sw = np.random.default_rng(0).uniform(0.2, 2.0, len(y))
    p = P[:, 0].copy()
    p[0] = [0.0, 1.0, 0.0]  # a zero probability for a true class: clipped, not -inf
    assert log_loss_of(y, p, sw) == pytest.approx(log_loss(y, p, sample_weight=sw), rel=1e-12)


def test_simplex_log_loss_beats_or_matches_brute_force_grid():
    P, y = _proba_problem(1)

    def loss(p):
        return log_loss_of(y, p)

    w = simplex_weights(P, loss)
    assert np.all(w >= 0) and np.isclose(w.sum(), 1.0)
    grid = list(_simplex_grid(3, 0.01))
    losses = np.array([loss(combine(P, g)) for g in grid])
    g_best = grid[int(np.argmin(losses))]
    assert loss(combine(P, w)) <= losses.min() + 1e-9
    # The clipped log loss of a mixture is convex in w: the optimum is next to the grid's best.
    np.testing.assert_allclose(w, g_best, atol=0.02)


def test_caruana_on_probabilities_against_brute_force_multisets():
    P, y = _proba_problem(2)

    def loss(p):
        return log_loss_of(y, p)

    size = 8
    w, picks, traj = caruana_weights(P, loss, ensemble_size=size)
    # Every multiset of at most `size` members (weights = counts / total), exhaustively.
    best = np.inf
    for total in range(1, size + 1):
        for counts in itertools.product(range(total + 1), repeat=2):
            if sum(counts) <= total:
                c = np.array([*counts, total - sum(counts)]) / total
                best = min(best, loss(combine(P, c)))
    kept = loss(combine(P, w))
    assert kept >= best - 1e-12  # greedy cannot beat the exhaustive search...
    assert kept <= best + 0.002  # ...and on this problem it gets within 0.002 of it
    assert kept <= min(loss(P[:, j]) for j in range(3)) + 1e-12


def test_caruana_ties_on_auc_are_broken_by_log_loss():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.4).astype(int)
    score = y + rng.normal(scale=1.0, size=400)
    calibrated = 1 / (1 + np.exp(-(score - 0.5) * 2.0))
    squashed = 0.5 + (calibrated - 0.5) * 0.05  # same ranking, far worse log loss
    P = np.stack([np.column_stack([1 - p, p]) for p in (squashed, calibrated)], axis=1)

    def auc_loss(p):
        return -roc_auc_score(y, p[:, 1])

    assert auc_loss(P[:, 0]) == auc_loss(P[:, 1])  # an exact tie on AUC
    _, picks, _ = caruana_weights(P, auc_loss, ensemble_size=1)
    assert picks == [0]  # without a tie-break: the lowest index
    _, picks, _ = caruana_weights(P, auc_loss, ensemble_size=1,
                                  tie_break=lambda p: log_loss_of(y, p))
    assert picks == [1]


def test_weighted_classifier_weights_come_from_oof_probabilities():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.tree import DecisionTreeClassifier

    from ensemblekit.ensembles import WeightedEnsembleClassifier

    X, y = make_classification(n_samples=300, n_informative=4, n_classes=3, random_state=0)
    members = [("lr", LogisticRegression()), ("nb", GaussianNB()),
               ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]
    for method in ("simplex", "caruana"):
        ens = WeightedEnsembleClassifier(members, method=method, cv=3, ensemble_size=10,
                                         random_state=0).fit(X, y)
        P = np.stack([ens.oof_predictions_[:, 3 * j:3 * j + 3] for j in range(3)], axis=1)
        loss = make_loss("neg_log_loss", y, n_classes=3)
        if method == "simplex":
            ref = simplex_weights(P, loss)
        else:
            ref = caruana_weights(P, loss, 10, tie_break=loss)[0]
        np.testing.assert_allclose(ens.weights_, ref)
        assert ens.oof_score_ == pytest.approx(-log_loss_of(y, combine(P, ens.weights_)))
        full = np.stack([e.predict_proba(X) for e in ens.estimators_], axis=1)
        np.testing.assert_allclose(ens.predict_proba(X), combine(full, ens.weights_))
