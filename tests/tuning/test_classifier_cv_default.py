"""The searches' default folds are stratified for every classifier of ensemblekit.ensembles."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
from sklearn.tree import DecisionTreeClassifier

from ensemblekit.ensembles import (
    BlendingClassifier,
    BoostingClassifier,
    KFoldBaggingClassifier,
    StackingCVClassifier,
    WeightedEnsembleClassifier,
)
from ensemblekit.tuning import BayesSearchCV, HyperbandSearchCV, Real


def _sorted_labels(n=150):
    """Labels in blocks, as in a file sorted by class: unshuffled KFold(5) would hold all of
    class 'a' out of the first training fold, stratified folds spread it over all five."""
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c"], [20, 65, 65])[:n]
    X = rng.normal(size=(n, 4)) + (y == "a")[:, None] * 1.5 + (y == "b")[:, None] * -1.5
    return X, y


def _members():
    return [("lr", LogisticRegression()),
            ("tree", DecisionTreeClassifier(max_depth=3, random_state=0))]


BOOSTER = BoostingClassifier("lightgbm", device="cpu", n_estimators=20, n_jobs=1,
                             random_state=0)
CASES = [
    (StackingCVClassifier(_members(), cv=3, random_state=0), "lr__C"),
    (BlendingClassifier(_members(), holdout=0.3, random_state=0), "lr__C"),
    (WeightedEnsembleClassifier(_members(), cv=3, random_state=0), "lr__C"),
    (KFoldBaggingClassifier(LogisticRegression(), cv=3, random_state=0), "estimator__C"),
    (BOOSTER, "learning_rate"),
]


@pytest.mark.parametrize("estimator, param", CASES,
                         ids=lambda v: type(v).__name__ if not isinstance(v, str) else "")
def test_bayes_search_defaults_to_stratified_folds(estimator, param):
    X, y = _sorted_labels()
    space = {param: Real(0.05, 1.0, prior="log-uniform")}
    search = BayesSearchCV(estimator, space, n_iter=2, n_initial_points=2, random_state=0,
                           error_score="raise").fit(X, y)
    assert search.n_splits_ == 5
    assert isinstance(search._checked_cv_orig, StratifiedKFold)
    # The folds used are StratifiedKFold(5)'s (scikit-learn's classifier default), not KFold's.
    params = search.cv_results_["params"][0]
    trial = clone(estimator).set_params(**params)
    splits = [search.cv_results_[f"split{k}_test_score"][0] for k in range(5)]
    np.testing.assert_allclose(splits, cross_val_score(trial, X, y, cv=StratifiedKFold(5)))
    assert not np.allclose(splits, cross_val_score(trial, X, y, cv=KFold(5)))


def test_hyperband_search_defaults_to_stratified_folds():
    X, y = _sorted_labels()
    search = HyperbandSearchCV(BOOSTER, {"learning_rate": Real(0.05, 1.0, prior="log-uniform")},
                               resource="n_estimators", max_resource=9, eta=3, random_state=0,
                               error_score="raise").fit(X, y)
    assert isinstance(search._checked_cv_orig, StratifiedKFold) and search.n_splits_ == 5
