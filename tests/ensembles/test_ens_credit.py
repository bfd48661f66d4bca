"""On the credit data (modeldata/credit_data), the stack beats each of its members."""

import numpy as np
import pytest
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ensemblekit.datasets import load_credit_data
from ensemblekit.ensembles import (
    BoostingClassifier,
    StackingCVClassifier,
    WeightedEnsembleClassifier,
)


def _members():
    linear = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
             make_column_selector(dtype_include="number")),
            (make_pipeline(SimpleImputer(strategy="most_frequent"),
                           OneHotEncoder(handle_unknown="ignore")),
             make_column_selector(dtype_include="category")),
        ),
        LogisticRegression(max_iter=1000),
    )
    common = dict(device="cpu", n_estimators=2000, learning_rate=0.05, n_iter_no_change=30,
                  subsample=0.8, colsample_bytree=0.8, n_jobs=1, random_state=0)
    return [
        ("logreg", linear),
        ("xgboost", BoostingClassifier("xgboost", max_depth=3, **common)),
        ("lightgbm", BoostingClassifier("lightgbm", num_leaves=8, **common)),
    ]


@pytest.mark.slow
def test_stack_beats_each_member_on_credit_data_5_fold_stratified_cv():
    X, y = load_credit_data()
    outer = StratifiedKFold(5, shuffle=True, random_state=0)
    bad = (y == "bad").to_numpy()

    def scores(model):
        proba = cross_val_predict(model, X, y, cv=outer, method="predict_proba")
        assert list(np.unique(y)) == ["bad", "good"]  # proba columns in that order
        return log_loss(y, proba), roc_auc_score(bad, proba[:, 0])

    members = {name: scores(est) for name, est in _members()}
    stack = scores(StackingCVClassifier(_members(), cv=5, refit="average", n_jobs=2,
                                        random_state=0))
    weighted = scores(WeightedEnsembleClassifier(_members(), cv=5, refit="average", n_jobs=2,
                                                 random_state=0))
    best_member = min(loss for loss, _ in members.values())
    # Measured: members 0.444 / 0.430 / 0.430, stack 0.423, weighted 0.424.
    assert stack[0] < best_member, (stack, members)
    assert weighted[0] < best_member, (weighted, members)
    assert stack[1] > max(auc for _, auc in members.values()), (stack, members)
