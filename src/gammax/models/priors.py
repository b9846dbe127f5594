"""Priors on parameters, as terms added to a ``-2 log L`` fit statistic.

Every prior is ``weight * (-2 log pdf(value))``, exactly as Gammapy's
``GaussianPrior``, ``UniformPrior``, ``LogUniformPrior`` and
``GeneralizedGaussianPrior`` (``scipy.stats`` densities). For a Gaussian this
is ``((x - mu) / sigma)**2 + log(2 pi sigma**2)``: the constant does not change
fits, only absolute statistic values.

Examples
--------
>>> prior = GaussianPrior(mu=2.0, sigma=0.1)
>>> round(float(prior.stat(2.2) - prior.stat(2.0)), 10)
4.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from scipy import special

from ..errors import ConfigError

__all__ = [
    "PRIOR_TAGS",
    "GaussianPrior",
    "GeneralizedGaussianPrior",
    "LogUniformPrior",
    "Prior",
    "UniformPrior",
    "prior_from_dict",
]

_LOG_2PI = math.log(2.0 * math.pi)


class Prior:
    """Base class: a named density with a few scalar parameters and a weight.

    Subclasses declare ``tag`` (Gammapy's YAML ``type``), ``defaults`` (prior
    parameter name -> default value) and ``_minus2_logpdf``.
    """

    tag: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self, weight: float = 1.0, units: Mapping[str, str] | None = None, **kwargs):
        unknown = set(kwargs) - set(self.defaults)
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} has no parameter {sorted(unknown)}; "
                f"its parameters are {list(self.defaults)}"
            )
        self.params = {k: float(kwargs.get(k, v)) for k, v in self.defaults.items()}
        self.units = {k: str((units or {}).get(k, "")) for k in self.defaults}
        self.weight = float(weight)

    def __getattr__(self, name: str) -> float:
        params = self.__dict__.get("params", {})
        if name in params:
            return params[name]
        raise AttributeError(name)

    def stat(self, value: Any) -> Any:
        """``weight * -2 log pdf(value)``; vectorised over ``value``."""
        return self.weight * self._minus2_logpdf(np.asarray(value, dtype=float), **self.params)

    @staticmethod
    def _minus2_logpdf(x, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> tuple:
        """Hashable description (for equality and dask tokens)."""
        return (self.tag, tuple(sorted(self.params.items())), self.weight)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Prior) and self.state() == other.state()

    __hash__ = None

    def __dask_tokenize__(self):
        return ("gammax.Prior", self.state())

    def __getstate__(self):
        return dict(self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args}, weight={self.weight!r})"

    def to_dict(self) -> dict[str, Any]:
        """Gammapy's YAML form: ``type``, ``parameters`` (name, value, unit), ``weight``."""
        return {
            "type": self.tag,
            "parameters": [
                {"name": k, "value": v, "unit": self.units[k]} for k, v in self.params.items()
            ],
            "weight": self.weight,
        }


class GaussianPrior(Prior):
    """Gaussian prior, ``((x - mu) / sigma)**2 + log(2 pi sigma**2)``."""

    tag = "GaussianPrior"
    defaults = {"mu": 0.0, "sigma": 1.0}

    @staticmethod
    def _minus2_logpdf(x, mu, sigma):
        return ((x - mu) / sigma) ** 2 + _LOG_2PI + 2.0 * np.log(sigma)


class UniformPrior(Prior):
    """Uniform prior on ``[min, max]``: ``2 log(max - min)`` inside, ``inf`` outside."""

    tag = "UniformPrior"
    defaults = {"min": 0.0, "max": 1.0}

    @staticmethod
    def _minus2_logpdf(x, min, max):
        inside = (x >= min) & (x <= max)
        return np.where(inside, 2.0 * np.log(max - min), np.inf)


class LogUniformPrior(Prior):
    """Log-uniform prior on ``[min, max]``: ``2 log(x log(max / min))`` inside, else ``inf``."""

    tag = "LogUniformPrior"
    defaults = {"min": 1e-14, "max": 1e-10}

    @staticmethod
    def _minus2_logpdf(x, min, max):
        inside = (x >= min) & (x <= max)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = 2.0 * np.log(x * np.log(max / min))
        return np.where(inside, value, np.inf)


class GeneralizedGaussianPrior(Prior):
    """Generalised Gaussian prior (``scipy.stats.gennorm``, beta = 1/eta, scale sigma sqrt(2))."""

    tag = "GeneralizedGaussianPrior"
    defaults = {"mu": 0.0, "sigma": 1.0, "eta": 0.5}

    @staticmethod
    def _minus2_logpdf(x, mu, sigma, eta):
        beta = 1.0 / eta
        scale = sigma * math.sqrt(2.0)
        z = np.abs((x - mu) / scale)
        logpdf = math.log(beta / (2.0 * scale)) - special.gammaln(1.0 / beta) - z**beta
        return -2.0 * logpdf


#: Prior classes by YAML ``type``.
PRIOR_TAGS: dict[str, type[Prior]] = {
    cls.tag: cls for cls in (GaussianPrior, UniformPrior, LogUniformPrior, GeneralizedGaussianPrior)
}


def prior_from_dict(data: Mapping[str, Any]) -> Prior:
    """Build a prior from its YAML form (Gammapy's ``prior:`` entry of a parameter).

    Raises
    ------
    gammax.errors.ConfigError
        For an unknown ``type`` (the message lists the valid ones) or parameter.

    Examples
    --------
    >>> prior_from_dict({"type": "GaussianPrior", "parameters": [
    ...     {"name": "mu", "value": 2.0}, {"name": "sigma", "value": 0.1}]})
    GaussianPrior(mu=2.0, sigma=0.1, weight=1.0)
    """
    from .registry import unknown_tag_message

    data = dict(data.get("prior", data)) if "type" not in data else dict(data)
    tag = data.get("type")
    cls = PRIOR_TAGS.get(tag)
    if cls is None:
        raise ConfigError(unknown_tag_message("prior", tag, PRIOR_TAGS))
    values, units = {}, {}
    for par in data.get("parameters", []) or []:
        name = par.get("name")
        if name not in cls.defaults:
            raise ConfigError(
                f"{tag} has no parameter {name!r}; its parameters are {list(cls.defaults)}"
            )
        values[name] = par.get("value", cls.defaults[name])
        units[name] = par.get("unit", "")
    return cls(weight=data.get("weight", 1.0), units=units, **values)
