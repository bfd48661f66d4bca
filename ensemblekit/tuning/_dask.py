"""Run searches (and any joblib-parallel ensemblekit code) on a Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def dask_client(
    address: str | None = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    scatter: list | None = None,
    retries: int = 0,
    **cluster_kwargs: Any,
) -> Iterator[Any]:
    """Connect joblib to a Dask cluster for the duration of a ``with`` block.

    Inside the block every ``joblib.Parallel`` (the searches' trials and folds, the ensembles'
    base models) runs on the cluster. Searches choose their proposals independently of the
    backend, so results equal those of ``n_jobs=1`` with the same ``random_state`` and
    ``n_points``. Lost tasks of a dying worker are recomputed by Dask; finished trials are also
    in the search's ``storage`` if one is given.

    Parameters
    ----------
    address : str, default=None
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"``. ``None`` starts a
        ``dask.distributed.LocalCluster`` that is closed when the block exits.
    n_workers : int, default=None
        Workers of the local cluster (Dask's default when None). Ignored with ``address``.
    threads_per_worker : int, default=1
        One thread per worker avoids GIL contention between fits (dask-ml#149).
    processes : bool, default=True
        Process-based local workers.
    scatter : list, default=None
        Objects (typically ``[X, y]``) sent to every worker once instead of with every task.
    retries : int, default=0
        Extra attempts for a task that raised on a worker (joblib's Dask backend option).
    **cluster_kwargs
        More keyword arguments for ``LocalCluster`` (e.g. ``memory_limit``,
        ``dashboard_address``).

    Yields
    ------
    client : dask.distributed.Client

    Examples
    --------
    >>> from ensemblekit.tuning import BayesSearchCV, dask_client   # doctest: +SKIP
    >>> with dask_client(n_workers=4) as client:                      # doctest: +SKIP
    ...     search = BayesSearchCV(model, space, n_iter=40, n_points=4).fit(X, y)
    >>> with dask_client("tcp://scheduler:8786", scatter=[X, y]):   # doctest: +SKIP
    ...     search.fit(X, y)
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "dask_client needs dask.distributed: pip install 'ensemblekit[dask]'"
        ) from exc
    import joblib

    cluster = None
    if address is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=processes,
            **cluster_kwargs,
        )
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        config: dict[str, Any] = {"backend": "dask"}
        if scatter is not None:
            config["scatter"] = scatter
        if retries:
            config["retries"] = retries
        with joblib.parallel_config(**config):
            yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
