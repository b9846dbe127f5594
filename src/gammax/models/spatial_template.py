"""Spatial template: a sky map (optionally with a true-energy axis) as a spatial model.

The map is a gammax map (an ``xr.DataArray`` whose geometry ``.gx.geom`` is a
WCS geometry). As in Gammapy's ``TemplateSpatialModel``:

- with ``normalize=True`` each energy slice is divided by its sum and by the
  pixel solid angle, so that it integrates to 1 (unit ``sr-1``);
- evaluation interpolates ``log(values)`` multilinearly in pixel coordinates
  (the energy axis in its own pixel scale, i.e. log energy), extrapolates
  linearly up to half a pixel beyond the outer pixel centres and is 0 further
  out, and clips at 0;
- ``lon_0``/``lat_0`` default to the map centre and are frozen; moving them
  shifts the map by the planar offset (valid near the map centre).

Examples
--------
>>> import numpy as np
>>> from gammax.geom import WcsGeom
>>> geom = WcsGeom.create(skydir=(10, 0), npix=(5, 5), binsz=0.1, frame="galactic")
>>> model = TemplateSpatialModel(geom.wrap(np.ones((5, 5))))
>>> round(float(model.integrate_geom(geom).sum()), 6)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy.interpolate import RegularGridInterpolator

from .. import dims as D
from ..errors import ConfigError, FormatError, GeometryError
from ..units import unit_string
from .parameters import Parameter
from .registry import register
from .spatial import SpatialModel

__all__ = ["TemplateSpatialModel"]


@register("spatial")
class TemplateSpatialModel(SpatialModel):
    """A map template as spatial model.

    Parameters
    ----------
    map : xarray.DataArray
        WCS map, dims ``(y, x)`` or ``(energy_true, y, x)``, with a gammax geometry.
    normalize : bool
        Normalise each energy slice to integrate to 1 (unit ``sr-1``).
    filename : str, optional
        File of the template, used when writing YAML.
    meta : dict, optional
        Free-form metadata.
    lon_0, lat_0 : optional
        Model position (default: the map centre, frozen).
    """

    tag = ("TemplateSpatialModel", "template")
    _defaults = (
        Parameter("lon_0", math.nan, unit="deg", frozen=True),
        Parameter("lat_0", math.nan, unit="deg", min=-90, max=90, frozen=True),
    )
    _optional_in_file = frozenset({"lon_0", "lat_0"})

    def __init__(
        self,
        map: xr.DataArray,
        normalize: bool = True,
        filename: str | None = None,
        meta: Mapping | None = None,
        **kwargs: Any,
    ) -> None:
        from ..geom import WcsGeom

        geom = map.gx.geom
        if not isinstance(geom, WcsGeom):
            raise GeometryError(
                f"TemplateSpatialModel supports WCS maps only (got {type(geom).__name__}); "
                "reproject the template to a WCS geometry"
            )
        extra = [a for a in geom.axis_names if a != D.ENERGY_TRUE]
        if extra:
            raise GeometryError(
                f"a spatial template may only have an {D.ENERGY_TRUE!r} axis, got {extra}"
            )
        raw = np.asarray(map.values)
        data = np.asarray(raw, dtype=float)
        tiny = float(np.finfo(map.dtype if map.dtype.kind == "f" else np.float32).tiny)
        unit = unit_string(map.attrs.get("units", ""))
        if normalize:
            total = data.sum(axis=(-2, -1), keepdims=True)
            data = np.divide(data, total, out=np.zeros_like(data), where=total != 0)
            data = data / np.asarray(geom.to_image().solid_angle().values)
            unit, tiny = "sr-1", float(np.finfo(float).tiny)
        elif unit in ("", unit_string("")):
            unit = "sr-1"
        center = geom.center_skydir
        for name, value in (
            ("lon_0", center.spherical.lon.deg),
            ("lat_0", center.spherical.lat.deg),
        ):
            given = kwargs.get(name)
            if given is None or (isinstance(given, Parameter) and math.isnan(given.value)):
                kwargs[name] = float(value)
        super().__init__(frame=geom.frame, **kwargs)
        for key, val in (
            ("geom", geom),
            ("_data", data),
            ("_raw", (raw, map.attrs.get("units", ""))),
            ("_tiny", tiny),
            ("unit", unit),
            ("normalize", bool(normalize)),
            ("filename", None if filename is None else str(filename)),
            ("meta", dict(meta or {})),
            ("_center", (float(center.spherical.lon.deg), float(center.spherical.lat.deg))),
        ):
            object.__setattr__(self, key, val)

    @property
    def map(self) -> xr.DataArray:
        """The (normalised) template as a map."""
        return self.geom.wrap(self._data, unit=self.unit)

    @property
    def is_energy_dependent(self) -> bool:  # type: ignore[override]
        """Whether the template has an ``energy_true`` axis."""
        return D.ENERGY_TRUE in self.geom.axis_names

    @property
    def energy_unit(self) -> str:
        """Unit of the energy axis."""
        return self.geom.axis(D.ENERGY_TRUE).unit if self.is_energy_dependent else "TeV"

    def evaluation_radius(self, values=None, prefix="") -> float:
        """Half the largest map width (degrees)."""
        return float(np.max(self.geom.width)) / 2.0

    def _static_state(self) -> tuple:
        return (self.frame, self.geom.to_json(), self._data, self.unit, self.normalize)

    def kernel_params(self, values=None, prefix: str = "") -> dict[str, float]:
        """``lon_0``/``lat_0`` in degrees."""
        return self.resolve(values, prefix)

    def _eval_kernel(self, lon, lat, *energy, frame: str, params: dict) -> np.ndarray:
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        if frame != self.frame:
            from ..geom.sky import convert_frame

            lon, lat = convert_frame(lon, lat, frame, self.frame)
        lon = lon - (params["lon_0"] - self._center[0])
        lat = lat - (params["lat_0"] - self._center[1])
        x, y = self.geom.world_to_pix(lon, lat, self.frame)
        pix = [np.asarray(y, float), np.asarray(x, float)]
        sizes = list(self._data.shape[-2:])
        if self.is_energy_dependent:
            axis = self.geom.axis(D.ENERGY_TRUE)
            pix.insert(0, np.asarray(axis.coord_to_pix(np.asarray(energy[0], float)), float))
            sizes.insert(0, axis.nbin)
        pix = np.broadcast_arrays(*pix)
        values = np.where(np.isfinite(self._data), self._data, 0.0)
        scaled = np.log(np.clip(values, self._tiny, None))
        keep = [n > 1 for n in sizes]
        if any(keep):
            interp = RegularGridInterpolator(
                [np.arange(n, dtype=float) for n, k in zip(sizes, keep, strict=True) if k],
                scaled.reshape([n for n in sizes if n > 1]),
                method="linear",
                bounds_error=False,
                fill_value=None,
            )
            points = np.stack([p.ravel() for p, k in zip(pix, keep, strict=True) if k], axis=-1)
            with np.errstate(invalid="ignore"):
                out = interp(points).reshape(pix[0].shape)
        else:
            out = np.full(pix[0].shape, scaled.ravel()[0])
        out = np.exp(out)
        out = np.where(np.abs(out) - self._tiny <= self._tiny, 0.0, out)
        invalid = np.zeros(out.shape, dtype=bool)
        for p, n in zip(pix, sizes, strict=True):
            with np.errstate(invalid="ignore"):
                idx = np.floor(p + 0.5)
                invalid |= ~((idx >= 0) & (idx < n))
        out = np.where(invalid | ~np.isfinite(out), 0.0, out)
        return np.clip(out, 0.0, None)

    # -- YAML -----------------------------------------------------------------------
    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form: ``filename``, ``normalize``, ``unit`` besides the parameters."""
        data = super().to_dict(full_output)
        data["filename"] = self.filename
        data["normalize"] = self.normalize
        data["unit"] = self.unit
        return data

    def write(self, filename: str | None = None, overwrite: bool = False) -> None:
        """Write the template as given (before normalisation) to ``filename``.

        With ``normalize`` kept in the YAML, reading the file back gives the
        same model (normalising is not idempotent: pixel solid angles vary).
        """
        from ..geom.fits import write_map

        path = filename or self.filename
        if path is None:
            raise ConfigError("TemplateSpatialModel has no filename to write to")
        write_map(self.geom.wrap(self._raw[0], unit=self._raw[1]), path, overwrite=overwrite)
        object.__setattr__(self, "filename", str(path))

    @classmethod
    def read(cls, filename: str | Path, normalize: bool = True, **kwargs: Any):
        """Read a template from a FITS map file (gammax or Gammapy)."""
        from ..geom.fits import read_map

        return cls(read_map(filename), normalize=normalize, filename=str(filename), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **context: Any) -> TemplateSpatialModel:
        """Build from Gammapy's YAML form (reads the map file, relative to the YAML file)."""
        from .io import parameters_from_list, resolve_path

        where = context.get("where", "TemplateSpatialModel")
        if not data.get("filename"):
            raise FormatError(
                f"{where}: a TemplateSpatialModel needs 'filename' (the FITS map)",
                file=context.get("file"),
            )
        path = resolve_path(data["filename"], context.get("base"), where, context.get("file"))
        params = parameters_from_list(cls, data.get("parameters", []), **context)
        return cls.read(path, normalize=bool(data.get("normalize", True)), **params)
