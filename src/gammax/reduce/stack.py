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

__all__ = [
    "Accumulator",
    "Window",
    "accumulate",
    "combine",
    "finalize",
    "finalize_part",
    "window_grid",
]

_SUMMED = ("counts", "background", "exposure")


@dataclass
class Accumulator:
    """Partial sums of stacked products on the stacked geometry (numpy)."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    livetime: float = 0.0
    obs_ids: list[int] = field(default_factory=list)

    def __add__(self, other: Accumulator) -> Accumulator:
        return combine(self, other)


@dataclass(frozen=True)
class Window:
    """A block of a stacked sky grid: pixel rows ``y0:y1`` and columns ``x0:x1``."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.y1 - self.y0, self.x1 - self.x0)

    def overlaps(self, offset: tuple[int, int], shape: tuple[int, int]) -> bool:
        """Whether a block at ``offset`` (y0, x0) of ``shape`` (ny, nx) touches this window."""
        (y0, x0), (ny, nx) = offset, shape
        return y0 < self.y1 and y0 + ny > self.y0 and x0 < self.x1 and x0 + nx > self.x0


def window_grid(sky_shape: tuple[int, int], chunk: int) -> list[Window]:
    """Windows of ``chunk x chunk`` pixels tiling a ``(ny, nx)`` grid (edges smaller)."""
    ny, nx = sky_shape
    return [
        Window(y, min(y + chunk, ny), x, min(x + chunk, nx))
        for y in range(0, ny, chunk)
        for x in range(0, nx, chunk)
    ]


def _place(values: np.ndarray, offset: tuple[int, int], window: Window) -> np.ndarray:
    """``values`` (..., ny, nx) at pixel ``offset`` of the full grid, cut to ``window``."""
    dtype = bool if values.dtype == bool else np.float64
    out = np.zeros((*values.shape[:-2], *window.shape), dtype=dtype)
    y0, x0 = offset
    ny, nx = values.shape[-2:]
    ys, ye = max(y0, window.y0), min(y0 + ny, window.y1)
    xs, xe = max(x0, window.x0), min(x0 + nx, window.x1)
    if ys < ye and xs < xe:
        out[..., ys - window.y0 : ye - window.y0, xs - window.x0 : xe - window.x0] = values[
            ..., ys - y0 : ye - y0, xs - x0 : xe - x0
        ]
    return out


def _nearest_coarse(mask_image: np.ndarray, fine_geom, coarse_geom) -> np.ndarray:
    """A coarse pixel is safe if the fine pixel at its centre is (nearest lookup)."""
    from ..geom.interp import interp_to_geom

    image = fine_geom.to_image().wrap(mask_image.astype(float), unit="")
    on_coarse = interp_to_geom(image, coarse_geom.to_image(), method="nearest", fill_value=0.0)
    return np.asarray(on_coarse.values) > 0.5


def _full_window(geom) -> Window:
    ny, nx = geom.sky_shape
    return Window(0, ny, 0, nx)


def accumulate(
    products: ObservationProducts | xr.DataTree,
    config: MapReductionConfig,
    *,
    part: str | None = None,
    window: Window | None = None,
) -> Accumulator:
    """The accumulator of one observation's products (as computed, or read back).

    Parameters
    ----------
    products : ObservationProducts or xarray.DataTree
        One observation's ``maps`` (and ``irf``) groups and attrs.
    config : MapReductionConfig or SpectrumReductionConfig
        The reduction's configuration (the stacked geometry).
    part : {"maps", "irf"}, optional
        Only this group (default both).
    window : Window, optional
        Only this block of the part's stacked grid (default all of it).
    """
    if isinstance(products, xr.DataTree):
        products = ObservationProducts(
            {k: products[k].to_dataset() for k in products.children}, dict(products.attrs)
        )
    from .spectrum import SpectrumReductionConfig, accumulate_spectrum

    if isinstance(config, SpectrumReductionConfig):
        return accumulate_spectrum(products, config)
    attrs = products.attrs
    maps = products.groups["maps"]
    mask = np.asarray(maps["mask_safe"].values, dtype=bool)
    mask_image = mask.any(axis=0)
    arrays: dict[str, np.ndarray] = {}
    if part in (None, "maps"):
        win = window or _full_window(config.geom)
        offset = tuple(attrs.get("pixel_offset", (0, 0)))
        for name in _SUMMED:
            if name not in maps:
                continue
            values = np.asarray(maps[name].values, dtype=float)
            weight = mask if maps[name].dims[0] == D.ENERGY else mask_image[np.newaxis]
            arrays[name] = _place(np.where(weight, values, 0.0), offset, win)
        arrays["mask_safe"] = _place(mask, offset, win)
    if part in (None, "irf") and "irf" in products.groups:
        irf = products.groups["irf"]
        win = window if part == "irf" and window is not None else _full_window(irf_geometry(config))
        offset_irf = tuple(attrs.get("pixel_offset_irf", (0, 0)))
        obs_geom = maps["mask_safe"].gx.geom
        coarse_obs = irf["exposure_irf"].gx.geom
        safe = _nearest_coarse(mask_image, obs_geom, coarse_obs)
        expo = np.asarray(irf["exposure_irf"].values, dtype=float) * safe
        arrays["exposure_irf"] = _place(expo, offset_irf, win)
        for name in ("psf", "edisp"):
            if name in irf:
                values = np.asarray(irf[name].values, dtype=float)
                arrays[name] = _place(values * expo[:, np.newaxis], offset_irf, win)
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


def finalize_part(
    acc: Accumulator, config: MapReductionConfig, part: str, window: Window | None = None
) -> xr.Dataset:
    """Stacked products of one part (``maps`` or ``irf``) on a window of its grid."""
    arrays = acc.arrays
    if part == "maps":
        full = config.geom
        win = window or _full_window(full)
        geom = full.slice_pixels(win.x0, win.y0, win.shape[1], win.shape[0])
        maps = {}
        if "counts" in arrays:
            maps["counts"] = geom.wrap(arrays["counts"], unit="", name="counts")
        if "background" in arrays:
            maps["background"] = geom.wrap(arrays["background"], unit="", name="background")
        if "exposure" in arrays:
            cube = geom.to_image().to_cube([config.energy_axis_true])
            maps["exposure"] = cube.wrap(arrays["exposure"], unit="m2 s", name="exposure")
        if "mask_safe" in arrays:
            maps["mask_safe"] = geom.wrap(arrays["mask_safe"], unit="", name="mask_safe")
        return xr.Dataset(maps)
    full = irf_geometry(config)
    win = window or _full_window(full)
    coarse = full.slice_pixels(win.x0, win.y0, win.shape[1], win.shape[0])
    irf = {}
    if "exposure_irf" in arrays:
        expo = arrays["exposure_irf"]
        irf["exposure_irf"] = coarse.to_cube([config.energy_axis_true]).wrap(
            expo, unit="m2 s", name="exposure_irf"
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            if "psf" in arrays:
                psf = np.nan_to_num(arrays["psf"] / expo[:, np.newaxis])
                irf["psf"] = coarse.to_cube([config.energy_axis_true, config.rad_axis]).wrap(
                    psf, unit="sr-1", name="psf"
                )
            if "edisp" in arrays:
                second = (
                    config.geom.axis(D.ENERGY)
                    if config.edisp_type == "kernel"
                    else config.migra_axis
                )
                edisp = np.nan_to_num(arrays["edisp"] / expo[:, np.newaxis])
                irf["edisp"] = coarse.to_cube([config.energy_axis_true, second]).wrap(
                    edisp, unit="", name="edisp"
                )
    return xr.Dataset(irf)


def finalize(acc: Accumulator, config: MapReductionConfig) -> ObservationProducts:
    """The stacked products on the whole geometry (maps, and IRF maps on the coarse grid)."""
    from .spectrum import SpectrumReductionConfig, finalize_spectrum

    if isinstance(config, SpectrumReductionConfig):
        return finalize_spectrum(acc, config)
    groups = {"maps": finalize_part(acc, config, "maps")}
    if "exposure_irf" in acc.arrays:
        groups["irf"] = finalize_part(acc, config, "irf")
    return ObservationProducts(
        groups,
        {
            "livetime": acc.livetime,
            "n_obs": len(acc.obs_ids),
            "obs_ids": sorted(acc.obs_ids),
        },
    )
