r"""Normalisation spectral models: dimensionless corrections applied to templates.

These multiply a predicted-counts template (background models) or another
spectral model: ``PowerLawNormSpectralModel`` (norm and tilt), the
log-parabola and exponential-cutoff norms, and ``PiecewiseNormSpectralModel``
(one free norm per fixed energy node). Tags and defaults are Gammapy's.

Examples
--------
>>> import astropy.units as u
>>> norm = PowerLawNormSpectralModel(norm=1.2, tilt=0.1)
>>> round(float(norm(10 * u.TeV)), 6)
0.953194
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np

from ..errors import ConfigError, FormatError
from .parameters import Parameter, Parameters
from .registry import register
from .spectral import SpectralModel
from .spectral_powerlaw import power_law_integral

__all__ = [
    "ExpCutoffPowerLawNormSpectralModel",
    "LogParabolaNormSpectralModel",
    "PiecewiseNormSpectralModel",
    "PowerLawNormSpectralModel",
]


def _norm() -> Parameter:
    return Parameter("norm", 1.0, interp="log", is_norm=True)


class _NormModel(SpectralModel):
    _unit_from = "norm"
    is_norm_spectral_model = True


@register("spectral")
class PowerLawNormSpectralModel(_NormModel):
    r"""Norm and tilt: :math:`N (E/E_0)^{-\mathrm{tilt}}` (tilt frozen by default)."""

    tag = ("PowerLawNormSpectralModel", "pl-norm")
    _defaults = (
        Parameter("tilt", 0.0, frozen=True),
        _norm(),
        Parameter("reference", "1 TeV", frozen=True),
    )

    @staticmethod
    def evaluate(energy, tilt, norm, reference):
        """Norm with tilt."""
        return norm * np.power(energy / reference, -tilt)

    @staticmethod
    def evaluate_integral(energy_min, energy_max, tilt, norm, reference):
        """Analytic integral."""
        return power_law_integral(energy_min, energy_max, tilt, norm, reference, 0)

    @staticmethod
    def evaluate_energy_flux(energy_min, energy_max, tilt, norm, reference):
        """Analytic energy flux."""
        return power_law_integral(energy_min, energy_max, tilt, norm, reference, 1)


@register("spectral")
class LogParabolaNormSpectralModel(_NormModel):
    r"""Log-parabola norm :math:`N (E/E_0)^{-\alpha - \beta \ln(E/E_0)}`."""

    tag = ("LogParabolaNormSpectralModel", "lp-norm")
    _defaults = (
        _norm(),
        Parameter("reference", "10 TeV", frozen=True),
        Parameter("alpha", 0.0),
        Parameter("beta", 0.0),
    )

    @staticmethod
    def evaluate(energy, norm, reference, alpha, beta):
        """Log-parabola norm."""
        xx = energy / reference
        return norm * np.power(xx, -alpha - beta * np.log(xx))


@register("spectral")
class ExpCutoffPowerLawNormSpectralModel(_NormModel):
    r"""Exponential-cutoff norm :math:`N (E/E_0)^{-\Gamma} \exp(-(\lambda E)^\alpha)`."""

    tag = ("ExpCutoffPowerLawNormSpectralModel", "ecpl-norm")
    _defaults = (
        Parameter("index", 0.0),
        _norm(),
        Parameter("reference", "1 TeV", frozen=True),
        Parameter("lambda_", "0.1 TeV-1"),
        Parameter("alpha", 1.0, frozen=True),
    )

    @staticmethod
    def evaluate(energy, index, norm, reference, lambda_, alpha):
        """Exponential-cutoff norm."""
        return norm * (energy / reference) ** (-index) * np.exp(-np.power(energy * lambda_, alpha))


@register("spectral")
class PiecewiseNormSpectralModel(_NormModel):
    """Free norms ``norm_0 ... norm_n`` at fixed energy nodes, interpolated between them.

    Interpolation is linear in ``log`` (default) or ``lin`` scale of both energy
    and norm; outside the nodes the end values hold (as Gammapy, ``np.interp``).

    Parameters
    ----------
    energy : Quantity or array-like
        Energy nodes (bare numbers are TeV), at least two.
    norms : sequence of float or Parameter, optional
        Initial norms (default 1).
    interp : {"log", "lin"}
        Interpolation scale.

    Examples
    --------
    >>> import astropy.units as u
    >>> m = PiecewiseNormSpectralModel([1, 10] * u.TeV, norms=[1.0, 4.0])
    >>> float(m(np.sqrt(10) * u.TeV))
    2.0
    """

    tag = ("PiecewiseNormSpectralModel", "piecewise-norm")
    _unit_from = None

    def __init__(
        self, energy: Any, norms: Sequence[Any] | None = None, interp: str = "log"
    ) -> None:
        energy = u.Quantity(energy, "TeV") if not isinstance(energy, u.Quantity) else energy
        nodes = np.asarray(energy.value, dtype=float).ravel()
        if nodes.size < 2:
            raise ConfigError("PiecewiseNormSpectralModel needs at least 2 energy nodes")
        if interp not in ("log", "lin"):
            raise ConfigError(f"interp {interp!r}; expected 'log' or 'lin'")
        norms = [1.0] * nodes.size if norms is None else list(norms)
        if len(norms) != nodes.size:
            raise ConfigError(f"got {len(norms)} norms for {nodes.size} energy nodes")
        params = []
        for k, value in enumerate(norms):
            if isinstance(value, Parameter):
                params.append(value.copy(name=f"norm_{k}"))
            else:
                params.append(Parameter(f"norm_{k}", float(value)))
        object.__setattr__(self, "_defaults", tuple(Parameter(p.name, 1.0) for p in params))
        object.__setattr__(self, "_energy", nodes)
        object.__setattr__(self, "_energy_unit", energy.unit.to_string())
        object.__setattr__(self, "interp", interp)
        object.__setattr__(self, "_parameters", Parameters(params))

    @property
    def energy(self) -> u.Quantity:
        """Energy nodes."""
        return u.Quantity(self._energy, self._energy_unit)

    @property
    def energy_unit(self) -> str:
        """Unit of the energy nodes."""
        return self._energy_unit

    def _static_state(self) -> tuple:
        return (tuple(self._energy), self._energy_unit, self.interp)

    def _breaks(self, params: dict) -> np.ndarray:
        return self._energy

    def _kernel(self, energy, **norms):
        values = np.array([norms[f"norm_{k}"] for k in range(self._energy.size)])
        if self.interp == "log":
            tiny = np.finfo(float).tiny
            with np.errstate(divide="ignore"):
                x = np.log(np.asarray(energy, float))
            out = np.interp(x, np.log(self._energy), np.log(np.clip(values, tiny, None)))
            out = np.exp(out)
            return np.where(np.abs(out) - tiny <= tiny, 0.0, out)
        return np.interp(np.asarray(energy, float), self._energy, values)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form, with ``energy`` nodes and ``interp``."""
        data = super().to_dict(full_output)
        data["energy"] = {"data": self._energy.tolist(), "unit": self._energy_unit}
        data["interp"] = self.interp
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **context: Any) -> PiecewiseNormSpectralModel:
        """Build from Gammapy's YAML form."""
        from .io import parameter_from_dict, quantity_from_dict

        where = context.get("where", "PiecewiseNormSpectralModel")
        if "energy" not in data:
            raise FormatError(
                f"{where}: a PiecewiseNormSpectralModel needs 'energy' (data and unit)",
                file=context.get("file"),
            )
        energy = quantity_from_dict(data["energy"], f"{where}.energy", context.get("file"))
        pars = [
            parameter_from_dict(p, Parameter(f"norm_{k}", 1.0), where, context.get("file"))
            for k, p in enumerate(data.get("parameters", []))
        ]
        return cls(energy, norms=pars or None, interp=data.get("interp", "log"))
