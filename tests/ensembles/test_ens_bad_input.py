import numpy as np
import pytest
from _ens_helpers import FailOnSmallRegressor, NaNRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier

from ensemblekit.ensembles import (
    BlendingRegressor,
    KFoldBaggingRegressor,
    StackingCVRegressor,
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
