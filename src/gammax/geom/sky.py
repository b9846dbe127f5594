"""Sky frames and fast vectorised spherical coordinates.

gammax geometries are defined in ``"icrs"`` or ``"galactic"``. Converting
between them is a fixed rotation, so instead of calling astropy's transform
graph for every array we ask astropy once for the rotation matrix (by
transforming the three basis vectors) and apply it as a 3x3 matrix product.

Angles become unit vectors through the half-angle tangent identities
(``sin x = 2t / (1 + t^2)``, ``cos x = (1 - t^2) / (1 + t^2)``, ``t = tan(x/2)``):
numpy evaluates ``tan`` with SIMD instructions, about ten times faster than
``sin`` and ``cos`` for float64, with the same accuracy (a few ulp).

Examples
--------
>>> lon, lat = convert_frame([83.633], [22.0145], "icrs", "galactic")
>>> round(float(lon[0]), 3), round(float(lat[0]), 3)
(184.557, -5.784)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import GeometryError

__all__ = [
    "FRAMES",
    "check_frame",
    "convert_frame",
    "frame_rotation",
    "lonlat_to_unit",
    "unit_to_lonlat",
]

#: Sky frames a gammax geometry can be defined in.
FRAMES = ("icrs", "galactic", "fk5")

_HALF_DEG = np.pi / 360.0
_RAD2DEG = 180.0 / np.pi


def check_frame(frame: str) -> str:
    """Validate and normalise a frame name.

    Raises
    ------
    gammax.errors.GeometryError
        If the frame is not one of :data:`FRAMES`.
    """
    name = str(frame).lower()
    if name not in FRAMES:
        raise GeometryError(f"sky frame {frame!r} is not supported; expected one of {FRAMES}")
    return name


def lonlat_to_unit(lon, lat):
    """Unit vectors ``(x, y, z)`` of longitudes and latitudes in degrees."""
    shape = np.broadcast_shapes(np.shape(lon), np.shape(lat))
    tl = np.multiply(lon, _HALF_DEG, out=np.empty(shape))
    np.tan(tl, out=tl)
    tb = np.multiply(lat, _HALF_DEG, out=np.empty(shape))
    np.tan(tb, out=tb)
    # 1 / (1 + t^2), then cos = 2 / (1 + t^2) - 1 and sin = 2 t / (1 + t^2)
    inv_l = np.multiply(tl, tl, out=np.empty(shape))
    inv_l += 1.0
    np.divide(2.0, inv_l, out=inv_l)
    inv_b = np.multiply(tb, tb, out=np.empty(shape))
    inv_b += 1.0
    np.divide(2.0, inv_b, out=inv_b)
    tb *= inv_b  # z = sin(lat)
    inv_b -= 1.0  # cos(lat)
    tl *= inv_l  # sin(lon)
    inv_l -= 1.0  # cos(lon)
    tl *= inv_b  # y
    inv_l *= inv_b  # x
    return inv_l, tl, tb


def unit_to_lonlat(x, y, z):
    """Longitude in ``[0, 360)`` and latitude of (not necessarily unit) vectors, degrees."""
    lon = np.arctan2(y, x) * _RAD2DEG
    lon = np.where(lon < 0, lon + 360.0, lon)
    lat = np.arctan2(z, np.hypot(x, y)) * _RAD2DEG
    return lon, lat


@lru_cache(maxsize=16)
def _rotation(frame_from: str, frame_to: str) -> np.ndarray:
    from astropy.coordinates import CartesianRepresentation, SkyCoord

    basis = np.eye(3)
    coords = SkyCoord(
        CartesianRepresentation(basis[0], basis[1], basis[2]), frame=frame_from
    ).transform_to(frame_to)
    cart = coords.cartesian
    # Column j is the image of basis vector j.
    matrix = np.vstack([cart.x.value, cart.y.value, cart.z.value])
    # Remove rounding noise: nearest orthogonal matrix.
    u_, _, vt = np.linalg.svd(matrix)
    matrix = u_ @ vt
    matrix.flags.writeable = False
    return matrix


def frame_rotation(frame_from: str, frame_to: str) -> np.ndarray:
    """3x3 rotation taking unit vectors in ``frame_from`` to ``frame_to``."""
    frame_from, frame_to = check_frame(frame_from), check_frame(frame_to)
    if frame_from == frame_to:
        return np.eye(3)
    return _rotation(frame_from, frame_to)


def convert_frame(lon, lat, frame_from: str, frame_to: str):
    """Longitudes and latitudes (degrees) converted between sky frames.

    Matches astropy's ``SkyCoord.transform_to`` to about 1e-12 degrees.
    """
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if check_frame(frame_from) == check_frame(frame_to):
        return lon, lat
    m = frame_rotation(frame_from, frame_to)
    x, y, z = lonlat_to_unit(lon, lat)
    return unit_to_lonlat(
        m[0, 0] * x + m[0, 1] * y + m[0, 2] * z,
        m[1, 0] * x + m[1, 1] * y + m[1, 2] * z,
        m[2, 0] * x + m[2, 1] * y + m[2, 2] * z,
    )
