"""Sphinx configuration of the ensemblekit documentation.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``pip install -e ".[docs]"``).
The API reference is written from each subpackage's ``__all__`` when the build starts, so a new
public name gets its page without editing anything here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import ensemblekit

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))  # for _api and _gallery

from _api import write_api_index  # noqa: E402

project = "ensemblekit"
author = "ensemblekit developers"
copyright = "2026, ensemblekit developers"
release = version = ensemblekit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]

html_theme = "pydata_sphinx_theme"
html_title = f"ensemblekit {release}"
html_theme_options = {"navigation_with_keys": False}

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections carry the types
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    # Executed at their --quick settings (under a minute together on 2 cores); house_prices.py
    # is rendered without running it (its --quick run alone takes up to two minutes, and
    # tests/examples runs it anyway); the user guide shows its saved figures.
    "filename_pattern": r"/(lr_schedules|bayes_vs_random|stacking_vs_sklearn)\.py$",
    # _common.py is the examples' shared helpers, not an example.
    "ignore_pattern": r"(__init__|_common)\.py$",
    "reset_argv": "_gallery.example_argv",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
}


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Document only what ensemblekit defines: inherited scikit-learn methods (get_params,
    set_*_request, score, ...) are documented by scikit-learn, and their docstrings refer to
    scikit-learn's own pages."""
    target = getattr(obj, "fget", obj)
    module = getattr(target, "__module__", None) or ""
    if module.split(".")[0] in ("sklearn", "builtins", "abc", "typing"):
        return True
    return None


_TYPE_LINE = re.compile(r"^(\s*[\w*, ]+ : )(.*)$")
_BARE_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`])([A-Za-z]\w*_)(?![\w`])")


def _normalize_docstring(app, what, name, obj, options, lines):
    """Two spellings that Python and numpydoc accept but reStructuredText reads otherwise.

    - A line ending in a backslash continues on the next one: in a normal docstring Python
      joins them, in a raw docstring (``r\"\"\"``, used for LaTeX) the backslash stays and the
      continued type line breaks the parameter list.
    - ``name_`` is a hyperlink reference in reStructuredText: numpydoc escapes it in the name
      of a parameter or attribute but not in its type (``ndarray of shape (n_features_in_,)``),
      so it is set as literal text there.
    """
    joined = []
    for line in lines:
        if joined and joined[-1].endswith("\\"):
            joined[-1] = joined[-1][:-1].rstrip() + " " + line.strip()
        else:
            joined.append(line)
    for i, line in enumerate(joined):
        m = _TYPE_LINE.match(line)
        if m:
            joined[i] = m.group(1) + _BARE_TRAILING_UNDERSCORE.sub(r"``\1``", m.group(2))
    lines[:] = joined


def setup(app):
    write_api_index(DOCS / "api")
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
    # Before numpydoc (priority 500) parses the sections.
    app.connect("autodoc-process-docstring", _normalize_docstring, priority=100)
