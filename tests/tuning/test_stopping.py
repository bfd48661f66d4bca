"""Stopping a search early (timeout, callbacks) keeps its finished trials and resumes."""

import json
import math
import re

import numpy as np
import pytest
from _tuning_helpers import EpochCounter, Quadratic
from sklearn.model_selection import KFold

from ensemblekit.tuning import (
    BayesSearchCV,
    FinishedTrial,
    HyperbandSearchCV,
    Integer,
    Real,
    _stopping,
)
from ensemblekit.tuning._storage import JSONLStorage

XQ = np.arange(40, dtype=float).reshape(20, 2)
yQ = np.zeros(20)
SPACE = {"a": Real(-2.0, 2.0), "b": Integer(0, 5)}


def _bayes(storage=None, **kw):
    kw = {**dict(n_iter=10, n_initial_points=4, cv=2, random_state=0, storage=storage), **kw}
    return BayesSearchCV(kw.pop("estimator", Quadratic()), SPACE, **kw)


def _stored_trials(path):
    return JSONLStorage(path).read()[1]


def test_timeout_stops_between_trials_and_keeps_them(tmp_path):
    store = tmp_path / "trials.jsonl"
    sleep, timeout = 0.2, 1.0
    s = _bayes(str(store), estimator=Quadratic(sleep=sleep), n_iter=20, timeout=timeout)
    s.fit(XQ, yQ)
    n = len(s.cv_results_["params"])
    # Each trial takes at least 2 folds x 0.2 s, so only trials started in the first second
    # ran: those at 0, 0.4 and 0.8 s at most.
    assert 1 <= n <= math.ceil(timeout / (2 * sleep))
    assert s.stop_reason_ == "timeout"
    stored = _stored_trials(store)
    assert [r["trial_id"] for r in stored] == list(range(n))
    assert all(r["status"] == "ok" and len(r["folds"]) == 2 for r in stored)
    assert s.best_params_ in s.cv_results_["params"] and hasattr(s, "best_estimator_")

    resumed = _bayes(str(store), estimator=Quadratic(sleep=sleep), n_iter=20).fit(XQ, yQ)
    assert resumed.stop_reason_ is None
    assert resumed.n_fits_ == 2 * (20 - n)  # the finished trials were not refitted
    assert resumed.cv_results_["params"][:n] == s.cv_results_["params"]
    assert [r["trial_id"] for r in _stored_trials(store)] == list(range(20))


def test_resumed_search_equals_an_uninterrupted_one(tmp_path):
    store = tmp_path / "trials.jsonl"
    stopped = _bayes(str(store), callbacks=[lambda search, trial: trial.number == 5]).fit(XQ, yQ)
    assert len(stopped.cv_results_["params"]) == 6 and stopped.stop_reason_ == "callback"
    resumed = _bayes(str(store)).fit(XQ, yQ)
    whole = _bayes().fit(XQ, yQ)
    assert resumed.cv_results_["params"] == whole.cv_results_["params"]
    np.testing.assert_array_equal(
        resumed.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"]
    )
    assert resumed.best_params_ == whole.best_params_


def test_callbacks_see_each_new_trial_and_can_stop_the_search(tmp_path):
    store = tmp_path / "trials.jsonl"
    seen, searches = [], []

    def record(search, trial):
        searches.append(search)
        seen.append(trial)

    def stop_after_three(search, trial):
        return trial.number == 2

    s = _bayes(str(store), callbacks=[record, stop_after_three]).fit(XQ, yQ)
    assert s.stop_reason_ == "callback"
    assert [t.number for t in seen] == [0, 1, 2]
    assert all(x is s for x in searches)
    assert all(isinstance(t, FinishedTrial) for t in seen)
    assert [t.params for t in seen] == s.cv_results_["params"]
    np.testing.assert_array_equal([t.score for t in seen], s.cv_results_["mean_test_score"])
    assert {t.status for t in seen} == {"ok"} and {t.error for t in seen} == {None}
    assert [t.extra for t in seen] == [{}, {}, {}]

    # Resuming reports only the trials this call runs, not the ones replayed from storage.
    seen.clear()
    _bayes(str(store), callbacks=[record]).fit(XQ, yQ)
    assert [t.number for t in seen] == list(range(3, 10))


def test_a_callback_that_returns_a_truthy_non_true_value_does_not_stop():
    # Only ``True`` stops: a callback returning a count or a list by accident must not.
    s = _bayes(callbacks=[lambda search, trial: 1]).fit(XQ, yQ)
    assert s.stop_reason_ is None and len(s.cv_results_["params"]) == 10


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.FitFailedWarning")
@pytest.mark.filterwarnings("ignore:All 2 fits of this batch failed")
@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_failed_trials_reach_the_callbacks_with_their_error():
    seen = []
    est = Quadratic(fail_above=0.0)
    _bayes(estimator=est, n_iter=5, callbacks=[lambda s, t: seen.append(t)]).fit(XQ, yQ)
    failed = [t for t in seen if t.status == "error"]
    assert failed and all(np.isnan(t.score) for t in failed)
    assert all("a too large" in t.error for t in failed)


def test_a_callback_that_raises_aborts_fit_with_the_trial_stored(tmp_path):
    store = tmp_path / "trials.jsonl"

    def boom(search, trial):
        if trial.number == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _bayes(str(store), callbacks=[boom]).fit(XQ, yQ)
    assert [r["trial_id"] for r in _stored_trials(store)] == [0, 1]
    assert _bayes(str(store)).fit(XQ, yQ).n_fits_ == 2 * 8


def _lr_scorer(est, X, y):
    # More epochs are better, and lr near 0.3 is best: promotions depend on the configuration.
    return est.epochs_ - abs(est.lr - 0.3)


def _hyperband(storage=None, **kw):
    return HyperbandSearchCV(
        EpochCounter(),
        {"lr": Real(0.0, 1.0)},
        resource="epochs",
        max_resource=9,
        cv=KFold(3, shuffle=True, random_state=0),
        random_state=0,
        scoring=_lr_scorer,
        storage=storage,
        **kw,
    )


def test_hyperband_stops_between_rungs_and_resumes(tmp_path):
    store = tmp_path / "hb.jsonl"
    seen = []

    def stop_after_first_rung(search, trial):
        seen.append(trial)
        return trial.extra["rung"] == 0

    stopped = _hyperband(str(store), callbacks=[stop_after_first_rung]).fit(XQ, yQ)
    first = stopped.brackets_[0]
    assert stopped.stop_reason_ == "callback"
    assert len(stopped.brackets_) == 1 and stopped.n_iterations_ == 1
    # the whole first rung ran (it was one batch), nothing after it
    assert len(seen) == first.n_trials[0]
    assert {t.extra["rung"] for t in seen} == {0}
    assert {t.extra["n_resources"] for t in seen} == {first.resources[0]}
    assert len(stopped.cv_results_["params"]) == first.n_trials[0]

    resumed = _hyperband(str(store)).fit(XQ, yQ)
    whole = _hyperband().fit(XQ, yQ)
    assert resumed.stop_reason_ is None
    assert len(resumed.brackets_) == len(whole.brackets_) == 3
    for key in ("params", "trial_id", "rung", "n_resources"):
        assert list(resumed.cv_results_[key]) == list(whole.cv_results_[key]), key
    np.testing.assert_allclose(
        resumed.cv_results_["mean_test_score"], whole.cv_results_["mean_test_score"]
    )
    assert resumed.best_params_ == whole.best_params_


class _Clock:
    """A clock that advances one second each time it is read (the first read is 0)."""

    def __init__(self):
        self.now = -1.0

    def monotonic(self):
        self.now += 1.0
        return self.now


@pytest.mark.parametrize("make", [_bayes, _hyperband], ids=["bayes", "hyperband"])
def test_the_clock_is_read_once_before_each_batch(make, monkeypatch):
    # Read at 1 s and 2 s: two batches start; at 3 s > timeout: no third one.
    monkeypatch.setattr(_stopping, "time", _Clock())
    s = make(timeout=2.5).fit(XQ, yQ)
    assert s.stop_reason_ == "timeout"
    if isinstance(s, BayesSearchCV):
        assert len(s.cv_results_["params"]) == 2
    else:
        first = s.brackets_[0]
        assert len(s.brackets_) == 1 and s.n_iterations_ == 1
        assert list(s.cv_results_["rung"]) == [0] * first.n_trials[0] + [1] * first.n_trials[1]
        # the best is chosen among the most trained rows
        assert s.cv_results_["rung"][s.best_index_] == 1


@pytest.mark.parametrize("make", [_bayes, _hyperband], ids=["bayes", "hyperband"])
def test_a_timeout_that_leaves_no_trial_is_an_error(make):
    msg = (
        "timeout=1e-09 s passed before the first trial started, so no trial was run; "
        "raise timeout"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        make(timeout=1e-9).fit(XQ, yQ)


@pytest.mark.parametrize(
    "kw, msg",
    [
        (
            dict(callbacks=print),
            "callbacks must be a list of callables called as callback(search, trial), got "
            "<built-in function print>; pass callbacks=[print]",
        ),
        (
            dict(callbacks=[print, "stop"]),
            "callbacks[1] must be callable as callback(search, trial), got 'stop'",
        ),
    ],
)
def test_bad_callbacks(kw, msg, tmp_path):
    log = tmp_path / "fits.txt"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        _bayes(estimator=Quadratic(log=str(log)), **kw).fit(XQ, yQ)
    assert not log.exists()  # refused before the first fit


@pytest.mark.parametrize("timeout", [0, -1.0, "10"])
def test_bad_timeout(timeout):
    with pytest.raises(ValueError, match=r"The 'timeout' parameter of BayesSearchCV must be"):
        _bayes(timeout=timeout).fit(XQ, yQ)


def test_timeout_and_callbacks_are_not_part_of_the_stored_search(tmp_path):
    store = tmp_path / "trials.jsonl"
    _bayes(str(store), n_iter=5).fit(XQ, yQ)
    header = json.loads(store.read_text().splitlines()[0])
    assert "timeout" not in header and "callbacks" not in header
    s = _bayes(str(store), n_iter=5, timeout=60.0, callbacks=[lambda s, t: None]).fit(XQ, yQ)
    assert s.n_fits_ == 0
