"""Region geometry: one sky region (from :mod:`regions`) times non-spatial axes.

A map on a region geometry is a spectrum-like array: it has only the
non-spatial dims (e.g. ``("energy",)``); the region travels as a DS9 string
(17 significant digits, so it round-trips exactly) in the ``geom`` coordinate.
A reference WCS (by default a 0.01 degree ``TAN`` grid centred on the region,
as in Gammapy) turns sky regions into pixel regions for containment and area.

Examples
--------
>>> import astropy.units as u
>>> from astropy.coordinates import SkyCoord
>>> from regions import CircleSkyRegion
>>> from gammax.geom import MapAxis, RegionGeom
>>> on = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.1 * u.deg)
>>> geom = RegionGeom.create(on, axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3)])
>>> geom.dims, geom.shape
(('energy',), (3,))
>>> bool(geom.contains({"lon": 83.63, "lat": 22.05}))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from ..errors import GeometryError
from .axes import Axis
from .base import Geom, check_axes
from .sky import check_frame

__all__ = ["RegionGeom", "parse_regions"]


def parse_regions(regions: Any) -> list:
    """A list of sky regions from a region, a list of them, or a DS9 string."""
    from regions import Region, Regions

    if isinstance(regions, str):
        return list(Regions.parse(regions, format="ds9"))
    if isinstance(regions, Region):
        return [regions]
    out = list(regions)
    for r in out:
        if not isinstance(r, Region):
            raise GeometryError(f"expected regions.Region objects, got {type(r)!r}")
    return out


@dataclass(frozen=True, eq=False)
class RegionGeom(Geom):
    """One sky region (DS9 string) times non-spatial axes; no sky pixel dims.

    Parameters
    ----------
    region : str
        The region(s) in DS9 format; several shapes mean their union.
    frame : str
        Sky frame of the reference WCS (``"icrs"`` or ``"galactic"``).
    axes : tuple of axes
        Non-spatial axes, outermost first.
    binsz_wcs : float
        Pixel size (degrees) of the reference WCS.
    """

    region: str
    frame: str = "icrs"
    axes: tuple[Axis, ...] = ()
    binsz_wcs: float = 0.01

    sky_dims = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "frame", check_frame(self.frame))
        object.__setattr__(self, "axes", check_axes(self.axes, self.sky_dims))
        if not self.regions:
            raise GeometryError(f"region string {self.region!r} holds no region")

    @classmethod
    def create(
        cls,
        region: Any,
        axes: Iterable[Axis] = (),
        frame: str | None = None,
        binsz_wcs: float = 0.01,
    ) -> RegionGeom:
        """Geometry from a region object, a list of regions or a DS9 string."""
        from regions import Regions

        regions = parse_regions(region)
        if frame is None:
            center = getattr(regions[0], "center", None)
            frame = center.frame.name if center is not None else "icrs"
        text = Regions(regions).serialize(format="ds9", precision=17)
        return cls(text, frame, tuple(axes), float(binsz_wcs))

    @classmethod
    def from_sky_attrs(cls, attrs: Mapping[str, Any], axes: tuple[Axis, ...] = ()) -> RegionGeom:
        """Geometry from ``geom`` coordinate attributes."""
        try:
            return cls(attrs["region"], attrs["frame"], axes, float(attrs.get("binsz_wcs", 0.01)))
        except KeyError as err:
            raise GeometryError(f"region attributes lack {err}; got {sorted(attrs)}") from err

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegionGeom) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @cached_property
    def regions(self) -> list:
        """The parsed sky regions."""
        return parse_regions(self.region)

    @property
    def sky_shape(self) -> tuple[()]:
        """No sky pixel dims."""
        return ()

    @cached_property
    def center_skydir(self):
        """Centre of the (first) region, in the geometry frame."""
        center = getattr(self.regions[0], "center", None)
        if center is None:
            raise GeometryError("region has no centre")
        return center.transform_to(self.frame)

    @cached_property
    def wcs_geom(self):
        """Reference WCS geometry (``TAN``, ``binsz_wcs`` pixels) covering the regions."""
        from .wcs import WcsGeom

        width = 2 * self.binsz_wcs
        for reg in self.regions:
            if hasattr(reg, "to_pixel"):
                ref = WcsGeom.create(
                    skydir=self.center_skydir,
                    npix=(1, 1),
                    binsz=self.binsz_wcs,
                    frame=self.frame,
                    proj="TAN",
                )
                bbox = reg.to_pixel(ref.wcs).bounding_box
                extent = max(bbox.ixmax - bbox.ixmin, bbox.iymax - bbox.iymin)
                width = max(width, (extent + 2) * self.binsz_wcs * 2)
        return WcsGeom.create(
            skydir=self.center_skydir,
            width=width,
            binsz=self.binsz_wcs,
            frame=self.frame,
            proj="TAN",
        )

    def contains(self, coords: Mapping[str, Any]) -> np.ndarray:
        """Whether sky positions (``lon``/``lat`` degrees or ``skycoord``) are in the region."""
        from regions import PixCoord, PointSkyRegion

        from .wcs import _sky_from_coords

        lon, lat, frame = _sky_from_coords(coords)
        x, y = self.wcs_geom.world_to_pix(lon, lat, frame)
        inside = np.zeros(np.shape(x), dtype=bool)
        pix = PixCoord(x, y)
        for reg in self.regions:
            if isinstance(reg, PointSkyRegion):
                continue
            inside |= np.asarray(reg.to_pixel(self.wcs_geom.wcs).contains(pix))
        return inside

    def solid_angle(self) -> xr.DataArray:
        """Solid angle of the region in sr (pixel-exact on the reference WCS)."""
        from .masks import region_mask

        geom = self.wcs_geom
        mask = region_mask(geom, self.regions)
        omega = (geom.solid_angle() * mask).sum()
        return xr.DataArray(float(omega), attrs={"units": "sr"}, name="solid_angle")

    def sky_attrs(self) -> dict[str, Any]:
        """Attributes of the ``geom`` coordinate."""
        return {
            "geom_type": "region",
            "region": self.region,
            "frame": self.frame,
            "binsz_wcs": self.binsz_wcs,
        }

    def sky_coords(self) -> dict[str, xr.DataArray]:
        """No sky pixel coordinates."""
        return {}
