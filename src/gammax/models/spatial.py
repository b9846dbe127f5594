r"""Spatial models: the base class, sky-coordinate kernels and integration over pixels.

A spatial model is a surface brightness on the sky (unit ``sr-1``; normalised
models integrate to 1 over the sky). It evaluates on longitude / latitude
DataArrays (degrees) given in a sky frame; coordinates are rotated into the
model's frame first (:func:`gammax.geom.sky.convert_frame`), lazily per chunk.

On a map geometry two products exist, as in Gammapy:

:meth:`SpatialModel.evaluate_geom`
    the value at the pixel centres (``sr-1``);
:meth:`SpatialModel.integrate_geom`
    the fraction of the model in each pixel (dimensionless): the mean of the
    model over ``oversampling_factor**2`` sub-pixel centres times the pixel
    solid angle. Without ``oversampling_factor`` it is
    ``min(ceil(pixel size / evaluation_bin_size_min), 200)`` (Gammapy's rule),
    e.g. ``sigma / 3`` for a Gaussian; ``1`` means value at the centre times
    solid angle. Sub-pixels are only evaluated for pixels whose centre is
    within the evaluation radius (plus two pixels) of the model centre.

Both are pure functions of the geometry and the parameter ``values``; with
``chunks`` the result is a dask array computed per block of pixels, so a
reduction layer can call them chunk by chunk.

Examples
--------
>>> from gammax.geom import WcsGeom
>>> from gammax.models import GaussianSpatialModel
>>> geom = WcsGeom.create(skydir=(0, 0), width=3, binsz=0.05, frame="galactic")
>>> model = GaussianSpatialModel(lon_0="0 deg", lat_0="0 deg", sigma="0.2 deg", frame="galactic")
>>> round(float(model.integrate_geom(geom).sum()), 4)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, FormatError, GeometryError
from ._coords import apply, as_angle, as_energy
from .core import Model
from .spectral import _kernel_factor

__all__ = [
    "MAX_OVERSAMPLING",
    "SpatialModel",
    "angular_separation",
    "compute_sigma_eff",
    "position_angle",
]

#: Largest automatic oversampling factor (as Gammapy).
MAX_OVERSAMPLING = 200

#: Dim given to bare 1-D lon/lat arrays (paired positions).
POINT_DIM = "point"


def angular_separation(lon1, lat1, lon2, lat2):
    """Angular distance (radians) by Vincenty's formula, as astropy's."""
    sdlon, cdlon = np.sin(lon2 - lon1), np.cos(lon2 - lon1)
    slat1, slat2, clat1, clat2 = np.sin(lat1), np.sin(lat2), np.cos(lat1), np.cos(lat2)
    num1 = clat2 * sdlon
    num2 = clat1 * slat2 - slat1 * clat2 * cdlon
    return np.arctan2(np.hypot(num1, num2), slat1 * slat2 + clat1 * clat2 * cdlon)


def position_angle(lon1, lat1, lon2, lat2):
    """Position angle (radians, east of north) of point 2 seen from point 1, as astropy's."""
    deltalon = lon2 - lon1
    colat = np.cos(lat2)
    x = np.sin(lat2) * np.cos(lat1) - colat * np.sin(lat1) * np.cos(deltalon)
    return np.arctan2(np.sin(deltalon) * colat, x)


def compute_sigma_eff(lon_0, lat_0, lon, lat, phi, major_axis, e):
    """Minor axis and effective radius of an ellipse toward each point (radians)."""
    d_phi = phi - position_angle(lon_0, lat_0, lon, lat)
    minor_axis = major_axis * np.sqrt(1 - e**2)
    a2 = (major_axis * np.sin(d_phi)) ** 2
    b2 = (minor_axis * np.cos(d_phi)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return minor_axis, major_axis * minor_axis / np.sqrt(a2 + b2)


def _is_angle(unit: str) -> bool:
    import astropy.units as u

    return bool(unit) and u.Unit(unit).is_equivalent(u.deg)


def _radian_factor(unit: str) -> float:
    return _kernel_factor(unit, "rad") if unit and unit != "" else 1.0


class SpatialModel(Model):
    """Base class of spatial models.

    Subclasses define ``tag``, ``_defaults`` and a static numpy
    ``evaluate(lon, lat, **parameters)`` with all angles in radians (the
    coordinates in the model's frame), returning ``sr-1``.

    Parameters
    ----------
    frame : {"icrs", "galactic", "fk5"}
        Frame of ``lon_0``/``lat_0`` (and of ``phi``).
    **kwargs
        Parameter values (see :class:`gammax.models.core.Model`).
    """

    kind = "spatial"
    #: Unit of the values.
    unit: ClassVar[str] = "sr-1"
    #: Whether evaluation needs energies.
    is_energy_dependent: ClassVar[bool] = False

    def __init__(self, frame: str = "icrs", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        object.__setattr__(self, "frame", _check_frame(frame))

    def _static_state(self) -> tuple:
        return (self.frame,)

    # -- kernel -------------------------------------------------------------------
    def kernel_params(
        self, values: Mapping[str, float] | None = None, prefix: str = ""
    ) -> dict[str, float]:
        """Parameter values for the kernel: resolved from ``values``, angles in radians."""
        raw = self.resolve(values, prefix)
        return {p.name: raw[p.name] * _radian_factor(p.unit) for p in self.parameters}

    def _eval_kernel(self, lon, lat, *energy, frame: str, params: dict) -> np.ndarray:
        """Kernel on degrees in ``frame`` (numpy)."""
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        if frame != self.frame:
            from ..geom.sky import convert_frame

            lon, lat = convert_frame(lon, lat, frame, self.frame)
        return self.evaluate(np.radians(lon), np.radians(lat), *energy, **params)

    def degree_params(
        self, values: Mapping[str, float] | None = None, prefix: str = ""
    ) -> dict[str, float]:
        """Parameter values resolved from ``values``, angles in degrees."""
        raw = self.resolve(values, prefix)
        return {
            p.name: raw[p.name] * (_kernel_factor(p.unit, "deg") if _is_angle(p.unit) else 1.0)
            for p in self.parameters
        }

    def center_deg(self, values: Mapping[str, float] | None = None, prefix: str = ""):
        """``(lon_0, lat_0)`` in degrees in the model frame, or None without a centre."""
        if "lon_0" not in self.parameters:
            return None
        p = self.degree_params(values, prefix)
        return p["lon_0"], p["lat_0"]

    def evaluation_radius(
        self, values: Mapping[str, float] | None = None, prefix: str = ""
    ) -> float | None:
        """Radius (degrees) beyond which the model is negligible; None if unbounded."""
        return None

    def evaluation_bin_size_min(
        self, values: Mapping[str, float] | None = None, prefix: str = ""
    ) -> float | None:
        """Pixel size (degrees) small enough to resolve the model; None if any size is."""
        return None

    # -- evaluation on coordinates ------------------------------------------------
    def __call__(
        self,
        lon: Any,
        lat: Any,
        frame: str | None = None,
        energy: Any = None,
        values: Mapping[str, float] | None = None,
        prefix: str = "",
    ) -> xr.DataArray:
        """Surface brightness at sky positions.

        Parameters
        ----------
        lon, lat : DataArray, Quantity or array-like
            Positions (bare numbers are degrees). DataArrays broadcast by dim
            name; bare 1-D arrays are paired positions along dim ``point``.
        frame : str, optional
            Frame of ``lon``/``lat``; default the model's frame.
        energy : optional
            True energies, for energy-dependent models only.
        values : mapping, optional
            Parameter values by key; the model is not modified.
        prefix : str
            Key prefix of this model's parameters (e.g. ``"crab.spatial."``).

        Returns
        -------
        xarray.DataArray
            Values in ``self.unit``; lazy for dask input.
        """
        frame = self.frame if frame is None else _check_frame(frame)
        args = [as_angle(lon, POINT_DIM, "lon"), as_angle(lat, POINT_DIM, "lat")]
        if self.is_energy_dependent:
            if energy is None:
                raise ConfigError(f"{type(self).__name__} is energy dependent: pass energy")
            args.append(as_energy(energy, self.energy_unit))
        kwargs = {"frame": frame, "params": self.kernel_params(values, prefix)}
        return apply(self._eval_kernel, *args, kwargs=kwargs, units=self.unit, name="value")

    # -- evaluation on geometries ---------------------------------------------------
    def evaluate_geom(
        self,
        geom: Any,
        values: Mapping[str, float] | None = None,
        chunks: Any = None,
        prefix: str = "",
    ) -> xr.DataArray:
        """Values at the pixel centres of a WCS or HEALPix geometry (``sr-1``).

        The result is an image (sky dims only) unless the model is energy
        dependent, then it has the geometry's ``energy_true`` axis too.
        """
        from ..geom import HpxGeom, WcsGeom

        if isinstance(geom, WcsGeom):
            coords = geom.get_coord(chunks) if chunks is not None else geom.get_coord()
        elif isinstance(geom, HpxGeom):
            coords = geom.get_coord()
        else:
            raise GeometryError(f"evaluate_geom needs a WCS or HEALPix geometry, got {geom!r}")
        energy = None
        if self.is_energy_dependent:
            energy = _energy_coord(geom)
        out = self(coords["lon"], coords["lat"], geom.frame, energy, values, prefix)
        return out.transpose(*[d for d in geom.dims if d in out.dims])

    def oversampling_factor(
        self, geom: Any, values: Mapping[str, float] | None = None, prefix: str = ""
    ) -> int:
        """Gammapy's automatic oversampling factor for ``geom``."""
        res = self.evaluation_bin_size_min(values, prefix)
        if res is None or not hasattr(geom, "pixel_scales"):
            return 1
        pix = float(np.max(geom.pixel_scales))
        if res <= 0:
            return MAX_OVERSAMPLING
        return int(min(math.ceil(pix / res), MAX_OVERSAMPLING))

    def integrate_geom(
        self,
        geom: Any,
        oversampling_factor: int | None = None,
        values: Mapping[str, float] | None = None,
        chunks: Any = None,
        prefix: str = "",
    ) -> xr.DataArray:
        """Fraction of the model in each pixel (dimensionless), see the module docstring.

        Parameters
        ----------
        geom : WcsGeom, HpxGeom or RegionGeom
            Geometry. For a region, the model is integrated on the region's
            reference WCS grid and summed over the pixels inside the region.
        oversampling_factor : int, optional
            Sub-pixels per pixel side; default from :meth:`oversampling_factor`.
        values : mapping, optional
            Parameter values by key.
        chunks : optional
            Sky-pixel chunks (WCS only): the result is then dask-backed.
        prefix : str
            Key prefix of this model's parameters.
        """
        from ..geom import HpxGeom, RegionGeom, WcsGeom

        if isinstance(geom, RegionGeom):
            from ..geom import region_mask

            image = self.integrate_geom(geom.wcs_geom, oversampling_factor, values, prefix=prefix)
            mask = region_mask(geom.wcs_geom, geom.regions)
            total = image.where(mask.data, 0.0).sum(dim=list(geom.wcs_geom.sky_dims))
            return total.drop_vars([c for c in total.coords if c not in total.dims]).assign_attrs(
                units=""
            )
        if isinstance(geom, HpxGeom):
            if oversampling_factor not in (None, 1):
                raise GeometryError("oversampling is only implemented for WCS geometries")
            values_map = self.evaluate_geom(geom, values, prefix=prefix)
            return self._times_solid_angle(values_map, geom, None)
        if not isinstance(geom, WcsGeom):
            raise GeometryError(
                f"integrate_geom needs a WCS, HEALPix or region geometry, got {geom!r}"
            )
        factor = (
            self.oversampling_factor(geom, values, prefix)
            if oversampling_factor is None
            else int(oversampling_factor)
        )
        if factor < 1:
            raise ConfigError(f"oversampling_factor must be >= 1, got {oversampling_factor}")
        if factor == 1 or self.is_energy_dependent:
            values_map = self.evaluate_geom(geom, values, chunks, prefix)
            return self._times_solid_angle(values_map, geom, chunks)
        block = _OversampledBlock(
            model=self,
            geom=geom.to_image(),
            factor=factor,
            params=self.kernel_params(values, prefix),
            near=_near_region(self, geom, values, prefix),
        )
        mean = geom.pixel_field(block, float, chunks, "value", str(self.unit))
        return self._times_solid_angle(mean, geom, chunks)

    @staticmethod
    def _times_solid_angle(values_map: xr.DataArray, geom: Any, chunks: Any) -> xr.DataArray:
        omega = geom.solid_angle(chunks) if chunks is not None else geom.solid_angle()
        out = values_map * omega
        return out.assign_attrs(units="").rename("npred_fraction")

    # -- YAML -----------------------------------------------------------------------
    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form: ``type``, ``frame``, ``parameters``."""
        data = super().to_dict(full_output)
        return {"type": data["type"], "frame": self.frame, "parameters": data["parameters"]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **context: Any) -> SpatialModel:
        """Build from Gammapy's YAML form."""
        from .io import parameters_from_list

        params = parameters_from_list(cls, data.get("parameters", []), **context)
        frame = data.get("frame", "icrs")
        try:
            frame = _check_frame(frame)
        except ConfigError as err:
            raise FormatError(
                f"{context.get('where', 'spatial model')}: key 'frame': {err}",
                file=context.get("file"),
            ) from None
        return cls(frame=frame, **params)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", frame={self.frame!r})"


_FRAMES = ("icrs", "galactic", "fk5")


def _check_frame(frame: Any) -> str:
    name = str(frame).lower()
    if name not in _FRAMES:
        raise ConfigError(f"frame {frame!r} is not supported; expected one of {list(_FRAMES)}")
    return name


def _energy_coord(geom: Any) -> xr.DataArray:
    if D.ENERGY_TRUE not in geom.axis_names:
        raise GeometryError(
            f"an energy-dependent spatial model needs an {D.ENERGY_TRUE!r} axis; the "
            f"geometry has {geom.axis_names}"
        )
    return geom.axis(D.ENERGY_TRUE).to_coordinate()


def _near_region(model: SpatialModel, geom: Any, values, prefix: str) -> tuple | None:
    """``(lon, lat, radius)`` (degrees, geometry frame) where sub-pixels are needed."""
    radius = model.evaluation_radius(values, prefix)
    center = model.center_deg(values, prefix)
    if radius is None or center is None:
        return None
    from ..geom.sky import convert_frame

    lon, lat = convert_frame([center[0]], [center[1]], model.frame, geom.frame)
    margin = 2.0 * float(np.max(geom.pixel_scales)) * math.sqrt(2.0)
    return float(lon[0]), float(lat[0]), float(radius) + margin


@dataclass(frozen=True)
class _OversampledBlock:
    """Mean of the model over ``factor**2`` sub-pixels, for a block of pixel indices."""

    model: SpatialModel
    geom: Any
    factor: int
    params: dict
    near: tuple | None

    def __call__(self, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        geom, frame = self.geom, self.geom.frame
        lon, lat = geom.pix_to_world(xx, yy)
        out = np.array(self.model._eval_kernel(lon, lat, frame=frame, params=self.params), float)
        out = np.broadcast_to(out, np.shape(xx)).copy()
        if self.near is None:
            mask = np.ones(np.shape(xx), dtype=bool)
        else:
            lon0, lat0, radius = self.near
            sep = angular_separation(
                np.radians(lon), np.radians(lat), math.radians(lon0), math.radians(lat0)
            )
            mask = np.degrees(sep) <= radius
        if not mask.any():
            return out
        f = self.factor
        offs = (np.arange(f) + 0.5) / f - 0.5
        n = int(mask.sum())
        sub_x = np.broadcast_to(xx[mask][:, None, None] + offs[None, None, :], (n, f, f))
        sub_y = np.broadcast_to(yy[mask][:, None, None] + offs[None, :, None], (n, f, f))
        sub_x, sub_y = sub_x.reshape(n, f * f), sub_y.reshape(n, f * f)
        sub_lon, sub_lat = geom.pix_to_world(sub_x, sub_y)
        sub = self.model._eval_kernel(sub_lon, sub_lat, frame=frame, params=self.params)
        out[mask] = np.broadcast_to(sub, sub_x.shape).mean(axis=-1)
        return out
