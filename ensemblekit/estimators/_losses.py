"""Regression losses, selected by an integer code inside compiled loops.

Each loss is a function of the target ``y`` and the prediction ``p``. Passing a code
instead of a loss object keeps one compiled specialization per kernel for every loss.
``loss_derivative`` returns dL/dp, the only quantity the first-order solvers need.
"""

import math

import numpy as np
from numba import njit

SQUARED_ERROR = 0
ABSOLUTE_ERROR = 1
HUBER = 2
LOG_COSH = 3
QUANTILE = 4
EPSILON_INSENSITIVE = 5
SQUARED_EPSILON_INSENSITIVE = 6

LOSS_CODES = {
    "squared_error": SQUARED_ERROR,
    "absolute_error": ABSOLUTE_ERROR,
    "huber": HUBER,
    "log_cosh": LOG_COSH,
    "quantile": QUANTILE,
    "epsilon_insensitive": EPSILON_INSENSITIVE,
    "squared_epsilon_insensitive": SQUARED_EPSILON_INSENSITIVE,
}

# Upper bound of d2L/dp2 for the smooth losses: FISTA's step size is 1 / (bound * ||X||^2 / n).
# squared_epsilon_insensitive follows SGDRegressor (no 1/2 factor), hence 2.
SMOOTH_CURVATURE = {
    SQUARED_ERROR: 1.0,
    HUBER: 1.0,
    LOG_COSH: 1.0,
    SQUARED_EPSILON_INSENSITIVE: 2.0,
}

_LOG2 = math.log(2.0)


@njit(cache=True, inline="always")
def loss_value(code: int, y: float, p: float, epsilon: float, quantile: float) -> float:
    """Value of the loss ``code`` at target ``y`` and prediction ``p``."""
    r = p - y
    a = abs(r)
    if code == SQUARED_ERROR:
        return 0.5 * r * r
    if code == ABSOLUTE_ERROR:
        return a
    if code == HUBER:
        if a <= epsilon:
            return 0.5 * r * r
        return epsilon * a - 0.5 * epsilon * epsilon
    if code == LOG_COSH:
        # log(cosh(r)) without overflow for large |r|.
        return a + math.log1p(math.exp(-2.0 * a)) - _LOG2
    if code == QUANTILE:
        if r < 0.0:
            return -quantile * r
        return (1.0 - quantile) * r
    if code == EPSILON_INSENSITIVE:
        return max(0.0, a - epsilon)
    z = max(0.0, a - epsilon)
    return z * z


@njit(cache=True, inline="always")
def loss_derivative(code: int, y: float, p: float, epsilon: float,
                    quantile: float) -> float:
    """dL/dp of the loss ``code`` (a subgradient where L is not differentiable)."""
    r = p - y
    if code == SQUARED_ERROR:
        return r
    if code == ABSOLUTE_ERROR:
        if r > 0.0:
            return 1.0
        if r < 0.0:
            return -1.0
        return 0.0
    if code == HUBER:
        if r > epsilon:
            return epsilon
        if r < -epsilon:
            return -epsilon
        return r
    if code == LOG_COSH:
        return math.tanh(r)
    if code == QUANTILE:
        if r < 0.0:
            return -quantile
        if r > 0.0:
            return 1.0 - quantile
        return 0.0
    if code == EPSILON_INSENSITIVE:
        if r > epsilon:
            return 1.0
        if r < -epsilon:
            return -1.0
        return 0.0
    if r > epsilon:
        return 2.0 * (r - epsilon)
    if r < -epsilon:
        return 2.0 * (r + epsilon)
    return 0.0


@njit(cache=True)
def weighted_loss_sum(code: int, y: np.ndarray, pred: np.ndarray, sw: np.ndarray,
                      epsilon: float, quantile: float) -> float:
    """sum_i sw_i L(y_i, pred_i)."""
    s = 0.0
    for i in range(y.shape[0]):
        if sw[i] != 0.0:
            s += sw[i] * loss_value(code, y[i], pred[i], epsilon, quantile)
    return s


def loss_values_numpy(code: int, y: np.ndarray, p: np.ndarray, epsilon: float,
                      quantile: float) -> np.ndarray:
    """Plain NumPy version of :func:`loss_value`, the reference used by the tests."""
    r = np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    a = np.abs(r)
    if code == SQUARED_ERROR:
        return 0.5 * r**2
    if code == ABSOLUTE_ERROR:
        return a
    if code == HUBER:
        return np.where(a <= epsilon, 0.5 * r**2, epsilon * a - 0.5 * epsilon**2)
    if code == LOG_COSH:
        return np.logaddexp(r, -r) - _LOG2
    if code == QUANTILE:
        return np.where(r < 0, -quantile * r, (1 - quantile) * r)
    if code == EPSILON_INSENSITIVE:
        return np.maximum(0.0, a - epsilon)
    return np.maximum(0.0, a - epsilon) ** 2
