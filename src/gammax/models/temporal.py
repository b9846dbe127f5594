r"""Temporal models: dimensionless light-curve norms as functions of time.

Times are evaluated as Modified Julian Dates in the model's time ``scale``
(default ``"utc"``, as Gammapy). Inputs may be :class:`astropy.time.Time`,
DataArrays of gammax times (seconds since ``mjdref`` in ``timesys``), MJD
DataArrays (units ``d``) or ``datetime64`` DataArrays; see
:func:`gammax.models._coords.as_mjd`.

:meth:`TemporalModel.integral` is :math:`\int_{t_{min}}^{t_{max}} n(t)\,dt` in
days, per interval (analytic for every model here). Gammapy's ``integral``
returns this divided by the summed duration of *all* intervals passed; that
is ``integral.sum() / duration.sum()`` here.

Examples
--------
>>> from astropy.time import Time
>>> model = ExpDecayTemporalModel(t0="2 d", t_ref=Time("2020-01-01").mjd)
>>> round(float(model(Time("2020-01-03"))), 6)
0.367879
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

import astropy.units as u
import numpy as np
import xarray as xr
from scipy import special

from ..errors import ConfigError, FormatError
from ._coords import apply, as_mjd
from .core import Model
from .parameters import Parameter
from .registry import register

__all__ = [
    "ConstantTemporalModel",
    "ExpDecayTemporalModel",
    "GaussianTemporalModel",
    "GeneralizedGaussianTemporalModel",
    "LinearTemporalModel",
    "PowerLawTemporalModel",
    "SineTemporalModel",
    "TemporalModel",
]

#: MJD of 2000-01-01 00:00 (UTC), Gammapy's default reference time.
T_REF_DEFAULT = 51544.0
_TIME_SCALES = ("tai", "tcb", "tcg", "tdb", "tt", "ut1", "utc", "local")


@lru_cache(maxsize=128)
def _time_factor(unit: str) -> float:
    uu = u.Unit(unit)
    for target in (u.d, u.d**-1, u.rad / u.d):
        if uu.is_equivalent(target):
            return float(uu.to(target))
    return 1.0


def _t_ref(frozen: bool = True) -> Parameter:
    return Parameter("t_ref", T_REF_DEFAULT, unit="d", frozen=frozen)


class TemporalModel(Model):
    """Base class of temporal models.

    Subclasses define a static numpy ``evaluate(time, **parameters)`` and
    ``evaluate_integral(t_min, t_max, **parameters)`` with times as MJD (days)
    and durations in days.

    Parameters
    ----------
    scale : str
        Time scale of ``t_ref`` and of evaluation (default ``"utc"``).
    """

    kind = "temporal"
    unit: ClassVar[str] = ""

    def __init__(self, scale: str = "utc", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        object.__setattr__(self, "scale", _check_scale(scale))

    def _static_state(self) -> tuple:
        return (self.scale,)

    def kernel_params(self, values=None, prefix: str = "") -> dict[str, float]:
        """Parameter values for the kernel: times and rates in days."""
        raw = self.resolve(values, prefix)
        return {p.name: raw[p.name] * _time_factor(p.unit) for p in self.parameters}

    @property
    def reference_time(self):
        """``t_ref`` as astropy Time."""
        from astropy.time import Time

        return Time(self.parameters["t_ref"].value, format="mjd", scale=self.scale)

    def __call__(self, time: Any, values=None, prefix: str = "") -> xr.DataArray:
        """Norm at ``time`` (dimensionless DataArray; lazy for dask input)."""
        mjd = as_mjd(time, self.scale)
        return apply(
            self._kernel, mjd, kwargs=self.kernel_params(values, prefix), units="", name="norm"
        )

    def _kernel(self, time, **params):
        return self.evaluate(time, **params)

    def _integral_kernel(self, t_min, t_max, **params):
        return self.evaluate_integral(t_min, t_max, **params)

    def integral(self, t_min: Any, t_max: Any, values=None, prefix: str = "") -> xr.DataArray:
        """Integral of the norm over ``[t_min, t_max]`` in days, per interval."""
        lo, hi = as_mjd(t_min, self.scale), as_mjd(t_max, self.scale)
        kwargs = self.kernel_params(values, prefix)
        return apply(self._integral_kernel, lo, hi, kwargs=kwargs, units="d", name="integral")

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form, with the time ``scale``."""
        data = super().to_dict(full_output)
        data["scale"] = self.scale
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **context: Any) -> TemporalModel:
        """Build from Gammapy's YAML form."""
        from .io import parameters_from_list

        params = parameters_from_list(cls, data.get("parameters", []), **context)
        scale = data.get("scale", "utc")
        try:
            scale = _check_scale(scale)
        except ConfigError as err:
            raise FormatError(
                f"{context.get('where', 'temporal model')}: key 'scale': {err}",
                file=context.get("file"),
            ) from None
        return cls(scale=scale, **params)


def _check_scale(scale: Any) -> str:
    if scale not in _TIME_SCALES:
        raise ConfigError(f"time scale {scale!r} is not one of {list(_TIME_SCALES)}")
    return str(scale)


@register("temporal")
class ConstantTemporalModel(TemporalModel):
    """Constant norm 1."""

    tag = ("ConstantTemporalModel", "const")

    @staticmethod
    def evaluate(time):
        """1."""
        return np.ones(np.shape(time))

    @staticmethod
    def evaluate_integral(t_min, t_max):
        """Duration."""
        return np.asarray(t_max) - np.asarray(t_min)


@register("temporal")
class LinearTemporalModel(TemporalModel):
    r"""Linear norm :math:`\alpha + \beta (t - t_{ref})`."""

    tag = ("LinearTemporalModel", "linear")
    _defaults = (Parameter("alpha", 1.0), Parameter("beta", 0.0, unit="d-1"), _t_ref())

    @staticmethod
    def evaluate(time, alpha, beta, t_ref):
        """Linear norm."""
        return alpha + beta * (np.asarray(time) - t_ref)

    @staticmethod
    def evaluate_integral(t_min, t_max, alpha, beta, t_ref):
        """Analytic integral."""
        a, b = np.asarray(t_min) - t_ref, np.asarray(t_max) - t_ref
        return alpha * (b - a) + beta / 2.0 * (b * b - a * a)


@register("temporal")
class ExpDecayTemporalModel(TemporalModel):
    r"""Exponential decay :math:`\exp(-(t - t_{ref}) / t_0)`."""

    tag = ("ExpDecayTemporalModel", "exp-decay")
    _defaults = (Parameter("t0", "1 d"), _t_ref())

    @staticmethod
    def evaluate(time, t0, t_ref):
        """Exponential decay."""
        return np.exp(-(np.asarray(time) - t_ref) / t0)

    @staticmethod
    def evaluate_integral(t_min, t_max, t0, t_ref):
        """Analytic integral."""
        a, b = np.asarray(t_min) - t_ref, np.asarray(t_max) - t_ref
        return -t0 * (np.exp(-b / t0) - np.exp(-a / t0))


@register("temporal")
class GaussianTemporalModel(TemporalModel):
    r"""Gaussian pulse :math:`\exp(-(t - t_{ref})^2 / 2\sigma^2)`."""

    tag = ("GaussianTemporalModel", "gauss")
    _defaults = (_t_ref(frozen=False), Parameter("sigma", "1 d"))

    @staticmethod
    def evaluate(time, t_ref, sigma):
        """Gaussian pulse."""
        return np.exp(-((np.asarray(time) - t_ref) ** 2) / (2 * sigma**2))

    @staticmethod
    def evaluate_integral(t_min, t_max, t_ref, sigma):
        """Analytic integral."""
        u_min = (np.asarray(t_min) - t_ref) / (np.sqrt(2) * sigma)
        u_max = (np.asarray(t_max) - t_ref) / (np.sqrt(2) * sigma)
        return np.sqrt(np.pi / 2) * sigma * (special.erf(u_max) - special.erf(u_min))


@register("temporal")
class GeneralizedGaussianTemporalModel(TemporalModel):
    r"""Asymmetric generalised Gaussian pulse.

    :math:`\exp(-\tfrac12 |t - t_{ref}|^{1/\eta} / t_{r,d}^{1/\eta})` with the rise
    time before ``t_ref`` and the decay time after. The integral is analytic
    (incomplete gamma function).
    """

    tag = ("GeneralizedGaussianTemporalModel", "gengauss")
    _defaults = (
        _t_ref(frozen=False),
        Parameter("t_rise", "1 d"),
        Parameter("t_decay", "1 d"),
        Parameter("eta", 0.5),
    )

    @staticmethod
    def evaluate(time, t_ref, t_rise, t_decay, eta):
        """Generalised Gaussian pulse."""
        dt = np.abs(np.asarray(time) - t_ref) ** (1 / eta)
        rise = np.exp(-0.5 * dt / t_rise ** (1 / eta))
        decay = np.exp(-0.5 * dt / t_decay ** (1 / eta))
        return np.where(np.asarray(time) < t_ref, rise, decay)

    @staticmethod
    def evaluate_integral(t_min, t_max, t_ref, t_rise, t_decay, eta):
        """Analytic integral."""

        def primitive(t):
            dt = np.asarray(t) - t_ref
            width = np.where(dt < 0, t_rise, t_decay)
            x = 0.5 * (np.abs(dt) / width) ** (1 / eta)
            full = width * eta * 2**eta * special.gamma(eta)
            return np.sign(dt) * full * special.gammainc(eta, x)

        return primitive(t_max) - primitive(t_min)


@register("temporal")
class PowerLawTemporalModel(TemporalModel):
    r"""Power-law decay :math:`((t - t_{ref}) / t_0)^{\alpha}`."""

    tag = ("PowerLawTemporalModel", "powerlaw")
    _defaults = (Parameter("alpha", 1.0), _t_ref(), Parameter("t0", "1 d", frozen=True))

    @staticmethod
    def evaluate(time, alpha, t_ref, t0):
        """Power law in time."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.power((np.asarray(time) - t_ref) / t0, alpha)

    @staticmethod
    def evaluate_integral(t_min, t_max, alpha, t_ref, t0):
        """Analytic integral."""
        a, b = (np.asarray(t_min) - t_ref) / t0, (np.asarray(t_max) - t_ref) / t0
        with np.errstate(invalid="ignore", divide="ignore"):
            if alpha == -1:
                return t0 * np.log(b / a)
            return t0 / (alpha + 1.0) * (b ** (alpha + 1.0) - a ** (alpha + 1.0))


@register("temporal")
class SineTemporalModel(TemporalModel):
    r"""Sinusoidal modulation :math:`1 + A \sin(\omega (t - t_{ref}))`.

    The integral is :math:`\Delta t - \frac{A}{\omega}[\cos\omega(t-t_{ref})]`;
    note that Gammapy 2.1's ``SineTemporalModel.integral`` uses ``sin`` there.
    """

    tag = ("SineTemporalModel", "sinus")
    _defaults = (
        Parameter("amp", 1.0),
        Parameter("omega", "1 rad / d"),
        _t_ref(frozen=False),
    )

    @staticmethod
    def evaluate(time, amp, omega, t_ref):
        """Sinusoidal modulation."""
        return 1.0 + amp * np.sin(omega * (np.asarray(time) - t_ref))

    @staticmethod
    def evaluate_integral(t_min, t_max, amp, omega, t_ref):
        """Analytic integral."""
        a, b = np.asarray(t_min) - t_ref, np.asarray(t_max) - t_ref
        return (b - a) - amp / omega * (np.cos(omega * b) - np.cos(omega * a))
