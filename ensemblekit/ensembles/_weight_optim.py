"""Ensemble weights from out-of-fold predictions: NNLS, simplex, Caruana selection.

Pure functions of the prediction matrix and a loss. ``P`` holds one column per member
(regression), or one ``(n_samples, n_classes)`` probability slice per member, as an array of
shape ``(n_samples, n_members, n_classes)``; either way the ensemble's prediction for weights
``w`` is :func:`combine` ``(P, w)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize, nnls

Loss = Callable[[np.ndarray], float]


def combine(P: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted sum of the members' predictions: ``sum_j w_j P[:, j]``.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_members) or (n_samples, n_members, n_classes)
    w : ndarray of shape (n_members,)

    Returns
    -------
    pred : ndarray of shape (n_samples,) or (n_samples, n_classes)

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles import combine
    >>> P = np.array([[[0.8, 0.2], [0.4, 0.6]]])  # one row, two members, two classes
    >>> combine(P, np.array([0.5, 0.5]))
    array([[0.6, 0.4]])
    """
    return np.tensordot(np.asarray(w, dtype=np.float64), np.moveaxis(P, 1, 0), axes=1)


def log_loss_of(
    y: np.ndarray, proba: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Log loss of class probabilities for codes ``y`` in ``0..K-1``, rows renormalized.

    Equals ``sklearn.metrics.log_loss(y, proba, sample_weight=sample_weight)`` (probabilities
    clipped to ``[eps, 1 - eps]`` with the float64 machine epsilon), without its input
    checks, which dominate when it is called once per candidate weight vector.

    Parameters
    ----------
    y : ndarray of int of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes)
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    loss : float

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles import log_loss_of
    >>> round(log_loss_of(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]])), 6)
    0.164252
    """
    eps = np.finfo(np.float64).eps
    proba = np.clip(proba, eps, 1.0 - eps)
    proba = proba / proba.sum(axis=1, keepdims=True)
    per_row = -np.log(proba[np.arange(len(y)), y])
    return float(np.average(per_row, weights=sample_weight))


def nnls_weights(
    P: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Non-negative least squares weights, no intercept: ``argmin_{w >= 0} ||sqrt(s)(y - Pw)||``.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_members)
        Out-of-fold predictions.
    y : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    weights : ndarray of shape (n_members,)
        Not normalized: a constant bias in every member can be partly absorbed by the scale.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles import nnls_weights
    >>> P = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> nnls_weights(P, np.array([2.0, -1.0, 1.0])).round(3)
    array([1.5, 0. ])
    """
    P = np.asarray(P, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if sample_weight is not None:
        s = np.sqrt(np.asarray(sample_weight, dtype=np.float64))
        P, y = P * s[:, None], y * s
    w, _ = nnls(P, y)
    return w


def simplex_weights(P: np.ndarray, loss: Loss, init: np.ndarray | None = None) -> np.ndarray:
    """Weights on the simplex (``w >= 0``, ``sum(w) = 1``) minimizing ``loss(P @ w)``.

    SLSQP from several starts (uniform, every single member, and ``init`` if given), keeping
    the best: the objective need not be convex for metrics other than squared error.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_members) or (n_samples, n_members, n_classes)
    loss : callable
        Maps a combined prediction (see :func:`combine`) to a number to minimize.
    init : ndarray of shape (n_members,), default=None
        An extra starting point (e.g. Caruana weights).

    Returns
    -------
    weights : ndarray of shape (n_members,)

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles import simplex_weights
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> P = np.column_stack([y + 1.0, y - 1.0])
    >>> simplex_weights(P, lambda p: np.mean((y - p) ** 2)).round(3)
    array([0.5, 0.5])
    """
    P = np.asarray(P, dtype=np.float64)
    m = P.shape[1]
    if m == 1:
        return np.ones(1)
    starts = [np.full(m, 1.0 / m)] + [np.eye(m)[j] for j in range(m)]
    if init is not None:
        starts.append(np.asarray(init, dtype=np.float64))

    def f(w):
        return float(loss(combine(P, w)))

    cons = ({"type": "eq", "fun": lambda w: np.sum(w) - 1.0, "jac": lambda w: np.ones_like(w)},)
    best_w, best_f = None, np.inf
    for w0 in starts:
        # Start slightly inside the simplex: SLSQP's finite differences misbehave on a vertex.
        w0 = 0.98 * w0 + 0.02 / m
        res = minimize(
            f,
            w0,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * m,
            constraints=cons,
            options={"ftol": 1e-12, "maxiter": 500},
        )
        w = _project_to_simplex(res.x)
        fw = f(w)
        if fw < best_f:
            best_w, best_f = w, fw
    # A vertex can beat every SLSQP run on non-smooth metrics (e.g. absolute error).
    for j in range(m):
        e = np.eye(m)[j]
        fe = f(e)
        if fe < best_f:
            best_w, best_f = e, fe
    return best_w


def _project_to_simplex(w: np.ndarray) -> np.ndarray:
    # SLSQP satisfies the constraints only to its tolerance; clip and renormalize.
    w = np.clip(w, 0.0, None)
    s = w.sum()
    return w / s if s > 0 else np.full(len(w), 1.0 / len(w))


def caruana_weights(
    P: np.ndarray, loss: Loss, ensemble_size: int = 25, tie_break: Loss | None = None
) -> tuple[np.ndarray, list[int], list[float]]:
    """Caruana et al. (2004) greedy ensemble selection with replacement.

    Starting from an empty ensemble, each step adds (with replacement) the member whose addition
    gives the lowest loss of the averaged prediction. Ties (losses within 1e-12 relative, common
    with rank metrics such as ROC AUC) go to the lowest ``tie_break`` loss when one is given
    (AutoGluon uses the log loss), then to the lowest column index. The ensemble kept is the
    best prefix of the ``ensemble_size`` steps (as AutoGluon does), so its loss is never above
    the best single member's.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_members) or (n_samples, n_members, n_classes)
    loss : callable
        Maps a combined prediction (see :func:`combine`) to a number to minimize.
    ensemble_size : int, default=25
        Number of greedy steps.
    tie_break : callable, default=None
        A second loss deciding between members tied on ``loss``.

    Returns
    -------
    weights : ndarray of shape (n_members,)
        Selection counts of the best prefix divided by its length.
    picks : list of int
        Member chosen at each of the ``ensemble_size`` steps.
    trajectory : list of float
        Loss after each step.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.ensembles import caruana_weights
    >>> y = np.array([1.0, 2.0, 3.0])
    >>> P = np.column_stack([y + 1.0, y - 1.0, y + 5.0])
    >>> w, picks, _ = caruana_weights(P, lambda p: np.mean((y - p) ** 2), ensemble_size=4)
    >>> w
    array([0.5, 0.5, 0. ])
    """
    P = np.asarray(P, dtype=np.float64)
    m = P.shape[1]
    running = np.zeros(P.shape[:1] + P.shape[2:])
    picks: list[int] = []
    trajectory: list[float] = []
    for t in range(ensemble_size):
        cand = [(running + P[:, j]) / (t + 1) for j in range(m)]
        losses = np.array([loss(c) for c in cand])
        best = losses.min()
        tied = np.flatnonzero(losses <= best + 1e-12 * max(1.0, abs(best)))
        j = int(tied[0])
        if tie_break is not None and len(tied) > 1:
            j = int(tied[np.argmin([tie_break(cand[k]) for k in tied])])
        picks.append(j)
        trajectory.append(float(losses[j]))
        running += P[:, j]
    best = int(np.argmin(trajectory))
    counts = np.bincount(picks[: best + 1], minlength=m).astype(np.float64)
    return counts / counts.sum(), picks, trajectory
