import importlib
import importlib.resources
import subprocess
import sys
from pathlib import Path

import pytest

import ensemblekit


def test_subpackages_are_attributes_of_the_package():
    assert ensemblekit.__version__
    for name in ("datasets", "estimators", "ensembles", "tuning"):
        mod = importlib.import_module(f"ensemblekit.{name}")
        assert getattr(ensemblekit, name) is mod
        assert name in dir(ensemblekit)
        assert name in ensemblekit.__all__
    from ensemblekit.datasets import load_ames

    assert ensemblekit.datasets.load_ames is load_ames


def test_import_ensemblekit_imports_no_subpackage_until_asked():
    # In a fresh interpreter: attribute access imports a subpackage (and what it needs) only
    # when it is first used, so `import ensemblekit` costs nothing of pandas, sklearn or numba.
    code = (
        "import sys, ensemblekit\n"
        "heavy = ('pandas', 'sklearn', 'numba', 'ensemblekit.datasets', 'ensemblekit.tuning')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "ensemblekit.datasets\n"
        "print('ensemblekit.datasets' in sys.modules, 'pandas' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["[]", "True True"]


def test_unknown_attribute_names_the_module():
    with pytest.raises(AttributeError, match="^module 'ensemblekit' has no attribute 'nope'$"):
        ensemblekit.nope  # noqa: B018


def test_release_files_ship():
    root = Path(__file__).resolve().parents[1]
    pyproject = (root / "pyproject.toml").read_text()
    assert 'license = { text = "BSD-3-Clause" }' in pyproject
    assert (root / "LICENSE").read_text().startswith("BSD 3-Clause License\n")
    assert "## [Unreleased]" in (root / "CHANGELOG.md").read_text()
    # py.typed is package data: type checkers then read the package's own hints
    assert (importlib.resources.files("ensemblekit") / "py.typed").is_file()
    assert '[tool.setuptools.package-data]\nensemblekit = ["py.typed"]' in pyproject
