"""Convolution of WCS maps with Gaussian, disk, ring, box and arbitrary kernels.

Kernels are 2-D, odd-sized, applied to every image plane. On dask arrays the
convolution runs per chunk with :func:`dask.array.map_overlap`: each chunk gets
a halo of half the kernel size from its neighbours (or from the boundary
condition at the map's edge), so chunk borders are invisible and the result
equals the numpy one.

``mode`` is the boundary condition of :mod:`scipy.ndimage`: ``"constant"``
(``cval``), ``"reflect"``, ``"nearest"`` or ``"wrap"``.

Examples
--------
>>> import numpy as np
>>> from gammax.geom import WcsGeom
>>> m = WcsGeom.create(npix=(21, 21), binsz=0.1).wrap(np.zeros((21, 21)))
>>> m[10, 10] = 1.0
>>> smoothed = smooth(m, "0.2 deg", kernel="gauss", mode="constant")
>>> round(float(smoothed.sum()), 6)
1.0
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from ..errors import GeometryError
from .accessor import geom_of, rewrap
from .wcs import WcsGeom

__all__ = [
    "box_kernel",
    "convolve",
    "disk_kernel",
    "gaussian_kernel",
    "ring_kernel",
    "smooth",
]

_DASK_BOUNDARY = {"reflect": "reflect", "nearest": "nearest", "wrap": "periodic"}


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised 2-D Gaussian of standard deviation ``sigma`` pixels, ``truncate`` sigmas wide.

    Same weights as :func:`scipy.ndimage.gaussian_filter` (radius ``int(truncate*sigma+0.5)``).
    """
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (x / float(sigma)) ** 2)
    g /= g.sum()
    return np.outer(g, g)


def disk_kernel(radius: float) -> np.ndarray:
    """Normalised top-hat disk of ``radius`` pixels (astropy's ``Tophat2DKernel``, as Gammapy)."""
    from astropy.convolution import Tophat2DKernel

    kernel = Tophat2DKernel(float(radius))
    kernel.normalize("integral")
    return np.asarray(kernel.array)


def ring_kernel(radius_in: float, width: float) -> np.ndarray:
    """Normalised ring between ``radius_in`` and ``radius_in + width`` pixels."""
    from astropy.convolution import Ring2DKernel

    kernel = Ring2DKernel(float(radius_in), float(width))
    kernel.normalize("integral")
    return np.asarray(kernel.array)


def box_kernel(width: int) -> np.ndarray:
    """Normalised square of ``width`` (odd) pixels."""
    width = int(width)
    return np.full((width, width), 1.0 / width**2)


def _is_dask(data: Any) -> bool:
    return hasattr(data, "__dask_graph__")


def _convolve_block(block: np.ndarray, kernel: np.ndarray, mode: str, cval: float):
    return ndimage.convolve(block, kernel, mode=mode, cval=cval)


def _apply(da: xr.DataArray, func, half: tuple[int, int], mode: str, cval: float, **kwargs) -> Any:
    """Run ``func(block, mode=..., cval=..., **kwargs)`` over the map, with halos for dask."""
    data = da.data
    if not np.issubdtype(np.dtype(data.dtype), np.floating):
        data = data.astype(float)
    if not _is_dask(data):
        return func(data, mode=mode, cval=cval, **kwargs)
    if mode == "constant":
        boundary: Any = cval
    elif mode in _DASK_BOUNDARY:
        boundary = _DASK_BOUNDARY[mode]
    else:
        raise GeometryError(f"mode {mode!r} is not one of constant, reflect, nearest, wrap")
    depth = {i: 0 for i in range(data.ndim - 2)}
    depth[data.ndim - 2], depth[data.ndim - 1] = half
    return data.map_overlap(
        func,
        depth=depth,
        boundary=boundary,
        mode=mode,
        cval=cval,
        dtype=data.dtype,
        meta=np.empty((0,) * data.ndim, data.dtype),
        **kwargs,
    )


def convolve(
    da: xr.DataArray, kernel: Any, mode: str = "constant", cval: float = 0.0
) -> xr.DataArray:
    """Convolve every image plane of a WCS map with a 2-D kernel.

    Parameters
    ----------
    da : DataArray
        WCS map (numpy or dask).
    kernel : array-like
        2-D kernel with odd sizes (e.g. from :func:`gaussian_kernel`).
    mode : str
        Boundary condition (``constant``, ``reflect``, ``nearest``, ``wrap``).
    cval : float
        Value outside the map for ``mode="constant"``.
    """
    if not isinstance(geom_of(da), WcsGeom):
        raise GeometryError("convolution needs a WCS map")
    kernel = np.asarray(kernel, dtype=float)
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise GeometryError(f"kernel must be 2-D with odd sizes, got shape {kernel.shape}")
    full = kernel.reshape((1,) * (da.ndim - 2) + kernel.shape)
    half = (kernel.shape[0] // 2, kernel.shape[1] // 2)
    func = partial(_convolve_block, kernel=full)
    return rewrap(da, geom_of(da), _apply(da, func, half, mode, cval))


def _gauss_block(block, sigma, mode, cval):
    sigmas = (0,) * (block.ndim - 2) + (sigma, sigma)
    return ndimage.gaussian_filter(block, sigmas, mode=mode, cval=cval)


def smooth(
    da: xr.DataArray, width: Any, kernel: str = "gauss", mode: str = "reflect", cval: float = 0.0
) -> xr.DataArray:
    """Smooth a WCS map, as Gammapy's ``WcsNDMap.smooth``.

    Parameters
    ----------
    width : float, str or Quantity
        Gaussian sigma, disk radius or box width; a float is in pixels, an angle is
        converted with the mean pixel size.
    kernel : {"gauss", "disk", "box"}
        Kernel shape.
    mode, cval
        Boundary condition (scipy.ndimage names); Gammapy's default is ``"reflect"``.
    """
    import astropy.units as u

    geom = geom_of(da)
    if not isinstance(geom, WcsGeom):
        raise GeometryError("smoothing needs a WCS map")
    if isinstance(width, str | u.Quantity):
        width = float((u.Quantity(width) / (np.mean(geom.pixel_scales) * u.deg)).to_value(""))
    width = float(width)
    if kernel == "gauss":
        radius = int(4.0 * width + 0.5)
        data = _apply(da, _gauss_block, (radius, radius), mode, cval, sigma=width)
        return rewrap(da, geom, data)
    if kernel == "disk":
        return convolve(da, disk_kernel(width), mode=mode, cval=cval)
    if kernel == "box":
        return convolve(da, box_kernel(int(width)), mode=mode, cval=cval)
    raise GeometryError(f"kernel {kernel!r} is not one of 'gauss', 'disk', 'box'")
