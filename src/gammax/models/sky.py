"""Sky models (spectral x spatial x temporal) and background models.

A :class:`SkyModel` has a ``name``; its parameter keys are
``"<name>.spectral.<par>"``, ``"<name>.spatial.<par>"`` and
``"<name>.temporal.<par>"`` (compound spectra add ``model1.``/``model2.``),
unless a parameter carries a ``link`` label. These keys are the same whether
the model stands alone or sits in a :class:`~gammax.models.Models`.

:class:`FoVBackgroundModel` scales a dataset's background template by a norm
spectral model (norm and tilt) evaluated at the reconstructed-energy bin
centres; :class:`TemplateNPredModel` does the same for a predicted-counts map
it holds itself.

Examples
--------
>>> from gammax.models import PowerLawSpectralModel, PointSpatialModel
>>> crab = SkyModel(PowerLawSpectralModel(), PointSpatialModel(lon_0="83.63 deg",
...                 lat_0="22.01 deg"), name="crab")
>>> crab.parameter_keys()[:2]
('crab.spectral.index', 'crab.spectral.amplitude')
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, FormatError, UnitError
from ..units import unit_string
from .core import Model, _same_state
from .parameters import Parameter, Parameters
from .registry import register
from .spatial import SpatialModel
from .spectral import SpectralModel, bin_bounds
from .spectral_norm import PowerLawNormSpectralModel
from .temporal import TemporalModel

__all__ = ["FoVBackgroundModel", "SkyModel", "TemplateNPredModel"]

_APPLY_IRF_DEFAULT = {"exposure": True, "psf": True, "edisp": True}


class _Composite(Model):
    """A named model made of spectral / spatial / temporal components."""

    kind = "sky"
    _components: tuple[str, ...] = ("spectral", "spatial", "temporal")

    def _parts(self) -> Iterator[tuple[str, Model]]:
        for kind in self._components:
            model = getattr(self, f"{kind}_model", None)
            if model is not None:
                yield kind, model

    @property
    def parameters(self) -> Parameters:
        """Parameters of all components (names may repeat across components)."""
        return Parameters([p for _, p in self.parameter_items()])

    def parameter_items(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Paths ``<name>.<component>.<par>``."""
        for kind, model in self._parts():
            yield from model.parameter_items(f"{prefix}{self.name}.{kind}.")

    def component_prefix(self, kind: str) -> str:
        """Key prefix of a component's parameters, e.g. ``"crab.spectral."``."""
        return f"{self.name}.{kind}."

    def unfreeze(self) -> None:
        """Restore default frozen flags of all components."""
        for _, model in self._parts():
            model.unfreeze()

    def _static_state(self) -> tuple:
        return (
            self.name,
            tuple(self.datasets_names or ()),
            tuple((k, type(m).__name__, m._static_state()) for k, m in self._parts()),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return type(self) is type(other) and _same_state(self.state(), other.state())

    __hash__ = None


@register("sky")
class SkyModel(_Composite):
    """Factorised sky model: spectral x spatial (optional) x temporal (optional).

    Parameters
    ----------
    spectral_model : SpectralModel
        Spectrum (``cm-2 s-1 TeV-1``-like unless ``apply_irf["exposure"]`` is false).
    spatial_model : SpatialModel, optional
        Normalised spatial shape (``sr-1``).
    temporal_model : TemporalModel, optional
        Light-curve norm.
    name : str, optional
        Unique name in a model collection (default: random, as Gammapy).
    apply_irf : dict, optional
        Which responses to apply: ``exposure``, ``psf``, ``edisp`` (default all).
    datasets_names : list of str, optional
        Datasets the model applies to (default: all).
    """

    tag = ("SkyModel", "sky-model")

    def __init__(
        self,
        spectral_model: SpectralModel,
        spatial_model: SpatialModel | None = None,
        temporal_model: TemporalModel | None = None,
        name: str | None = None,
        apply_irf: Mapping[str, bool] | None = None,
        datasets_names: list[str] | str | None = None,
    ) -> None:
        for value, cls, what in (
            (spectral_model, SpectralModel, "spectral_model"),
            (spatial_model, SpatialModel, "spatial_model"),
            (temporal_model, TemporalModel, "temporal_model"),
        ):
            if (value is not None or what == "spectral_model") and not isinstance(value, cls):
                raise TypeError(f"{what} must be a {cls.__name__}, got {type(value).__name__}")
        apply_irf = dict(_APPLY_IRF_DEFAULT if apply_irf is None else apply_irf)
        if isinstance(datasets_names, str):
            datasets_names = [datasets_names]
        for key, val in (
            ("spectral_model", spectral_model),
            ("spatial_model", spatial_model),
            ("temporal_model", temporal_model),
            ("name", _check_name(name)),
            ("apply_irf", apply_irf),
            ("datasets_names", None if datasets_names is None else list(datasets_names)),
            ("_parameters", None),
        ):
            object.__setattr__(self, key, val)
        self._check_unit()

    def _check_unit(self) -> None:
        unit = u.Unit(self.spectral_model.unit)
        expected = (
            u.Unit("cm-2 s-1 TeV-1") if self.apply_irf.get("exposure", True) else u.Unit("TeV-1")
        )
        if not unit.is_equivalent(expected):
            raise UnitError(
                f"SkyModel {self.name!r}: spectral unit {unit} is not equivalent to {expected}"
            )

    # -- evaluation ----------------------------------------------------------------
    def evaluate(
        self,
        energy: Any,
        lon: Any = None,
        lat: Any = None,
        time: Any = None,
        frame: str | None = None,
        values: Mapping[str, float] | None = None,
    ) -> xr.DataArray:
        """Differential surface brightness at energies, positions and times.

        ``spectral(energy) * spatial(lon, lat) * temporal(time)``; the factors
        of absent components (or of ``time=None``) are 1. Unit e.g.
        ``cm-2 s-1 TeV-1 sr-1``.
        """
        out = self.spectral_model(energy, values, prefix=self.component_prefix("spectral"))
        unit = u.Unit(out.attrs["units"])
        if self.spatial_model is not None:
            if lon is None or lat is None:
                raise ConfigError(f"SkyModel {self.name!r} has a spatial model: pass lon and lat")
            kwargs = {"energy": energy} if self.spatial_model.is_energy_dependent else {}
            spatial = self.spatial_model(
                lon, lat, frame, values=values, prefix=self.component_prefix("spatial"), **kwargs
            )
            out = out * spatial
            unit = unit * u.Unit(spatial.attrs["units"])
        if self.temporal_model is not None and time is not None:
            out = out * self.temporal_model(time, values, self.component_prefix("temporal"))
        return out.assign_attrs(units=unit_string(unit)).rename("dnde")

    def evaluate_geom(self, geom: Any, values=None, chunks: Any = None) -> xr.DataArray:
        """``spectral(energy_true centres) * spatial.evaluate_geom(geom)``."""
        energy = geom.axis(D.ENERGY_TRUE).to_coordinate()
        out = self.spectral_model(energy, values, prefix=self.component_prefix("spectral"))
        unit = u.Unit(out.attrs["units"])
        if self.spatial_model is not None:
            spatial = self.spatial_model.evaluate_geom(
                geom, values, chunks, prefix=self.component_prefix("spatial")
            )
            out = out * spatial
            unit = unit * u.Unit(spatial.attrs["units"])
        return _as_map(out, geom).assign_attrs(units=unit_string(unit)).rename("dnde")

    def integrate_geom(
        self,
        geom: Any,
        values: Mapping[str, float] | None = None,
        oversampling_factor: int | None = None,
        chunks: Any = None,
        gti: tuple[Any, Any] | None = None,
    ) -> xr.DataArray:
        """Flux in each pixel and true-energy bin of ``geom`` (e.g. ``cm-2 s-1``).

        The spectral integral over the ``energy_true`` bins times
        :meth:`SpatialModel.integrate_geom`; with ``gti=(starts, stops)`` and a
        temporal model, times the mean temporal norm over those intervals.
        """
        lo, hi = bin_bounds(geom.axis(D.ENERGY_TRUE))
        out = self.spectral_model.integral(lo, hi, values, prefix=self.component_prefix("spectral"))
        unit = out.attrs["units"]
        if self.spatial_model is not None:
            spatial = self.spatial_model.integrate_geom(
                geom, oversampling_factor, values, chunks, prefix=self.component_prefix("spatial")
            )
            out = out * spatial
        if self.temporal_model is not None and gti is not None:
            starts, stops = gti
            integral = self.temporal_model.integral(
                starts, stops, values, self.component_prefix("temporal")
            )
            duration = _duration(self.temporal_model, starts, stops)
            out = out * (integral.sum() / duration.sum())
        return _as_map(out, geom).assign_attrs(units=unit).rename("flux")

    # -- YAML -------------------------------------------------------------------------
    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form of a sky model component."""
        data: dict[str, Any] = {"name": self.name, "type": self.tag[0]}
        if self.apply_irf != _APPLY_IRF_DEFAULT:
            data["apply_irf"] = dict(self.apply_irf)
        if self.datasets_names is not None:
            data["datasets_names"] = list(self.datasets_names)
        for kind, model in self._parts():
            data[kind] = model.to_dict(full_output)
        return data

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}={type(m).__name__}" for k, m in self._parts())
        return f"SkyModel(name={self.name!r}, {parts})"


def _duration(model: TemporalModel, starts: Any, stops: Any) -> xr.DataArray:
    from ._coords import as_mjd

    return as_mjd(stops, model.scale) - as_mjd(starts, model.scale)


def _as_map(out: xr.DataArray, geom: Any) -> xr.DataArray:
    """Order dims as the geometry (missing ones broadcast) and attach its coordinates."""
    template = xr.DataArray(
        np.zeros(geom.shape, dtype=np.int8), dims=geom.dims, coords=geom.coords()
    )
    out, _ = xr.broadcast(out, template)
    return out.transpose(*geom.dims).assign_coords(
        {k: v for k, v in geom.coords().items() if k not in out.coords}
    )


def _check_name(name: Any) -> str:
    if name is None:
        return secrets.token_hex(4)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"model name must be a non-empty string, got {name!r}")
    return name


@register("sky")
class FoVBackgroundModel(_Composite):
    """Field-of-view background correction of one dataset's background template.

    Parameters
    ----------
    dataset_name : str
        The dataset whose background it scales.
    spectral_model : SpectralModel, optional
        Norm spectral model (default :class:`PowerLawNormSpectralModel`: norm, tilt).
    spatial_model : SpatialModel, optional
        Dimensionless spatial correction (its unit is dropped).
    name : str, optional
        Default ``"<dataset_name>-bkg"`` (as Gammapy).
    """

    tag = ("FoVBackgroundModel", "fov-bkg")
    _components = ("spectral", "spatial")

    def __init__(
        self,
        dataset_name: str,
        spectral_model: SpectralModel | None = None,
        spatial_model: SpatialModel | None = None,
        name: str | None = None,
    ) -> None:
        spectral_model = PowerLawNormSpectralModel() if spectral_model is None else spectral_model
        if not spectral_model.is_norm_spectral_model:
            raise ConfigError(
                "FoVBackgroundModel needs a norm spectral model, got "
                f"{type(spectral_model).__name__}"
            )
        for key, val in (
            ("spectral_model", spectral_model),
            ("spatial_model", spatial_model),
            ("datasets_names", [str(dataset_name)]),
            ("name", _check_name(name or f"{dataset_name}-bkg")),
            ("_parameters", None),
        ):
            object.__setattr__(self, key, val)

    @property
    def temporal_model(self) -> None:
        """Background models have no temporal part."""
        return None

    def evaluate(self, energy: Any, lon=None, lat=None, frame=None, values=None) -> xr.DataArray:
        """Correction factor at (reconstructed) energies (and positions)."""
        out = self.spectral_model(energy, values, prefix=self.component_prefix("spectral"))
        if self.spatial_model is not None:
            out = out * self.spatial_model(
                lon, lat, frame, values=values, prefix=self.component_prefix("spatial")
            )
        return out.assign_attrs(units="").rename("norm")

    def apply(self, background: xr.DataArray, values=None) -> xr.DataArray:
        """Background map times the correction at its ``energy`` bin centres (lazy)."""
        if D.ENERGY not in background.coords:
            raise ConfigError(
                f"the background map needs an {D.ENERGY!r} coordinate; it has "
                f"{list(background.coords)}"
            )
        norm = self.spectral_model(
            background[D.ENERGY], values, prefix=self.component_prefix("spectral")
        )
        out = background * norm.drop_vars(list(norm.coords))
        if self.spatial_model is not None:
            spatial = self.spatial_model.evaluate_geom(
                background.gx.geom.to_image(), values, prefix=self.component_prefix("spatial")
            )
            out = out * spatial.data
        return out.assign_attrs(background.attrs)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form (``name`` only if not the default)."""
        data: dict[str, Any] = {"type": self.tag[0], "datasets_names": list(self.datasets_names)}
        if self.name != f"{self.datasets_names[0]}-bkg":
            data["name"] = self.name
        for kind, model in self._parts():
            data[kind] = model.to_dict(full_output)
        return data


@register("sky")
class TemplateNPredModel(_Composite):
    """A predicted-counts template (e.g. a background map) scaled by a norm spectral model.

    Parameters
    ----------
    map : xarray.DataArray
        Counts map with a reconstructed ``energy`` axis (gammax map).
    spectral_model : SpectralModel, optional
        Default: :class:`PowerLawNormSpectralModel` with the tilt frozen.
    name : str, optional
        Model name.
    filename : str, optional
        File of the map, used when writing YAML.
    datasets_names : list of str, optional
        The (single) dataset it applies to.
    spatial_model : SpatialModel, optional
        Dimensionless spatial correction.
    """

    tag = ("TemplateNPredModel",)
    _components = ("spectral", "spatial")

    def __init__(
        self,
        map: xr.DataArray,
        spectral_model: SpectralModel | None = None,
        name: str | None = None,
        filename: str | None = None,
        datasets_names: list[str] | str | None = None,
        spatial_model: SpatialModel | None = None,
    ) -> None:
        if D.ENERGY not in map.dims:
            raise ConfigError(f"TemplateNPredModel needs a map with an {D.ENERGY!r} axis")
        if spectral_model is None:
            spectral_model = PowerLawNormSpectralModel()
        if isinstance(datasets_names, str):
            datasets_names = [datasets_names]
        if datasets_names is not None and len(datasets_names) != 1:
            raise ConfigError("a TemplateNPredModel applies to exactly one dataset")
        for key, val in (
            ("map", map),
            ("spectral_model", spectral_model),
            ("spatial_model", spatial_model),
            ("name", _check_name(name)),
            ("filename", None if filename is None else str(filename)),
            ("datasets_names", datasets_names),
            ("_parameters", None),
        ):
            object.__setattr__(self, key, val)

    @property
    def temporal_model(self) -> None:
        """No temporal part."""
        return None

    def _static_state(self) -> tuple:
        return (*super()._static_state(), self.map.gx.geom.to_json(), self.map.data)

    def evaluate(self, values: Mapping[str, float] | None = None) -> xr.DataArray:
        """The template times the norm at its ``energy`` bin centres (lazy for dask maps)."""
        norm = self.spectral_model(
            self.map[D.ENERGY], values, prefix=self.component_prefix("spectral")
        )
        out = self.map * norm.drop_vars(list(norm.coords))
        if self.spatial_model is not None:
            spatial = self.spatial_model.evaluate_geom(
                self.map.gx.geom.to_image(), values, prefix=self.component_prefix("spatial")
            )
            out = out * spatial.data
        return out.assign_attrs(self.map.attrs)

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form."""
        data: dict[str, Any] = {"name": self.name, "type": self.tag[0]}
        if self.spatial_model is not None:
            data["spatial"] = self.spatial_model.to_dict(full_output)
        data["spectral"] = self.spectral_model.to_dict(full_output)
        if self.filename is not None:
            data["filename"] = self.filename
        if self.datasets_names is not None:
            data["datasets_names"] = list(self.datasets_names)
        return data

    def write(self, filename: str | None = None, overwrite: bool = False) -> None:
        """Write the template map (FITS)."""
        from ..geom.fits import write_map

        path = filename or self.filename
        if path is None:
            raise FormatError("TemplateNPredModel has no filename to write to")
        write_map(self.map, path, overwrite=overwrite)
        object.__setattr__(self, "filename", str(path))
