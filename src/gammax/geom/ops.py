"""Cutouts, padding, downsampling and upsampling of WCS maps (numpy or dask).

Every function takes a map (DataArray) and returns a new map whose geometry
coordinates describe the result; nothing is computed for dask-backed maps.
Semantics follow Gammapy's ``WcsNDMap`` methods of the same names.

Examples
--------
>>> import numpy as np
>>> from gammax.geom import WcsGeom
>>> m = WcsGeom.create(npix=(8, 4), binsz=0.1).wrap(np.ones((4, 8)))
>>> downsample(m, 2).shape
(2, 4)
>>> float(downsample(m, 2).sum())
32.0
>>> pad(m, 1).gx.geom.npix
(10, 6)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import dims as _dims
from ..errors import GeometryError
from .accessor import geom_of, rewrap
from .wcs import WcsGeom

__all__ = ["crop", "cutout", "downsample", "pad", "upsample"]


def _wcs_geom(da: xr.DataArray) -> WcsGeom:
    geom = geom_of(da)
    if not isinstance(geom, WcsGeom):
        raise GeometryError(f"this operation needs a WCS map, got a {type(geom).__name__}")
    return geom


def _plain(da: xr.DataArray) -> xr.DataArray:
    return xr.DataArray(da.data, dims=da.dims)


def _is_dask(data: Any) -> bool:
    return hasattr(data, "__dask_graph__")


def _pad_data(data: Any, widths: list[tuple[int, int]], mode: str, cval: float):
    if _is_dask(data):
        import dask.array as dsa

        module = dsa
    else:
        module = np
    if mode == "constant":
        return module.pad(data, widths, mode="constant", constant_values=cval)
    if mode in ("edge", "reflect", "symmetric", "wrap"):
        return module.pad(data, widths, mode=mode)
    raise GeometryError(f"pad mode {mode!r} is not one of constant, edge, reflect, symmetric, wrap")


def pad(
    da: xr.DataArray, width: int | tuple[int, int], mode: str = "constant", cval: float = 0
) -> xr.DataArray:
    """Grow the image by ``width`` pixels on each side (``(x, y)`` pair allowed)."""
    geom = _wcs_geom(da)
    wx, wy = (int(width), int(width)) if np.isscalar(width) else (int(width[0]), int(width[1]))
    widths = [(0, 0)] * (da.ndim - 2) + [(wy, wy), (wx, wx)]
    return rewrap(da, geom.pad((wx, wy)), _pad_data(da.data, widths, mode, cval))


def crop(da: xr.DataArray, width: int | tuple[int, int]) -> xr.DataArray:
    """Shrink the image by ``width`` pixels on each side."""
    geom = _wcs_geom(da)
    wx, wy = (int(width), int(width)) if np.isscalar(width) else (int(width[0]), int(width[1]))
    data = da.isel({_dims.Y: slice(wy, geom.npix[1] - wy), _dims.X: slice(wx, geom.npix[0] - wx)})
    return rewrap(da, geom.crop((wx, wy)), data.data)


def cutout(
    da: xr.DataArray, position: Any, width: Any, mode: str = "trim", cval: float = 0.0
) -> xr.DataArray:
    """Cut a rectangle of ``width`` (degrees, or a ``(lon, lat)`` pair) around ``position``.

    Parameters
    ----------
    da : DataArray
        WCS map.
    position : SkyCoord
        Centre of the cutout.
    width : float, str, Quantity or pair
        Size of the cutout.
    mode : {"trim", "partial", "strict"}
        As astropy's ``Cutout2D``: ``"partial"`` keeps the full size and fills
        pixels outside the map with ``cval``; ``"strict"`` raises unless fully inside.
    cval : float
        Fill value for ``mode="partial"`` (0, as Gammapy; NaN may suit intensities).
    """
    geom = _wcs_geom(da)
    slices = geom.cutout_slices(position, width, mode=mode)
    ys, xs = slices[_dims.Y], slices[_dims.X]
    new_geom = geom.slice_pixels(xs.start, ys.start, xs.stop - xs.start, ys.stop - ys.start)
    lo_y, hi_y = max(-ys.start, 0), max(ys.stop - geom.npix[1], 0)
    lo_x, hi_x = max(-xs.start, 0), max(xs.stop - geom.npix[0], 0)
    inner = da.isel(
        {
            _dims.Y: slice(max(ys.start, 0), min(ys.stop, geom.npix[1])),
            _dims.X: slice(max(xs.start, 0), min(xs.stop, geom.npix[0])),
        }
    ).data
    if lo_y or hi_y or lo_x or hi_x:
        widths = [(0, 0)] * (da.ndim - 2) + [(lo_y, hi_y), (lo_x, hi_x)]
        inner = _pad_data(inner, widths, "constant", cval)
    return rewrap(da, new_geom, inner)


def downsample(
    da: xr.DataArray, factor: int, preserve_counts: bool = True, axis_name: str | None = None
) -> xr.DataArray:
    """Merge ``factor`` x ``factor`` pixels (or ``factor`` bins of ``axis_name``).

    ``preserve_counts=True`` sums (for counts); False averages (for intensities).
    NaN values are skipped in the sums, as Gammapy's ``nansum``.
    """
    geom = geom_of(da)
    factor = int(factor)
    if axis_name is None:
        wcs = _wcs_geom(da)
        new_geom = wcs.downsample(factor)
        window = {_dims.Y: factor, _dims.X: factor}
        norm = factor * factor
    else:
        axis = geom.axis(axis_name)
        new_geom = geom.replace_axis(axis.downsample(factor))
        window = {axis_name: factor}
        norm = factor
    summed = _plain(da).coarsen(window, boundary="exact").sum()
    data = summed.data if preserve_counts else summed.data / norm
    return rewrap(da, new_geom, data)


def _upsample_positions(n: int, factor: int, order: int):
    """Source positions of the upsampled pixels, for nearest or linear (edge-clamped)."""
    pix = (np.arange(n * factor) - 0.5 * (factor - 1)) / factor
    if order == 0:
        idx = np.clip(np.floor(pix + 0.5).astype(np.intp), 0, n - 1)
        return idx, idx, np.zeros(pix.size)
    if order != 1:
        raise GeometryError(f"upsample order must be 0 or 1, got {order}")
    pix = np.clip(pix, 0, n - 1)
    i0 = np.clip(np.floor(pix).astype(np.intp), 0, max(n - 2, 0))
    i1 = np.minimum(i0 + 1, n - 1)
    return i0, i1, pix - i0


def upsample(
    da: xr.DataArray,
    factor: int,
    preserve_counts: bool = True,
    order: int = 0,
    axis_name: str | None = None,
) -> xr.DataArray:
    """Split pixels (or bins of ``axis_name``) into ``factor`` (x ``factor``) smaller ones.

    ``order=0`` repeats values, ``order=1`` interpolates linearly (clamped at the
    edges, Gammapy's ``mode="nearest"``). With ``preserve_counts`` the values
    are scaled by the ratio of new to old pixel solid angles (bin widths).
    """
    geom = geom_of(da)
    factor = int(factor)
    out = da
    if axis_name is None:
        wcs = _wcs_geom(da)
        new_geom = wcs.upsample(factor)
        if preserve_counts:
            out = out / wcs.solid_angle().data
        for dim, n in ((_dims.Y, wcs.npix[1]), (_dims.X, wcs.npix[0])):
            out = _resample_dim(out, dim, n, factor, order)
        if preserve_counts:
            out = out * new_geom.solid_angle().data
    else:
        axis = geom.axis(axis_name)
        new_axis = axis.upsample(factor)
        new_geom = geom.replace_axis(new_axis)
        shape = [1] * da.ndim
        shape[da.dims.index(axis_name)] = -1
        if preserve_counts:
            out = out / np.asarray(axis.bin_width).reshape(shape)
        out = _resample_dim(out, axis_name, axis.nbin, factor, order)
        if preserve_counts:
            out = out * np.asarray(new_axis.bin_width).reshape(shape)
    return rewrap(da, new_geom, out.data.astype(da.dtype, copy=False))


def _resample_dim(da: xr.DataArray, dim: str, n: int, factor: int, order: int):
    i0, i1, t = _upsample_positions(n, factor, order)
    plain = da.drop_vars([c for c in da.coords if dim in da.coords[c].dims])
    lo = plain.isel({dim: xr.DataArray(i0, dims=(dim,))})
    if order == 0:
        return lo
    hi = plain.isel({dim: xr.DataArray(i1, dims=(dim,))})
    tt = xr.DataArray(t, dims=(dim,))
    return lo * (1 - tt) + hi * tt
