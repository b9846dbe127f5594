"""Map-based IRFs (HAWC's ``psf_map_reco``, ``edisp_kernel_map``, ``map`` aeff/bkg).

A map IRF is a GADF map file (WCS image plus BANDS table) holding the response
on a coarse sky grid. It becomes an :class:`xarray.Dataset` with one variable
named after the HDU type (``psf``, ``edisp``, ``aeff``, ``bkg``) on its map
geometry (``ds.gx.geom``), with CF bounds for the non-spatial axes.

:func:`evaluate_map_irf` evaluates it at arbitrary sky positions and axis
values: multilinear interpolation in pixel coordinates (so energy axes
interpolate in log, as in Gammapy's ``Map.interp_by_coord``), with the same
explicit extrapolation modes as the table IRFs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.interpolate import RegularGridInterpolator

from ..errors import ExtrapolationError
from ..units import to_dataarray
from .interpolate import EXTRAPOLATE_MODES

__all__ = ["MAP_IRF_CLASSES", "evaluate_map_irf", "read_map_irf"]

#: HDU classes of map-based IRFs.
MAP_IRF_CLASSES = ("map", "edisp_kernel_map", "edisp_map", "psf_map_reco", "psf_map")


def read_map_irf(
    path: str | os.PathLike,
    hdu: str | int | None,
    *,
    hdu_type: str,
    hdu_class: str,
    obs_id: int | None = None,
) -> xr.Dataset:
    """Read a map-based IRF into a Dataset with variable ``hdu_type``.

    Parameters
    ----------
    path : path-like
        GADF map file.
    hdu : str or int, optional
        HDU of the map data (the index's ``HDU_NAME``; the file's first data HDU
        if it is not there, as HAWC's index names HDUs ``psf``, ``edisp``...).
    hdu_type, hdu_class : str
        From the HDU index (e.g. ``"psf"``, ``"psf_map_reco"``).
    obs_id : int, optional
        For error messages and attrs.
    """
    from ..geom.fits import read_map
    from ..io.fits import get_hdu, open_fits

    path = Path(path)
    use_hdu = hdu
    if isinstance(hdu, str):
        with open_fits(path, obs_id=obs_id, hdu=hdu) as hdul:
            names = [h.name.upper() for h in hdul]
        if hdu.upper() not in names:
            use_hdu = None  # HAWC's index names HDUs by type, the files by EXTNAME
        else:
            with open_fits(path, obs_id=obs_id, hdu=hdu) as hdul:
                get_hdu(hdul, hdu, path=path, obs_id=obs_id)
    values = read_map(path, use_hdu)
    ds = xr.Dataset({hdu_type: values}).gx.add_bounds()
    ds.attrs.update(
        {
            "hdu_class": hdu_class,
            "hdu_type": hdu_type,
            "source_file": str(path),
            "source_hdu": hdu if hdu is not None else "",
        }
    )
    if obs_id is not None:
        ds.attrs["obs_id"] = int(obs_id)
    return ds


def _map_kernel(*args, geom, axis_names, frame, mode, fill_value, context):
    *points, table = args
    lon, lat, *axis_values = (np.asarray(p, dtype=float) for p in points)
    arrays = np.broadcast_arrays(lon, lat, *axis_values)
    lon, lat, axis_values = arrays[0], arrays[1], arrays[2:]
    table = np.asarray(table, dtype=float)
    table = table.reshape(table.shape[-len(geom.shape) :])
    pix = geom.coord_to_pix(
        {"lon": lon, "lat": lat, "frame": frame, **dict(zip(axis_names, axis_values, strict=True))}
    )
    dims = geom.dims
    pix_list = [np.asarray(pix[d], dtype=float) for d in dims]
    outside = np.zeros(lon.shape, dtype=bool)
    for dim, p, size in zip(dims, pix_list, geom.shape, strict=True):
        with np.errstate(invalid="ignore"):
            out = ~(p >= -0.5) | (p > size - 0.5)
        if mode == "raise" and out.any():
            raise ExtrapolationError(
                f"{int(out.sum())} coordinate(s) outside the map along {dim!r}; pass "
                "extrapolate='fill', 'clip' or 'extrapolate' to allow it",
                **context,
            )
        outside |= out
    if mode == "clip":
        pix_list = [
            np.clip(p, -0.5, size - 0.5) for p, size in zip(pix_list, geom.shape, strict=True)
        ]
    include = [size > 1 for size in geom.shape]
    values = table.reshape([s for s, inc in zip(table.shape, include, strict=True) if inc])
    grid = [np.arange(s, dtype=float) for s, inc in zip(geom.shape, include, strict=True) if inc]
    interp = RegularGridInterpolator(grid, values, bounds_error=False, fill_value=None)
    flat = np.stack([p.ravel() for p, inc in zip(pix_list, include, strict=True) if inc], axis=-1)
    with np.errstate(invalid="ignore"):
        result = interp(flat).reshape(lon.shape)
    if mode == "fill":
        result = np.where(outside | ~np.isfinite(result), fill_value, result)
    return result


def evaluate_map_irf(
    irf: xr.Dataset,
    lon: Any,
    lat: Any,
    *,
    frame: str = "icrs",
    extrapolate: str = "raise",
    fill_value: float = 0.0,
    **axis_coords: Any,
) -> xr.DataArray:
    """Evaluate a map-based IRF at sky positions and axis values.

    Parameters
    ----------
    irf : xarray.Dataset
        As :func:`read_map_irf` returns.
    lon, lat : DataArray, Quantity or number
        Sky positions (deg) in ``frame``.
    frame : str
        Frame of ``lon``/``lat`` (``"icrs"`` or ``"galactic"``).
    extrapolate : {"raise", "fill", "extrapolate", "clip"}
        Outside the map's pixels and bins.
    fill_value : float
        Used by ``extrapolate="fill"``.
    **axis_coords
        One value per non-spatial axis of the map (e.g. ``energy``, ``rad``);
        an axis not given is evaluated at its own bin centres.

    Returns
    -------
    xarray.DataArray
        Interpolated values, units of the map.
    """
    if extrapolate not in EXTRAPOLATE_MODES:
        raise ValueError(f"extrapolate={extrapolate!r}; expected one of {EXTRAPOLATE_MODES}")
    var = irf.attrs["hdu_type"]
    table = irf[var]
    geom = table.gx.geom
    names = [a.name for a in geom.axes]
    unknown = set(axis_coords) - set(names)
    if unknown:
        raise ValueError(f"{var} map has no axis {sorted(unknown)}; its axes are {names}")
    points = [to_dataarray(lon, "deg", name="lon"), to_dataarray(lat, "deg", name="lat")]
    for axis in geom.axes:
        value = axis_coords.get(axis.name)
        if value is None:
            value = irf[axis.name]
        points.append(
            to_dataarray(value, irf[axis.name].attrs.get("units"), dim=axis.name, name=axis.name)
        )
    core = [f"_{d}_node" for d in geom.dims]
    values = table.reset_coords(drop=True).rename(dict(zip(geom.dims, core, strict=True)))
    values = values.drop_vars(list(values.coords))
    context: Mapping[str, Any] = {
        "file": irf.attrs.get("source_file"),
        "hdu": irf.attrs.get("source_hdu") or None,
        "obs_id": irf.attrs.get("obs_id"),
    }
    result = xr.apply_ufunc(
        _map_kernel,
        *points,
        values,
        input_core_dims=[[]] * len(points) + [core],
        output_core_dims=[[]],
        dask="parallelized",
        output_dtypes=[np.float64],
        keep_attrs=True,
        kwargs={
            "geom": geom,
            "axis_names": tuple(names),
            "frame": frame,
            "mode": extrapolate,
            "fill_value": float(fill_value),
            "context": dict(context),
        },
    )
    result.attrs = {"units": table.attrs.get("units", "")}
    return result.rename(var)
