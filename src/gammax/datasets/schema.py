"""Declared schemas of the dataset types, and the validator.

A gammax dataset is a plain :class:`xarray.Dataset` whose
``attrs["gammax_dataset"]`` names its type (Gammapy's vocabulary:
``MapDataset``, ``MapDatasetOnOff``, ``SpectrumDataset``,
``SpectrumDatasetOnOff``, ``FluxPointsDataset``) and ``attrs["name"]`` its
name. Each type declares its variables (dims, unit, dtype kind, required or
optional) in a :class:`Schema`; :func:`validate` checks a dataset against it
using metadata only (never computing a dask array) and raises a gammax error
naming every problem at once.

Map IRFs live on a coarse sky grid of their own: in a map dataset their sky
dims are ``irf_y`` / ``irf_x`` and their geometry is the scalar coordinate
``irf_geom`` (see :func:`gammax.datasets.irf_maps`).

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"counts": ("energy", np.zeros(3))}, attrs={"gammax_dataset": "Nope"})
>>> try:
...     validate(ds)
... except ValueError as err:
...     print(str(err).split(";")[0])
unknown dataset type 'Nope' in attrs['gammax_dataset']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import FormatError, UnitError
from ..units import parse_unit

__all__ = [
    "IRF_GEOM",
    "IRF_X",
    "IRF_Y",
    "KIND_ATTR",
    "SCHEMAS",
    "Schema",
    "Variable",
    "dataset_kind",
    "validate",
]

#: Attribute naming the dataset type.
KIND_ATTR = "gammax_dataset"
#: Sky dims and geometry coordinate of IRF maps inside a map dataset.
IRF_Y, IRF_X, IRF_GEOM = "irf_y", "irf_x", "irf_geom"

_SKY = (D.Y, D.X)
_IRF_SKY = (IRF_Y, IRF_X)


@dataclass(frozen=True)
class Variable:
    """One declared variable of a dataset schema.

    Parameters
    ----------
    name : str
        Variable name.
    dims : tuple of str
        Dims, in canonical order.
    unit : str or None
        A unit the values must be convertible to (``""``: dimensionless);
        ``None``: any unit.
    kinds : str
        Allowed numpy dtype kinds (``"b"`` bool, ``"iuf"`` numbers, ...).
    required : bool
        Whether the variable must be present.
    """

    name: str
    dims: tuple[str, ...]
    unit: str | None = ""
    kinds: str = "iuf"
    required: bool = True


@dataclass(frozen=True)
class Schema:
    """The variables and binned axes of one dataset type."""

    kind: str
    variables: tuple[Variable, ...]
    binned: tuple[str, ...] = (D.ENERGY,)
    doc: str = ""

    def variable(self, name: str) -> Variable:
        """The declared variable ``name``."""
        for var in self.variables:
            if var.name == name:
                return var
        raise KeyError(f"{self.kind} declares no variable {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        """Names of all declared variables."""
        return tuple(v.name for v in self.variables)

    def describe(self) -> str:
        """One line per variable, for docs and error messages."""
        lines = [f"{self.kind}:"]
        for v in self.variables:
            need = "required" if v.required else "optional"
            unit = "any" if v.unit is None else (v.unit or "dimensionless")
            lines.append(f"  {v.name}{v.dims} unit {unit} ({need})")
        return "\n".join(lines)


_COMMON_MAP = (
    Variable("counts", (D.ENERGY, *_SKY)),
    Variable("exposure", (D.ENERGY_TRUE, *_SKY), "m2 s"),
    Variable("mask_safe", (D.ENERGY, *_SKY), "", "b", False),
    Variable("mask_fit", (D.ENERGY, *_SKY), "", "b", False),
    Variable("psf", (D.ENERGY_TRUE, D.RAD, *_IRF_SKY), "sr-1", "f", False),
    Variable("edisp", (D.ENERGY_TRUE, D.ENERGY, *_IRF_SKY), "", "f", False),
    Variable("exposure_irf", (D.ENERGY_TRUE, *_IRF_SKY), "m2 s", "f", False),
)
_ONOFF_MAP = (
    Variable("counts_off", (D.ENERGY, *_SKY)),
    Variable("acceptance", (D.ENERGY, *_SKY), ""),
    Variable("acceptance_off", (D.ENERGY, *_SKY), ""),
)
_COMMON_SPEC = (
    Variable("counts", (D.ENERGY,)),
    Variable("exposure", (D.ENERGY_TRUE,), "m2 s"),
    Variable("edisp", (D.ENERGY_TRUE, D.ENERGY), "", "f", False),
    Variable("mask_safe", (D.ENERGY,), "", "b", False),
    Variable("mask_fit", (D.ENERGY,), "", "b", False),
)
_ONOFF_SPEC = (
    Variable("counts_off", (D.ENERGY,)),
    Variable("acceptance", (D.ENERGY,), ""),
    Variable("acceptance_off", (D.ENERGY,), ""),
)

#: The schema of every dataset type, by ``attrs["gammax_dataset"]``.
SCHEMAS: dict[str, Schema] = {
    "MapDataset": Schema(
        "MapDataset",
        (*_COMMON_MAP, Variable("background", (D.ENERGY, *_SKY), "", "f", False)),
        (D.ENERGY, D.ENERGY_TRUE),
        "counts, exposure and background cubes on a WCS geometry, IRF maps on a coarse grid",
    ),
    "MapDatasetOnOff": Schema(
        "MapDatasetOnOff",
        (*_COMMON_MAP, *_ONOFF_MAP),
        (D.ENERGY, D.ENERGY_TRUE),
        "a map dataset with OFF counts and ON/OFF acceptances (WStat)",
    ),
    "SpectrumDataset": Schema(
        "SpectrumDataset",
        (*_COMMON_SPEC, Variable("background", (D.ENERGY,), "", "f", False)),
        (D.ENERGY, D.ENERGY_TRUE),
        "1D counts in reconstructed energy with exposure and an edisp matrix",
    ),
    "SpectrumDatasetOnOff": Schema(
        "SpectrumDatasetOnOff",
        (*_COMMON_SPEC, *_ONOFF_SPEC),
        (D.ENERGY, D.ENERGY_TRUE),
        "1D ON/OFF counts (OGIP PHA with BKG, ARF and RMF)",
    ),
    "FluxPointsDataset": Schema(
        "FluxPointsDataset",
        (
            Variable("dnde", (D.ENERGY,), "cm-2 s-1 TeV-1", "f"),
            Variable("dnde_err", (D.ENERGY,), "cm-2 s-1 TeV-1", "f", False),
            Variable("dnde_errn", (D.ENERGY,), "cm-2 s-1 TeV-1", "f", False),
            Variable("dnde_errp", (D.ENERGY,), "cm-2 s-1 TeV-1", "f", False),
            Variable("dnde_ul", (D.ENERGY,), "cm-2 s-1 TeV-1", "f", False),
            Variable("is_ul", (D.ENERGY,), "", "b", False),
            Variable("energy_min", (D.ENERGY,), "TeV", "f"),
            Variable("energy_max", (D.ENERGY,), "TeV", "f"),
        ),
        (),
        "differential flux points with errors (chi2)",
    ),
}


def dataset_kind(ds: xr.Dataset) -> str:
    """The type of a dataset (``attrs["gammax_dataset"]``), checked to be known.

    Raises
    ------
    gammax.errors.FormatError
        If the attribute is missing or names no known type.
    """
    kind = ds.attrs.get(KIND_ATTR)
    if kind not in SCHEMAS:
        raise FormatError(
            f"unknown dataset type {kind!r} in attrs[{KIND_ATTR!r}]; expected one of "
            f"{sorted(SCHEMAS)} (build datasets with gammax.datasets constructors)"
        )
    return kind


def _unit_problem(var: Variable, attrs: Mapping) -> str | None:
    if var.unit is None:
        return None
    given = attrs.get("units")
    if given is None:
        if var.unit == "":
            return None  # no unit: dimensionless
        return f"{var.name!r} has no attrs['units'] (expected {var.unit!r})"
    try:
        unit = parse_unit(given, context=var.name)
    except UnitError as err:
        return str(err)
    if not unit.is_equivalent(u.Unit(var.unit) if var.unit else u.dimensionless_unscaled):
        return (
            f"{var.name!r} has unit {given!r}, not convertible to {var.unit or 'dimensionless'!r}"
        )
    return None


def _axis_problem(ds: xr.Dataset, dim: str) -> str | None:
    if dim not in ds.dims:
        return None
    coord = ds.coords.get(dim)
    if coord is None:
        return f"dim {dim!r} has no coordinate"
    if "edges" in coord.attrs:
        edges = np.asarray(coord.attrs["edges"], float)
        if edges.size != ds.sizes[dim] + 1:
            return f"coordinate {dim!r} has {edges.size} edges for {ds.sizes[dim]} bins"
        if np.any(np.diff(edges) <= 0):
            return f"coordinate {dim!r} edges are not increasing"
        return None
    if coord.attrs.get("bounds") in ds.variables:
        return None
    return f"coordinate {dim!r} has neither 'edges' nor CF 'bounds' (bin edges are needed)"


def validate(ds: xr.Dataset, kind: str | None = None) -> xr.Dataset:
    """Check a dataset against the schema of its type; return it unchanged.

    Only metadata are read (dims, dtypes, ``attrs["units"]``, coordinates), so
    validating a lazy dataset computes nothing.

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset.
    kind : str, optional
        Expected type; default ``ds.attrs["gammax_dataset"]``.

    Raises
    ------
    gammax.errors.FormatError
        Listing every missing variable, wrong dims, dtype, missing bin edges.
    gammax.errors.UnitError
        If the only problems are units.
    """
    if not isinstance(ds, xr.Dataset):
        raise FormatError(f"a gammax dataset is an xarray.Dataset, got {type(ds).__name__}")
    given = dataset_kind(ds)
    if kind is not None and given != kind:
        raise FormatError(f"expected a {kind}, got a {given} (attrs[{KIND_ATTR!r}])")
    schema = SCHEMAS[given]
    problems: list[str] = []
    unit_problems: list[str] = []
    for var in schema.variables:
        if var.name not in ds.data_vars:
            if var.required:
                problems.append(f"required variable {var.name!r}{var.dims} is missing")
            continue
        da = ds[var.name]
        if tuple(da.dims) != var.dims:
            problems.append(f"{var.name!r} has dims {tuple(da.dims)}, expected {var.dims}")
        if da.dtype.kind not in var.kinds:
            problems.append(f"{var.name!r} has dtype {da.dtype}, expected kind {var.kinds!r}")
        message = _unit_problem(var, da.attrs)
        if message:
            unit_problems.append(message)
    for dim in schema.binned:
        message = _axis_problem(ds, dim)
        if message:
            problems.append(message)
    if any(IRF_Y in ds[v].dims for v in ds.data_vars) and IRF_GEOM not in ds.coords:
        problems.append(f"IRF maps present but no {IRF_GEOM!r} coordinate (their geometry)")
    if problems or unit_problems:
        name = ds.attrs.get("name", "")
        where = f"{given} {name!r}" if name else given
        text = f"invalid {where}: " + "; ".join(problems + unit_problems)
        raise (FormatError if problems else UnitError)(text)
    return ds
