"""Observation plans: Galactic-plane survey strips and wobble runs around a source.

Both return lists of :class:`~gammax.simulate.ObservationSpec` with consecutive
observation ids, scheduled in "nights": ``per_night`` runs of ``ontime`` seconds
separated by ``gap`` seconds, one night per day from ``start``.

Examples
--------
>>> from astropy.coordinates import SkyCoord
>>> specs = galactic_plane_pointings(6, lon_range=(-9, 9), lat_values=(-1, 1))
>>> gal = SkyCoord([s.ra_pnt for s in specs], [s.dec_pnt for s in specs], unit="deg").galactic
>>> [round(float(lon), 1) for lon in gal.l.wrap_at("180d").deg]
[-7.5, -4.5, -1.5, 1.5, 4.5, 7.5]
>>> [round(float(lat), 1) for lat in gal.b.deg]
[-1.0, 1.0, -1.0, 1.0, -1.0, 1.0]
>>> wobble = wobble_pointings((83.63, 22.01), 4, offset=0.5)
>>> round(wobble[0].dec_pnt, 2)
22.51
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time

from ._sphere import destination
from .observation import TIMESYS, ObservationSpec, reference_epoch

__all__ = ["galactic_plane_pointings", "schedule", "wobble_pointings"]


def schedule(
    n: int,
    start: Time | str | float = "2030-01-01T20:00:00",
    ontime: float = 1800.0,
    *,
    gap: float = 120.0,
    per_night: int = 12,
    timesys: str = TIMESYS,
) -> np.ndarray:
    """Start times (s since the reference epoch) of ``n`` runs, ``per_night`` per day.

    A string start time is read in ``timesys`` (TT by default).
    """
    if isinstance(start, int | float):
        t0 = float(start)
    else:
        t = start if isinstance(start, Time) else Time(start, scale=timesys.lower())
        t0 = float((t - reference_epoch(timesys=timesys)).to_value("s"))
    i = np.arange(n)
    return t0 + (i // per_night) * 86400.0 + (i % per_night) * (ontime + gap)


def _specs(ra, dec, starts, ontime, first_obs_id, kwargs) -> list[ObservationSpec]:
    return [
        ObservationSpec(first_obs_id + i, float(r), float(d), float(t), ontime, **kwargs)
        for i, (r, d, t) in enumerate(zip(ra, dec, starts, strict=True))
    ]


def galactic_plane_pointings(
    n: int,
    *,
    lon_range: tuple[float, float] = (-60.0, 60.0),
    lat_values: Sequence[float] = (-1.0, 0.0, 1.0),
    start: Time | str | float = "2030-01-01T20:00:00",
    ontime: float = 1800.0,
    deadc: float = 0.95,
    first_obs_id: int = 1,
    gap: float = 120.0,
    per_night: int = 12,
    **kwargs: Any,
) -> list[ObservationSpec]:
    """``n`` pointings on a strip of the Galactic plane.

    The pointings form rows at the Galactic latitudes ``lat_values``, each row
    evenly spaced in longitude over ``lon_range`` (degrees; ranges through
    ``0`` are fine, e.g. ``(-60, 60)``); row ``k`` is shifted by ``k /
    len(lat_values)`` of the spacing so that the strip is covered evenly.
    Longitude-major order: consecutive observations are neighbours.

    Parameters
    ----------
    n : int
        Number of observations.
    lon_range, lat_values
        The strip (deg).
    start, ontime, gap, per_night
        Schedule (see :func:`schedule`).
    deadc : float
        Dead-time correction of every run.
    first_obs_id : int
        Id of the first observation.
    **kwargs
        Other :class:`ObservationSpec` fields (e.g. ``object``).
    """
    rows = len(lat_values)
    per_row = int(np.ceil(n / rows))
    lo, hi = lon_range
    step = (hi - lo) / per_row
    col, row = np.divmod(np.arange(n), rows)
    glon = lo + (col + 0.5 + row / rows - 0.5 * (rows - 1) / rows) * step
    glat = np.asarray(lat_values, float)[row]
    icrs = SkyCoord(glon, glat, unit="deg", frame="galactic").icrs
    kwargs.setdefault("object", "GPS")
    starts = schedule(n, start, ontime, gap=gap, per_night=per_night)
    return _specs(
        icrs.ra.deg, icrs.dec.deg, starts, ontime, first_obs_id, {"deadc": deadc, **kwargs}
    )


def wobble_pointings(
    target: SkyCoord | tuple[float, float],
    n: int,
    *,
    offset: float = 0.5,
    angles: Sequence[float] = (0.0, 90.0, 180.0, 270.0),
    start: Time | str | float = "2030-01-01T20:00:00",
    ontime: float = 1800.0,
    deadc: float = 0.95,
    first_obs_id: int = 1,
    gap: float = 120.0,
    per_night: int = 6,
    **kwargs: Any,
) -> list[ObservationSpec]:
    """``n`` wobble runs: pointings ``offset`` deg from the target, cycling through ``angles``.

    ``angles`` are position angles (deg, east of north) in ICRS.
    """
    if isinstance(target, SkyCoord):
        ra0, dec0 = float(target.icrs.ra.deg), float(target.icrs.dec.deg)
    else:
        ra0, dec0 = (float(v) for v in target)
    pa = np.asarray(angles, float)[np.arange(n) % len(angles)]
    ra, dec = destination(np.full(n, ra0), np.full(n, dec0), np.full(n, offset), pa)
    starts = schedule(n, start, ontime, gap=gap, per_night=per_night)
    return _specs(ra, dec, starts, ontime, first_obs_id, {"deadc": deadc, **kwargs})
