"""What every model shares: declared parameters, parameter keys, tokens, YAML basics.

A model class declares its parameters once, as a tuple of default
:class:`~gammax.models.Parameter` in ``_defaults``; instances copy them. Each
model owns its parameters (no object sharing between models).

Parameter *keys* name parameters for pure evaluation. A parameter's key is its
``link`` label if it has one, else its path in the model tree prefixed by the
owner's prefix: ``"index"`` for a bare spectral model, ``"model1.index"`` in a
compound model, ``"crab.spectral.index"`` in the sky model named ``crab``.
Every ``evaluate``-like method takes ``values``, a plain mapping key -> value
(in the parameter's unit), and never mutates the model; keys it does not know
are ignored, parameters it does not find keep their current value.

Examples
--------
>>> from gammax.models import PowerLawSpectralModel
>>> pl = PowerLawSpectralModel(index=2.5)
>>> pl.index.value
2.5
>>> pl.parameter_keys()
('index', 'amplitude', 'reference')
>>> float(pl(1.0, values={"index": 3.0}))  # doctest: +SKIP
1e-12
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from ..errors import ConfigError, UnitError
from .parameters import Parameter, Parameters, _same

__all__ = ["Model", "parameter_unit_factor"]


class Model:
    """Base class of spectral, spatial, temporal and sky models.

    Parameters
    ----------
    **kwargs
        Parameter values by name: a number (in the default unit), a Quantity or
        string with unit (converted to the default unit), or a
        :class:`~gammax.models.Parameter` (used as is, renamed to the slot).
    """

    #: Gammapy YAML tags: long name first, then the short alias.
    tag: ClassVar[tuple[str, ...]] = ()
    #: Registry kind: "spectral", "spatial", "temporal" or "sky".
    kind: ClassVar[str] = ""
    #: Default parameters (copied into every instance).
    _defaults: ClassVar[tuple[Parameter, ...]] = ()
    #: Parameters a Gammapy file may omit (Gammapy itself writes none for them).
    _optional_in_file: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - {p.name for p in self._defaults}
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} has no parameter {sorted(unknown)}; its parameters "
                f"are {[p.name for p in self._defaults]}"
            )
        params = []
        for default in self._defaults:
            value = kwargs.get(default.name)
            params.append(_make_parameter(default, value, type(self).__name__))
        object.__setattr__(self, "_parameters", Parameters(params))

    # -- parameters -------------------------------------------------------------
    @property
    def parameters(self) -> Parameters:
        """The model's own parameters (sub-models' parameters for composite models)."""
        return self._parameters

    @classmethod
    def default_parameters(cls) -> Parameters:
        """Fresh copies of the declared defaults."""
        return Parameters([p.copy() for p in cls._defaults])

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("_parameters")
        if params is not None and name in params.names:
            return params[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is not None and name in params.names:
            par = params[name]
            if isinstance(value, Parameter):
                par.update_from(value)
            elif isinstance(value, u.Quantity | str):
                par.quantity = value
            else:
                par.value = float(value)
            return
        object.__setattr__(self, name, value)

    def parameter_items(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(path, parameter)`` for every parameter, paths prefixed by ``prefix``."""
        for p in self.parameters:
            yield prefix + p.name, p

    def parameter_keys(self, prefix: str = "") -> tuple[str, ...]:
        """Key of every parameter (link label, or prefixed path), in order."""
        return tuple(p.link or path for path, p in self.parameter_items(prefix))

    def resolve(self, values: Mapping[str, float] | None, prefix: str = "") -> dict[str, float]:
        """Values of this model's own parameters (by name) from a key -> value mapping."""
        out = {}
        for p in self.parameters:
            key = p.link or prefix + p.name
            out[p.name] = float(values[key]) if values and key in values else p.value
        return out

    @property
    def frozen(self) -> bool:
        """Whether all parameters are frozen."""
        return all(p.frozen for _, p in self.parameter_items())

    def freeze(self) -> None:
        """Freeze all parameters."""
        for _, p in self.parameter_items():
            p.frozen = True

    def unfreeze(self) -> None:
        """Restore the default frozen flags."""
        for p in self.parameters:
            p.frozen = next(d.frozen for d in self._defaults if d.name == p.name)

    # -- identity ---------------------------------------------------------------
    def _static_state(self) -> tuple:
        """Non-parameter state (frame, templates, ...) for equality and tokens."""
        return ()

    def state(self) -> tuple:
        """Everything that defines the model, as a nested tuple."""
        return (
            type(self).__name__,
            tuple((path, p.state()) for path, p in self.parameter_items()),
            self._static_state(),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return type(self) is type(other) and _same_state(self.state(), other.state())

    __hash__ = None  # mutable

    def __dask_tokenize__(self):
        from dask.base import tokenize

        return ("gammax.Model", tokenize(self.state()))

    def copy(self) -> Model:
        """Deep copy."""
        import copy

        return copy.deepcopy(self)

    def __getstate__(self):
        return dict(self.__dict__)

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self) -> str:
        pars = ", ".join(f"{p.name}={p.value:.6g}" for p in self.parameters)
        return f"{type(self).__name__}({pars})"

    # -- YAML --------------------------------------------------------------------
    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's YAML form of the component (``{"type": ..., "parameters": [...]}``)."""
        return {"type": self.tag[0], "parameters": parameters_to_list(self, full_output)}


def _same_state(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    return _same(a, b)


def _make_parameter(default: Parameter, value: Any, owner: str) -> Parameter:
    if value is None:
        return default.copy()
    if isinstance(value, Parameter):
        par = value.copy(name=default.name)
        _check_unit(par, default, owner)
        return par
    par = default.copy()
    if isinstance(value, u.Quantity | str):
        q = u.Quantity(value)
        if not q.unit.is_equivalent(u.Unit(par.unit)):
            raise UnitError(
                f"{owner} parameter {default.name!r}: {value} is not convertible to the "
                f"expected unit {par.unit!r}"
            )
        # keep the given unit (as Gammapy); bounds and error follow it
        factor = float(u.Unit(par.unit).to(q.unit))
        par.min, par.max, par.error = par.min * factor, par.max * factor, par.error * factor
        par.value, par.unit = float(q.value), q.unit.to_string()
    else:
        par.value = float(value)
    par.autoscale()
    return par


def _check_unit(par: Parameter, default: Parameter, owner: str) -> None:
    if not u.Unit(par.unit).is_equivalent(u.Unit(default.unit)):
        raise UnitError(
            f"{owner} parameter {par.name!r}: unit {par.unit!r} is not compatible with "
            f"the expected unit {default.unit!r}"
        )


def parameter_unit_factor(unit: str, target: u.UnitBase) -> float:
    """Factor converting a value in ``unit`` to ``target``."""
    return _factor(str(unit), target.to_string())


_FACTORS: dict[tuple[str, str], float] = {}


def _factor(unit: str, target: str) -> float:
    key = (unit, target)
    if key not in _FACTORS:
        _FACTORS[key] = float(u.Unit(unit).to(u.Unit(target)))
    return _FACTORS[key]


def parameters_to_list(model: Model, full_output: bool = False) -> list[dict[str, Any]]:
    """Parameter dicts as Gammapy writes them (defaults dropped unless ``full_output``)."""
    out = []
    defaults = {p.name: p for p in model._defaults}
    for p in model.parameters:
        data = p.to_dict()
        auto = p.copy()
        auto.autoscale()
        if auto.scale != p.scale:
            # not the scale a reader derives from the value: keep it (Gammapy accepts it)
            data["scale"] = p.scale
        init = defaults.get(p.name)
        if not full_output and init is not None:
            ref = init.to_dict()
            for item in ("min", "max", "error", "interp", "scale_method", "scale_transform"):
                a, b = data[item], ref[item]
                if a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)):
                    del data[item]
            if data["frozen"] == ref["frozen"]:
                del data["frozen"]
            if ref["unit"] == "":
                del data["unit"]
            data.pop("is_norm", None)
        out.append(data)
    return out
