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
