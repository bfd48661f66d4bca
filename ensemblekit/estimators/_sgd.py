"""The stochastic solver: per-sample, mini-batch and full-batch descent with the
optimizers and learning-rate schedules, on the preconditioned problem.

It owns its loop (``run``: a block of epochs of the compiled kernel ``_epoch.run_epoch``),
its state (``SGDState``) and its stopping rule:

* the objective is settled: for ``n_iter_no_change`` epochs it neither improved on its
  best nor moved from one epoch to the next by more than ``tol`` times the starting
  objective (tol is relative, so it means the same on every data set). scikit-learn's
  rule (no improvement of the best) counts the epochs of an oscillating momentum or
  adaptive method, and those of a diverging run, and stops them far from the optimum;
  with a cyclical schedule ("cosine" with restarts, "cyclic") the rule is only
  applied at the end of a cycle, where the rate is lowest, so a restart's rise is not
  mistaken for convergence and the bottom of a cycle is not mistaken for a plateau;
* "plateau" lowers the rate by ``gamma`` after ``n_iter_no_change`` epochs without
  improvement and stops once the rate is below 1e-6 times its initial value;
* divergence: an objective that is not finite, or ``DIVERGENCE_FACTOR`` times above the
  starting one, raises ``DivergenceError`` at once; the training loop (``_training``)
  also refuses a run that ends above where it started or has lost most of its progress.
  The error names a learning rate computed from the data (``safe_learning_rate``).

Learning rates are in the units of the standardized problem, so the defaults are
computed from the data once (``default_learning_rate``) and mean the same thing on every
data set: 1/L for the gradient methods, with L the expected smoothness of a batch of B
rows (Gower et al., 2019: L_B = L (n (B - 1)) / (B (n - 1)) + L_max (n - B) / (B (n - 1)),
L the largest eigenvalue of the mean Hessian, L_max the largest row's), (1 - momentum)/L_B
for the momentum methods on batches (their long-run step is lr / (1 - momentum)), and
the square-root scaling rule of adaptive methods (Malladi et al., 2022) for rmsprop, adam
and adamw: 1e-3 sqrt(B), at most 0.1; 0.3 for adagrad, whose steps decay on their own.

Full batch, one read of X per epoch: the pass that gives the objective after epoch k (its
loss, and the gradient for the record) is also the gradient of epoch k + 1's step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._epoch import (
    LOSS_AFTER,
    LOSS_NONE,
    ST_EPOCH,
    ST_LOSS,
    ST_LOSS_MODE,
    ST_N_AVG,
    ST_SIZE,
    ST_T,
    OptimizerArgs,
    ScheduleArgs,
    batch_update,
    run_epoch,
)
from ._exceptions import DivergenceError
from ._optimizers import ADAGRAD, ADAM, ADAMW, HP_MOMENTUM, MOMENTUM, NESTEROV, RMSPROP, SGD
from ._passes import rows_loss_grad
from ._schedules import PLATEAU, SP_SCALE, is_cycle_end, learning_rate_at
from ._threaded_loss import chunked_pass, loss_threads, threaded_csr_loss_grad

# An objective this many times above the starting one is divergence, even while finite.
DIVERGENCE_FACTOR = 1e3
# "plateau" stops once the rate is below this fraction of learning_rate_init.
PLATEAU_MIN_FACTOR = 1e-6
# Adaptive methods: lr = base sqrt(batch size), capped (square-root scaling rule).
ADAPTIVE_BASE = 1e-3
ADAPTIVE_MAX = 0.1
# Adagrad's steps shrink as 1 / sqrt(sum of squared gradients) on their own: its first
# step moves each standardized coefficient by the rate, whatever the batch size.
ADAGRAD_RATE = 0.3
_ADAPTIVE = (ADAGRAD, RMSPROP, ADAM, ADAMW)


@dataclass
class EpochRecord:
    """What a solver reports after each epoch (values in the solver's units)."""

    objective: float  # F~ of the reported iterate
    loss: float  # its data term
    grad_norm: float
    learning_rate: float
    converged: bool = False  # the solver's own stopping rule fired
    certificate: float | None = None  # relative duality gap or KKT violation (FISTA)
    stalled: bool = False  # no further progress possible at this precision (FISTA)


@dataclass
class SGDState:
    theta: np.ndarray
    m: np.ndarray
    v: np.ndarray
    avg: np.ndarray
    grad: np.ndarray
    u: np.ndarray
    st: np.ndarray
    sp: np.ndarray
    rng: object
    lr0: float
    start_objective: float
    best: float = np.inf
    previous: float = np.inf
    no_improvement: int = 0
    plateau_best: float = np.inf
    plateau_count: int = 0
    # The problem whose raw gradient at ``theta`` is in ``grad`` (None: not known). Not
    # pickled; a new problem (partial_fit's next call) is never mistaken for it.
    grad_of: object = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["grad_of"] = None
        return d


class StochasticSolver:
    """Per-sample, mini-batch or full-batch descent with an optimizer and a schedule."""

    curvature_free = False

    def __init__(self, optimizer, batch_size, schedule, learning_rate_init, sp, milestones, hp,
                 average=0, shuffle=True, tol=1e-3, n_iter_no_change=5):
        self.optimizer = int(optimizer)
        self.batch_size = batch_size
        self.schedule = int(schedule)
        self.learning_rate_init = learning_rate_init
        self.sp = sp
        self.milestones = milestones
        self.hp = hp
        self.average = int(average)
        self.shuffle = bool(shuffle)
        self.tol = tol
        self.n_iter_no_change = int(n_iter_no_change)

    # ---------------------------------------------------------------- setup
    def effective_batch(self, prob) -> int:
        if self.batch_size == "full":
            return prob.n_train
        return min(int(self.batch_size), prob.n_train)

    def per_sample(self, prob) -> bool:
        return self.optimizer == SGD and self.effective_batch(prob) == 1

    def _smoothness(self, prob, batch: int, rng) -> float:
        """Expected smoothness L_B of a batch of ``batch`` rows (Gower et al., 2019) of the
        data term. The L2 part does not count: per-sample steps apply its exact flow and
        batches its prox, both stable at any rate (its weights 1/s_j^2 can span as many
        decades as the columns' scales). The largest row norm is taken over every
        training row (one pass): a sample could miss the one row whose step diverges."""
        from ._problem import STATS_ROWS, sample_rows

        curv = prob.datafit.curvature or 1.0
        l_max = float(prob.row_norms(prob.train).max()) if prob.n_train else 1.0
        n = prob.n_train
        if batch <= 1:
            return curv * l_max
        lam = prob.top_eigenvalue(sample_rows(prob.train, STATS_ROWS, rng))
        if batch >= n:
            return curv * lam
        a = n * (batch - 1) / (batch * (n - 1))
        b = (n - batch) / (batch * (n - 1))
        return curv * (a * lam + b * l_max)

    def default_learning_rate(self, prob, rng) -> float:
        batch = self.effective_batch(prob)
        if self.optimizer == ADAGRAD:
            return ADAGRAD_RATE
        if self.optimizer in _ADAPTIVE:
            return min(ADAPTIVE_MAX, ADAPTIVE_BASE * np.sqrt(batch))
        lr = 1.0 / max(self._smoothness(prob, batch, rng), 1e-300)
        if self.optimizer in (MOMENTUM, NESTEROV) and batch < prob.n_train:
            lr *= 1.0 - self.hp[HP_MOMENTUM]
        return lr

    def safe_learning_rate(self, prob, lr_used: float) -> float:
        """A rate to suggest after divergence: the data-derived default when the one used
        exceeds it, else a tenth of the one used."""
        try:
            default = self.default_learning_rate(prob, np.random.RandomState(0))
        except Exception:  # pragma: no cover - the suggestion must never mask the error
            default = lr_used / 10.0
        return float(default if lr_used > default else lr_used / 10.0)

    def start(self, prob, theta0, rng, start_objective=None) -> SGDState:
        p = prob.p
        lr0 = self.learning_rate_init
        if lr0 is None:
            lr0 = self.default_learning_rate(prob, rng)
        sp = self.sp.copy()
        sp[SP_SCALE] = 1.0
        if start_objective is None:
            start_objective = self.objective_at(prob, theta0)
        return SGDState(theta=theta0.copy(), m=np.zeros(p + 1), v=np.zeros(p + 1),
                        avg=np.zeros(p + 1), grad=np.zeros(p + 1), u=np.zeros(p + 1),
                        st=np.zeros(ST_SIZE), sp=sp, rng=rng, lr0=float(lr0),
                        start_objective=float(start_objective))

    @staticmethod
    def objective_at(prob, theta) -> float:
        if not np.any(theta[: prob.p]):
            return prob.constant_objective(float(theta[prob.p]))
        u = prob.pre.raw(theta)
        graw = np.zeros(prob.p + 1)
        _, loss = rows_loss_grad(*prob.inputs, prob.y, prob.sw, prob.train, 0, prob.n_train, u,
                                 prob.p, *prob.datafit.args, graw, True)
        return prob.objective(loss, theta)

    @staticmethod
    def reported(state) -> np.ndarray:
        return state.avg if state.st[ST_N_AVG] > 0 else state.theta

    # ---------------------------------------------------------------- epochs
    def _kernel_args(self, prob, state):
        opt = OptimizerArgs(self.optimizer, self.hp)
        sched = ScheduleArgs(self.schedule, state.lr0, state.sp, self.milestones)
        return opt, sched

    def _pass(self, prob, state, theta) -> float:
        """Data loss and raw gradient (in ``state.grad``) of ``theta``: one pass over X.

        Every full-batch loss comes from this one compiled entry point, whether fit or
        partial_fit asks for it, so both give the same bits."""
        u = prob.pre.raw(theta, state.u)
        state.grad[:] = 0.0
        if chunked_pass(prob.inputs):
            loss = self._chunked(prob, u, state.grad)
            status = 0 if np.isfinite(loss) else 1
        else:
            status, loss = rows_loss_grad(*prob.inputs, prob.y, prob.sw, prob.train, 0,
                                          prob.n_train, u, prob.p, *prob.datafit.args,
                                          state.grad, True)
        if status != 0:
            self.diverged(prob, state, int(state.st[ST_EPOCH]) + 1)
        state.st[ST_LOSS] = loss
        return loss

    @staticmethod
    def _chunked(prob, u, grad) -> float:
        _, data, indices, indptr, _ = prob.inputs
        return threaded_csr_loss_grad(data, indices, indptr, prob.y, prob.sw, u, prob.p,
                                      *prob.datafit.args, loss_threads(), grad)

    def _lr_of_last_update(self, prob, state):
        steps = -(-prob.n_train // self.effective_batch(prob))
        return float(learning_rate_at(self.schedule, state.lr0, state.st[ST_T] - 1,
                                      state.st[ST_EPOCH] - 1 + (steps - 1) / steps, state.sp,
                                      self.milestones))

    def _epoch(self, prob, state, record: bool):
        """One epoch; with ``record`` the loss and gradient of the reported iterate after
        it are left in ``state`` (LOSS_AFTER). Returns the rate of its last update."""
        batch = self.effective_batch(prob)
        st = state.st
        opt, sched = self._kernel_args(prob, state)
        if batch >= prob.n_train:
            # The gradient at the current iterate: from the previous epoch's record pass
            # when the caller kept it (fused), else from a pass now.
            if state.grad_of is not prob:
                self._pass(prob, state, state.theta)
            status = batch_update(prob.pre_args, prob.pen_args, opt, sched, state.grad,
                                  prob.n_train, state.theta, state.m, state.v, state.avg, st,
                                  prob.p, prob.fit_intercept, self.average, st[ST_EPOCH])
            st[ST_EPOCH] += 1
            state.grad_of = None
            if status != 0:
                self.diverged(prob, state, int(st[ST_EPOCH]))
            if record:
                self._pass(prob, state, self.reported(state))
                if self.reported(state) is state.theta:
                    state.grad_of = prob
            return self._lr_of_last_update(prob, state)
        order = prob.train
        if self.shuffle:
            order = state.rng.permutation(order)
        # The record pass of a large CSR matrix runs in chunks on threads (the same chunks
        # whatever the thread count, so the same bits).
        chunked = record and chunked_pass(prob.inputs)
        st[ST_LOSS_MODE] = LOSS_AFTER if record and not chunked else LOSS_NONE
        status = run_epoch(prob.rows, prob.pre_args, prob.datafit.args, prob.pen_args, opt,
                           sched, order, prob.train, batch, prob.p, state.theta, state.m,
                           state.v, state.avg, state.grad, state.u, st, prob.fit_intercept,
                           self.average)
        st[ST_EPOCH] += 1
        if status != 0:
            self.diverged(prob, state, int(st[ST_EPOCH]))
        if chunked:
            u = prob.pre.raw(self.reported(state), state.u)
            st[ST_LOSS] = self._chunked(prob, u, state.grad)
        return self._lr_of_last_update(prob, state)

    def _record(self, prob, state, theta, lr):
        obj = prob.objective(state.st[ST_LOSS], theta)
        if not obj <= DIVERGENCE_FACTOR * max(state.start_objective, 1e-300):
            self.diverged(prob, state, int(state.st[ST_EPOCH]))
        return EpochRecord(objective=float(obj),
                           loss=float(state.st[ST_LOSS] / prob.n_train),
                           grad_norm=prob.grad_norm(state.grad, theta), learning_rate=lr)

    def _rules(self, prob, state, rec) -> bool:
        """Plateau schedule and the stopping rule; True when training should stop."""
        epoch = int(state.st[ST_EPOCH])
        obj = rec.objective
        tol = None if self.tol is None else self.tol * abs(state.start_objective)
        if self.schedule == PLATEAU:
            if obj > state.plateau_best - (tol or 0.0):
                state.plateau_count += 1
            else:
                state.plateau_count = 0
            state.plateau_best = min(state.plateau_best, obj)
            if state.plateau_count >= self.n_iter_no_change:
                state.sp[SP_SCALE] *= self.sp[0]
                state.plateau_count = 0
            return tol is not None and state.sp[SP_SCALE] < PLATEAU_MIN_FACTOR
        previous = state.previous
        state.previous = obj
        if tol is None:
            state.best = min(state.best, obj)
            return False
        if obj < state.best - tol or abs(obj - previous) > tol:
            # Improving, falling or rising: the objective is moving, not settled (an
            # oscillating momentum or adaptive method is not converged, and a rising one
            # diverges).
            state.no_improvement = 0
        else:
            state.no_improvement += 1
        state.best = min(state.best, obj)
        return (state.no_improvement >= self.n_iter_no_change
                and is_cycle_end(self.schedule, epoch, self.sp))

    def run(self, prob, state, n_epochs: int, interactive: bool) -> list[EpochRecord]:
        """Up to ``n_epochs`` epochs; stops after the epoch whose record has ``converged``.

        A full batch reuses each epoch's record pass (loss and gradient of the new
        iterate) for the next epoch's step: one read of X per epoch. ``interactive`` (the
        caller inspects each epoch) does not change the result.
        """
        records = []
        for _ in range(n_epochs):
            lr = self._epoch(prob, state, record=True)
            rec = self._record(prob, state, self.reported(state), lr)
            rec.converged = self._rules(prob, state, rec)
            records.append(rec)
            if rec.converged:
                break
        return records

    def diverged(self, prob, state, epoch):
        prob.assert_finite_input()  # NaN/inf in X, not a rate, when X was not checked
        lr = state.lr0
        safe = self.safe_learning_rate(prob, lr)
        raise DivergenceError(
            f"The training objective diverged during epoch {epoch} (non-finite, or more "
            f"than {DIVERGENCE_FACTOR:.0e} times its starting value) with "
            f"learning_rate_init={lr:.3g}: the rate is too large for this data: lower "
            f"learning_rate_init to {safe:.3g} (computed from the data), or leave it at "
            "None for the data-derived default."
        )
