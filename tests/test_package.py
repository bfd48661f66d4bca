import importlib

import ensemblekit


def test_subpackages_import_lazily():
    assert ensemblekit.__version__
    for name in ("datasets", "estimators", "ensembles", "tuning"):
        mod = importlib.import_module(f"ensemblekit.{name}")
        assert getattr(ensemblekit, name) is mod
