"""Write the API reference index from the public names of each subpackage (their ``__all__``)."""

from __future__ import annotations

import importlib
from pathlib import Path

SUBPACKAGES = {
    "ensemblekit.estimators": "Estimators",
    "ensemblekit.ensembles": "Ensembles",
    "ensemblekit.tuning": "Tuning",
    "ensemblekit.datasets": "Datasets",
}


def public_names() -> dict[str, list[str]]:
    """Subpackage -> its public names, as listed in its ``__all__``."""
    return {mod: sorted(importlib.import_module(mod).__all__) for mod in SUBPACKAGES}


def write_api_index(folder: Path) -> None:
    """Write ``folder/index.rst``: one autosummary table (and one page per name) per subpackage.

    The file is rewritten only when its text changes, so that Sphinx does not rebuild every page.
    """
    lines = [
        ".. This file is written by docs/_api.py from each subpackage's __all__; do not edit.",
        "",
        "API reference",
        "=============",
        "",
        "Every public name of ensemblekit, by subpackage.",
        "",
    ]
    for mod, names in public_names().items():
        title = f"``{mod}``: {SUBPACKAGES[mod]}"
        lines += [
            title,
            "-" * len(title),
            "",
            f".. automodule:: {mod}",
            "   :no-members:",
            "   :no-inherited-members:",
            "",
            f".. currentmodule:: {mod}",
            "",
            ".. autosummary::",
            "   :toctree: generated/",
            "   :nosignatures:",
            "",
            *[f"   {name}" for name in names],
            "",
        ]
    text = "\n".join(lines)
    folder.mkdir(exist_ok=True)
    index = folder / "index.rst"
    if not index.exists() or index.read_text() != text:
        index.write_text(text)
