"""1D reduction: spectra in an ON region, with reflected or wobble OFF regions.

Per observation (Gammapy's ``SpectrumDatasetMaker`` + ``ReflectedRegionsBackgroundMaker``
+ ``SafeMaskMaker``), on the reconstructed-energy axis:

- ``counts`` in the ON region; for point-like IRFs with ``rad_max_2d`` and a
  point ON region, within the energy-dependent radius;
- ``counts_off``, ``acceptance``, ``acceptance_off`` and ``alpha`` from the OFF
  regions (see :mod:`gammax.reduce.regions`);
- ``exposure`` (``energy_true``): effective area at the offset of the ON region
  centre times live time, optionally times the PSF containment within the ON
  radius (``containment_correction``; full-enclosure IRFs only);
- ``edisp`` (``energy_true``, ``energy``): the dispersion matrix at that offset;
- ``mask_safe`` (``energy``).

Stacking sums counts and exposure where safe and combines the OFF side as
Gammapy's ``SpectrumDatasetOnOff.stack``: ``alpha`` becomes the OFF-weighted
mean, the edisp matrix the exposure-weighted mean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, FormatError
from ..geom import MapAxis, RegionGeom, axis_from_dict
from ..geom.region import parse_regions
from ..irf import edisp_kernel, evaluate_aeff, psf_containment
from ..units import parse_unit

__all__ = ["SpectrumReductionConfig", "reduce_spectrum_observation"]

BACKGROUNDS = (None, "reflected", "wobble")


@dataclass(frozen=True)
class SpectrumReductionConfig:
    """How to reduce observations to ON/OFF spectra.

    Parameters
    ----------
    on_region : str
        ON region as a DS9 string (e.g. ``"icrs; circle(83.633, 22.0145, 0.11)"``),
        or a ``regions`` object (stored as its DS9 string).
    energy_axis : MapAxis
        Reconstructed-energy axis (named ``energy``).
    energy_axis_true : MapAxis, optional
        True-energy axis; default the reconstructed edges.
    background : {"reflected", "wobble", None}
        OFF-region method.
    finder_params : dict
        Parameters of the region finder (``angle_increment``, ``min_distance``,
        ``n_off_regions`` for wobble, ...).
    exclusion : dict, optional
        ``{"regions": DS9 string}`` of sky regions OFF regions must avoid.
    containment_correction : bool
        Multiply the exposure by the PSF containment in the ON radius.
    safe_mask_methods, safe_mask_params
        As :class:`~gammax.reduce.MapReductionConfig` (1D: ``aeff-default``,
        ``aeff-max``, ``edisp-bias``, ``bkg-peak``; IRF thresholds at the ON
        region centre).
    """

    on_region: Any
    energy_axis: MapAxis
    energy_axis_true: MapAxis | None = None
    background: str | None = "reflected"
    finder_params: dict = field(default_factory=dict, hash=False)
    exclusion: dict | None = field(default=None, hash=False)
    containment_correction: bool = False
    safe_mask_methods: tuple[str, ...] = ("aeff-default",)
    safe_mask_params: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        from regions import Regions

        from .safe_mask import check_methods

        if not isinstance(self.on_region, str):
            text = Regions(parse_regions(self.on_region)).serialize(format="ds9", precision=17)
            object.__setattr__(self, "on_region", text)
        parse_regions(self.on_region)
        if self.energy_axis.name != D.ENERGY:
            raise ConfigError(
                f"energy_axis must be named {D.ENERGY!r}, got {self.energy_axis.name!r}"
            )
        if self.background not in BACKGROUNDS:
            raise ConfigError(f"background={self.background!r}; valid: {BACKGROUNDS}")
        if self.energy_axis_true is None:
            object.__setattr__(
                self,
                "energy_axis_true",
                MapAxis.from_edges(
                    np.asarray(self.energy_axis.edges),
                    unit=self.energy_axis.unit,
                    name=D.ENERGY_TRUE,
                    interp="log",
                ),
            )
        object.__setattr__(self, "safe_mask_methods", tuple(check_methods(self.safe_mask_methods)))
        if "offset-max" in self.safe_mask_methods:
            raise ConfigError("safe_mask_methods: 'offset-max' has no meaning for a spectrum")

    @property
    def region(self):
        """The ON region object."""
        return parse_regions(self.on_region)[0]

    @property
    def geom(self) -> RegionGeom:
        """Region geometry with the reconstructed-energy axis."""
        return RegionGeom.create(self.on_region, axes=[self.energy_axis])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, MapAxis):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["kind"] = "spectrum"
        return json.loads(json.dumps(out))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpectrumReductionConfig:
        """Inverse of :meth:`to_dict`."""
        data = {k: v for k, v in data.items() if k != "kind"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown}; valid keys: {sorted(known)}")
        for name in ("energy_axis", "energy_axis_true"):
            if data.get(name) is not None:
                data[name] = axis_from_dict(data[name])
        if "safe_mask_methods" in data:
            data["safe_mask_methods"] = tuple(data["safe_mask_methods"])
        return cls(**data)

    def fingerprint(self) -> str:
        """Stable hash of the configuration (resume checks)."""
        import hashlib

        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _region_radius_deg(region) -> float | None:
    radius = getattr(region, "radius", None)
    return None if radius is None else float(radius.to_value("deg"))


def _exclusion_map(config: SpectrumReductionConfig, pointing):
    """Boolean exclusion map around the pointing (False inside excluded regions)."""
    from astropy.coordinates import SkyCoord

    from ..geom import WcsGeom, exclusion_mask

    if not config.exclusion:
        return None
    geom = WcsGeom.create(
        skydir=SkyCoord(*pointing, unit="deg", frame="icrs"), width=8.0, binsz=0.02, frame="icrs"
    )
    return exclusion_mask(geom, config.exclusion["regions"])


def reduce_spectrum_observation(ref, config: SpectrumReductionConfig):
    """ON/OFF spectrum products of one observation (see the module docstring)."""
    from .observation import (
        ObservationProducts,
        load_inputs,
        observation_time_range,
        observation_times,
    )
    from .regions import reflected_regions_background
    from .safe_mask import make_mask_safe

    types = {"events", "gti", "aeff", "edisp"}
    if "rad_max" in ref.locations:
        types.add("rad_max")
    if config.containment_correction:
        types.add("psf")
    missing = sorted(types - set(ref.locations))
    if missing:
        raise FormatError(
            f"observation lacks {missing} for a spectrum reduction", obs_id=ref.obs_id
        )
    inputs = load_inputs(ref, sorted(types))
    ontime, livetime = observation_times(ref, inputs["gti"])
    pointing = ref.pointing
    region = config.region
    center = region.center.icrs
    from .fov import offset_from_pointing

    offset = float(offset_from_pointing(center.ra.deg, center.dec.deg, *pointing))
    true_axis = config.energy_axis_true
    centers = np.asarray(true_axis.center, float)
    energy_true = xr.DataArray(
        centers,
        dims=D.ENERGY_TRUE,
        coords={D.ENERGY_TRUE: centers},
        attrs={"units": str(true_axis.unit)},
    )
    energy_true[D.ENERGY_TRUE].attrs["units"] = str(true_axis.unit)

    aeff = inputs["aeff"]
    area = evaluate_aeff(aeff, energy_true, offset, extrapolate="fill")
    exposure = area.values * float(parse_unit(area.attrs["units"]).to("m2")) * livetime
    pointlike = bool(aeff.attrs.get("is_pointlike"))
    if config.containment_correction:
        if pointlike:
            raise ConfigError(
                "containment_correction needs full-enclosure IRFs; this "
                "observation's IRFs are point-like",
                obs_id=ref.obs_id,
            )
        radius = _region_radius_deg(region)
        if radius is None:
            raise ConfigError("containment_correction needs a circular ON region")
        exposure = (
            exposure
            * psf_containment(inputs["psf"], radius, energy_true, offset, extrapolate="fill").values
        )
    kernel = edisp_kernel(
        inputs["edisp"], energy_true, np.asarray(config.energy_axis.edges), offset
    )

    events = inputs["events"]
    geom = config.geom
    rad_max = inputs.get("rad_max") if type(region).__name__ == "PointSkyRegion" else None
    if config.background is not None:
        onoff = reflected_regions_background(
            events,
            region,
            pointing,
            config.energy_axis,
            exclusion_mask=_exclusion_map(config, pointing),
            finder=config.background,
            finder_params=config.finder_params,
            rad_max=rad_max,
        )
    else:
        from .regions import make_counts_on_off

        onoff = make_counts_on_off(
            events, region, [], config.energy_axis, rad_max=rad_max, pointing=pointing
        )[["counts"]]
    exposure_da = (
        geom.to_image()
        .to_cube([config.energy_axis_true])
        .wrap(
            exposure.reshape((-1, *geom.sky_shape)) if geom.sky_shape else exposure,
            unit="m2 s",
            name="exposure",
        )
    )
    safe = make_mask_safe(
        geom,
        config.safe_mask_methods,
        pointing=pointing,
        aeff=aeff,
        edisp=inputs["edisp"],
        exposure=exposure_da,
        edisp_kernel_map=kernel,
        **config.safe_mask_params,
    )
    mask = np.asarray(safe.mask.values, dtype=bool).reshape(-1)
    if "mask_safe" in onoff:
        mask &= np.asarray(onoff["mask_safe"].values, dtype=bool).reshape(-1)
    energy_coord = {
        D.ENERGY: xr.Variable(
            D.ENERGY, np.asarray(config.energy_axis.center), {"units": str(config.energy_axis.unit)}
        )
    }
    data = {
        "counts": xr.Variable(D.ENERGY, np.asarray(onoff["counts"].values).reshape(-1)),
        "exposure": xr.Variable(D.ENERGY_TRUE, exposure, {"units": "m2 s"}),
        "edisp": xr.Variable(
            (D.ENERGY_TRUE, D.ENERGY),
            kernel.transpose(D.ENERGY_TRUE, D.ENERGY).values,
            {"units": ""},
        ),
        "mask_safe": xr.Variable(D.ENERGY, mask),
    }
    for name in ("counts_off", "acceptance", "acceptance_off", "alpha"):
        if name in onoff:
            data[name] = xr.Variable(D.ENERGY, np.asarray(onoff[name].values).reshape(-1))
    ds = xr.Dataset(
        data,
        coords={
            **energy_coord,
            D.ENERGY_TRUE: xr.Variable(
                D.ENERGY_TRUE,
                np.asarray(config.energy_axis_true.center),
                {"units": str(config.energy_axis_true.unit)},
            ),
        },
    )
    for axis in (config.energy_axis, config.energy_axis_true):
        edges = np.asarray(axis.edges, dtype=float)
        ds.coords[D.bounds_name(axis.name)] = xr.Variable(
            (axis.name, D.BOUNDS),
            np.stack([edges[:-1], edges[1:]], axis=-1),
            {"units": str(axis.unit)},
        )
        ds[axis.name].attrs["bounds"] = D.bounds_name(axis.name)
    attrs = {
        "obs_id": ref.obs_id,
        "ontime": ontime,
        "livetime": livetime,
        **observation_time_range(ref, inputs["gti"]),
        "ra_pnt": pointing[0],
        "dec_pnt": pointing[1],
        "offset": offset,
        "on_region": config.on_region,
        "is_pointlike": pointlike,
        "n_off_regions": int(onoff.attrs.get("n_off_regions", 0)),
        "off_regions": onoff.attrs.get("off_regions", ""),
        **{f"safe_{k}": float(v) for k, v in safe.thresholds.items()},
    }
    return ObservationProducts({"spectrum": ds}, attrs)


def accumulate_spectrum(products, config: SpectrumReductionConfig):
    """Accumulator of one observation's spectrum (sums that add across observations)."""
    from .stack import Accumulator

    ds = products.groups["spectrum"]
    mask = np.asarray(ds["mask_safe"].values, dtype=bool)
    any_safe = bool(mask.any())
    exposure = np.asarray(ds["exposure"].values, dtype=float) * any_safe
    arrays = {
        "counts": np.where(mask, ds["counts"].values, 0).astype(float),
        "exposure": exposure,
        # Gammapy: each run's kernel counts only in its safe reconstructed-energy bins,
        # weighted by its exposure at each true energy
        "edisp_weighted": np.asarray(ds["edisp"].values, dtype=float)
        * exposure[:, None]
        * mask[None, :],
        "mask_safe": mask,
    }
    if "counts_off" in ds:
        off = np.where(mask, ds["counts_off"].values, 0).astype(float)
        arrays["counts_off"] = off
        arrays["alpha_off"] = off * np.asarray(ds["alpha"].values, dtype=float)
    return Accumulator(
        arrays, float(products.attrs.get("livetime", 0.0)), [int(products.attrs.get("obs_id", -1))]
    )


def finalize_spectrum(acc, config: SpectrumReductionConfig):
    """The stacked spectrum (``alpha`` the OFF-weighted mean, edisp exposure-weighted)."""
    from .observation import ObservationProducts

    a = acc.arrays
    with np.errstate(invalid="ignore", divide="ignore"):
        edisp = np.nan_to_num(a["edisp_weighted"] / a["exposure"][:, None])
    data = {
        "counts": xr.Variable(D.ENERGY, a["counts"].astype(np.int64)),
        "exposure": xr.Variable(D.ENERGY_TRUE, a["exposure"], {"units": "m2 s"}),
        "edisp": xr.Variable((D.ENERGY_TRUE, D.ENERGY), edisp, {"units": ""}),
        "mask_safe": xr.Variable(D.ENERGY, a["mask_safe"]),
    }
    if "counts_off" in a:
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha = np.nan_to_num(a["alpha_off"] / a["counts_off"])
        # Gammapy: bins without OFF counts get the OFF-weighted mean alpha of all bins
        total_off = a["counts_off"].sum()
        if total_off > 0:
            alpha = np.where(a["counts_off"] > 0, alpha, a["alpha_off"].sum() / total_off)
        data["counts_off"] = xr.Variable(D.ENERGY, a["counts_off"].astype(np.int64))
        data["alpha"] = xr.Variable(D.ENERGY, alpha)
        data["acceptance"] = xr.Variable(D.ENERGY, np.ones_like(alpha))
        with np.errstate(divide="ignore"):
            data["acceptance_off"] = xr.Variable(D.ENERGY, np.where(alpha > 0, 1 / alpha, 0.0))
    coords = {}
    for axis in (config.energy_axis, config.energy_axis_true):
        edges = np.asarray(axis.edges, dtype=float)
        coords[axis.name] = xr.Variable(
            axis.name,
            np.asarray(axis.center),
            {"units": str(axis.unit), "bounds": D.bounds_name(axis.name)},
        )
        coords[D.bounds_name(axis.name)] = xr.Variable(
            (axis.name, D.BOUNDS),
            np.stack([edges[:-1], edges[1:]], axis=-1),
            {"units": str(axis.unit)},
        )
    ds = xr.Dataset(data, coords=coords)
    return ObservationProducts(
        {"spectrum": ds},
        {
            "livetime": acc.livetime,
            "n_obs": len(acc.obs_ids),
            "obs_ids": sorted(acc.obs_ids),
            "on_region": config.on_region,
        },
    )
