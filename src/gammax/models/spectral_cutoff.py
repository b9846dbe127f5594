r"""Power laws with exponential cutoffs, including the Fermi-LAT catalogue forms.

Formulas, parameter names, defaults and tags are Gammapy's
(``ExpCutoffPowerLawSpectralModel``, ``ExpCutoffPowerLaw3FGLSpectralModel``,
``SuperExpCutoffPowerLaw3FGLSpectralModel``,
``SuperExpCutoffPowerLaw4FGLSpectralModel`` and
``SuperExpCutoffPowerLaw4FGLDR3SpectralModel``). Integrals use quadrature.

Examples
--------
>>> import astropy.units as u
>>> ecpl = ExpCutoffPowerLawSpectralModel(lambda_="0.1 TeV-1")
>>> round(float(ecpl(10 * u.TeV) / 1e-12 / 10**-1.5 * 2.718281828459045), 6)
1.0
"""

from __future__ import annotations

import numpy as np

from .core import _factor
from .parameters import Parameter
from .registry import register
from .spectral import SpectralModel
from .spectral_powerlaw import _amplitude

__all__ = [
    "ExpCutoffPowerLaw3FGLSpectralModel",
    "ExpCutoffPowerLawSpectralModel",
    "SuperExpCutoffPowerLaw3FGLSpectralModel",
    "SuperExpCutoffPowerLaw4FGLDR3SpectralModel",
    "SuperExpCutoffPowerLaw4FGLSpectralModel",
]


@register("spectral")
class ExpCutoffPowerLawSpectralModel(SpectralModel):
    r"""Exponential cutoff power law :math:`\phi_0 (E/E_0)^{-\Gamma} \exp(-(\lambda E)^\alpha)`."""

    tag = ("ExpCutoffPowerLawSpectralModel", "ecpl")
    _defaults = (
        Parameter("index", 1.5),
        _amplitude(),
        Parameter("reference", "1 TeV", frozen=True),
        Parameter("lambda_", "0.1 TeV-1"),
        Parameter("alpha", 1.0, frozen=True),
    )

    @staticmethod
    def evaluate(energy, index, amplitude, reference, lambda_, alpha):
        """Exponential cutoff power law."""
        pwl = amplitude * (energy / reference) ** (-index)
        return pwl * np.exp(-np.power(energy * lambda_, alpha))


@register("spectral")
class ExpCutoffPowerLaw3FGLSpectralModel(SpectralModel):
    r"""3FGL exponential cutoff power law :math:`\phi_0 (E/E_0)^{-\Gamma} \exp((E_0 - E)/E_c)`."""

    tag = ("ExpCutoffPowerLaw3FGLSpectralModel", "ecpl-3fgl")
    _defaults = (
        Parameter("index", 1.5),
        _amplitude(),
        Parameter("reference", "1 TeV", frozen=True),
        Parameter("ecut", "10 TeV"),
    )

    @staticmethod
    def evaluate(energy, index, amplitude, reference, ecut):
        """3FGL exponential cutoff power law."""
        return amplitude * (energy / reference) ** (-index) * np.exp((reference - energy) / ecut)


@register("spectral")
class SuperExpCutoffPowerLaw3FGLSpectralModel(SpectralModel):
    r"""3FGL super-exponential cutoff power law.

    .. math::
        \phi_0 (E/E_0)^{-\Gamma_1} \exp\left((E_0/E_c)^{\Gamma_2} - (E/E_c)^{\Gamma_2}\right)
    """

    tag = ("SuperExpCutoffPowerLaw3FGLSpectralModel", "secpl-3fgl")
    _defaults = (
        _amplitude(),
        Parameter("reference", "1 TeV", frozen=True),
        Parameter("ecut", "10 TeV"),
        Parameter("index_1", 1.5),
        Parameter("index_2", 2.0),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, ecut, index_1, index_2):
        """3FGL super-exponential cutoff power law."""
        pwl = amplitude * (energy / reference) ** (-index_1)
        return pwl * np.exp((reference / ecut) ** index_2 - (energy / ecut) ** index_2)


@register("spectral")
class SuperExpCutoffPowerLaw4FGLSpectralModel(SpectralModel):
    r"""4FGL (DR1/DR2) super-exponential cutoff power law.

    .. math::
        \phi_0 (E/E_0)^{-\Gamma_1} \exp\left(a (E_0^{\Gamma_2} - E^{\Gamma_2})\right)

    with energies in MeV inside the exponential (``expfactor`` :math:`a` is in
    :math:`\mathrm{MeV}^{-\Gamma_2}`, given as a dimensionless number).
    """

    tag = ("SuperExpCutoffPowerLaw4FGLSpectralModel", "secpl-4fgl")
    _defaults = (
        _amplitude(),
        Parameter("reference", "1 TeV", frozen=True),
        Parameter("expfactor", 1e-14),
        Parameter("index_1", 1.5),
        Parameter("index_2", 2.0),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, expfactor, index_1, index_2, to_mev=1.0):
        """4FGL super-exponential cutoff power law (``to_mev``: energy unit -> MeV)."""
        pwl = amplitude * (energy / reference) ** (-index_1)
        e_mev, ref_mev = energy * to_mev, reference * to_mev
        return pwl * np.exp(expfactor * (ref_mev**index_2 - e_mev**index_2))

    def _kernel(self, energy, **params):
        return self.evaluate(energy, to_mev=_factor(self.energy_unit, "MeV"), **params)


@register("spectral")
class SuperExpCutoffPowerLaw4FGLDR3SpectralModel(SpectralModel):
    r"""4FGL-DR3 super-exponential cutoff power law (equations 2 and 3 of Abdollahi et al. 2022).

    .. math::
        \phi_0 (E/E_0)^{-\Gamma_1 + a/\Gamma_2}
        \exp\left(\frac{a}{\Gamma_2^2}\left(1 - (E/E_0)^{\Gamma_2}\right)\right)

    with the Taylor form used near :math:`E_0` (where
    :math:`|\Gamma_2 \ln(E/E_0)| < 10^{-2}`), as Gammapy and the Fermi tools.
    """

    tag = ("SuperExpCutoffPowerLaw4FGLDR3SpectralModel", "secpl-4fgl-dr3")
    _defaults = (
        _amplitude(),
        Parameter("reference", "1 TeV", frozen=True),
        Parameter("expfactor", 1e-2),
        Parameter("index_1", 1.5),
        Parameter("index_2", 2.0),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, expfactor, index_1, index_2):
        """4FGL-DR3 super-exponential cutoff power law."""
        xx = np.asarray(energy / reference, float)
        pwl = amplitude * xx ** (-index_1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            cutoff = xx ** (expfactor / index_2) * np.exp(
                expfactor / index_2**2 * (1 - xx**index_2)
            )
            ln_ = np.log(xx)
            power = -expfactor * (
                ln_ / 2.0 + index_2 / 6.0 * ln_**2.0 + index_2**2.0 / 24.0 * ln_**3
            )
            taylor = xx**power
        cutoff = np.where(np.abs(index_2 * ln_) < 1e-2, taylor, cutoff)
        return pwl * cutoff
