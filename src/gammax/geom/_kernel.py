"""Allocation-free event -> flat bin index kernel for WCS geometries.

The generic path (:func:`gammax.geom.binning._flat_indices`) composes the public
transforms and allocates a temporary per numpy call. This kernel does the same
arithmetic into a fixed workspace (``out=`` everywhere), on blocks of events
large enough that the Python overhead per block is negligible and that several
dask threads rarely wait for the GIL, without page-faulting fresh temporaries.
It is used for WCS geometries whose projection has a fast path and whose
non-spatial axes are uniform in their interpolation scale; the test-suite checks
it against the generic path and against Gammapy.
"""

from __future__ import annotations

import numpy as np

from .axes import MapAxis
from .projection import SkyProjector
from .sky import _HALF_DEG, frame_rotation

__all__ = ["supports", "wcs_flat_indices"]

BLOCK = 65536
_R0 = 180.0 / np.pi
_ZENITHAL = ("TAN", "SIN", "STG", "ZEA")


def supports(geom) -> bool:
    """Whether :func:`wcs_flat_indices` handles this (WCS) geometry."""
    projector: SkyProjector = geom.projector
    if projector.code not in (*_ZENITHAL, "CAR", "CEA"):
        return False
    return all(isinstance(a, MapAxis) and a._uniform is not None for a in geom.axes)


class _Work:
    def __init__(self, n: int) -> None:
        self.f = np.empty((8, n))
        self.b = np.empty((3, n), dtype=bool)
        self.k = np.empty(n, dtype=np.intp)


def _unit_vectors(lon, lat, w: _Work, m: int):
    """Unit vector (x, y, z) of lon/lat (degrees) into f[0], f[1], f[2]; uses f[3]."""
    x, y, z, t = w.f[0, :m], w.f[1, :m], w.f[2, :m], w.f[3, :m]
    np.multiply(lon, _HALF_DEG, out=y)
    np.tan(y, out=y)  # tl
    np.multiply(lat, _HALF_DEG, out=z)
    np.tan(z, out=z)  # tb
    np.multiply(y, y, out=x)
    x += 1.0
    np.divide(2.0, x, out=x)  # 2/(1+tl^2)
    np.multiply(z, z, out=t)
    t += 1.0
    np.divide(2.0, t, out=t)  # 2/(1+tb^2)
    z *= t  # sin(lat)
    t -= 1.0  # cos(lat)
    y *= x  # sin(lon)
    x -= 1.0  # cos(lon)
    y *= t
    x *= t
    return x, y, z


def _rotate(matrix, x, y, z, w: _Work, m: int):
    """Rotated vector into f[4], f[5], f[6]; uses f[3]."""
    out = (w.f[4, :m], w.f[5, :m], w.f[6, :m])
    t = w.f[3, :m]
    for i, o in enumerate(out):
        np.multiply(x, matrix[i, 0], out=o)
        np.multiply(y, matrix[i, 1], out=t)
        o += t
        np.multiply(z, matrix[i, 2], out=t)
        o += t
    return out


def _plane(code, nx, ny, nz, w: _Work, m: int):
    """Intermediate world coordinates (degrees) into f[0], f[1]; uses f[2], f[3], b[0]."""
    px, py, s, bad = w.f[0, :m], w.f[1, :m], w.f[2, :m], w.b[0, :m]
    if code in _ZENITHAL:
        if code == "TAN":
            np.divide(_R0, nz, out=s)
            np.less_equal(nz, 0, out=bad)
        elif code == "SIN":
            s.fill(_R0)
            np.less(nz, 0, out=bad)
        elif code == "STG":
            np.add(nz, 1.0, out=s)
            np.less_equal(s, 0, out=bad)
            np.divide(2 * _R0, s, out=s)
        else:  # ZEA
            np.add(nz, 1.0, out=s)
            np.less_equal(s, 0, out=bad)
            np.divide(2.0, s, out=s)
            np.sqrt(s, out=s)
            s *= _R0
        np.copyto(s, np.nan, where=bad)
        np.multiply(ny, s, out=px)
        np.multiply(nx, s, out=py)
        np.negative(py, out=py)
        return px, py
    # CAR and CEA: phi, then theta or sin(theta)
    np.arctan2(ny, nx, out=px)
    px *= _R0
    if code == "CAR":
        np.hypot(nx, ny, out=s)
        np.arctan2(nz, s, out=py)
        py *= _R0
    else:
        np.multiply(nz, _R0, out=py)
    return px, py


def wcs_flat_indices(plan, lon, lat, axis_values) -> np.ndarray:
    """Flat bin index per event (``plan.nbins`` for events outside the map)."""
    geom = plan.geom
    projector: SkyProjector = geom.projector
    matrix = projector._native @ frame_rotation(plan.frame, geom.frame)
    inv, c0 = projector._inv_lin, projector._crpix0
    nx_pix, ny_pix = geom.npix
    n = lon.shape[0]
    out = np.empty(n, dtype=np.intp)
    w = _Work(min(BLOCK, max(n, 1)))
    sky_size = nx_pix * ny_pix
    strides, stride = [], sky_size
    for axis in reversed(geom.axes):
        strides.append(stride)
        stride *= axis.nbin
    strides = strides[::-1]
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        m = stop - start
        x, y, z = _unit_vectors(lon[start:stop], lat[start:stop], w, m)
        nx, ny, nz = _rotate(matrix, x, y, z, w, m)
        px, py = _plane(projector.code, nx, ny, nz, w, m)
        xp, yp, t = w.f[4, :m], w.f[5, :m], w.f[3, :m]  # rotated vector no longer needed
        for dst, row in ((xp, 0), (yp, 1)):
            np.multiply(px, inv[row, 0], out=dst)
            np.multiply(py, inv[row, 1], out=t)
            dst += t
            dst += c0[row] + 0.5
            np.floor(dst, out=dst)
        valid, tmp = w.b[1, :m], w.b[2, :m]
        np.greater_equal(xp, 0, out=valid)
        np.less(xp, nx_pix, out=tmp)
        valid &= tmp
        np.greater_equal(yp, 0, out=tmp)
        valid &= tmp
        np.less(yp, ny_pix, out=tmp)
        valid &= tmp
        yp *= nx_pix
        yp += xp  # flat sky index (float, exact)
        for axis, values, transform, axis_stride in zip(
            geom.axes, axis_values, plan.transforms, strides, strict=True
        ):
            _axis_into(axis, values[start:stop], transform, float(axis_stride), yp, valid, w, m)
        np.logical_not(valid, out=tmp)
        np.copyto(yp, plan.nbins, where=tmp)
        np.copyto(out[start:stop], yp, casting="unsafe")
    return out


def _axis_into(axis: MapAxis, values, transform, stride, flat, valid, w: _Work, m: int):
    """Add ``bin * stride`` to ``flat`` and clear ``valid`` outside the axis; uses f[0..3]."""
    scale, offset = transform
    v = w.f[0, :m]
    np.multiply(values, scale, out=v)
    v += offset
    edges = np.asarray(axis.edges)
    start, inv_step = axis._uniform
    g, lo, tmp = w.f[1, :m], w.f[2, :m], w.b[0, :m]
    if axis.interp == "log":
        np.greater(v, 0, out=tmp)
        np.log(v, out=g, where=tmp)
        np.logical_not(tmp, out=tmp)
        np.copyto(g, -np.inf, where=tmp)
    elif axis.interp == "sqrt":
        np.sqrt(np.maximum(v, 0), out=g)
    else:
        np.copyto(g, v)
    g -= start
    g *= inv_step
    np.fmax(g, 0.0, out=g)
    np.fmin(g, axis.nbin - 1.0, out=g)
    np.floor(g, out=g)
    k = w.k[:m]
    np.copyto(k, g, casting="unsafe")
    # exact comparison with the neighbouring edges
    np.take(edges, k, out=lo)
    np.less(v, lo, out=tmp)
    np.subtract(g, tmp, out=g)
    np.take(edges[1:], k, out=lo)
    np.greater_equal(v, lo, out=tmp)
    np.add(g, tmp, out=g)
    g *= stride
    flat += g
    np.greater_equal(v, edges[0], out=tmp)
    valid &= tmp
    np.less(v, edges[-1], out=tmp)
    valid &= tmp
