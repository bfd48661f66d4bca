"""The training loop shared by every solver: curves, early stopping, callbacks, and the
rules that refuse a silent wrong answer.

A solver runs blocks of epochs (``solver.run``) and reports an ``EpochRecord`` per epoch.
This loop turns the records into the estimator's curves in original units (``history_``:
training objective, training loss, validation loss and score, learning rate, gradient
norm, certificate), runs early stopping on a validation split and the user's callbacks
after each epoch (then one epoch per block, so that they can stop training at once), and
at the end:

* refuses a stochastic run whose returned model is worse than where it started or has
  lost most of its progress (``DivergenceError``): such a run stopped on a rising
  objective, it did not converge;
* warns (``ConvergenceWarning``) when ``max_iter`` ends training before the solver's
  stopping rule, with the value of the certificate.
"""

from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._exceptions import DivergenceError
from ._schedules import is_cycle_end

HISTORY_KEYS = ("objective", "loss", "validation_loss", "validation_score", "learning_rate",
                "grad_norm", "certificate")

EpochInfo = namedtuple("EpochInfo", ["epoch", "objective", "loss", "validation_loss",
                                     "validation_score", "learning_rate", "grad_norm",
                                     "certificate", "coef", "intercept"])
EpochInfo.__doc__ = """What a callback receives after each epoch (original units).

``epoch`` is 1-based; ``validation_loss`` and ``validation_score`` are None without
early stopping; ``certificate`` is the relative duality gap (or KKT violation) of the
full-batch solver, None for the stochastic ones; ``coef`` and ``intercept`` are the
model after the epoch.
"""

# The end-of-training rule: a run ending above best + LOST * (start - best) lost most of
# its progress; SLACK * |start| absorbs the noise of a stochastic run at its optimum.
_LOST = 0.5
_SLACK = 0.01


def new_history() -> dict:
    return {key: [] for key in HISTORY_KEYS}


class Validation:
    """The held-out rows of early stopping, their loss and R^2 in original units."""

    def __init__(self, prob, rows, y, sample_weight):
        self.rows = rows
        self.y = np.asarray(y, dtype=np.float64)[rows]
        self.sw = sample_weight[rows]
        self.sw_sum = float(self.sw.sum())
        mean = np.average(self.y, weights=self.sw)
        self.ss_tot = float(np.sum(self.sw * (self.y - mean) ** 2))
        self.datafit = prob.raw_datafit
        self.prob = prob

    def evaluate(self, theta) -> tuple[float, float]:
        pred = self.prob.predict_rows(theta, self.rows)
        loss = float(np.sum(self.sw * self.datafit.values(self.y, pred))) / self.sw_sum
        resid = self.y - pred
        score = 1.0 - float(np.sum(self.sw * resid**2)) / self.ss_tot if self.ss_tot > 0 else 0.0
        return loss, score


class TrainingLoop:
    """Run ``solver`` on ``prob`` from ``state`` for up to ``max_iter`` epochs.

    Parameters
    ----------
    estimator : the estimator (passed to callbacks)
    validation : Validation or None
        Early stopping on these rows (with ``tol`` and ``n_iter_no_change``).
    schedule : (code, sp) or None
        The learning-rate schedule, whose cycle ends early stopping waits for.
    stochastic : bool
        Apply the end-of-training divergence rule (solvers that are not monotone).
    """

    def __init__(self, estimator, prob, solver, state, *, max_iter, history, validation=None,
                 tol=None, n_iter_no_change=5, callbacks=(), verbose=0, schedule=None,
                 stochastic=True, warn=True):
        self.estimator = estimator
        self.prob = prob
        self.solver = solver
        self.state = state
        self.max_iter = int(max_iter)
        self.history = history
        self.validation = validation
        self.tol = tol
        self.n_iter_no_change = int(n_iter_no_change)
        self.callbacks = tuple(callbacks or ())
        self.verbose = int(verbose)
        self.schedule = schedule
        self.stochastic = stochastic
        self.warn = warn

    def run(self) -> dict:
        """Train; returns {"n_iter", "converged", "stopped_by", "best_iteration", "theta"}."""
        prob, solver, state = self.prob, self.solver, self.state
        self._objective_scale = prob.pre.objective_scale
        interactive = bool(self.validation is not None or self.callbacks or self.verbose)
        base = len(self.history["objective"])
        n_iter = 0
        converged = False
        stopped_by = None
        best_score, best_theta, best_iter, no_improvement = -np.inf, None, 0, 0
        while n_iter < self.max_iter:
            block = 1 if interactive else self.max_iter - n_iter
            records = solver.run(prob, state, block, interactive)
            if not interactive and records:
                # Nothing to do between records: all but the last in one go.
                self._extend(records[:-1])
                n_iter += len(records) - 1
                records = records[-1:]
            for rec in records:
                n_iter += 1
                val_loss = val_score = None
                theta = solver.reported(state)
                if self.validation is not None:
                    val_loss, val_score = self.validation.evaluate(theta)
                self._append(rec, val_loss, val_score)
                if self.verbose:
                    self._print(base + n_iter, rec, val_score)
                if rec.converged:
                    converged, stopped_by = True, "solver"
                elif rec.stalled:
                    stopped_by = "stalled"
                if self.validation is not None:
                    tol = self.tol if self.tol is not None else -np.inf
                    no_improvement = no_improvement + 1 if val_score < best_score + tol else 0
                    if val_score > best_score:
                        best_score, best_iter = val_score, n_iter
                        best_theta = theta.copy()
                    epoch = base + n_iter
                    cycle_end = self.schedule is None or is_cycle_end(self.schedule[0], epoch,
                                                                     self.schedule[1])
                    if (self.tol is not None and no_improvement >= self.n_iter_no_change
                            and cycle_end):
                        converged, stopped_by = True, "early_stopping"
                if self.callbacks and self._callbacks(base + n_iter, rec, val_loss, val_score,
                                                      theta):
                    stopped_by = stopped_by or "callback"
                if stopped_by is not None:
                    break
            if stopped_by is not None or not records:
                break
        theta = solver.reported(state).copy()
        if best_theta is not None:
            theta = best_theta
        result = {"n_iter": n_iter, "converged": converged, "stopped_by": stopped_by,
                  "best_iteration": best_iter if best_theta is not None else None,
                  "theta": theta}
        if self.stochastic and n_iter:
            self._refuse_lost_progress(result, base)
        if self.warn and stopped_by in (None, "stalled") and self.tol is not None:
            self._warn_not_converged(n_iter, stopped_by == "stalled")
        return result

    # ---------------------------------------------------------------- pieces
    def _extend(self, records):
        """``_append`` of records without validation values (a solver's block)."""
        scale = self._objective_scale
        h = self.history
        h["objective"].extend([float(r.objective * scale) for r in records])
        h["loss"].extend([float(r.loss * scale) for r in records])
        h["validation_loss"].extend([None] * len(records))
        h["validation_score"].extend([None] * len(records))
        h["learning_rate"].extend([float(r.learning_rate) for r in records])
        h["grad_norm"].extend([float(r.grad_norm) for r in records])
        h["certificate"].extend([r.certificate for r in records])

    def _append(self, rec, val_loss, val_score):
        scale = self._objective_scale  # (prob.original, without a call per record)
        h = self.history
        h["objective"].append(float(rec.objective * scale))
        h["loss"].append(float(rec.loss * scale))
        h["validation_loss"].append(val_loss)
        h["validation_score"].append(val_score)
        h["learning_rate"].append(float(rec.learning_rate))
        h["grad_norm"].append(float(rec.grad_norm))
        h["certificate"].append(rec.certificate)

    def _print(self, epoch, rec, val_score):
        line = (f"-- Epoch {epoch}: objective {self.prob.original(rec.objective):.8g}, "
                f"gradient norm {rec.grad_norm:.3g}, learning rate {rec.learning_rate:.3g}")
        if rec.certificate is not None:
            line += f", certificate {rec.certificate:.3g}"
        if val_score is not None:
            line += f", validation score {val_score:.6g}"
        print(line)

    def _callbacks(self, epoch, rec, val_loss, val_score, theta) -> bool:
        coef, intercept = self.prob.to_original(theta)
        info = EpochInfo(epoch, float(self.prob.original(rec.objective)),
                         float(self.prob.original(rec.loss)), val_loss, val_score,
                         float(rec.learning_rate), float(rec.grad_norm), rec.certificate,
                         coef, intercept)
        stop = False
        for cb in self.callbacks:
            if cb(self.estimator, info):
                stop = True
        return stop

    def _refuse_lost_progress(self, result, base):
        objs = self.history["objective"][base:]
        start = self.prob.original(self.state.start_objective)
        best = min(min(objs), start)
        k = result["best_iteration"]
        if k:
            # Early stopping returns the epoch chosen on the validation rows, which may be
            # early on purpose: it must only be better than where training started.
            final, limit = objs[k - 1], start + _SLACK * abs(start)
        else:
            final, limit = objs[-1], best + _LOST * (start - best) + _SLACK * abs(start)
        if final > limit:
            lr = self.state.lr0
            safe = self.solver.safe_learning_rate(self.prob, lr)
            where = "above where it started" if final > start else "far above its best"
            raise DivergenceError(
                f"Training ended with the objective {where} ({final:.4g}; start "
                f"{start:.4g}, best {best:.4g}): with learning_rate_init={lr:.3g} the "
                f"iterates oscillate instead of converging: lower learning_rate_init to "
                f"{safe:.3g} (computed from the data), or leave it at None for the "
                "data-derived default."
            )

    def _warn_not_converged(self, n_iter, stalled=False):
        cert = self.history["certificate"][-1] if n_iter else None
        detail = ""
        if cert is not None:
            detail = f" (certificate {cert:.2e} > tol={self.tol:g})"
        if stalled:
            warnings.warn(
                f"Training stopped after {n_iter} iterations: no step lowers the objective "
                f"at floating-point precision, but the optimum is not certified{detail}. "
                "The data may be too ill-conditioned for this tol (max_iter would not "
                "help): rescale or decorrelate the features, or increase tol.",
                ConvergenceWarning,
            )
            return
        warnings.warn(
            f"Maximum number of iterations ({self.max_iter}) reached before "
            f"convergence{detail}. Consider increasing max_iter to improve the fit.",
            ConvergenceWarning,
        )
