import re

import numpy as np
import pytest
from _ens_helpers import (
    FailOnSmallRegressor,
    NaNProbaClassifier,
    NaNRegressor,
    OutOfRangeProbaClassifier,
    ReversedClassesClassifier,
    ScoreOnlyClassifier,
)
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeClassifier

from ensemblekit.ensembles import (
    BlendingClassifier,
    BlendingRegressor,
    KFoldBaggingClassifier,
    KFoldBaggingRegressor,
    StackingCVClassifier,
    StackingCVRegressor,
    WeightedEnsembleClassifier,
    WeightedEnsembleRegressor,
)

ENSEMBLES = [
    lambda est: StackingCVRegressor(est, cv=3, random_state=0),
    lambda est: StackingCVRegressor(est, cv=3, refit="average", random_state=0),
    lambda est: WeightedEnsembleRegressor(est, method="caruana", cv=3, random_state=0),
    lambda est: BlendingRegressor(est, random_state=0),
]
IDS = ["stacking-full", "stacking-average", "weighted", "blending"]


def _where(ens):
    if isinstance(ens, BlendingRegressor):
        return "the training part of the holdout split"
    return "fold 0"


@pytest.mark.parametrize("make", ENSEMBLES, ids=IDS)
def test_failing_member_error_names_member_and_fold(make, reg_data):
    X, y = reg_data
    # Fits on all 120 rows but not on a fold's training part: the error must say which fold.
    members = [("ridge", Ridge()), ("fragile", FailOnSmallRegressor(min_rows=110))]
    ens = make(members)
    with pytest.raises(ValueError, match=rf"member 'fragile' on {_where(ens)}.*boom: got \d+ rows"):
        ens.fit(X, y)


def test_failing_full_refit_is_named(reg_data):
    X, y = reg_data
    # Fold fits (80 rows) succeed, the refit on all 120 rows fails.
    class FailOnLarge(FailOnSmallRegressor):
        def fit(self, X, y, sample_weight=None):
            if len(y) > 100:
                raise RuntimeError("too big")
            self.mean_ = float(np.mean(y))
            return self

    with pytest.raises(RuntimeError, match="member 'big' on the full training data.*too big"):
        StackingCVRegressor([("big", FailOnLarge())], cv=3, random_state=0).fit(X, y)


def test_failing_fold_in_parallel_is_named(reg_data):
    X, y = reg_data
    members = [("ridge", Ridge()), ("fragile", FailOnSmallRegressor(min_rows=110))]
    with pytest.raises(ValueError, match=r"member 'fragile' on fold \d"):
        StackingCVRegressor(members, cv=3, n_jobs=2, random_state=0).fit(X, y)


@pytest.mark.parametrize("make", ENSEMBLES, ids=IDS)
def test_nan_predicting_member_is_a_clear_error(make, reg_data):
    X, y = reg_data
    ens = make([("ridge", Ridge()), ("broken", NaNRegressor())])
    msg = rf"member 'broken' on {_where(ens)} predicted \d+ non-finite"
    with pytest.raises(ValueError, match=msg):
        ens.fit(X, y)
    assert not hasattr(ens, "final_estimator_") and not hasattr(ens, "weights_")


@pytest.mark.parametrize("make", ENSEMBLES, ids=IDS)
def test_empty_duplicate_and_classifier_members(make, reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="non-empty list"):
        make([]).fit(X, y)
    with pytest.raises(ValueError, match="Names provided are not unique"):
        make([("a", Ridge()), ("a", Ridge(alpha=2.0))]).fit(X, y)
    with pytest.raises(ValueError, match="should be a regressor"):
        make([("a", Ridge()), ("clf", DecisionTreeClassifier())]).fit(X, y)
    with pytest.raises(ValueError, match="All estimators are dropped"):
        make([("a", "drop")]).fit(X, y)


def test_bagging_rejects_classifier(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="should be a regressor"):
        KFoldBaggingRegressor(LogisticRegression()).fit(X, y)


def test_nan_at_predict_time_is_named(reg_data):
    X, y = reg_data

    class NaNAtPredict(Ridge):
        def predict(self, X):
            out = super().predict(X)
            if len(out) == 7:
                out[3] = np.nan
            return out

    stack = StackingCVRegressor([("r", Ridge()), ("odd", NaNAtPredict())], cv=3,
                                random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="member 'odd' at predict time predicted 1 non-finite"):
        stack.predict(X[:7])


# -------------------------------------------------------------------------------------------------
# Classification ensembles
# -------------------------------------------------------------------------------------------------

CLASSIFIER_ENSEMBLES = [
    lambda m: StackingCVClassifier(m, cv=3, refit="average", random_state=0),
    lambda m: WeightedEnsembleClassifier(m, cv=3, refit="average", random_state=0),
    lambda m: BlendingClassifier(m, random_state=0),
    lambda m: KFoldBaggingClassifier(m[-1][1], cv=3, random_state=0),
]
CLASSIFIER_IDS = ["stacking", "weighted", "blending", "bagging"]


def _clf_data(n=120):
    X, y = make_classification(n_samples=n, n_features=5, random_state=0)
    return X, np.array(["bad", "good"])[y]


def _clf_where(ens, name):
    if isinstance(ens, BlendingClassifier):
        return f"member {name!r} on the training part of the holdout split"
    if isinstance(ens, KFoldBaggingClassifier):
        return "member 'estimator' on fold 0"
    return f"member {name!r} on fold 0"


def _exact(msg):
    return f"^{re.escape(msg)}$"


@pytest.mark.parametrize("make", CLASSIFIER_ENSEMBLES[:3], ids=CLASSIFIER_IDS[:3])
def test_regressor_in_a_classifier_ensemble_names_the_member(make):
    X, y = _clf_data()
    ens = make([("logreg", LogisticRegression()), ("ridge", Ridge())])
    msg = (f"Member 'ridge' (Ridge) should be a classifier: {type(ens).__name__} combines "
           "classifiers. Remove it or replace it.")
    with pytest.raises(ValueError, match=_exact(msg)):
        ens.fit(X, y)
    msg = ("The estimator Ridge should be a classifier: KFoldBaggingClassifier bags "
           "classifiers.")
    with pytest.raises(ValueError, match=_exact(msg)):
        KFoldBaggingClassifier(Ridge()).fit(X, y)


@pytest.mark.parametrize("make", CLASSIFIER_ENSEMBLES, ids=CLASSIFIER_IDS)
def test_member_whose_classes_disagree_is_named_with_its_fold(make):
    X, y = _clf_data()
    ens = make([("logreg", LogisticRegression()), ("rev", ReversedClassesClassifier())])
    msg = (f"{_clf_where(ens, 'rev')} learned the classes ['good', 'bad'], but the ensemble's "
           "classes are ['bad', 'good']: members are fitted on the labels encoded as 0..1 and "
           "must predict all of them, in that order. Drop this member or fit it on the same "
           "labels.")
    with pytest.raises(ValueError, match=_exact(msg)):
        ens.fit(X, y)


@pytest.mark.parametrize("make", CLASSIFIER_ENSEMBLES, ids=CLASSIFIER_IDS)
def test_member_predicting_nan_probabilities_is_named_with_its_fold(make):
    X, y = _clf_data()
    ens = make([("logreg", LogisticRegression()), ("nan", NaNProbaClassifier())])
    where = _clf_where(ens, "nan")
    msg = rf"^{re.escape(where)} predicted \d+ non-finite value\(s\) \(NaN or inf\) on \d+ rows"
    with pytest.raises(ValueError, match=msg):
        ens.fit(X, y)


@pytest.mark.parametrize("make", CLASSIFIER_ENSEMBLES, ids=CLASSIFIER_IDS)
def test_probabilities_outside_0_1_are_named_with_member_and_fold(make):
    X, y = _clf_data()
    ens = make([("logreg", LogisticRegression()), ("over", OutOfRangeProbaClassifier())])
    pattern = (rf"^{re.escape(_clf_where(ens, 'over'))} returned probabilities outside \[0, 1\] "
               r"\(min -0\.\d+, max 1\.\d+\); its predict_proba is broken\. Fix or drop this "
               r"member \(a regressor's output is not a probability\)\.$")
    with pytest.raises(ValueError, match=pattern):
        ens.fit(X, y)


@pytest.mark.parametrize("make", CLASSIFIER_ENSEMBLES[:2] + CLASSIFIER_ENSEMBLES[3:],
                         ids=["stacking", "weighted", "bagging"])
def test_class_absent_from_a_training_fold_is_named(make):
    X, y = _clf_data(90)
    y = np.array(["a"] * 10 + ["b"] * 40 + ["c"] * 40)  # sorted: unshuffled folds miss 'a'
    ens = make([("logreg", LogisticRegression()), ("tree", DecisionTreeClassifier())])
    ens.set_params(cv=KFold(3))
    msg = ("The training rows of fold 0 hold no sample of class 'a' (y has 10 of it), so every "
           "member would be fitted there without that class. Use a stratified splitter (an int "
           "cv gives StratifiedKFold), fewer folds, or merge the rare class with another.")
    with pytest.raises(ValueError, match=_exact(msg)):
        ens.fit(X, y)
    ens.set_params(cv=3).fit(X, y)  # the default stratified folds hold every class


def test_blending_holdout_without_a_rare_class_is_a_clear_error():
    X, y = _clf_data()
    y[0] = "rare"
    with pytest.raises(ValueError, match=r"^The stratified holdout \(holdout=0\.2\) cannot be "
                       r"drawn: .* Every class needs at least 2 samples and the holdout at least "
                       r"one row per class; use more data or a larger holdout\.$"):
        BlendingClassifier([("logreg", LogisticRegression())], random_state=0).fit(X, y)


@pytest.mark.parametrize("make", CLASSIFIER_ENSEMBLES, ids=CLASSIFIER_IDS)
def test_one_class_target_is_a_clear_error(make):
    X, _ = _clf_data()
    ens = make([("logreg", LogisticRegression()), ("tree", DecisionTreeClassifier())])
    msg = (f"{type(ens).__name__} needs at least 2 classes in y, but y holds one class only "
           "('good'): there is nothing to classify.")
    with pytest.raises(ValueError, match=_exact(msg)):
        ens.fit(X, ["good"] * len(X))


def test_weighted_ensemble_needs_probabilities():
    X, y = _clf_data()
    msg = ("Member 'score' (ScoreOnlyClassifier) has none of predict_proba; this ensemble "
           "combines class probabilities: wrap it in sklearn.calibration.CalibratedClassifierCV "
           "or drop it.")
    with pytest.raises(ValueError, match=_exact(msg)):
        WeightedEnsembleClassifier([("score", ScoreOnlyClassifier())]).fit(X, y)


def test_passthrough_with_the_default_classifier_meta_learner():
    X, y = _clf_data()
    msg = ("passthrough=True needs a final_estimator that takes the original features as well "
           "(e.g. a BoostingClassifier, or a Pipeline with preprocessing); the default "
           "meta-learner combines only the members' log-odds.")
    with pytest.raises(ValueError, match=_exact(msg)):
        StackingCVClassifier([("logreg", LogisticRegression())], passthrough=True).fit(X, y)


def test_nan_probabilities_at_predict_time_are_named():
    X, y = _clf_data()

    class NaNAtPredict(LogisticRegression):
        def predict_proba(self, X):
            out = super().predict_proba(X)
            if len(out) == 7:
                out[3] = np.nan
            return out

    stack = StackingCVClassifier([("lr", LogisticRegression()), ("odd", NaNAtPredict())], cv=3,
                                 random_state=0).fit(X, y)
    msg = ("member 'odd' at predict time predicted 2 non-finite value(s) (NaN or inf) on 7 rows; "
           "the ensemble cannot combine them. Fix or drop this member (e.g. impute its inputs "
           "or regularize it).")
    with pytest.raises(ValueError, match=_exact(msg)):
        stack.predict_proba(X[:7])
