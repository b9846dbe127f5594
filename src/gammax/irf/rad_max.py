"""Energy-dependent ON-region radius of point-like IRFs (``rad_max_2d``)."""

from __future__ import annotations

from typing import Any

import xarray as xr

from .. import dims as D
from .interpolate import interpolate

__all__ = ["evaluate_rad_max"]


def evaluate_rad_max(
    rad_max: xr.Dataset,
    energy: Any = None,
    offset: Any = None,
    *,
    extrapolate: str = "raise",
) -> xr.DataArray:
    """Selection radius at reconstructed energies and offsets.

    Interpolation is log in energy and linear in offset and value, as Gammapy's
    ``RadMax2D`` read from a DL3 file; ``extrapolate="fill"`` gives zero
    outside the table, as Gammapy does.
    """
    coords = {D.ENERGY: energy, D.OFFSET: offset}
    return interpolate(rad_max, "rad_max", coords, extrapolate=extrapolate)
