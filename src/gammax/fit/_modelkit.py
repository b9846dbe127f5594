"""Fast numpy evaluation of model components, for the inner loop of a likelihood.

The public model API (``model.integral(...)``) wraps every result in a
DataArray, which costs ~0.5 ms per call: too much for a statistic evaluated
hundreds of times. These helpers call the models' numpy kernels directly with
parameter values resolved from ``{key: value}`` (the same code path the
public API runs inside). They fall back to the public API for models without
the kernel methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import astropy.units as u
import numpy as np

from ..errors import ConfigError

__all__ = [
    "FastSpectral",
    "check_sky_model",
    "position_deg",
    "spectral_integral",
    "spectral_values",
    "unit_factor",
]

_QUAD = {"n_per_decade": 4, "order": 16}


@lru_cache(maxsize=512)
def unit_factor(unit: str, target: str) -> float:
    """Conversion factor between two unit strings."""
    return float(u.Unit(unit).to(u.Unit(target)))


def spectral_integral(
    model: Any,
    lo: np.ndarray,
    hi: np.ndarray,
    energy_unit: str,
    values: Mapping[str, float] | None,
    prefix: str,
    target: str,
) -> np.ndarray:
    """Integral of a spectral model over bins ``[lo, hi]`` (in ``energy_unit``), in ``target``."""
    eu = model.energy_unit
    f = unit_factor(energy_unit, eu)
    try:
        params = model.kernel_params(values, prefix)
        out = model._integral_kernel(lo * f, hi * f, params, 0, _QUAD)
        unit = model._integral_unit(0)
    except AttributeError:  # pragma: no cover - models without numpy kernels
        res = model.integral(lo * f * u.Unit(eu), hi * f * u.Unit(eu), values, prefix)
        out, unit = np.asarray(res.values), res.attrs["units"]
    return np.asarray(out, float) * unit_factor(unit, target)


def spectral_values(
    model: Any,
    energy: np.ndarray,
    energy_unit: str,
    values: Mapping[str, float] | None,
    prefix: str,
) -> np.ndarray:
    """Spectral model (e.g. a norm) at energies in ``energy_unit``, in the model's unit."""
    f = unit_factor(energy_unit, model.energy_unit)
    try:
        return np.asarray(model._kernel(energy * f, **model.kernel_params(values, prefix)), float)
    except AttributeError:  # pragma: no cover
        return np.asarray(model(energy * f * u.Unit(model.energy_unit), values, prefix).values)


def position_deg(sky_model: Any, values: Mapping[str, float] | None) -> tuple[float, float, str]:
    """``(lon, lat, frame)`` of a sky model's spatial centre at ``values``."""
    spatial = sky_model.spatial_model
    center = spatial.center_deg(values, sky_model.component_prefix("spatial"))
    if center is None:
        raise ConfigError(
            f"model {sky_model.name!r}: spatial model {type(spatial).__name__} has no centre; "
            "map fits need a centred spatial model (or a TemplateNPredModel)"
        )
    return float(center[0]), float(center[1]), spatial.frame


def check_sky_model(model: Any, dataset_kind: str) -> None:
    """Refuse model features the likelihood does not implement (rather than ignore them)."""
    if getattr(model, "temporal_model", None) is not None:
        raise ConfigError(
            f"model {model.name!r} has a temporal model; fits of time-integrated datasets do "
            "not apply temporal models yet: remove it (or freeze it and drop it for the fit)"
        )
    if dataset_kind.startswith("Map") and model.spatial_model is None:
        raise ConfigError(f"model {model.name!r} has no spatial model, which a map dataset needs")


class FastSpectral:
    """A spectral model with its units resolved once, for repeated numpy evaluation.

    Parameters
    ----------
    model : SpectralModel
        The model (not modified).
    prefix : str
        Key prefix of its parameters (e.g. ``"crab.spectral."``).
    energy_unit : str
        Unit of the energies it will be given.
    target : str, optional
        Unit of :meth:`integral` results (default: the model's integral unit).

    Examples
    --------
    >>> from gammax.models import PowerLawSpectralModel
    >>> fast = FastSpectral(PowerLawSpectralModel(index=2), "", "TeV", "cm-2 s-1")
    >>> float(fast.integral(np.array([1.0]), np.array([10.0]), {"index": 2.0})[0])
    9e-13
    """

    def __init__(self, model: Any, prefix: str, energy_unit: str, target: str | None = None):
        self.model, self.prefix = model, prefix
        self.eu = model.energy_unit
        self.efactor = unit_factor(energy_unit, self.eu)
        self.compound = hasattr(model, "model1")
        if self.compound:
            self.parts = (
                FastSpectral(model.model1, prefix + "model1.", self.eu),
                FastSpectral(model.model2, prefix + "model2.", self.eu),
            )
        else:
            self.factors = tuple(
                (p.name, p.link or prefix + p.name, p.value, _kernel_factor(p.unit, self.eu))
                for p in model.parameters
            )
        try:
            unit = model._integral_unit(0)
        except AttributeError:  # pragma: no cover
            unit = target or ""
        self.ifactor = 1.0 if target is None else unit_factor(unit, target)

    def params(self, values: Mapping[str, float] | None) -> dict:
        """Kernel parameters at ``values`` (energies in the kernel unit)."""
        if self.compound:
            return {"p1": self.parts[0].params(values), "p2": self.parts[1].params(values)}
        values = values or {}
        return {name: values.get(key, current) * f for name, key, current, f in self.factors}

    def integral(self, lo: np.ndarray, hi: np.ndarray, values) -> np.ndarray:
        """Integral over bins ``[lo, hi]``, in the target unit."""
        f = self.efactor
        out = self.model._integral_kernel(lo * f, hi * f, self.params(values), 0, _QUAD)
        return np.asarray(out, float) * self.ifactor

    def __call__(self, energy: np.ndarray, values) -> np.ndarray:
        """Values at ``energy`` in the model's unit."""
        params = self.params(values)
        return np.asarray(self.model._kernel(energy * self.efactor, **params), float)


def _kernel_factor(unit: str, energy_unit: str) -> float:
    from ..models.spectral import _kernel_factor as factor

    return factor(unit, energy_unit)
