"""Elastic-net penalty alpha * (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||_2^2).

The L2 part is smooth and goes into the gradient; the L1 part is handled by its
proximal operator (soft-thresholding), which is what produces exact zeros.
"""

import numpy as np
from numba import njit


def penalty_split(penalty: str | None, alpha: float, l1_ratio: float) -> tuple[float, float]:
    """Return ``(alpha, l1_ratio)`` of the elastic-net form equivalent to ``penalty``."""
    if penalty is None:
        return 0.0, 0.0
    if penalty == "l2":
        return float(alpha), 0.0
    if penalty == "l1":
        return float(alpha), 1.0
    return float(alpha), float(l1_ratio)


def penalty_value(w: np.ndarray, alpha: float, l1_ratio: float) -> float:
    """alpha * (l1_ratio ||w||_1 + (1 - l1_ratio) / 2 ||w||_2^2)."""
    w = np.asarray(w, dtype=np.float64)
    return float(alpha * (l1_ratio * np.abs(w).sum() + 0.5 * (1.0 - l1_ratio) * (w @ w)))


@njit(cache=True)
def soft_threshold(x: float, threshold: float) -> float:
    """Proximal operator of threshold * |x|."""
    if x > threshold:
        return x - threshold
    if x < -threshold:
        return x + threshold
    return 0.0
