"""Model parameters: value, unit, bounds, frozen flag, conditioning and prior.

A :class:`Parameter` is a small mutable record owned by exactly one model.
Parameters are never shared between models as Python objects: two parameters
are *the same fit parameter* when they carry the same ``link`` label (see
:class:`gammax.models.Models`). This keeps models picklable and lets a fit
send plain parameter vectors to workers.

Conditioning follows Gammapy: an optimiser sees the *factor*

.. math:: f = T(v) / s

of a value ``v``, with ``T`` the ``scale_transform`` (``"lin"``, ``"log"`` or
``"sqrt"``) and ``s`` the positive ``scale``. By default the scale is the power
of ten of the initial (transformed) value (``scale_method="scale10"``), so
factors are O(1) numbers.

Examples
--------
>>> p = Parameter("amplitude", 3e-12, unit="cm-2 s-1 TeV-1", min=0)
>>> p.scale, p.factor
(1e-12, 3.0)
>>> p.factor_to_value(2.5)
2.5e-12
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np

from ..errors import ConfigError, UnitError
from ..units import parse_unit
from .priors import Prior, prior_from_dict

__all__ = ["SCALE_METHODS", "SCALE_TRANSFORMS", "Parameter", "Parameters"]

#: Allowed ``scale_method`` values (as Gammapy).
SCALE_METHODS = ("scale10", "factor1", None)
#: Allowed ``scale_transform`` values (as Gammapy).
SCALE_TRANSFORMS = ("lin", "log", "sqrt")

_TINY = float(np.finfo(np.float64).tiny)


def _transform(value: float, kind: str) -> float:
    if kind == "lin":
        return value
    if kind == "log":
        return math.log(max(value, _TINY)) if value == value else math.nan
    return math.copysign(math.sqrt(abs(value)), value)


def _inverse_transform(value: float, kind: str) -> float:
    if kind == "lin":
        return value
    if kind == "log":
        return math.exp(value)
    return value * value


def _inverse_derivative(value: float, kind: str) -> float:
    if kind == "lin":
        return 1.0
    if kind == "log":
        return math.exp(value)
    return 2.0 * value


def _as_float(value: Any, unit: u.UnitBase, what: str) -> float:
    """A bound or value given as number, string or Quantity, in ``unit``."""
    if value is None or value is np.ma.masked:
        return math.nan
    if isinstance(value, str):
        try:
            value = u.Quantity(value)
        except TypeError as err:
            raise UnitError(f"{what}: cannot parse {value!r} as a quantity") from err
    if isinstance(value, u.Quantity):
        try:
            return float(value.to_value(unit))
        except u.UnitConversionError as err:
            raise UnitError(f"{what}: {value} cannot be converted to {unit}") from err
    return float(value)


class Parameter:
    """A model parameter.

    Parameters
    ----------
    name : str
        Name, unique within its model (e.g. ``"index"``).
    value : float, str or Quantity
        Value. A Quantity (or a string such as ``"1 TeV"``) also sets ``unit``.
    unit : str, optional
        Astropy unit string (ignored if ``value`` carries a unit).
    min, max : float, str or Quantity, optional
        Bounds; NaN means unbounded.
    frozen : bool
        Whether fits keep the parameter fixed.
    error : float
        1-sigma error, in ``unit``.
    scale : float, optional
        Conditioning scale; by default chosen from the value by ``scale_method``.
    scale_method : {"scale10", "factor1", None}
        ``scale10``: power of ten of the transformed value; ``factor1``: the
        transformed value itself; ``None``: 1.
    scale_transform : {"lin", "log", "sqrt"}
        Transform ``T`` applied before scaling.
    interp : {"lin", "log", "sqrt"}
        Scale of likelihood-profile scans (kept for Gammapy compatibility).
    prior : Prior, optional
        Prior; it adds ``prior.stat(value)`` to the fit statistic.
    link : str, optional
        Link label: parameters with the same label in a model collection are
        one fit parameter.
    is_norm : bool
        Whether this is the normalisation of its model.

    Examples
    --------
    >>> Parameter("reference", "1 TeV", frozen=True).unit
    'TeV'
    """

    __slots__ = (
        "error",
        "frozen",
        "interp",
        "is_norm",
        "link",
        "max",
        "min",
        "name",
        "prior",
        "scale",
        "scale_method",
        "scale_transform",
        "unit",
        "value",
    )

    def __init__(
        self,
        name: str,
        value: Any,
        unit: str | u.UnitBase | None = None,
        min: Any = math.nan,
        max: Any = math.nan,
        frozen: bool = False,
        error: float = 0.0,
        scale: float | None = None,
        scale_method: str | None = "scale10",
        scale_transform: str = "lin",
        interp: str = "lin",
        prior: Prior | Mapping | None = None,
        link: str | None = None,
        is_norm: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"parameter name must be a non-empty string, got {name!r}")
        self.name = name
        if isinstance(value, str):
            try:
                value = u.Quantity(value)
            except TypeError as err:
                raise UnitError(f"parameter {name!r}: cannot parse value {value!r}") from err
        if isinstance(value, u.Quantity):
            unit_obj = value.unit if unit is None else parse_unit(unit, context=name)
            self.value = _as_float(value, unit_obj, f"parameter {name!r}")
        else:
            unit_obj = parse_unit(unit, context=f"parameter {name!r}")
            self.value = float(value)
        self.unit = unit_obj.to_string()
        self.min = _as_float(min, unit_obj, f"parameter {name!r} min")
        self.max = _as_float(max, unit_obj, f"parameter {name!r} max")
        self.frozen = _as_bool(frozen, name)
        self.error = _as_float(error, unit_obj, f"parameter {name!r} error")
        if scale_method not in SCALE_METHODS:
            raise ConfigError(
                f"parameter {name!r}: scale_method {scale_method!r}; expected one of "
                f"{SCALE_METHODS}"
            )
        if scale_transform not in SCALE_TRANSFORMS:
            raise ConfigError(
                f"parameter {name!r}: scale_transform {scale_transform!r}; expected one of "
                f"{SCALE_TRANSFORMS}"
            )
        self.scale_method = scale_method
        self.scale_transform = scale_transform
        self.interp = interp
        self.prior = prior_from_dict(prior) if isinstance(prior, Mapping) else prior
        self.link = None if link in (None, "") else str(link)
        self.is_norm = bool(is_norm)
        self.scale = 1.0
        if scale is None:
            self.autoscale()
        else:
            self.scale = float(scale)

    # -- conditioning -------------------------------------------------------------
    def autoscale(self) -> None:
        """Choose ``scale`` from the current value, following ``scale_method``."""
        t = _transform(self.value, self.scale_transform)
        scale = 1.0
        if self.scale_method == "scale10" and t != 0 and math.isfinite(t):
            scale = 10.0 ** math.floor(math.log10(abs(t)))
        elif self.scale_method == "factor1" and t != 0 and math.isfinite(t):
            scale = abs(t)
        self.scale = float(scale)

    def value_to_factor(self, value: float) -> float:
        """Factor seen by an optimiser for ``value``."""
        return _transform(float(value), self.scale_transform) / self.scale

    def factor_to_value(self, factor: float) -> float:
        """Value for an optimiser ``factor`` (inverse of :meth:`value_to_factor`)."""
        return _inverse_transform(float(factor) * self.scale, self.scale_transform)

    def factor_derivative(self, factor: float) -> float:
        """``d value / d factor`` at ``factor`` (to convert covariances)."""
        return _inverse_derivative(float(factor) * self.scale, self.scale_transform) * self.scale

    @property
    def factor(self) -> float:
        """Current value as a factor."""
        return self.value_to_factor(self.value)

    @factor.setter
    def factor(self, factor: float) -> None:
        self.value = self.factor_to_value(factor)

    @property
    def factor_min(self) -> float:
        """Lower bound as a factor (NaN if unbounded)."""
        return self.value_to_factor(self.min) if math.isfinite(self.min) else math.nan

    @property
    def factor_max(self) -> float:
        """Upper bound as a factor (NaN if unbounded)."""
        return self.value_to_factor(self.max) if math.isfinite(self.max) else math.nan

    # -- convenience -------------------------------------------------------------
    @property
    def quantity(self) -> u.Quantity:
        """Value with its unit."""
        return u.Quantity(self.value, self.unit)

    @quantity.setter
    def quantity(self, value: Any) -> None:
        self.value = _as_float(u.Quantity(value), u.Unit(self.unit), f"parameter {self.name!r}")

    def prior_stat(self, value: float | None = None) -> float:
        """Prior term of the statistic at ``value`` (default: current value); 0 without prior."""
        if self.prior is None:
            return 0.0
        return float(self.prior.stat(self.value if value is None else value))

    def copy(self, **changes: Any) -> Parameter:
        """A copy, with some attributes changed."""
        new = Parameter.__new__(Parameter)
        for slot in self.__slots__:
            setattr(new, slot, getattr(self, slot))
        for key, val in changes.items():
            if key not in self.__slots__:
                raise ConfigError(f"Parameter has no attribute {key!r}")
            setattr(new, key, val)
        return new

    def update_from(self, other: Parameter) -> None:
        """Copy the state of ``other`` (all attributes but the name)."""
        for slot in self.__slots__:
            if slot != "name":
                setattr(self, slot, getattr(other, slot))

    def state(self) -> tuple:
        """Everything that defines the parameter, as a hashable tuple."""
        prior = None if self.prior is None else self.prior.state()
        return (*(getattr(self, s) for s in self.__slots__ if s != "prior"), prior)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameter):
            return NotImplemented
        return _same(self.state(), other.state())

    __hash__ = None  # mutable

    def __dask_tokenize__(self):
        return ("gammax.Parameter", self.state())

    def __getstate__(self):
        return {s: getattr(self, s) for s in self.__slots__}

    def __setstate__(self, state):
        for key, val in state.items():
            setattr(self, key, val)

    def __repr__(self) -> str:
        frozen = ", frozen" if self.frozen else ""
        link = f", link={self.link!r}" if self.link else ""
        return f"Parameter({self.name!r}, {self.value!r}, unit={self.unit!r}{frozen}{link})"

    # -- serialisation -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """All fields, in Gammapy's YAML vocabulary (``full_output``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "unit": _fits_unit(self.unit),
            "error": self.error,
            "min": self.min,
            "max": self.max,
            "frozen": self.frozen,
            "interp": self.interp,
            "scale_method": self.scale_method,
            "scale_transform": self.scale_transform,
        }
        if self.is_norm:
            out["is_norm"] = True
        if self.link is not None:
            out["link"] = self.link
        if self.prior is not None:
            out["prior"] = self.prior.to_dict()
        return out


def _fits_unit(unit: str) -> str:
    """Unit string in the FITS format Gammapy writes (generic if FITS cannot express it)."""
    if not unit:
        return ""
    try:
        return u.Unit(unit).to_string("fits")
    except (ValueError, u.UnitsError):
        return unit


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN (for bounds)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if value in ("True", "true", "False", "false"):
        return value in ("True", "true")
    raise ConfigError(f"parameter {name!r}: frozen must be true or false, got {value!r}")


class Parameters(Sequence):
    """The ordered parameters of one model, accessible by name or position.

    Examples
    --------
    >>> pars = Parameters([Parameter("index", 2.0), Parameter("reference", "1 TeV")])
    >>> pars.names
    ('index', 'reference')
    >>> pars["index"].value
    2.0
    """

    def __init__(self, parameters: Iterable[Parameter] = ()) -> None:
        self._parameters = list(parameters)
        names = [p.name for p in self._parameters]
        if len(set(names)) != len(names):
            raise ConfigError(f"parameter names must be unique within a model, got {names}")

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in order."""
        return tuple(p.name for p in self._parameters)

    def __getitem__(self, key):
        if isinstance(key, str):
            for p in self._parameters:
                if p.name == key:
                    return p
            raise KeyError(f"no parameter {key!r}; parameters are {list(self.names)}")
        return self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self.names if isinstance(key, str) else key in self._parameters

    @property
    def values(self) -> dict[str, float]:
        """Mapping name -> current value."""
        return {p.name: p.value for p in self._parameters}

    def copy(self) -> Parameters:
        """Deep copy."""
        return Parameters([p.copy() for p in self._parameters])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Parameters):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None

    def __dask_tokenize__(self):
        return ("gammax.Parameters", tuple(p.state() for p in self._parameters))

    def __repr__(self) -> str:
        return "Parameters(" + ", ".join(repr(p) for p in self._parameters) + ")"
