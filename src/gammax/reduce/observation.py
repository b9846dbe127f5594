"""Per-observation reduction: one pure function from an observation to its DL4 products.

:class:`ObservationRef` is everything a task needs to find an observation's data
(file locations, pointing, dead-time, header keywords): small and picklable,
built on the client from the data store's index and EVENTS headers.
:func:`reduce_observation` runs inside one dask task: it reads the events, GTIs
and IRFs of that observation (each file opened once) and returns its products
as :class:`ObservationProducts`, numpy-backed Datasets by group:

``/maps``
    ``counts`` (energy, y, x), ``exposure`` (energy_true, y, x),
    ``background`` (energy, y, x), ``mask_safe`` (energy, y, x) on the
    observation's geometry (the configured one, or its cutout around the pointing).
``/irf``
    ``psf`` (energy_true, rad, y, x), ``edisp`` (energy_true, energy | migra, y, x)
    and their ``exposure_irf`` (energy_true, y, x) on the coarse IRF grid.

The attrs hold the observation id, live and on time, pointing, and the
safe-energy thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import FormatError, ObservationNotFoundError
from ..io.fits import read_columns
from ..io.gadf import fov_alignment
from .config import MapReductionConfig
from .products import (
    make_background,
    make_counts,
    make_edisp_kernel_map,
    make_edisp_migra_map,
    make_exposure,
    make_psf_map,
)

if TYPE_CHECKING:
    from ..data import DataStore

__all__ = [
    "ObservationProducts",
    "ObservationRef",
    "irf_geometry",
    "observation_geometry",
    "observation_irf_geometry",
    "observation_refs",
    "reduce_observation",
]

#: EVENTS header keywords an observation reference keeps (data quirks, location, times).
_KEPT_KEYWORDS = (
    "CREATOR",
    "HDUVERS",
    "OBJECT",
    "TELESCOP",
    "DEADC",
    "GEOLON",
    "GEOLAT",
    "ALTITUDE",
    "MJDREFI",
    "MJDREFF",
    "MJDREF",
    "TIMESYS",
    "TIMEUNIT",
    "TIMEREF",
)

_NEEDED = {
    "counts": ("events",),
    "exposure": ("gti", "aeff"),
    "background": ("gti", "bkg"),
    "psf": ("gti", "aeff", "psf"),
    "edisp": ("gti", "aeff", "edisp"),
}


@dataclass(frozen=True)
class ObservationRef:
    """Where an observation's data are, and the header values a reduction needs."""

    obs_id: int
    locations: dict = field(hash=False)
    ra_pnt: float = np.nan
    dec_pnt: float = np.nan
    deadc: float = 1.0
    events_attrs: dict = field(default_factory=dict, hash=False)

    @property
    def pointing(self) -> tuple[float, float]:
        """ICRS pointing (deg)."""
        return (self.ra_pnt, self.dec_pnt)

    def __dask_tokenize__(self):
        return (
            type(self).__name__,
            self.obs_id,
            tuple(sorted((k, str(v.path), v.hdu) for k, v in self.locations.items())),
            self.ra_pnt,
            self.dec_pnt,
            self.deadc,
        )


def observation_refs(
    store: DataStore, obs_ids=None, *, needed=("events", "gti")
) -> list[ObservationRef]:
    """References of the store's observations (reads EVENTS headers, cached).

    Raises
    ------
    gammax.errors.ObservationNotFoundError
        If an observation lacks an HDU type in ``needed``.
    """
    refs = []
    ids = store._resolve_ids(obs_ids)
    for obs_id in ids:
        types = store.hdu_types(obs_id)
        missing = [t for t in needed if t not in types]
        if missing:
            raise ObservationNotFoundError(
                f"no {missing} HDU(s) in the index; this observation has {types}", obs_id=obs_id
            )
        locations = {t: store.location(obs_id, t) for t in types}
        attrs = store._cache.get(locations["events"])[0] if "events" in locations else {}
        ra = attrs.get("RA_PNT")
        dec = attrs.get("DEC_PNT")
        if (ra is None or dec is None) and "RA_PNT" in store.obs_table:
            ra = float(store.obs_table.RA_PNT.sel(obs_id=obs_id))
            dec = float(store.obs_table.DEC_PNT.sel(obs_id=obs_id))
        keep = {k: attrs[k] for k in _KEPT_KEYWORDS if k in attrs}
        refs.append(
            ObservationRef(
                obs_id=int(obs_id),
                locations=locations,
                ra_pnt=float(ra) if ra is not None else np.nan,
                dec_pnt=float(dec) if dec is not None else np.nan,
                deadc=float(attrs.get("DEADC", 1.0)),
                events_attrs=keep,
            )
        )
    return refs


def _cutout(geom, ref: ObservationRef, width: float):
    from astropy.coordinates import SkyCoord

    position = SkyCoord(ref.ra_pnt, ref.dec_pnt, unit="deg", frame="icrs")
    slices = geom.cutout_slices(position, width, mode="trim")
    x0, y0 = slices[D.X].start, slices[D.Y].start
    nx, ny = slices[D.X].stop - x0, slices[D.Y].stop - y0
    return geom.slice_pixels(x0, y0, nx, ny), (y0, x0)


def _centred(geom, ref: ObservationRef):
    from astropy.coordinates import SkyCoord

    from ..geom import WcsGeom

    return WcsGeom.create(
        skydir=SkyCoord(ref.ra_pnt, ref.dec_pnt, unit="deg", frame="icrs"),
        npix=geom.npix,
        binsz=geom.pixel_scales,
        frame=geom.frame,
        proj=geom.projection,
        axes=geom.axes,
    )


def observation_geometry(ref: ObservationRef, config: MapReductionConfig):
    """Geometry of an observation's maps and its pixel offset ``(y0, x0)`` in ``config.geom``.

    The configured geometry, its cutout of ``cutout_width`` around the pointing,
    or (``center_on_pointing``) a copy centred on the pointing (offset ``None``).
    """
    if config.center_on_pointing:
        return _centred(config.geom, ref), None
    if config.cutout_width is None:
        return config.geom, (0, 0)
    return _cutout(config.geom, ref, config.cutout_width)


def irf_geometry(config: MapReductionConfig):
    """Coarse sky grid of the PSF and edisp maps of the stacked dataset."""
    return config.geom.to_image().to_binsz(config.binsz_irf)


def observation_irf_geometry(ref: ObservationRef, config: MapReductionConfig):
    """Coarse grid of an observation and its offset: a cutout of :func:`irf_geometry`.

    The cutout is one coarse pixel wider than the maps' cutout on each side, so
    it covers them; being a cutout, it stays aligned with the stacked grid.
    """
    full = irf_geometry(config)
    if config.center_on_pointing:
        return _centred(full, ref), None
    if config.cutout_width is None:
        return full, (0, 0)
    return _cutout(full, ref, config.cutout_width + 2 * config.binsz_irf)


_IRF_TYPES = ("aeff", "bkg", "psf", "edisp")
_TABLE_COLUMNS = {"events": ("RA", "DEC", "ENERGY"), "gti": ("START", "STOP")}


def load_inputs(ref: ObservationRef, types) -> dict:
    """Read an observation's HDUs ``types`` into memory, each file in a single pass.

    Returns ``{"events": {column: array}, "gti": {...}, "aeff": xr.Dataset, ...}``.
    Numeric tables take the fast path (:func:`gammax.io.fast_table.read_tables`);
    anything else is read with astropy.
    """
    from ..io.fast_table import read_tables
    from ..io.irf_table import irf_from_table, read_irf

    by_file: dict[str, list[str]] = {}
    for t in types:
        by_file.setdefault(str(ref.locations[t].path), []).append(t)
    out: dict = {}
    for path, file_types in by_file.items():
        hdus = [ref.locations[t].hdu for t in file_types]
        tables = read_tables(path, hdus, obs_id=ref.obs_id)
        for t in file_types:
            loc = ref.locations[t]
            table = tables.get(loc.hdu)
            if t in _TABLE_COLUMNS:
                columns = _TABLE_COLUMNS[t]
                if table is not None and all(c in table.data.dtype.names for c in columns):
                    out[t] = {
                        c: table.data[c].astype(table.data[c].dtype.newbyteorder("="))
                        for c in columns
                    }
                else:
                    out[t] = read_columns(loc.path, loc.hdu, list(columns), obs_id=ref.obs_id)
            elif table is not None:
                out[t] = irf_from_table(
                    table, loc.path, loc.hdu, obs_id=ref.obs_id, hdu_class=loc.hdu_class
                )
            else:
                out[t] = read_irf(
                    loc.path, loc.hdu, obs_id=ref.obs_id, hdu_class=loc.hdu_class, dask_values=False
                ).load()
    return out


def observation_times(ref: ObservationRef, gti: dict[str, np.ndarray]) -> tuple[float, float]:
    """On time (GTI sum) and live time (on time times DEADC), in seconds."""
    ontime = float(np.sum(gti["STOP"] - gti["START"]))
    return ontime, ontime * ref.deadc


def observation_time_range(ref: ObservationRef, gti: dict[str, np.ndarray]) -> dict:
    """Start and stop of an observation's GTIs as MJD in the file's time system.

    Returns attrs ``time_start``, ``time_stop`` (MJD, float) and ``timesys``
    (``"tt"``, ``"utc"``, ...); empty when the EVENTS header has no time
    reference. Light curves group datasets by these.
    """
    from ..errors import FormatError
    from ..io.time import time_attrs

    try:
        ref_attrs = time_attrs(ref.events_attrs)
    except FormatError:
        return {}
    if len(gti["START"]) == 0:
        return {}
    day = 86400.0
    return {
        "time_start": ref_attrs["mjdref"] + float(np.min(gti["START"])) / day,
        "time_stop": ref_attrs["mjdref"] + float(np.max(gti["STOP"])) / day,
        "timesys": ref_attrs["timesys"],
    }


@dataclass
class ObservationProducts:
    """Products of one observation: Datasets by group (``maps``, ``irf``) and attrs.

    A plain container rather than an :class:`xarray.DataTree` on purpose: tree
    nodes reference their parents, so their arrays are freed only by the cyclic
    garbage collector, which lets a long reduction's memory grow by tens of MB
    per observation. :meth:`to_datatree` gives the tree for interactive use.
    """

    groups: dict[str, xr.Dataset]
    attrs: dict

    def to_datatree(self) -> xr.DataTree:
        """The products as a DataTree (``/maps``, ``/irf``) with the attrs at the root."""
        tree = xr.DataTree.from_dict({f"/{k}": v for k, v in self.groups.items()})
        tree.attrs = dict(self.attrs)
        return tree


def reduce_observation(ref: ObservationRef, config) -> ObservationProducts:
    """All products of one observation, on numpy arrays; see the module docstring.

    ``config`` is a :class:`MapReductionConfig` (maps) or a
    :class:`~gammax.reduce.spectrum.SpectrumReductionConfig` (ON/OFF spectra).
    """
    from .spectrum import SpectrumReductionConfig, reduce_spectrum_observation

    if isinstance(config, SpectrumReductionConfig):
        return reduce_spectrum_observation(ref, config)
    geom, offset = observation_geometry(ref, config)
    products = config.products
    needed = {t for p in products for t in _NEEDED[p]}
    if "aeff-default" in config.safe_mask_methods:
        needed.add("aeff")
    if config.safe_mask_params.get("irfs") == "DL3":
        needed |= {"aeff", "edisp", "bkg"} & {t for t in ref.locations}
    needed = sorted(needed)
    inputs = load_inputs(ref, needed)
    irfs = {t: inputs[t] for t in _IRF_TYPES if t in inputs}
    if "bkg" in irfs:
        irfs["bkg"].attrs["fov_alignment"] = fov_alignment(irfs["bkg"].attrs, ref.events_attrs)
    ontime, livetime = (
        observation_times(ref, inputs["gti"]) if "gti" in inputs else (np.nan, np.nan)
    )
    pointing = ref.pointing
    if not np.all(np.isfinite(pointing)):
        raise FormatError("observation has no pointing (RA_PNT/DEC_PNT)", obs_id=ref.obs_id)

    maps = {}
    if "counts" in products:
        maps["counts"] = make_counts(geom, inputs["events"])
    if "exposure" in products:
        maps["exposure"] = make_exposure(
            geom, irfs["aeff"], pointing, livetime, config.energy_axis_true
        )
    if "background" in products:
        maps["background"] = make_background(
            geom,
            irfs["bkg"],
            pointing,
            ontime,
            interp_missing_data=config.background_interp_missing_data,
            pad_offset_axis=config.background_pad_offset,
            altaz=_altaz_context(ref, inputs.get("gti"), irfs["bkg"]),
            oversampling=config.background_oversampling,
        )

    irf_maps = {}
    offset_irf = (0, 0)
    if "psf" in products or "edisp" in products:
        geom_irf, offset_irf = observation_irf_geometry(ref, config)
        irf_maps["exposure_irf"] = make_exposure(
            geom_irf, irfs["aeff"], pointing, livetime, config.energy_axis_true
        ).rename("exposure_irf")
        if "psf" in products:
            irf_maps["psf"] = make_psf_map(
                geom_irf, irfs["psf"], pointing, config.energy_axis_true, config.rad_axis
            )
        if "edisp" in products:
            if config.edisp_type == "kernel":
                irf_maps["edisp"] = make_edisp_kernel_map(
                    geom_irf, irfs["edisp"], pointing, config.energy_axis_true, geom.axis(D.ENERGY)
                )
            else:
                irf_maps["edisp"] = make_edisp_migra_map(
                    geom_irf, irfs["edisp"], pointing, config.energy_axis_true, config.migra_axis
                )

    mask, thresholds = observation_mask_safe(geom, config, irfs, pointing, maps, irf_maps)
    maps["mask_safe"] = mask
    fov_attrs = {}
    if config.background_method == "fov":
        fov_attrs = _apply_fov_background(geom, config, maps)

    attrs = {
        "obs_id": ref.obs_id,
        "ontime": ontime,
        "livetime": livetime,
        "ra_pnt": pointing[0],
        "dec_pnt": pointing[1],
        "pixel_offset": list(offset) if offset is not None else None,
        "pixel_offset_irf": list(offset_irf) if offset_irf is not None else None,
        **(observation_time_range(ref, inputs["gti"]) if "gti" in inputs else {}),
        **fov_attrs,
        **{f"safe_{k}": v for k, v in thresholds.items()},
    }
    groups = {"maps": xr.Dataset(maps)}
    if irf_maps:
        groups["irf"] = xr.Dataset(irf_maps)
    return ObservationProducts(groups, attrs)


def observation_mask_safe(
    geom, config: MapReductionConfig, irfs: dict, pointing, maps: dict, irf_maps: dict
):
    """Safe mask of an observation on its geometry (Gammapy's ``SafeMaskMaker.run``).

    Returns the boolean map and the thresholds found (TeV / deg, flat dict).
    """
    from .safe_mask import make_mask_safe

    params = dict(config.safe_mask_params)
    result = make_mask_safe(
        geom,
        config.safe_mask_methods,
        pointing=pointing,
        aeff=irfs.get("aeff"),
        edisp=irfs.get("edisp"),
        bkg=irfs.get("bkg"),
        exposure=maps.get("exposure"),
        edisp_kernel_map=irf_maps.get("edisp") if config.edisp_type == "kernel" else None,
        background=maps.get("background"),
        offset_max=config.offset_max,
        **params,
    )
    thresholds = {k: float(v) for k, v in result.thresholds.items()}
    return result.mask.rename("mask_safe"), thresholds


def exclusion_image(geom, config: MapReductionConfig) -> xr.DataArray:
    """True where the sky may be used (outside ``config.exclusion`` regions)."""
    from ..geom import exclusion_mask

    if not config.exclusion:
        return xr.ones_like(geom.to_image().empty(dtype=bool), dtype=bool)
    return exclusion_mask(geom.to_image(), config.exclusion["regions"])


def _apply_fov_background(geom, config: MapReductionConfig, maps: dict) -> dict:
    """Normalise the background outside the exclusion mask (in place); attrs to record."""
    from .background import fov_normalisation

    if "counts" not in maps or "background" not in maps:
        raise FormatError("the FoV background method needs the counts and background products")
    params = dict(config.fov_params)
    keep = exclusion_image(geom, config).values[np.newaxis]
    mask = maps["mask_safe"].values & keep
    energy = np.asarray(geom.axis(D.ENERGY).center, dtype=float)
    result = fov_normalisation(
        maps["counts"].values,
        maps["background"].values,
        mask,
        energy,
        method=params.get("method", "scale"),
        fit_tilt=bool(params.get("fit_tilt", False)),
        min_counts=float(params.get("min_counts", 0)),
        min_npred_background=float(params.get("min_npred_background", 0)),
    )
    if not result.valid:
        maps["mask_safe"] = maps["mask_safe"] & False
        return {"fov_valid": False, "fov_message": result.message}
    factor = result.factor(energy)[:, np.newaxis, np.newaxis]
    background = maps["background"]
    maps["background"] = background.copy(data=background.values * factor)
    return {
        "fov_valid": True,
        "fov_norm": result.norm,
        "fov_norm_error": result.norm_error,
        "fov_tilt": result.tilt,
    }


def _altaz_context(ref: ObservationRef, gti, bkg):
    """Location and start time for an Alt/Az-aligned background (None otherwise)."""
    if str(bkg.attrs.get("fov_alignment", "")).upper() != "ALTAZ":
        return None
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    from ..io.time import reference_time, time_attrs
    from .products import AltAzContext

    attrs = ref.events_attrs
    if not all(k in attrs for k in ("GEOLON", "GEOLAT")) or gti is None:
        return None
    location = EarthLocation(
        lon=float(attrs["GEOLON"]) * u.deg,
        lat=float(attrs["GEOLAT"]) * u.deg,
        height=float(attrs.get("ALTITUDE", 0.0)) * u.m,
    )
    start = reference_time(time_attrs(attrs)) + float(np.min(gti["START"])) * u.s
    return AltAzContext(location=location, t_start=start)
