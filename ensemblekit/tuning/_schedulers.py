"""Schedulers: how much resource each trial gets (successive halving inside Hyperband brackets).

A scheduler knows nothing about estimators or storage; it lays out brackets and rungs and picks
which trials are promoted, so it can be checked by itself against the Hyperband paper's table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Bracket", "hyperband_brackets", "promote"]


@dataclass(frozen=True)
class Bracket:
    """One successive-halving run: ``n_trials[i]`` trials get ``resources[i]`` at rung ``i``."""

    index: int
    n_trials: tuple[int, ...]
    resources: tuple[int, ...]


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


def promote(scores, k: int) -> list[int]:
    """Indices of the ``k`` best scores (NaN last, ties broken by position, for determinism)."""
    scores = np.asarray(scores, dtype=float)
    key = np.where(np.isfinite(scores), -scores, np.inf)
    return sorted(np.argsort(key, kind="stable")[:k].tolist())
