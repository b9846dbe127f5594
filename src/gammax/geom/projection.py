"""Fast sky -> pixel projection for the common WCS projections.

Binning millions of events is dominated by the sky -> pixel step. wcslib (via
astropy) does it at a few million points per second; this module does it with
a handful of numpy expressions on unit vectors, about ten times faster:

1. longitude/latitude -> unit vector (:func:`gammax.geom.sky.lonlat_to_unit`);
2. one 3x3 rotation to the projection's native sphere, the sky-frame
   conversion folded in. The matrix is taken from wcslib itself (its native
   coordinates of three basis vectors), so every wcslib convention about
   ``LONPOLE``/``LATPOLE`` is inherited, not re-derived;
3. the projection's native -> plane formula (Calabretta & Greisen 2002);
4. the inverse of the linear ``PC``/``CDELT``/``CRPIX`` transform.

Supported: ``CAR``, ``TAN``, ``SIN``, ``STG``, ``ARC``, ``ZEA``, ``CEA`` and
``AIT`` without ``PV`` parameters or distortions. Anything else falls back to
wcslib. The test-suite checks the fast path against wcslib for every supported
projection to 1e-8 pixel.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

from .sky import frame_rotation, lonlat_to_unit, unit_to_lonlat

__all__ = ["FAST_PROJECTIONS", "SkyProjector"]

#: Projection codes with a numpy fast path.
FAST_PROJECTIONS = ("CAR", "TAN", "SIN", "STG", "ARC", "ZEA", "CEA", "AIT")

_R0 = 180.0 / np.pi


def _native_rotation(wcs: WCS) -> np.ndarray:
    """Matrix taking celestial unit vectors to native-sphere unit vectors.

    wcslib gives the native coordinates of three points 30 degrees around the
    reference point (valid for every projection); the rotation follows.
    """
    lon0, lat0 = np.radians(wcs.wcs.crval)
    c0 = np.array([np.cos(lat0) * np.cos(lon0), np.cos(lat0) * np.sin(lon0), np.sin(lat0)])
    e1 = np.array([-np.sin(lon0), np.cos(lon0), 0.0])
    e2 = np.cross(c0, e1)
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    points = np.stack([c0, c * c0 + s * e1, c * c0 + s * e2], axis=1)
    lon, lat = unit_to_lonlat(points[0], points[1], points[2])
    native = wcs.wcs.s2p(np.stack([lon, lat], axis=1), 0)
    phi, theta = np.radians(native["phi"]), np.radians(native["theta"])
    images = np.vstack([np.cos(theta) * np.cos(phi), np.cos(theta) * np.sin(phi), np.sin(theta)])
    matrix = images @ np.linalg.inv(points)
    u_, _, vt = np.linalg.svd(matrix)
    return u_ @ vt


def _fast_code(wcs: WCS) -> str | None:
    """Projection code if the fast path reproduces wcslib exactly, else None."""
    w = wcs.wcs
    try:
        code = w.cel.prj.code
    except Exception:  # not a celestial WCS
        return None
    if code not in FAST_PROJECTIONS or wcs.has_distortion or w.get_pv():
        return None
    prj = w.cel.prj
    if prj.x0 != 0 or prj.y0 != 0 or w.cel.offset:
        return None
    return code


class SkyProjector:
    """Vectorised sky (degrees, any supported frame) -> pixel for one celestial WCS.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Two-dimensional celestial WCS.
    frame : str
        Frame of the WCS (``"icrs"`` or ``"galactic"``).

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2)
    >>> w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    >>> w.wcs.crval, w.wcs.cdelt, w.wcs.crpix = [83.6, 22.0], [-0.1, 0.1], [11, 11]
    >>> x, y = SkyProjector(w, "icrs").to_pixel(83.6, 22.0)
    >>> round(float(x), 9), round(float(y), 9)
    (10.0, 10.0)
    """

    def __init__(self, wcs: WCS, frame: str) -> None:
        self.wcs = wcs
        self.frame = frame
        self.code = _fast_code(wcs)
        if self.code is not None:
            self._native = _native_rotation(wcs)
            pc = wcs.wcs.get_pc()
            cdelt = wcs.wcs.get_cdelt()
            lin = pc * cdelt[:, None]
            self._inv_lin = np.linalg.inv(lin)
            self._crpix0 = np.asarray(wcs.wcs.crpix, dtype=float) - 1.0

    @property
    def is_fast(self) -> bool:
        """Whether the numpy fast path is used."""
        return self.code is not None

    def to_pixel(self, lon, lat, frame: str | None = None):
        """Pixel coordinates (0-based, float) of sky positions; NaN where undefined.

        Parameters
        ----------
        lon, lat : array-like
            Sky coordinates in degrees.
        frame : str, optional
            Frame of ``lon, lat``; default the WCS frame.
        """
        frame = self.frame if frame is None else frame
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if self.code is None:
            return self._slow(lon, lat, frame)
        matrix = self._native @ frame_rotation(frame, self.frame)
        x, y, z = lonlat_to_unit(lon, lat)
        nx = matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2] * z
        ny = matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2] * z
        nz = matrix[2, 0] * x + matrix[2, 1] * y + matrix[2, 2] * z
        px, py = self._plane(nx, ny, nz)
        a = self._inv_lin
        xp = a[0, 0] * px + a[0, 1] * py + self._crpix0[0]
        yp = a[1, 0] * px + a[1, 1] * py + self._crpix0[1]
        return xp, yp

    def _plane(self, nx, ny, nz):
        """Native unit vector -> intermediate world coordinates (degrees)."""
        code = self.code
        with np.errstate(invalid="ignore", divide="ignore"):
            if code == "TAN":
                scale = np.where(nz > 0, _R0 / nz, np.nan)
                return ny * scale, -nx * scale
            if code == "SIN":
                scale = np.where(nz >= 0, _R0, np.nan)
                return ny * scale, -nx * scale
            if code == "STG":
                scale = np.where(nz > -1, 2 * _R0 / (1 + nz), np.nan)
                return ny * scale, -nx * scale
            if code == "ZEA":
                scale = np.where(nz > -1, _R0 * np.sqrt(2.0 / (1.0 + nz)), np.nan)
                return ny * scale, -nx * scale
            if code == "ARC":
                rho = np.hypot(nx, ny)
                r = np.arctan2(rho, nz) * _R0
                scale = np.where(rho > 0, r / rho, _R0)
                return ny * scale, -nx * scale
            phi = np.arctan2(ny, nx)
            if code == "CAR":
                return phi * _R0, np.arctan2(nz, np.hypot(nx, ny)) * _R0
            if code == "CEA":
                return phi * _R0, nz * _R0
            # AIT
            rho = np.hypot(nx, ny)  # cos(theta)
            t = np.tan(0.25 * phi)
            t2 = t * t
            inv = 1.0 / (1.0 + t2)
            cos_half, sin_half = (1.0 - t2) * inv, 2.0 * t * inv
            gamma = _R0 * np.sqrt(2.0 / (1.0 + rho * cos_half))
            return 2.0 * gamma * rho * sin_half, gamma * nz

    def _slow(self, lon, lat, frame):
        from .sky import convert_frame

        lon, lat = convert_frame(lon, lat, frame, self.frame)
        shape = np.broadcast(lon, lat).shape
        lon, lat = np.broadcast_to(lon, shape).ravel(), np.broadcast_to(lat, shape).ravel()
        x, y = self.wcs.wcs_world2pix(lon, lat, 0)
        return x.reshape(shape), y.reshape(shape)
