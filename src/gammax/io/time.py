"""Time references of GADF files: seconds since ``MJDREF`` in ``TIMESYS``.

gammax keeps event and GTI times as float64 seconds since a reference epoch,
exactly as stored in the files (so values are bit-identical to the FITS data),
and records the epoch in the variable's attrs:

``units``
    ``"s"``
``mjdref``
    Reference epoch as a Modified Julian Date (days), ``MJDREFI + MJDREFF``.
``timesys``
    Time scale of the epoch and the times (``"tt"``, ``"utc"``, ``"tai"``...).
``reference_epoch``
    The epoch as an ISO-8601 string in that scale, for humans.

:func:`to_time` turns such a variable into :class:`astropy.time.Time`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr
from astropy.time import Time, TimeDelta

from ..errors import FormatError

__all__ = ["reference_time", "time_attrs", "time_offset", "to_time"]

_GPS_LIKE = {"gps": "tai"}


def _scale(timesys: str) -> str:
    scale = str(timesys or "tt").strip().lower()
    scale = _GPS_LIKE.get(scale, scale)
    if scale not in Time.SCALES:
        raise FormatError(f"unknown TIMESYS {timesys!r}; expected one of {sorted(Time.SCALES)}")
    return scale


def time_attrs(header: Mapping) -> dict:
    """The time-reference attrs of a time column, from a header or index-table attrs.

    Raises
    ------
    gammax.errors.FormatError
        If the header has neither ``MJDREFI``/``MJDREFF`` nor ``MJDREF``.
    """
    if "MJDREFI" in header:
        mjdref = float(header["MJDREFI"]) + float(header.get("MJDREFF", 0.0))
    elif "MJDREF" in header:
        mjdref = float(header["MJDREF"])
    else:
        raise FormatError("no time reference (MJDREFI/MJDREFF or MJDREF) in the header")
    unit = str(header.get("TIMEUNIT", "s")).strip() or "s"
    if unit != "s":
        raise FormatError(f"TIMEUNIT={unit!r}; only seconds are supported")
    scale = _scale(header.get("TIMESYS", "tt"))
    ref = Time(mjdref, format="mjd", scale=scale)
    return {
        "units": "s",
        "mjdref": mjdref,
        "timesys": scale,
        "timeref": str(header.get("TIMEREF", "local")).strip().lower(),
        "reference_epoch": ref.isot,
        "long_name": f"seconds since MJD {mjdref!r} ({scale.upper()})",
    }


def reference_time(attrs: Mapping) -> Time:
    """The reference epoch described by :func:`time_attrs`."""
    return Time(float(attrs["mjdref"]), format="mjd", scale=_scale(attrs["timesys"]))


def time_offset(source: Mapping, target: Mapping) -> float:
    """Seconds to add to times referred to ``source`` to refer them to ``target``.

    Both are attrs as :func:`time_attrs` returns. Zero when the epochs agree.
    """
    if source["mjdref"] == target["mjdref"] and source["timesys"] == target["timesys"]:
        return 0.0
    delta = reference_time(source) - reference_time(target)
    return float(delta.to_value("s"))


def to_time(seconds: xr.DataArray) -> Time:
    """Convert a time variable (seconds since its epoch) to :class:`astropy.time.Time`.

    This computes a dask-backed input.

    Examples
    --------
    >>> import xarray as xr
    >>> t = xr.DataArray([0.0, 86400.0], attrs={"units": "s", "mjdref": 51910.0,
    ...                                          "timesys": "tt"})
    >>> to_time(t).mjd
    array([51910., 51911.])
    """
    epoch = reference_time(seconds.attrs)
    return epoch + TimeDelta(np.asarray(seconds.values, dtype=float), format="sec")
