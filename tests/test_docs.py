"""The documentation builds with warnings as errors, and every public name has its API page.

Runs the same build as the README's documentation command (``python -m sphinx -W ...``), into
a temporary folder; the gallery runs the small examples at their ``--quick`` settings.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.docs


def public_subpackages() -> list[str]:
    """Every public subpackage of ensemblekit: a folder with an ``__init__.py``, no underscore."""
    return sorted(
        f"ensemblekit.{p.parent.name}"
        for p in (ROOT / "ensemblekit").glob("*/__init__.py")
        if not p.parent.name.startswith("_")
    )


def missing_api_pages(html: Path, names: dict[str, list[str]]) -> list[str]:
    """Public names without a page that documents them (the page exists and holds the
    object's anchor, which autodoc writes only when it found and rendered the object)."""
    missing = []
    for mod, members in names.items():
        for name in members:
            page = html / "api" / "generated" / f"{mod}.{name}.html"
            if not page.exists() or f'id="{mod}.{name}"' not in page.read_text():
                missing.append(f"{mod}.{name}")
    return missing


@pytest.fixture(scope="module")
def built_html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html"]
    cmd += ["-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"docs build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return out / "html"


def test_every_public_name_has_an_api_page(built_html):
    names = {mod: list(importlib.import_module(mod).__all__) for mod in public_subpackages()}
    assert len(names) == 4 and sum(map(len, names.values())) >= 25
    assert missing_api_pages(built_html, names) == []


def test_the_page_check_notices_a_missing_page(built_html):
    names = {"ensemblekit.tuning": ["BayesSearchCV", "NotAName"]}
    assert missing_api_pages(built_html, names) == ["ensemblekit.tuning.NotAName"]


def test_user_guide_and_gallery_are_built(built_html):
    for page in ("estimators", "ensembles", "tuning", "house_prices"):
        assert (built_html / "user_guide" / f"{page}.html").exists(), page
    # the small examples ran (their figures are in the pages), house_prices is shown unrun
    for example in ("lr_schedules", "bayes_vs_random", "stacking_vs_sklearn"):
        assert (built_html / "_images" / f"sphx_glr_{example}_001.png").stat().st_size > 10_000
    assert (built_html / "auto_examples" / "house_prices.html").exists()
    assert not (built_html / "_images" / "sphx_glr_house_prices_001.png").exists()
