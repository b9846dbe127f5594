"""Per-observation DL4 products on a geometry: counts, exposure, background, PSF and edisp maps.

Each function is pure: it takes a gammax geometry, the observation's inputs
(events, IRF Datasets, pointing, times) and returns an :class:`xarray.DataArray`
on that geometry. They follow the methods of Gammapy's ``MapDatasetMaker``:

- **counts**: events histogrammed in (energy, sky pixel);
- **exposure**: effective area at each pixel's offset from the pointing, at the
  true-energy bin centres, times the live time (``m2 s``);
- **background**: the background model in FoV coordinates (RA/Dec aligned),
  integrated over each reconstructed-energy bin as a power law between the
  edges, times the pixel solid angle and the observation time (counts);
- **psf**: PSF density at the offsets of a coarse sky grid, normalised to unit
  integral over ``rad``;
- **edisp**: energy-dispersion kernel (true -> reco) or migration map on the
  coarse grid.

They run on numpy data inside one dask task per observation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..geom import Geom, MapAxis, bin_events
from ..irf import edisp_kernel, evaluate_aeff, evaluate_edisp, evaluate_psf, integrate_background
from ..units import parse_unit
from .fov import icrs_lonlat, offset_from_pointing, sky_to_fov

__all__ = [
    "fill_missing_background",
    "make_background",
    "make_counts",
    "make_edisp_kernel_map",
    "make_edisp_migra_map",
    "make_exposure",
    "make_psf_map",
    "pixel_offsets",
]


def _altaz_rate(
    bkg, energy_edges, ra, dec, pointing, ontime, omega, sky_dims, altaz, oversampling=None
):
    """Time-averaged background rate of an Alt/Az-aligned model (see make_background)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from ..errors import FormatError
    from .fov import rotation_time_steps, sky_to_fov_altaz

    if altaz is None:
        raise FormatError(
            "an Alt/Az-aligned background needs the observatory location (GEOLON, GEOLAT, "
            "ALTITUDE in the EVENTS header) and the observation times",
            file=bkg.attrs.get("source_file"),
            hdu=bkg.attrs.get("source_hdu"),
            obs_id=bkg.attrs.get("obs_id"),
        )
    target = SkyCoord(*pointing, unit="deg", frame="icrs")
    times = rotation_time_steps(
        altaz.t_start,
        altaz.t_start + float(ontime) * u.s,
        altaz.rotation_step,
        target,
        altaz.location,
    )
    lon, lat = sky_to_fov_altaz(ra, dec, target, altaz.location, times)
    dims = (*sky_dims, "_time")
    rate = integrate_background(
        bkg,
        energy_edges,
        fov_lon=xr.DataArray(lon, dims=dims, attrs={"units": "deg"}),
        fov_lat=xr.DataArray(lat, dims=dims, attrs={"units": "deg"}),
        solid_angle=omega,
        extrapolate="fill",
        oversampling=oversampling,
    )
    seconds = (times - times[0]).to_value("s")
    average = xr.apply_ufunc(
        lambda v: np.trapezoid(v, seconds, axis=-1) / float(ontime),
        rate,
        input_core_dims=[["_time"]],
        keep_attrs=True,
    )
    return average


def _axis_values(axis: MapAxis, *, edges: bool = False) -> xr.DataArray:
    values = np.asarray(axis.edges if edges else axis.center, dtype=float)
    dim = axis.name
    return xr.DataArray(values, dims=dim, attrs={"units": str(axis.unit)})


@functools.lru_cache(maxsize=16)
def _sky_icrs_cached(image: Geom) -> tuple[np.ndarray, np.ndarray]:
    coords = image.get_coord()
    ra, dec = icrs_lonlat(coords["lon"].values, coords["lat"].values, image.frame)
    ra.setflags(write=False)
    dec.setflags(write=False)
    return ra, dec


def _sky_icrs(geom: Geom) -> tuple[np.ndarray, np.ndarray]:
    """RA/Dec (deg) of the pixel centres; cached per image geometry (read-only arrays)."""
    return _sky_icrs_cached(geom.to_image())


@functools.lru_cache(maxsize=16)
def _solid_angle_cached(image: Geom) -> xr.DataArray:
    return image.solid_angle().reset_coords(drop=True)


def solid_angle(geom: Geom) -> xr.DataArray:
    """Pixel solid angles (sr) of the image of ``geom``; cached per image geometry."""
    return _solid_angle_cached(geom.to_image())


def _image(geom: Geom, values: np.ndarray, name: str, unit: str) -> xr.DataArray:
    return geom.to_image().wrap(values, unit=unit, name=name)


def pixel_offsets(geom: Geom, pointing: tuple[float, float]) -> xr.DataArray:
    """Offset (deg) of each sky pixel centre from the pointing (ICRS deg)."""
    ra, dec = _sky_icrs(geom)
    return _image(geom, offset_from_pointing(ra, dec, *pointing), "offset", "deg")


#: Offsets are rounded to this (deg) before evaluating offset-only IRFs at unique values:
#: mirror-image pixels of a grid centred on the pointing differ by ~1e-14 deg only; log
#: interpolation near a table zero makes some IRFs change by ~1e-7 per 1e-9 deg.
OFFSET_RESOLUTION = 1e-12


def on_unique_offsets(offset: xr.DataArray, evaluate) -> xr.DataArray:
    """Evaluate ``evaluate(offsets)`` once per distinct pixel offset and scatter back.

    Effective area, PSF and energy dispersion depend on the sky pixel only
    through its offset from the pointing, and a grid centred on the pointing
    repeats each offset up to eight times (mirror symmetries): evaluating at the
    distinct offsets (rounded to :data:`OFFSET_RESOLUTION`) and indexing back
    gives the same maps for a fraction of the work.

    Parameters
    ----------
    offset : xarray.DataArray
        Offsets (deg) with the sky dims.
    evaluate : callable
        Takes a 1D offset DataArray (dim ``"_offset"``, units deg) and returns a
        DataArray with that dim (and any others).

    Returns
    -------
    xarray.DataArray
        ``evaluate``'s result with ``"_offset"`` replaced by the sky dims of ``offset``.
    """
    values = np.round(np.asarray(offset.values, dtype=float) / OFFSET_RESOLUTION)
    unique, inverse = np.unique(values.ravel(), return_inverse=True)
    distinct = xr.DataArray(unique * OFFSET_RESOLUTION, dims="_offset", attrs={"units": "deg"})
    result = evaluate(distinct)
    other = [d for d in result.dims if d != "_offset"]
    data = np.asarray(result.transpose(*other, "_offset").values)[..., inverse]
    data = data.reshape((*data.shape[:-1], *offset.shape))
    return xr.DataArray(data, dims=(*other, *offset.dims), attrs=dict(result.attrs))


def make_counts(geom: Geom, events: dict[str, np.ndarray]) -> xr.DataArray:
    """Counts cube: events (``RA``, ``DEC``, ``ENERGY`` in deg/TeV) binned on ``geom``."""
    columns = {"RA": events["RA"], "DEC": events["DEC"], D.ENERGY: events["ENERGY"]}
    counts = bin_events(
        columns, geom, lon="RA", lat="DEC", frame="icrs", columns={D.ENERGY: D.ENERGY}
    )
    counts.attrs["units"] = ""
    return counts.rename("counts")


def make_exposure(
    geom: Geom,
    aeff: xr.Dataset,
    pointing: tuple[float, float],
    livetime: float,
    energy_axis_true: MapAxis,
) -> xr.DataArray:
    """Exposure (``m2 s``) on the sky pixels of ``geom`` and ``energy_axis_true``.

    Zero outside the effective-area table (Gammapy's behaviour).
    """
    image = geom.to_image()
    offset = pixel_offsets(image, pointing).reset_coords(drop=True)
    energy_true = _axis_values(energy_axis_true)
    area = on_unique_offsets(
        offset, lambda o: evaluate_aeff(aeff, energy_true, o, extrapolate="fill")
    )
    factor = float(parse_unit(area.attrs["units"]).to("m2")) * float(livetime)
    values = (area * factor).transpose(D.ENERGY_TRUE, *image.sky_dims).values
    cube = image.to_cube([energy_axis_true])
    exposure = cube.wrap(values, unit="m2 s", name="exposure")
    exposure.attrs["livetime"] = float(livetime)
    return exposure


def fill_missing_background(bkg: xr.Dataset, dim: str = D.ENERGY) -> xr.Dataset:
    """Replace zero or non-finite background values by log interpolation along ``dim``.

    Gammapy's ``IRF.interp_missing_data`` (its ``MapDatasetMaker`` default): a
    missing value between valid neighbours along the energy axis is
    interpolated linearly in log(value) versus bin index; missing values beyond
    the first or last valid one stay as they are.
    """
    var = bkg["bkg"]
    values = np.moveaxis(np.array(var.values, dtype=float), var.dims.index(dim), -1)
    n = values.shape[-1]
    valid = np.isfinite(values) & (values != 0.0)
    index = np.broadcast_to(np.arange(n), values.shape)
    left = np.maximum.accumulate(np.where(valid, index, -1), axis=-1)
    right = np.flip(np.minimum.accumulate(np.flip(np.where(valid, index, n), -1), axis=-1), -1)
    fillable = ~valid & (left >= 0) & (right < n)
    tiny = np.finfo(var.dtype if var.dtype.kind == "f" else np.float32).tiny
    with np.errstate(divide="ignore", invalid="ignore"):
        logv = np.log(np.clip(np.where(valid, values, tiny), tiny, np.inf))
        lo = np.take_along_axis(logv, np.clip(left, 0, n - 1), axis=-1)
        hi = np.take_along_axis(logv, np.clip(right, 0, n - 1), axis=-1)
        t = (index - left) / (right - left)
        new = np.exp(lo + t * (hi - lo))
    new = np.where(np.abs(new) - tiny <= tiny, 0.0, new)
    filled = np.where(fillable, new, values)
    filled = np.moveaxis(filled, -1, var.dims.index(dim)).astype(var.dtype)
    out = bkg.copy()
    out["bkg"] = var.copy(data=filled)
    return out


def pad_offset(bkg: xr.Dataset) -> xr.Dataset:
    """Pad a ``bkg_2d`` model by one offset bin with edge values (Gammapy's default)."""
    bounds = np.asarray(bkg[bkg[D.OFFSET].attrs["bounds"]].values)
    widths = bounds[:, 1] - bounds[:, 0]
    new_bounds = np.vstack([bounds, [bounds[-1, 1], bounds[-1, 1] + widths[-1]]])
    padded = bkg["bkg"].pad({D.OFFSET: (0, 1)}, mode="edge")
    centers = new_bounds.mean(axis=1)
    out = xr.Dataset(
        {"bkg": padded.variable},
        coords={
            **{k: v for k, v in bkg.coords.items() if D.OFFSET not in v.dims},
            D.OFFSET: xr.Variable(D.OFFSET, centers, bkg[D.OFFSET].attrs),
            bkg[D.OFFSET].attrs["bounds"]: xr.Variable(
                (D.OFFSET, D.BOUNDS), new_bounds, {"units": bkg[D.OFFSET].attrs["units"]}
            ),
        },
        attrs=bkg.attrs,
    )
    out["bkg"].attrs = bkg["bkg"].attrs
    return out


@dataclass(frozen=True)
class AltAzContext:
    """What an Alt/Az-aligned background needs: where and when the observation was."""

    location: Any  # astropy EarthLocation
    t_start: Any  # astropy Time of the observation start
    rotation_step: float = 1.0  # deg of FoV rotation per time step (Gammapy's default)


def make_background(
    geom: Geom,
    bkg: xr.Dataset,
    pointing: tuple[float, float],
    ontime: float,
    *,
    interp_missing_data: bool = True,
    pad_offset_axis: bool = True,
    altaz: AltAzContext | None = None,
    oversampling: int | None = None,
) -> xr.DataArray:
    """Predicted background counts on ``geom`` (reconstructed energy) from a background IRF.

    ``oversampling``: energy sub-bins per reconstructed-energy bin for the
    integration (see :func:`gammax.irf.integrate_background`).

    ``bkg_3d`` models aligned with RA/Dec use one FoV transformation; models
    aligned with Alt/Az (``FOVALIGN='ALTAZ'``) are evaluated at time steps over
    which the FoV rotates by ``altaz.rotation_step`` and averaged over the
    observation (trapezoid in time), as Gammapy's ``make_map_background_irf``.
    """
    image = geom.to_image()
    if interp_missing_data:
        bkg = fill_missing_background(bkg)
    energy_edges = _axis_values(geom.axis(D.ENERGY), edges=True)
    omega = solid_angle(image)
    ra, dec = _sky_icrs(image)
    if bkg.attrs.get("hdu_class") == "bkg_2d":
        if pad_offset_axis:
            bkg = pad_offset(bkg)
        offset = xr.DataArray(
            offset_from_pointing(ra, dec, *pointing), dims=image.sky_dims, attrs={"units": "deg"}
        )
        rate = integrate_background(
            bkg,
            energy_edges,
            offset=offset,
            solid_angle=omega,
            extrapolate="fill",
            oversampling=oversampling,
        )
    else:
        alignment = str(bkg.attrs.get("fov_alignment", "RADEC")).upper()
        if alignment == "ALTAZ":
            rate = _altaz_rate(
                bkg,
                energy_edges,
                ra,
                dec,
                pointing,
                ontime,
                omega,
                image.sky_dims,
                altaz,
                oversampling,
            )
            factor = float(parse_unit(rate.attrs["units"]).to("s-1")) * float(ontime)
            values = (rate * factor).transpose(D.ENERGY, *image.sky_dims).values
            return geom.wrap(values, unit="", name="background")
        if alignment not in ("RADEC", "REVERSE_LON_RADEC"):
            from ..errors import FormatError

            raise FormatError(
                f"background FOVALIGN={alignment!r}; expected RADEC, REVERSE_LON_RADEC or ALTAZ",
                file=bkg.attrs.get("source_file"),
                hdu=bkg.attrs.get("source_hdu"),
                obs_id=bkg.attrs.get("obs_id"),
            )
        lon, lat = sky_to_fov(ra, dec, *pointing, reverse_lon=alignment == "REVERSE_LON_RADEC")
        rate = integrate_background(
            bkg,
            energy_edges,
            fov_lon=xr.DataArray(lon, dims=image.sky_dims, attrs={"units": "deg"}),
            fov_lat=xr.DataArray(lat, dims=image.sky_dims, attrs={"units": "deg"}),
            solid_angle=omega,
            extrapolate="fill",
            oversampling=oversampling,
        )
    factor = float(parse_unit(rate.attrs["units"]).to("s-1")) * float(ontime)
    values = (rate * factor).transpose(D.ENERGY, *image.sky_dims).values
    return geom.wrap(values, unit="", name="background")


def make_psf_map(
    geom_irf: Geom,
    psf: xr.Dataset,
    pointing: tuple[float, float],
    energy_axis_true: MapAxis,
    rad_axis: MapAxis,
) -> xr.DataArray:
    """PSF density (``sr-1``) on a coarse grid, normalised to unit integral over ``rad``.

    Dims ``(energy_true, rad, y, x)``. Normalisation as Gammapy's
    ``PSFMap.normalize``: divide by the largest cumulative sum of
    ``2 pi r P(r) dr`` over the rad bins.
    """
    image = geom_irf.to_image()
    offset = pixel_offsets(image, pointing).reset_coords(drop=True)
    rad = _axis_values(rad_axis)
    energy_true = _axis_values(energy_axis_true)
    density = on_unique_offsets(
        offset, lambda o: evaluate_psf(psf, rad, energy_true, o, extrapolate="fill")
    )
    density = density.transpose(D.ENERGY_TRUE, D.RAD, *image.sky_dims).values
    rad_deg = np.asarray(rad_axis.center, dtype=float) * float(parse_unit(rad_axis.unit).to("deg"))
    width = np.diff(np.asarray(rad_axis.edges, dtype=float)) * float(
        parse_unit(rad_axis.unit).to("deg")
    )
    weights = (2 * np.pi * rad_deg * width * (np.pi / 180.0) ** 2)[:, None, None]
    integral = np.cumsum(density * weights, axis=1).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normed = np.nan_to_num(density / integral)
    cube = image.to_cube([energy_axis_true, rad_axis])
    return cube.wrap(normed, unit="sr-1", name="psf")


def make_edisp_kernel_map(
    geom_irf: Geom,
    edisp: xr.Dataset,
    pointing: tuple[float, float],
    energy_axis_true: MapAxis,
    energy_axis: MapAxis,
) -> xr.DataArray:
    """Energy-dispersion kernel on a coarse grid, dims ``(energy_true, energy, y, x)``."""
    image = geom_irf.to_image()
    offset = pixel_offsets(image, pointing).reset_coords(drop=True)
    energy_true = _axis_values(energy_axis_true).rename(None)
    edges = np.asarray(energy_axis.edges)
    kernel = on_unique_offsets(offset, lambda o: edisp_kernel(edisp, energy_true, edges, o))
    values = kernel.transpose(D.ENERGY_TRUE, D.ENERGY, *image.sky_dims).values
    cube = image.to_cube([energy_axis_true, energy_axis])
    return cube.wrap(values, unit="", name="edisp")


def make_edisp_migra_map(
    geom_irf: Geom,
    edisp: xr.Dataset,
    pointing: tuple[float, float],
    energy_axis_true: MapAxis,
    migra_axis: MapAxis,
) -> xr.DataArray:
    """Migration density on a coarse grid, dims ``(energy_true, migra, y, x)``.

    Normalised to unit integral over migra, as Gammapy's ``make_edisp_map``.
    """
    image = geom_irf.to_image()
    offset = pixel_offsets(image, pointing).reset_coords(drop=True)
    energy_true, migra = _axis_values(energy_axis_true), _axis_values(migra_axis)
    density = on_unique_offsets(
        offset, lambda o: evaluate_edisp(edisp, energy_true, migra, o, extrapolate="fill")
    )
    values = density.transpose(D.ENERGY_TRUE, D.MIGRA, *image.sky_dims).values
    width = np.diff(np.asarray(migra_axis.edges, dtype=float))[:, None, None]
    total = np.cumsum(values * width, axis=1).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normed = np.nan_to_num(values / total)
    cube = image.to_cube([energy_axis_true, migra_axis])
    return cube.wrap(normed, unit="", name="edisp")
