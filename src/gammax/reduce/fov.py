"""Field-of-view coordinates of sky positions, for a pointing.

GADF background models are tabulated in FoV coordinates: ``fov_lon`` and
``fov_lat`` centred on the pointing, aligned with RA/Dec (``FOVALIGN='RADEC'``)
or Alt/Az (``'ALTAZ'``). The FoV longitude is reversed, so that it grows in the
direction of decreasing RA, like a sky image. This is Gammapy's ``FoVICRSFrame``;
:func:`sky_to_fov` applies the same rotation matrices with numpy, which is fast
enough to run per pixel inside a reduction task.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.coordinates.matrix_utilities import rotation_matrix

__all__ = [
    "icrs_lonlat",
    "offset_from_pointing",
    "rotation_time_steps",
    "sky_to_fov",
    "sky_to_fov_altaz",
]

_REFLECT_LON = np.diag([1.0, -1.0, 1.0])


def icrs_lonlat(lon: np.ndarray, lat: np.ndarray, frame: str) -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec (deg) of positions given in degrees in ``frame`` (``icrs`` or ``galactic``)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if frame == "icrs":
        return lon, lat
    c = SkyCoord(lon, lat, unit="deg", frame=frame).icrs
    return c.ra.deg, c.dec.deg


def _unit_vectors(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    lon = np.deg2rad(lon_deg)
    lat = np.deg2rad(lat_deg)
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def sky_to_fov(
    ra: np.ndarray, dec: np.ndarray, ra_pnt: float, dec_pnt: float, *, reverse_lon: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """FoV longitude and latitude (deg) of ICRS positions, RA/Dec-aligned FoV.

    Parameters
    ----------
    ra, dec : array-like
        Positions (deg, ICRS).
    ra_pnt, dec_pnt : float
        Pointing (deg, ICRS).
    reverse_lon : bool
        Flip the sign of the FoV longitude (``FOVALIGN='REVERSE_LON_RADEC'``).

    Examples
    --------
    >>> lon, lat = sky_to_fov(np.array([83.0]), np.array([22.5]), 83.0, 22.0)
    >>> bool(abs(lon[0]) < 1e-12), round(float(lat[0]), 10)
    (True, 0.5)
    """
    matrix = (
        _REFLECT_LON
        @ rotation_matrix(-dec_pnt, "y", unit="deg")
        @ rotation_matrix(ra_pnt, "z", unit="deg")
    )
    xyz = _unit_vectors(ra, dec) @ matrix.T
    lon = np.rad2deg(np.arctan2(xyz[..., 1], xyz[..., 0]))
    lat = np.rad2deg(np.arctan2(xyz[..., 2], np.hypot(xyz[..., 0], xyz[..., 1])))
    return (-lon if reverse_lon else lon), lat


def offset_from_pointing(
    ra: np.ndarray, dec: np.ndarray, ra_pnt: float, dec_pnt: float
) -> np.ndarray:
    """Angular distance (deg) of ICRS positions from the pointing (Vincenty formula)."""
    ra = np.deg2rad(np.asarray(ra, float))
    dec = np.deg2rad(np.asarray(dec, float))
    ra0, dec0 = np.deg2rad(ra_pnt), np.deg2rad(dec_pnt)
    dra = ra - ra0
    sin_d, cos_d = np.sin(dec), np.cos(dec)
    num = np.hypot(cos_d * np.sin(dra), np.cos(dec0) * sin_d - np.sin(dec0) * cos_d * np.cos(dra))
    den = np.sin(dec0) * sin_d + np.cos(dec0) * cos_d * np.cos(dra)
    return np.rad2deg(np.arctan2(num, den))


#: Earth's rotation rate used to size the time steps of an Alt/Az-aligned FoV (Gammapy's).
EARTH_ANGULAR_VELOCITY_DEG_PER_S = 360.0 / 86400.0
MINIMUM_TIME_STEP_S = 1.0


def rotation_time_steps(t_start, t_stop, rotation_deg: float, pointing: SkyCoord, location):
    """Times at which the FoV of a fixed RA/Dec pointing has rotated by ``rotation_deg`` in Alt/Az.

    The rotation rate at each step is the first-order estimate
    ``omega cos(lat) |cos(az)| / cos(alt)``, as Gammapy's
    ``_compute_rotation_time_steps``; steps are at least 1 s.
    """
    from astropy.coordinates import AltAz

    times = [t_start]
    time = t_start
    while time < t_stop:
        altaz = pointing.transform_to(AltAz(obstime=time, location=location))
        denom = (
            EARTH_ANGULAR_VELOCITY_DEG_PER_S
            * np.cos(location.lat.rad)
            * np.abs(np.cos(altaz.az.rad))
        )
        with np.errstate(divide="ignore"):
            step = float(rotation_deg * np.cos(altaz.alt.rad) / denom)
        step = max(step, MINIMUM_TIME_STEP_S)
        time = min(time + step * u.s, t_stop)
        times.append(time)
    from astropy.time import Time

    return Time(times)


def sky_to_fov_altaz(
    ra: np.ndarray, dec: np.ndarray, pointing: SkyCoord, location, times
) -> tuple[np.ndarray, np.ndarray]:
    """FoV coordinates (deg) of ICRS positions in an Alt/Az-aligned FoV, at several times.

    Returns arrays of shape ``ra.shape + (n_times,)``. The transformation to
    Alt/Az uses astropy with interpolated Earth orientation (1000 s), as Gammapy.
    """
    from astropy.coordinates import AltAz
    from astropy.coordinates.erfa_astrom import ErfaAstromInterpolator, erfa_astrom

    frame = AltAz(obstime=times, location=location)
    with erfa_astrom.set(ErfaAstromInterpolator(1000 * u.s)):
        origin = pointing.transform_to(frame)
        pixels = SkyCoord(
            np.asarray(ra)[..., None], np.asarray(dec)[..., None], unit="deg", frame="icrs"
        ).transform_to(frame)
    lon = np.empty(pixels.shape)
    lat = np.empty(pixels.shape)
    for i in range(len(times)):  # a handful of time steps, not pixels
        lon[..., i], lat[..., i] = sky_to_fov(
            pixels.az.deg[..., i],
            pixels.alt.deg[..., i],
            float(origin.az.deg[i]),
            float(origin.alt.deg[i]),
        )
    return lon, lat
