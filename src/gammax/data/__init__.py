"""DL3 data access: data stores, observation selection, lazy events, GTIs and pointing."""

from __future__ import annotations

from ..io.time import reference_time, time_attrs, to_time
from .check import check_store
from .index import build_index, read_hdu_index, read_obs_index
from .store import DataStore, HDULocation, Observation, open_datastore

__all__ = [
    "DataStore",
    "HDULocation",
    "Observation",
    "build_index",
    "check_store",
    "open_datastore",
    "read_hdu_index",
    "read_obs_index",
    "reference_time",
    "time_attrs",
    "to_time",
]
