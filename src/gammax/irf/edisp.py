"""Energy dispersion (``edisp_2d``): migration probability density and kernels."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..units import to_dataarray
from .interpolate import interpolate

__all__ = ["edisp_kernel", "evaluate_edisp", "interp_rows"]


def evaluate_edisp(
    edisp: xr.Dataset,
    energy_true: Any = None,
    migra: Any = None,
    offset: Any = None,
    *,
    extrapolate: str = "raise",
) -> xr.DataArray:
    """Migration probability density dP/dmigra at true energies, migrations and offsets.

    Interpolation is log in true energy, linear in migra, offset and value, as
    Gammapy's ``EnergyDispersion2D``.

    Parameters
    ----------
    edisp : xarray.Dataset
        An ``edisp_2d`` IRF.
    energy_true, migra, offset : DataArray, Quantity or number, optional
        Coordinates; omitted ones default to the IRF's own bin centres.
    extrapolate : {"raise", "fill", "extrapolate", "clip"}
        Outside the IRF's bins. ``"fill"`` follows Gammapy: zero outside the
        offset bins, or outside both the true-energy and the migra bins; a true
        energy alone outside its bins is extrapolated.

    Returns
    -------
    xarray.DataArray
        Dimensionless probability density per unit migra.
    """
    coords = {D.ENERGY_TRUE: energy_true, D.MIGRA: migra, D.OFFSET: offset}
    return interpolate(
        edisp,
        "edisp",
        coords,
        extrapolate=extrapolate,
        fill_groups=((D.ENERGY_TRUE, D.MIGRA), (D.OFFSET,)),
    )


def interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Row-wise :func:`numpy.interp`: ``fp[..., :]`` against shared ``xp``, at ``x[..., :]``.

    Values beyond ``xp`` are the end values of each row (constant extrapolation).

    Examples
    --------
    >>> interp_rows(np.array([[0.5, 5.0]]), np.array([0.0, 1.0]), np.array([[0.0, 2.0]]))
    array([[1., 2.]])
    """
    x = np.clip(x, xp[0], xp[-1])
    idx = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)
    x0, x1 = xp[idx], xp[idx + 1]
    f0 = np.take_along_axis(fp, idx, axis=-1)
    f1 = np.take_along_axis(fp, idx + 1, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(x1 > x0, (x - x0) / (x1 - x0), 0.0)
    return f0 + weight * (f1 - f0)


def _kernel_from_pdf(
    pdf: np.ndarray,
    energy_true: np.ndarray,
    *,
    migra_edges: np.ndarray,
    energy_edges: np.ndarray,
    threshold: float,
) -> np.ndarray:
    # pdf: (..., n_true, n_migra) -> kernel (..., n_true, n_reco)
    width = np.diff(migra_edges)
    cumsum = np.cumsum(pdf * width, axis=-1)
    total = cumsum[..., -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = np.nan_to_num(cumsum / total)
    cdf = np.concatenate([np.zeros((*cdf.shape[:-1], 1)), cdf], axis=-1)
    migra_at_edges = energy_edges[np.newaxis, :] / energy_true[:, np.newaxis]
    migra_at_edges = np.broadcast_to(migra_at_edges, (*cdf.shape[:-1], energy_edges.size))
    values = interp_rows(migra_at_edges, migra_edges, cdf)
    kernel = np.clip(np.diff(values, axis=-1), 0, np.inf)
    kernel[kernel < threshold] = 0.0
    return kernel


def edisp_kernel(
    edisp: xr.Dataset,
    energy_true: Any,
    energy_edges: Any,
    offset: Any,
    *,
    threshold: float = 1e-8,
    extrapolate: str = "fill",
) -> xr.DataArray:
    """Energy dispersion kernel: probability for a true energy to land in each reco-energy bin.

    The migration density is evaluated on the IRF's migra bins at each true
    energy and offset, normalised to unit integral over migra, integrated with a
    cumulative sum and read off at the reco-energy bin edges divided by the true
    energy. This is the method of Gammapy's ``make_edisp_kernel_map``.

    Parameters
    ----------
    edisp : xarray.Dataset
        An ``edisp_2d`` IRF.
    energy_true : DataArray or Quantity
        True energies (bin centres of the target true-energy axis), dim
        ``energy_true``.
    energy_edges : Quantity or array
        Reconstructed-energy bin edges (``n + 1`` values).
    offset : DataArray, Quantity or number
        FoV offset(s); extra dims broadcast (e.g. a coarse sky grid).
    threshold : float
        Probabilities below it are set to zero (numerical noise).
    extrapolate : str
        Passed to :func:`evaluate_edisp`; ``"fill"`` (default) treats true
        energies and offsets outside the IRF as having no migration.

    Returns
    -------
    xarray.DataArray
        Dims ``(..., energy_true, energy)``; the ``energy`` coordinate holds the
        geometric bin centres.
    """
    e_unit = edisp[D.ENERGY_TRUE].attrs.get("units", "TeV")
    e_true = to_dataarray(energy_true, e_unit, dim=D.ENERGY_TRUE, name=D.ENERGY_TRUE)
    edges = np.asarray(to_dataarray(energy_edges, e_unit, dim="edge").values, dtype=float)
    bounds = np.asarray(edisp[edisp[D.MIGRA].attrs["bounds"]].values)
    migra_edges = np.concatenate([bounds[:, 0], bounds[-1:, 1]])
    pdf = evaluate_edisp(edisp, energy_true=e_true, offset=offset, extrapolate=extrapolate)
    kernel = xr.apply_ufunc(
        _kernel_from_pdf,
        pdf,
        e_true,
        input_core_dims=[[D.ENERGY_TRUE, D.MIGRA], [D.ENERGY_TRUE]],
        output_core_dims=[[D.ENERGY_TRUE, D.ENERGY]],
        keep_attrs=True,
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {D.ENERGY: edges.size - 1}},
        kwargs={"migra_edges": migra_edges, "energy_edges": edges, "threshold": threshold},
    )
    centers = np.sqrt(edges[:-1] * edges[1:])
    kernel = kernel.assign_coords(
        {D.ENERGY: xr.Variable(D.ENERGY, centers, {"units": e_unit, "interp_scale": "log"})}
    )
    kernel.attrs = {"units": "", "energy_edges": edges.tolist(), "energy_edges_units": e_unit}
    return kernel.rename("edisp_kernel")
