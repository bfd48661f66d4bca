import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import BaggingRegressor
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.model_selection import KFold, RepeatedKFold, ShuffleSplit, cross_val_predict
from sklearn.tree import DecisionTreeRegressor

from ensemblekit.ensembles import KFoldBaggingRegressor
from ensemblekit.estimators import GDElasticNet, GDRidge


def test_oof_equals_cross_val_predict_and_predict_averages_folds(reg_data):
    X, y = reg_data
    est = DecisionTreeRegressor(max_depth=4, random_state=0)
    bag = KFoldBaggingRegressor(est, cv=4, random_state=0).fit(X, y)
    splits = list(KFold(4, shuffle=True, random_state=0).split(X))
    np.testing.assert_allclose(bag.oof_predictions_, cross_val_predict(est, X, y, cv=splits))
    ref = np.mean([clone(est).fit(X[tr], y[tr]).predict(X) for tr, _ in splits], axis=0)
    np.testing.assert_allclose(bag.predict(X), ref)
    assert np.all(bag.oof_counts_ == 1)


def test_repeats_average_oof(reg_data):
    X, y = reg_data
    bag = KFoldBaggingRegressor(
        Ridge(), cv=RepeatedKFold(n_splits=3, n_repeats=3, random_state=1)).fit(X, y)
    assert len(bag.estimators_) == 9 and np.all(bag.oof_counts_ == 3)
    ref = np.zeros(len(y))
    for tr, te in RepeatedKFold(n_splits=3, n_repeats=3, random_state=1).split(X):
        ref[te] += Ridge().fit(X[tr], y[tr]).predict(X[te]) / 3
    np.testing.assert_allclose(bag.oof_predictions_, ref)


def test_uncovered_rows_are_nan_never_zero(reg_data):
    X, y = reg_data
    y = y + 1000.0  # a 0 would be an obviously wrong prediction here
    ss = ShuffleSplit(n_splits=3, test_size=0.1, random_state=0)
    bag = KFoldBaggingRegressor(Ridge(), cv=ss).fit(X, y)
    covered = np.zeros(len(y), bool)
    for _, te in ss.split(X):
        covered[te] = True
    assert (~covered).sum() > 0
    assert np.all(np.isnan(bag.oof_predictions_[~covered]))
    assert np.all(np.abs(bag.oof_predictions_[covered] - 1000.0) < 500.0)
    np.testing.assert_array_equal(bag.oof_counts_ > 0, covered)


def test_parallel_and_sample_weight(reg_data):
    X, y = reg_data
    w = np.random.default_rng(0).uniform(0.1, 2.0, len(y))
    a = KFoldBaggingRegressor(Ridge(), cv=3, random_state=0, n_jobs=1).fit(X, y, w)
    b = KFoldBaggingRegressor(Ridge(), cv=3, random_state=0, n_jobs=2).fit(X, y, w)
    np.testing.assert_allclose(a.oof_predictions_, b.oof_predictions_)
    for est, (tr, _) in zip(a.estimators_, a.cv_splits_, strict=True):
        ref = Ridge().fit(X[tr], y[tr], sample_weight=w[tr])
        np.testing.assert_allclose(est.coef_, ref.coef_)


def test_nested_params(reg_data):
    X, y = reg_data
    bag = KFoldBaggingRegressor(Ridge(), cv=3)
    bag.set_params(estimator__alpha=7.0)
    assert bag.fit(X, y).estimators_[0].alpha == 7.0


@pytest.mark.parametrize(
    "gd, ref",
    [(GDRidge(alpha=1.0, tol=1e-8), Ridge(alpha=1.0)),
     (GDElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-8), ElasticNet(alpha=0.1, l1_ratio=0.5,
                                                                  tol=1e-10, max_iter=100_000))],
    ids=["GDRidge", "GDElasticNet"],
)
def test_sklearn_bagging_with_gd_estimators(gd, ref, reg_data):
    X, y = reg_data
    X = (X - X.mean(0)) / X.std(0)
    # Same bootstrap draws for both (same random_state); BaggingRegressor passes the bootstrap
    # counts as sample_weight since the GD models accept it, so this also checks weighting.
    ours = BaggingRegressor(gd, n_estimators=20, oob_score=True, random_state=0).fit(X, y)
    theirs = BaggingRegressor(ref, n_estimators=20, oob_score=True, random_state=0).fit(X, y)
    assert len(ours.estimators_) == 20
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-3, atol=1e-3)
    assert ours.oob_score_ == pytest.approx(theirs.oob_score_, abs=1e-3)
    # The bagged GD model is not degenerate: it explains the signal.
    assert ours.oob_score_ > 0.8


def test_kfold_bagging_with_gd_estimator(reg_data):
    X, y = reg_data
    bag = KFoldBaggingRegressor(GDRidge(alpha=1.0), cv=3, random_state=0).fit(X, y)
    ref = KFoldBaggingRegressor(Ridge(alpha=1.0), cv=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(bag.oof_predictions_, ref.oof_predictions_, rtol=1e-3,
                               atol=1e-2 * np.std(y))
