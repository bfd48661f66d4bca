"""When a search stops before its budget is spent: a time limit and per-trial callbacks.

The searches ask :class:`Stopper` once before they start each batch of new trials (``n_points``
trials in ``BayesSearchCV``, one rung of one bracket in ``HyperbandSearchCV``), never in the
middle of one: trials already dispatched finish and are stored, so a stopped search is a
complete, resumable trial log, and fitting again with the same ``storage`` continues it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FinishedTrial", "Stopper"]


@dataclass(frozen=True)
class FinishedTrial:
    """A trial that has just finished, as handed to the ``callbacks`` of a search.

    Parameters
    ----------
    number : int
        The trial's id (``trial_id`` in the storage; in ``HyperbandSearchCV`` one id covers all
        the rungs of a configuration).
    params : dict
        The parameter values evaluated, as in a row of ``cv_results_["params"]``.
    score : float
        Mean cross-validated test score of the optimized metric (higher is better, as in
        scikit-learn); NaN when a fit failed and ``error_score`` is NaN.
    status : {"ok", "error"}
        ``"error"`` when a fold's fit raised.
    error : str or None
        The first failed fold's traceback.
    extra : dict
        ``HyperbandSearchCV``: ``iteration``, ``bracket``, ``rung`` and ``n_resources`` of this
        evaluation; empty for ``BayesSearchCV``.
    """

    number: int
    params: dict
    score: float
    status: str
    error: str | None = None
    extra: dict = field(default_factory=dict)


def check_callbacks(callbacks) -> list[Callable]:
    """Validate the ``callbacks`` parameter; every item must be callable."""
    if callbacks is None:
        return []
    if callable(callbacks) or not isinstance(callbacks, Sequence):
        raise ValueError(
            f"callbacks must be a list of callables called as callback(search, trial), got "
            f"{callbacks!r}; pass callbacks=[{getattr(callbacks, '__name__', 'callback')}]"
        )
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise ValueError(
                f"callbacks[{i}] must be callable as callback(search, trial), got {cb!r}"
            )
    return list(callbacks)


class Stopper:
    """Decides, between batches, whether a search stops early.

    Parameters
    ----------
    search : search estimator
        Passed to the callbacks.
    timeout : float or None
        Seconds (validated by the search); no new batch is started once they have passed.
    callbacks : list of callables
        ``callback(search, trial)`` after each newly finished trial; a callback that returns
        ``True`` stops the search (the other callbacks of that trial still run).

    The clock starts when the stopper is made, at the start of ``fit``.
    """

    def __init__(self, search: Any, timeout: float | None, callbacks: list[Callable]) -> None:
        self.search = search
        self.timeout = timeout
        self.callbacks = callbacks
        self.start = time.monotonic()
        self.reason: str | None = None

    def trial_finished(self, trial: FinishedTrial) -> None:
        """Run the callbacks on a newly finished trial."""
        for cb in self.callbacks:
            if cb(self.search, trial) is True:
                self.reason = self.reason or "callback"

    def should_stop(self) -> bool:
        """Whether to start no further batch (records why in ``reason``)."""
        if self.reason is None and self.timeout is not None:
            if time.monotonic() - self.start >= self.timeout:
                self.reason = "timeout"
        return self.reason is not None
