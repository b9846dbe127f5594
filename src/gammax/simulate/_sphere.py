"""Vectorised spherical geometry for the samplers (all angles in degrees)."""

from __future__ import annotations

import numpy as np

__all__ = ["destination", "fov_to_sky", "power_law_sample", "separation"]


def separation(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Angular distance (deg), Vincenty's formula."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, float)) for v in (lon1, lat1, lon2, lat2))
    dlon = lon2 - lon1
    s1, c1, s2, c2 = np.sin(lat1), np.cos(lat1), np.sin(lat2), np.cos(lat2)
    num = np.hypot(c2 * np.sin(dlon), c1 * s2 - s1 * c2 * np.cos(dlon))
    return np.degrees(np.arctan2(num, s1 * s2 + c1 * c2 * np.cos(dlon)))


def destination(lon, lat, distance, position_angle) -> tuple[np.ndarray, np.ndarray]:
    """Point at ``distance`` from ``(lon, lat)`` along ``position_angle`` (east of north)."""
    lon, lat, d, pa = (
        np.radians(np.asarray(v, float)) for v in (lon, lat, distance, position_angle)
    )
    sin_lat2 = np.sin(lat) * np.cos(d) + np.cos(lat) * np.sin(d) * np.cos(pa)
    lat2 = np.arcsin(np.clip(sin_lat2, -1.0, 1.0))
    dlon = np.arctan2(np.sin(pa) * np.sin(d) * np.cos(lat), np.cos(d) - np.sin(lat) * sin_lat2)
    return np.degrees(lon + dlon) % 360.0, np.degrees(lat2)


def _rotation(ra_pnt: float, dec_pnt: float) -> np.ndarray:
    """Sky (ICRS unit vectors) -> RA/Dec-aligned FoV frame, as gammax.reduce.fov.sky_to_fov."""
    a, d = np.radians(ra_pnt), np.radians(dec_pnt)
    rz = np.array([[np.cos(a), np.sin(a), 0.0], [-np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[np.cos(d), 0.0, np.sin(d)], [0.0, 1.0, 0.0], [-np.sin(d), 0.0, np.cos(d)]])
    return np.diag([1.0, -1.0, 1.0]) @ ry @ rz


def fov_to_sky(fov_lon, fov_lat, ra_pnt: float, dec_pnt: float, *, reverse_lon: bool = False):
    """ICRS position (deg) of RA/Dec-aligned FoV coordinates around a pointing.

    The inverse of :func:`gammax.reduce.fov.sky_to_fov` (Gammapy's
    ``FoVICRSFrame``): the FoV longitude grows toward decreasing RA.
    """
    lon = (
        -np.radians(np.asarray(fov_lon, float))
        if reverse_lon
        else np.radians(np.asarray(fov_lon, float))
    )
    lat = np.radians(np.asarray(fov_lat, float))
    xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)
    sky = xyz @ _rotation(ra_pnt, dec_pnt)  # rows times the matrix = inverse rotation
    ra = np.degrees(np.arctan2(sky[..., 1], sky[..., 0])) % 360.0
    dec = np.degrees(np.arctan2(sky[..., 2], np.hypot(sky[..., 0], sky[..., 1])))
    return ra, dec


def power_law_sample(lo, hi, y_lo, y_hi, u) -> np.ndarray:
    """Inverse-CDF draws in ``[lo, hi]`` of the power law through ``(lo, y_lo)``, ``(hi, y_hi)``.

    Where a value is not positive the draw is log-uniform in the bin.
    """
    lo, hi, u = np.asarray(lo, float), np.asarray(hi, float), np.asarray(u, float)
    ratio = hi / lo
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.log(np.asarray(y_hi, float) / np.asarray(y_lo, float)) / np.log(ratio)
    slope = np.where(np.isfinite(slope), np.clip(slope, -60.0, 60.0), 0.0)
    p = slope + 1.0  # dN/dE ~ E**slope; CDF ~ E**p
    flat = np.abs(p) < 1e-6
    safe_p = np.where(flat, 1.0, p)
    with np.errstate(over="ignore", invalid="ignore"):
        x = (1.0 + u * (ratio**safe_p - 1.0)) ** (1.0 / safe_p)
    x = np.where(flat | ~np.isfinite(x), ratio**u, x)
    return lo * np.clip(x, 1.0, ratio)
