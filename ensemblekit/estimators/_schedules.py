"""Learning-rate schedules, evaluated per update inside the compiled loops.

A schedule is a pure function of the update count ``t`` (0-based), the continuous epoch
``epoch`` (completed epochs plus the fraction of the current one) and a parameter array,
so a NumPy reference can replay it exactly. "plateau" is the only stateful schedule:
its decay factor is kept by the estimator between epochs and passed in ``sp[SP_SCALE]``.
"""

import math

import numpy as np
from numba import njit

CONSTANT = 0
STEP = 1
MULTISTEP = 2
EXPONENTIAL = 3
INVSCALING = 4
CYCLIC = 5
COSINE = 6
PLATEAU = 7

SCHEDULE_CODES = {
    "constant": CONSTANT,
    "step": STEP,
    "multistep": MULTISTEP,
    "exponential": EXPONENTIAL,
    "invscaling": INVSCALING,
    "cyclic": CYCLIC,
    "cosine": COSINE,
    "plateau": PLATEAU,
}

CYCLIC_MODES = {"triangular": 0, "triangular2": 1, "exp_range": 2}

# Layout of the schedule parameter array ``sp``.
SP_GAMMA = 0
SP_STEP_SIZE = 1
SP_POWER_T = 2
SP_MAX_LR = 3
SP_CYCLIC_MODE = 4
SP_T_0 = 5
SP_T_MULT = 6
SP_ETA_MIN = 7
SP_SCALE = 8
SP_WARMUP = 9
SP_SIZE = 10


@njit(cache=True)
def learning_rate_at(code: int, lr0: float, t: float, epoch: float, sp: np.ndarray,
                     milestones: np.ndarray) -> float:
    """Learning rate of update ``t`` (0-based) taken at continuous epoch ``epoch``.

    Parameters
    ----------
    code : int
        Schedule code (``SCHEDULE_CODES``).
    lr0 : float
        ``learning_rate_init``.
    t : float
        Number of updates already made.
    epoch : float
        Completed epochs plus the fraction of the current epoch already done.
    sp : ndarray
        Schedule parameters (layout ``SP_*``).
    milestones : ndarray
        Sorted epochs at which "multistep" multiplies the rate by gamma.
    """
    e_int = math.floor(epoch + 1e-12)
    if code == CONSTANT:
        lr = lr0
    elif code == STEP:
        lr = lr0 * sp[SP_GAMMA] ** math.floor(e_int / sp[SP_STEP_SIZE])
    elif code == MULTISTEP:
        k = 0
        for i in range(milestones.shape[0]):
            if milestones[i] <= e_int:
                k += 1
        lr = lr0 * sp[SP_GAMMA] ** k
    elif code == EXPONENTIAL:
        lr = lr0 * sp[SP_GAMMA] ** e_int
    elif code == INVSCALING:
        lr = lr0 / (t + 1.0) ** sp[SP_POWER_T]
    elif code == CYCLIC:
        half = sp[SP_STEP_SIZE]
        cycle = math.floor(1.0 + epoch / (2.0 * half))
        x = abs(epoch / half - 2.0 * cycle + 1.0)
        mode = sp[SP_CYCLIC_MODE]
        if mode == 0.0:
            scale = 1.0
        elif mode == 1.0:
            scale = 1.0 / 2.0 ** (cycle - 1.0)
        else:
            scale = sp[SP_GAMMA] ** epoch
        lr = lr0 + (sp[SP_MAX_LR] - lr0) * max(0.0, 1.0 - x) * scale
    elif code == COSINE:
        t0 = sp[SP_T_0]
        tm = sp[SP_T_MULT]
        if tm == 1.0:
            t_cur = epoch - t0 * math.floor(epoch / t0)
            t_i = t0
        else:
            n = math.floor(math.log(epoch / t0 * (tm - 1.0) + 1.0) / math.log(tm))
            t_cur = epoch - t0 * (tm**n - 1.0) / (tm - 1.0)
            t_i = t0 * tm**n
        eta_min = sp[SP_ETA_MIN]
        lr = eta_min + (lr0 - eta_min) * 0.5 * (1.0 + math.cos(math.pi * t_cur / t_i))
    else:
        lr = lr0 * sp[SP_SCALE]
    warm = sp[SP_WARMUP]
    if warm > 0.0 and t < warm:
        lr *= (t + 1.0) / warm
    return lr


# Schedules whose rate rises again after a low point: the stopping rules only judge their
# progress at the end of a cycle, where the rate is lowest.
CYCLICAL = (CYCLIC, COSINE)


def cycles_completed(code: int, epoch: float, sp: np.ndarray) -> int:
    """Number of whole cycles of a cyclical schedule in ``epoch`` epochs (0 otherwise)."""
    e = epoch + 1e-9
    if code == COSINE:
        t0, tm = sp[SP_T_0], sp[SP_T_MULT]
        if tm == 1.0:
            return int(math.floor(e / t0))
        return int(math.floor(math.log(e / t0 * (tm - 1.0) + 1.0) / math.log(tm)))
    if code == CYCLIC:
        return int(math.floor(e / (2.0 * sp[SP_STEP_SIZE])))
    return 0


def is_cycle_end(code: int, epochs_done: int, sp: np.ndarray) -> bool:
    """True when epoch ``epochs_done`` (1-based) closes a cycle, or for any epoch of a
    schedule without cycles."""
    if code not in CYCLICAL:
        return True
    return cycles_completed(code, epochs_done, sp) > cycles_completed(code, epochs_done - 1, sp)


def default_milestones(max_iter: int) -> np.ndarray:
    """"multistep" without milestones decays at half and three quarters of max_iter."""
    return np.unique(np.maximum(1, np.round(np.array([0.5, 0.75]) * max_iter)))
