"""Masks from sky regions, e.g. exclusion masks.

On a WCS geometry a region is converted to a pixel region with the map's own
WCS and tested at the pixel centres, exactly as Gammapy's
``WcsGeom.region_mask`` does. On a HEALPix geometry the pixel centres are tested
on a ``TAN`` plane centred on the (first) region, as Gammapy's ``RegionGeom``
does. Point regions select the pixel that contains them.

With ``chunks`` the mask is a dask array computed per block of pixels.

Examples
--------
>>> import astropy.units as u
>>> from astropy.coordinates import SkyCoord
>>> from regions import CircleSkyRegion
>>> from gammax.geom import WcsGeom
>>> geom = WcsGeom.create(skydir=(0, 0), npix=(50, 50), binsz=0.1, frame="galactic")
>>> region = CircleSkyRegion(SkyCoord(0, 0, unit="deg", frame="galactic"), 0.5 * u.deg)
>>> exclusion = ~region_mask(geom, region)
>>> int((~exclusion).sum())
80
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..errors import GeometryError
from .base import Geom
from .hpx import HpxGeom
from .region import RegionGeom, parse_regions
from .wcs import WcsGeom

__all__ = ["exclusion_mask", "region_mask"]


@dataclass(frozen=True)
class _WcsRegionTest:
    regions: tuple
    geom: WcsGeom

    def __call__(self, yy, xx):
        from regions import PixCoord, PointSkyRegion

        inside = np.zeros(np.shape(xx), dtype=bool)
        pix = PixCoord(xx, yy)
        for reg in self.regions:
            if isinstance(reg, PointSkyRegion):
                c = reg.center
                sph = c.spherical
                idx = self.geom.coord_to_idx(
                    {"lon": sph.lon.deg, "lat": sph.lat.deg, "frame": c.frame.name}
                )
                inside |= (xx == idx["x"]) & (yy == idx["y"])
            else:
                pixreg = reg.to_pixel(self.geom.wcs) if hasattr(reg, "to_pixel") else reg
                inside |= np.asarray(pixreg.contains(pix))
        return inside


def region_mask(geom: Geom, regions: Any, inside: bool = True, chunks: Any = None) -> xr.DataArray:
    """Boolean image, True for pixels inside any of ``regions``.

    Parameters
    ----------
    geom : WcsGeom or HpxGeom
        Geometry (its non-spatial axes are ignored: the mask is an image).
    regions : Region, list of regions or DS9 string
        Sky regions (pixel regions are accepted on WCS geometries).
    inside : bool
        If False, invert: True outside the regions (an exclusion mask).
    chunks : optional
        Dask chunks of the sky dims (WCS only); None computes eagerly.

    Returns
    -------
    xarray.DataArray
        Boolean map over the sky dims of ``geom``.
    """
    regions = parse_regions(regions)
    if isinstance(geom, WcsGeom):
        mask = geom.pixel_field(
            _WcsRegionTest(tuple(regions), geom.to_image()), bool, chunks, "mask"
        )
    elif isinstance(geom, HpxGeom):
        from regions import PointSkyRegion

        extended = [r for r in regions if not isinstance(r, PointSkyRegion)]
        coords = geom.get_coord()
        lon, lat = coords["lon"].values, coords["lat"].values
        data = np.zeros(geom.sky_shape, dtype=bool)
        if extended:
            rgeom = RegionGeom.create(extended, frame=geom.frame)
            data |= rgeom.contains({"lon": lon, "lat": lat, "frame": geom.frame})
        for reg in regions:
            if isinstance(reg, PointSkyRegion):
                sph = reg.center.spherical
                local = geom.world_to_local(sph.lon.deg, sph.lat.deg, reg.center.frame.name)
                if local >= 0:
                    data[int(local)] = True
        mask = geom.to_image().wrap(data, name="mask")
    else:
        raise GeometryError(f"region masks need a WCS or HEALPix geometry, got {type(geom)!r}")
    mask.attrs.pop("units", None)
    return mask if inside else ~mask


def exclusion_mask(geom: Geom, regions: Any, chunks: Any = None) -> xr.DataArray:
    """Exclusion mask: True where pixels may be used, False inside ``regions``."""
    out = region_mask(geom, regions, inside=False, chunks=chunks)
    return out.rename("exclusion_mask")
