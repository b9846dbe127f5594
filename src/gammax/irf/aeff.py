"""Effective area (``aeff_2d``): evaluation on arbitrary true energies and offsets."""

from __future__ import annotations

from typing import Any

import xarray as xr

from .. import dims as D
from .interpolate import interpolate

__all__ = ["evaluate_aeff"]


def evaluate_aeff(
    aeff: xr.Dataset,
    energy_true: Any = None,
    offset: Any = None,
    *,
    extrapolate: str = "raise",
) -> xr.DataArray:
    """Effective area at true energies and FoV offsets.

    Interpolation is log in energy, linear in offset and linear in value, as
    Gammapy's ``EffectiveAreaTable2D``.

    Parameters
    ----------
    aeff : xarray.Dataset
        An ``aeff_2d`` IRF (``DataStore.irf(obs_id, "aeff")``).
    energy_true, offset : DataArray, Quantity or number, optional
        Coordinates; omitted ones default to the IRF's own bin centres.
    extrapolate : {"raise", "fill", "extrapolate", "clip"}
        Outside the IRF's bins; ``"fill"`` gives zero there (Gammapy's behaviour).

    Returns
    -------
    xarray.DataArray
        Effective area, ``attrs["units"]`` as in the file (usually ``m2``).

    Examples
    --------
    >>> import astropy.units as u
    >>> evaluate_aeff(aeff, [1, 10] * u.TeV, 0.5 * u.deg)  # doctest: +SKIP
    """
    coords = {D.ENERGY_TRUE: energy_true, D.OFFSET: offset}
    return interpolate(aeff, "aeff", coords, extrapolate=extrapolate)
