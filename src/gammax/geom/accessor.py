"""The ``.gx`` accessor: the geometry of a map, recovered from the array alone.

Importing :mod:`gammax.geom` registers ``DataArray.gx`` and ``Dataset.gx``.

Examples
--------
>>> import numpy as np
>>> from gammax.geom import WcsGeom
>>> geom = WcsGeom.create(npix=(20, 10), binsz=0.1)
>>> m = geom.wrap(np.ones(geom.shape), unit="cm-2 s-1")
>>> m.isel(x=slice(5, 15)).gx.geom.npix
(10, 10)
>>> m.gx.geom == geom
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import dims as _dims
from ..errors import GeometryError
from ..units import unit_of
from .axes import axis_from_coordinate
from .base import GEOM_COORD, Geom, sky_geom_from_attrs

__all__ = ["GeomAccessor", "GeomDatasetAccessor", "add_bounds", "geom_of"]

_SKY_DIMS = {"wcs": (_dims.Y, _dims.X), "hpx": (_dims.HPX_PIX,), "region": ()}


def _contiguous_start(values: np.ndarray, dim: str) -> int:
    if values.size == 0:
        raise GeometryError(f"sky dim {dim!r} is empty")
    if np.any(np.diff(values) != 1):
        raise GeometryError(
            f"sky dim {dim!r} holds non-contiguous pixels {values[:5].tolist()}...; "
            "a WCS map must keep contiguous, increasing pixels"
        )
    return int(values[0])


def geom_of(obj: xr.DataArray | xr.Dataset) -> Geom:
    """The geometry of a map (DataArray) or of the maps of a Dataset.

    For a Dataset, the axes are all its dims that carry gammax axis coordinates,
    in the order of ``obj.dims``.

    Raises
    ------
    gammax.errors.GeometryError
        If the object has no ``geom`` coordinate, or its coordinates do not fit.
    """
    if GEOM_COORD not in obj.coords:
        raise GeometryError(
            f"object has no {GEOM_COORD!r} coordinate (coords: {list(obj.coords)}); create "
            "maps with a gammax geometry (geom.empty(), geom.wrap(), read_map(), ...)"
        )
    attrs = obj.coords[GEOM_COORD].attrs
    kind = attrs.get("geom_type")
    if kind not in _SKY_DIMS:
        raise GeometryError(f"{GEOM_COORD!r} coordinate has geom_type {kind!r}")
    sky = _SKY_DIMS[kind]
    dims = tuple(obj.dims)
    missing = [d for d in sky if d not in dims]
    if missing:
        raise GeometryError(f"a {kind} map needs dims {sky}; {missing} missing from {dims}")
    if isinstance(obj, xr.DataArray):
        if dims[len(dims) - len(sky) :] != sky:
            raise GeometryError(
                f"sky dims {sky} must be the last dims, got {dims}; use "
                f".transpose(..., {', '.join(repr(d) for d in sky)})"
            )
        axis_dims = dims[: len(dims) - len(sky)]
    else:
        axis_dims = tuple(
            d
            for d in dims
            if d not in sky and d in obj.coords and "axis_type" in obj.coords[d].attrs
        )
    axes = []
    for dim in axis_dims:
        if dim not in obj.coords:
            raise GeometryError(f"dim {dim!r} has no coordinate; every map axis needs one")
        axes.append(axis_from_coordinate(obj.coords[dim]))
    pixels = None
    if kind == "hpx":
        pixels = np.asarray(obj.coords[_dims.HPX_PIX].values)
    geom = sky_geom_from_attrs(attrs, tuple(axes), pixels)
    if kind == "wcs":
        x = np.asarray(obj.coords[_dims.X].values)
        y = np.asarray(obj.coords[_dims.Y].values)
        x0, y0 = _contiguous_start(x, _dims.X), _contiguous_start(y, _dims.Y)
        if (x0, y0) != (0, 0) or (x.size, y.size) != geom.npix:
            geom = geom.slice_pixels(x0, y0, x.size, y.size)
    return geom


def rewrap(like: xr.DataArray, geom: Geom, data: Any, **attrs_update: Any) -> xr.DataArray:
    """A map on ``geom`` holding ``data``, with the name and attributes of ``like``."""
    attrs = dict(like.attrs)
    attrs.update(attrs_update)
    unit = attrs.pop("units", "")
    return geom.wrap(data, unit=unit, name=like.name, attrs=attrs)


def add_bounds(ds: xr.Dataset) -> xr.Dataset:
    """Add CF bounds variables (``<dim>_bounds``) for every binned axis of a Dataset."""
    out = ds.copy()
    for dim in ds.dims:
        if dim not in ds.coords or "axis_type" not in ds.coords[dim].attrs:
            continue
        axis = axis_from_coordinate(ds.coords[dim])
        if not hasattr(axis, "bounds"):
            continue
        name = _dims.bounds_name(str(dim))
        attrs = {"units": ds.coords[dim].attrs["units"]} if "units" in ds.coords[dim].attrs else {}
        out = out.assign_coords({name: ((dim, _dims.BOUNDS), np.asarray(axis.bounds), attrs)})
        out.coords[dim].attrs["bounds"] = name
    return out


@xr.register_dataarray_accessor("gx")
class GeomAccessor:
    """``DataArray.gx``: geometry, units and map operations of a gammax map."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj
        self._geom: Geom | None = None

    @property
    def geom(self) -> Geom:
        """The geometry (rebuilt from the coordinates, cached per object)."""
        if self._geom is None:
            self._geom = geom_of(self._obj)
        return self._geom

    @property
    def unit(self):
        """Astropy unit of the values."""
        return unit_of(self._obj)

    def quantity(self):
        """Values as an astropy Quantity (computes dask arrays)."""
        from ..units import to_quantity

        return to_quantity(self._obj)

    def solid_angle(self, chunks: Any = None) -> xr.DataArray:
        """Solid angle of the sky pixels (sr)."""
        return self.geom.solid_angle(chunks) if chunks is not None else self.geom.solid_angle()

    def sky_coords(self) -> dict[str, xr.DataArray]:
        """``lon``/``lat`` of the pixel centres (degrees, geometry frame)."""
        return self.geom.get_coord()

    def cutout(self, position, width, mode: str = "trim") -> xr.DataArray:
        """See :func:`gammax.geom.ops.cutout`."""
        from .ops import cutout

        return cutout(self._obj, position, width, mode=mode)

    def pad(self, width, mode: str = "constant", cval: float = 0) -> xr.DataArray:
        """See :func:`gammax.geom.ops.pad`."""
        from .ops import pad

        return pad(self._obj, width, mode=mode, cval=cval)

    def downsample(self, factor: int, preserve_counts: bool = True, axis_name=None):
        """See :func:`gammax.geom.ops.downsample`."""
        from .ops import downsample

        return downsample(self._obj, factor, preserve_counts, axis_name)

    def upsample(self, factor: int, preserve_counts: bool = True, order: int = 0, axis_name=None):
        """See :func:`gammax.geom.ops.upsample`."""
        from .ops import upsample

        return upsample(self._obj, factor, preserve_counts, order, axis_name)

    def interp_to_geom(self, geom: Geom, **kwargs) -> xr.DataArray:
        """See :func:`gammax.geom.interp.interp_to_geom`."""
        from .interp import interp_to_geom

        return interp_to_geom(self._obj, geom, **kwargs)

    def reproject_to_geom(self, geom: Geom, **kwargs) -> xr.DataArray:
        """See :func:`gammax.geom.interp.reproject_to_geom`."""
        from .interp import reproject_to_geom

        return reproject_to_geom(self._obj, geom, **kwargs)

    def convolve(self, kernel, **kwargs) -> xr.DataArray:
        """See :func:`gammax.geom.convolve.convolve`."""
        from .convolve import convolve

        return convolve(self._obj, kernel, **kwargs)

    def smooth(self, width, kernel: str = "gauss", **kwargs) -> xr.DataArray:
        """See :func:`gammax.geom.convolve.smooth`."""
        from .convolve import smooth

        return smooth(self._obj, width, kernel=kernel, **kwargs)

    def to_fits(self, path, **kwargs) -> None:
        """See :func:`gammax.geom.fits.write_map`."""
        from .fits import write_map

        write_map(self._obj, path, **kwargs)

    def plot(self, ax=None, **kwargs):
        """See :func:`gammax.geom.plot.plot_map`."""
        from .plot import plot_map

        return plot_map(self._obj, ax=ax, **kwargs)

    def quicklook(self, path=None, **kwargs):
        """See :func:`gammax.geom.plot.quicklook`."""
        from .plot import quicklook

        return quicklook(self._obj, path, **kwargs)


@xr.register_dataset_accessor("gx")
class GeomDatasetAccessor:
    """``Dataset.gx``: the shared geometry of a Dataset of maps, and CF bounds."""

    def __init__(self, obj: xr.Dataset) -> None:
        self._obj = obj

    @property
    def geom(self) -> Geom:
        """Sky geometry with every axis of the Dataset (see :func:`geom_of`)."""
        return geom_of(self._obj)

    def add_bounds(self) -> xr.Dataset:
        """See :func:`add_bounds`."""
        return add_bounds(self._obj)
