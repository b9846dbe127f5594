"""A collection of sky and background models, and its parameter vector.

Parameters are identified by *key* (see :mod:`gammax.models.core`): the
``link`` label of a parameter if it has one, else ``"<model>.<component>.<par>"``.
Parameters sharing a key are one fit parameter; the first occurrence (in
collection order) is canonical and the others are synchronised to it when
the collection is built and whenever values are set through the collection.

The vector interface, for a likelihood that is a pure function of a vector:

- :attr:`Models.free_parameter_names`: ordered unique keys of free parameters;
- :meth:`Models.free_vector` / :meth:`Models.set_free_vector`: their *factors*
  (``value = T^-1(factor * scale)``, O(1) numbers);
- :meth:`Models.parameter_space`: a small immutable, picklable snapshot with
  :meth:`ParameterSpace.values_from_vector` (factors -> ``{key: value}`` for
  every parameter) and :meth:`ParameterSpace.prior_stat_sum`;
- every model method takes ``values={key: value}`` and never mutates.

Examples
--------
>>> from gammax.models import Models, SkyModel, PowerLawSpectralModel
>>> a = SkyModel(PowerLawSpectralModel(), name="a")
>>> b = SkyModel(PowerLawSpectralModel(), name="b")
>>> models = Models([a, b]).link("a.spectral.index", "b.spectral.index", label="index")
>>> models.free_parameter_names
('index', 'a.spectral.amplitude', 'b.spectral.amplitude')
>>> models.set_free_vector([2.5, 1.0, 2.0])
>>> b.spectral_model.index.value
2.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .core import Model
from .covariance import Covariance
from .parameters import Parameter
from .priors import Prior

__all__ = ["Models", "ParameterSpace"]


@dataclass(frozen=True)
class ParameterSpace:
    """Immutable snapshot of a collection's parameters, for pure likelihood functions.

    Attributes
    ----------
    keys : tuple of str
        Every unique parameter key, in collection order.
    values : tuple of float
        Current values (frozen parameters keep these).
    free : tuple of str
        Keys of free parameters (the vector order).
    scales, transforms : tuples
        Conditioning of the free parameters.
    factor_min, factor_max : tuples of float
        Bounds of the free factors (``-inf``/``inf`` if unbounded).
    priors : tuple of (key, Prior)
        Priors, once per key.
    """

    keys: tuple[str, ...]
    values: tuple[float, ...]
    free: tuple[str, ...]
    scales: tuple[float, ...]
    transforms: tuple[str, ...]
    factor_min: tuple[float, ...]
    factor_max: tuple[float, ...]
    priors: tuple[tuple[str, Prior], ...]

    def values_from_vector(self, factors: Sequence[float]) -> dict[str, float]:
        """``{key: value}`` for every parameter, the free ones from ``factors``."""
        factors = np.asarray(factors, dtype=float).ravel()
        if factors.size != len(self.free):
            raise ConfigError(
                f"got {factors.size} factors for {len(self.free)} free parameters {self.free}"
            )
        out = dict(zip(self.keys, self.values, strict=True))
        for key, f, scale, kind in zip(
            self.free, factors, self.scales, self.transforms, strict=True
        ):
            out[key] = _inverse(float(f) * scale, kind)
        return out

    def vector_from_values(self, values: Mapping[str, float]) -> np.ndarray:
        """Factors of the free parameters for ``{key: value}`` (missing keys: current)."""
        current = dict(zip(self.keys, self.values, strict=True))
        return np.array(
            [
                _forward(float(values.get(k, current[k])), kind) / scale
                for k, scale, kind in zip(self.free, self.scales, self.transforms, strict=True)
            ]
        )

    def prior_stat_sum(self, values: Mapping[str, float] | None = None) -> float:
        """Sum of the priors' statistic terms at ``values`` (default: current values)."""
        current = dict(zip(self.keys, self.values, strict=True))
        total = 0.0
        for key, prior in self.priors:
            x = current[key] if values is None or key not in values else values[key]
            total += float(prior.stat(x))
        return total

    def __dask_tokenize__(self):
        return (
            "gammax.ParameterSpace",
            self.keys,
            self.values,
            self.free,
            self.scales,
            self.transforms,
            tuple(p.state() for _, p in self.priors),
        )


def _forward(value: float, kind: str) -> float:
    from .parameters import _transform

    return _transform(value, kind)


def _inverse(value: float, kind: str) -> float:
    from .parameters import _inverse_transform

    return _inverse_transform(value, kind)


class Models(Sequence):
    """An ordered collection of uniquely named sky / background models.

    Parameters
    ----------
    models : iterable of SkyModel, FoVBackgroundModel or TemplateNPredModel
        Models (names must be unique; at most one FoV background per dataset).
    covariance : Covariance, optional
        Covariance over (a subset of) the parameter keys.
    """

    def __init__(self, models: Iterable[Model] | Model = (), covariance: Covariance | None = None):
        if isinstance(models, Model):
            models = [models]
        self._models = list(models)
        names = [m.name for m in self._models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"model names must be unique; duplicated: {dup}")
        bkg: dict[str, str] = {}
        for m in self._models:
            if type(m).__name__ == "FoVBackgroundModel":
                ds = m.datasets_names[0]
                if ds in bkg:
                    raise ConfigError(
                        f"at most one FoVBackgroundModel per dataset: {bkg[ds]!r} and "
                        f"{m.name!r} both apply to {ds!r}"
                    )
                bkg[ds] = m.name
        self._covariance = None
        self._sync_links()
        if covariance is not None:
            self.covariance = covariance

    # -- sequence ---------------------------------------------------------------------
    def __getitem__(self, key):
        if isinstance(key, str):
            for m in self._models:
                if m.name == key:
                    return m
            raise KeyError(f"no model {key!r}; models are {self.names}")
        if isinstance(key, slice):
            return Models(self._models[key])
        return self._models[key]

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[Model]:
        return iter(self._models)

    @property
    def names(self) -> list[str]:
        """Model names."""
        return [m.name for m in self._models]

    def __add__(self, other: Any) -> Models:
        other_models = [other] if isinstance(other, Model) else list(other)
        out = Models([*self._models, *other_models])
        for part in (self, other):
            stored = getattr(part, "_covariance", None)
            if stored is not None:
                out.covariance = stored.subset([n for n in stored.names if n in out._groups()])
        return out

    def for_dataset(self, name: str) -> Models:
        """The models that apply to dataset ``name`` (``datasets_names`` None or containing it)."""
        return Models(
            [m for m in self._models if m.datasets_names is None or name in m.datasets_names]
        )

    # -- parameters -----------------------------------------------------------------
    def parameter_items(self) -> list[tuple[str, str, Parameter]]:
        """``(key, path, parameter)`` for every parameter occurrence."""
        out = []
        for m in self._models:
            for path, p in m.parameter_items():
                out.append((p.link or path, path, p))
        return out

    def _groups(self) -> dict[str, list[Parameter]]:
        groups: dict[str, list[Parameter]] = {}
        for key, _, p in self.parameter_items():
            groups.setdefault(key, []).append(p)
        return groups

    def _sync_links(self) -> None:
        for key, pars in self._groups().items():
            first = pars[0]
            for p in pars[1:]:
                if p is first:
                    raise ConfigError(
                        f"parameter object {key!r} appears twice; gammax links parameters by "
                        "label (Models.link), not by sharing objects"
                    )
                import astropy.units as u

                if not u.Unit(p.unit).is_equivalent(u.Unit(first.unit)):
                    raise ConfigError(
                        f"linked parameters {key!r} have incompatible units {first.unit!r} and "
                        f"{p.unit!r}"
                    )
                p.update_from(first)

    @property
    def parameter_keys(self) -> tuple[str, ...]:
        """Every unique parameter key, in collection order."""
        return tuple(self._groups())

    def parameter(self, key: str) -> Parameter:
        """The canonical (first) parameter of ``key``."""
        groups = self._groups()
        if key not in groups:
            raise KeyError(f"no parameter {key!r}; keys are {list(groups)}")
        return groups[key][0]

    @property
    def free_parameter_names(self) -> tuple[str, ...]:
        """Ordered unique keys of the free parameters: the order of the free vector."""
        return tuple(k for k, pars in self._groups().items() if not pars[0].frozen)

    def _check_synced(self) -> None:
        for key, pars in self._groups().items():
            for p in pars[1:]:
                if p.value != pars[0].value or p.frozen != pars[0].frozen:
                    raise ConfigError(
                        f"linked parameters {key!r} disagree ({pars[0].value} vs {p.value}); set "
                        "linked parameters with Models.set_values or Models.set_free_vector"
                    )

    def values(self) -> dict[str, float]:
        """Current ``{key: value}`` of every parameter."""
        self._check_synced()
        return {k: pars[0].value for k, pars in self._groups().items()}

    def parameter_space(self) -> ParameterSpace:
        """Immutable snapshot for pure evaluation (see :class:`ParameterSpace`)."""
        self._check_synced()
        groups = self._groups()
        canon = [pars[0] for pars in groups.values()]
        free = [(k, pars[0]) for k, pars in groups.items() if not pars[0].frozen]
        inf = math.inf
        return ParameterSpace(
            keys=tuple(groups),
            values=tuple(p.value for p in canon),
            free=tuple(k for k, _ in free),
            scales=tuple(p.scale for _, p in free),
            transforms=tuple(p.scale_transform for _, p in free),
            factor_min=tuple(-inf if math.isnan(p.factor_min) else p.factor_min for _, p in free),
            factor_max=tuple(inf if math.isnan(p.factor_max) else p.factor_max for _, p in free),
            priors=tuple((k, pars[0].prior) for k, pars in groups.items() if pars[0].prior),
        )

    def free_vector(self) -> np.ndarray:
        """Factors of the free parameters, in :attr:`free_parameter_names` order."""
        self._check_synced()
        groups = self._groups()
        return np.array([groups[k][0].factor for k in self.free_parameter_names], dtype=float)

    def values_from_vector(self, factors: Sequence[float]) -> dict[str, float]:
        """Pure: ``{key: value}`` for every parameter, free ones from ``factors``."""
        return self.parameter_space().values_from_vector(factors)

    def set_values(self, values: Mapping[str, float]) -> None:
        """Set parameter values by key (all occurrences of linked parameters)."""
        groups = self._groups()
        unknown = [k for k in values if k not in groups]
        if unknown:
            raise KeyError(f"no parameter {unknown}; keys are {list(groups)}")
        for key, value in values.items():
            for p in groups[key]:
                p.value = float(value)

    def set_free_vector(self, factors: Sequence[float]) -> None:
        """Set the free parameters from their factors (mutates the models)."""
        values = self.values_from_vector(factors)
        self.set_values({k: values[k] for k in self.free_parameter_names})

    def with_free_vector(self, factors: Sequence[float]) -> Models:
        """A copy with the free parameters set from ``factors``."""
        new = self.copy()
        new.set_free_vector(factors)
        return new

    def prior_stat_sum(self, values: Mapping[str, float] | None = None) -> float:
        """Sum of prior terms (once per key) at ``values`` (default: current)."""
        return self.parameter_space().prior_stat_sum(values)

    def link(self, *keys: str, label: str | None = None) -> Models:
        """Link parameters (by key) into one fit parameter named ``label``.

        The first key's parameter is canonical; the others take its state.
        Returns ``self`` (modified in place).
        """
        if len(keys) < 2:
            raise ConfigError("link needs at least two parameter keys")
        items = {}
        for key, path, p in self.parameter_items():
            items.setdefault(key, []).append(p)
            items.setdefault(path, []).append(p)
        missing = [k for k in keys if k not in items]
        if missing:
            raise KeyError(f"no parameter {missing}; keys are {list(self.parameter_keys)}")
        label = label or keys[0]
        for key in keys:
            for p in items[key]:
                p.link = label
        self._sync_links()
        return self

    def unlink(self, label: str) -> Models:
        """Remove the link label ``label`` from all its parameters (they stay equal in value)."""
        for _, _, p in self.parameter_items():
            if p.link == label:
                p.link = None
        return self

    # -- covariance -----------------------------------------------------------------
    @property
    def covariance(self) -> Covariance:
        """Covariance over :attr:`parameter_keys` (diagonal from errors where unknown)."""
        groups = self._groups()
        diag = {
            k: (pars[0].error if math.isfinite(pars[0].error) else 1.0)
            for k, pars in groups.items()
        }
        cov = Covariance.from_errors(diag)
        if self._covariance is not None:
            known = [n for n in self._covariance.names if n in groups]
            cov = cov.merged(self._covariance.subset(known))
        return cov

    @covariance.setter
    def covariance(self, value: Covariance | np.ndarray) -> None:
        groups = self._groups()
        if not isinstance(value, Covariance):
            value = Covariance(list(groups), value)
        unknown = [n for n in value.names if n not in groups]
        if unknown:
            raise KeyError(f"covariance names {unknown} are not parameter keys {list(groups)}")
        self._covariance = self.covariance.merged(value)
        for name, err in zip(value.names, value.errors, strict=True):
            for p in groups[name]:
                p.error = float(err)

    def set_free_covariance(self, matrix: Any, space: str = "factor") -> None:
        """Set the covariance of the free parameters from a fit.

        ``matrix`` is in :attr:`free_parameter_names` order, in factor space
        (as an optimiser returns it; converted with ``d value / d factor``) or,
        with ``space="value"``, already in value space.
        """
        names = self.free_parameter_names
        matrix = np.asarray(matrix, dtype=float)
        if space == "factor":
            groups = self._groups()
            jac = np.array([groups[k][0].factor_derivative(groups[k][0].factor) for k in names])
            matrix = jac[:, None] * matrix * jac[None, :]
        elif space != "value":
            raise ConfigError(f"space {space!r}; expected 'factor' or 'value'")
        self.covariance = Covariance(names, matrix)

    # -- identity and copies -----------------------------------------------------------
    def copy(self) -> Models:
        """Deep copy."""
        import copy

        return copy.deepcopy(self)

    def state(self) -> tuple:
        """Nested tuple describing the collection."""
        cov = self.covariance
        return (tuple(m.state() for m in self._models), (cov.names, cov.data))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Models):
            return NotImplemented
        from .core import _same_state

        return len(self) == len(other) and _same_state(self.state(), other.state())

    __hash__ = None

    def __dask_tokenize__(self):
        from dask.base import tokenize

        return ("gammax.Models", tokenize(self.state()))

    def __repr__(self) -> str:
        return "Models([" + ", ".join(repr(m) for m in self._models) + "])"

    # -- YAML ---------------------------------------------------------------------------
    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's ``components`` form (without the covariance file)."""
        return {"components": [m.to_dict(full_output) for m in self._models]}

    @classmethod
    def read(cls, path: Any) -> Models:
        """Read a Gammapy-compatible model YAML file (see :func:`gammax.models.read_models`)."""
        from .io import read_models

        return read_models(path)

    def write(self, path: Any, overwrite: bool = False, **kwargs: Any) -> None:
        """Write a Gammapy-compatible YAML file (see :func:`gammax.models.write_models`)."""
        from .io import write_models

        write_models(self, path, overwrite=overwrite, **kwargs)

    def to_yaml(self, full_output: bool = False) -> str:
        """YAML text (without covariance)."""
        from .io import to_yaml

        return to_yaml(self, full_output)
