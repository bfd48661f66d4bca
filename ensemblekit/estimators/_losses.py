"""Regression losses, selected by an integer code inside compiled loops.

Each loss is a function phi(r) of the residual r = p - y (prediction minus target).
Passing a code instead of a loss object keeps one compiled specialization per kernel for
every loss. ``loss_derivative`` returns dL/dp, the only quantity the first-order solvers
need; ``loss_conjugate`` is phi*, which the duality-gap certificates need (the datafit
descriptors of ``_datafits`` wrap these codes).
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
    if code == SQUARED_ERROR:
        return 0.5 * (r * r)
    a = np.abs(r)
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


# Half-width of the domain of phi* (|theta| must stay below it); inf: all of R.
def conjugate_radius(code: int, epsilon: float) -> float:
    """Radius of the domain of the conjugate phi* (the range of phi')."""
    if code == HUBER:
        return float(epsilon)
    if code == LOG_COSH:
        return 1.0
    if code in (SQUARED_ERROR, SQUARED_EPSILON_INSENSITIVE):
        return np.inf
    return 1.0  # absolute, epsilon-insensitive: phi' in [-1, 1] (quantile: not used)


@njit(cache=True, inline="always")
def loss_conjugate(code: int, theta: float, epsilon: float) -> float:
    """phi*(theta) of the smooth losses (theta inside the domain, see conjugate_radius)."""
    if code == SQUARED_ERROR or code == HUBER:
        return 0.5 * theta * theta
    if code == LOG_COSH:
        # theta atanh(theta) + log(1 - theta^2) / 2, continuous up to |theta| = 1.
        a = abs(theta)
        if a >= 1.0:
            return _LOG2
        return a * math.atanh(a) + 0.5 * math.log1p(-a * a)
    # squared epsilon-insensitive, phi(r) = max(0, |r| - eps)^2
    return 0.25 * theta * theta + epsilon * abs(theta)


def loss_conjugate_numpy(code: int, theta: np.ndarray, epsilon: float) -> np.ndarray:
    """Plain NumPy version of :func:`loss_conjugate` (the tests' reference)."""
    t = np.asarray(theta, dtype=np.float64)
    if code in (SQUARED_ERROR, HUBER):
        return 0.5 * t**2
    if code == LOG_COSH:
        a = np.minimum(np.abs(t), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a * np.arctanh(a) + 0.5 * np.log1p(-a * a)
        return np.where(a >= 1.0, _LOG2, out)
    return 0.25 * t**2 + epsilon * np.abs(t)


def loss_derivatives_numpy(code: int, y: np.ndarray, p: np.ndarray, epsilon: float,
                           quantile: float) -> np.ndarray:
    """Plain NumPy version of :func:`loss_derivative`."""
    r = np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    if code == SQUARED_ERROR:
        return r
    if code == ABSOLUTE_ERROR:
        return np.sign(r)
    if code == HUBER:
        return np.clip(r, -epsilon, epsilon)
    if code == LOG_COSH:
        return np.tanh(r)
    if code == QUANTILE:
        return np.where(r < 0, -quantile, np.where(r > 0, 1.0 - quantile, 0.0))
    if code == EPSILON_INSENSITIVE:
        return np.where(r > epsilon, 1.0, np.where(r < -epsilon, -1.0, 0.0))
    return np.where(r > epsilon, 2 * (r - epsilon), np.where(r < -epsilon, 2 * (r + epsilon), 0.0))
