"""Shared machinery of the searches: trial execution, trial log, progress, best/refit.

``BaseSearchCV.fit`` builds its ``evaluate_candidates`` closure around a ``joblib.Parallel`` that
always refits every candidate from scratch and keeps results only in memory. Resume (skip what the
trial log already holds), per-trial durable writes, a progress bar and stateful continuation
(Hyperband) need a different closure, so :class:`_TrialSearchCV` re-implements ``fit`` around the
same ``_run_search(evaluate_candidates)`` hook and feeds the same per-fit records to sklearn's own
``_format_results`` / ``_select_best_index``; ``cv_results_`` therefore has GridSearchCV's layout
(checked against GridSearchCV in the tests).
"""

from __future__ import annotations

import numbers
import re
import time
import warnings
from abc import abstractmethod
from collections import defaultdict
from copy import deepcopy
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils.validation import indexable

from .._compat import (
    BaseSearchCV,
    Interval,
    _check_method_params,
    _fit_and_score,
    _fit_context,
    _insert_error_scores,
    _MultimetricScorer,
    _warn_or_raise_about_fit_failures,
)
from ._space import SearchSpace
from ._stopping import FinishedTrial, Stopper, check_callbacks
from ._storage import FORMAT_VERSION, make_storage

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from scipy.sparse import spmatrix

__all__ = ["_TrialSearchCV"]

_Search = TypeVar("_Search", bound="_TrialSearchCV")


def stable_repr(obj) -> str:
    """repr without memory addresses, so that headers compare equal across processes."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(obj))


def _trial_score(folds, metric) -> float:
    vals = []
    for f in folds:
        s = f["test_scores"]
        if isinstance(s, dict):
            # A callable scorer returning a dict: fall back to its first metric.
            s = s[metric] if metric in s else next(iter(s.values()))
        vals.append(float(s) if s is not None else np.nan)
    return float(np.mean(vals)) if vals else np.nan


class _Runner:
    """The ``evaluate_candidates`` callable handed to ``_run_search``.

    Calling it evaluates candidates by cross-validation exactly as sklearn does (through
    ``_fit_and_score``), appends each finished trial to the storage as soon as its last fold is
    in, and returns the formatted results so far. ``stored`` holds the trials of an earlier run of
    the same search, which ``replay`` turns into results without fitting anything.
    """

    def __init__(
        self, search, X, y, splits, scorers, routed, storage, stored, metric, pbar, stopper
    ):
        self.search = search
        self.stopper = stopper
        self.X, self.y = X, y
        self.splits = splits
        self.scorers = scorers
        self.routed = routed
        self.storage = storage
        self.stored = stored
        self.metric = metric
        self.pbar = pbar
        self.base_estimator = clone(search.estimator)
        self.all_params: list[dict] = []
        self.all_out: list[dict] = []
        self.all_more = defaultdict(list)
        self.history: list[tuple[int, dict, float]] = []  # (space index, params, score)
        self.records: list[dict] = []
        self.n_fits = 0
        self.best = -np.inf
        self.parallel = Parallel(
            n_jobs=search.n_jobs, pre_dispatch=search.pre_dispatch, return_as="generator"
        )
        self.fit_and_score_kwargs = dict(
            scorer=scorers,
            fit_params=routed.estimator.fit,
            score_params=routed.scorer.score,
            return_train_score=search.return_train_score,
            return_n_test_samples=True,
            return_times=True,
            return_parameters=False,
            error_score=search.error_score,
            verbose=max(0, search.verbose - 1),
        )

    # -- sklearn's evaluate_candidates signature -------------------------------------------
    def __call__(self, candidate_params, cv=None, more_results=None, trial_info=None):
        if cv is not None:
            raise ValueError("This search evaluates every candidate on the search's own cv")
        candidate_params = list(candidate_params)
        n_splits = len(self.splits)
        tasks = (
            delayed(_fit_and_score)(
                clone(self.base_estimator),
                self.X,
                self.y,
                train=train,
                test=test,
                parameters=params,
                split_progress=(j, n_splits),
                candidate_progress=(i, len(candidate_params)),
                **self.fit_and_score_kwargs,
            )
            for i, params in enumerate(candidate_params)
            for j, (train, test) in enumerate(self.splits)
        )
        return self._collect(candidate_params, self.parallel(tasks), more_results, trial_info)

    def collect(self, candidate_params, outs, more_results=None, trial_info=None):
        """Gather ``_fit_and_score``-like dicts of custom tasks, candidate-major and fold-minor."""
        return self._collect(list(candidate_params), outs, more_results, trial_info)

    def _collect(self, candidate_params, outs, more_results, trial_info):
        n_splits = len(self.splits)
        if not candidate_params:
            return self.results
        if trial_info is None:
            trial_info = [{} for _ in candidate_params]
        folds: list[dict] = []
        new_out = []
        i = 0
        # Results arrive in submission order; each trial is logged the moment its last fold
        # is in, so a kill loses only trials in flight.
        for out in outs:
            folds.append(out)
            if len(folds) == n_splits:
                extra = {k: v[i] for k, v in (more_results or {}).items()}
                self._finish_trial(candidate_params[i], folds, extra, trial_info[i])
                new_out.extend(folds)
                folds, i = [], i + 1
        if callable(self.search.scoring):
            _insert_error_scores(new_out, self.search.error_score)
        n_failed = sum(bool(o.get("fit_error")) for o in new_out)
        if n_failed == len(new_out) and new_out:
            # sklearn raises when *every* fit failed; one failed batch is not the whole search
            # (the check over all fits happens at the end of fit).
            warnings.warn(
                f"All {n_failed} fits of this batch failed; first error:\n"
                f"{new_out[0]['fit_error']}",
                UserWarning,
            )
        else:
            _warn_or_raise_about_fit_failures(new_out, self.search.error_score)
        return self.results

    def _finish_trial(self, params, folds, extra, info):
        self.n_fits += len(folds)
        errors = [f["fit_error"] for f in folds if f.get("fit_error")]
        record = {
            **info,
            "status": "error" if errors else "ok",
            "error": errors[0] if errors else None,
            "extra": extra,
            "folds": [
                {
                    k: f.get(k)
                    for k in (
                        "test_scores",
                        "train_scores",
                        "n_test_samples",
                        "fit_time",
                        "score_time",
                        "fit_error",
                    )
                }
                for f in folds
            ],
        }
        self.storage.append(record)
        self._add(params, folds, extra, record, info)
        # After the append: a callback that raises, or stops the search, loses no trial.
        self.stopper.trial_finished(
            FinishedTrial(
                number=info.get("trial_id", len(self.history) - 1),
                params=params,
                score=self.history[-1][2],
                status=record["status"],
                error=record["error"],
                extra=extra,
            )
        )

    def should_stop(self) -> bool:
        """Whether the search should start no further batch (timeout or a callback)."""
        return self.stopper.should_stop()

    def replay(self, record, params) -> None:
        """Add a trial from the log to the results, without fitting."""
        folds = [dict(f) for f in record["folds"]]
        for f in folds:
            if not self.search.return_train_score:
                f.pop("train_scores", None)
        self._add(params, folds, record.get("extra", {}), record, record)

    def _add(self, params, folds, extra, record, info):
        self.all_params.append(params)
        self.all_out.extend(folds)
        for k, v in extra.items():
            self.all_more[k].append(v)
        self.records.append(record)
        score = _trial_score(folds, self.metric)
        self.history.append((info.get("space", 0), params, score))
        if np.isfinite(score):
            self.best = max(self.best, score)
        if self.pbar is not None:
            self.pbar.update(1)
            self.pbar.set_postfix(best=f"{self.best:.5g}" if np.isfinite(self.best) else "nan")

    @property
    def results(self) -> dict:
        """``cv_results_`` of the trials so far, what ``evaluate_candidates`` returns.

        Formatted when asked for (O(trials)): once per ``evaluate_candidates`` call, as in
        scikit-learn, not after every trial (a resumed search replays each stored trial).
        """
        if not self.all_params:
            return {}
        with warnings.catch_warnings():
            # sklearn warns about non-finite scores on every call; fit warns once at the end.
            warnings.filterwarnings("ignore", message="One or more of the", category=UserWarning)
            return self.search._format_results(
                self.all_params, len(self.splits), self.all_out, self.all_more
            )

    def imputed_history(self):
        """History for a surrogate: failed (NaN) scores replaced by the worst observed score."""
        finite = [s for _, _, s in self.history if np.isfinite(s)]
        worst = min(finite) if finite else 0.0
        return [(k, p, s if np.isfinite(s) else worst) for k, p, s in self.history]


class _TrialSearchCV(BaseSearchCV):
    """Base of the searches: BaseSearchCV's contract plus a trial log and a progress bar."""

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "timeout": [Interval(numbers.Real, 0, None, closed="neither"), None],
        # Checked in fit by check_callbacks, whose message says how to fix a bare callable.
        "callbacks": "no_validation",
    }

    @abstractmethod
    def __init__(
        self,
        estimator,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
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

    # Subclasses define: _space_spec(), _check_search(space), _header_settings(), _run_search().

    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral):
            return int(rs)
        # None or a RandomState: draw once, so every part of the search derives from one seed.
        return int(check_random_state(rs).randint(2**31 - 1))

    def _header(self, space, X, n_splits):
        """What makes two runs the same search; a stored log is resumed only if all match.

        The batch size (``n_jobs``/``n_points``) is left out on purpose: resuming on a
        different number of workers is legitimate.
        """
        cv = self.cv if self.cv is not None else 5
        est = self.estimator
        try:
            est_repr = est.__repr__(N_CHAR_MAX=10**6)
        except TypeError:
            est_repr = repr(est)
        header = {
            "format": FORMAT_VERSION,
            "search": type(self).__name__,
            "space": space.signature(),
            "estimator": re.sub(r" at 0x[0-9a-fA-F]+", "", est_repr),
            "cv": stable_repr(cv),
            "n_splits": n_splits,
            "scoring": stable_repr(self.scoring),
            "n_samples": int(X.shape[0]) if hasattr(X, "shape") else len(X),
        }
        header.update(self._header_settings())
        if isinstance(self.random_state, numbers.Integral):
            header["random_state"] = int(self.random_state)
        return header

    def _header_settings(self) -> dict:
        return {}

    def _metric_name(self, scorers, refit_metric):
        if isinstance(scorers, _MultimetricScorer) or isinstance(scorers, dict):
            if isinstance(self.refit, str):
                return self.refit
            return (
                sorted(scorers._scorers)[0] if hasattr(scorers, "_scorers") else sorted(scorers)[0]
            )
        return "score"

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self: _Search, X: ArrayLike | spmatrix, y: ArrayLike | None = None, **params: Any
    ) -> _Search:
        """Run the search: evaluate trials by cross-validation, then refit the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Target.
        **params : dict
            Parameters passed to the estimator's ``fit``, the scorer and the CV splitter
            (``groups``), as in :class:`~sklearn.model_selection.GridSearchCV`.

        Returns
        -------
        self : object
            The fitted search.
        """
        # Everything that can be wrong with the inputs is checked before the first fit.
        stopper = Stopper(self, self.timeout, check_callbacks(self.callbacks))
        space = SearchSpace(self._space_spec())
        space.check_names(self.estimator)
        self._check_search(space)
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, **routed.splitter.split))
        self.n_splits_ = len(splits)
        self._checked_cv_orig = cv
        storage = make_storage(self.storage)
        stored = storage.open(self._header(space, X, self.n_splits_))
        self.space_ = space

        pbar = None
        if self.verbose:
            from tqdm.auto import tqdm

            pbar = tqdm(total=self._n_trials_hint(), desc=type(self).__name__, unit="trial")
        metric = self._metric_name(scorers, refit_metric)
        runner = _Runner(
            self, X, y, splits, scorers, routed, storage, stored, metric, pbar, stopper
        )
        try:
            with runner.parallel:
                self._run_search(runner)
        finally:
            storage.close()
            if pbar is not None:
                pbar.close()
        self.stop_reason_ = stopper.reason
        if not runner.all_out:
            if stopper.reason == "timeout":
                raise ValueError(
                    f"timeout={self.timeout} s passed before the first trial started, so no "
                    "trial was run; raise timeout"
                )
            raise ValueError("No trials were run or found in the storage")
        if all(o.get("fit_error") for o in runner.all_out):
            _warn_or_raise_about_fit_failures(runner.all_out, self.error_score)
        results = self._format_results(
            runner.all_params, len(runner.splits), runner.all_out, runner.all_more
        )
        self.n_fits_ = runner.n_fits
        self.trials_ = runner.records

        first_test_score = runner.all_out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = int(self._select_best_index(self.refit, refit_metric, results))
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        self._results = results
        if self.refit:
            fit_params = routed.estimator.fit
            t0 = time.time()
            self.best_estimator_ = self._refit_best(X, y, fit_params)
            self.refit_time_ = time.time() - t0
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        if isinstance(scorers, _MultimetricScorer):
            self.scorer_ = scorers._scorers
        else:
            self.scorer_ = scorers
        self.cv_results_ = results
        return self

    def _refit_best(self, X, y, fit_params):
        est = clone(self.estimator).set_params(**clone(deepcopy(self.best_params_), safe=False))
        if y is not None:
            return est.fit(X, y, **fit_params)
        return est.fit(X, **fit_params)

    def _n_trials_hint(self):
        return None

    @abstractmethod
    def _space_spec(self):
        """The user's search-space argument."""

    def _check_search(self, space) -> None:
        pass
