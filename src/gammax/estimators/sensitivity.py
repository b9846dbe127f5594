"""Differential, IACT-style point-source sensitivity of a 1D dataset (Gammapy's estimator).

In each reconstructed-energy bin the minimal excess is the one that reaches
``n_sigma`` (Li & Ma / WStat for ON/OFF, with ``n_on = alpha * n_off``; Cash
for a known background), raised to at least ``gamma_min`` counts and to at
least ``bkg_syst_fraction`` times the background. The flux follows from the
predicted counts of the reference spectrum (power law of index 2) folded with
exposure and energy dispersion: ``e2dnde = excess / npred * E**2 dnde(E)`` at
the bin centre, in ``erg cm-2 s-1`` as Gammapy. ``criterion`` says what limits
each bin (CF flags: 0 significance, 1 gamma, 2 bkg).

Examples
--------
>>> import numpy as np
>>> from gammax.estimators.sensitivity import excess_matching_significance
>>> n = excess_matching_significance(np.array([100.0]), np.array([1000.0]), np.array([0.1]), 5)
>>> bool(45 < n[0] < 60)
True
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from scipy.special import lambertw

from .. import dims as D
from ..datasets import dataset_kind, energy_axis
from ..errors import ConfigError
from ..fit.stats import wstat
from .excess_map import estimator_attrs, vectorized_bisect

__all__ = ["SensitivityEstimator", "criterion_names", "excess_matching_significance"]

CRITERIA = ("significance", "gamma", "bkg")


def _wstat_sqrt_ts(n_sig, n_bkg, n_off, alpha):
    n_on = n_sig + n_bkg
    stat0 = wstat(n_on, n_off, alpha, 0.0)
    stat1 = wstat(n_on, n_off, alpha, n_sig)
    return np.sign(n_sig) * np.sqrt(np.clip(stat0 - stat1, 0, None))


def excess_matching_significance(
    n_bkg: Any, n_off: Any = None, alpha: Any = None, significance: float = 5.0
) -> np.ndarray:
    """Excess counts whose significance is ``significance`` over a background ``n_bkg``.

    With ``n_off`` and ``alpha`` the WStat significance (background from OFF
    counts, root found by :func:`vectorized_bisect`), otherwise the Cash one
    for a known background (closed form, Gammapy's ``CashCountsStatistic``).
    NaN where there is no background.
    """
    n_bkg = np.asarray(n_bkg, float)
    if n_off is None:
        c = significance**2 / 2
        out = np.full(n_bkg.shape, np.nan)
        pos = n_bkg > 0
        branch = 0 if significance > 0 else -1
        res = np.real(lambertw((c / n_bkg[pos] - 1) / np.e, k=branch))
        out[pos] = n_bkg[pos] * (np.exp(res + 1) - 1)
        return out
    n_off, alpha = np.asarray(n_off, float), np.asarray(alpha, float)
    upper = np.maximum(4 * significance * np.sqrt(np.maximum(n_bkg, 0)) + 4 * significance**2, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(60):
            low = _wstat_sqrt_ts(upper, n_bkg, n_off, alpha) < significance
            if not low.any():
                break
            upper = np.where(low, 2 * upper, upper)

    def func(n_sig):
        return _wstat_sqrt_ts(n_sig, n_bkg, n_off, alpha) - significance

    return vectorized_bisect(func, np.zeros_like(n_bkg), upper)


class SensitivityEstimator:
    """Differential sensitivity of a ``SpectrumDatasetOnOff`` (or ``SpectrumDataset``).

    Parameters
    ----------
    spectral_model : SpectralModel, optional
        Assumed spectrum; default power law of index 2 (amplitude 1 cm-2 s-1 TeV-1).
    n_sigma : float
        Significance to reach in each bin.
    gamma_min : float
        Minimum excess counts.
    bkg_syst_fraction : float
        Minimum excess as a fraction of the background.

    Examples
    --------
    >>> est = SensitivityEstimator(n_sigma=5, gamma_min=10, bkg_syst_fraction=0.05)
    >>> sens = est.run(dataset)  # doctest: +SKIP
    """

    tag = "SensitivityEstimator"

    def __init__(
        self,
        spectral_model: Any = None,
        n_sigma: float = 5.0,
        gamma_min: float = 10,
        bkg_syst_fraction: float = 0.05,
    ) -> None:
        if spectral_model is None:
            from ..models import PowerLawSpectralModel

            spectral_model = PowerLawSpectralModel(index=2, amplitude="1 cm-2 s-1 TeV-1")
        if n_sigma <= 0:
            raise ConfigError(f"n_sigma must be > 0, got {n_sigma!r}")
        if gamma_min < 0 or bkg_syst_fraction < 0:
            raise ConfigError(
                f"gamma_min and bkg_syst_fraction must be >= 0, got {gamma_min!r}, "
                f"{bkg_syst_fraction!r}"
            )
        self.spectral_model = spectral_model
        self.n_sigma = float(n_sigma)
        self.gamma_min = float(gamma_min)
        self.bkg_syst_fraction = float(bkg_syst_fraction)

    def params(self) -> dict[str, Any]:
        """The estimator's parameters (JSON-able)."""
        return {
            "n_sigma": self.n_sigma,
            "gamma_min": self.gamma_min,
            "bkg_syst_fraction": self.bkg_syst_fraction,
        }

    def estimate_min_excess(self, dataset: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
        """Minimal excess and background counts per energy bin."""
        kind = dataset_kind(dataset)
        if kind == "SpectrumDatasetOnOff":
            n_off = np.asarray(dataset.counts_off.values, float)
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = np.asarray(dataset.acceptance.values, float) / np.asarray(
                    dataset.acceptance_off.values, float
                )
            alpha = np.nan_to_num(alpha)
            bkg = alpha * n_off
            excess = excess_matching_significance(bkg, n_off, alpha, self.n_sigma)
        elif kind == "SpectrumDataset" and "background" in dataset.data_vars:
            bkg = np.asarray(dataset.background.values, float)
            excess = excess_matching_significance(bkg, significance=self.n_sigma)
        else:
            raise ConfigError(
                f"SensitivityEstimator needs a SpectrumDatasetOnOff or a SpectrumDataset with a "
                f"background, got {kind} {dataset.attrs.get('name', '')!r}"
            )
        excess = np.where(excess < self.gamma_min, self.gamma_min, excess)
        syst = self.bkg_syst_fraction * bkg
        excess = np.where(excess < syst, syst, excess)
        return excess, bkg

    def run(self, dataset: xr.Dataset) -> xr.Dataset:
        """Sensitivity per reconstructed-energy bin.

        Returns
        -------
        xarray.Dataset
            Dim ``energy`` with coords ``e_ref``, ``e_min``, ``e_max`` (TeV);
            ``e2dnde`` (erg cm-2 s-1), ``excess``, ``background``, ``criterion``
            (flags ``significance gamma bkg``).
        """
        from ..fit import npred_signal
        from ..models import SkyModel

        excess, bkg = self.estimate_min_excess(dataset)
        model = SkyModel(self.spectral_model, name="sensitivity")
        npred = np.asarray(npred_signal(dataset, [model]).values, float)
        axis = energy_axis(dataset, D.ENERGY)
        centers = np.asarray(axis.center, float) * u.Unit(axis.unit)
        dnde = self.spectral_model(centers)
        dnde = np.asarray(dnde.values) * u.Unit(dnde.attrs["units"])
        with np.errstate(invalid="ignore", divide="ignore"):
            e2dnde = (excess / npred) * dnde * centers**2
        e2dnde = e2dnde.to_value("erg cm-2 s-1")
        criterion = np.zeros(excess.shape, np.uint8)
        criterion[excess == self.gamma_min] = 1
        criterion[excess == bkg * self.bkg_syst_fraction] = 2
        coords = {
            D.ENERGY: dataset.coords[D.ENERGY],
            "e_ref": (D.ENERGY, centers.to_value("TeV"), {"units": "TeV"}),
            "e_min": (
                D.ENERGY,
                (axis.edges_min * u.Unit(axis.unit)).to_value("TeV"),
                {"units": "TeV"},
            ),
            "e_max": (
                D.ENERGY,
                (axis.edges_max * u.Unit(axis.unit)).to_value("TeV"),
                {"units": "TeV"},
            ),
        }
        out = xr.Dataset(
            {
                "e2dnde": (D.ENERGY, e2dnde, {"units": "erg cm-2 s-1"}),
                "excess": (D.ENERGY, excess, {"units": ""}),
                "background": (D.ENERGY, bkg, {"units": ""}),
                "criterion": (
                    D.ENERGY,
                    criterion,
                    {"flag_values": [0, 1, 2], "flag_meanings": " ".join(CRITERIA)},
                ),
            },
            coords=coords,
        )
        attrs = estimator_attrs(self.tag, self.params(), self.spectral_model)
        attrs["dataset"] = str(dataset.attrs.get("name", ""))
        out.attrs.update(attrs)
        return out


def criterion_names(ds: xr.Dataset) -> list[str]:
    """The limiting criterion of each bin as strings (Gammapy's ``criterion`` column)."""
    names = ds.criterion.attrs["flag_meanings"].split()
    return [names[int(v)] for v in np.asarray(ds.criterion.values)]
