import numpy as np
import pytest
from _tuning_helpers import EpochCounter, epochs_scorer
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import SGDRegressor
from sklearn.model_selection import KFold

from ensemblekit.tuning import HyperbandSearchCV, Real
from ensemblekit.tuning._schedulers import hyperband_brackets, hyperband_schedule, promote

X, y = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)
CV = KFold(3, shuffle=True, random_state=0)


def test_schedule_matches_the_hyperband_paper():
    # Li et al. (2018), Table 1: R=81, eta=3
    b = hyperband_brackets(1, 81, 3)
    assert [x.n_trials for x in b] == [(81, 27, 9, 3, 1), (34, 11, 3, 1), (15, 5, 1), (8, 2), (5,)]
    assert [x.resources for x in b] == [
        (1, 3, 9, 27, 81),
        (3, 9, 27, 81),
        (9, 27, 81),
        (27, 81),
        (81,),
    ]
    assert promote([0.1, np.nan, 0.5, 0.3], 2) == [2, 3]


def test_epochs_continue_training_instead_of_refitting():
    s = _counter_search()
    res = s.cv_results_
    # the model trained at rung r has seen exactly r epochs: neither restarted nor double-counted
    np.testing.assert_array_equal(res["mean_test_score"], res["n_resources"])
    # resource spent with continuation: per bracket sum_i n_i * (r_i - r_{i-1}), times folds
    expected = sum(
        n * (r - prev)
        for b in s.brackets_
        for n, r, prev in zip(b.n_trials, b.resources, (0,) + b.resources[:-1], strict=True)
    )
    assert s.resource_used_ == expected * 3
    assert s.best_estimator_.epochs_ == 9
    assert set(res) >= {"trial_id", "bracket", "rung", "n_resources"}


def test_rung_scores_equal_training_from_scratch_and_promotion_is_top_k():
    est = SGDRegressor(random_state=0, learning_rate="constant")
    space = {"alpha": loguniform(1e-5, 1e-1), "eta0": loguniform(1e-4, 1e-1)}
    s = HyperbandSearchCV(
        est, space, resource="epochs", max_resource=9, eta=3, cv=CV, random_state=0
    ).fit(X, y)
    res = s.cv_results_
    splits = list(CV.split(X, y))
    rng = np.random.RandomState(1)
    for row in rng.choice(len(res["params"]), size=6, replace=False):
        r, p = int(res["n_resources"][row]), res["params"][row]
        for f, (tr, te) in enumerate(splits):
            m = clone(est).set_params(**p)
            for _ in range(r):
                m.partial_fit(X[tr], y[tr])
            assert res[f"split{f}_test_score"][row] == pytest.approx(m.score(X[te], y[te]))
    for b in s.brackets_:
        for rung in range(len(b.resources) - 1):
            here = (res["bracket"] == b.index) & (res["rung"] == rung)
            nxt = (res["bracket"] == b.index) & (res["rung"] == rung + 1)
            ids, scores = res["trial_id"][here], res["mean_test_score"][here]
            top = set(ids[promote(scores, b.n_trials[rung + 1])])
            assert set(res["trial_id"][nxt]) == top
    full = res["n_resources"] == 9
    assert s.best_score_ == pytest.approx(np.max(res["mean_test_score"][full]))
    assert res["n_resources"][s.best_index_] == 9


def test_n_estimators_warm_start_matches_fresh_fit():
    est = GradientBoostingRegressor(random_state=0, max_depth=2)
    s = HyperbandSearchCV(
        est,
        {"learning_rate": loguniform(0.01, 1.0)},
        resource="n_estimators",
        max_resource=9,
        eta=3,
        cv=CV,
        random_state=0,
    ).fit(X, y)
    res = s.cv_results_
    tr, te = next(CV.split(X, y))
    for row in (0, len(res["params"]) - 1, int(np.argmax(res["rung"]))):
        p = res["params"][row]
        assert p["n_estimators"] == res["n_resources"][row]
        fresh = clone(est).set_params(**p).fit(X[tr], y[tr])
        assert res["split0_test_score"][row] == pytest.approx(fresh.score(X[te], y[te]))
    assert s.best_params_["n_estimators"] == 9 and s.best_estimator_.n_estimators == 9


def test_pipeline_gdelasticnet_epochs_and_n_samples():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ensemblekit.estimators import GDElasticNet

    pipe = make_pipeline(
        StandardScaler(), GDElasticNet(solver="sgd", batch_size=16, random_state=0)
    )
    space = {
        "gdelasticnet__alpha": Real(1e-4, 1.0, prior="log-uniform"),
        "gdelasticnet__learning_rate_init": Real(1e-3, 1e-1, prior="log-uniform"),
    }
    s = HyperbandSearchCV(
        pipe, space, resource="epochs", max_resource=9, cv=CV, random_state=0
    ).fit(X, y)
    assert s.best_score_ > 0.8 and s.cv_results_["n_resources"].max() == 9
    sub = HyperbandSearchCV(
        pipe, space, resource="n_samples", min_resource=20, cv=CV, random_state=0
    ).fit(X, y)
    # R=80, eta=3: s_max = floor(log3(80/20)) = 1, so the first rung gets 80/3 -> 27 samples
    assert [b.resources for b in sub.brackets_] == [(27, 80), (80,)]
    assert sub.cv_results_["n_resources"].max() == 80


def test_bad_input():
    with pytest.raises(ValueError, match="max_resource is required"):
        HyperbandSearchCV(SGDRegressor(), {"alpha": [0.1]}, cv=2).fit(X, y)
    with pytest.raises(ValueError, match="must be < max_resource"):
        HyperbandSearchCV(
            SGDRegressor(), {"alpha": [0.1]}, max_resource=3, min_resource=3, cv=2
        ).fit(X, y)
    with pytest.raises(ValueError, match="no n_estimators"):
        HyperbandSearchCV(
            SGDRegressor(), {"alpha": [0.1]}, resource="n_estimators", max_resource=9, cv=2
        ).fit(X, y)
    with pytest.raises(ValueError, match="is the resource"):
        HyperbandSearchCV(
            GradientBoostingRegressor(),
            {"n_estimators": [1, 2]},
            resource="n_estimators",
            max_resource=9,
            cv=2,
        ).fit(X, y)
    with pytest.raises(ValueError, match="Invalid parameter.*'alpha'"):
        HyperbandSearchCV(SGDRegressor(), {"alpah": [0.1]}, max_resource=9, cv=2).fit(X, y)


def test_resume_hyperband(tmp_path):
    store = tmp_path / "hb.jsonl"
    kw = dict(
        resource="epochs",
        max_resource=9,
        cv=CV,
        random_state=0,
        storage=str(store),
        scoring=epochs_scorer,
    )
    a = HyperbandSearchCV(EpochCounter(), {"lr": Real(0.0, 1.0)}, **kw).fit(X, y)
    b = HyperbandSearchCV(EpochCounter(), {"lr": Real(0.0, 1.0)}, **kw).fit(X, y)
    assert b.n_fits_ == 0 and b.resource_used_ == 0
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"]
    )


def _sgd_search(sampler, **kw):
    """SGDRegressor tuned on (alpha, eta0) over 9 epochs: a search a GP sampler can model."""
    est = SGDRegressor(random_state=0, learning_rate="constant")
    space = {"alpha": loguniform(1e-5, 1e-1), "eta0": loguniform(1e-4, 1e-1)}
    kw = dict(resource="epochs", max_resource=9, eta=3, cv=CV, random_state=0, refit=False, **kw)
    return HyperbandSearchCV(est, space, sampler=sampler, **kw).fit(X, y).cv_results_


def test_gp_sampler_takes_over_after_the_first_bracket():
    rnd = _sgd_search("random")
    gp = _sgd_search("gp")
    gp2 = _sgd_search("gp")
    assert gp["params"] == gp2["params"]
    first = rnd["bracket"] == rnd["bracket"].max()
    assert [p for p, f in zip(rnd["params"], first, strict=False) if f] == [
        p for p, f in zip(gp["params"], first, strict=False) if f
    ]

    def started(r):
        return [
            p
            for p, b, g in zip(r["params"], r["bracket"], r["rung"], strict=False)
            if b == 1 and g == 0
        ]

    # The next bracket starts 5 configurations: round(5 * 2/3) = 3 from the GP, 2 random.
    assert len(started(gp)) == 5
    assert all(a != b for a, b in zip(started(gp)[:3], started(rnd)[:3], strict=False))
    assert started(gp)[3:] == started(rnd)[3:]


def test_gp_sampler_models_the_highest_budget_with_enough_rows(monkeypatch):
    # BOHB's rule: the model is fitted on the highest budget with at least d + 1 finished trials.
    from ensemblekit.tuning import _samplers

    seen = []
    ask = _samplers.GPSampler.ask

    def spy(self, space, history, n, pending=()):
        seen.append(sorted({p["alpha"] for _, p, _ in history}))
        return ask(self, space, history, n, pending)

    monkeypatch.setattr(_samplers.GPSampler, "ask", spy)
    res = _sgd_search("gp")
    alphas = np.array([p["alpha"] for p in res["params"]])

    def trained_to(r, brackets):
        sel = (res["n_resources"] == r) & np.isin(res["bracket"], brackets)
        return sorted(set(alphas[sel].tolist()))

    # brackets 2 (9@1, 3@3, 1@9), 1 (5@3, 1@9), 0 (3@9); d = 2 encoded coordinates, so 3 rows
    # are enough. Bracket 1 is modelled on bracket 2's 3-epoch rung (3 rows; its 9-epoch rung
    # has 1), bracket 0 on the 3 + 5 = 8 rows at 3 epochs (only 2 at 9).
    assert seen == [trained_to(3, [2]), trained_to(3, [2, 1])]


def test_schedule_repeats_iterations_within_a_budget():
    one = hyperband_brackets(1, 27, 3)
    # per fold, continuing training: 27*1 + 9*2 + 3*6 + 1*18 = 81; 12*3 + 4*6 + 1*18 = 78; ...
    assert [b.cost() for b in one] == [81, 78, 90, 108]
    assert [b.cost(continued=False) for b in one] == [108, 99, 108, 108]
    assert hyperband_schedule(1, 27, 3) == [(0, b) for b in one]
    assert hyperband_schedule(1, 27, 3, n_iterations=2) == [(i, b) for i in (0, 1) for b in one]
    # 5 folds, a third of 60 trials x 27 epochs x 5 folds: one iteration (1785) + two brackets
    sched = hyperband_schedule(1, 27, 3, max_budget=2700, n_folds=5)
    assert sched == [(0, b) for b in one] + [(1, one[0]), (1, one[1])]
    assert sum(b.cost() for _, b in sched) * 5 == 2580
    # n_iterations caps a budget that would allow more; a bracket that does not fit ends it
    assert hyperband_schedule(1, 27, 3, n_iterations=1, max_budget=10**6) == [(0, b) for b in one]
    assert hyperband_schedule(1, 27, 3, max_budget=81 + 77) == [(0, one[0])]
    assert hyperband_schedule(1, 27, 3, max_budget=80) == []


def _counter_search(**kw):
    kw = dict(
        resource="epochs",
        max_resource=9,
        eta=3,
        cv=CV,
        scoring=epochs_scorer,
        random_state=0,
        **kw,
    )
    return HyperbandSearchCV(EpochCounter(), {"lr": Real(0.0, 1.0)}, **kw).fit(X, y)


def test_n_iterations_run_the_brackets_again_with_fresh_configurations():
    one = _counter_search()
    two = _counter_search(n_iterations=2)
    assert one.n_iterations_ == 1 and two.n_iterations_ == 2
    assert two.brackets_ == one.brackets_ * 2
    assert two.resource_used_ == 2 * one.resource_used_
    res1, res2 = one.cv_results_, two.cv_results_
    assert set(res1["iteration"]) == {0} and set(res2["iteration"]) == {0, 1}
    first = res2["iteration"] == 0
    # the first iteration is the one-iteration search, row for row
    assert [p for p, f in zip(res2["params"], first, strict=True) if f] == res1["params"]
    np.testing.assert_array_equal(res2["trial_id"][first], res1["trial_id"])
    np.testing.assert_array_equal(res2["mean_test_score"][first], res1["mean_test_score"])
    # the second one starts as many new trials on new configurations
    started = res2["rung"] == 0
    again = res2["trial_id"][started & ~first]
    assert len(again) == np.sum(res1["rung"] == 0)
    assert not set(again) & set(res1["trial_id"])
    old = {p["lr"] for p in res1["params"]}
    assert not {p["lr"] for p, f in zip(res2["params"], first, strict=True) if not f} & old
    for it in (0, 1):
        rows = res2["iteration"] == it
        assert sorted(set(res2["bracket"][rows])) == [0, 1, 2]


def test_max_budget_is_respected_and_results_are_reproducible():
    # R=9, eta=3, 3 folds: brackets cost (9*1 + 3*2 + 1*6) = 21, (5*3 + 1*6) = 21, 3*9 = 27 per
    # fold, so an iteration costs 69 * 3 = 207; 300 pays for it and one more bracket (63)
    a = _counter_search(max_budget=300)
    assert a.resource_used_ == 207 + 63 <= 300
    assert a.n_iterations_ == 2 and len(a.brackets_) == 4
    assert a.brackets_[3] == a.brackets_[0]
    # the epochs actually trained (the scorer reads them back) add up to the same total
    res = a.cv_results_
    prev = {}
    spent = 0
    for tid, r in zip(res["trial_id"], res["n_resources"], strict=True):
        spent += (r - prev.get(tid, 0)) * 3
        prev[tid] = r
    assert spent == a.resource_used_
    b = _counter_search(max_budget=300)
    assert a.cv_results_["params"] == b.cv_results_["params"]
    # n_iterations and max_budget together: whichever ends first
    assert _counter_search(max_budget=300, n_iterations=1).resource_used_ == 207
    assert _counter_search(max_budget=10**6, n_iterations=3).resource_used_ == 3 * 207
    with pytest.raises(ValueError, match="cannot pay for the first bracket"):
        _counter_search(max_budget=62)


@pytest.mark.parametrize(
    "kw", [{"n_iterations": 0}, {"n_iterations": 1.5}, {"max_budget": 0}, {"max_budget": "big"}]
)
def test_bad_iteration_parameters(kw):
    # scikit-learn's parameter validation (InvalidParameterError is a ValueError)
    name = next(iter(kw))
    with pytest.raises(ValueError, match=f"The '{name}' parameter of HyperbandSearchCV must be"):
        HyperbandSearchCV(SGDRegressor(), {"alpha": [0.1]}, max_resource=9, cv=2, **kw).fit(X, y)


def test_more_iterations_continue_a_stored_search(tmp_path):
    import json

    store = tmp_path / "hb.jsonl"
    one = _counter_search(storage=str(store))
    # a log written before iterations existed has no "iteration" in its records: still resumed
    lines = [json.loads(line) for line in store.read_text().splitlines()]
    for rec in lines[1:]:
        rec["extra"].pop("iteration")
    store.write_text("".join(json.dumps(rec) + "\n" for rec in lines))
    again = _counter_search(storage=str(store))
    assert again.n_fits_ == 0
    np.testing.assert_array_equal(again.cv_results_["iteration"], one.cv_results_["iteration"])
    more = _counter_search(storage=str(store), n_iterations=2)
    fresh = _counter_search(n_iterations=2)
    # only the second iteration is trained; the whole search is the same as a fresh one
    assert more.n_fits_ == 3 * int(np.sum(fresh.cv_results_["iteration"] == 1))
    assert more.resource_used_ == fresh.resource_used_ // 2
    assert more.cv_results_["params"] == fresh.cv_results_["params"]
    for col in ("trial_id", "iteration", "bracket", "rung", "mean_test_score"):
        np.testing.assert_array_equal(more.cv_results_[col], fresh.cv_results_[col])


def test_gp_sampler_models_the_first_iteration_in_the_second():
    rnd = _sgd_search("random", n_iterations=2)
    gp = _sgd_search("gp", n_iterations=2)
    gp2 = _sgd_search("gp", n_iterations=2)
    assert gp["params"] == gp2["params"]

    def started(r):
        sel = (r["iteration"] == 1) & (r["bracket"] == 2) & (r["rung"] == 0)
        return [p for p, s in zip(r["params"], sel, strict=True) if s]

    # 9 configurations: round(9 * 2/3) = 6 from a GP of the first iteration's 9-epoch rows
    # (there are 1 + 1 + 3 = 5 >= 2 + 1 of them), the other 3 random
    assert len(started(gp)) == 9
    assert all(a != b for a, b in zip(started(gp)[:6], started(rnd)[:6], strict=True))
    assert started(gp)[6:] == started(rnd)[6:]
