import os
import signal
import threading
import time

import numpy as np
import pytest
from _tuning_helpers import Quadratic

from ensemblekit.tuning import BayesSearchCV, Integer, Real, dask_client
from ensemblekit.tuning._storage import JSONLStorage

pytest.importorskip("dask.distributed")

XQ = np.arange(40, dtype=float).reshape(20, 2)
yQ = np.zeros(20)
SPACE = {"a": Real(-2.0, 2.0), "b": Integer(0, 5)}
KW = dict(n_iter=8, n_initial_points=4, n_points=2, cv=2, random_state=0, refit=False)


@pytest.fixture(scope="module")
def reference():
    return BayesSearchCV(Quadratic(), SPACE, n_jobs=1, **KW).fit(XQ, yQ).cv_results_


def _same(res, ref):
    assert res["params"] == ref["params"]
    for k in ("split0_test_score", "split1_test_score", "mean_test_score", "rank_test_score"):
        np.testing.assert_array_equal(res[k], ref[k])


@pytest.mark.timeout(180)
def test_local_cluster_matches_sequential_and_survives_a_killed_worker(tmp_path, reference):
    store = tmp_path / "trials.jsonl"
    with dask_client(n_workers=2, threads_per_worker=1, dashboard_address=None) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        pids = client.run(os.getpid)
        pid_log = tmp_path / "pids.txt"
        est = Quadratic(pid_log=str(pid_log))
        res = BayesSearchCV(est, SPACE, n_jobs=2, **KW).fit(XQ, yQ).cv_results_
        _same(res, reference)
        # The 8 trials x 2 folds ran in the cluster's worker processes, none here.
        fit_pids = [int(p) for p in pid_log.read_text().split()]
        assert len(fit_pids) == 16 and set(fit_pids) <= set(pids.values())

        # Slow fits; kill one worker process (SIGKILL) once two trials are logged.
        killed = []

        def killer():
            deadline = time.time() + 60
            while time.time() < deadline:
                if store.exists() and len(store.read_text().splitlines()) >= 3:
                    victim = sorted(pids.values())[0]
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                    return
                time.sleep(0.02)

        t = threading.Thread(target=killer)
        t.start()
        res = (
            BayesSearchCV(Quadratic(sleep=0.3), SPACE, n_jobs=2, storage=str(store), **KW)
            .fit(XQ, yQ)
            .cv_results_
        )
        t.join()
        assert killed, "the search finished before a worker could be killed"
        assert killed[0] not in client.run(os.getpid).values()  # the worker was replaced
        _same(res, reference)
        _, records = JSONLStorage(store).read()
        assert sorted(r["trial_id"] for r in records) == list(range(8))
