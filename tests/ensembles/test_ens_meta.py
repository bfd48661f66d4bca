"""NonNegativeRidgeCV (the default meta-learner) against RidgeCV and a brute-force solver."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import RidgeCV

from ensemblekit.ensembles import NonNegativeRidgeCV


def _correlated_predictions(n=300, seed=0, anti=False):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 2.0 + 5.0
    cols = [y + s * rng.normal(size=n) for s in (0.3, 0.5, 0.6)]
    if anti:
        cols.append(-y + rng.normal(size=n))
    return np.column_stack(cols), y, rng.uniform(0.5, 2.0, size=n)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_equals_ridgecv_when_its_weights_are_non_negative(weighted, fit_intercept):
    Z, y, sw = _correlated_predictions()
    sw = sw if weighted else None
    ref = RidgeCV(fit_intercept=fit_intercept).fit(Z, y, sample_weight=sw)
    assert np.all(ref.coef_ > 0)  # the premise of the comparison
    ours = NonNegativeRidgeCV(fit_intercept=fit_intercept).fit(Z, y, sample_weight=sw)
    assert ours.alpha_ == ref.alpha_
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_constrained_optimum_matches_brute_force(weighted):
    Z, y, sw = _correlated_predictions(anti=True, seed=1)
    sw = sw if weighted else np.ones(len(y))
    # Unconstrained least squares gives the anti-correlated column a negative weight.
    assert np.linalg.lstsq(np.c_[Z, np.ones(len(y))], y, rcond=None)[0][3] < 0
    for alpha in (0.1, 10.0, 1000.0):
        ours = NonNegativeRidgeCV(alphas=[alpha]).fit(Z, y, sample_weight=sw)

        def objective(theta, alpha=alpha):
            r = y - Z @ theta[:-1] - theta[-1]
            return np.sum(sw * r**2) + alpha * np.sum(theta[:-1] ** 2)

        bounds = [(0, None)] * Z.shape[1] + [(None, None)]
        ref = minimize(objective, np.r_[np.full(Z.shape[1], 0.2), 0.0], method="L-BFGS-B",
                       bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
        f_ours = objective(np.r_[ours.coef_, ours.intercept_])
        assert f_ours <= ref.fun * (1 + 1e-9)
        assert np.all(ours.coef_ >= 0) and ours.coef_[3] == 0.0  # an exact zero
        np.testing.assert_allclose(ours.coef_, ref.x[:-1], atol=1e-5)


def test_alpha_is_chosen_by_leave_one_out():
    Z, y, _ = _correlated_predictions(n=60, seed=2)
    alphas = [1e-3, 1.0, 1e4]
    ours = NonNegativeRidgeCV(alphas=alphas).fit(Z, y)
    assert ours.alpha_ == RidgeCV(alphas=alphas).fit(Z, y).alpha_
    assert ours.predict(Z).shape == (60,)


def test_fixed_alpha_weights_equal_repetitions():
    rng = np.random.RandomState(42)
    X, y = rng.rand(15, 30), rng.randint(0, 3, 15).astype(float)
    sw = rng.randint(0, 5, 15)
    for alpha in (0.1, 1.0, 10.0):
        w = NonNegativeRidgeCV(alphas=[alpha]).fit(X, y, sample_weight=sw.astype(float))
        r = NonNegativeRidgeCV(alphas=[alpha]).fit(X.repeat(sw, 0), y.repeat(sw))
        np.testing.assert_allclose(w.coef_, r.coef_, atol=1e-12)
        np.testing.assert_allclose(w.intercept_, r.intercept_, atol=1e-12)


@pytest.mark.parametrize("alphas", [[], [0.0, 1.0], [-1.0], [[1.0, 2.0]]])
def test_bad_alphas(alphas):
    Z, y, _ = _correlated_predictions(n=30)
    with pytest.raises(ValueError, match="alphas"):
        NonNegativeRidgeCV(alphas=alphas).fit(Z, y)


# -------------------------------------------------------------------------------------------------
# The classification stacks' default meta-learner: a non-negative logistic pool of log-odds
# -------------------------------------------------------------------------------------------------


def _member_logits(n=600, K=2, seed=0):
    """Members' log-odds (binary: one column each) or centred log-probabilities (K each)."""
    from scipy.special import softmax

    rng = np.random.default_rng(seed)
    truth = rng.normal(scale=2.0, size=(n, K))
    y = np.array([rng.choice(K, p=p) for p in softmax(truth, axis=1)])
    blocks = []
    for noise in (0.5, 1.0, 2.0):
        s = truth + noise * rng.normal(size=(n, K))
        s -= s.mean(axis=1, keepdims=True)
        blocks.append(s[:, 1:] - s[:, :1] if K == 2 else s)
    return np.hstack(blocks), y


@pytest.mark.parametrize("K", [2, 4])
def test_pool_gradient_is_exact(K):
    from scipy.optimize import check_grad

    from ensemblekit.ensembles._meta import _pool_loss

    Z, y = _member_logits(200, K)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    n_w = 3 if K == 2 else 3 * K  # a weight per member (two classes), per member and class
    theta = np.random.default_rng(2).uniform(0.1, 1.0, n_w + K - 1)
    err = check_grad(lambda t: _pool_loss(t, Z, y, sw, K, 0.3)[0],
                     lambda t: _pool_loss(t, Z, y, sw, K, 0.3)[1], theta)
    assert err < 1e-6


def test_binary_pool_loss_is_the_weighted_log_loss_even_at_extreme_scores():
    # The two-class loss works on the score alone; it must still be the softmax pool's loss,
    # finite where a member's log-odds are huge (a confident member's clipped 1e-6 is ~13.8,
    # but a decision_function column can be anything).
    from scipy.special import expit
    from sklearn.metrics import log_loss

    from ensemblekit.ensembles._meta import _pool_loss

    Z, y = _member_logits(300, 2)
    Z[:5] *= 400.0  # scores of several hundred, both signs
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    theta = np.array([0.7, 0.2, 0.4, -0.3])
    loss, grad = _pool_loss(theta, Z, y, sw, 2, 0.5)
    s = Z @ theta[:3] + theta[3]
    # log_loss clips probabilities at machine epsilon; the pool does not, so compare on the
    # rows where the clip is inactive and check the extreme rows' terms directly.
    ok = np.abs(s) < 30
    p = expit(s)
    terms = np.logaddexp(0.0, s) - y * s
    np.testing.assert_allclose(terms[ok], [log_loss([t], [[1 - q, q]], labels=[0, 1])
                                           for t, q in zip(y[ok], p[ok], strict=True)],
                               rtol=1e-9)
    expected = sw @ terms / sw.sum() + 0.25 * theta[:3] @ theta[:3]
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    np.testing.assert_allclose(grad[3], sw @ (p - y) / sw.sum(), rtol=1e-10, atol=1e-14)


def test_binary_pool_equals_logistic_regression_when_weights_are_positive():
    from sklearn.linear_model import LogisticRegression

    from ensemblekit.ensembles._meta import _NonNegativeLogisticCV

    Z, y = _member_logits(600, 2)
    Z = Z[:, :2]  # the two better members: their unconstrained weights are positive
    alpha = 1e-2
    ours = _NonNegativeLogisticCV(alphas=[alpha]).fit(Z, y)
    # scikit-learn: C * sum(loss) + ||w||^2 / 2, i.e. mean loss + ||w||^2 / (2 C n).
    ref = LogisticRegression(C=1.0 / (alpha * len(y)), tol=1e-10, max_iter=10_000).fit(Z, y)
    assert np.all(ref.coef_ > 0)  # the premise of the comparison
    np.testing.assert_allclose(ours.coef_, ref.coef_[0], rtol=1e-5)
    np.testing.assert_allclose(ours.intercept_[1], ref.intercept_[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.predict_proba(Z), ref.predict_proba(Z), atol=1e-6)


@pytest.mark.parametrize("K", [2, 3])
def test_pool_optimum_satisfies_kkt_with_a_contrarian_member(K):
    from ensemblekit.ensembles._meta import _NonNegativeLogisticCV, _pool_loss

    Z, y = _member_logits(500, K)
    width = 1 if K == 2 else K
    Z = np.hstack([Z, -Z[:, :width]])  # a contrarian: the best member, negated
    meta = _NonNegativeLogisticCV(alphas=[1e-3]).fit(Z, y)
    w = meta.coef_.ravel()
    assert np.all(w >= 0) and np.all(meta.coef_[-1] == 0.0)  # the contrarian gets nothing
    theta = np.concatenate([w, meta.intercept_[1:]])
    _, grad = _pool_loss(theta, Z, y, np.ones(len(y)), K, 1e-3)
    active = w > 0
    # Stationary in the free directions, pushing against the bound where a weight is 0.
    np.testing.assert_allclose(grad[:w.size][active], 0.0, atol=1e-5)
    assert np.all(grad[:w.size][~active] >= -1e-6)
    np.testing.assert_allclose(grad[w.size:], 0.0, atol=1e-5)


def test_pool_alpha_is_the_cross_validated_argmin():
    from sklearn.model_selection import StratifiedKFold

    from ensemblekit.ensembles._meta import _NonNegativeLogisticCV, _pool_fit, _pool_loss

    Z, y = _member_logits(300, 3)
    alphas = [1e-4, 1e-1, 10.0]
    meta = _NonNegativeLogisticCV(alphas=alphas, cv=3).fit(Z, y)
    assert meta.alpha_ == alphas[int(np.argmin(meta.cv_log_loss_))]
    # Recompute the held-out loss of one alpha by hand.
    held = 0.0
    for tr, te in StratifiedKFold(3).split(Z, y):
        theta = _pool_fit(Z[tr], y[tr], np.ones(len(tr)), 3, 10.0, np.zeros(9 + 2),
                          tight=False)
        held += _pool_loss(theta, Z[te], y[te], np.ones(len(te)), 3, 0.0)[0] * len(te)
    assert meta.cv_log_loss_[2] == pytest.approx(held / len(y), rel=1e-4)


def test_pool_rejects_columns_that_are_not_member_blocks():
    from ensemblekit.ensembles._meta import _NonNegativeLogisticCV

    Z, y = _member_logits(100, 3)
    with pytest.raises(ValueError, match=r"^With 3 classes the input must hold 3 columns per "
                       r"member \(their log-probabilities, member after member\); got 8 "
                       r"columns\.$"):
        _NonNegativeLogisticCV().fit(Z[:, :8], y)
