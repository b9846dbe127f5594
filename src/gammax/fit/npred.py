"""Predicted counts: a pure function of (dataset arrays, models, parameter values).

For every :class:`~gammax.models.SkyModel` that applies to the dataset
(``datasets_names`` None or containing ``ds.attrs["name"]``):

1. the flux is integrated over the ``energy_true`` bins (and, on maps, over
   each pixel: :meth:`SkyModel.integrate_geom`);
2. times the exposure (``apply_irf["exposure"]``);
3. on maps, convolved with the PSF kernel taken at the model's position
   (:func:`gammax.fit.kernels.psf_kernel`, zero outside the map, one kernel
   per true energy, ``apply_irf["psf"]``);
4. folded with the energy dispersion at the model's position (a tensordot
   over ``energy_true``; the diagonal response without edisp or with
   ``apply_irf["edisp"]`` false).

The background is the dataset's ``background`` scaled by the dataset's
:class:`~gammax.models.FoVBackgroundModel` (if any), plus any
:class:`~gammax.models.TemplateNPredModel` for the dataset.

Differences from Gammapy, on purpose:

- the PSF convolves ``flux x exposure`` (the order of the physics); Gammapy
  convolves the spatial model and multiplies by the exposure afterwards. The
  two differ by the exposure gradient across the PSF, a second-order effect;
- extended sources use the one PSF kernel at their centre, as Gammapy does:
  accurate while the PSF varies little over the source;
- spectrum datasets ignore spatial models (their IRFs are assumed
  containment-corrected, as for OGIP files; Gammapy does the same without a PSF).

Everything here works on numpy- and dask-backed datasets: on dask inputs the
result is lazy (the convolution runs per block with halos).

Examples
--------
>>> mu = npred(ds, models)               # doctest: +SKIP
>>> mu = npred(ds, models, values={"crab.spectral.index": 2.7})  # pure  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..datasets import dataset_kind, diagonal_edisp, energy_axis
from ..errors import ConfigError
from . import _modelkit as mk
from .kernels import IrfArrays, edisp_kernel, psf_kernel

__all__ = [
    "dataset_models",
    "npred",
    "npred_background",
    "npred_signal",
]

_FLUX_UNIT = "cm-2 s-1"


def dataset_models(ds: xr.Dataset, models: Any) -> tuple[list, Any, list]:
    """The sky models, the FoV background model (or None) and template models of ``ds``."""
    from ..models import FoVBackgroundModel, Models, SkyModel, TemplateNPredModel

    models = models if isinstance(models, Models) else Models(models)
    name = ds.attrs.get("name", "")
    sky, templates, bkg = [], [], None
    for m in models.for_dataset(name):
        if isinstance(m, FoVBackgroundModel):
            bkg = m
        elif isinstance(m, TemplateNPredModel):
            templates.append(m)
        elif isinstance(m, SkyModel):
            sky.append(m)
    return sky, bkg, templates


def _exposure_factor(ds: xr.Dataset) -> float:
    return mk.unit_factor(ds.exposure.attrs.get("units", "m2 s"), "cm2 s")


def _edges(ds: xr.Dataset, dim: str) -> tuple[np.ndarray, np.ndarray, str]:
    axis = energy_axis(ds, dim)
    edges = np.asarray(axis.edges, float)
    return edges[:-1], edges[1:], axis.unit


def _edisp_matrix(ds, irf, model, values) -> np.ndarray:
    if "edisp" in ds.data_vars and model.apply_irf.get("edisp", True):
        if dataset_kind(ds).startswith("Spectrum"):
            return np.asarray(ds.edisp.values, float)
        lon, lat, frame = mk.position_deg(model, values)
        return edisp_kernel(irf, lon, lat, frame)
    return diagonal_edisp(energy_axis(ds, D.ENERGY_TRUE), energy_axis(ds, D.ENERGY))


def _convolve(data: Any, kernel: np.ndarray) -> Any:
    """Zero-padded 'same' convolution of each energy plane with its kernel (numpy or dask)."""
    from scipy.signal import fftconvolve

    def block(x):
        out = fftconvolve(x, kernel, mode="same", axes=(1, 2))
        # FFT rounding leaves ~1e-16 relative noise (e.g. tiny negative counts): zero it
        scale = np.abs(out).max(axis=(1, 2), keepdims=True) if out.size else 0.0
        return np.where(np.abs(out) <= 1e-12 * scale, 0.0, out)

    if not hasattr(data, "dask"):
        return block(np.asarray(data, float))
    h = kernel.shape[-1] // 2
    data = data.rechunk({0: -1})
    return data.map_overlap(block, depth={0: 0, 1: h, 2: h}, boundary=0.0, dtype=float)


def _sky_npred_map(ds: xr.Dataset, model: Any, values, irf: IrfArrays | None) -> xr.DataArray:
    geom = ds.exposure.gx.geom
    flux = model.integrate_geom(geom, values=values)
    target = _FLUX_UNIT if model.apply_irf.get("exposure", True) else ""
    flux = flux * mk.unit_factor(flux.attrs["units"], target)
    if model.apply_irf.get("exposure", True):
        true = flux.data * ds.exposure.data * _exposure_factor(ds)
    else:
        true = flux.data
    if irf is not None and irf.psf is not None and model.apply_irf.get("psf", True):
        lon, lat, frame = mk.position_deg(model, values)
        kernel = psf_kernel(irf, geom.to_image(), lon, lat, frame)
        true = _convolve(true, kernel)
    matrix = _edisp_matrix(ds, irf, model, values)
    true = xr.DataArray(true, dims=(D.ENERGY_TRUE, D.Y, D.X))
    kernel = xr.DataArray(matrix, dims=(D.ENERGY_TRUE, D.ENERGY))
    return xr.dot(true, kernel, dim=D.ENERGY_TRUE).transpose(D.ENERGY, D.Y, D.X)


def _sky_npred_spectrum(ds: xr.Dataset, model: Any, values) -> xr.DataArray:
    lo, hi, unit = _edges(ds, D.ENERGY_TRUE)
    prefix = model.component_prefix("spectral")
    if model.apply_irf.get("exposure", True):
        flux = mk.spectral_integral(model.spectral_model, lo, hi, unit, values, prefix, _FLUX_UNIT)
        true = flux * ds.exposure.data * _exposure_factor(ds)
    else:
        true = mk.spectral_integral(model.spectral_model, lo, hi, unit, values, prefix, "")
    matrix = _edisp_matrix(ds, None, model, values)
    true = xr.DataArray(true, dims=(D.ENERGY_TRUE,))
    return xr.dot(true, xr.DataArray(matrix, dims=(D.ENERGY_TRUE, D.ENERGY)), dim=D.ENERGY_TRUE)


def _like_counts(ds: xr.Dataset, data: Any, name: str) -> xr.DataArray:
    return ds.counts.copy(data=data).rename(name).assign_attrs(units="")


def npred_signal(
    ds: xr.Dataset,
    models: Any,
    values: Mapping[str, float] | None = None,
    model_names: list[str] | None = None,
) -> xr.DataArray:
    """Predicted counts of the sky models (all, or ``model_names``), like ``ds.counts``.

    Parameters
    ----------
    ds : xarray.Dataset
        A map or spectrum dataset (numpy or dask).
    models : Models or list of models
        The models; only those that apply to ``ds`` are used.
    values : mapping, optional
        Parameter values by key (see :meth:`Models.parameter_space`); models
        are not modified.
    model_names : list of str, optional
        Restrict to these sky models.
    """
    kind = dataset_kind(ds)
    if kind == "FluxPointsDataset":
        raise ConfigError("flux points have no predicted counts; see gammax.fit.flux_pred")
    sky, _, _ = dataset_models(ds, models)
    if model_names is not None:
        sky = [m for m in sky if m.name in model_names]
    irf = IrfArrays.from_dataset(ds) if kind.startswith("Map") and _has_irf(ds) else None
    total: Any = None
    for model in sky:
        mk.check_sky_model(model, kind)
        part = (
            _sky_npred_map(ds, model, values, irf)
            if kind.startswith("Map")
            else _sky_npred_spectrum(ds, model, values)
        )
        total = part if total is None else total + part
    if total is None:
        return _like_counts(ds, xr.zeros_like(ds.counts, dtype=float).data, "npred_signal")
    return _like_counts(ds, total.transpose(*ds.counts.dims).data, "npred_signal")


def _has_irf(ds: xr.Dataset) -> bool:
    return any(n in ds.data_vars for n in ("psf", "edisp"))


def npred_background(
    ds: xr.Dataset, models: Any, values: Mapping[str, float] | None = None
) -> xr.DataArray:
    """Background counts: ``background`` x FoV model, plus template models (zeros if none).

    On/off datasets have no background map (zeros here): their background is
    profiled at given signal counts, see :func:`npred` and
    :func:`gammax.fit.stats.wstat_mu_bkg`.
    """
    kind = dataset_kind(ds)
    _, bkg_model, templates = dataset_models(ds, models)
    if "background" in ds.data_vars:
        bkg = ds.background.astype(float)
        if bkg_model is not None:
            bkg = bkg_model.apply(bkg, values)
        data = bkg.data
    else:
        if bkg_model is not None:
            raise ConfigError(
                f"FoVBackgroundModel {bkg_model.name!r} applies to {kind} "
                f"{ds.attrs.get('name')!r}, which has no background map"
            )
        data = xr.zeros_like(ds.counts, dtype=float).data
    for model in templates:
        data = data + model.evaluate(values).transpose(*ds.counts.dims).data
    return _like_counts(ds, data, "npred_background")


def npred(ds: xr.Dataset, models: Any, values: Mapping[str, float] | None = None) -> xr.DataArray:
    """Total predicted counts: :func:`npred_background` + :func:`npred_signal`.

    For on/off datasets the background term is the profiled WStat background
    ``alpha * mu_bkg`` at these signal counts.
    """
    signal = npred_signal(ds, models, values)
    if dataset_kind(ds).endswith("OnOff"):
        from .stats import wstat_mu_bkg

        alpha = ds.acceptance / ds.acceptance_off
        mu_bkg = wstat_mu_bkg(ds.counts.data, ds.counts_off.data, alpha.data, signal.data)
        return _like_counts(ds, signal.data + alpha.data * mu_bkg, "npred")
    return (npred_background(ds, models, values) + signal).rename("npred")
