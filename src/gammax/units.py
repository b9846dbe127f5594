"""Units at the API edge: ``attrs["units"]`` strings <-> astropy quantities.

Inside gammax, arrays are plain numbers with an astropy-parsable unit string in
``attrs["units"]``. These helpers are the one place where that string becomes an
:class:`astropy.units.Unit` and back.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from .errors import UnitError

__all__ = ["parse_unit", "to_dataarray", "to_quantity", "unit_of", "unit_string"]

# Unit spellings found in real GADF files that astropy's parsers do not take.
_UNIT_ALIASES = {
    "": "",
    "counts": "ct",
    "count": "ct",
    "none": "",
}


def parse_unit(unit: str | u.UnitBase | None, *, context: str = "") -> u.UnitBase:
    """Parse a unit string from a FITS header or an attribute.

    Tries astropy's generic parser, then its FITS and OGIP parsers.

    Parameters
    ----------
    unit : str, Unit or None
        The unit. ``None`` and ``""`` mean dimensionless.
    context : str, optional
        What the unit belongs to, for the error message.

    Raises
    ------
    gammax.errors.UnitError
        If no parser understands the string.

    Examples
    --------
    >>> parse_unit("s-1 MeV-1 sr-1")
    Unit("1 / (MeV s sr)")
    """
    if unit is None:
        return u.dimensionless_unscaled
    if isinstance(unit, u.UnitBase):
        return unit
    text = str(unit).strip()
    text = _UNIT_ALIASES.get(text.lower(), text)
    if text == "":
        return u.dimensionless_unscaled
    for fmt in (None, "fits", "ogip"):
        try:
            return u.Unit(text, format=fmt) if fmt else u.Unit(text)
        except ValueError:
            continue
    where = f" for {context}" if context else ""
    raise UnitError(f"cannot parse unit {unit!r}{where}; expected an astropy unit string")


def unit_string(unit: str | u.UnitBase | None) -> str:
    """Canonical string of a unit, as stored in ``attrs["units"]``.

    Examples
    --------
    >>> unit_string("1/(s MeV sr)")
    '1 / (MeV s sr)'
    """
    return parse_unit(unit).to_string()


def unit_of(obj: xr.DataArray | xr.Variable) -> u.UnitBase:
    """The unit stored in ``obj.attrs["units"]`` (dimensionless if absent)."""
    return parse_unit(obj.attrs.get("units"), context=f"variable {getattr(obj, 'name', '')!r}")


def to_quantity(obj: xr.DataArray | xr.Variable) -> u.Quantity:
    """Convert an xarray object to an astropy quantity. This computes dask arrays.

    Examples
    --------
    >>> import xarray as xr
    >>> to_quantity(xr.DataArray([1.0, 2.0], attrs={"units": "TeV"}))
    <Quantity [1., 2.] TeV>
    """
    return u.Quantity(np.asarray(obj.values), unit_of(obj), copy=False)


def to_dataarray(
    value: Any,
    unit: str | u.UnitBase | None = None,
    *,
    dim: str | None = None,
    name: str | None = None,
) -> xr.DataArray:
    """Turn a quantity, number, array or DataArray into a DataArray in ``unit``.

    Parameters
    ----------
    value : Quantity, array-like or DataArray
        Input. A DataArray keeps its dims and is converted from its
        ``attrs["units"]`` (if it has none, it is taken to be in ``unit``); a
        bare number or array is taken to be in ``unit``.
    unit : str or Unit, optional
        Target unit. If omitted the input's own unit is kept.
    dim : str, optional
        Dimension name for 1-D array input (DataArrays keep theirs). When
        ``name == dim`` the values also become the coordinate of that dimension.
    name : str, optional
        Name of the result.

    Raises
    ------
    gammax.errors.UnitError
        If the input's unit cannot be converted to ``unit``.

    Examples
    --------
    >>> import astropy.units as u
    >>> to_dataarray([1, 10] * u.GeV, "TeV", dim="energy").values
    array([0.001, 0.01 ])
    """
    target = None if unit is None else parse_unit(unit)
    if isinstance(value, xr.DataArray):
        # a DataArray without units is taken to be in the target unit, like a bare array
        source = unit_of(value) if "units" in value.attrs or target is None else target
        out = value
        if target is not None and source != target:
            factor = _conversion_factor(source, target, name or value.name)
            out = value * factor
        attrs = dict(value.attrs)
        attrs["units"] = (target or source).to_string()
        out = out.copy(deep=False)
        out.attrs = attrs
        return out.rename(name) if name is not None else out

    if isinstance(value, u.Quantity):
        source = value.unit
        data = value.value
        if target is not None and source != target:
            data = data * _conversion_factor(source, target, name)
    else:
        source = target or u.dimensionless_unscaled
        data = value
    data = np.asarray(data) if not hasattr(data, "__dask_graph__") else data
    attrs = {"units": (target or source).to_string()}
    coords = {}
    if data.ndim == 0:
        dims: tuple[str, ...] = ()
    elif data.ndim == 1 and dim is not None:
        dims = (dim,)
        if name == dim:  # values along their own axis label it
            coords = {dim: xr.Variable(dims, data, dict(attrs))}
    else:
        raise ValueError(
            f"cannot label a {data.ndim}-D array for {name or 'a coordinate'}: "
            "pass an xarray.DataArray with named dims"
        )
    return xr.DataArray(data, dims=dims, coords=coords, name=name, attrs=attrs)


def _conversion_factor(source: u.UnitBase, target: u.UnitBase, what: Any) -> float:
    try:
        return float(source.to(target))
    except u.UnitConversionError as err:
        label = f" of {what!r}" if what else ""
        raise UnitError(f"unit {source}{label} cannot be converted to {target}") from err
