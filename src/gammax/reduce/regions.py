"""ON/OFF counts with reflected or wobble OFF regions (Gammapy's reflected-regions maker).

:func:`reflected_regions_background` finds the OFF regions of one observation
(:func:`find_reflected_regions` or :func:`find_wobble_regions`), counts the
events in the ON region and in the OFF regions per reco-energy bin, and returns
an :class:`xarray.Dataset` on the ``energy`` axis with ``counts``,
``counts_off``, ``acceptance`` (1), ``acceptance_off`` (the number of OFF
regions) and ``alpha = acceptance / acceptance_off``, as Gammapy's
``SpectrumDatasetOnOff`` made by ``ReflectedRegionsBackgroundMaker``.

Containment follows Gammapy exactly: an event is in an extended region if its
position, projected with a reference WCS, lies in the region's pixel version.
The ON region uses Gammapy's ``RegionGeom`` WCS (``TAN``, 0.1 deg, centred on
the region), OFF regions the finder's reference image. OFF counts are the
events in the *union* of the OFF regions.

Point-like IRFs with an energy-dependent ON radius (``rad_max_2d``): give a
``PointSkyRegion`` and the ``rad_max`` table. An event counts for a point if its
distance is ``<= rad_max`` at its energy (nearest table bin, zero outside the
table), as Gammapy's ``make_counts_rad_max``; OFF points come from
:func:`find_wobble_regions` (Gammapy's reflected finder refuses points) and are
dropped when two circles of radius ``rad_max`` could overlap.

Events are histogrammed per chunk: with a dask-backed event Dataset the counts
are lazy (one task per event chunk, summed by a tree reduction).

Examples
--------
>>> import astropy.units as u
>>> from astropy.coordinates import SkyCoord
>>> from regions import CircleSkyRegion
>>> from gammax.geom import MapAxis
>>> on = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.11 * u.deg)
>>> events = {"RA": [83.63, 83.63, 83.0], "DEC": [22.02, 22.91, 22.4], "ENERGY": [1.0, 2.0, 3.0]}
>>> axis = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 2)
>>> ds = reflected_regions_background(events, on, (83.63, 22.51), axis)
>>> ds.counts.values, ds.counts_off.values, int(ds.attrs["n_off_regions"])
(array([1, 0]), array([2, 0]), 12)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

from .. import dims as D
from ..errors import ConfigError
from ..geom import MapAxis, WcsGeom
from ..irf import axis_edges, evaluate_rad_max
from ..units import parse_unit
from .regions_reflected import (
    OffRegions,
    excluded_pixels,
    find_reflected_regions,
    find_wobble_regions,
    reference_geometry,
)

__all__ = [
    "FINDERS",
    "OffRegions",
    "count_in_regions",
    "excluded_pixels",
    "find_reflected_regions",
    "find_wobble_regions",
    "make_counts_on_off",
    "rad_max_overlap",
    "reference_geometry",
    "reflected_regions_background",
    "region_wcs",
]

#: OFF-region finders and the parameters each accepts.
FINDERS = {
    "reflected": (
        "angle_increment",
        "min_distance",
        "min_distance_input",
        "max_region_number",
        "binsz",
    ),
    "wobble": ("n_off_regions", "binsz"),
}


def _skycoord(value: Any, key: str) -> SkyCoord:
    if isinstance(value, SkyCoord):
        return value
    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{key}={value!r}: give a SkyCoord or (ra, dec) in deg (ICRS)") from err
    return SkyCoord(lon, lat, unit="deg", frame="icrs")


def region_wcs(region, binsz: float = 0.1):
    """The WCS Gammapy's ``RegionGeom`` uses for ``region``: ``TAN`` at its centre.

    A grid of ``binsz`` degrees sized to the region's bounding box.
    """
    from regions import RectanglePixelRegion

    center = region.center
    frame = center.frame.name
    sky = WcsGeom.create(skydir=center, binsz=binsz, frame=frame, proj="TAN")
    bbox = region.to_pixel(sky.wcs).bounding_box
    try:
        rect = bbox.to_region()
    except ValueError:
        from regions import PixCoord

        rect = RectanglePixelRegion(PixCoord(*bbox.center[::-1]), width=1, height=1)
    rect = rect.to_sky(sky.wcs)
    width = (rect.width.to_value("deg"), rect.height.to_value("deg"))
    return WcsGeom.create(skydir=center, binsz=binsz, width=width, frame=frame, proj="TAN").wcs


# -- events --------------------------------------------------------------------------------
def _columns(events: Any) -> tuple[Any, Any, Any, float]:
    """RA, DEC (deg) and ENERGY arrays of an event list, and the factor ENERGY -> TeV."""
    if isinstance(events, xr.Dataset):
        names = {k.upper(): k for k in events.data_vars}
        try:
            ra, dec, energy = (events[names[k]] for k in ("RA", "DEC", "ENERGY"))
        except KeyError as err:
            raise ConfigError(
                f"events need RA, DEC and ENERGY; got {list(events.data_vars)}"
            ) from err
        for col in (ra, dec):
            if parse_unit(col.attrs.get("units", "deg")) != u.deg:
                raise ConfigError(f"event column {col.name} must be in deg")
        scale = float(parse_unit(energy.attrs.get("units", "TeV")).to("TeV"))
        return ra.data, dec.data, energy.data, scale
    if not isinstance(events, Mapping):
        raise ConfigError(f"events must be an xarray.Dataset or a mapping, got {type(events)}")
    names = {str(k).upper(): k for k in events}
    try:
        ra, dec, energy = (events[names[k]] for k in ("RA", "DEC", "ENERGY"))
    except KeyError as err:
        raise ConfigError(f"events need RA, DEC and ENERGY keys; got {list(events)}") from err
    ra = ra.to_value("deg") if isinstance(ra, u.Quantity) else np.asarray(ra)
    dec = dec.to_value("deg") if isinstance(dec, u.Quantity) else np.asarray(dec)
    scale = 1.0
    if isinstance(energy, u.Quantity):
        scale = float(energy.unit.to("TeV"))
        energy = energy.value
    return ra, dec, np.asarray(energy), scale


# -- rad_max -------------------------------------------------------------------------------------
def _nearest_node(x: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Index of the nearest node (ties to the lower one, extrapolating to the end nodes)."""
    if nodes.size == 1:
        return np.zeros(np.shape(x), dtype=np.intp)
    i = np.clip(np.searchsorted(nodes, x, side="left") - 1, 0, nodes.size - 2)
    t = (x - nodes[i]) / (nodes[i + 1] - nodes[i])
    return np.where(t <= 0.5, i, i + 1)


def _rad_max_nearest(rad_max: xr.Dataset, energy_tev: np.ndarray, offset_deg: float) -> np.ndarray:
    """``rad_max`` (deg) of the nearest table bin; 0 outside the table (Gammapy's ``nearest``)."""
    table = rad_max["rad_max"].transpose(D.ENERGY, D.OFFSET)
    values = np.asarray(table.values, dtype=float) * float(
        parse_unit(table.attrs.get("units", "deg")).to("deg")
    )
    e_edges = axis_edges(rad_max, D.ENERGY) * float(
        parse_unit(rad_max[D.ENERGY].attrs.get("units", "TeV")).to("TeV")
    )
    o_edges = axis_edges(rad_max, D.OFFSET) * float(
        parse_unit(rad_max[D.OFFSET].attrs.get("units", "deg")).to("deg")
    )
    e_nodes = np.log(np.asarray(MapAxis.from_energy_edges(e_edges).center, dtype=float))
    o_nodes = np.asarray(MapAxis.from_edges(o_edges, name=D.OFFSET).center, dtype=float)
    energy = np.asarray(energy_tev, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ie = _nearest_node(np.log(energy), e_nodes)
    io = int(_nearest_node(np.asarray([offset_deg]), o_nodes)[0])
    out = values[np.clip(ie, 0, e_nodes.size - 1), io]
    outside = ~(energy >= e_edges[0]) | (energy > e_edges[-1])
    if not (o_edges[0] <= offset_deg <= o_edges[-1]):
        outside = np.ones_like(outside)
    out = np.where(outside | ~np.isfinite(out), 0.0, out)
    return out


def rad_max_overlap(regions: list, rad_max: xr.Dataset, offset: Any, energy_axis: MapAxis) -> bool:
    """Whether circles of radius ``rad_max`` around the region centres could overlap.

    ``rad_max`` is taken at its energy bin centres that touch the range of
    ``energy_axis``, at ``offset`` (Gammapy's ``are_regions_overlapping_rad_max``).
    """
    if len(regions) < 2:
        return False
    seps = np.array([a.center.separation(b.center).deg for a, b in combinations(regions, 2)])
    off = u.Quantity(offset, "deg") if not isinstance(offset, u.Quantity) else offset
    values = evaluate_rad_max(rad_max, offset=off, extrapolate="fill")
    values = np.asarray(values.values, dtype=float).reshape(-1) * float(
        parse_unit(values.attrs.get("units", "deg")).to("deg")
    )
    edges = axis_edges(rad_max, D.ENERGY) * float(
        parse_unit(rad_max[D.ENERGY].attrs.get("units", "TeV")).to(energy_axis.unit)
    )
    e_min, e_max = energy_axis.edges[0], energy_axis.edges[-1]
    touch = (edges[1:] >= e_min) & (edges[:-1] <= e_max)
    return bool(np.any(seps[np.newaxis, :] < 2 * values[touch][:, np.newaxis]))


# -- counting -------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Group:
    """One set of regions counted together (union), with the WCS to test them on."""

    regions: tuple
    wcs: Any = None
    rad_max: xr.Dataset | None = None
    pointing: SkyCoord | None = None


@dataclass(frozen=True, eq=False)
class _Counter:
    """Picklable: histogram of one chunk of events, shape ``(1, n_groups, n_energy)``."""

    groups: tuple
    edges: np.ndarray
    to_axis: float
    to_tev: float

    def __call__(self, ra, dec, energy):
        from regions import PixCoord, PointSkyRegion

        ra, dec = np.asarray(ra), np.asarray(dec)
        energy = np.asarray(energy)
        energy_tev = energy * self.to_tev if self.to_tev != 1 else energy
        radec = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
        idx = np.digitize(energy * self.to_axis if self.to_axis != 1 else energy, self.edges) - 1
        nbin = self.edges.size - 1
        good = (idx >= 0) & (idx < nbin)
        out = np.zeros((1, len(self.groups), nbin), dtype=np.int64)
        for k, group in enumerate(self.groups):
            points = [r for r in group.regions if isinstance(r, PointSkyRegion)]
            extended = [r for r in group.regions if not isinstance(r, PointSkyRegion)]
            if extended:
                pix = PixCoord.from_sky(radec, group.wcs)
                inside = np.zeros(ra.shape, dtype=bool)
                for reg in extended:
                    inside |= np.asarray(reg.to_pixel(group.wcs).contains(pix))
                out[0, k] += np.bincount(idx[inside & good], minlength=nbin)[:nbin]
            for point in points:  # rad_max selection per point; counts add up
                offset = point.center.separation(group.pointing).deg
                limit = _rad_max_nearest(group.rad_max, energy_tev, offset)
                sel = point.center.separation(radec).deg <= limit
                out[0, k] += np.bincount(idx[sel & good], minlength=nbin)[:nbin]
        return out


def count_in_regions(
    events: Any,
    groups: list[dict],
    energy_axis: MapAxis,
) -> xr.DataArray:
    """Event counts per reco-energy bin in groups of regions (each group: their union).

    Parameters
    ----------
    events : xarray.Dataset or mapping
        ``RA``, ``DEC`` (deg, ICRS) and ``ENERGY`` columns: a gammax events
        Dataset (numpy or dask) or a mapping of arrays or Quantities (numbers
        are TeV).
    groups : list of dict
        Each with ``regions`` (list of sky regions), ``wcs`` (for extended
        regions) and, for point regions, ``rad_max`` (``rad_max_2d`` Dataset) and
        ``pointing`` (SkyCoord).
    energy_axis : MapAxis
        Reco-energy bins (lower edge included).

    Returns
    -------
    xarray.DataArray
        Integer counts, dims ``("region_group", "energy")``; lazy with dask events.
    """
    ra, dec, energy, to_tev = _columns(events)
    to_axis = to_tev * float(u.TeV.to(parse_unit(energy_axis.unit)))
    edges = np.asarray(energy_axis.edges, dtype=float)
    counter = _Counter(tuple(_Group(**g) for g in groups), edges, to_axis, to_tev)
    shape = (len(groups), energy_axis.nbin)
    if any(hasattr(a, "__dask_graph__") for a in (ra, dec, energy)):
        import dask.array as da

        ra, dec, energy = (da.asarray(a) for a in (ra, dec, energy))
        ra, dec, energy = da.unify_chunks(ra, "i", dec, "i", energy, "i")[1]
        nblocks = ra.numblocks[0]
        blocks = da.map_blocks(
            counter,
            ra,
            dec,
            energy,
            new_axis=[1, 2],
            chunks=((1,) * nblocks, (shape[0],), (shape[1],)),
            dtype=np.int64,
            meta=np.empty((0, 0, 0), dtype=np.int64),
        )
        data = blocks.sum(axis=0)
    else:
        data = counter(ra, dec, energy)[0]
    return xr.DataArray(
        data,
        dims=("region_group", energy_axis.name),
        coords={energy_axis.name: energy_axis.to_coordinate()},
        name="counts",
    )


def make_counts_on_off(
    events: Any,
    on_region,
    off_regions: OffRegions,
    energy_axis: MapAxis,
    *,
    rad_max: xr.Dataset | None = None,
    pointing: Any = None,
) -> xr.Dataset:
    """ON and OFF counts, acceptances and ``alpha`` for given OFF regions.

    ``acceptance`` is 1 and ``acceptance_off`` the number of OFF regions (the
    regions have the ON region's shape), so ``alpha = 1 / n_off`` (0 when there
    is no OFF region; Gammapy then masks the dataset, see ``mask_safe``).

    Returns
    -------
    xarray.Dataset
        Variables ``counts``, ``counts_off`` (int64), ``acceptance``,
        ``acceptance_off``, ``alpha`` (float) and ``mask_safe`` (bool) on the
        ``energy`` axis; attrs ``n_off_regions``, ``on_region`` and
        ``off_regions`` (DS9 strings).
    """
    from regions import PointSkyRegion, Regions

    is_point = isinstance(on_region, PointSkyRegion)
    if is_point and (rad_max is None or pointing is None):
        raise ConfigError("a PointSkyRegion ON region needs rad_max= and pointing=")
    point = None if pointing is None else _skycoord(pointing, "pointing")
    extra = {"rad_max": rad_max, "pointing": point} if is_point else {}
    groups = [{"regions": [on_region], "wcs": None if is_point else region_wcs(on_region), **extra}]
    n_off = len(off_regions)
    if n_off:
        groups.append({"regions": list(off_regions.regions), "wcs": off_regions.wcs, **extra})
    counts = count_in_regions(events, groups, energy_axis)
    on = counts.isel(region_group=0, drop=True)
    off = counts.isel(region_group=1, drop=True) if n_off else xr.zeros_like(on)
    ones = xr.ones_like(on, dtype=float)
    out = xr.Dataset(
        {
            "counts": on,
            "counts_off": off,
            "acceptance": ones,
            "acceptance_off": ones * n_off,
            "alpha": ones * (1.0 / n_off if n_off else 0.0),
            "mask_safe": xr.ones_like(on, dtype=bool) & (n_off > 0),
        }
    )
    out.attrs = {
        "n_off_regions": n_off,
        "on_region": Regions([on_region]).serialize(format="ds9", precision=17),
        "off_regions": off_regions.to_ds9() if n_off else "",
    }
    return out


def reflected_regions_background(
    events: Any,
    on_region,
    pointing: Any,
    energy_axis: MapAxis,
    *,
    exclusion_mask: xr.DataArray | None = None,
    finder: str = "reflected",
    finder_params: Mapping[str, Any] | None = None,
    rad_max: xr.Dataset | None = None,
) -> xr.Dataset:
    """ON/OFF counts of one observation with reflected (or wobble) OFF regions.

    Gammapy's ``ReflectedRegionsBackgroundMaker.run`` on a ``SpectrumDataset``.

    Parameters
    ----------
    events : xarray.Dataset or mapping
        The observation's events (``RA``, ``DEC``, ``ENERGY``).
    on_region : regions.SkyRegion
        ON region; a ``PointSkyRegion`` (with ``rad_max``) for energy-dependent cuts.
    pointing : SkyCoord or (ra, dec)
        Pointing: the rotation centre.
    energy_axis : MapAxis
        Reco-energy bins.
    exclusion_mask : xarray.DataArray, optional
        Boolean WCS image, False where OFF regions must not be.
    finder : {"reflected", "wobble"}
        OFF-region finder, see :data:`FINDERS` for the parameters of each.
    finder_params : mapping, optional
        Parameters of the finder (Gammapy's defaults otherwise; ``wobble`` needs
        ``n_off_regions``).
    rad_max : xarray.Dataset, optional
        ``rad_max_2d`` table of point-like IRFs. With a circle ON region it must
        be a single value equal to the circle radius.

    Returns
    -------
    xarray.Dataset
        See :func:`make_counts_on_off`.
    """
    from regions import CircleSkyRegion, PointSkyRegion

    if finder not in FINDERS:
        raise ConfigError(f"finder={finder!r} not valid; valid choices are {list(FINDERS)}")
    params = dict(finder_params or {})
    unknown = sorted(set(params) - set(FINDERS[finder]))
    if unknown:
        raise ConfigError(
            f"finder_params {unknown} not valid for finder {finder!r}; "
            f"valid keys are {list(FINDERS[finder])}"
        )
    pointing = _skycoord(pointing, "pointing")
    is_point = isinstance(on_region, PointSkyRegion)
    if rad_max is not None and not is_point:
        table = np.asarray(rad_max["rad_max"].values, dtype=float)
        radius = getattr(on_region, "radius", None)
        if (
            not isinstance(on_region, CircleSkyRegion)
            or table.size != 1
            or not np.isclose(radius.to_value("deg"), table.ravel()[0], rtol=1e-3)
        ):
            raise ConfigError(
                "with rad_max the ON region must be a PointSkyRegion, or a CircleSkyRegion "
                f"whose radius equals a fixed RAD_MAX; got {type(on_region).__name__} and a "
                f"rad_max table of {table.size} values"
            )
        rad_max = None
    if finder == "reflected":
        off = find_reflected_regions(on_region, pointing, exclusion_mask, **params)
    else:
        if "n_off_regions" not in params:
            raise ConfigError("finder 'wobble' needs finder_params n_off_regions")
        off = find_wobble_regions(
            on_region, pointing, params.pop("n_off_regions"), exclusion_mask, **params
        )
    if is_point and len(off):
        if rad_max is None:
            raise ConfigError("a PointSkyRegion ON region needs rad_max=")
        offset = on_region.center.separation(pointing)
        if rad_max_overlap([on_region, *off.regions], rad_max, offset, energy_axis):
            off = OffRegions((), off.geom)
    return make_counts_on_off(
        events, on_region, off, energy_axis, rad_max=rad_max, pointing=pointing
    )
