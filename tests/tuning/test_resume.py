import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import numpy as np
import pytest
from _tuning_helpers import Quadratic

from ensemblekit.tuning import BayesSearchCV, Integer, Real
from ensemblekit.tuning._storage import JSONLStorage

XQ = np.arange(40, dtype=float).reshape(20, 2)
yQ = np.zeros(20)
SPACE = {"a": Real(-2.0, 2.0), "b": Integer(0, 5)}


def _fits(path):
    return Counter(open(path).read().splitlines()) if os.path.exists(path) else Counter()


def _key(p):
    return f"{p['a']!r},{p['b']!r},'x'"


def test_resume_skips_finished_trials(tmp_path):
    store, log = tmp_path / "trials.jsonl", tmp_path / "fits.txt"
    kw = dict(n_initial_points=4, cv=2, random_state=0, storage=str(store))
    first = BayesSearchCV(Quadratic(log=str(log)), SPACE, n_iter=6, **kw).fit(XQ, yQ)
    assert first.n_fits_ == 12 and sum(_fits(log).values()) == 12 + 1  # + the refit
    lines = store.read_text().splitlines()
    assert len(lines) == 7 and json.loads(lines[0])["type"] == "header"

    second = BayesSearchCV(Quadratic(log=str(log)), SPACE, n_iter=10, **kw).fit(XQ, yQ)
    assert second.n_fits_ == 8  # only the 4 new trials were fitted (plus the refit below)
    r1, r2 = first.cv_results_, second.cv_results_
    assert r2["params"][:6] == r1["params"]
    np.testing.assert_array_equal(r2["mean_test_score"][:6], r1["mean_test_score"])
    assert len({_key(p) for p in r2["params"]}) == 10
    # every fit in the side channel: 2 folds per trial, each trial once, plus 2 refits
    counts = _fits(log)
    refits = [_key(first.best_params_), _key(second.best_params_)]
    for p in r2["params"]:
        assert counts[_key(p)] == 2 + sum(_key(p) == r for r in refits)


def test_torn_last_line_is_tolerated(tmp_path):
    store = tmp_path / "trials.jsonl"
    kw = dict(n_initial_points=3, cv=2, random_state=0, storage=str(store), refit=False)
    BayesSearchCV(Quadratic(), SPACE, n_iter=4, **kw).fit(XQ, yQ)
    with open(store, "ab") as f:
        f.write(b'{"type": "trial", "trial_id": 4, "params": {"a": 0.')  # killed mid-write
    s = BayesSearchCV(Quadratic(), SPACE, n_iter=5, **kw).fit(XQ, yQ)
    assert s.n_fits_ == 2 and len(s.cv_results_["params"]) == 5
    header, records = JSONLStorage(store).read()
    assert [r["trial_id"] for r in records] == [0, 1, 2, 3, 4]
    assert store.read_bytes().endswith(b"\n")


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(search_spaces={"a": Real(-2.0, 3.0), "b": Integer(0, 5)}), "space: stored"),
        (dict(cv=3), "cv: stored"),
        (dict(random_state=1), "random_state: stored"),
        (dict(estimator="kind=y"), "estimator: stored"),
    ],
)
def test_storage_from_a_different_search_is_refused(tmp_path, change, match):
    store, log = tmp_path / "trials.jsonl", tmp_path / "fits.txt"
    kw = dict(
        search_spaces=SPACE,
        n_iter=3,
        n_initial_points=2,
        cv=2,
        random_state=0,
        storage=str(store),
        refit=False,
    )
    BayesSearchCV(Quadratic(log=str(log)), **kw).fit(XQ, yQ)
    n_fits = len(log.read_text().splitlines())
    est = Quadratic(log=str(log))
    if "estimator" in change:
        est, change = Quadratic(log=str(log), kind="y"), {}
    with pytest.raises(ValueError, match=match):
        BayesSearchCV(est, **{**kw, **change}).fit(XQ, yQ)
    assert len(log.read_text().splitlines()) == n_fits  # refused before any fit
    # and the same search resumes from the same file without complaint (nothing to fit)
    assert BayesSearchCV(Quadratic(log=str(log)), **kw).fit(XQ, yQ).n_fits_ == 0


@pytest.mark.filterwarnings("ignore:.*unreadable line")
def test_not_a_trial_log_is_refused(tmp_path):
    store = tmp_path / "notes.txt"
    store.write_text("hello\n")
    with pytest.raises(ValueError, match="not a trial log"):
        BayesSearchCV(
            Quadratic(), SPACE, n_iter=2, n_initial_points=1, cv=2, storage=str(store)
        ).fit(XQ, yQ)


SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    sys.path.insert(0, {helpers!r})
    from _tuning_helpers import Quadratic
    from ensemblekit.tuning import BayesSearchCV, Integer, Real
    X = np.arange(40, dtype=float).reshape(20, 2)
    s = BayesSearchCV(
        Quadratic(log={log!r}, sleep={sleep}),
        {{"a": Real(-2.0, 2.0), "b": Integer(0, 5)}},
        n_iter=12, n_initial_points=4, cv=2, random_state=0, storage={store!r}, refit=False,
    ).fit(X, np.zeros(20))
    print("DONE", len(s.cv_results_["params"]), s.n_fits_)
    """
)


def test_sigkill_then_resume(tmp_path):
    store, log = tmp_path / "trials.jsonl", tmp_path / "fits.txt"
    helpers = os.path.dirname(__file__)

    def script(sleep):
        path = tmp_path / f"run_{sleep}.py"
        path.write_text(SCRIPT.format(helpers=helpers, log=str(log), store=str(store), sleep=sleep))
        return [sys.executable, str(path)]

    proc = subprocess.Popen(script(0.15), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    # header + 5 trials: the initial design and at least one GP proposal are done
    while time.time() < deadline:
        if store.exists() and len(store.read_text().splitlines()) >= 6:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, before = JSONLStorage(store).read()
    assert 5 <= len(before) < 12
    fits_before = _fits(log)

    # Same settings (the estimator's sleep included: it is part of the stored header).
    out = subprocess.run(script(0.15), capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert "DONE 12" in out.stdout
    _, after = JSONLStorage(store).read()
    ids = [r["trial_id"] for r in after]
    assert sorted(ids) == list(range(12))  # every trial exactly once
    assert [r["params"] for r in after[: len(before)]] == [r["params"] for r in before]

    fits_after = _fits(log)
    for r in before:
        key = f"{r['params']['a']!r},{r['params']['b']!r},'x'"
        assert fits_after[key] == fits_before[key] == 2  # finished trials were not refitted
    n_new = int(out.stdout.split()[-1])
    assert n_new == 2 * (12 - len(before))


def test_missing_parent_folders_of_the_storage_are_created(tmp_path):
    store = tmp_path / "runs" / "2026-12" / "trials.jsonl"
    kw = dict(n_iter=3, n_initial_points=2, cv=2, random_state=0, storage=str(store))
    BayesSearchCV(Quadratic(), SPACE, **kw).fit(XQ, yQ)
    _, records = JSONLStorage(store).read()
    assert len(records) == 3
    assert BayesSearchCV(Quadratic(), SPACE, **kw).fit(XQ, yQ).n_fits_ == 0


def test_a_storage_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "notes").write_text("a file, not a folder")
    store = tmp_path / "notes" / "trials.jsonl"
    with pytest.raises(ValueError) as info:
        BayesSearchCV(
            Quadratic(), SPACE, n_iter=2, n_initial_points=1, cv=2, storage=str(store)
        ).fit(XQ, yQ)
    msg = str(info.value)
    assert msg.startswith(
        f"storage={str(store)!r}: cannot create its folder {str(tmp_path / 'notes')!r} ("
    )
    assert msg.endswith("); pass a path in a folder that can be created")
