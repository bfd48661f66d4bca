"""GDRegressor: a linear model fitted by first-order methods with every option exposed."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from .._compat import Interval, StrOptions
from ._base import FEATURES_IN_DOC, BaseGD, GDConfig, init_params, make_hp
from ._datafits import Datafit
from ._losses import LOSS_CODES
from ._optimizers import SOLVER_CODES
from ._penalties import penalty_split
from ._schedules import (
    CYCLIC_MODES,
    SCHEDULE_CODES,
    SP_CYCLIC_MODE,
    SP_ETA_MIN,
    SP_GAMMA,
    SP_MAX_LR,
    SP_POWER_T,
    SP_SCALE,
    SP_SIZE,
    SP_STEP_SIZE,
    SP_T_0,
    SP_T_MULT,
    SP_WARMUP,
)


def schedule_params(gamma: float, step_size: float, power_t: float, max_lr: float,
                    cyclic_mode: str, T_0: float, T_mult: float, eta_min: float,
                    warmup_steps: int) -> np.ndarray:
    """Schedule parameter array in the ``_schedules.SP_*`` layout."""
    sp = np.zeros(SP_SIZE)
    sp[SP_GAMMA] = gamma
    sp[SP_STEP_SIZE] = step_size
    sp[SP_POWER_T] = power_t
    sp[SP_MAX_LR] = max_lr
    sp[SP_CYCLIC_MODE] = CYCLIC_MODES[cyclic_mode]
    sp[SP_T_0] = T_0
    sp[SP_T_MULT] = T_mult
    sp[SP_ETA_MIN] = eta_min
    sp[SP_SCALE] = 1.0
    sp[SP_WARMUP] = warmup_steps
    return sp


def milestones_array(milestones) -> np.ndarray:
    """Sorted float array of the "multistep" milestones (empty for None)."""
    if milestones is None:
        return np.zeros(0)
    return np.sort(np.asarray(milestones, dtype=np.float64).ravel())


class GDRegressor(BaseGD):
    __doc__ = r"""Linear regression fitted by first-order methods (SGD, momentum, Adam, FISTA...).

    Minimizes, over the coefficients ``w`` and the intercept ``b``,

    .. math::

        F(w, b) = \frac{1}{\sum_i s_i} \sum_i s_i L(y_i, x_i^\top w + b)
                  + \alpha \left(\rho \|w\|_1 + \frac{1 - \rho}{2} \|w\|_2^2\right)

    with sample weights :math:`s_i` and :math:`\rho` = ``l1_ratio``. With
    ``loss="squared_error"``, :math:`L = \frac12 (y - p)^2` and ``alpha`` has the meaning of
    :class:`~sklearn.linear_model.SGDRegressor` and :class:`~sklearn.linear_model.ElasticNet`
    (Ridge's ``alpha`` divided by the number of samples). The intercept is never penalized.
    The L1 part is applied by proximal (soft-thresholding) steps, so coefficients reach exact
    zeros; per-sample SGD uses Tsuruoka's cumulative penalty, lazily on sparse rows.

    The estimator assembles three parts: the datafit (the loss), the penalty and a solver
    (stochastic / mini-batch / full-batch steps with an optimizer and a schedule, or
    FISTA), on a preconditioned problem: the features (and, for losses homogeneous in the
    residual, the target) are standardized internally and the change of variables is
    undone exactly, with the penalty kept on the original coefficients. So the fit, the
    learning rate and the speed do not depend on the units of the columns: raw columns in
    dollars, square feet and years train like standardized ones. ``learning_rate_init=None``
    computes the rate from the data (1/L for the gradient methods, L the expected
    smoothness of a batch; the square-root scaling rule for the adaptive ones).

    Training never returns a silently wrong answer: an objective that becomes non-finite or
    grows 1000-fold, or a run that ends above where it started or having lost most of its
    progress, raises :class:`DivergenceError` (a ``ValueError``) naming a learning rate
    computed from the data; "fista" stops on a certified duality gap (KKT violation where
    there is no dual bound); reaching ``max_iter`` first emits a ``ConvergenceWarning``
    with the certificate. The curves of every epoch are kept in ``history_``
    (:func:`plot_training_curves`, :func:`diagnose_training`), and ``callbacks`` see each
    epoch and may stop training.

    Per-sample and mini-batch loops are compiled by Numba (cached on disk); one kernel per
    dtype covers every loss, penalty, optimizer and schedule. X may be dense (C or F order;
    the stochastic solvers read rows, so an F-ordered X is copied once to C order, a
    C-ordered one never) or CSR; float32 input is kept in float32. Multi-output targets are
    not supported (a ``ValueError`` is raised); use
    :class:`~sklearn.multioutput.MultiOutputRegressor`. On CSR input, per-sample "sgd"
    costs O(non-zeros of the row) per step (the penalty applied lazily; only the columns
    stored on most rows are centred); the other optimizers keep per-coordinate state and
    touch every coefficient at each update.

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber", "log_cosh", "quantile", \
            "epsilon_insensitive", "squared_epsilon_insensitive"}, default="squared_error"
        The data-fit term L(y, p), with r = p - y: ``r^2/2``, ``|r|``, Huber
        (``r^2/2`` for ``|r| <= epsilon``, else ``epsilon |r| - epsilon^2/2``),
        ``log(cosh(r))``, the pinball loss of level ``quantile``, ``max(0, |r| - epsilon)``
        and ``max(0, |r| - epsilon)^2`` (no 1/2, as in SGDRegressor).
    epsilon : float, default=0.1
        Threshold of "huber", "epsilon_insensitive" and "squared_epsilon_insensitive".
    quantile : float, default=0.5
        Level of the "quantile" loss, in (0, 1).
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        Regularization term; "l2" is ``l1_ratio=0``, "l1" is ``l1_ratio=1``.
    alpha : float, default=1e-4
        Regularization strength.
    l1_ratio : float, default=0.15
        Elastic-net mixing (only used with ``penalty="elasticnet"``).
    fit_intercept : bool, default=True
        Whether to fit the (unpenalized) intercept.
    solver : {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", \
            "fista"}, default="sgd"
        Update rule. Penalties are applied proximally after the step of each method, with
        the effective per-coordinate step. "adamw" applies the L2 part as decoupled weight
        decay ``w <- w (1 - lr alpha (1 - l1_ratio))`` and so does not minimize F exactly.
        "fista" is full-batch accelerated proximal gradient with backtracking and restart
        (smooth losses only); for the squared loss with ``n_samples >= 2 n_features`` it
        works on the precomputed Gram matrix.
    batch_size : int or "full", default=1
        Samples per update: 1 is per-sample (stochastic), an int is mini-batch, "full" is
        full-batch gradient descent. Ignored by "fista" (always full batch).
    learning_rate : {"constant", "step", "multistep", "exponential", "invscaling", \
            "cyclic", "cosine", "plateau"}, default="invscaling"
        Schedule, as a function of the update count t (0-based) and the continuous epoch e:
        "constant": lr0; "step": ``lr0 gamma^floor(floor(e) / step_size)``; "multistep":
        ``lr0 gamma^(number of milestones <= floor(e))``; "exponential":
        ``lr0 gamma^floor(e)``; "invscaling": ``lr0 / (t + 1)^power_t``; "cyclic": Smith's
        cyclical rate between lr0 and ``max_lr`` with half-cycle ``step_size`` epochs and
        ``cyclic_mode``; "cosine": SGDR cosine annealing from lr0 to ``eta_min`` with warm
        restarts after ``T_0``, ``T_0 T_mult``, ... epochs; "plateau": lr0 times ``gamma``
        each time the objective has not improved by ``tol`` (relative) for
        ``n_iter_no_change`` epochs, training stops once the rate is below 1e-6 lr0. With
        "cyclic" and "cosine" the stopping rules (``tol``, early stopping) are applied at
        the end of a cycle, where the rate is lowest. Ignored by "fista".
    learning_rate_init : float or None, default=None
        Initial learning rate lr0, in the units of the standardized problem (so the same
        value means the same thing on every data set). None computes it from the data:
        1/L for "sgd" (L the expected smoothness of a batch: the largest squared row norm
        for one sample, the largest eigenvalue of the mean Hessian for a full batch,
        interpolated in between), (1 - momentum)/L for "momentum" and "nesterov" on
        batches, 1e-3 sqrt(batch_size) (at most 0.1) for "rmsprop", "adam" and "adamw",
        0.3 for "adagrad". For "fista" it is the initial step of the backtracking line
        search, None meaning 1/L. The rate used is in ``learning_rate_init_``.
    power_t : float, default=0.25
        Exponent of "invscaling".
    gamma : float, default=0.1
        Decay factor of "step", "multistep", "exponential", "plateau", and of "cyclic"
        with ``cyclic_mode="exp_range"`` (per epoch).
    step_size : float, default=10
        Epochs between decays for "step"; half-cycle length in epochs for "cyclic".
    milestones : array-like of int or None, default=None
        Epochs at which "multistep" decays the rate.
    max_lr : float, default=0.1
        Upper rate of "cyclic".
    cyclic_mode : {"triangular", "triangular2", "exp_range"}, default="triangular"
        Amplitude policy of "cyclic".
    T_0 : float, default=10
        Length in epochs of the first "cosine" cycle.
    T_mult : float, default=1
        Growth factor of the "cosine" cycle length after each restart.
    eta_min : float, default=0.0
        Lowest rate of "cosine".
    warmup_steps : int, default=0
        Linear warm-up: the rate of update t is multiplied by ``(t + 1) / warmup_steps``
        for the first ``warmup_steps`` updates (any schedule).
    momentum : float, default=0.9
        Momentum of "momentum" and "nesterov".
    beta_1 : float, default=0.9
        First-moment decay of "adam" and "adamw".
    beta_2 : float, default=0.999
        Second-moment decay of "adam" and "adamw".
    rho : float, default=0.9
        Squared-gradient decay of "rmsprop".
    adam_epsilon : float, default=1e-8
        Denominator offset of "adagrad", "rmsprop", "adam" and "adamw".
    max_iter : int, default=1000
        Maximum number of epochs (passes over the data; iterations for "fista").
    tol : float or None, default=1e-3
        Stopping tolerance, relative. Stochastic solvers stop when, for
        ``n_iter_no_change`` epochs, the objective F (penalty included) neither improved
        on its best nor moved from one epoch to the next by more than ``tol`` times its
        starting value (an oscillating or rising objective is not converged); with
        ``early_stopping``: when the validation R^2 has not improved by ``tol``. "fista"
        stops when the relative duality gap (the KKT violation where there is no dual
        bound) is below ``tol``. None disables stopping.
    n_iter_no_change : int, default=5
        Patience of the stopping rule (and of "plateau").
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the samples, stop when the validation R^2 has
        not improved by ``tol`` for ``n_iter_no_change`` epochs (at the end of a cycle for
        the cyclical schedules), and restore the coefficients of the best epoch.
    validation_fraction : float, default=0.1
        Fraction of samples held out for early stopping.
    shuffle : bool, default=True
        Shuffle the samples each epoch (stochastic and mini-batch solvers).
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling and of the validation split.
    average : bool or int, default=False
        Return the average of the iterates (post-prox, so correct with L1) instead of the
        last one; an int k starts averaging at update k. Ignored by "fista".
    warm_start : bool, default=False
        Start ``fit`` from the previous solution.
    verbose : int, default=0
        Print the objective, the gradient norm and the learning rate every epoch.
    precondition : bool, default=True
        Standardize internally (see above); False trains on the raw columns, as
        SGDRegressor does (the learning rate is then in the units of the data).
    callbacks : list of callable or None, default=None
        Called after each epoch as ``callback(estimator, info)`` with an
        :class:`EpochInfo` (epoch, objective, losses, validation score, learning rate,
        gradient norm, certificate, coefficients); training stops after the epoch when
        one of them returns True.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients (same float dtype as X).
    intercept_ : float
        Intercept.
    n_iter_ : int
        Epochs run by the last ``fit`` (with ``partial_fit``: calls so far).
    t_ : int
        Number of parameter updates made.
    loss_curve_ : list of float
        Training objective F (penalty included) after each epoch.
    history_ : dict of lists
        Per epoch: ``objective`` (F), ``loss`` (its data term), ``validation_loss`` (the
        mean loss on the held-out rows, in the same units) and ``validation_score`` (R^2)
        with early stopping (else None), ``learning_rate`` (of the epoch's last update),
        ``grad_norm`` (the norm of the minimal subgradient of F with respect to the
        coefficients of the standardized features and the intercept, in units of the
        objective per unit of y) and ``certificate`` ("fista": the relative duality gap or
        KKT violation; else None).
    validation_scores_ : list of float
        Validation R^2 after each epoch (only with ``early_stopping``).
    validation_loss_curve_ : list of float
        Validation loss after each epoch (only with ``early_stopping``).
    best_iteration_ : int
        Epoch (1-based) whose coefficients were restored (only with ``early_stopping``).
    converged_ : bool
        Whether a stopping rule (not ``max_iter`` or a callback) ended training.
    stopped_by_ : {"solver", "early_stopping", "callback", "stalled"} or None
        What ended training (None: ``max_iter``).
    certificate_ : float
        "fista": the certificate of the returned solution.
    learning_rate_init_ : float
        The initial learning rate used (stochastic solvers).
    initial_objective_ : float
        The objective of the starting point (the intercept-only model by default).
    penalty_gradient_norm_ : float
        The norm of the penalty's gradient at the solution, in the units of ``grad_norm``
        (what holds the coefficients back; read by :func:`diagnose_training`).
    preconditioner_ : dict
        The column means and scales and the target's mean and scale of the internal
        standardization.
""" + FEATURES_IN_DOC + r"""
    See Also
    --------
    GDElasticNet, GDLasso, GDRidge, GDLinearRegression : Twins with scikit-learn's objective.
    sklearn.linear_model.SGDRegressor : scikit-learn's per-sample SGD.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.estimators import GDRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 3)
    >>> y = X @ np.array([1.0, -2.0, 0.0]) + 0.5
    >>> reg = GDRegressor(solver="adam", batch_size=32, learning_rate="constant",
    ...                   penalty=None, tol=1e-6, random_state=0).fit(X, y)
    >>> np.round(reg.coef_, 2) + 0.0
    array([ 1., -2.,  0.])
    """

    _parameter_constraints: dict = {
        "loss": [StrOptions(set(LOSS_CODES))],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVER_CODES))],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"full"})],
        "learning_rate": [StrOptions(set(SCHEDULE_CODES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "gamma": [Interval(Real, 0, 1, closed="right")],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "milestones": ["array-like", None],
        "max_lr": [Interval(Real, 0, None, closed="neither")],
        "cyclic_mode": [StrOptions(set(CYCLIC_MODES))],
        "T_0": [Interval(Real, 0, None, closed="neither")],
        "T_mult": [Interval(Real, 1, None, closed="left")],
        "eta_min": [Interval(Real, 0, None, closed="left")],
        "warmup_steps": [Interval(Integral, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "adam_epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "average": [Interval(Integral, 0, None, closed="left"), "boolean"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "precondition": ["boolean"],
        "callbacks": [list, tuple, None],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        epsilon=0.1,
        quantile=0.5,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        solver="sgd",
        batch_size=1,
        learning_rate="invscaling",
        learning_rate_init=None,
        power_t=0.25,
        gamma=0.1,
        step_size=10,
        milestones=None,
        max_lr=0.1,
        cyclic_mode="triangular",
        T_0=10,
        T_mult=1,
        eta_min=0.0,
        warmup_steps=0,
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        rho=0.9,
        adam_epsilon=1e-8,
        max_iter=1000,
        tol=1e-3,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        average=False,
        warm_start=False,
        verbose=0,
        precondition=True,
        callbacks=None,
    ):
        init_params(self, locals())

    def _gd_config(self, sample_weight_sum: float) -> GDConfig:
        alpha, l1_ratio = penalty_split(self.penalty, self.alpha, self.l1_ratio)
        return GDConfig(
            datafit=Datafit(self.loss, float(self.epsilon), float(self.quantile)),
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=bool(self.fit_intercept),
            solver=self.solver,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            learning_rate_init=(None if self.learning_rate_init is None
                                else float(self.learning_rate_init)),
            sp=schedule_params(self.gamma, self.step_size, self.power_t, self.max_lr,
                               self.cyclic_mode, self.T_0, self.T_mult, self.eta_min,
                               self.warmup_steps),
            milestones=milestones_array(self.milestones),
            hp=make_hp(self.momentum, self.beta_1, self.beta_2, self.adam_epsilon, self.rho),
            max_iter=int(self.max_iter),
            tol=None if self.tol is None else float(self.tol),
            n_iter_no_change=int(self.n_iter_no_change),
            early_stopping=bool(self.early_stopping),
            validation_fraction=float(self.validation_fraction),
            shuffle=bool(self.shuffle),
            random_state=self.random_state,
            average=int(self.average),
            verbose=int(self.verbose),
            precondition=bool(self.precondition),
            callbacks=tuple(self.callbacks or ()),
        )
