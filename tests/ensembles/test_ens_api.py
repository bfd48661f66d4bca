"""One spelling across the ensembles (old ones deprecated), and seeded ensembles reproducible."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import RepeatedKFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import check_fit_idempotent, check_regressors_int

from ensemblekit.ensembles import (
    BlendingClassifier,
    BlendingRegressor,
    BoostingClassifier,
    BoostingRegressor,
    KFoldBaggingClassifier,
    KFoldBaggingRegressor,
    StackingCVClassifier,
    StackingCVRegressor,
    WeightedEnsembleClassifier,
    WeightedEnsembleRegressor,
)


def _exact(msg):
    return f"^{re.escape(msg)}$"


@pytest.fixture
def reg():
    return make_regression(n_samples=90, n_features=4, noise=5.0, random_state=0)


@pytest.fixture
def clf():
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    return X, np.array(["no", "yes"])[y]


REG_MEMBERS = [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=3, random_state=0))]
CLF_MEMBERS = [("lr", LogisticRegression()),
               ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]
HETEROGENEOUS = [
    (StackingCVRegressor, REG_MEMBERS), (BlendingRegressor, REG_MEMBERS),
    (WeightedEnsembleRegressor, REG_MEMBERS), (StackingCVClassifier, CLF_MEMBERS),
    (BlendingClassifier, CLF_MEMBERS), (WeightedEnsembleClassifier, CLF_MEMBERS),
]


@pytest.mark.parametrize("cls, members", HETEROGENEOUS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("refit", ["full", "average"])
def test_every_ensemble_has_refit_full_or_average_and_oof_attributes(cls, members, refit, reg,
                                                                     clf):
    X, y = clf if "Classifier" in cls.__name__ else reg
    ens = cls(members, refit=refit, random_state=0).fit(X, y)
    width = 1  # one column per member: regression, or the second class's probability
    assert ens.oof_predictions_.shape == (len(y), len(members) * width)
    assert ens.oof_counts_.shape == (len(y),)
    covered = ens.oof_counts_ > 0
    assert np.isfinite(ens.oof_predictions_[covered]).all()
    assert np.isnan(ens.oof_predictions_[~covered]).all()
    for fitted in ens.estimators_:  # real estimators, fitted, that predict on their own
        assert hasattr(fitted, "fit") and fitted.predict(X[:3]).shape == (3,)
    if refit == "full":
        assert all(not isinstance(e, (KFoldBaggingRegressor, KFoldBaggingClassifier))
                   for e in ens.estimators_)


@pytest.mark.parametrize("cls", [KFoldBaggingRegressor, KFoldBaggingClassifier])
def test_bagging_has_oof_predictions_and_counts(cls, reg, clf):
    X, y = clf if cls is KFoldBaggingClassifier else reg
    est = LogisticRegression() if cls is KFoldBaggingClassifier else Ridge()
    bag = cls(est, cv=3, random_state=0).fit(X, y)
    assert bag.oof_predictions_.shape[0] == len(y) and np.all(bag.oof_counts_ == 1)


def test_kfold_bagging_sets_folds_one_way_old_spelling_deprecated(reg):
    X, y = reg
    new = KFoldBaggingRegressor(Ridge(), cv=RepeatedKFold(n_splits=3, n_repeats=2,
                                                          random_state=0)).fit(X, y)
    msg = ("n_splits and n_repeats are deprecated and will be removed in 0.3; use "
           "cv=RepeatedKFold(n_splits=3, n_repeats=2, random_state=...) instead (an int cv=k "
           "means KFold(k, shuffle=True)).")
    with pytest.warns(FutureWarning, match=_exact(msg)):
        old = KFoldBaggingRegressor(Ridge(), n_splits=3, n_repeats=2, random_state=0).fit(X, y)
    np.testing.assert_allclose(old.oof_predictions_, new.oof_predictions_)
    msg = ("n_splits is deprecated and will be removed in 0.3; use cv=RepeatedKFold(n_splits=4, "
           "n_repeats=1, random_state=...) instead (an int cv=k means KFold(k, shuffle=True)).")
    with pytest.warns(FutureWarning, match=_exact(msg)):
        old = KFoldBaggingRegressor(Ridge(), n_splits=4, random_state=0).fit(X, y)
    new = KFoldBaggingRegressor(Ridge(), cv=4, random_state=0).fit(X, y)
    np.testing.assert_allclose(old.oof_predictions_, new.oof_predictions_)
    with pytest.raises(ValueError, match=_exact(
            "Pass the folds once: cv=3 and the deprecated n_splits were both given; keep cv.")):
        KFoldBaggingRegressor(Ridge(), cv=3, n_splits=4).fit(X, y)


def test_kfold_bagging_old_attribute_names_warn_and_alias(reg):
    X, y = reg
    bag = KFoldBaggingRegressor(Ridge(), cv=3, random_state=0).fit(X, y)
    with pytest.warns(FutureWarning, match=_exact(
            "oof_prediction_ was renamed oof_predictions_ in 0.2 and will be removed in 0.3")):
        assert bag.oof_prediction_ is bag.oof_predictions_
    with pytest.warns(FutureWarning, match=_exact(
            "oof_count_ was renamed oof_counts_ in 0.2 and will be removed in 0.3")):
        assert bag.oof_count_ is bag.oof_counts_
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names stay silent
        assert bag.oof_predictions_ is not None and bag.oof_counts_ is not None


@pytest.mark.parametrize("old, new", [(True, "full"), (False, "average")])
def test_blending_boolean_refit_is_deprecated(old, new, reg):
    X, y = reg
    msg = (f"refit={old} is deprecated and will be removed in 0.3; use refit={new!r} (the "
           "spelling of the other ensembles).")
    with pytest.warns(FutureWarning, match=_exact(msg)):
        blend_old = BlendingRegressor(REG_MEMBERS, refit=old, random_state=0).fit(X, y)
    blend_new = BlendingRegressor(REG_MEMBERS, refit=new, random_state=0).fit(X, y)
    np.testing.assert_allclose(blend_old.predict(X), blend_new.predict(X))
    msg = ("holdout_predictions_ is deprecated since 0.2 and will be removed in 0.3; use "
           "oof_predictions_[holdout_indices_]")
    with pytest.warns(FutureWarning, match=_exact(msg)):
        held = blend_new.holdout_predictions_
    np.testing.assert_array_equal(held, blend_new.oof_predictions_[blend_new.holdout_indices_])


# -------------------------------------------------------------------------------------------------
# random_state of an ensemble seeds the members that have none
# -------------------------------------------------------------------------------------------------


def _early_stopping_booster():
    return BoostingRegressor("xgboost", device="cpu", n_estimators=200, learning_rate=0.3,
                             n_jobs=1)  # random_state=None: its early-stopping split varies


def test_seeded_stack_over_unseeded_early_stopping_booster_is_reproducible(reg):
    X, y = reg
    members = [("gb", _early_stopping_booster()), ("ridge", Ridge())]
    # Control: without a seed anywhere, two fits differ (the validation split is drawn anew).
    loose = StackingCVRegressor(members, cv=3)
    assert not np.array_equal(loose.fit(X, y).oof_predictions_[:, 0],
                              loose.fit(X, y).oof_predictions_[:, 0])
    seeded = StackingCVRegressor(members, cv=3, random_state=0)
    a = seeded.fit(X, y).predict(X)
    np.testing.assert_array_equal(seeded.fit(X, y).predict(X), a)
    # The user's member is left as given; the fitted copy got a seed.
    assert members[0][1].random_state is None
    assert isinstance(seeded.named_estimators_["gb"].random_state, int)
    # The two checks of issue 15, run by scikit-learn itself.
    check_fit_idempotent("StackingCVRegressor", seeded)
    check_regressors_int("StackingCVRegressor", seeded)


def test_members_own_seeds_are_kept_and_seeds_do_not_shift(reg):
    X, y = reg
    own = BoostingRegressor("lightgbm", device="cpu", n_estimators=20, n_jobs=1, random_state=7)
    stack = StackingCVRegressor([("gb", _early_stopping_booster()), ("own", own)], cv=3,
                                random_state=0).fit(X, y)
    assert stack.named_estimators_["own"].random_state == 7
    first = stack.named_estimators_["gb"].random_state
    # Dropping a later member does not change the seed an earlier one gets.
    stack.set_params(own="drop").fit(X, y)
    assert stack.named_estimators_["gb"].random_state == first


@pytest.mark.parametrize("cls", [StackingCVClassifier, BlendingClassifier,
                                 WeightedEnsembleClassifier])
def test_seeded_classification_ensembles_are_reproducible(cls, clf):
    X, y = clf
    members = [("gb", BoostingClassifier("lightgbm", device="cpu", n_estimators=50,
                                         subsample=0.7, n_jobs=1)), ("lr", LogisticRegression())]
    ens = cls(members, random_state=0)
    np.testing.assert_array_equal(ens.fit(X, y).predict_proba(X), ens.fit(X, y).predict_proba(X))


def test_seeded_bagging_seeds_its_estimator(reg):
    X, y = reg
    bag = KFoldBaggingRegressor(_early_stopping_booster(), cv=3, random_state=0)
    np.testing.assert_array_equal(bag.fit(X, y).predict(X), bag.fit(X, y).predict(X))
