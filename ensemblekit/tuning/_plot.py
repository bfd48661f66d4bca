"""Plots of a fitted search; matplotlib is imported only when a plot is asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .._compat import BaseSearchCV


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


def _plotted_values(scores: np.ndarray, yscale: str, metric: str):
    """What is drawn, the y label, and whether larger drawn values are better."""
    if yscale == "linear":
        return scores, f"mean test {metric}", True
    finite = scores[np.isfinite(scores)]
    if finite.size and np.all(finite > 0):
        return scores, f"mean test {metric}", True
    if finite.size and np.all(finite < 0):
        # scikit-learn's errors are negated scores ("neg_*"); their magnitude is the error, so
        # the log axis shows orders of magnitude of the error, best trials at the bottom.
        return -scores, f"-(mean test {metric})", False
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (np.nan, np.nan)
    raise ValueError(
        "yscale='log' needs finite scores all of one sign (no zero); got scores from "
        f"{lo:.4g} to {hi:.4g}. Use yscale='linear' (clip= keeps outliers from squashing it)."
    )


def _clip_limits(values: np.ndarray, clip, higher_is_better: bool, log: bool):
    """(low, high) y limits in drawn units; None where that side is not clipped."""
    if clip is None:
        return None, None
    if isinstance(clip, str):
        if clip != "auto":
            raise ValueError(f"clip must be 'auto', a (low, high) pair or None, got {clip!r}")
        finite = values[np.isfinite(values)]
        if finite.size < 4:
            return None, None
        t = np.log10(finite) if log else finite
        q1, q3 = np.percentile(t, [25, 75])
        # Tukey's far-out fence, on the bad side only: the best trials are never clipped.
        if higher_is_better:
            fence = q1 - 3 * (q3 - q1)
            return (10**fence if log else fence), None
        fence = q3 + 3 * (q3 - q1)
        return None, (10**fence if log else fence)
    try:
        low, high = clip
    except (TypeError, ValueError):
        raise ValueError(
            f"clip must be 'auto', a (low, high) pair or None, got {clip!r}"
        ) from None
    if low is not None and high is not None and not low < high:
        raise ValueError(f"clip=(low, high) needs low < high, got {clip!r}")
    return low, high


def plot_optimization_history(
    search: BaseSearchCV,
    *,
    metric: str | None = None,
    ax: Axes | None = None,
    yscale: str = "linear",
    clip: str | tuple[float | None, float | None] | None = "auto",
) -> Axes:
    """Score of each trial and best score so far, by trial number.

    Parameters
    ----------
    search : fitted BayesSearchCV, HyperbandSearchCV or any fitted sklearn search
        The search to draw (one point per row of ``cv_results_``).
    metric : str, default=None
        Scorer name for multi-metric searches (default: ``refit`` or the single score).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    yscale : {"linear", "log"}, default="linear"
        ``"log"`` draws the scores on a log axis. Negative scores (scikit-learn's ``neg_*``
        errors) are drawn as their magnitude, the error, with the best trials at the bottom;
        scores of both signs (or zero) cannot be drawn on a log axis and raise.
    clip : "auto", (low, high) or None, default="auto"
        Keeps a few very bad trials from squashing the others. The y axis spans ``low`` to
        ``high`` (in drawn units; either may be None) and trials beyond are drawn on the edge as
        triangles, counted in the legend. ``"auto"`` clips, on the bad side only, at Tukey's
        far-out fence (three interquartile ranges beyond the quartile; on the log axis in
        decades), and clips nothing with fewer than 4 finite scores. None draws every trial
        where it is.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> ax = plot_optimization_history(search)   # doctest: +SKIP
    >>> ax = plot_optimization_history(search, yscale="log", clip=None)   # doctest: +SKIP
    >>> ax.figure.savefig("history.png")         # doctest: +SKIP
    """
    if yscale not in ("linear", "log"):
        raise ValueError(f"yscale must be 'linear' or 'log', got {yscale!r}")
    scores, metric = _scores(search, metric)
    values, ylabel, higher_is_better = _plotted_values(scores, yscale, metric)
    low, high = _clip_limits(values, clip, higher_is_better, yscale == "log")
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(1, len(values) + 1)
    below = (values < low) if low is not None else np.zeros(len(values), bool)
    above = (values > high) if high is not None else np.zeros(len(values), bool)
    inside = ~(below | above)
    ax.scatter(x[inside], values[inside], s=14, alpha=0.6, label="trial")
    finite = np.isfinite(values)
    if higher_is_better:
        best = np.fmax.accumulate(np.where(finite, values, -np.inf))
    else:
        best = np.fmin.accumulate(np.where(finite, values, np.inf))
    ax.step(
        x, np.where(np.isfinite(best), best, np.nan), where="post", color="C3", label="best so far"
    )
    ax.set_yscale(yscale)
    off = below | above
    if off.any():
        kept = values[~off & finite]
        log = yscale == "log"
        lo, hi = _padded(kept.min(), kept.max(), log) if kept.size else (None, None)
        if not isinstance(clip, str):  # explicit limits are used as given
            lo = lo if low is None else low
            hi = hi if high is None else high
        # Limits first, then the markers, so that the markers sit exactly on the edge.
        ax.set_ylim(lo, hi)
        edge_lo, edge_hi = ax.get_ylim()
        n_off = int(off.sum())
        label = f"{n_off} trial{'s' if n_off > 1 else ''} off the axis"
        for side, edge, marker in ((below, edge_lo, "v"), (above, edge_hi, "^")):
            if side.any():
                ax.scatter(
                    x[side], np.full(int(side.sum()), edge), marker=marker, s=30, color="C1",
                    clip_on=False, zorder=3, label=label,
                )  # fmt: skip
    ax.set_xlabel("trial")
    ax.set_ylabel(ylabel)
    ax.set_title("Optimization history")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    loc = "lower right" if higher_is_better else "upper right"  # away from the best-so-far line
    ax.legend(unique.values(), unique.keys(), loc=loc)
    return ax


def _padded(lo: float, hi: float, log: bool) -> tuple[float, float]:
    """Axis limits 5% beyond the trials kept on the axis (in decades on a log axis)."""
    a, b = (np.log10(lo), np.log10(hi)) if log else (lo, hi)
    margin = 0.05 * (b - a) if b > a else 0.5
    a, b = a - margin, b + margin
    return (10**a, 10**b) if log else (a, b)


def plot_parameter_scores(
    search: BaseSearchCV, *, metric: str | None = None, params: list[str] | None = None
) -> Figure:
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
