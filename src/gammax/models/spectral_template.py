"""Tabulated spectra: values at energy nodes, interpolated log-log.

``TemplateSpectralModel`` interpolates ``log(values)`` linearly in
``log(energy)`` and extrapolates linearly (in log-log) outside the nodes, as
Gammapy's default. With dimensionless values it is an absorption table:
``PowerLawSpectralModel() * TemplateSpectralModel(energy, transmission)``.

Examples
--------
>>> import astropy.units as u
>>> t = TemplateSpectralModel([1, 100] * u.TeV, [1e-12, 1e-16] * u.Unit("cm-2 s-1 TeV-1"))
>>> round(float(t(10 * u.TeV)) * 1e14, 12)
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np

from ..errors import ConfigError, FormatError
from ..units import unit_string
from .parameters import Parameters
from .registry import register
from .spectral import SpectralModel

__all__ = ["TemplateSpectralModel"]

_TINY = float(np.finfo(np.float64).tiny)


@register("spectral")
class TemplateSpectralModel(SpectralModel):
    """A spectrum given as values at energy nodes (no free parameters).

    Parameters
    ----------
    energy : Quantity or array-like
        Energy nodes, increasing (bare numbers are TeV).
    values : Quantity or array-like
        Values at the nodes (bare numbers are dimensionless).
    meta : dict, optional
        Free-form metadata (not serialised).
    """

    tag = ("TemplateSpectralModel", "template")
    _unit_from = None

    def __init__(self, energy: Any, values: Any, meta: Mapping | None = None) -> None:
        energy = energy if isinstance(energy, u.Quantity) else u.Quantity(energy, "TeV")
        values = values if isinstance(values, u.Quantity) else u.Quantity(values, "")
        e = np.asarray(energy.value, dtype=float).ravel()
        v = np.asarray(values.value, dtype=float).ravel()
        if e.size != v.size or e.size == 0:
            raise ConfigError(f"got {e.size} energies and {v.size} values; expected equal, >= 1")
        if e.size > 1 and np.any(np.diff(e) <= 0):
            raise ConfigError("template energies must be strictly increasing")
        object.__setattr__(self, "_energy", e)
        object.__setattr__(self, "_values", v)
        object.__setattr__(self, "_energy_unit", unit_string(energy.unit))
        object.__setattr__(self, "_values_unit", unit_string(values.unit))
        object.__setattr__(self, "meta", dict(meta or {}))
        object.__setattr__(self, "_parameters", Parameters([]))

    @property
    def energy(self) -> u.Quantity:
        """Energy nodes."""
        return u.Quantity(self._energy, self._energy_unit)

    @property
    def values(self) -> u.Quantity:
        """Values at the nodes."""
        return u.Quantity(self._values, self._values_unit)

    @property
    def energy_unit(self) -> str:
        """Unit of the energy nodes."""
        return self._energy_unit

    @property
    def unit(self) -> str:
        """Unit of the values."""
        return self._values_unit

    @property
    def is_norm_spectral_model(self) -> bool:  # type: ignore[override]
        """Whether the values are dimensionless."""
        return u.Unit(self._values_unit) == u.dimensionless_unscaled

    def _static_state(self) -> tuple:
        return (self._energy, self._energy_unit, self._values, self._values_unit)

    def _breaks(self, params: dict) -> np.ndarray:
        return self._energy

    def _kernel(self, energy):
        x = np.log(np.asarray(energy, float))
        lv = np.log(np.clip(self._values, _TINY, None))
        if self._energy.size == 1:
            out = np.exp(np.full(x.shape, lv[0]))
        else:
            le = np.log(self._energy)
            idx = np.clip(np.searchsorted(le, x) - 1, 0, le.size - 2)
            with np.errstate(invalid="ignore"):
                t = (x - le[idx]) / (le[idx + 1] - le[idx])
                out = np.exp(lv[idx] + t * (lv[idx + 1] - lv[idx]))
        out = np.where(np.abs(out) - _TINY <= _TINY, 0.0, out)
        return np.clip(out, 0.0, None)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form, with ``energy`` and ``values`` (data and unit)."""
        return {
            "type": self.tag[0],
            "parameters": [],
            "energy": {"data": self._energy.tolist(), "unit": self._energy_unit},
            "values": {"data": self._values.tolist(), "unit": self._values_unit},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **context: Any) -> TemplateSpectralModel:
        """Build from Gammapy's YAML form."""
        from .io import quantity_from_dict

        where = context.get("where", "TemplateSpectralModel")
        for key in ("energy", "values"):
            if key not in data:
                raise FormatError(
                    f"{where}: a TemplateSpectralModel needs {key!r} (data and unit); "
                    f"got keys {sorted(data)}",
                    file=context.get("file"),
                )
        energy = quantity_from_dict(data["energy"], f"{where}.energy", context.get("file"))
        values = quantity_from_dict(data["values"], f"{where}.values", context.get("file"))
        return cls(energy, values)

    def __repr__(self) -> str:
        return f"TemplateSpectralModel({self._energy.size} nodes, unit={self._values_unit!r})"
