"""Point spread function: ``psf_table``, ``psf_3gauss`` and ``psf_king``.

All three give the PSF density dP/dOmega in ``sr-1`` at (rad, true energy, offset),
its containment fraction within a radius, and containment radii.

- ``psf_table``: interpolation of the tabulated density (log energy, linear
  offset and rad, linear value, zero outside the table), as Gammapy's ``PSF3D``.
  Containment integrates ``2 pi r P(r) dr`` over the rad bins (cumulative sum at
  the bin upper edges) and interpolates, as Gammapy does.
- ``psf_3gauss``: three 2D Gaussians with normalisations ``2 scale A_i sigma_i^2``
  (``A_1 = 1``), normalised to unit integral; the parameters are interpolated
  (linear extrapolation allowed, as Gammapy's ``EnergyDependentMultiGaussPSF``).
  Widths of zero in the file (absent components) are read as 1 deg, as Gammapy
  does; their normalisation is zero, so they only matter for interpolation.
- ``psf_king``: ``1 / (2 pi sigma^2) (1 - 1/gamma) (1 + r^2 / (2 gamma sigma^2))^-gamma``.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..units import parse_unit, to_dataarray
from .interpolate import interpolate
from .irf_edges import upper_edge_nodes

__all__ = ["evaluate_psf", "psf_containment", "psf_containment_radius"]

_DEG2_PER_SR = float((np.pi / 180.0) ** 2)
_PARAMETRIC = {"psf_3gauss", "psf_king"}


def _parameters(psf: xr.Dataset, energy_true: Any, offset: Any, extrapolate: str) -> dict:
    coords = {D.ENERGY_TRUE: energy_true, D.OFFSET: offset}
    pars = {}
    for name in psf.data_vars:
        table = psf
        if name.startswith("sigma"):
            # Files write sigma = 0 where a component is absent; like Gammapy, read it
            # as 1 deg so that interpolation next to such nodes stays finite.
            unit = parse_unit(psf[name].attrs.get("units") or "deg")
            one_deg = float(parse_unit("deg").to(unit))
            table = psf.assign({name: psf[name].where(psf[name] != 0, one_deg)})
        value = interpolate(table, name, coords, extrapolate=extrapolate)
        if name.startswith("sigma"):
            value = value * float(unit.to("deg"))
        pars[name] = value
    return pars


def _rad(psf: xr.Dataset, rad: Any) -> xr.DataArray:
    return to_dataarray(rad, "deg", dim=D.RAD, name=D.RAD)


def _gauss_norms(pars: dict) -> tuple[list[xr.DataArray], list[xr.DataArray]]:
    sigmas = [pars["sigma_1"], pars["sigma_2"], pars["sigma_3"]]
    amplitudes = [xr.ones_like(pars["scale"]), pars["ampl_2"], pars["ampl_3"]]
    norms = [2 * pars["scale"] * a * s**2 for a, s in zip(amplitudes, sigmas, strict=True)]
    total = sum(norms)
    safe_total = xr.where(total > 0, total, 1.0)
    norms = [xr.where(total > 0, n / safe_total, 0.0) for n in norms]
    # An empty component (zero norm, often zero width) contributes nothing.
    sigmas = [xr.where(n > 0, s, 1.0) for s, n in zip(sigmas, norms, strict=True)]
    return sigmas, norms


def evaluate_psf(
    psf: xr.Dataset,
    rad: Any,
    energy_true: Any = None,
    offset: Any = None,
    *,
    extrapolate: str = "raise",
) -> xr.DataArray:
    """PSF density dP/dOmega (``sr-1``) at angular distances ``rad``.

    Parameters
    ----------
    psf : xarray.Dataset
        A ``psf_table``, ``psf_3gauss`` or ``psf_king`` IRF.
    rad : DataArray, Quantity or number
        Angular distance from the true position (deg if a bare number).
    energy_true, offset : DataArray, Quantity or number, optional
        Coordinates; omitted ones default to the IRF's own bin centres.
    extrapolate : {"raise", "fill", "extrapolate", "clip"}
        Outside the IRF's bins. Gammapy gives zero outside a ``psf_table``
        (``"fill"``) and extrapolates the parameters of a parametric PSF
        (``"extrapolate"``).

    Returns
    -------
    xarray.DataArray
        Density in ``sr-1``.
    """
    hdu_class = psf.attrs.get("hdu_class")
    rad = _rad(psf, rad)
    if hdu_class == "psf_table":
        coords = {D.RAD: rad, D.ENERGY_TRUE: energy_true, D.OFFSET: offset}
        out = interpolate(psf, "psf", coords, extrapolate=extrapolate)
        factor = float(parse_unit(out.attrs["units"]).to("sr-1"))
        return _named(out * factor, "psf", "sr-1")
    pars = _parameters(psf, energy_true, offset, extrapolate)
    if hdu_class == "psf_3gauss":
        sigmas, norms = _gauss_norms(pars)
        value = sum(
            xr.where(n > 0, n / (2 * np.pi * s**2) * np.exp(-0.5 * rad**2 / s**2), 0.0)
            for s, n in zip(sigmas, norms, strict=True)
        )
    elif hdu_class == "psf_king":
        gamma, sigma = pars["gamma"], pars["sigma"]
        value = (
            1
            / (2 * np.pi * sigma**2)
            * (1 - 1 / gamma)
            * (1 + rad**2 / (2 * gamma * sigma**2)) ** (-gamma)
        )
    else:
        raise ValueError(f"not a PSF: hdu_class={hdu_class!r}")
    return _named(value / _DEG2_PER_SR, "psf", "sr-1")


def psf_containment(
    psf: xr.Dataset,
    rad: Any,
    energy_true: Any = None,
    offset: Any = None,
    *,
    extrapolate: str = "raise",
) -> xr.DataArray:
    """Fraction of the PSF within angular distance ``rad``.

    Parameters
    ----------
    psf : xarray.Dataset
        A ``psf_table``, ``psf_3gauss`` or ``psf_king`` IRF.
    rad, energy_true, offset, extrapolate
        As for :func:`evaluate_psf`.

    Returns
    -------
    xarray.DataArray
        Dimensionless containment fraction.
    """
    hdu_class = psf.attrs.get("hdu_class")
    rad = _rad(psf, rad)
    if hdu_class == "psf_table":
        cumulative = _table_cumulative(psf)
        coords = {D.RAD: rad, D.ENERGY_TRUE: energy_true, D.OFFSET: offset}
        out = interpolate(cumulative, "containment", coords, extrapolate=extrapolate)
        return _named(out, "containment", "")
    pars = _parameters(psf, energy_true, offset, extrapolate)
    if hdu_class == "psf_3gauss":
        sigmas, norms = _gauss_norms(pars)
        value = sum(
            xr.where(n > 0, n * (1 - np.exp(-0.5 * rad**2 / s**2)), 0.0)
            for s, n in zip(sigmas, norms, strict=True)
        )
    elif hdu_class == "psf_king":
        gamma, sigma = pars["gamma"], pars["sigma"]
        value = 1 - (1 + rad**2 / (2 * gamma * sigma**2)) ** (1 - gamma)
    else:
        raise ValueError(f"not a PSF: hdu_class={hdu_class!r}")
    return _named(value, "containment", "")


def _table_cumulative(psf: xr.Dataset) -> xr.Dataset:
    """Containment of a ``psf_table`` at the upper rad bin edges, as an IRF dataset."""
    rad_unit = parse_unit(psf[D.RAD].attrs.get("units", "deg"))
    psf_unit = parse_unit(psf["psf"].attrs.get("units", "sr-1"))
    to_dimensionless = float((rad_unit**2 * psf_unit).to(""))
    bounds = psf[psf[D.RAD].attrs["bounds"]]
    width = bounds.isel({D.BOUNDS: 1}) - bounds.isel({D.BOUNDS: 0})
    integrand = 2 * np.pi * psf[D.RAD] * width * psf["psf"] * to_dimensionless
    cumulative = integrand.cumsum(D.RAD).reset_coords(drop=True)
    nodes, node_bounds = upper_edge_nodes(np.asarray(bounds.values))
    out = psf.drop_vars([*list(psf.data_vars), D.RAD, psf[D.RAD].attrs["bounds"]])
    rad_attrs = dict(psf[D.RAD].attrs, node_type="center")
    out = out.assign_coords(
        {
            D.RAD: xr.Variable(D.RAD, nodes, rad_attrs),
            rad_attrs["bounds"]: xr.Variable(
                (D.RAD, D.BOUNDS), node_bounds, {"units": rad_attrs.get("units", "deg")}
            ),
        }
    )
    out["containment"] = cumulative.variable.copy()
    out["containment"].attrs = {"units": "", "interp_scale": "lin"}
    return out


def psf_containment_radius(
    psf: xr.Dataset,
    fraction: float | Any,
    energy_true: Any = None,
    offset: Any = None,
    *,
    rad_max: float = 5.0,
    n_rad: int | None = None,
    extrapolate: str = "raise",
) -> xr.DataArray:
    """Radius containing ``fraction`` of the PSF.

    The containment is evaluated on a fine rad grid (the table's rad bins
    upsampled 20 times, as Gammapy does, or ``n_rad`` points up to ``rad_max``
    deg for a parametric PSF) and inverted by linear interpolation between grid
    points.

    Returns
    -------
    xarray.DataArray
        Radius in deg, NaN where the fraction is never reached on the grid.
    """
    if psf.attrs.get("hdu_class") == "psf_table":
        bounds = np.asarray(psf[psf[D.RAD].attrs["bounds"]].values, dtype=float)
        edges = np.concatenate([bounds[:, 0], bounds[-1:, 1]])
        factor = 20
        fine = np.concatenate(
            [np.linspace(lo, hi, factor + 1)[:-1] for lo, hi in itertools.pairwise(edges)]
            + [edges[-1:]]
        )
        grid_unit = parse_unit(psf[D.RAD].attrs.get("units", "deg"))
        grid = fine * float(grid_unit.to("deg"))
    else:
        grid = np.linspace(0.0, rad_max, n_rad or 5001)
    rad = xr.DataArray(grid, dims="_rad_grid", attrs={"units": "deg"})
    containment = psf_containment(psf, rad, energy_true, offset, extrapolate=extrapolate)
    fraction = to_dataarray(fraction, "", dim="fraction", name="fraction")
    radius = xr.apply_ufunc(
        _invert_monotonic,
        containment,
        fraction,
        input_core_dims=[["_rad_grid"], []],
        output_core_dims=[[]],
        vectorize=False,
        keep_attrs=True,
        dask="parallelized",
        output_dtypes=[np.float64],
        kwargs={"grid": grid},
    )
    return _named(radius, "containment_radius", "deg")


def _invert_monotonic(curve: np.ndarray, target: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """First crossing of ``curve`` (last axis, non-decreasing) with ``target``."""
    curve = np.maximum.accumulate(np.nan_to_num(curve), axis=-1)
    target = np.asarray(target)[..., np.newaxis]
    above = curve >= target
    idx = np.argmax(above, axis=-1)
    reached = above.any(axis=-1)
    idx_lo = np.clip(idx - 1, 0, grid.size - 1)
    c_hi = np.take_along_axis(curve, idx[..., np.newaxis], axis=-1)[..., 0]
    c_lo = np.take_along_axis(curve, idx_lo[..., np.newaxis], axis=-1)[..., 0]
    t = target[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(c_hi > c_lo, (t - c_lo) / (c_hi - c_lo), 1.0)
    radius = grid[idx_lo] + w * (grid[idx] - grid[idx_lo])
    return np.where(reached, radius, np.nan)


def _named(value: xr.DataArray, name: str, units: str) -> xr.DataArray:
    value = value.rename(name)
    value.attrs = {"units": units}
    return value
