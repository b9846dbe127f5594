"""DL3 -> DL4 data reduction as chunked dask graphs writing Zarr stores.

See :func:`reduce_observations` for the entry point and
:mod:`gammax.reduce.zarr_store` for the layout of the stores it writes.
"""

from __future__ import annotations

from .config import DEFAULT_RAD_AXIS, PRODUCTS, MapReductionConfig
from .observation import ObservationRef, observation_refs, reduce_observation
from .run import ReductionResult, reduce_observations
from .spectrum import SpectrumReductionConfig
from .stack import Accumulator, accumulate, combine, finalize
from .zarr_store import open_observation, open_stacked

__all__ = [
    "DEFAULT_RAD_AXIS",
    "PRODUCTS",
    "Accumulator",
    "MapReductionConfig",
    "ObservationRef",
    "ReductionResult",
    "SpectrumReductionConfig",
    "accumulate",
    "combine",
    "finalize",
    "observation_refs",
    "open_observation",
    "open_stacked",
    "reduce_observation",
    "reduce_observations",
]
