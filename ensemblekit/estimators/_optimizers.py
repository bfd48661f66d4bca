"""First-order update rules, one coordinate at a time.

``optimizer_step`` is the whole optimizer: it maps (w, g, m, v) to the new values and
returns the effective step size of the coordinate, which the caller uses as the
threshold scale of the L1 proximal step (a proximal version of each method). The
effective step is chosen so that the fixed points are the minimizers of the penalized
objective.
``m`` holds the velocity (momentum, nesterov) or the first moment (adam); ``v`` the
accumulated squared gradients (adagrad, rmsprop, adam).
"""

import math

import numpy as np
from numba import njit

SGD = 0
MOMENTUM = 1
NESTEROV = 2
ADAGRAD = 3
RMSPROP = 4
ADAM = 5
ADAMW = 6
FISTA = 7

SOLVER_CODES = {
    "sgd": SGD,
    "momentum": MOMENTUM,
    "nesterov": NESTEROV,
    "adagrad": ADAGRAD,
    "rmsprop": RMSPROP,
    "adam": ADAM,
    "adamw": ADAMW,
    "fista": FISTA,
}

# Layout of the hyper-parameter array ``hp``.
HP_MOMENTUM = 0
HP_BETA_1 = 1
HP_BETA_2 = 2
HP_EPSILON = 3
HP_RHO = 4
HP_SIZE = 5


@njit(cache=True)
def bias_corrections(code: int, t: float, hp: np.ndarray) -> tuple[float, float]:
    """Adam's (1 - beta_1^t, 1 - beta_2^t) for the 1-based step ``t``; (1, 1) otherwise."""
    if code == ADAM or code == ADAMW:
        return 1.0 - hp[HP_BETA_1] ** t, 1.0 - hp[HP_BETA_2] ** t
    return 1.0, 1.0


@njit(cache=True)
def optimizer_step(code: int, w: float, g: float, m: float, v: float, lr: float, bc1: float,
                   bc2: float, hp: np.ndarray,
                   decay: float) -> tuple[float, float, float, float]:
    """One update of a coordinate.

    Parameters
    ----------
    code : int
        Optimizer code (``SOLVER_CODES``).
    w, g, m, v : float
        Coordinate, its gradient, and its two optimizer states.
    lr : float
        Learning rate of this step.
    bc1, bc2 : float
        Bias corrections from :func:`bias_corrections` (adam, adamw).
    hp : ndarray
        Hyper-parameters (layout ``HP_*``).
    decay : float
        Decoupled weight decay of adamw (ignored by the others, whose L2 term is in ``g``).

    Returns
    -------
    w, m, v, eff : float
        Updated coordinate and states, and the effective step size.
    """
    if code == SGD:
        return w - lr * g, m, v, lr
    if code == MOMENTUM or code == NESTEROV:
        # At a fixed point the velocity is -lr g / (1 - momentum): that is the step the
        # L1 threshold must use, or the penalty would be shrunk by (1 - momentum).
        mu = hp[HP_MOMENTUM]
        m = mu * m - lr * g
        eff = lr / (1.0 - mu)
        if code == MOMENTUM:
            return w + m, m, v, eff
        return w + mu * m - lr * g, m, v, eff
    if code == ADAGRAD:
        v = v + g * g
        eff = lr / (math.sqrt(v) + hp[HP_EPSILON])
        return w - eff * g, m, v, eff
    if code == RMSPROP:
        v = hp[HP_RHO] * v + (1.0 - hp[HP_RHO]) * g * g
        eff = lr / (math.sqrt(v) + hp[HP_EPSILON])
        return w - eff * g, m, v, eff
    # adam and adamw
    if code == ADAMW:
        w = w * (1.0 - lr * decay)
    m = hp[HP_BETA_1] * m + (1.0 - hp[HP_BETA_1]) * g
    v = hp[HP_BETA_2] * v + (1.0 - hp[HP_BETA_2]) * g * g
    eff = lr / (math.sqrt(v / bc2) + hp[HP_EPSILON])
    return w - eff * (m / bc1), m, v, eff
