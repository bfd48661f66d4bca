"""Plots of a fitted search; matplotlib is imported only when a plot is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'ensemblekit[plot]'") from exc
    return plt


def _scores(search, metric: str | None):
    if not hasattr(search, "cv_results_"):
        raise ValueError("The search is not fitted: call fit first")
    res = search.cv_results_
    if metric is None:
        metric = search.refit if isinstance(search.refit, str) else "score"
    key = f"mean_test_{metric}"
    if key not in res:
        raise ValueError(f"No {key!r} in cv_results_; pass metric=<scorer name>")
    return np.asarray(res[key], dtype=float), metric


def plot_optimization_history(search, *, metric: str | None = None, ax=None) -> Any:
    """Score of each trial and best score so far, by trial number.

    Parameters
    ----------
    search : fitted BayesSearchCV, HyperbandSearchCV or any fitted sklearn search
    metric : str, default=None
        Scorer name for multi-metric searches (default: ``refit`` or the single score).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> ax = plot_optimization_history(search)   # doctest: +SKIP
    >>> ax.figure.savefig("history.png")         # doctest: +SKIP
    """
    scores, metric = _scores(search, metric)
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(1, len(scores) + 1)
    ax.scatter(x, scores, s=14, alpha=0.6, label="trial")
    best = np.fmax.accumulate(np.where(np.isfinite(scores), scores, -np.inf))
    ax.step(
        x, np.where(np.isfinite(best), best, np.nan), where="post", color="C3", label="best so far"
    )
    ax.set_xlabel("trial")
    ax.set_ylabel(f"mean test {metric}")
    ax.set_title("Optimization history")
    ax.legend(loc="lower right")
    return ax


def plot_parameter_scores(search, *, metric: str | None = None, params=None) -> Any:
    """Mean test score against each searched parameter (one panel per parameter).

    Numeric parameters on a log axis when they span more than two decades; categories as labels.

    Parameters
    ----------
    search : fitted search
    metric : str, default=None
        Scorer name for multi-metric searches.
    params : list of str, default=None
        Parameters to show (all searched parameters by default).

    Returns
    -------
    fig : matplotlib Figure

    Examples
    --------
    >>> fig = plot_parameter_scores(search)   # doctest: +SKIP
    """
    scores, metric = _scores(search, metric)
    plt = _pyplot()
    rows = search.cv_results_["params"]
    names = params or sorted({k for r in rows for k in r})
    if not names:
        raise ValueError("No parameters to plot")
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        pairs = [(r[name], s) for r, s in zip(rows, scores, strict=True) if name in r]
        vals = [v for v, _ in pairs]
        ys = np.array([s for _, s in pairs], dtype=float)
        numeric = all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in vals
        )
        if numeric:
            xs = np.array(vals, dtype=float)
            ax.scatter(xs, ys, s=14, alpha=0.7)
            if np.all(xs > 0) and xs.max() / xs.min() > 100:
                ax.set_xscale("log")
        else:
            labels = sorted({repr(v) for v in vals})
            pos = {lab: i for i, lab in enumerate(labels)}
            ax.scatter([pos[repr(v)] for v in vals], ys, s=14, alpha=0.7)
            ax.set_xticks(range(len(labels)), labels, rotation=30)
        ax.set_xlabel(name)
    axes[0][0].set_ylabel(f"mean test {metric}")
    fig.tight_layout()
    return fig
