"""Every private scikit-learn name that ensemblekit uses, in one place, behind version gates.

Modelled on ``sklearn/utils/fixes.py``. The rest of the package imports these names from here,
never from a ``sklearn.*._private`` module nor as a ``_private`` name (``tests/test_compat.py``
fails otherwise), so that a scikit-learn release that moves or changes one of them breaks this
file only, and the fix is made once.

Public scikit-learn names are used wherever they exist (``sklearn.utils.get_tags``,
``sklearn.utils.validation.validate_data``, ``sklearn.utils.parallel``); what is imported here
has no public equivalent in any supported version. Supported: scikit-learn from the lower bound
in ``pyproject.toml`` (1.6) to the newest release; CI runs the test suite on both ends. Where the
versions differ, the gate tests for the feature (a parameter, a method) rather than for a
version number, so that a backport or a development build takes the right branch.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Hidden, Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _check_method_params,
    _check_n_features,
    _check_y,
)
from sklearn.utils.validation import _check_sample_weight as _sklearn_check_sample_weight

if TYPE_CHECKING:  # at run time these load on first use (``_LAZY`` below)
    from sklearn.ensemble._base import _BaseHeterogeneousEnsemble
    from sklearn.metrics._scorer import _MultimetricScorer
    from sklearn.model_selection._search import BaseSearchCV
    from sklearn.model_selection._validation import (
        _fit_and_score,
        _insert_error_scores,
        _score,
        _warn_or_raise_about_fit_failures,
    )

__all__ = [
    "BaseSearchCV",
    "HasMethods",
    "Hidden",
    "Interval",
    "StrOptions",
    "_BaseHeterogeneousEnsemble",
    "_MultimetricScorer",
    "_check_feature_names",
    "_check_method_params",
    "_check_n_features",
    "_check_sample_weight",
    "_check_y",
    "_fit_and_score",
    "_fit_context",
    "_insert_error_scores",
    "_safe_indexing",
    "_score",
    "_warn_or_raise_about_fit_failures",
]

# Names from modules that ``import ensemblekit.estimators`` does not otherwise load
# (sklearn.ensemble pulls in the trees, neighbors and decompositions: 0.2 s), imported on
# first use (PEP 562).
_LAZY = {
    "_BaseHeterogeneousEnsemble": "sklearn.ensemble._base",
    "_MultimetricScorer": "sklearn.metrics._scorer",
    "BaseSearchCV": "sklearn.model_selection._search",
    "_fit_and_score": "sklearn.model_selection._validation",
    "_insert_error_scores": "sklearn.model_selection._validation",
    "_score": "sklearn.model_selection._validation",
    "_warn_or_raise_about_fit_failures": "sklearn.model_selection._validation",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# 1.9 added ``allow_all_zero_weights`` (default False: all-zero weights raise); 1.6 to 1.8
# accept all-zero weights silently.
_REJECTS_ALL_ZERO_WEIGHTS = (
    "allow_all_zero_weights" in inspect.signature(_sklearn_check_sample_weight).parameters
)


def _check_sample_weight(sample_weight, X, *, dtype=None, ensure_non_negative=False, copy=False):
    """``sklearn.utils.validation._check_sample_weight`` with the same behaviour on every version.

    All-zero weights leave nothing to fit, so they are rejected on every version, with the
    message of scikit-learn 1.9 (which rejects them itself).
    """
    kwargs = {"dtype": dtype, "ensure_non_negative": ensure_non_negative, "copy": copy}
    sw = _sklearn_check_sample_weight(sample_weight, X, **kwargs)
    if not _REJECTS_ALL_ZERO_WEIGHTS and sample_weight is not None and sw.size and not sw.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw
