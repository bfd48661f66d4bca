"""Which accelerator the boosting libraries can actually use here (probed once per process)."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from contextlib import contextmanager
from functools import cache

import numpy as np

logger = logging.getLogger("ensemblekit.ensembles")


@contextmanager
def _silence_native_output():
    """LightGBM's C++ core prints '[Fatal] ...' before raising; keep the probe quiet."""
    saved = {}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd in (1, 2):
            saved[fd] = os.dup(fd)
    except (OSError, ValueError):  # no real file descriptors (some embedded interpreters)
        for dup in saved.values():
            os.close(dup)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in saved:
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, dup in saved.items():
            os.dup2(dup, fd)
            os.close(dup)
        os.close(devnull)


@cache
def _cuda_driver() -> str | None:
    """Why no CUDA driver can be loaded here, or None when one can.

    Loading the driver library costs microseconds, whereas a trial training on ``device="cuda"``
    initialises XGBoost's CUDA context (seconds, in every joblib worker); a machine without the
    driver can never use the GPU, so it is ruled out first.
    """
    import ctypes

    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            ctypes.CDLL(name)
            return None
        except OSError:
            continue
    return "no CUDA driver (libcuda) is installed"


@cache
def xgboost_cuda() -> tuple[bool, str]:
    """(usable, reason): can XGBoost train with ``device="cuda"`` in this process?"""
    no_driver = _cuda_driver()
    if no_driver is not None:
        return False, no_driver
    import xgboost as xgb

    if not xgb.build_info().get("USE_CUDA", False):
        return False, "this XGBoost build has no CUDA support"
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            booster = xgb.train(
                {"device": "cuda", "tree_method": "hist", "verbosity": 1},
                xgb.DMatrix(X, label=X[:, 0]),
                num_boost_round=1,
            )
        # XGBoost silently (well, with a warning) moves to the CPU when it finds no GPU.
        device = json.loads(booster.save_config())["learner"]["generic_param"]["device"]
    except Exception as exc:  # driver, memory or build problems all mean "not usable"
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if not device.startswith("cuda"):
        msgs = [str(w.message).splitlines()[0] for w in caught]
        return False, msgs[0] if msgs else f"XGBoost fell back to device={device!r}"
    return True, "ok"


@cache
def lightgbm_gpu() -> tuple[str | None, str]:
    """(device_type or None, reason): the GPU flavour LightGBM can train with, if any.

    ``"cuda"`` needs a LightGBM built with CUDA (conda-forge or a source build); ``"gpu"`` is
    the OpenCL learner of the PyPI wheel, which needs an OpenCL runtime.
    """
    import lightgbm as lgb

    # The CUDA learner needs the driver; the OpenCL one ("gpu") may run on other devices.
    candidates = ("gpu",) if _cuda_driver() is not None else ("cuda", "gpu")
    rng = np.random.default_rng(0)
    X, y = rng.random((64, 2)), rng.random(64)
    reasons = []
    for device_type in candidates:
        try:
            with _silence_native_output():
                lgb.train(
                    {"device_type": device_type, "verbose": -1, "num_leaves": 4},
                    lgb.Dataset(X, y),
                    num_boost_round=1,
                )
            return device_type, "ok"
        except Exception as exc:
            reasons.append(f"{device_type}: {str(exc).splitlines()[0] if str(exc) else exc}")
    return None, "; ".join(reasons)


def resolve_device(backend: str, device: str) -> str:
    """Map ``device`` ("auto"/"cpu"/"cuda") to what the backend will be given.

    ``"auto"`` falls back to the CPU with one INFO log line per process and backend, never an
    error; an explicit ``"cuda"`` that cannot work is an error.
    """
    if device == "cpu":
        return "cpu"
    if backend == "xgboost":
        ok, reason = xgboost_cuda()
        gpu = "cuda" if ok else None
    else:
        gpu, reason = lightgbm_gpu()
    if gpu is not None:
        return gpu
    if device == "cuda":
        raise ValueError(f"device='cuda' was requested but {backend} cannot use a GPU: {reason}")
    _log_fallback_once(backend, reason)
    return "cpu"


@cache
def _log_fallback_once(backend: str, reason: str) -> None:
    logger.info("BoostingRegressor(device='auto'): no usable GPU for %s (%s); using the CPU.",
                backend, reason)


def cuda_available() -> bool:
    """Whether XGBoost can train on a CUDA GPU in this process (probed once, then cached).

    ``BoostingRegressor(device="auto")`` uses the same probe; the GPU tests are gated on it.

    Returns
    -------
    available : bool

    Examples
    --------
    >>> from ensemblekit.ensembles import cuda_available
    >>> isinstance(cuda_available(), bool)
    True
    """
    return xgboost_cuda()[0]
