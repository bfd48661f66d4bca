import numpy as np
import pandas as pd
import pytest
from _ens_helpers import NegatedRegressor, NoWeightRegressor, WeightRecorder
from sklearn.base import clone
from sklearn.ensemble import StackingRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RepeatedKFold,
    ShuffleSplit,
    cross_val_predict,
    cross_val_score,
)
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from ensemblekit.ensembles import (
    BoostingRegressor,
    NonNegativeRidgeCV,
    StackingCVRegressor,
    make_stacking_layers,
)
from ensemblekit.estimators import GDRidge


def _members():
    return [
        ("ridge", Ridge(alpha=1.0)),
        ("tree", DecisionTreeRegressor(max_depth=4, random_state=0)),
        ("knn", KNeighborsRegressor(n_neighbors=3)),
    ]


def test_oof_matrix_equals_cross_val_predict_with_same_folds(reg_data):
    X, y = reg_data
    stack = StackingCVRegressor(_members(), cv=4, random_state=3).fit(X, y)
    folds = KFold(4, shuffle=True, random_state=3)
    for j, (_, est) in enumerate(_members()):
        ref = cross_val_predict(est, X, y, cv=folds)
        np.testing.assert_allclose(stack.oof_predictions_[:, j], ref, rtol=1e-12, atol=1e-12)
    assert np.all(stack.oof_counts_ == 1)
    # The folds are shuffled: the first test fold is not a block of consecutive rows.
    first_test = stack.cv_splits_[0][1]
    assert not np.array_equal(first_test, np.arange(first_test.min(), first_test.max() + 1))


def test_meta_learner_is_trained_on_the_oof_matrix(reg_data):
    X, y = reg_data
    stack = StackingCVRegressor(_members(), final_estimator=Ridge(alpha=0.5), cv=3,
                                random_state=0).fit(X, y)
    ref = Ridge(alpha=0.5).fit(stack.oof_predictions_, y)
    np.testing.assert_allclose(stack.final_estimator_.coef_, ref.coef_, rtol=1e-10)
    # refit="full": the members used at predict time are fitted on all rows.
    for (_, est), fitted in zip(_members(), stack.estimators_, strict=True):
        np.testing.assert_allclose(fitted.predict(X), clone(est).fit(X, y).predict(X))
    P = np.column_stack([clone(e).fit(X, y).predict(X) for _, e in _members()])
    np.testing.assert_allclose(stack.predict(X), ref.predict(P), rtol=1e-10)


def test_default_meta_learner_is_non_negative(reg_data):
    X, y = reg_data
    members = _members() + [("anti", NegatedRegressor(KNeighborsRegressor(n_neighbors=1)))]
    stack = StackingCVRegressor(members, cv=3, random_state=0).fit(X, y)
    assert isinstance(stack.final_estimator_, NonNegativeRidgeCV)
    # Control: unconstrained least squares gives the anti-correlated member a negative weight.
    assert LinearRegression().fit(stack.oof_predictions_, y).coef_[-1] < 0
    assert np.all(stack.final_estimator_.coef_ >= 0)


def test_no_leak_on_pure_noise():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    y = rng.normal(size=300)
    members = [
        ("tree", DecisionTreeRegressor(random_state=0)),  # memorizes its training rows
        ("knn1", KNeighborsRegressor(n_neighbors=1)),  # ditto
        ("ridge", Ridge()),
    ]
    # Control: in-sample predictions of these members look perfect, so a leak would show.
    assert r2_score(y, DecisionTreeRegressor(random_state=0).fit(X, y).predict(X)) > 0.99
    stack = StackingCVRegressor(members, cv=5, random_state=0).fit(X, y)
    for j in range(3):
        assert r2_score(y, stack.oof_predictions_[:, j]) < 0.0
    # The meta-learner's fit on the OOF matrix is no better than the mean (up to the
    # in-sample optimism of 4 coefficients on 300 rows).
    assert r2_score(y, stack.final_estimator_.predict(stack.oof_predictions_)) < 0.03
    # Honest outer CV of the whole stack: no better than predicting the mean.
    outer = cross_val_score(stack, X, y, cv=KFold(5, shuffle=True, random_state=1), scoring="r2")
    assert outer.mean() < 0.01


def test_refit_average_uses_fold_models(reg_data):
    X, y = reg_data
    stack = StackingCVRegressor(_members(), cv=3, refit="average", random_state=0).fit(X, y)
    full = StackingCVRegressor(_members(), cv=3, refit="full", random_state=0).fit(X, y)
    np.testing.assert_allclose(stack.oof_predictions_, full.oof_predictions_)
    folds = stack.cv_splits_
    P = np.column_stack([
        np.mean([clone(e).fit(X[tr], y[tr]).predict(X) for tr, _ in folds], axis=0)
        for _, e in _members()
    ])
    np.testing.assert_allclose(stack.predict(X), stack.final_estimator_.predict(P), rtol=1e-10)
    assert len(stack.named_estimators_["tree"].estimators_) == 3


def test_each_member_fitted_once_per_fold_plus_refit(reg_data):
    X, y = reg_data
    calls = []

    class Counting(Ridge):
        def fit(self, X, y, sample_weight=None):
            calls.append(len(y))
            return super().fit(X, y, sample_weight)

    StackingCVRegressor([("a", Counting()), ("b", Counting(alpha=3.0))], cv=4,
                        random_state=0).fit(X, y)
    assert len(calls) == 2 * (4 + 1)
    StackingCVRegressor([("a", Counting()), ("b", Counting(alpha=3.0))], cv=4,
                        refit="average", random_state=0).fit(X, y)
    assert len(calls) == 10 + 2 * 4


def test_parallel_equals_sequential(reg_data):
    X, y = reg_data
    a = StackingCVRegressor(_members(), cv=3, n_jobs=1, random_state=0).fit(X, y)
    b = StackingCVRegressor(_members(), cv=3, n_jobs=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(a.oof_predictions_, b.oof_predictions_)
    np.testing.assert_allclose(a.predict(X), b.predict(X))


def test_repeated_folds_average_and_uncovered_rows_are_nan(reg_data):
    X, y = reg_data
    rkf = RepeatedKFold(n_splits=3, n_repeats=2, random_state=0)
    stack = StackingCVRegressor([("ridge", Ridge())], cv=rkf).fit(X, y)
    assert np.all(stack.oof_counts_ == 2)
    splits = list(rkf.split(X))
    ref = np.zeros(len(y))
    for tr, te in splits:
        ref[te] += Ridge().fit(X[tr], y[tr]).predict(X[te]) / 2
    np.testing.assert_allclose(stack.oof_predictions_[:, 0], ref)

    ss = ShuffleSplit(n_splits=2, test_size=0.2, random_state=0)
    stack = StackingCVRegressor([("ridge", Ridge())], cv=ss).fit(X, y)
    uncovered = stack.oof_counts_ == 0
    assert uncovered.any()
    assert np.all(np.isnan(stack.oof_predictions_[uncovered]))
    assert not np.isnan(stack.oof_predictions_[~uncovered]).any()
    # The meta-learner was trained on the covered rows only.
    covered = ~uncovered
    ref = NonNegativeRidgeCV().fit(stack.oof_predictions_[covered], y[covered])
    np.testing.assert_allclose(stack.final_estimator_.coef_, ref.coef_)


def test_multilayer_stack_trains_each_layer_on_the_previous_oof(reg_data):
    X, y = reg_data
    layer2 = [("r2", Ridge(alpha=10.0)), ("t2", DecisionTreeRegressor(max_depth=2, random_state=0))]
    stack = make_stacking_layers([_members(), layer2], cv=3, random_state=0).fit(X, y)
    inner = stack.final_estimator_
    assert isinstance(inner, StackingCVRegressor)
    folds = KFold(3, shuffle=True, random_state=0)
    for j, (_, est) in enumerate(layer2):
        ref = cross_val_predict(est, stack.oof_predictions_, y, cv=folds)
        np.testing.assert_allclose(inner.oof_predictions_[:, j], ref)
    assert stack.predict(X).shape == (len(y),)
    # Nested parameters reach the inner layer.
    assert stack.get_params()["final_estimator__r2__alpha"] == 10.0


def test_grid_search_and_pipeline_reach_member_params(reg_data):
    X, y = reg_data
    stack = StackingCVRegressor(_members(), cv=3, random_state=0)
    params = stack.get_params()
    assert params["ridge__alpha"] == 1.0 and params["tree__max_depth"] == 4
    pipe = make_pipeline(StandardScaler(), stack)
    gs = GridSearchCV(
        pipe,
        {"stackingcvregressor__ridge__alpha": [0.1, 10.0],
         "stackingcvregressor__knn": ["drop", KNeighborsRegressor(5)]},
        cv=3,
    ).fit(X, y)
    assert set(gs.best_params_) == {"stackingcvregressor__ridge__alpha",
                                    "stackingcvregressor__knn"}
    stack.set_params(knn="drop").fit(X, y)
    assert stack.member_names_ == ["ridge", "tree"]
    assert stack.oof_predictions_.shape == (len(y), 2)


def test_pandas_categorical_input_and_passthrough(cat_frame):
    X, y = cat_frame
    members = [
        ("xgb", BoostingRegressor("xgboost", device="cpu", n_estimators=20, n_jobs=1,
                                  random_state=0)),
        ("lgbm", BoostingRegressor("lightgbm", device="cpu", n_estimators=20, n_jobs=1,
                                   random_state=0)),
    ]
    final = BoostingRegressor("lightgbm", device="cpu", n_estimators=20, n_jobs=1,
                              random_state=0, early_stopping=False)
    stack = StackingCVRegressor(members, final_estimator=final, cv=3, passthrough=True,
                                random_state=0).fit(X, y)
    assert list(stack.feature_names_in_) == ["cat", "x1", "x2"]
    assert list(stack.final_estimator_.feature_names_in_) == [
        "cat", "x1", "x2", "stackingcvregressor_xgb", "stackingcvregressor_lgbm"]
    assert r2_score(y, stack.predict(X)) > 0.9
    with pytest.raises(ValueError, match="feature names"):
        stack.predict(X[["x1", "cat", "x2"]])


def test_sample_weight_routed_to_members_folds_and_meta(reg_data):
    X, y = reg_data
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    members = [("rec", WeightRecorder()),
               ("pipe", make_pipeline(StandardScaler(), WeightRecorder()))]
    stack = StackingCVRegressor(members, final_estimator=WeightRecorder(), cv=3,
                                random_state=0).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(stack.estimators_[0].sample_weight_, w)
    np.testing.assert_array_equal(stack.estimators_[1][-1].sample_weight_, w)
    np.testing.assert_array_equal(stack.final_estimator_.sample_weight_, w)
    # Fold models got their fold's slice: OOF value = weighted mean of the training rows.
    for tr, te in stack.cv_splits_:
        np.testing.assert_allclose(stack.oof_predictions_[te, 0], np.average(y[tr], weights=w[tr]))
    with pytest.raises(TypeError, match="'nows'.*sample_weight"):
        StackingCVRegressor([("nows", NoWeightRegressor())], cv=3).fit(X, y, sample_weight=w)


def test_gd_linear_member(reg_data):
    X, y = reg_data
    stack = StackingCVRegressor([("gd", GDRidge(alpha=1.0)), ("ridge", Ridge(alpha=1.0))], cv=3,
                                random_state=0).fit(X, y)
    # GDRidge minimizes Ridge's objective, so the two OOF columns agree closely.
    np.testing.assert_allclose(stack.oof_predictions_[:, 0], stack.oof_predictions_[:, 1],
                               rtol=1e-3, atol=1e-2 * np.std(y))


def test_same_score_as_sklearn_stacking_with_same_folds_and_meta(reg_data):
    X, y = reg_data
    folds = KFold(3, shuffle=True, random_state=0)
    ours = StackingCVRegressor(_members(), final_estimator=Ridge(), cv=folds).fit(X, y)
    theirs = StackingRegressor(_members(), final_estimator=Ridge(), cv=folds).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)


def test_dataframe_index_is_irrelevant(reg_data):
    X, y = reg_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])],
                      index=np.arange(len(y))[::-1] * 7)
    a = StackingCVRegressor(_members(), cv=3, random_state=0).fit(df, pd.Series(y, index=df.index))
    b = StackingCVRegressor(_members(), cv=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(a.oof_predictions_, b.oof_predictions_)


def test_fitted_stack_pickles_and_layers_need_members(reg_data):
    import pickle

    X, y = reg_data
    stack = StackingCVRegressor(_members(), cv=3, refit="average", random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(stack))
    np.testing.assert_array_equal(again.predict(X), stack.predict(X))
    with pytest.raises(ValueError, match="non-empty"):
        make_stacking_layers([])


def test_grid_search_in_parallel_over_average_stack(reg_data):
    X, y = reg_data
    stack = StackingCVRegressor(_members(), cv=3, refit="average", random_state=0)
    gs = GridSearchCV(stack, {"tree__max_depth": [2, 4]}, cv=2, n_jobs=2).fit(X, y)
    assert gs.best_estimator_.predict(X).shape == (len(y),)
