"""Stacking observations into one dataset, as an associative tree reduction.

Stacking follows Gammapy's ``MapDataset.stack``:

- ``counts`` and ``background`` are summed where each observation is safe
  (``mask_safe``);
- ``exposure`` is summed where the observation is safe at any energy;
- ``mask_safe`` is the logical OR;
- ``psf`` and ``edisp`` are averaged weighted by each observation's
  ``exposure_irf``, restricted to coarse pixels where the observation is safe.

Each observation becomes an :class:`Accumulator` of sums on the stacked
geometry (placed at its pixel offset); accumulators add, so any grouping of
observations gives the same result, which is what lets dask reduce them as a
tree with bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .. import dims as D
from .config import MapReductionConfig
from .observation import ObservationProducts, irf_geometry

__all__ = ["Accumulator", "accumulate", "combine", "finalize"]

_SUMMED = ("counts", "background", "exposure")


@dataclass
class Accumulator:
    """Partial sums of stacked products on the stacked geometry (numpy)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    livetime: float = 0.0
    obs_ids: list[int] = field(default_factory=list)

    def __add__(self, other: Accumulator) -> Accumulator:
        return combine(self, other)


def _place(full_shape, values: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """``values`` (..., ny, nx) placed at pixel ``offset`` in an array of ``full_shape``."""
    out = np.zeros(
        full_shape, dtype=np.result_type(values.dtype, np.float64) if values.dtype != bool else bool
    )
    y0, x0 = offset
    ny, nx = values.shape[-2:]
    out[..., y0 : y0 + ny, x0 : x0 + nx] = values
    return out


def _nearest_coarse(mask_image: np.ndarray, fine_geom, coarse_geom) -> np.ndarray:
    """A coarse pixel is safe if the fine pixel at its centre is (nearest lookup)."""
    from ..geom.interp import interp_to_geom

    image = fine_geom.to_image().wrap(mask_image.astype(float), unit="")
    on_coarse = interp_to_geom(image, coarse_geom.to_image(), method="nearest", fill_value=0.0)
    return np.asarray(on_coarse.values) > 0.5


def accumulate(
    products: ObservationProducts | xr.DataTree, config: MapReductionConfig
) -> Accumulator:
    """The accumulator of one observation's products (as computed, or read back)."""
    if isinstance(products, xr.DataTree):
        products = ObservationProducts(
            {k: products[k].to_dataset() for k in products.children}, dict(products.attrs)
        )
    from .spectrum import SpectrumReductionConfig, accumulate_spectrum

    if isinstance(config, SpectrumReductionConfig):
        return accumulate_spectrum(products, config)
    attrs = products.attrs
    maps = products.groups["maps"]
    full = config.geom
    offset = tuple(attrs.get("pixel_offset", (0, 0)))
    mask = np.asarray(maps["mask_safe"].values, dtype=bool)
    mask_image = mask.any(axis=0)
    arrays: dict[str, np.ndarray] = {}
    for name in _SUMMED:
        if name not in maps:
            continue
        values = np.asarray(maps[name].values, dtype=float)
        weight = mask if maps[name].dims[0] == D.ENERGY else mask_image[np.newaxis]
        shape = (values.shape[0], *full.sky_shape)
        arrays[name] = _place(shape, np.where(weight, values, 0.0), offset)
    arrays["mask_safe"] = _place((mask.shape[0], *full.sky_shape), mask, offset)
    if "irf" in products.groups:
        irf = products.groups["irf"]
        coarse_full = irf_geometry(config)
        offset_irf = tuple(attrs.get("pixel_offset_irf", (0, 0)))
        obs_geom = maps["mask_safe"].gx.geom
        coarse_obs = irf["exposure_irf"].gx.geom
        safe = _nearest_coarse(mask_image, obs_geom, coarse_obs)
        expo = np.asarray(irf["exposure_irf"].values, dtype=float) * safe
        shape_e = (expo.shape[0], *coarse_full.sky_shape)
        arrays["exposure_irf"] = _place(shape_e, expo, offset_irf)
        for name in ("psf", "edisp"):
            if name in irf:
                values = np.asarray(irf[name].values, dtype=float)
                weighted = values * expo[:, np.newaxis]
                arrays[name] = _place(
                    (*values.shape[:2], *coarse_full.sky_shape), weighted, offset_irf
                )
    return Accumulator(arrays, float(attrs.get("livetime", 0.0)), [int(attrs.get("obs_id", -1))])


def combine(a: Accumulator, b: Accumulator) -> Accumulator:
    """Sum of two accumulators (associative and commutative)."""
    arrays = dict(a.arrays)
    for name, values in b.arrays.items():
        if name not in arrays:
            arrays[name] = values
        elif name == "mask_safe":
            arrays[name] = arrays[name] | values
        else:
            arrays[name] = arrays[name] + values
    return Accumulator(arrays, a.livetime + b.livetime, a.obs_ids + b.obs_ids)


def finalize(acc: Accumulator, config: MapReductionConfig) -> ObservationProducts:
    """The stacked products: maps on ``config.geom``, IRF maps on its coarse grid."""
    from .spectrum import SpectrumReductionConfig, finalize_spectrum

    if isinstance(config, SpectrumReductionConfig):
        return finalize_spectrum(acc, config)
    geom = config.geom
    arrays = acc.arrays
    maps = {}
    if "counts" in arrays:
        maps["counts"] = geom.wrap(arrays["counts"], unit="", name="counts")
    if "background" in arrays:
        maps["background"] = geom.wrap(arrays["background"], unit="", name="background")
    if "exposure" in arrays:
        cube = geom.to_image().to_cube([config.energy_axis_true])
        maps["exposure"] = cube.wrap(arrays["exposure"], unit="m2 s", name="exposure")
    maps["mask_safe"] = geom.wrap(arrays["mask_safe"], unit="", name="mask_safe")
    groups = {"maps": xr.Dataset(maps)}
    if "exposure_irf" in arrays:
        coarse = irf_geometry(config)
        expo = arrays["exposure_irf"]
        irf = {
            "exposure_irf": coarse.to_cube([config.energy_axis_true]).wrap(
                expo, unit="m2 s", name="exposure_irf"
            )
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            if "psf" in arrays:
                psf = np.nan_to_num(arrays["psf"] / expo[:, np.newaxis])
                irf["psf"] = coarse.to_cube([config.energy_axis_true, config.rad_axis]).wrap(
                    psf, unit="sr-1", name="psf"
                )
            if "edisp" in arrays:
                second = geom.axis(D.ENERGY) if config.edisp_type == "kernel" else config.migra_axis
                edisp = np.nan_to_num(arrays["edisp"] / expo[:, np.newaxis])
                irf["edisp"] = coarse.to_cube([config.energy_axis_true, second]).wrap(
                    edisp, unit="", name="edisp"
                )
        groups["irf"] = xr.Dataset(irf)
    return ObservationProducts(
        groups,
        {
            "livetime": acc.livetime,
            "n_obs": len(acc.obs_ids),
            "obs_ids": sorted(acc.obs_ids),
        },
    )
