import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeRegressor

from ensemblekit.ensembles import BlendingRegressor, NonNegativeRidgeCV


def _members():
    return [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]


def test_meta_learner_sees_only_holdout_predictions(reg_data):
    X, y = reg_data
    blend = BlendingRegressor(_members(), holdout=0.25, random_state=0).fit(X, y)
    tr, ho = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0)
    np.testing.assert_array_equal(blend.holdout_indices_, ho)
    P = np.column_stack([clone(e).fit(X[tr], y[tr]).predict(X[ho]) for _, e in _members()])
    np.testing.assert_allclose(blend.oof_predictions_[ho], P)
    assert np.isnan(blend.oof_predictions_[tr]).all() and (blend.oof_counts_[tr] == 0).all()
    meta = NonNegativeRidgeCV().fit(P, y[ho])
    np.testing.assert_allclose(blend.final_estimator_.coef_, meta.coef_)
    P_all = np.column_stack([clone(e).fit(X[tr], y[tr]).predict(X) for _, e in _members()])
    np.testing.assert_allclose(blend.predict(X), meta.predict(P_all))


def test_refit_members_on_all_rows(reg_data):
    X, y = reg_data
    blend = BlendingRegressor(_members(), holdout=10, refit="full", random_state=0).fit(X, y)
    assert blend.oof_predictions_[blend.holdout_indices_].shape == (10, 2)
    for (_, e), fitted in zip(_members(), blend.estimators_, strict=True):
        np.testing.assert_allclose(fitted.predict(X), clone(e).fit(X, y).predict(X))


def test_holdout_validation(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="holdout"):
        BlendingRegressor(_members(), holdout=1.5).fit(X, y)
