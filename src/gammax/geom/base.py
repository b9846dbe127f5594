"""What every geometry shares: non-spatial axes, dims, shapes and the xarray layout.

A map is an ``xr.DataArray`` with dims ``(axis names..., sky pixel dims...)``.
Its geometry travels in coordinates, all JSON-able, so ``to_zarr`` and a bare
``xr.open_zarr`` keep it:

- a scalar coordinate named :data:`GEOM_COORD` (``"geom"``) whose attributes
  describe the sky part (``geom_type`` ``"wcs"``, ``"hpx"`` or ``"region"`` and
  its parameters, see each geometry's ``sky_attrs``);
- the sky pixel coordinates: integer pixel indices ``x``/``y`` for WCS maps
  (relative to the WCS in the attributes), global HEALPix indices ``hpx_pix``;
- one coordinate per non-spatial axis (bin centres, the axis in its attributes,
  see :mod:`gammax.geom.axes`).

Selections (``isel``/``sel``) keep these consistent: the geometry is always
rebuilt from what the coordinates hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from .. import dims as _dims
from ..errors import GeometryError
from .axes import Axis, LabelAxis, MapAxis, TimeAxis, axis_from_dict

__all__ = ["GEOM_COORD", "Geom", "check_axes", "geom_from_dict", "sky_geom_from_attrs"]

#: Name of the scalar coordinate whose attributes hold the sky geometry.
GEOM_COORD = "geom"


def check_axes(axes: Iterable[Axis] | None, sky_dims: tuple[str, ...]) -> tuple[Axis, ...]:
    """Validate non-spatial axes: known types, unique names, no clash with sky dims."""
    axes = tuple(axes or ())
    names = []
    for axis in axes:
        if not isinstance(axis, MapAxis | LabelAxis | TimeAxis):
            raise GeometryError(
                f"non-spatial axes must be MapAxis, LabelAxis or TimeAxis, got {type(axis)!r}"
            )
        if axis.name in _dims.SKY_DIMS or axis.name == GEOM_COORD:
            raise GeometryError(f"axis name {axis.name!r} is reserved for sky pixel dims")
        names.append(axis.name)
    if len(set(names)) != len(names):
        raise GeometryError(f"axis names must be unique, got {names}")
    return axes


class Geom:
    """Base class of :class:`WcsGeom`, :class:`HpxGeom` and :class:`RegionGeom`."""

    #: Sky pixel dims of the geometry, innermost last.
    sky_dims: ClassVar[tuple[str, ...]] = ()
    axes: tuple[Axis, ...]

    # -- shape --------------------------------------------------------------------
    @property
    def sky_shape(self) -> tuple[int, ...]:
        """Shape of the sky pixel dims."""
        raise NotImplementedError

    @property
    def axis_names(self) -> tuple[str, ...]:
        """Names of the non-spatial axes, outermost first."""
        return tuple(a.name for a in self.axes)

    @property
    def dims(self) -> tuple[str, ...]:
        """Dims of a map on this geometry."""
        return self.axis_names + self.sky_dims

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of a map on this geometry."""
        return tuple(a.nbin for a in self.axes) + self.sky_shape

    @property
    def sizes(self) -> dict[str, int]:
        """Mapping dim -> length."""
        return dict(zip(self.dims, self.shape, strict=True))

    @property
    def is_image(self) -> bool:
        """Whether there are no non-spatial axes."""
        return not self.axes

    def axis(self, name: str) -> Axis:
        """The non-spatial axis called ``name``."""
        for axis in self.axes:
            if axis.name == name:
                return axis
        raise GeometryError(f"geometry has no axis {name!r}; its axes are {self.axis_names}")

    def replace(self, **changes: Any) -> Geom:
        """Copy with some fields changed (dataclass ``replace``)."""
        from dataclasses import replace

        return replace(self, **changes)

    def to_image(self) -> Geom:
        """Same sky pixels, no non-spatial axes."""
        return self.replace(axes=())

    def to_cube(self, axes: Iterable[Axis]) -> Geom:
        """Same sky pixels with ``axes`` (outermost first) prepended to the current axes."""
        return self.replace(axes=tuple(axes) + tuple(self.axes))

    def replace_axis(self, axis: Axis) -> Geom:
        """Copy with the axis of the same name replaced."""
        self.axis(axis.name)
        return self.replace(axes=tuple(axis if a.name == axis.name else a for a in self.axes))

    def drop_axis(self, name: str) -> Geom:
        """Copy without the axis ``name``."""
        self.axis(name)
        return self.replace(axes=tuple(a for a in self.axes if a.name != name))

    def is_allclose(self, other: Geom, rtol: float = 1e-9) -> bool:
        """Same sky pixels and axes, axis edges equal to ``rtol`` (exact for others)."""
        if type(self) is not type(other) or len(self.axes) != len(other.axes):
            return False
        for a, b in zip(self.axes, other.axes, strict=True):
            same = a.is_allclose(b, rtol) if hasattr(a, "is_allclose") else a == b
            if not same:
                return False
        return self.to_image() == other.to_image()

    # -- serialisation -------------------------------------------------------------
    def sky_attrs(self) -> dict[str, Any]:
        """JSON-able attributes of the :data:`GEOM_COORD` coordinate."""
        raise NotImplementedError

    def sky_coords(self) -> dict[str, xr.DataArray]:
        """Coordinates of the sky pixel dims."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description of the whole geometry (sky part and axes)."""
        out = self.sky_attrs()
        out["axes"] = [a.to_dict() for a in self.axes]
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def __dask_tokenize__(self):
        return (type(self).__name__, self.to_json())

    def coords(self) -> dict[str, xr.DataArray]:
        """All coordinates of a map on this geometry (geometry, axes, sky pixels)."""
        out: dict[str, xr.DataArray] = {
            GEOM_COORD: xr.DataArray(np.int8(0), attrs=self.sky_attrs())
        }
        for axis in self.axes:
            out[axis.name] = axis.to_coordinate()
        out.update(self.sky_coords())
        return out

    # -- maps --------------------------------------------------------------------
    def empty(
        self,
        dtype: Any = float,
        unit: str = "",
        name: str | None = None,
        chunks: Mapping[str, int] | int | str | None = None,
        fill_value: Any = 0,
    ) -> xr.DataArray:
        """A map on this geometry filled with ``fill_value``.

        Parameters
        ----------
        dtype : dtype
            Data type.
        unit : str
            Value of ``attrs["units"]``.
        name : str, optional
            Name of the DataArray.
        chunks : mapping, int or str, optional
            If given, the data is a dask array with these chunks.
        fill_value : scalar
            Initial value.

        Examples
        --------
        >>> from gammax.geom import WcsGeom
        >>> WcsGeom.create(npix=(4, 3), binsz=0.1).empty().dims
        ('y', 'x')
        """
        if chunks is not None:
            import dask.array as dsa

            if isinstance(chunks, Mapping):
                chunks = tuple(chunks.get(d, -1) for d in self.dims)
            data = dsa.full(self.shape, fill_value, dtype=dtype, chunks=chunks)
        else:
            data = np.full(self.shape, fill_value, dtype=dtype)
        return self.wrap(data, unit=unit, name=name)

    def wrap(
        self,
        data: Any,
        unit: str = "",
        name: str | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> xr.DataArray:
        """Label an array of shape :attr:`shape` (numpy or dask) as a map on this geometry."""
        shape = tuple(getattr(data, "shape", ()))
        if shape != self.shape:
            raise GeometryError(
                f"data of shape {shape} does not fit the geometry, expected {self.shape} "
                f"for dims {self.dims}"
            )
        out_attrs = dict(attrs or {})
        from ..units import unit_string

        out_attrs["units"] = unit_string(unit)
        return xr.DataArray(data, dims=self.dims, coords=self.coords(), name=name, attrs=out_attrs)


def geom_from_dict(data: Mapping[str, Any]) -> Geom:
    """Rebuild a geometry from :meth:`Geom.to_dict`.

    Examples
    --------
    >>> from gammax.geom import WcsGeom
    >>> geom = WcsGeom.create(npix=(4, 3), binsz=0.1)
    >>> geom_from_dict(geom.to_dict()) == geom
    True
    """
    axes = tuple(axis_from_dict(a) for a in data.get("axes", ()))
    pixels = np.asarray(data["pixels"], dtype=np.int64) if "pixels" in data else None
    return sky_geom_from_attrs(data, axes, pixels)


def sky_geom_from_attrs(
    attrs: Mapping[str, Any], axes: tuple[Axis, ...] = (), pixels: np.ndarray | None = None
) -> Geom:
    """Geometry from the attributes of the :data:`GEOM_COORD` coordinate."""
    kind = attrs.get("geom_type")
    if kind == "wcs":
        from .wcs import WcsGeom

        return WcsGeom.from_sky_attrs(attrs, axes)
    if kind == "hpx":
        from .hpx import HpxGeom

        return HpxGeom.from_sky_attrs(attrs, axes, pixels=pixels)
    if kind == "region":
        from .region import RegionGeom

        return RegionGeom.from_sky_attrs(attrs, axes)
    raise GeometryError(f"unknown geom_type {kind!r}; expected 'wcs', 'hpx' or 'region'")
