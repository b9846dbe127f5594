"""gammax: gamma-ray astronomy on xarray, dask and zarr.

Examples
--------
>>> import gammax
>>> store = gammax.open_datastore("../shared/data/hess-dl3-dr1")  # doctest: +SKIP
>>> events = store.events()  # lazy xr.Dataset with dim "event"  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import config, dims, errors
from .data import DataStore, Observation, open_datastore
from .io.irf_table import read_irf

try:
    __version__ = version("gammax")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "DataStore",
    "Observation",
    "__version__",
    "config",
    "dims",
    "errors",
    "open_datastore",
    "read_irf",
]
