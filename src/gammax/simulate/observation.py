"""What one simulated observation is: pointing, times, dead time, identity.

:class:`ObservationSpec` is small, immutable and picklable: it is what travels
into a dask task. Times are float64 seconds since the reference epoch
``MJDREFI + MJDREFF`` in ``TIMESYS`` (default: the CTA / H.E.S.S. epoch
2001-01-01 in TT), as they are written to the DL3 files.

Examples
--------
>>> spec = ObservationSpec.create(1, (83.63, 22.01), "2024-01-01T22:00:00", ontime=1800,
...                               deadc=0.95, object="Crab")
>>> spec.livetime
1710.0
>>> round(spec.tstop - spec.tstart)
1800
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.time import Time

from ..errors import ConfigError

__all__ = ["CTAO_SOUTH", "MJDREF", "TIMESYS", "ObservationSpec", "reference_epoch"]

#: Reference epoch of CTA and H.E.S.S. DL3 files (``MJDREFI``, ``MJDREFF``), TT.
MJDREF: tuple[int, float] = (51910, 7.428703703703703e-4)
#: Time scale of :data:`MJDREF` and of the event times.
TIMESYS = "TT"
#: Observatory location (longitude deg, latitude deg, height m): the CTAO southern site.
CTAO_SOUTH: tuple[float, float, float] = (-70.316345, -24.683429, 2147.0)


def reference_epoch(mjdref: tuple[int, float] = MJDREF, timesys: str = TIMESYS) -> Time:
    """The reference epoch as :class:`astropy.time.Time`."""
    return Time(mjdref[0], mjdref[1], format="mjd", scale=timesys.lower())


def _seconds(value: Any) -> float:
    return float(u.Quantity(value, u.s).value) if isinstance(value, u.Quantity) else float(value)


@dataclass(frozen=True)
class ObservationSpec:
    """One observation to simulate.

    Parameters
    ----------
    obs_id : int
        Observation id (also the key of its random stream).
    ra_pnt, dec_pnt : float
        Pointing, ICRS degrees.
    tstart : float
        Start, seconds since the reference epoch.
    ontime : float
        Duration in seconds (``TSTOP - TSTART`` with the default GTI).
    deadc : float
        Dead-time correction, ``LIVETIME / ONTIME``.
    gti : tuple of (start, stop), optional
        Good time intervals (seconds since the epoch); default one interval
        ``[tstart, tstart + ontime]``. ``ONTIME`` is their summed length.
    object : str
        Target name (``OBJECT``).
    alt_pnt, az_pnt : float, optional
        Horizontal pointing (deg), written when given.
    site : (float, float, float)
        Observatory longitude, latitude (deg) and height (m): ``GEOLON``,
        ``GEOLAT``, ``ALTITUDE`` (Gammapy requires them).
    mjdref : (int, float)
        Reference epoch ``MJDREFI``, ``MJDREFF``.
    timesys : str
        Time scale (``TIMESYS``).
    extra : tuple of (str, value)
        More EVENTS header keywords.
    """

    obs_id: int
    ra_pnt: float
    dec_pnt: float
    tstart: float
    ontime: float
    deadc: float = 1.0
    gti: tuple[tuple[float, float], ...] | None = None
    object: str = ""
    alt_pnt: float = math.nan
    az_pnt: float = math.nan
    site: tuple[float, float, float] = CTAO_SOUTH
    mjdref: tuple[int, float] = MJDREF
    timesys: str = TIMESYS
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs_id", int(self.obs_id))
        for name in ("ra_pnt", "dec_pnt", "tstart", "ontime", "deadc"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not 0 < self.deadc <= 1:
            raise ConfigError(f"obs {self.obs_id}: deadc={self.deadc}; expected 0 < deadc <= 1")
        if self.gti is None:
            if self.ontime <= 0:
                raise ConfigError(f"obs {self.obs_id}: ontime={self.ontime}; expected > 0")
            gti = ((self.tstart, self.tstart + self.ontime),)
        else:
            gti = tuple((float(a), float(b)) for a, b in self.gti)
            if not gti or any(b <= a for a, b in gti):
                raise ConfigError(f"obs {self.obs_id}: GTIs {gti} must be non-empty intervals")
            object.__setattr__(self, "ontime", float(sum(b - a for a, b in gti)))
            object.__setattr__(self, "tstart", min(a for a, _ in gti))
        object.__setattr__(self, "gti", gti)

    @classmethod
    def create(
        cls,
        obs_id: int,
        pointing: SkyCoord | tuple[float, float],
        start: Time | str | float,
        ontime: Any,
        **kwargs: Any,
    ) -> ObservationSpec:
        """An observation from a sky position and an absolute start time.

        Parameters
        ----------
        obs_id : int
            Observation id.
        pointing : SkyCoord or (ra, dec)
            Pointing (any frame; a tuple is ICRS degrees).
        start : Time, str or float
            Start time (ISO string or Time; a float is seconds since the epoch).
        ontime : Quantity or float
            Duration (seconds if a number).
        **kwargs
            Other :class:`ObservationSpec` fields.
        """
        if isinstance(pointing, SkyCoord):
            icrs = pointing.icrs
            ra, dec = float(icrs.ra.deg), float(icrs.dec.deg)
        else:
            ra, dec = (float(v) for v in pointing)
        mjdref = kwargs.get("mjdref", MJDREF)
        timesys = kwargs.get("timesys", TIMESYS)
        if isinstance(start, int | float | np.floating | np.integer):
            tstart = float(start)
        else:
            t = start if isinstance(start, Time) else Time(start, scale=timesys.lower())
            tstart = float((t - reference_epoch(mjdref, timesys)).to_value(u.s))
        return cls(obs_id, ra, dec, tstart, _seconds(ontime), **kwargs)

    @property
    def tstop(self) -> float:
        """End of the last GTI (s since the epoch)."""
        return max(b for _, b in self.gti)

    @property
    def livetime(self) -> float:
        """``ONTIME * DEADC`` (s)."""
        return self.ontime * self.deadc

    @property
    def pointing(self) -> tuple[float, float]:
        """``(ra, dec)`` ICRS degrees."""
        return (self.ra_pnt, self.dec_pnt)

    def start_time(self) -> Time:
        """``TSTART`` as :class:`astropy.time.Time`."""
        return reference_epoch(self.mjdref, self.timesys) + self.tstart * u.s

    def replace(self, **changes: Any) -> ObservationSpec:
        """A copy with some fields changed."""
        if "ontime" in changes or "tstart" in changes:
            changes.setdefault("gti", None)
        return replace(self, **changes)
