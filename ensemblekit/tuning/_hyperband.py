"""HyperbandSearchCV: Hyperband brackets of successive halving, cross-validated at every rung."""

from __future__ import annotations

import time
import traceback
from numbers import Integral, Real

import numpy as np
from joblib import delayed
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline

from .._compat import (
    Interval,
    StrOptions,
    _check_method_params,
    _MultimetricScorer,
    _safe_indexing,
    _score,
)
from ._base import _TrialSearchCV
from ._samplers import GPSampler, RandomSampler
from ._schedulers import hyperband_brackets, hyperband_schedule, promote


def _find_param(estimator, suffix: str) -> str | None:
    names = [n for n in estimator.get_params(deep=True) if n == suffix or n.endswith("__" + suffix)]
    if not names:
        return None
    # The least nested match controls the model (a Pipeline step's own parameter rather than
    # one of a sub-estimator inside it); ties go to the last one (the final step).
    depth = min(n.count("__") for n in names)
    return [n for n in names if n.count("__") == depth][-1]


def _budget_mode(estimator, resource: str, resource_param):
    """How a trial's resource is increased: returns (mode, resource_param, warm_start_param)."""
    if resource == "n_samples":
        return "n_samples", None, None
    if resource == "n_estimators":
        p = resource_param or _find_param(estimator, "n_estimators")
        if p is None:
            raise ValueError(
                f"resource='n_estimators' but {type(estimator).__name__} has no n_estimators "
                "parameter; pass resource_param='<name>'"
            )
        ws = _warm_start_name(estimator, p)
        return ("n_estimators_warm" if ws else "refit"), p, ws
    # epochs
    if hasattr(estimator, "partial_fit"):
        return "partial_fit", None, None
    if isinstance(estimator, Pipeline) and hasattr(estimator.steps[-1][1], "partial_fit"):
        return "pipeline_partial_fit", None, None
    p = resource_param or _find_param(estimator, "max_iter")
    ws = _warm_start_name(estimator, p) if p else None
    if p and ws:
        return "warm_start", p, ws
    raise ValueError(
        f"resource='epochs' needs an estimator with partial_fit (or a Pipeline ending in one), "
        f"or with max_iter and warm_start parameters; {type(estimator).__name__} has neither"
    )


def _warm_start_name(estimator, param):
    prefix = param.rsplit("__", 1)[0] + "__" if "__" in param else ""
    name = prefix + "warm_start"
    return name if name in estimator.get_params(deep=True) else None


def _error_scores(scorers, error_score):
    if isinstance(scorers, _MultimetricScorer):
        return {name: error_score for name in scorers._scorers}
    return error_score


def _advance(
    estimator,
    params,
    state,
    X,
    y,
    train,
    test,
    *,
    mode,
    r_prev,
    r,
    resource_param,
    warm_start_param,
    scorers,
    fit_params,
    score_params,
    return_train_score,
    error_score,
    classes,
):
    """Bring one (trial, fold) model from ``r_prev`` to ``r`` units of resource and score it.

    Returns a dict shaped like ``_fit_and_score``'s, plus ``state`` (the model, to continue from
    at the next rung) and ``consumed`` (resource units actually spent here).
    """
    fit_params_train = _check_method_params(X, params=fit_params, indices=train)
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    X_test, y_test = _safe_indexing(X, test), _safe_indexing(y, test)
    start = state is not None
    t0 = time.time()
    fit_error = None
    model = state
    consumed = 0
    try:
        if mode in ("partial_fit", "pipeline_partial_fit"):
            if model is None:
                model = clone(estimator).set_params(**clone(params, safe=False))
            if mode == "pipeline_partial_fit":
                if start:
                    Xt = model[:-1].transform(X_train)
                else:
                    Xt = model[:-1].fit_transform(X_train, y_train)
                final = model.steps[-1][1]
            else:
                Xt, final = X_train, model
            steps = r - (r_prev if start else 0)
            extra = {"classes": classes} if classes is not None else {}
            for _ in range(steps):
                final.partial_fit(Xt, y_train, **extra, **fit_params_train)
            consumed = steps
        elif mode in ("warm_start", "n_estimators_warm"):
            if model is None:
                model = clone(estimator).set_params(**clone(params, safe=False))
                model.set_params(**{warm_start_param: True})
            if mode == "warm_start":
                # With warm_start, max_iter counts the epochs of this call only.
                steps = r - (r_prev if start else 0)
                model.set_params(**{resource_param: steps})
            else:
                # Boosting/forests with warm_start add trees up to n_estimators.
                steps = r - (r_prev if start else 0)
                model.set_params(**{resource_param: r})
            model.fit(X_train, y_train, **fit_params_train)
            consumed = steps
        elif mode == "refit":
            model = clone(estimator).set_params(**clone(params, safe=False))
            model.set_params(**{resource_param: r})
            model.fit(X_train, y_train, **fit_params_train)
            consumed = r
        elif mode == "n_samples":
            model = clone(estimator).set_params(**clone(params, safe=False))
            sub = train[:r]
            sub_fit = _check_method_params(X, params=fit_params, indices=sub)
            model.fit(_safe_indexing(X, sub), _safe_indexing(y, sub), **sub_fit)
            consumed = r
        else:  # pragma: no cover - guarded by _budget_mode
            raise ValueError(mode)
    except Exception:
        if error_score == "raise":
            raise
        fit_error = traceback.format_exc()
        model = None
    fit_time = time.time() - t0
    t1 = time.time()
    if fit_error is None:
        test_scores = _score(model, X_test, y_test, scorers, score_params, error_score)
        train_scores = (
            _score(model, X_train, y_train, scorers, score_params, error_score)
            if return_train_score
            else None
        )
    else:
        test_scores = train_scores = _error_scores(scorers, error_score)
    out = {
        "test_scores": test_scores,
        "n_test_samples": len(test),
        "fit_time": fit_time,
        "score_time": time.time() - t1,
        "fit_error": fit_error,
        "state": model if mode not in ("refit", "n_samples") else None,
        "consumed": consumed,
    }
    if return_train_score:
        out["train_scores"] = train_scores
    return out


class HyperbandSearchCV(_TrialSearchCV):
    """Hyperband: successive halving in brackets, cross-validated at every rung, resumable.

    Random configurations are started on a small budget of a resource; at each rung the best
    ``1/eta`` (by mean cross-validated score) are promoted to ``eta`` times more resource. The
    brackets of Hyperband (Li et al., 2018) trade the number of configurations for the starting
    budget, hedging against low budgets being misleading.

    Unlike :class:`~sklearn.model_selection.HalvingRandomSearchCV`, promoted models *continue*
    training instead of being refitted from scratch where the estimator allows it:

    - ``resource="epochs"``: ``partial_fit`` (one call = one epoch), also for a Pipeline whose
      last step has ``partial_fit`` (earlier steps are fitted once per fold), else ``warm_start``
      with ``max_iter`` set to the number of additional epochs;
    - ``resource="n_estimators"``: ``warm_start`` adds trees where the model has it, otherwise the
      model is refitted with the larger ``n_estimators``;
    - ``resource="n_samples"``: refitted on a larger subsample of each training fold.

    Every rung's models are scored on every fold's test set, and ``cv_results_`` has one row per
    (trial, rung) with columns ``trial_id``, ``iteration``, ``bracket``, ``rung`` and
    ``n_resources``. ``best_*`` are chosen among rows trained on ``max_resource``.

    One Hyperband iteration runs every bracket once. ``n_iterations`` and ``max_budget`` repeat
    the iterations with fresh configurations (Li et al., 2018, Section 3.6), so that Hyperband can
    be given the same total budget as another search; with ``sampler="gp"`` the later iterations
    draw most of their configurations from a model of the earlier ones.

    Parameters
    ----------
    estimator : estimator object
        The model to tune.
    param_distributions : dict or list of dict
        As ``BayesSearchCV``'s ``search_spaces`` (dimensions, scipy distributions, lists).
    resource : {"epochs", "n_estimators", "n_samples"}, default="epochs"
        What the budget counts.
    max_resource : int, default=None
        Budget of a fully trained trial. Required except for ``"n_samples"`` (then the size of
        the smallest training fold).
    min_resource : int, default=None
        Smallest budget; 1 by default (``max_resource // eta**3`` for ``"n_samples"``). Rungs
        cheaper than the budget at which scores begin to rank configurations as the full budget
        does only cost. Tuning a learning rate is the common case: short runs favour large rates
        (short-horizon bias). On the Ames benchmark (Adam, 27 epochs) the rank correlation with
        the 27-epoch score is 0.05 after 1 epoch, 0.27 after 3 and 0.69 after 9; there
        ``sampler="gp"`` with ``min_resource=9`` reaches random search's best within a third of
        its epochs, and neither sampler does with ``min_resource=1``
        (``benchmarks/bench_tuning.py --tasks hyperband``).
    eta : int, default=3
        Promotion ratio.
    n_iterations : int, default=None
        Hyperband iterations to run, each starting every bracket again with new configurations.
        ``None``: one iteration, or, when ``max_budget`` is given, as many as it allows.
    max_budget : int, default=None
        Most resource the search may spend, summed over folds (the unit of
        ``resource_used_``: epochs, trees or samples per fold, added up). Brackets are planned
        at their full cost (``Bracket.cost`` times the number of folds); a bracket that would
        take the total over ``max_budget`` is not started and the search ends there (it is an
        error if not even the first bracket fits). Only failed fits that are promoted anyway,
        or models lost before a resume, are retrained beyond the plan. Neither this nor
        ``n_iterations`` is part of a stored search's identity: raising them and fitting again
        on the same ``storage`` continues the search.
    resource_param : str, default=None
        The estimator parameter carrying the resource (found automatically: ``n_estimators`` or
        ``max_iter``, also inside pipelines).
    sampler : {"random", "gp"}, default="random"
        How each bracket's configurations are drawn: at random (Hyperband), or, once some
        budget level has enough finished trials, ``1 - random_fraction`` of them from a
        Gaussian-process model of the scores at the highest such budget (in the spirit of BOHB,
        with the GP of :class:`BayesSearchCV` in place of BOHB's TPE).
    random_fraction : float, default=1/3
        Share of random configurations per bracket with ``sampler="gp"``.
    scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in :class:`~sklearn.model_selection.GridSearchCV`.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampled configurations and the ``n_samples`` subsamples.
    storage : str, path-like or None, default=None
        JSON-lines trial log: every finished (trial, rung) is appended at once; a restarted search
        replays the rungs it finds and continues (a trial whose model was lost is retrained up to
        its rung). Missing parent folders are created.
    timeout : float, default=None
        Seconds (from the start of ``fit``) after which no new trial is started. The search
        stops between batches of trials (one rung of one bracket at a time): trials already
        started finish, are kept in ``cv_results_`` and in ``storage``, and the best of them is
        refitted. Fitting again with the same ``storage`` continues where it stopped.
        ``stop_reason_`` says why it stopped.
    callbacks : list of callables, default=None
        Each is called as ``callback(search, trial)`` after every (trial, rung) this call
        finishes (those replayed from ``storage`` are not reported), in the main process, in
        the order they finish; ``trial`` is a :class:`FinishedTrial` (``number``, ``params``,
        ``score``, ``status``, ``error``, and in ``extra`` the ``iteration``, ``bracket``,
        ``rung`` and ``n_resources``). A callback that returns ``True`` stops the search as
        ``timeout`` does (Optuna's ``study.stop()``); one that raises aborts ``fit``, with every
        finished (trial, rung) already in ``storage``.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        One row per (trial, rung).
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, refit_time_,
    multimetric_
        As in GridSearchCV.
    brackets_ : list of Bracket
        The brackets that were run, in order (one iteration's brackets, repeated per iteration;
        only those started when ``timeout`` or a callback stopped the search).
    n_iterations_ : int
        Hyperband iterations started (the last one may have stopped early on ``max_budget``).
    resource_used_ : int
        Resource units spent by this call, summed over folds (epochs, trees or samples).
    n_fits_ : int
        (trial, rung, fold) evaluations run by this call.
    stop_reason_ : {"timeout", "callback"} or None
        Why the search stopped before its budget was spent; None when it ran to the end.

    See Also
    --------
    BayesSearchCV : Gaussian-process Bayesian optimization.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import SGDRegressor
    >>> from ensemblekit.tuning import HyperbandSearchCV
    >>> X, y = make_regression(n_samples=80, n_features=5, noise=1.0, random_state=0)
    >>> search = HyperbandSearchCV(
    ...     SGDRegressor(random_state=0), {"alpha": loguniform(1e-6, 1e-1)},
    ...     resource="epochs", max_resource=9, eta=3, cv=3, random_state=0).fit(X, y)
    >>> [list(b.resources) for b in search.brackets_]
    [[1, 3, 9], [3, 9], [9]]
    >>> int(search.cv_results_["n_resources"][search.best_index_])
    9
    """

    _parameter_constraints: dict = {
        **_TrialSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "resource": [StrOptions({"epochs", "n_estimators", "n_samples"})],
        "max_resource": [Interval(Integral, 1, None, closed="left"), None],
        "min_resource": [Interval(Integral, 1, None, closed="left"), None],
        "eta": [Interval(Real, 2, None, closed="left")],
        "n_iterations": [Interval(Integral, 1, None, closed="left"), None],
        "max_budget": [Interval(Integral, 1, None, closed="left"), None],
        "resource_param": [str, None],
        "sampler": [StrOptions({"random", "gp"})],
        "random_fraction": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
        "storage": "no_validation",
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        resource="epochs",
        max_resource=None,
        min_resource=None,
        eta=3,
        n_iterations=None,
        max_budget=None,
        resource_param=None,
        sampler="random",
        random_fraction=1 / 3,
        scoring=None,
        n_jobs=None,
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
        self.param_distributions = param_distributions
        self.resource = resource
        self.max_resource = max_resource
        self.min_resource = min_resource
        self.eta = eta
        self.n_iterations = n_iterations
        self.max_budget = max_budget
        self.resource_param = resource_param
        self.sampler = sampler
        self.random_fraction = random_fraction
        self.random_state = random_state
        self.storage = storage
        self.timeout = timeout
        self.callbacks = callbacks

    def _space_spec(self):
        return self.param_distributions

    def _resources(self, n_train=None):
        max_r = self.max_resource
        if max_r is None:
            if self.resource != "n_samples" or n_train is None:
                raise ValueError(f"max_resource is required for resource={self.resource!r}")
            max_r = n_train
        min_r = self.min_resource
        if min_r is None:
            min_r = max(1, max_r // int(self.eta) ** 3) if self.resource == "n_samples" else 1
        if min_r >= max_r:
            raise ValueError(f"min_resource={min_r} must be < max_resource={max_r}")
        return int(min_r), int(max_r)

    def _check_search(self, space) -> None:
        self._mode, self._rparam, self._wsparam = _budget_mode(
            self.estimator, self.resource, self.resource_param
        )
        if self._rparam is not None and self._rparam in space.all_names():
            raise ValueError(
                f"{self._rparam!r} is the resource; remove it from param_distributions"
            )
        if self.max_resource is not None or self.resource != "n_samples":
            self._resources()

    def _header_settings(self) -> dict:
        return {
            "resource": self.resource,
            "max_resource": self.max_resource,
            "min_resource": self.min_resource,
            "eta": self.eta,
            "resource_param": self._rparam,
            "sampler": self.sampler,
            "random_fraction": self.random_fraction,
        }

    def _continued(self) -> bool:
        """Whether a promoted trial resumes training rather than being refitted."""
        return self._mode in (
            "partial_fit",
            "pipeline_partial_fit",
            "warm_start",
            "n_estimators_warm",
        )

    def _schedule(self, min_r, max_r, n_folds):
        return hyperband_schedule(
            min_r,
            max_r,
            self.eta,
            n_iterations=self.n_iterations,
            max_budget=self.max_budget,
            n_folds=n_folds,
            continued=self._continued(),
        )

    def _n_trials_hint(self):
        if self.max_resource is None or not hasattr(self, "n_splits_"):
            return None
        min_r, max_r = self._resources()
        return sum(sum(b.n_trials) for _, b in self._schedule(min_r, max_r, self.n_splits_))

    def _select_best_index(self, refit, refit_metric, results):
        if callable(refit):
            return super()._select_best_index(refit, refit_metric, results)
        # Only fully trained rows compete: a lucky score on a small budget is not a model.
        n_res = np.asarray(results["n_resources"])
        full = n_res == n_res.max()
        ranks = np.asarray(results[f"rank_test_{refit_metric}"], dtype=float)
        ranks = np.where(full, ranks, np.inf)
        return int(np.argmin(ranks))

    def _run_search(self, evaluate_candidates):
        runner = evaluate_candidates
        space = self.space_
        n_train = min(len(tr) for tr, _ in runner.splits)
        min_r, max_r = self._resources(n_train)
        if self.resource == "n_samples" and max_r > n_train:
            raise ValueError(f"max_resource={max_r} exceeds the smallest training fold ({n_train})")
        schedule = self._schedule(min_r, max_r, len(runner.splits))
        if not schedule:
            first = hyperband_brackets(min_r, max_r, self.eta)[0]
            raise ValueError(
                f"max_budget={self.max_budget} cannot pay for the first bracket, which costs "
                f"{first.cost(self._continued()) * len(runner.splits)} (summed over folds)"
            )
        self.brackets_ = [b for _, b in schedule]
        self.n_iterations_ = schedule[-1][0] + 1
        seed = self._seed()
        self._seed_used = seed
        rng = np.random.RandomState(seed)
        splits = runner.splits
        if self.resource == "n_samples":
            # Each fold's training indices in one fixed random order: rung r uses the first r.
            splits = [(rng.permutation(tr), te) for tr, te in splits]
        classes = np.unique(runner.y) if is_classifier(self.estimator) else None
        stored = {(rec["trial_id"], rec["extra"]["rung"]): rec for rec in runner.stored}
        states: dict = {}
        self.resource_used_ = 0
        trial_id = 0
        for n_started, (iteration, b) in enumerate(schedule):
            # The sampler salts its stream with the number of trials before, so each bracket's
            # configurations are fixed by the seed alone (a resumed run draws the same ones);
            # a new iteration's brackets thus get new configurations.
            proposals = self._bracket_proposals(space, seed, trial_id, b.n_trials[0], runner)
            ids = list(range(trial_id, trial_id + b.n_trials[0]))
            trial_id += b.n_trials[0]
            alive = list(range(len(ids)))
            prev_r = None
            for rung, r in enumerate(b.resources):
                cand_ids = [ids[i] for i in alive]
                scores = []
                todo = []
                for i in alive:
                    key = (ids[i], rung)
                    k, p = proposals[i]
                    if key in stored:
                        rec = stored[key]
                        # logs written before iterations existed have no "iteration"
                        rec = {**rec, "extra": {"iteration": iteration, **rec.get("extra", {})}}
                        runner.replay(rec, self._row_params(p, r))
                        scores.append(runner.history[-1][2])
                    else:
                        todo.append(i)
                        scores.append(None)
                if todo and runner.should_stop():
                    # Between rungs only: a bracket cut short resumes from its stored rungs.
                    started = n_started + (rung > 0 or len(todo) < len(alive))
                    self.brackets_ = self.brackets_[:started]
                    self.n_iterations_ = schedule[started - 1][0] + 1 if started else 0
                    return
                if todo:
                    before = len(runner.history)
                    self._run_rung(
                        runner,
                        iteration,
                        b,
                        rung,
                        r,
                        prev_r,
                        [ids[i] for i in todo],
                        [proposals[i] for i in todo],
                        splits,
                        states,
                        classes,
                    )
                    new_scores = [s for _, _, s in runner.history[before:]]
                    it = iter(new_scores)
                    scores = [next(it) if s is None else s for s in scores]
                if rung + 1 < len(b.resources):
                    keep = promote(scores, b.n_trials[rung + 1])
                    kept_ids = {cand_ids[j] for j in keep}
                    for tid in cand_ids:
                        if tid not in kept_ids:
                            for f in range(len(splits)):
                                states.pop((tid, f), None)
                    alive = [alive[j] for j in keep]
                prev_r = r
            for tid in ids:
                for f in range(len(splits)):
                    states.pop((tid, f), None)

    def _bracket_proposals(self, space, seed, trial_id, n, runner):
        """Configurations of a new bracket: random, or 2/3 from a GP (BOHB-style).

        The GP is fitted on the highest budget that already has enough trials to be modelled
        (one more than the encoded dimensions, BOHB's rule; Falkner et al., 2018), since a model
        of 1-epoch scores says more about learning rates than about what wins when fully trained.
        """
        rand = RandomSampler(seed).ask(space, [None] * trial_id, n)
        if self.sampler == "random":
            return rand
        n_res = np.asarray(runner.all_more.get("n_resources", []))
        need = max(sp.n_coords for sp in space.spaces) + 1
        for r in sorted(set(n_res.tolist()), reverse=True):
            rows = np.flatnonzero(n_res == r)
            if len(rows) >= need:
                break
        else:
            return rand
        hist = []
        for i in rows:
            k, p, score = runner.history[i]
            hist.append((k, {n: p[n] for n in space.spaces[k].names}, score))
        finite = [h[2] for h in hist if np.isfinite(h[2])]
        if not finite:
            return rand
        hist = [(k, p, sc if np.isfinite(sc) else min(finite)) for k, p, sc in hist]
        n_model = int(round(n * (1 - self.random_fraction)))
        model = GPSampler(seed + trial_id, n_initial_points=0).ask(space, hist, n_model)
        return model + rand[n_model:]

    def _row_params(self, params, r):
        if self._mode in ("refit", "n_estimators_warm"):
            return {**params, self._rparam: r}
        return dict(params)

    def _run_rung(
        self, runner, iteration, bracket, rung, r, prev_r, ids, proposals, splits, states, classes
    ):
        space = self.space_
        kw = runner.fit_and_score_kwargs
        tasks = []
        keys = []
        for tid, (_, p) in zip(ids, proposals, strict=True):
            for f, (train, test) in enumerate(splits):
                keys.append((tid, f))
                tasks.append(
                    delayed(_advance)(
                        runner.base_estimator,
                        p,
                        states.get((tid, f)),
                        runner.X,
                        runner.y,
                        train,
                        test,
                        mode=self._mode,
                        r_prev=prev_r or 0,
                        r=r,
                        resource_param=self._rparam,
                        warm_start_param=self._wsparam,
                        scorers=runner.scorers,
                        fit_params=kw["fit_params"],
                        score_params=kw["score_params"],
                        return_train_score=self.return_train_score,
                        error_score=self.error_score,
                        classes=classes,
                    )
                )
        key_iter = iter(keys)

        def take_state(out):
            key = next(key_iter)
            state = out.pop("state")
            self.resource_used_ += out.pop("consumed")
            if state is not None:
                states[key] = state
            else:
                states.pop(key, None)
            return out

        infos = [
            {"trial_id": tid, "space": k, "params": space.spaces[k].to_json(p)}
            for tid, (k, p) in zip(ids, proposals, strict=True)
        ]
        more = {
            "trial_id": ids,
            "iteration": [iteration] * len(ids),
            "bracket": [bracket.index] * len(ids),
            "rung": [rung] * len(ids),
            "n_resources": [r] * len(ids),
        }
        runner.collect(
            [self._row_params(p, r) for _, p in proposals],
            (take_state(o) for o in runner.parallel(tasks)),
            more_results=more,
            trial_info=infos,
        )

    def _refit_best(self, X, y, fit_params):
        if self._mode not in ("partial_fit", "pipeline_partial_fit", "warm_start"):
            return super()._refit_best(X, y, fit_params)
        params = {k: v for k, v in self.best_params_.items()}
        r = int(self._results["n_resources"][self.best_index_])
        idx = np.arange(X.shape[0] if hasattr(X, "shape") else len(X))
        classes = np.unique(y) if is_classifier(self.estimator) else None
        out = _advance(
            clone(self.estimator),
            params,
            None,
            X,
            y,
            idx,
            idx[:1],
            mode=self._mode,
            r_prev=0,
            r=r,
            resource_param=self._rparam,
            warm_start_param=self._wsparam,
            scorers=lambda est, X, y: 0.0,
            fit_params=fit_params,
            score_params={},
            return_train_score=False,
            error_score="raise",
            classes=classes,
        )
        return out["state"]
