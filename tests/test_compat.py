"""Private scikit-learn names are used only through ``ensemblekit._compat``.

A scikit-learn release may move or change anything private; keeping every such import in one
module makes a break show up (and get fixed) in one place, and CI runs the suite on the oldest
and the newest scikit-learn that ``pyproject.toml`` allows.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from ensemblekit import _compat

PACKAGE = Path(__file__).resolve().parents[1] / "ensemblekit"
COMPAT = PACKAGE / "_compat.py"
# A dotted path through a private scikit-learn module or to a private name, as written in code
# (``sklearn.utils._param_validation``, ``importlib.import_module("sklearn.base._x")``).
PRIVATE_PATH = re.compile(r"\bsklearn(?:\.\w+)*\._(?!_)\w+")


def _private_name(name: str) -> bool:
    # ``_x`` is private; ``__version__`` and other dunders are not.
    return name.startswith("_") and not name.startswith("__")


def _is_private(module: str, name: str | None = None) -> bool:
    parts = module.split(".")
    if parts[0] != "sklearn":
        return False
    return any(_private_name(p) for p in parts) or bool(name and _private_name(name))


def private_sklearn_uses(source: str) -> list[str]:
    """Every private scikit-learn import or dotted path in ``source`` (docstrings excluded)."""
    tree = ast.parse(source)
    found = []
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if _is_private(node.module, alias.name):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_private(alias.name):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute):
            dotted = ast.unparse(node)
            if PRIVATE_PATH.fullmatch(dotted):
                found.append(f"line {node.lineno}: {dotted}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and PRIVATE_PATH.search(node.value)
        ):
            found.append(f"line {node.lineno}: {node.value!r}")
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from sklearn.utils._param_validation import Interval",
        "from sklearn.base import clone, _fit_context",
        "from sklearn.utils import _safe_indexing as si",
        "import sklearn.metrics._scorer",
        "import sklearn.metrics._scorer as sc",
        "def f():\n    from sklearn.model_selection._validation import _score\n",
        "import sklearn\nx = sklearn.utils._param_validation.Interval",
        "import importlib\nm = importlib.import_module('sklearn.metrics._scorer')",
    ],
)
def test_the_checker_finds_private_imports(source):
    assert private_sklearn_uses(source), source


@pytest.mark.parametrize(
    "source",
    [
        "from sklearn.base import clone, BaseEstimator",
        "from sklearn.utils import get_tags\nfrom sklearn.utils.validation import validate_data",
        "from .._compat import _fit_context, _safe_indexing",
        '"""Re-implements sklearn.model_selection._search internals."""',
        "import numpy._core",
        "import sklearn\nprint(sklearn.__version__)",
        "from sklearn import __version__",
    ],
)
def test_the_checker_accepts_public_imports(source):
    assert private_sklearn_uses(source) == []


def test_private_sklearn_names_are_imported_only_in_the_compat_module():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == COMPAT:
            continue
        uses = private_sklearn_uses(path.read_text())
        if uses:
            offenders[str(path.relative_to(PACKAGE.parent))] = uses
    assert offenders == {}, (
        "private scikit-learn names used outside ensemblekit/_compat.py; import them from "
        f"there (add them to it behind a version gate if new): {offenders}"
    )


def test_compat_module_holds_the_private_imports():
    # The check above would pass vacuously if the scan found nothing at all.
    assert len(private_sklearn_uses(COMPAT.read_text())) >= 10
    for name in _compat.__all__:
        assert hasattr(_compat, name), name


def test_base_search_cv_hooks_the_searches_override_or_call_exist():
    # tuning._base subclasses BaseSearchCV and relies on these private methods; a release that
    # renames one must fail here, by name, rather than deep inside a search.
    expected = {
        "_format_results": ["self", "candidate_params", "n_splits", "out", "more_results"],
        "_select_best_index": ["refit", "refit_metric", "results"],
        "_get_scorers": ["self"],
        "_get_routed_params_for_fit": ["self", "params"],
        "_check_refit_for_multimetric": ["self", "scores"],
    }
    for name, params in expected.items():
        method = getattr(_compat.BaseSearchCV, name)
        assert list(inspect.signature(method).parameters) == params, name
    scorer = _compat._MultimetricScorer(scorers={"r2": None}, raise_exc=True)
    assert scorer._scorers == {"r2": None}


def test_fit_and_score_keywords_used_by_the_searches_exist():
    params = inspect.signature(_compat._fit_and_score).parameters
    used = {
        "scorer",
        "fit_params",
        "score_params",
        "return_train_score",
        "return_n_test_samples",
        "return_times",
        "return_parameters",
        "error_score",
        "verbose",
        "train",
        "test",
        "parameters",
        "split_progress",
        "candidate_progress",
    }
    assert used <= set(params), sorted(used - set(params))


@pytest.mark.parametrize("weights", [np.zeros(4), 0.0])
def test_all_zero_sample_weights_are_rejected_on_every_version(weights):
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        _compat._check_sample_weight(weights, X)
    np.testing.assert_array_equal(_compat._check_sample_weight(None, X), np.ones(4))

