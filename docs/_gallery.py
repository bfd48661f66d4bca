"""Command-line arguments of the examples when the documentation gallery runs them."""

from __future__ import annotations

import tempfile


def example_argv(gallery_conf, script_vars) -> list[str]:
    """Quick settings, and outputs in a throw-away folder rather than under ``runs/``."""
    return ["--quick", "--out", tempfile.mkdtemp(prefix="ensemblekit-gallery-")]
