"""Schedulers: how much resource each trial gets (successive halving inside Hyperband brackets).

A scheduler knows nothing about estimators or storage; it lays out brackets and rungs and picks
which trials are promoted, so it can be checked by itself against the Hyperband paper's table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Bracket", "hyperband_brackets", "hyperband_schedule", "promote"]


@dataclass(frozen=True)
class Bracket:
    """One successive-halving run: ``n_trials[i]`` trials get ``resources[i]`` at rung ``i``."""

    index: int
    n_trials: tuple[int, ...]
    resources: tuple[int, ...]

    def cost(self, continued: bool = True) -> int:
        """Resource the bracket spends on one fold when every trial is fitted without error.

        With ``continued`` a promoted trial resumes training (rung ``i`` costs
        ``n_trials[i] * (resources[i] - resources[i - 1])``), otherwise it is refitted from
        scratch (``n_trials[i] * resources[i]``).
        """
        prev = (0,) + self.resources[:-1] if continued else (0,) * len(self.resources)
        return int(
            sum(n * (r - p) for n, r, p in zip(self.n_trials, self.resources, prev, strict=True))
        )


def hyperband_brackets(min_resource: int, max_resource: int, eta: int) -> list[Bracket]:
    """Brackets of Hyperband (Li et al., 2018, Algorithm 1), most aggressive first.

    With ``R = max_resource / min_resource`` and ``s_max = floor(log_eta R)``, bracket ``s`` starts
    ``ceil((s_max + 1) / (s + 1) * eta**s)`` trials at ``max_resource * eta**-s`` and keeps the
    best ``1/eta`` at each of its ``s`` promotions.
    """
    ratio = max_resource / min_resource
    s_max = int(math.floor(math.log(ratio) / math.log(eta) + 1e-9))
    out = []
    for s in range(s_max, -1, -1):
        n = int(math.ceil((s_max + 1) / (s + 1) * eta**s - 1e-9))
        n_trials, resources = [], []
        for i in range(s + 1):
            n_trials.append(max(1, int(math.floor(n * eta ** (-i) + 1e-9))))
            r = max_resource * eta ** (i - s)
            resources.append(max(min_resource, int(round(r))))
        out.append(Bracket(s, tuple(n_trials), tuple(resources)))
    return out


def hyperband_schedule(
    min_resource: int,
    max_resource: int,
    eta: int,
    *,
    n_iterations: int | None = None,
    max_budget: int | None = None,
    n_folds: int = 1,
    continued: bool = True,
) -> list[tuple[int, Bracket]]:
    """The ``(iteration, bracket)`` pairs of a Hyperband run, in the order they are run.

    One iteration runs every bracket of :func:`hyperband_brackets`; later iterations repeat them
    (with fresh configurations, which is the caller's business), as Hyperband's infinite-horizon
    variant does (Li et al., 2018, Section 3.6). ``n_iterations=None`` means one iteration, or,
    with ``max_budget``, as many as the budget allows. A bracket whose planned cost
    (:meth:`Bracket.cost` times ``n_folds``) would take the total over ``max_budget`` is not
    started, and the schedule ends there.
    """
    brackets = hyperband_brackets(min_resource, max_resource, eta)
    if n_iterations is None and max_budget is None:
        n_iterations = 1
    out: list[tuple[int, Bracket]] = []
    spent = 0
    it = 0
    while n_iterations is None or it < n_iterations:
        for b in brackets:
            c = b.cost(continued) * n_folds
            if max_budget is not None and spent + c > max_budget:
                return out
            out.append((it, b))
            spent += c
        it += 1
    return out


def promote(scores, k: int) -> list[int]:
    """Indices of the ``k`` best scores (NaN last, ties broken by position, for determinism)."""
    scores = np.asarray(scores, dtype=float)
    key = np.where(np.isfinite(scores), -scores, np.inf)
    return sorted(np.argsort(key, kind="stable")[:k].tolist())
