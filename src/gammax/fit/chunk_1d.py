"""Compiled spectrum and flux-point datasets: numpy arrays and a fast ``stat(values)``.

Spectrum datasets use Cash (with a known background) or WStat (on/off);
flux points use chi2 on the points that are not upper limits, with the
symmetric error ``dnde_err`` or the mean of ``dnde_errn`` and ``dnde_errp``
(Gammapy's ``chi2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import dims as D
from ..datasets import dataset_kind, energy_axis, fit_mask
from . import _modelkit as mk
from .stats import cash, wstat

__all__ = ["FluxPointsChunk", "SpectrumChunk", "build_flux_points_chunk", "build_spectrum_chunk"]


@dataclass
class SpectrumChunk:
    """A spectrum dataset compiled for fast evaluation."""

    name: str
    kind: str
    models: list  # sky models that apply
    e_true: tuple[np.ndarray, np.ndarray, str]
    exposure: np.ndarray  # cm2 s
    edisp: np.ndarray  # (e_true, e_reco)
    counts: np.ndarray
    mask: np.ndarray
    background: np.ndarray | None
    n_off: np.ndarray | None
    alpha: np.ndarray | None
    cost: float = 1.0
    fast: list | None = None

    def npred_signal(self, values) -> np.ndarray:
        """Predicted signal counts per reconstructed-energy bin."""
        lo, hi, unit = self.e_true
        if self.fast is None:
            self.fast = [
                mk.FastSpectral(
                    m.spectral_model,
                    m.component_prefix("spectral"),
                    unit,
                    "cm-2 s-1" if m.apply_irf.get("exposure", True) else "",
                )
                for m in self.models
            ]
        true = np.zeros(lo.shape)
        for model, fast in zip(self.models, self.fast, strict=True):
            flux = fast.integral(lo, hi, values)
            true = true + (self.exposure * flux if model.apply_irf.get("exposure", True) else flux)
        return true @ self.edisp

    def stat(self, values) -> float:
        """``-2 log L`` at ``values``."""
        mu_sig = self.npred_signal(values)
        m = self.mask
        if self.n_off is not None:
            return float(np.sum(wstat(self.counts[m], self.n_off[m], self.alpha[m], mu_sig[m])))
        mu = mu_sig if self.background is None else mu_sig + self.background
        return float(np.sum(cash(self.counts[m], mu[m])))

    def in_reach(self, values) -> bool:
        """Spectra have no spatial boxes."""
        return True


def build_spectrum_chunk(ds: Any, models: Any, values: dict | None = None) -> SpectrumChunk:
    """Compile a ``SpectrumDataset`` or ``SpectrumDatasetOnOff`` (loads it)."""
    from .npred import dataset_models

    kind = dataset_kind(ds)
    ds = ds.load()
    sky, _, _ = dataset_models(ds, models)
    for m in sky:
        mk.check_sky_model(m, kind)
    axis = energy_axis(ds, D.ENERGY_TRUE)
    edges = np.asarray(axis.edges, float)
    mask = fit_mask(ds)
    counts = np.asarray(ds.counts.values, float)
    mask = np.ones(counts.shape, bool) if mask is None else np.asarray(mask.values, bool)
    factor = mk.unit_factor(ds.exposure.attrs.get("units", "m2 s"), "cm2 s")
    onoff = kind.endswith("OnOff")
    return SpectrumChunk(
        name=str(ds.attrs.get("name", "")),
        kind=kind,
        models=sky,
        e_true=(edges[:-1], edges[1:], axis.unit),
        exposure=np.asarray(ds.exposure.values, float) * factor,
        edisp=np.asarray(ds.edisp.values, float),
        counts=counts,
        mask=mask,
        background=(
            np.asarray(ds.background.values, float) if "background" in ds.data_vars else None
        ),
        n_off=np.asarray(ds.counts_off.values, float) if onoff else None,
        alpha=(
            np.asarray(ds.acceptance.values, float) / np.asarray(ds.acceptance_off.values, float)
            if onoff
            else None
        ),
        cost=float(counts.size),
    )


@dataclass
class FluxPointsChunk:
    """Flux points compiled for chi2 evaluation."""

    name: str
    kind: str
    models: list
    energy: np.ndarray
    energy_unit: str
    dnde: np.ndarray
    sigma: np.ndarray
    unit: str
    cost: float = 1.0
    fast: list | None = None

    def flux_pred(self, values) -> np.ndarray:
        """Sum of the models' ``dnde`` at the reference energies, in the data unit."""
        if self.fast is None:
            self.fast = [
                (
                    mk.FastSpectral(
                        m.spectral_model, m.component_prefix("spectral"), self.energy_unit
                    ),
                    mk.unit_factor(m.spectral_model.unit, self.unit),
                )
                for m in self.models
            ]
        out = np.zeros(self.energy.shape)
        for fast, factor in self.fast:
            out = out + fast(self.energy, values) * factor
        return out

    def stat(self, values) -> float:
        """Chi2 at ``values``."""
        return float(np.sum(((self.dnde - self.flux_pred(values)) / self.sigma) ** 2))

    def in_reach(self, values) -> bool:
        """No spatial boxes."""
        return True


def build_flux_points_chunk(ds: Any, models: Any, values: dict | None = None) -> FluxPointsChunk:
    """Compile a ``FluxPointsDataset`` (points with finite errors, upper limits excluded)."""
    from .npred import dataset_models

    ds = ds.load()
    sky, _, _ = dataset_models(ds, models)
    if "dnde_err" in ds.data_vars:
        sigma = np.asarray(ds.dnde_err.values, float)
    else:
        sigma = 0.5 * (np.asarray(ds.dnde_errn.values, float) + np.asarray(ds.dnde_errp.values))
    valid = np.isfinite(sigma) & (sigma > 0) & np.isfinite(ds.dnde.values)
    if "is_ul" in ds.data_vars:
        valid &= ~np.asarray(ds.is_ul.values, bool)
    mask = fit_mask(ds)
    if mask is not None:
        valid &= np.asarray(mask.values, bool)
    return FluxPointsChunk(
        name=str(ds.attrs.get("name", "")),
        kind="FluxPointsDataset",
        models=sky,
        energy=np.asarray(ds[D.ENERGY].values, float)[valid],
        energy_unit=ds[D.ENERGY].attrs.get("units", "TeV"),
        dnde=np.asarray(ds.dnde.values, float)[valid],
        sigma=sigma[valid],
        unit=ds.dnde.attrs.get("units", "cm-2 s-1 TeV-1"),
        cost=float(valid.sum()),
    )
