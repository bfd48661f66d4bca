"""BayesSearchCV: Gaussian-process Bayesian optimization with sklearn's search contract."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from joblib import effective_n_jobs

from .._compat import Interval, StrOptions
from ._base import _TrialSearchCV
from ._samplers import GPSampler, RandomSampler


class BayesSearchCV(_TrialSearchCV):
    """Bayesian optimization over hyperparameters, cross-validated, resumable.

    A Gaussian process (Matérn-5/2 kernel with one length scale per encoded coordinate) models the
    mean cross-validated score over the encoded space (log scale for log priors, integers rounded,
    categories one-hot). After ``n_initial_points`` random trials, each new trial maximizes the
    acquisition function over thousands of random candidates refined by L-BFGS-B. With
    ``n_points > 1`` (by default ``n_jobs``), batches of distinct proposals are chosen by the
    constant liar and evaluated in parallel. Failed trials are scored ``error_score`` in
    ``cv_results_`` and shown to the surrogate as the worst observed score.

    With ``storage="file.jsonl"`` every finished trial is appended to the file at once (fsync); a
    search started again with the same storage and settings skips the trials it finds there.

    Parameters
    ----------
    estimator : estimator object
        Object implementing ``fit``; cloned for every fit.
    search_spaces : dict or list of dict
        Parameter name to :class:`Real`, :class:`Integer`, :class:`Categorical`, a scipy.stats
        frozen distribution, or a list of values (categories). A list of dicts is a conditional
        space: each trial picks one dict, as with a ``param_grid`` list of dicts.
    n_iter : int, default=50
        Number of trials (parameter settings evaluated).
    n_initial_points : int, default=10
        Random trials before the surrogate takes over; must be ``<= n_iter``.
    acquisition : {"ei", "ucb", "pi"}, default="ei"
        Expected improvement, upper confidence bound, or probability of improvement.
    scoring : str, callable, list, tuple or dict, default=None
        As in :class:`~sklearn.model_selection.GridSearchCV`; with several metrics, ``refit``
        names the one that is optimized.
    n_jobs : int, default=None
        Parallel fits through joblib (any backend: ``joblib.parallel_config(backend="dask")``).
    n_points : int, default=None
        Trials proposed per batch. ``None`` means 1 when ``n_jobs`` is None or 1, otherwise the
        effective ``n_jobs``. Proposals depend only on ``n_points`` and the seed, not on the
        backend, so results are identical on any backend.
    refit : bool, str or callable, default=True
        As in :class:`~sklearn.model_selection.GridSearchCV`.
    cv : int, cross-validation generator or iterable, default=None
        As in :class:`~sklearn.model_selection.GridSearchCV` (5-fold by default).
    verbose : int, default=0
        0: silent; 1: a tqdm progress bar with the best score so far; >1 also sklearn's per-fit
        messages.
    pre_dispatch : int or str, default="2*n_jobs"
        Passed to :class:`joblib.Parallel`.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial design and the surrogate; with an int the search is reproducible.
    error_score : "raise" or float, default=np.nan
        Score recorded for a fit that raises.
    return_train_score : bool, default=False
        Include training scores in ``cv_results_``.
    storage : str, path-like or None, default=None
        JSON-lines trial log for resuming (see above); missing parent folders are created.
    timeout : float, default=None
        Seconds (from the start of ``fit``) after which no new trial is started. The search
        stops between batches of trials (``n_points`` trials at a time): trials already
        started finish, are kept in ``cv_results_`` and in ``storage``, and the best of them is
        refitted. Fitting again with the same ``storage`` continues where it stopped.
        ``stop_reason_`` says why it stopped.
    callbacks : list of callables, default=None
        Each is called as ``callback(search, trial)`` after every trial this call finishes
        (trials replayed from ``storage`` are not reported), in the main process, in the order
        trials finish; ``trial`` is a :class:`FinishedTrial` (``number``, ``params``, ``score``,
        ``status``, ``error``, ``extra``). A callback that returns ``True`` stops the search
        as ``timeout`` does (Optuna's ``study.stop()``); one that raises aborts ``fit``, with
        every finished trial already in ``storage``.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        As in GridSearchCV, one row per trial, in trial order.
    best_estimator_ : estimator
        Refitted on the whole data with ``best_params_`` (if ``refit``).
    best_score_ : float
        Mean cross-validated score of the best trial.
    best_params_ : dict
        Parameters of the best trial.
    best_index_ : int
        Row of the best trial in ``cv_results_``.
    scorer_ : function or dict
        The scorer(s) used.
    n_splits_ : int
        Number of CV splits.
    refit_time_ : float
        Seconds spent refitting the best model.
    multimetric_ : bool
        Whether several metrics were evaluated.
    n_fits_ : int
        Fits run by this call (trials replayed from ``storage`` are not refitted).
    trials_ : list of dict
        The trial records (params in JSON form, fold scores, times, status, error).
    stop_reason_ : {"timeout", "callback"} or None
        Why the search stopped before its budget was spent; None when it ran to the end.

    See Also
    --------
    HyperbandSearchCV : early stopping of poor trials on a growing resource.
    sklearn.model_selection.RandomizedSearchCV : random sampling of the same spaces.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from ensemblekit.tuning import BayesSearchCV, Real
    >>> X, y = make_regression(n_samples=60, n_features=4, noise=5.0, random_state=0)
    >>> search = BayesSearchCV(Ridge(), {"alpha": Real(1e-3, 1e3, prior="log-uniform")},
    ...                        n_iter=8, n_initial_points=4, cv=3, random_state=0).fit(X, y)
    >>> len(search.cv_results_["params"])
    8
    >>> sorted(search.best_params_)
    ['alpha']
    """

    _parameter_constraints: dict = {
        **_TrialSearchCV._parameter_constraints,
        "search_spaces": [dict, list],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "n_initial_points": [Interval(Integral, 1, None, closed="left")],
        "acquisition": [StrOptions({"ei", "ucb", "pi"})],
        "n_points": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "storage": "no_validation",
    }

    def __init__(
        self,
        estimator,
        search_spaces,
        *,
        n_iter=50,
        n_initial_points=10,
        acquisition="ei",
        scoring=None,
        n_jobs=None,
        n_points=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=np.nan,
        return_train_score=False,
        storage=None,
        timeout=None,
        callbacks=None,
    ):
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.search_spaces = search_spaces
        self.n_iter = n_iter
        self.n_initial_points = n_initial_points
        self.acquisition = acquisition
        self.n_points = n_points
        self.random_state = random_state
        self.storage = storage
        self.timeout = timeout
        self.callbacks = callbacks

    def _space_spec(self):
        return self.search_spaces

    def _check_search(self, space) -> None:
        if self.n_iter < self.n_initial_points:
            raise ValueError(
                f"n_iter={self.n_iter} is smaller than n_initial_points={self.n_initial_points}; "
                "the surrogate would never be used. Lower n_initial_points or raise n_iter."
            )

    def _header_settings(self) -> dict:
        return {
            "n_initial_points": self.n_initial_points,
            "acquisition": self.acquisition,
        }

    def _n_trials_hint(self):
        return self.n_iter

    def _batch_size(self) -> int:
        if self.n_points is not None:
            return int(self.n_points)
        if self.n_jobs is None or self.n_jobs == 1:
            return 1
        return max(1, effective_n_jobs(self.n_jobs))

    def _run_search(self, evaluate_candidates):
        runner = evaluate_candidates
        space = self.space_
        seed = self._seed()
        sampler = GPSampler(seed, self.n_initial_points, self.acquisition)
        fallback = RandomSampler(seed)
        design = sampler.initial_design(space)

        done_ids = set()
        for rec in runner.stored:
            k = rec.get("space", 0)
            if not 0 <= k < len(space):
                continue
            runner.replay(rec, space.spaces[k].from_json(rec["params"]))
            done_ids.add(rec["trial_id"])
        next_id = max(done_ids, default=-1) + 1
        batch = self._batch_size()

        while len(runner.history) < self.n_iter:
            if runner.should_stop():
                break
            n = min(batch, self.n_iter - len(runner.history))
            todo = [i for i in range(len(design)) if i not in done_ids][:n]
            if todo:
                ids = todo
                proposals = [design[i] for i in todo]
            else:
                history = runner.imputed_history()
                has_score = any(np.isfinite(s) for _, _, s in runner.history)
                use = sampler if has_score else fallback
                proposals = use.ask(space, history, n)
                ids = list(range(next_id, next_id + n))
            next_id = max(next_id, max(ids) + 1)
            done_ids.update(ids)
            infos = [
                {"trial_id": i, "space": k, "params": space.spaces[k].to_json(p)}
                for i, (k, p) in zip(ids, proposals, strict=True)
            ]
            runner([p for _, p in proposals], trial_info=infos)
