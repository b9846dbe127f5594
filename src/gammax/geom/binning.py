"""Binning events into a geometry: a histogram, chunked over events with dask.

Each chunk of events becomes flat bin indices (sky pixel and axis bins folded
into one integer; events outside the map go to a dump bin), and one
``np.bincount`` per chunk counts them. With dask, chunks are histogrammed in
parallel and the per-chunk histograms are summed by a tree reduction.

Within a chunk the arithmetic runs on blocks of 65536 events so that the
temporaries stay in the CPU cache (this is a loop over blocks of events, not
over events); the sky -> pixel step uses the fast projection of
:mod:`gammax.geom.projection`.

Bin assignment follows Gammapy: a pixel ``i`` holds pixel coordinates in
``[i - 0.5, i + 0.5)`` (``floor(p + 0.5)``), an axis bin ``[edge_i, edge_i+1)``.

Examples
--------
>>> import numpy as np
>>> from gammax.geom import MapAxis, WcsGeom
>>> geom = WcsGeom.create(skydir=(83.6, 22.0), npix=(10, 10), binsz=0.1, proj="TAN",
...                       axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)])
>>> events = {"ra": [83.6, 83.6, 90.0], "dec": [22.0, 22.0, 22.0], "energy": [2.0, 5.0, 2.0]}
>>> counts = bin_events(events, geom)
>>> int(counts.sum()), counts.dims
(2, ('energy', 'y', 'x'))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..errors import GeometryError
from ..units import parse_unit
from . import _kernel
from .axes import MapAxis, TimeAxis
from .base import Geom
from .hpx import HpxGeom
from .wcs import WcsGeom

__all__ = ["bin_events", "bin_pixels", "histogram_indices"]

_BLOCK = 32768  # 256 kB float64 temporaries: they stay in the L2 cache
_LON_NAMES = ("ra", "RA", "lon", "glon", "GLON")
_LAT_NAMES = ("dec", "DEC", "lat", "glat", "GLAT")


@dataclass(frozen=True)
class _Plan:
    """Everything a task needs to histogram a chunk; small and picklable."""

    geom: Geom
    frame: str
    #: per non-spatial axis: (scale, offset) applied to the column values
    transforms: tuple[tuple[float, float], ...]
    weighted: bool

    @property
    def nbins(self) -> int:
        return int(np.prod(self.geom.shape))

    def __dask_tokenize__(self):
        return (
            "gammax-bin-plan",
            self.geom.__dask_tokenize__(),
            self.frame,
            self.transforms,
            self.weighted,
        )


def _axis_index(axis, values, transform) -> np.ndarray:
    scale, offset = transform
    if scale != 1.0 or offset != 0.0:
        values = values * scale + offset
    return axis.coord_to_idx(values)


def _flat_indices(plan: _Plan, lon, lat, axis_values) -> np.ndarray:
    """Flat bin index of each event (``plan.nbins`` for events outside the map)."""
    geom = plan.geom
    if isinstance(geom, WcsGeom) and _kernel.supports(geom):
        return _kernel.wcs_flat_indices(plan, lon, lat, axis_values)
    return _generic_flat_indices(plan, lon, lat, axis_values)


def _generic_flat_indices(plan: _Plan, lon, lat, axis_values) -> np.ndarray:
    """:func:`_flat_indices` through the public transforms, any geometry."""
    geom = plan.geom
    n = lon.shape[0]
    out = np.empty(n, dtype=np.intp)
    sky_size = int(np.prod(geom.sky_shape)) if geom.sky_shape else 1
    strides = []
    stride = sky_size
    for axis in reversed(geom.axes):
        strides.append(stride)
        stride *= axis.nbin
    strides = strides[::-1]
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        blon, blat = lon[start:stop], lat[start:stop]
        if isinstance(geom, WcsGeom):
            x, y = geom.world_to_pix(blon, blat, plan.frame)
            nx, ny = geom.npix
            x += 0.5
            y += 0.5
            np.floor(x, out=x)
            np.floor(y, out=y)
            with np.errstate(invalid="ignore"):
                valid = (x >= 0) & (x < nx)
                valid &= y >= 0
                valid &= y < ny
            y *= nx
            y += x
            flat = y
        elif isinstance(geom, HpxGeom):
            local = geom.world_to_local(blon, blat, plan.frame)
            valid = local >= 0
            flat = local.astype(float)
        else:  # RegionGeom
            valid = geom.contains({"lon": blon, "lat": blat, "frame": plan.frame})
            flat = np.zeros(stop - start)
        for axis, values, transform, axis_stride in zip(
            geom.axes, axis_values, plan.transforms, strides, strict=True
        ):
            k = _axis_index(axis, values[start:stop], transform)
            valid &= k >= 0
            flat += k * float(axis_stride)
        out[start:stop] = np.where(valid, flat, plan.nbins)
    return out


def histogram_indices(
    flat: np.ndarray, nbins: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """``np.bincount`` of flat indices, dropping the dump bin ``nbins``."""
    counts = np.bincount(flat, weights=weights, minlength=nbins + 1)
    return counts[:nbins]


def _hist_chunk(plan: _Plan, lon, lat, *rest) -> np.ndarray:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    nax = len(plan.geom.axes)
    axis_values = [np.asarray(v) for v in rest[:nax]]
    weights = np.asarray(rest[nax], dtype=float) if plan.weighted else None
    flat = _flat_indices(plan, lon, lat, axis_values)
    return histogram_indices(flat, plan.nbins, weights)


def _hist_block(*arrays, plan: _Plan):
    return _hist_chunk(plan, *arrays)[None, :]


def _column(events: Any, names: tuple[str, ...], what: str):
    for name in names:
        if name in events:
            return events[name]
    available = list(events.keys()) if hasattr(events, "keys") else list(events)
    raise GeometryError(f"events have no {what} column; looked for {names}, got {available}")


def _raw(values: Any):
    """The numpy or dask array behind a column (DataArray, quantity or array-like)."""
    if isinstance(values, xr.DataArray):
        return values.data
    if hasattr(values, "unit") and hasattr(values, "value"):
        return values.value
    if hasattr(values, "__dask_graph__"):
        return values
    return np.asarray(values)


def _axis_transform(axis, values: Any) -> tuple[float, float]:
    """Affine map from the column's numbers to the axis' numbers."""
    from astropy.time import Time

    if isinstance(values, Time):
        raise GeometryError("pass event times as offsets with reference attrs, not Time")
    unit = None
    attrs: Mapping[str, Any] = {}
    if isinstance(values, xr.DataArray):
        attrs = values.attrs
        unit = attrs.get("units", attrs.get("unit"))
    elif hasattr(values, "unit"):
        unit = values.unit
    if isinstance(axis, TimeAxis):
        col_unit = parse_unit(unit or "s")
        scale = float(col_unit.to(axis.unit))
        if "MJDREFI" in attrs or "reference_mjd" in attrs:
            if "reference_mjd" in attrs:
                mjdi, mjdf = attrs["reference_mjd"]
            else:
                mjdi, mjdf = attrs["MJDREFI"], attrs.get("MJDREFF", 0.0)
            days = (float(mjdi) - axis.reference_mjd[0]) + (float(mjdf) - axis.reference_mjd[1])
            offset = float((days * parse_unit("d")).to_value(axis.unit))
        else:
            offset = 0.0
        return scale, offset
    if isinstance(axis, MapAxis) and unit is not None and axis.unit:
        return float(parse_unit(unit).to(axis.unit)), 0.0
    return 1.0, 0.0


def bin_events(
    events: Any,
    geom: Geom,
    *,
    lon: str | None = None,
    lat: str | None = None,
    frame: str = "icrs",
    columns: Mapping[str, str] | None = None,
    weights: str | None = None,
    name: str = "counts",
    split_every: int = 8,
) -> xr.DataArray:
    """Histogram events into a geometry.

    Parameters
    ----------
    events : xarray.Dataset or mapping
        Event columns along one dimension: numpy, dask or DataArray values.
        DataArray ``attrs["units"]`` are converted to the axis units; times
        are offsets whose reference is in ``attrs`` (``MJDREFI``/``MJDREFF``
        as in GADF, or ``reference_mjd``).
    geom : WcsGeom, HpxGeom or RegionGeom
        Target geometry. Every non-spatial axis needs a column.
    lon, lat : str, optional
        Sky column names (degrees in ``frame``); default ``ra``/``RA`` and ``dec``/``DEC``.
    frame : str
        Frame of the sky columns.
    columns : mapping, optional
        Column name per axis name; default the axis name or its upper case.
    weights : str, optional
        Column of event weights; the result is then float64.
    name : str
        Name of the result.
    split_every : int
        Fan-in of the dask tree reduction.

    Returns
    -------
    xarray.DataArray
        Counts on ``geom`` (int64, or float64 with weights); dask-backed, not
        computed, if any column is a dask array.
    """
    columns = dict(columns or {})
    lon_col = _column(events, (lon,) if lon else _LON_NAMES, "longitude")
    lat_col = _column(events, (lat,) if lat else _LAT_NAMES, "latitude")
    axis_cols, transforms = [], []
    for axis in geom.axes:
        names = (columns[axis.name],) if axis.name in columns else (axis.name, axis.name.upper())
        col = _column(events, names, f"{axis.name!r} axis")
        axis_cols.append(col)
        transforms.append(_axis_transform(axis, col))
    arrays = [_raw(lon_col), _raw(lat_col)] + [_raw(c) for c in axis_cols]
    if weights is not None:
        arrays.append(_raw(_column(events, (weights,), "weights")))
    plan = _Plan(geom, frame, tuple(transforms), weights is not None)
    dtype = np.float64 if weights is not None else np.int64

    if any(hasattr(a, "__dask_graph__") for a in arrays):
        import dask.array as dsa

        arrays = [
            a if hasattr(a, "__dask_graph__") else dsa.from_array(a, chunks=-1) for a in arrays
        ]
        pairs = [item for a in arrays for item in (a, "i")]
        arrays = list(dsa.core.unify_chunks(*pairs)[1])
        nblocks = arrays[0].numblocks[0]
        parts = dsa.map_blocks(
            _hist_block,
            *arrays,
            plan=plan,
            dtype=dtype,
            new_axis=1,
            chunks=((1,) * nblocks, (plan.nbins,)),
            meta=np.empty((0, 0), dtype=dtype),
            name="gammax-bin-events",
        )
        data = parts.sum(axis=0, split_every=split_every, dtype=dtype).reshape(geom.shape)
    else:
        data = _hist_chunk(plan, *arrays).astype(dtype, copy=False).reshape(geom.shape)
    return geom.wrap(data, unit="", name=name)


def bin_pixels(
    indices: Mapping[str, Any], geom: Geom, weights: Any = None, name: str = "counts"
) -> xr.DataArray:
    """Histogram integer pixel/bin indices (by dim name, ``-1`` = outside) into ``geom``.

    This is the counting stage of :func:`bin_events` alone, for indices computed
    elsewhere (e.g. with ``geom.coord_to_idx``).
    """
    shape = geom.shape
    idx = [np.asarray(indices[d]) for d in geom.dims]
    valid = np.all(np.stack([(i >= 0) & (i < n) for i, n in zip(idx, shape, strict=True)]), axis=0)
    flat = np.ravel_multi_index([np.where(valid, i, 0) for i in idx], shape)
    nbins = int(np.prod(shape))
    flat = np.where(valid, flat, nbins)
    w = None if weights is None else np.asarray(weights, dtype=float)
    counts = histogram_indices(flat, nbins, w)
    return geom.wrap(counts.reshape(shape), name=name)
