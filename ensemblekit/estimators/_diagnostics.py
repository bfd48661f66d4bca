"""Reading the training curves: a plot, and a diagnosis in words.

The curves are those every gradient-descent estimator records (``history_``): the
training objective and loss, the validation loss and score (with early stopping), the
learning rate, the gradient norm and the certificate, per epoch. The diagnosis follows
the usual reading of learning curves: a validation loss that turns up while the training
loss keeps falling is over-fitting; a training loss that stays near the one of the
constant model, where the fit has converged, is under-fitting; a training objective that
is still falling when training stopped, or a certificate above its tolerance, means the
fit has not converged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

# Thresholds of the diagnosis (relative quantities, so they mean the same on every data set).
_STILL_FALLING = 0.01  # relative decrease of the objective over the last tenth of training
_RISE = 0.02  # validation loss above its minimum by this fraction: it turned up
_GAP = 0.5  # validation loss this much above the training loss: a generalization gap
_EXPLAINED = 0.2  # training loss above 1 - this of the constant model's: under-fitting
_PENALTY_PULL = 0.3  # penalty gradient / first gradient: the regularization dominates


@dataclass
class TrainingDiagnosis:
    """What the curves say: ``verdicts`` (a subset of "not_converged", "overfitting",
    "underfitting"; empty when the fit looks sound), and ``messages`` / ``advice`` in words
    (one per verdict, or one saying why the fit looks sound). ``str()`` prints them."""

    verdicts: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    advice: list = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.verdicts

    def __str__(self):
        lines = []
        for msg, adv in zip(self.messages, self.advice, strict=True):
            lines.append(f"- {msg}" + (f" {adv}" if adv else ""))
        return "\n".join(lines)


def _history(model) -> dict:
    check_is_fitted(model)
    h = getattr(model, "history_", None)
    if not h or not h.get("objective"):
        raise ValueError(
            f"{type(model).__name__} has no training curves (history_): fit it first (the "
            "curves are recorded by the gradient-descent estimators of ensemblekit)."
        )
    return h


def diagnose_training(model: BaseEstimator) -> TrainingDiagnosis:
    """Say, from the training curves of a fitted model, whether it over-fits, under-fits
    or has not converged, and what to change.

    Parameters
    ----------
    model : fitted GD estimator
        Any estimator of ``ensemblekit.estimators`` with ``history_``. Over-fitting can
        only be read from a validation curve: fit with ``early_stopping=True`` (or pass
        ``callbacks`` that record one) to have it.

    Returns
    -------
    TrainingDiagnosis
        ``verdicts``, and a message and an advice per verdict.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.estimators import GDRegressor, diagnose_training
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(300, 5)
    >>> y = X @ np.array([1.0, 2.0, 0.0, -1.0, 0.5]) + 0.1 * rng.randn(300)
    >>> model = GDRegressor(alpha=100.0, random_state=0).fit(X, y)
    >>> diagnose_training(model).verdicts
    ['underfitting']
    """
    h = _history(model)
    obj = np.asarray(h["objective"], dtype=float)
    loss = np.asarray(h["loss"], dtype=float)
    n = obj.shape[0]
    d = TrainingDiagnosis()
    start = getattr(model, "initial_objective_", None)
    d.facts.update(epochs=n, final_objective=float(obj[-1]), final_loss=float(loss[-1]))

    # Not converged: the solver did not stop on its own rule and the objective still falls,
    # or its certificate is above tolerance.
    converged = bool(getattr(model, "converged_", True))
    k = max(2, n // 10)
    recent = (obj[-k] - obj[-1]) / max(abs(obj[-k]), 1e-300) if n >= k else 0.0
    cert = h["certificate"][-1] if h.get("certificate") else None
    tol = getattr(model, "tol", None)
    d.facts.update(converged=converged, recent_decrease=float(recent), certificate=cert)
    if not converged and (recent > _STILL_FALLING or (cert is not None and tol is not None
                                                         and cert > tol)):
        why = (f"the objective fell by {100 * recent:.1f}% over the last {k} epochs"
               if recent > _STILL_FALLING else f"its certificate is {cert:.2e} > tol={tol:g}")
        d.verdicts.append("not_converged")
        d.messages.append(f"Not converged: training stopped after {n} epochs and {why}.")
        lr = h["learning_rate"][-1] if h.get("learning_rate") else None
        adv = "Increase max_iter"
        if lr is not None and getattr(model, "solver", "fista") != "fista":
            adv += (f", or raise learning_rate_init (the last rate was {lr:.3g}) or use a "
                    "schedule that decays less")
        d.advice.append(adv + ".")

    # Over-fitting: the validation loss turned up after its best epoch while the training
    # loss kept falling, or it sits far above the training loss.
    val = h.get("validation_loss") or []
    has_val = bool(val) and val[0] is not None
    if has_val:
        val = np.asarray(val, dtype=float)
        best = int(np.argmin(val))
        rise = (val[-1] - val[best]) / max(abs(val[best]), 1e-300)
        train_fell = loss[-1] < loss[best] * (1.0 - 1e-3)
        gap = (val[best] - loss[best]) / max(abs(loss[best]), 1e-300)
        d.facts.update(best_validation_epoch=best + 1, validation_rise=float(rise),
                       generalization_gap=float(gap))
        if (rise > _RISE and train_fell) or gap > _GAP:
            d.verdicts.append("overfitting")
            if rise > _RISE and train_fell:
                what = (f"the validation loss reached its minimum at epoch {best + 1} and "
                        f"rose by {100 * rise:.0f}% since, while the training loss kept "
                        "falling")
            else:
                what = (f"the validation loss is {100 * gap:.0f}% above the training loss "
                        "at the best epoch")
            d.messages.append(f"Over-fitting: {what}.")
            d.advice.append(
                "Increase alpha (stronger regularization), keep early_stopping=True (it "
                "restores the best epoch), or use fewer or coarser features."
            )

    # Under-fitting: converged (or settled) with a training loss near the constant model's.
    if start is not None and start > 0 and "not_converged" not in d.verdicts:
        explained = 1.0 - loss[-1] / start
        # The penalty's pull at the solution against the gradient of the first epoch: near
        # 1 the penalty holds the coefficients back (they barely left zero), near 0 the
        # fit is free and the features are what is missing.
        g_first = h["grad_norm"][0] if h.get("grad_norm") and h["grad_norm"][0] else None
        pull = getattr(model, "penalty_gradient_norm_", None)
        share = pull / g_first if pull is not None and g_first else 0.0
        d.facts.update(explained=float(explained), penalty_pull=float(share))
        if explained < _EXPLAINED:
            d.verdicts.append("underfitting")
            d.messages.append(
                f"Under-fitting: the training loss is {100 * (1 - explained):.0f}% of the "
                "constant model's (the intercept alone)."
            )
            if share > _PENALTY_PULL:
                d.advice.append(
                    "The penalty holds the coefficients near zero (its gradient at the "
                    f"solution is {100 * share:.0f}% of the first epoch's gradient): "
                    "decrease alpha."
                )
            else:
                d.advice.append(
                    "The penalty is small, so the linear model itself explains little: add "
                    "features (interactions, splines, encodings of the categories) or use "
                    "a more flexible model (e.g. a booster)."
                )
    if d.ok:
        d.messages.append(
            f"No problem seen: converged in {n} epochs"
            + (", the validation loss did not turn up" if has_val else "")
            + "."
        )
        d.advice.append("")
    return d


def plot_training_curves(model: BaseEstimator, ax: Sequence | None = None,
                         log_scale: bool = True) -> Sequence:
    """Training and validation loss per epoch, with the best epoch marked.

    A second panel shows the gradient norm and the learning rate (the certificate for the
    full-batch solver).

    Parameters
    ----------
    model : fitted GD estimator
        Any estimator of ``ensemblekit.estimators`` with ``history_``.
    ax : sequence of two matplotlib Axes, optional
        Where to draw; a new figure with two panels by default.
    log_scale : bool, default=True
        Logarithmic y axes.

    Returns
    -------
    axes : the two matplotlib Axes.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from ensemblekit.estimators import GDRegressor, plot_training_curves
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(300, 5)
    >>> y = X @ np.array([1.0, 2.0, 0.0, -1.0, 0.5]) + 0.1 * rng.randn(300)
    >>> model = GDRegressor(solver="adam", batch_size=32, early_stopping=True,
    ...                     random_state=0).fit(X, y)
    >>> axes = plot_training_curves(model)
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_training_curves needs matplotlib: pip install "
                          "'ensemblekit[plot]'") from exc
    h = _history(model)
    epochs = np.arange(1, len(h["objective"]) + 1)
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    a0, a1 = ax
    a0.plot(epochs, h["loss"], label="training loss")
    val = h.get("validation_loss") or []
    if val and val[0] is not None:
        a0.plot(epochs, val, label="validation loss")
    best = getattr(model, "best_iteration_", None)
    if best:
        y_best = val[best - 1] if val and val[0] is not None else h["loss"][best - 1]
        a0.axvline(best, color="grey", linestyle=":", linewidth=1)
        a0.plot([best], [y_best], "o", color="black", label=f"best epoch ({best})")
    a0.set_xlabel("epoch")
    a0.set_ylabel("loss (original units)")
    a0.set_title(f"{type(model).__name__}: training curves")
    a0.legend()
    for key, label in (("certificate", "certificate (relative gap)"),
                       ("grad_norm", "gradient norm"), ("learning_rate", "learning rate")):
        if h.get(key) and h[key][0] is not None:
            a1.plot(epochs, h[key], label=label)
    a1.set_xlabel("epoch")
    a1.legend()
    if log_scale:
        for a in (a0, a1):
            a.set_yscale("log")
    return ax
