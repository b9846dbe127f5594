r"""Power-law-like spectral models: constant, power laws, broken, log-parabolas, Gaussian.

Formulas, parameter names, defaults and tags are Gammapy's. Kernels are
static numpy functions of energies in the model's energy unit.

Examples
--------
>>> import astropy.units as u
>>> lp = LogParabolaSpectralModel(alpha=2.3, beta=0.1, reference="1 TeV")
>>> round(float(lp(1 * u.TeV)), 20)
1e-12
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .parameters import Parameter
from .registry import register
from .spectral import SpectralModel

__all__ = [
    "BrokenPowerLawSpectralModel",
    "ConstantSpectralModel",
    "GaussianSpectralModel",
    "LogParabola2SpectralModel",
    "LogParabolaSpectralModel",
    "PowerLaw2SpectralModel",
    "PowerLawSpectralModel",
    "SmoothBrokenPowerLawSpectralModel",
]


def _amplitude(unit: str = "cm-2 s-1 TeV-1") -> Parameter:
    return Parameter("amplitude", 1e-12, unit=unit, interp="log", is_norm=True)


def power_law_integral(emin, emax, index, amplitude, reference, moment=0):
    r"""Analytic :math:`\int E^m A (E/E_0)^{-\Gamma} dE` (log form when :math:`\Gamma = 1 + m`)."""
    emin, emax = np.asarray(emin, float), np.asarray(emax, float)
    # integrate from the lower to the upper bound and give reversed bounds the
    # sign: exactly antisymmetric (the ratio of narrow bins rounds differently)
    sign = np.where(emax < emin, -1.0, 1.0)
    emin, emax = np.minimum(emin, emax), np.maximum(emin, emax)
    val = 1.0 + moment - index
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.log(emax / emin)
        if np.isclose(val, 0.0):
            return sign * amplitude * reference ** (1 + moment) * log_ratio
        prefactor = amplitude * reference ** (1 + moment) / val
        # expm1 form: no cancellation for narrow bins; direct form where emin is 0
        stable = (emin / reference) ** val * np.expm1(val * log_ratio)
        direct = (emax / reference) ** val - (emin / reference) ** val
        return sign * prefactor * np.where(emin > 0, stable, direct)


@register("spectral")
class ConstantSpectralModel(SpectralModel):
    r"""Constant differential flux :math:`\phi(E) = k`.

    Examples
    --------
    >>> ConstantSpectralModel(const="2e-12 cm-2 s-1 TeV-1")(1.0).values
    array(2.e-12)
    """

    tag = ("ConstantSpectralModel", "const")
    _defaults = (Parameter("const", "1e-12 cm-2 s-1 TeV-1"),)
    _unit_from = "const"

    @staticmethod
    def evaluate(energy, const):
        """Constant."""
        return np.ones(np.shape(energy)) * const

    @staticmethod
    def evaluate_integral(energy_min, energy_max, const):
        """``k (E_max - E_min)``."""
        return const * (np.asarray(energy_max) - np.asarray(energy_min))

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, const):
        """``k (E_max^2 - E_min^2) / 2``."""
        return const * (np.asarray(energy_max) ** 2 - np.asarray(energy_min) ** 2) / 2


@register("spectral")
class PowerLawSpectralModel(SpectralModel):
    r"""Power law :math:`\phi(E) = \phi_0 (E / E_0)^{-\Gamma}`.

    Parameters: ``index`` (2), ``amplitude`` (1e-12 cm-2 s-1 TeV-1),
    ``reference`` (1 TeV, frozen). Integral and energy flux are analytic.

    Examples
    --------
    >>> pl = PowerLawSpectralModel(index=3)
    >>> float(pl.integral(1.0, 2.0))
    3.75e-13
    """

    tag = ("PowerLawSpectralModel", "pl")
    _defaults = (
        Parameter("index", 2.0),
        _amplitude(),
        Parameter("reference", "1 TeV", frozen=True),
    )

    @staticmethod
    def evaluate(energy, index, amplitude, reference):
        """Power law."""
        return amplitude * np.power(energy / reference, -index)

    @staticmethod
    def evaluate_integral(energy_min, energy_max, index, amplitude, reference):
        """Analytic integral."""
        return power_law_integral(energy_min, energy_max, index, amplitude, reference, 0)

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, index, amplitude, reference):
        """Analytic energy flux."""
        return power_law_integral(energy_min, energy_max, index, amplitude, reference, 1)


@register("spectral")
class PowerLaw2SpectralModel(SpectralModel):
    r"""Power law with the integral flux between ``emin`` and ``emax`` as amplitude.

    .. math::
        \phi(E) = F_0 \frac{1 - \Gamma}{E_{max}^{1-\Gamma} - E_{min}^{1-\Gamma}} E^{-\Gamma}

    Examples
    --------
    >>> pl2 = PowerLaw2SpectralModel(amplitude="1e-12 cm-2 s-1")
    >>> float(pl2.integral(0.1, 100.0))
    1e-12
    """

    tag = ("PowerLaw2SpectralModel", "pl-2")
    _defaults = (
        Parameter("amplitude", "1e-12 cm-2 s-1", interp="log", is_norm=True),
        Parameter("index", 2.0),
        Parameter("emin", "0.1 TeV", frozen=True),
        Parameter("emax", "100 TeV", frozen=True),
    )
    _energy_power = -1

    @staticmethod
    def evaluate(energy, amplitude, index, emin, emax):
        """Power law normalised to ``amplitude`` between ``emin`` and ``emax``."""
        top = -index + 1
        bottom = emax - emin * (emin / emax) ** (-index)
        return amplitude * (top / bottom) * np.power(energy / emax, -index)

    @staticmethod
    def _integral(energy_min, energy_max, amplitude, index, emin, emax, moment):
        emin_, emax_ = np.asarray(energy_min, float), np.asarray(energy_max, float)
        g = 1.0 - index
        norm = amplitude * g / (emax - emin * (emin / emax) ** (-index)) / emax**-index
        if moment == 0 and np.isclose(g, 0.0):
            return amplitude * np.log(emax_ / emin_) / np.log(emax / emin)
        return power_law_integral(emin_, emax_, index, norm, 1.0, moment)

    @classmethod
    def evaluate_integral(cls, energy_min, energy_max, amplitude, index, emin, emax):
        """Analytic integral."""
        return cls._integral(energy_min, energy_max, amplitude, index, emin, emax, 0)

    @classmethod
    def evaluate_energy_flux(cls, energy_min, energy_max, amplitude, index, emin, emax):
        """Analytic energy flux."""
        return cls._integral(energy_min, energy_max, amplitude, index, emin, emax, 1)


@register("spectral")
class BrokenPowerLawSpectralModel(SpectralModel):
    r"""Broken power law: index ``index1`` below ``ebreak`` and ``index2`` from it.

    .. math::
        \phi(E) = \phi_0 (E / E_{break})^{-\Gamma_{1,2}}

    Integrals are analytic (one power law on each side of the break).
    """

    tag = ("BrokenPowerLawSpectralModel", "bpl")
    _defaults = (
        Parameter("index1", 2.0),
        Parameter("index2", 2.0),
        _amplitude(),
        Parameter("ebreak", "1 TeV"),
    )

    def _breaks(self, params: dict) -> np.ndarray:
        return np.array([params["ebreak"]])

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak):
        """Broken power law."""
        energy = np.asarray(energy, float)
        eratio = energy / ebreak
        index = np.where(energy < ebreak, index1, index2)
        return amplitude * eratio**-index

    @staticmethod
    def _integral(emin, emax, index1, index2, amplitude, ebreak, moment):
        emin, emax = np.asarray(emin, float), np.asarray(emax, float)
        low = power_law_integral(
            np.minimum(emin, ebreak), np.minimum(emax, ebreak), index1, amplitude, ebreak, moment
        )
        high = power_law_integral(
            np.maximum(emin, ebreak), np.maximum(emax, ebreak), index2, amplitude, ebreak, moment
        )
        return low + high

    @classmethod
    def evaluate_integral(cls, energy_min, energy_max, index1, index2, amplitude, ebreak):
        """Analytic integral."""
        return cls._integral(energy_min, energy_max, index1, index2, amplitude, ebreak, 0)

    @classmethod
    def evaluate_energy_flux(cls, energy_min, energy_max, index1, index2, amplitude, ebreak):
        """Analytic energy flux."""
        return cls._integral(energy_min, energy_max, index1, index2, amplitude, ebreak, 1)


@register("spectral")
class SmoothBrokenPowerLawSpectralModel(SpectralModel):
    r"""Smoothly broken power law.

    .. math::
        \phi(E) = \phi_0 \left(\frac{E}{E_0}\right)^{-\Gamma_1}
        \left[1 + \left(\frac{E}{E_{break}}\right)^{\frac{\Gamma_2-\Gamma_1}{\beta}}
        \right]^{-\beta}

    with :math:`\beta` multiplied by the sign of :math:`\Gamma_2 - \Gamma_1`.
    """

    tag = ("SmoothBrokenPowerLawSpectralModel", "sbpl")
    _defaults = (
        Parameter("index1", 2.0),
        Parameter("index2", 2.0),
        _amplitude(),
        Parameter("ebreak", "1 TeV"),
        Parameter("reference", "1 TeV", frozen=True),
        Parameter("beta", 1.0, frozen=True),
    )

    @staticmethod
    def evaluate(energy, index1, index2, amplitude, ebreak, reference, beta):
        """Smoothly broken power law."""
        beta = beta * np.sign(index2 - index1)
        pwl = amplitude * (energy / reference) ** (-index1)
        with np.errstate(divide="ignore", invalid="ignore"):
            brk = (1 + (energy / ebreak) ** ((index2 - index1) / beta)) ** (-beta)
        return pwl * brk


@register("spectral")
class LogParabolaSpectralModel(SpectralModel):
    r"""Log-parabola :math:`\phi(E) = \phi_0 (E/E_0)^{-\alpha - \beta \ln(E/E_0)}`.

    ``beta`` uses the natural logarithm; :meth:`from_log10` converts the
    :math:`\log_{10}` convention. No closed-form integral: quadrature.
    """

    tag = ("LogParabolaSpectralModel", "lp")
    _defaults = (
        _amplitude(),
        Parameter("reference", "10 TeV", frozen=True),
        Parameter("alpha", 2.0),
        Parameter("beta", 1.0),
    )

    @classmethod
    def from_log10(cls, amplitude, reference, alpha, beta) -> LogParabolaSpectralModel:
        r"""Model from the :math:`\log_{10}` parametrisation of ``beta``."""
        return cls(amplitude=amplitude, reference=reference, alpha=alpha, beta=beta / np.log(10))

    @staticmethod
    def evaluate(energy, amplitude, reference, alpha, beta):
        """Log-parabola."""
        xx = energy / reference
        return amplitude * np.power(xx, -alpha - beta * np.log(xx))


@register("spectral")
class LogParabola2SpectralModel(SpectralModel):
    r"""Log-parabola with a curvature scale: :math:`\phi_0 (E/E_0)^{-\alpha-\beta\ln(E/E_s)}`."""

    tag = ("LogParabola2SpectralModel", "lp2")
    _defaults = (
        _amplitude(),
        Parameter("reference", "10 TeV", frozen=True),
        Parameter("alpha", 2.0),
        Parameter("beta", 1.0),
        Parameter("escale", "1 TeV", frozen=True),
    )

    @staticmethod
    def evaluate(energy, amplitude, reference, alpha, beta, escale):
        """Log-parabola with curvature scale ``escale``."""
        return amplitude * np.power(energy / reference, -alpha - beta * np.log(energy / escale))


@register("spectral")
class GaussianSpectralModel(SpectralModel):
    r"""Gaussian line :math:`\phi(E) = \frac{N_0}{\sigma\sqrt{2\pi}} e^{-(E-\bar E)^2/2\sigma^2}`.

    Integral and energy flux are analytic (error functions).
    """

    tag = ("GaussianSpectralModel", "gauss")
    _defaults = (
        Parameter("amplitude", "1e-12 cm-2 s-1", interp="log", is_norm=True),
        Parameter("mean", "1 TeV"),
        Parameter("sigma", "2 TeV"),
    )
    _energy_power = -1

    @staticmethod
    def evaluate(energy, amplitude, mean, sigma):
        """Gaussian."""
        return (
            amplitude
            / (sigma * np.sqrt(2 * np.pi))
            * np.exp(-((energy - mean) ** 2) / (2 * sigma**2))
        )

    @staticmethod
    def evaluate_integral(energy_min, energy_max, amplitude, mean, sigma):
        """Analytic integral."""
        u_min = (np.asarray(energy_min) - mean) / (np.sqrt(2) * sigma)
        u_max = (np.asarray(energy_max) - mean) / (np.sqrt(2) * sigma)
        return amplitude / 2 * (special.erf(u_max) - special.erf(u_min))

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, amplitude, mean, sigma):
        """Analytic energy flux."""
        u_min = (np.asarray(energy_min) - mean) / (np.sqrt(2) * sigma)
        u_max = (np.asarray(energy_max) - mean) / (np.sqrt(2) * sigma)
        a = amplitude * sigma / np.sqrt(2 * np.pi)
        b = amplitude * mean / 2
        return a * (np.exp(-(u_min**2)) - np.exp(-(u_max**2))) + b * (
            special.erf(u_max) - special.erf(u_min)
        )
