"""OFF-region finders: Gammapy's ``ReflectedRegionsFinder`` and ``WobbleRegionsFinder``.

Both work on a reference image: a ``TAN`` grid of ``binsz`` pixels centred on
the rotation point (the pointing), four times as wide as the distance to the ON
region plus 0.3 degrees, in the frame of the ON region centre. The ON region is
converted to a pixel region on that grid and rotated about the pointing; a
rotated region is kept if it contains no excluded pixel. With the same inputs
the regions are those of Gammapy 2.1, to floating-point precision: the same
grid, the same pixel regions (:mod:`regions`) and the same angle arithmetic.

The loops are over candidate rotation angles (a few dozen), never over pixels:
each candidate is tested against all excluded pixels at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import Angle, SkyCoord

from .. import dims as D
from ..errors import ConfigError, GeometryError
from ..geom import WcsGeom, region_mask

__all__ = ["OffRegions", "find_reflected_regions", "find_wobble_regions"]

_FULL_CIRCLE = Angle(2 * np.pi, "rad")


@dataclass(frozen=True, eq=False)
class OffRegions:
    """OFF regions and the reference grid they were found on.

    Attributes
    ----------
    regions : tuple of regions.SkyRegion
        The OFF regions, in the order they were found.
    geom : WcsGeom
        The reference image (``TAN`` at the rotation centre); its WCS is the one
        to test event containment with, as Gammapy does.
    """

    regions: tuple
    geom: WcsGeom

    def __len__(self) -> int:
        return len(self.regions)

    def __iter__(self) -> Iterator:
        return iter(self.regions)

    def __getitem__(self, index: int):
        return self.regions[index]

    @property
    def wcs(self):
        """WCS of the reference image."""
        return self.geom.wcs

    @property
    def centers(self) -> SkyCoord:
        """Centres of the regions (empty if there are none)."""
        if not self.regions:
            return SkyCoord([], [], unit="deg", frame=self.geom.frame)
        return SkyCoord([r.center for r in self.regions])

    def to_ds9(self) -> str:
        """The regions as a DS9 string (17 significant digits)."""
        from regions import Regions

        return Regions(list(self.regions)).serialize(format="ds9", precision=17)


def _angle(value: Any, key: str) -> Angle:
    try:
        return Angle(value, "rad") if not isinstance(value, str | u.Quantity) else Angle(value)
    except (TypeError, ValueError, u.UnitsError) as err:
        raise ConfigError(f"{key}={value!r} is not an angle, e.g. '0.1 rad' or '5 deg'") from err


def _skycoord(value: Any, key: str) -> SkyCoord:
    if isinstance(value, SkyCoord):
        return value
    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{key}={value!r}: give a SkyCoord or (ra, dec) in deg (ICRS)") from err
    return SkyCoord(lon, lat, unit="deg", frame="icrs")


def reference_geometry(region, center: Any, binsz: Any = "0.01 deg") -> WcsGeom:
    """The reference image of the finders (Gammapy's ``_create_reference_geometry``).

    Examples
    --------
    >>> from regions import CircleSkyRegion
    >>> on = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.1 * u.deg)
    >>> reference_geometry(on, SkyCoord(83.63, 22.51, unit="deg")).npix
    (230, 230)
    """
    center = _skycoord(center, "center")
    frame = region.center.frame.name
    width = 4 * region.center.separation(center) + Angle("0.3 deg")
    binsz = _angle(binsz, "binsz")
    return WcsGeom.create(
        skydir=center, binsz=binsz.deg, width=Angle(width, "deg").deg, frame=frame, proj="TAN"
    )


def _mask_image(exclusion_mask: xr.DataArray) -> xr.DataArray:
    extra = [d for d in exclusion_mask.dims if d not in (D.Y, D.X)]
    if any(exclusion_mask.sizes[d] != 1 for d in extra):
        raise ConfigError(
            f"exclusion_mask must be a sky image (dims y, x) or have size-1 extra dims; "
            f"got dims {dict(exclusion_mask.sizes)}"
        )
    return exclusion_mask.isel({d: 0 for d in extra})


def excluded_pixels(reference: WcsGeom, exclusion_mask: xr.DataArray | None):
    """Pixels of ``reference`` whose centre falls in an excluded (False) pixel of the mask.

    The mask is read at each pixel centre (the mask pixel holding it; outside
    the mask nothing is excluded), as Gammapy's ``Map.interp_to_geom`` on a
    boolean map with ``fill_value=True``. Returns a ``regions.PixCoord``.
    """
    from regions import PixCoord

    if exclusion_mask is None:
        return PixCoord(np.zeros(0), np.zeros(0))
    image = _mask_image(exclusion_mask)
    source = image.gx.geom
    if not isinstance(source, WcsGeom):
        raise ConfigError(f"exclusion_mask must be a WCS map, got {type(source).__name__}")
    values = np.asarray(image.transpose(D.Y, D.X).values).astype(bool)
    nx, ny = reference.npix
    yy, xx = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float), indexing="ij")
    lon, lat = reference.wcs.wcs_pix2world(xx, yy, 0)
    if source.frame != reference.frame:
        c = SkyCoord(lon, lat, unit="deg", frame=reference.frame).transform_to(source.frame)
        lon, lat = c.spherical.lon.deg, c.spherical.lat.deg
    px, py = source.wcs.wcs_world2pix(lon, lat, 0)
    with np.errstate(invalid="ignore"):
        ix = np.floor(px + 0.5)
        iy = np.floor(py + 0.5)
        inside = (ix >= 0) & (ix < source.npix[0]) & (iy >= 0) & (iy < source.npix[1])
    keep = np.ones(xx.shape, dtype=bool)
    keep[inside] = values[iy[inside].astype(np.intp), ix[inside].astype(np.intp)]
    pix_y, pix_x = np.nonzero(~keep)
    return PixCoord(pix_x, pix_y)


def _angular_size(region, reference: WcsGeom, center_pix) -> Angle:
    """Largest angle the region's pixels span, seen from the centre pixel."""
    mask = np.asarray(region_mask(reference, [region]).values)
    pix_y, pix_x = np.nonzero(mask)
    if pix_x.size == 0:
        raise GeometryError(
            "the ON region covers no pixel centre of the reference grid; use a smaller binsz"
        )
    dx, dy = center_pix.x - pix_x, center_pix.y - pix_y
    angles = Angle(np.arctan2(dx, dy), "rad")
    size = np.max(angles) - np.min(angles)
    if size.value > np.pi:
        wrapped = angles.wrap_at(0 * u.rad)
        size = np.max(wrapped) - np.min(wrapped)
    return size


def find_reflected_regions(
    region,
    center: Any,
    exclusion_mask: xr.DataArray | None = None,
    *,
    angle_increment: Any = "0.1 rad",
    min_distance: Any = "0 rad",
    min_distance_input: Any = "0.1 rad",
    max_region_number: int = 10000,
    binsz: Any = "0.01 deg",
) -> OffRegions:
    """Reflected OFF regions: copies of ``region`` rotated about ``center``.

    The first copy is rotated by the angular size of the region (seen from the
    centre) plus ``min_distance_input``; each kept copy advances by the
    angular size plus ``min_distance``, each copy touching an excluded pixel by
    ``angle_increment``, until the circle is closed (Gammapy's
    ``ReflectedRegionsFinder.run``).

    Parameters
    ----------
    region : regions.SkyRegion
        ON region (circle, ellipse, rectangle, ...; not a point).
    center : SkyCoord or (ra, dec)
        Rotation centre, usually the pointing (a tuple is ICRS degrees).
    exclusion_mask : xarray.DataArray, optional
        Boolean WCS image, False where OFF regions must not be.
    angle_increment, min_distance, min_distance_input : Angle, Quantity or str
        As in Gammapy (numbers are radians).
    max_region_number : int
        At most this many regions.
    binsz : Angle, Quantity or str
        Pixel size of the reference image.

    Returns
    -------
    OffRegions

    Examples
    --------
    >>> from regions import CircleSkyRegion
    >>> on = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.11 * u.deg)
    >>> off = find_reflected_regions(on, SkyCoord(83.63, 22.51, unit="deg"))
    >>> len(off)
    12
    """
    from regions import PixCoord, PointSkyRegion

    if isinstance(region, PointSkyRegion):
        raise ConfigError(
            "find_reflected_regions does not take a PointSkyRegion; use find_wobble_regions"
        )
    angle_increment = _angle(angle_increment, "angle_increment")
    if angle_increment <= Angle(0, "deg"):
        raise ConfigError(f"angle_increment={angle_increment!r} must be positive")
    min_distance = _angle(min_distance, "min_distance")
    min_distance_input = _angle(min_distance_input, "min_distance_input")
    if int(max_region_number) < 1:
        raise ConfigError(f"max_region_number={max_region_number!r} must be >= 1")

    center = _skycoord(center, "center")
    reference = reference_geometry(region, center, binsz)
    wcs = reference.wcs
    center_pix = PixCoord.from_sky(center, wcs)
    region_pix = region.to_pixel(wcs)
    excluded = excluded_pixels(reference, exclusion_mask)

    angle_min = _angular_size(region, reference, center_pix) + min_distance
    angle_max = _FULL_CIRCLE - angle_min - min_distance_input
    angle = angle_min + min_distance_input
    found = []
    while angle < angle_max:
        test = region_pix.rotate(center_pix, angle)
        if not np.any(test.contains(excluded)):
            found.append(test.to_sky(wcs))
            if len(found) >= int(max_region_number):
                break
            angle += angle_min
        else:
            angle += angle_increment
    return OffRegions(tuple(found), reference)


def find_wobble_regions(
    region,
    center: Any,
    n_off_regions: int,
    exclusion_mask: xr.DataArray | None = None,
    *,
    binsz: Any = "0.01 deg",
) -> OffRegions:
    """``n_off_regions`` OFF regions evenly spaced on the circle through the ON region.

    The ON region rotated about ``center`` by ``k * 360 / (n_off_regions + 1)``
    degrees, ``k = 1 .. n_off_regions``, minus those touching excluded pixels
    (for a point region: within one pixel of one). If two extended regions
    overlap, no region is returned (Gammapy's ``WobbleRegionsFinder.run``).

    Examples
    --------
    >>> from regions import PointSkyRegion
    >>> on = PointSkyRegion(SkyCoord(83.63, 22.01, unit="deg"))
    >>> len(find_wobble_regions(on, SkyCoord(83.63, 22.51, unit="deg"), 3))
    3
    """
    from regions import PixCoord, PointSkyRegion

    if int(n_off_regions) < 1:
        raise ConfigError(f"n_off_regions={n_off_regions!r} must be >= 1")
    center = _skycoord(center, "center")
    reference = reference_geometry(region, center, binsz)
    wcs = reference.wcs
    center_pix = PixCoord.from_sky(center, wcs)
    region_pix = region.to_pixel(wcs)
    excluded = excluded_pixels(reference, exclusion_mask)
    is_point = isinstance(region, PointSkyRegion)

    n_positions = int(n_off_regions) + 1
    increment = _FULL_CIRCLE / n_positions
    found = []
    for i in range(1, n_positions):
        test = region_pix.rotate(center_pix, i * increment)
        if exclusion_mask is not None:
            if is_point:
                bad = bool(np.any(excluded.separation(test.center) < 1))
            else:
                bad = bool(np.any(test.contains(excluded)))
            if bad:
                continue
        found.append(test)

    if not is_point and _overlapping(found, reference):
        return OffRegions((), reference)
    return OffRegions(tuple(r.to_sky(wcs) for r in found), reference)


def _overlapping(regions_pix: list, reference: WcsGeom) -> bool:
    shape = reference.sky_shape
    masks = [r.to_mask().to_image(shape) > 0 for r in regions_pix]
    return any(np.any(a & b) for a, b in combinations(masks, 2))
