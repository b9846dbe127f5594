"""Model inputs at the API edge: energies, sky coordinates and times as DataArrays.

Numbers, arrays and Quantities become DataArrays (a bare 1-D array or Quantity
gets the default dim, e.g. ``energy_true``); DataArrays keep their dims and are
converted from ``attrs["units"]``. :func:`apply` runs a numpy kernel over
broadcast DataArrays, lazily per chunk when any input is dask-backed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import UnitError
from ..units import to_dataarray, unit_string

__all__ = ["apply", "as_angle", "as_energy", "as_mjd"]

#: Unit of bare-number energies.
DEFAULT_ENERGY_UNIT = "TeV"


def _as_quantity_array(value: Any, unit: str, dim: str, name: str) -> xr.DataArray:
    if isinstance(value, xr.DataArray) and "units" not in value.attrs:
        raise UnitError(
            f"{name} DataArray {value.name!r} has no attrs['units']; set it, e.g. "
            f"attrs={{'units': {unit!r}}}"
        )
    if isinstance(value, list | tuple):
        value = np.asarray(value, dtype=float)
    out = to_dataarray(value, unit, dim=dim, name=name)
    if out.dtype.kind != "f":
        out = out.astype(float)
    return out


def as_energy(value: Any, unit: str, dim: str = D.ENERGY_TRUE) -> xr.DataArray:
    """Energies as a DataArray in ``unit`` (bare numbers are in TeV).

    Examples
    --------
    >>> import astropy.units as u
    >>> as_energy([1, 10] * u.TeV, "GeV").values
    array([ 1000., 10000.])
    """
    if not isinstance(value, xr.DataArray) and not hasattr(value, "unit"):
        value = to_dataarray(np.asarray(value, dtype=float), DEFAULT_ENERGY_UNIT, dim=dim)
    return _as_quantity_array(value, unit, dim, "energy")


def as_angle(value: Any, dim: str, name: str) -> xr.DataArray:
    """Angles as a DataArray in degrees (bare numbers are degrees)."""
    if not isinstance(value, xr.DataArray) and not hasattr(value, "unit"):
        value = to_dataarray(np.asarray(value, dtype=float), "deg", dim=dim)
    return _as_quantity_array(value, "deg", dim, name)


def as_mjd(time: Any, scale: str, dim: str = D.TIME) -> xr.DataArray:
    """Times as Modified Julian Dates (days) in the time scale ``scale``.

    Accepted: :class:`astropy.time.Time`; a DataArray of seconds since an
    epoch with ``attrs`` ``mjdref`` and ``timesys`` (gammax event and GTI
    times); a DataArray with ``units`` in days holding MJDs (``timesys`` attr,
    default ``scale``); a ``datetime64`` DataArray (UTC).
    """
    from astropy.time import Time

    if isinstance(time, Time):
        mjd = np.asarray(getattr(time, scale).mjd, dtype=float)
        if mjd.ndim > 1:
            raise ValueError("pass multi-dimensional times as a DataArray")
        return xr.DataArray(mjd, dims=(dim,) if mjd.ndim else (), attrs={"units": "d"})
    if not isinstance(time, xr.DataArray):
        raise TypeError(
            f"times must be astropy Time or an xarray.DataArray, got {type(time).__name__}"
        )
    if time.dtype.kind == "M":
        seconds = (time - np.datetime64("1970-01-01T00:00:00")) / np.timedelta64(1, "s")
        attrs = {"mjdref": 40587.0, "timesys": "utc", "units": "s"}
        return as_mjd(seconds.assign_attrs(attrs), scale, dim)
    if "mjdref" in time.attrs:
        unit = unit_string(time.attrs.get("units", "s"))
        factor = float(to_dataarray(1.0, unit).pipe(_to_days))
        epoch = _epoch_in_scale(float(time.attrs["mjdref"]), time.attrs.get("timesys", "tt"), scale)
        out = time * factor + epoch
        return out.assign_attrs(units="d")
    out = _to_days(time)
    source = str(time.attrs.get("timesys", scale)).lower()
    if source != scale:
        out = xr.apply_ufunc(
            _convert_scale,
            out,
            kwargs={"source": source, "target": scale},
            dask="parallelized",
            output_dtypes=[float],
        )
    return out.assign_attrs(units="d")


def _to_days(da: xr.DataArray) -> xr.DataArray:
    return to_dataarray(da, "d")


def _epoch_in_scale(mjd: float, source: str, target: str) -> float:
    from astropy.time import Time

    source = str(source).lower()
    if source == target:
        return mjd
    return float(getattr(Time(mjd, format="mjd", scale=source), target).mjd)


def _convert_scale(mjd: np.ndarray, source: str, target: str) -> np.ndarray:
    from astropy.time import Time

    if mjd.size == 0:
        return np.asarray(mjd, dtype=float)
    return np.asarray(getattr(Time(mjd, format="mjd", scale=source), target).mjd)


def apply(
    func: Callable[..., np.ndarray],
    *args: xr.DataArray,
    kwargs: dict | None = None,
    units: str = "",
    name: str | None = None,
) -> xr.DataArray:
    """Run ``func`` (numpy in, numpy out, broadcasting) over DataArrays.

    Lazy (one task per chunk) when any argument is dask-backed; the result has
    the broadcast dims of the arguments and ``attrs["units"] = units``.
    """
    out = xr.apply_ufunc(
        func,
        *args,
        kwargs=kwargs or {},
        dask="parallelized",
        output_dtypes=[float],
        keep_attrs=True,
    )
    out.attrs = {"units": units}
    return out.rename(name) if name is not None else out
