"""Where an analysis computes: the ``compute`` section as a dask scheduler or client.

- ``threads`` (default) and ``synchronous``: dask's local schedulers, set with
  :func:`dask.config.set` for the duration of the run (``n_workers`` threads);
- ``processes``: a :class:`distributed.LocalCluster` of ``n_workers`` worker
  processes with ``memory_limit`` each, and a client on it;
- an address (``tcp://host:8786``): a client of that running scheduler.

Examples
--------
>>> from gammax.analysis import AnalysisConfig
>>> with compute_context(AnalysisConfig().compute) as client:
...     client is None
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import dask

from ..errors import ConfigError

__all__ = ["compute_context", "describe"]


@contextlib.contextmanager
def compute_context(compute: Any, client: Any = None) -> Iterator[Any]:
    """Yield the ``distributed.Client`` to pass as ``client=`` (or None for local runs).

    Parameters
    ----------
    compute : ConfigSection
        The ``compute`` section.
    client : distributed.Client, optional
        A client given by the caller: used as is (and not closed).
    """
    if client is not None:
        yield client
        return
    scheduler = compute.scheduler
    if scheduler in ("threads", "synchronous"):
        options: dict[str, Any] = {"scheduler": scheduler}
        if scheduler == "threads" and compute.n_workers is not None:
            options["num_workers"] = compute.n_workers
        with dask.config.set(options):
            yield None
        return
    from distributed import Client, LocalCluster

    if scheduler == "processes":
        kwargs: dict[str, Any] = {"processes": True, "threads_per_worker": 1}
        if compute.n_workers is not None:
            kwargs["n_workers"] = compute.n_workers
        if compute.memory_limit is not None:
            kwargs["memory_limit"] = compute.memory_limit
        with LocalCluster(dashboard_address=":0", **kwargs) as cluster, Client(cluster) as c:
            yield c
        return
    try:
        c = Client(scheduler, timeout="10s")
    except OSError as err:
        raise ConfigError(
            f"compute.scheduler: cannot connect to the dask scheduler at {scheduler!r} ({err})"
        ) from None
    try:
        yield c
    finally:
        c.close()


def describe(client: Any, compute: Any) -> str:
    """One line naming where the run computed."""
    if client is None:
        n = compute.n_workers
        return f"local dask scheduler {compute.scheduler!r}" + (f", {n} workers" if n else "")
    info = client.scheduler_info()
    return f"distributed scheduler {info.get('address')} ({len(info.get('workers', {}))} workers)"
