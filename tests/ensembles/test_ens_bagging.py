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


def _frame_with_categories(n, n_classes, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "x": rng.normal(size=n),
        "k": rng.integers(0, 5, size=n),
        "c": pd.Categorical(rng.choice(["a", "b", "c", "d"], size=n), categories=list("abcd")),
    })
    X.loc[rng.random(n) < 0.1, "x"] = np.nan
    X.loc[rng.random(n) < 0.1, "c"] = np.nan
    score = X["x"].fillna(0).to_numpy() + (X["c"] == "b").to_numpy() + 0.3 * X["k"].to_numpy()
    cuts = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    y = np.digitize(score + rng.normal(size=n), cuts)
    return X, y


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_bagged_boosters_predict_from_one_converted_input_as_one_by_one(backend, n_classes):
    # refit="average" stacks predict each member's fold models from one prepared input; the
    # numbers must be the fold models' own predict_proba, bit for bit.
    from ensemblekit.ensembles import BoostingClassifier, KFoldBaggingClassifier
    from ensemblekit.ensembles._boosting import shared_predict_proba

    X, y = _frame_with_categories(400, n_classes)
    bag = KFoldBaggingClassifier(BoostingClassifier(backend, n_estimators=30, n_jobs=1),
                                 cv=3, random_state=0).fit(X.iloc[:300], y[:300])
    X_new = X.iloc[300:]
    shared = shared_predict_proba(bag.estimators_, X_new)
    assert shared is not None  # the fast path is taken
    one_by_one = [m.predict_proba(X_new) for m in bag.estimators_]
    for a, b in zip(shared, one_by_one, strict=True):
        np.testing.assert_array_equal(a, b)
    # Two classes: the bag averages the second column and gives the first as 1 - it (ulps).
    np.testing.assert_allclose(bag.predict_proba(X_new), np.mean(one_by_one, axis=0),
                               rtol=0, atol=1e-15)


def test_boosters_that_learned_other_categories_are_predicted_one_by_one():
    from ensemblekit.ensembles import BoostingClassifier
    from ensemblekit.ensembles._boosting import shared_predict_proba

    X, y = _frame_with_categories(300, 2)
    other = X.assign(c=X["c"].cat.set_categories(list("dcba")))  # same values, other codes
    models = [BoostingClassifier("lightgbm", n_estimators=10, n_jobs=1).fit(frame, y)
              for frame in (X, other)]
    assert shared_predict_proba(models, X) is None
    assert shared_predict_proba(models[:1] + [Ridge()], X) is None
