"""Classification ensembles: OOF probabilities, no leakage, labels, layouts, the meta-learner."""

import numpy as np
import pytest
from _ens_helpers import ScoreOnlyClassifier
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_predict,
    train_test_split,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from ensemblekit.ensembles import (
    BlendingClassifier,
    KFoldBaggingClassifier,
    StackingCVClassifier,
    WeightedEnsembleClassifier,
    make_stacking_layers,
)
from ensemblekit.ensembles._meta import _NonNegativeLogisticCV
from ensemblekit.ensembles._stacking import log_odds

NAMES = np.array(["bad", "good", "so-so"])


def _members():
    return [
        ("logreg", LogisticRegression()),
        ("tree", DecisionTreeClassifier(max_depth=4, random_state=0)),
        ("nb", GaussianNB()),
    ]


def _data(n_classes=2, n=300, seed=0):
    X, y = make_classification(n_samples=n, n_features=8, n_informative=4,
                               n_classes=n_classes, random_state=seed)
    return X, NAMES[y]  # string labels: members must still see 0..K-1


@pytest.mark.parametrize("n_classes", [2, 3])
def test_oof_equals_cross_val_predict_proba_with_same_folds(n_classes):
    X, y = _data(n_classes)
    stack = StackingCVClassifier(_members(), cv=4, random_state=3).fit(X, y)
    folds = StratifiedKFold(4, shuffle=True, random_state=3)
    width = 1 if n_classes == 2 else n_classes
    assert stack.oof_predictions_.shape == (len(y), 3 * width)
    for j, (_, est) in enumerate(_members()):
        ref = cross_val_predict(est, X, y, cv=folds, method="predict_proba")
        ref = ref[:, 1:] if n_classes == 2 else ref
        np.testing.assert_allclose(stack.oof_predictions_[:, j * width:(j + 1) * width], ref,
                                   rtol=1e-12, atol=1e-12)
    assert np.all(stack.oof_counts_ == 1)
    assert stack.stack_method_ == ["predict_proba"] * 3
    # The folds are stratified and shuffled.
    for _, test in stack.cv_splits_:
        share = np.mean(y[test] == "bad")
        assert abs(share - np.mean(y == "bad")) < 0.02
    first_test = stack.cv_splits_[0][1]
    assert not np.array_equal(first_test, np.arange(first_test.min(), first_test.max() + 1))


def test_no_leak_on_pure_noise_binary_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8))
    y = np.where(rng.random(400) < 0.3, "yes", "no")
    members = [
        ("tree", DecisionTreeClassifier(random_state=0)),  # memorizes its training rows
        ("knn1", KNeighborsClassifier(n_neighbors=1)),  # ditto
        ("logreg", LogisticRegression()),
    ]
    prior = np.mean(y == "yes")
    prior_loss = log_loss(y, np.tile([1 - prior, prior], (len(y), 1)))
    # Control: in-sample, the memorizing members look perfect, so a meta-learner trained on
    # in-sample predictions (a leak) would beat the class frequencies by far.
    P_in = np.column_stack([clone(e).fit(X, y).predict_proba(X)[:, 1] for _, e in members])
    leaky = _NonNegativeLogisticCV().fit(log_odds(P_in, ["predict_proba"] * 3, [1] * 3), y)
    z_in = log_odds(P_in, ["predict_proba"] * 3, [1] * 3)
    assert log_loss(y, leaky.predict_proba(z_in)) < 0.5 * prior_loss

    stack = StackingCVClassifier(members, cv=5, random_state=0).fit(X, y)
    Z = log_odds(stack.oof_predictions_, stack.stack_method_, [1] * 3)
    meta_in_sample = log_loss(y, stack.final_estimator_.predict_proba(Z))
    # The meta-learner fitted on the OOF matrix is no better than the class frequencies (up to
    # the in-sample optimism of 4 parameters on 400 rows).
    assert meta_in_sample > prior_loss - 0.01
    # Honest outer CV of the whole stack: no better than the class frequencies.
    outer = StratifiedKFold(5, shuffle=True, random_state=1)
    proba = cross_val_predict(stack, X, y, cv=outer, method="predict_proba")
    assert log_loss(y, proba) >= prior_loss - 0.005


@pytest.mark.parametrize(
    "make",
    [
        lambda m: StackingCVClassifier(m, cv=3, random_state=0),
        lambda m: StackingCVClassifier(m, cv=3, refit="average", random_state=0),
        lambda m: BlendingClassifier(m, holdout=0.3, random_state=0),
        lambda m: WeightedEnsembleClassifier(m, cv=3, random_state=0),
        lambda m: WeightedEnsembleClassifier(m, method="caruana", scoring="roc_auc_ovr", cv=3,
                                             random_state=0),
        lambda m: KFoldBaggingClassifier(m[0][1], cv=3, random_state=0),
    ],
    ids=["stack-full", "stack-average", "blend", "simplex", "caruana", "bagging"],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_string_labels_round_trip(make, n_classes):
    X, y = _data(n_classes)
    ens = make(_members()).fit(X, y)
    assert ens.classes_.tolist() == sorted(set(y))
    pred = ens.predict(X)
    assert set(pred) <= set(y) and np.mean(pred == y) > 0.7
    proba = ens.predict_proba(X)
    assert proba.shape == (len(y), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(pred, ens.classes_[np.argmax(proba, axis=1)])


def test_meta_learner_is_trained_on_the_log_odds_of_the_oof_matrix():
    X, y = _data(2)
    meta = LogisticRegression(C=0.5)
    stack = StackingCVClassifier(_members(), final_estimator=meta, cv=3, random_state=0).fit(X, y)
    codes = (y == "good").astype(int)
    p = np.clip(stack.oof_predictions_, 1e-6, 1 - 1e-6)
    ref = clone(meta).fit(np.log(p / (1 - p)), codes)
    np.testing.assert_allclose(stack.final_estimator_.coef_, ref.coef_, rtol=1e-8)
    # refit="full": the members used at predict time are fitted on all rows (on the codes).
    P = np.column_stack([clone(e).fit(X, codes).predict_proba(X)[:, 1] for _, e in _members()])
    P = np.clip(P, 1e-6, 1 - 1e-6)
    np.testing.assert_allclose(stack.predict_proba(X), ref.predict_proba(np.log(P / (1 - P))),
                               rtol=1e-8)
    # "identity" gives the meta-learner the probabilities themselves.
    plain = StackingCVClassifier(_members(), final_estimator=meta, cv=3, random_state=0,
                                 metalearner_transform="identity").fit(X, y)
    ref = clone(meta).fit(plain.oof_predictions_, codes)
    np.testing.assert_allclose(plain.final_estimator_.coef_, ref.coef_, rtol=1e-8)


def test_multiclass_log_odds_are_centred_log_probabilities():
    X, y = _data(3)
    stack = StackingCVClassifier(_members(), cv=3, random_state=0).fit(X, y)
    Z = log_odds(stack.oof_predictions_, stack.stack_method_, [3, 3, 3])
    block = np.log(np.clip(stack.oof_predictions_[:, 3:6], 1e-6, 1 - 1e-6))
    np.testing.assert_allclose(Z[:, 3:6], block - block.mean(axis=1, keepdims=True))
    # softmax of a member's block gives its (clipped) probabilities back.
    e = np.exp(Z[:, :3])
    np.testing.assert_allclose(e / e.sum(1, keepdims=True), stack.oof_predictions_[:, :3],
                               atol=1e-5)


def test_default_meta_learner_is_a_non_negative_pool():
    X, y = _data(2, n=400)

    class Contrarian(LogisticRegression):
        """Swaps its probabilities: anti-correlated with the target."""

        def predict_proba(self, X):
            return super().predict_proba(X)[:, ::-1]

    members = _members() + [("anti", Contrarian())]
    stack = StackingCVClassifier(members, cv=3, random_state=0).fit(X, y)
    meta = stack.final_estimator_
    assert isinstance(meta, _NonNegativeLogisticCV)
    assert np.all(meta.coef_ >= 0) and meta.coef_[-1] == 0.0
    assert meta.coef_[0] > 0.1  # the logistic regression member carries weight
    # Control: an unconstrained logistic regression gives the contrarian a large weight.
    Z = log_odds(stack.oof_predictions_, stack.stack_method_, [1] * 4)
    free = LogisticRegression(C=1e4).fit(Z, y)
    assert free.coef_[0, -1] < -0.1


def test_decision_function_members_are_stacked_on_their_scores():
    X, y = _data(2)
    members = [("score", ScoreOnlyClassifier()), ("nb", GaussianNB())]
    stack = StackingCVClassifier(members, cv=3, random_state=0).fit(X, y)
    assert stack.stack_method_ == ["decision_function", "predict_proba"]
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    ref = cross_val_predict(ScoreOnlyClassifier(), X, y, cv=folds, method="decision_function")
    np.testing.assert_allclose(stack.oof_predictions_[:, 0], ref)
    assert stack.predict(X).shape == (len(y),)


def test_refit_average_members_are_fitted_bags_of_the_fold_models():
    X, y = _data(3)
    stack = StackingCVClassifier(_members(), cv=3, refit="average", random_state=0).fit(X, y)
    bag = stack.named_estimators_["tree"]
    assert isinstance(bag, KFoldBaggingClassifier) and len(bag.estimators_) == 3
    folds = stack.cv_splits_
    codes = np.searchsorted(stack.classes_, y)
    ref = np.mean([DecisionTreeClassifier(max_depth=4, random_state=0).fit(X[tr], codes[tr])
                   .predict_proba(X) for tr, _ in folds], axis=0)
    np.testing.assert_allclose(bag.predict_proba(X), ref)
    np.testing.assert_allclose(bag.oof_predictions_, stack.oof_predictions_[:, 3:6])
    full = StackingCVClassifier(_members(), cv=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(stack.oof_predictions_, full.oof_predictions_)


def test_blending_is_stacking_with_one_stratified_split():
    X, y = _data(2)
    blend = BlendingClassifier(_members(), holdout=0.25, random_state=0).fit(X, y)
    codes = (y == "good").astype(int)
    tr, ho = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=codes)
    np.testing.assert_array_equal(blend.holdout_indices_, ho)
    assert np.isnan(blend.oof_predictions_[tr]).all()
    P = np.column_stack([clone(e).fit(X[tr], codes[tr]).predict_proba(X[ho])[:, 1]
                         for _, e in _members()])
    np.testing.assert_allclose(blend.oof_predictions_[ho], P)
    # refit="average" (the default) keeps the members the meta-learner was trained against.
    for (_, e), fitted in zip(_members(), blend.estimators_, strict=True):
        np.testing.assert_allclose(fitted.predict_proba(X),
                                   clone(e).fit(X[tr], codes[tr]).predict_proba(X))


def test_multilayer_classification_stack():
    X, y = _data(3)
    layer2 = [("lr2", LogisticRegression(C=0.1)), ("nb2", GaussianNB())]
    stack = make_stacking_layers([_members(), layer2], cv=3, random_state=0).fit(X, y)
    inner = stack.final_estimator_
    assert isinstance(stack, StackingCVClassifier) and isinstance(inner, StackingCVClassifier)
    Z = log_odds(stack.oof_predictions_, stack.stack_method_, [3, 3, 3])
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    codes = np.searchsorted(stack.classes_, y)
    ref = cross_val_predict(GaussianNB(), Z, codes, cv=folds, method="predict_proba")
    np.testing.assert_allclose(inner.oof_predictions_[:, 3:6], ref)
    assert set(stack.predict(X)) <= set(y)


def test_grid_search_and_pipeline_reach_member_params():
    X, y = _data(2)
    stack = StackingCVClassifier(_members(), cv=3, random_state=0)
    assert stack.get_params()["tree__max_depth"] == 4
    pipe = make_pipeline(StandardScaler(), stack)
    gs = GridSearchCV(pipe, {"stackingcvclassifier__tree__max_depth": [2, 4],
                             "stackingcvclassifier__nb": ["drop", GaussianNB()]},
                      cv=3, scoring="neg_log_loss").fit(X, y)
    assert set(gs.best_params_) == {"stackingcvclassifier__tree__max_depth",
                                    "stackingcvclassifier__nb"}


def test_same_predictions_as_sklearn_stacking_with_same_folds_and_meta():
    X, y = _data(2)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    meta = LogisticRegression()
    ours = StackingCVClassifier(_members(), final_estimator=meta, cv=folds,
                                metalearner_transform="identity").fit(X, y)
    theirs = StackingClassifier(_members(), final_estimator=meta, cv=folds).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)


def test_sample_weight_moves_members_and_meta():
    X, y = _data(2)
    w = np.where(y == "good", 5.0, 1.0)
    a = StackingCVClassifier(_members(), cv=3, random_state=0).fit(X, y)
    b = StackingCVClassifier(_members(), cv=3, random_state=0).fit(X, y, sample_weight=w)
    assert not np.allclose(a.oof_predictions_, b.oof_predictions_)
    assert b.predict_proba(X)[:, 1].mean() > a.predict_proba(X)[:, 1].mean()


def test_pickled_classification_stack_predicts_the_same():
    import pickle

    X, y = _data(3)
    stack = StackingCVClassifier(_members(), cv=3, refit="average", random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(stack))
    np.testing.assert_array_equal(again.predict_proba(X), stack.predict_proba(X))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_kfold_bagging_of_a_score_only_classifier_predicts_from_the_mean_scores(n_classes):
    """A member without predict_proba (as LinearSVC): predict takes the class of the highest
    mean decision value over the fold models."""
    from ensemblekit.ensembles import KFoldBaggingClassifier

    X, y = make_classification(n_samples=300, n_features=6, n_informative=4,
                               n_classes=n_classes, random_state=0)
    bag = KFoldBaggingClassifier(ScoreOnlyClassifier(), random_state=0).fit(X, y)
    scores = np.mean([m.decision_function(X) for m in bag.estimators_], axis=0)
    if n_classes == 2:
        expected = bag.classes_[(scores > 0).astype(int)]
    else:
        expected = bag.classes_[np.argmax(scores, axis=1)]
    np.testing.assert_array_equal(bag.predict(X), expected)
