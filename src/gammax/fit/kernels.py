"""IRF kernels at a sky position: the PSF convolution kernel and the edisp matrix.

Both follow Gammapy 2.1 (``PSFMap.get_psf_kernel`` and
``EDispKernelMap.get_edisp_kernel``), so predicted counts compare directly:

PSF kernel
    The PSF map is interpolated bilinearly (in coarse-pixel coordinates) at the
    position. Per true energy, the kernel covers the 99.9% containment radius
    (the whole kernel image the largest of them), is sampled at
    ``factor**2`` sub-pixels per pixel (``factor = min(ceil(12 / (2 r68 /
    pixel)), 4)``), with the PSF linearly interpolated in ``rad`` (extrapolated
    inside the first bin, clipped at 0), summed back to pixels and normalised
    to 1 per true energy. The kernel grid is the dataset's projection around
    its centre (so pixel distortions follow the map).
Edisp kernel
    The edisp map at the nearest coarse pixel.

If the position has no exposure in the IRF maps (outside the field of
view), the nearest coarse pixel with exposure is used instead, as Gammapy
does.

Examples
--------
>>> kernel = psf_kernel(irf, counts_geom, 83.63, 22.01, "icrs")  # doctest: +SKIP
>>> kernel.shape, kernel.sum(axis=(1, 2))  # doctest: +SKIP
((24, 67, 67), array([1., 1., ...]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..geom import WcsGeom
from ..geom.sky import convert_frame

__all__ = [
    "IrfArrays",
    "containment_radius",
    "edisp_kernel",
    "psf_at_position",
    "psf_kernel",
]

#: Containment fraction that sets the kernel size (Gammapy's ``PSF_CONTAINMENT``).
PSF_CONTAINMENT = 0.999
#: Largest sub-pixel factor of the kernel (Gammapy's ``PSF_MAX_OVERSAMPLING``).
PSF_MAX_OVERSAMPLING = 4
#: Sub-pixel precision factor (Gammapy's ``precision_factor``).
PRECISION_FACTOR = 12


@dataclass(frozen=True)
class IrfArrays:
    """The IRF maps of a map dataset as numpy arrays, and their coarse geometry.

    Attributes
    ----------
    geom : WcsGeom
        Coarse sky geometry (image).
    psf : ndarray or None
        ``(energy_true, rad, y, x)`` in ``sr-1``.
    rad_edges : ndarray or None
        Rad bin edges (degrees).
    edisp : ndarray or None
        ``(energy_true, energy, y, x)``.
    exposure : ndarray or None
        ``(energy_true, y, x)``: where the IRFs are valid (> 0).
    """

    geom: WcsGeom
    psf: np.ndarray | None
    rad_edges: np.ndarray | None
    edisp: np.ndarray | None
    exposure: np.ndarray | None

    @classmethod
    def from_dataset(cls, ds) -> IrfArrays:
        """Load the IRF maps of a map dataset (one compute for dask-backed datasets)."""
        from ..datasets import irf_maps

        irf = irf_maps(ds).compute()
        geom = irf[next(iter(irf.data_vars))].gx.geom.to_image()
        psf = irf["psf"] if "psf" in irf else None
        rad = None
        if psf is not None:
            rad = np.asarray(psf.coords["rad"].attrs["edges"], float)
            unit = psf.coords["rad"].attrs.get("units", "deg")
            rad = rad * _deg(unit)
            psf = np.asarray(psf.values, float) * _per_sr(psf.attrs.get("units", "sr-1"))
        edisp = np.asarray(irf["edisp"].values, float) if "edisp" in irf else None
        expo = np.asarray(irf["exposure_irf"].values, float) if "exposure_irf" in irf else None
        return cls(geom, psf, rad, edisp, expo)

    def pixel(self, lon: float, lat: float, frame: str) -> tuple[float, float]:
        """Coarse pixel coordinates of a position, moved to the nearest valid pixel if needed."""
        lon_g, lat_g = convert_frame([lon], [lat], frame, self.geom.frame)
        px, py = self.geom.world_to_pix(lon_g, lat_g, self.geom.frame)
        px, py = float(np.ravel(px)[0]), float(np.ravel(py)[0])
        if self.exposure is None:
            return px, py
        valid = np.any(self.exposure > 0, axis=0)
        nx, ny = self.geom.npix
        ix, iy = int(np.floor(px + 0.5)), int(np.floor(py + 0.5))
        inside = 0 <= ix < nx and 0 <= iy < ny
        if (inside and valid[iy, ix]) or not valid.any():
            return px, py
        yy, xx = np.nonzero(valid)
        k = int(np.argmin((xx - px) ** 2 + (yy - py) ** 2))
        return float(xx[k]), float(yy[k])


def _deg(unit: str) -> float:
    import astropy.units as u

    return float(u.Unit(unit).to(u.deg))


def _per_sr(unit: str) -> float:
    import astropy.units as u

    return float(u.Unit(unit).to(u.Unit("sr-1")))


def _bilinear(cube: np.ndarray, px: float, py: float) -> np.ndarray:
    """``cube[..., y, x]`` interpolated at (px, py), linear extrapolation at the borders."""
    ny, nx = cube.shape[-2:]

    def weights(p, n):
        if n == 1:
            return 0, 0, 0.0
        i0 = min(max(math.floor(p), 0), n - 2)
        return i0, i0 + 1, p - i0

    x0, x1, tx = weights(px, nx)
    y0, y1, ty = weights(py, ny)
    return (
        cube[..., y0, x0] * (1 - tx) * (1 - ty)
        + cube[..., y0, x1] * tx * (1 - ty)
        + cube[..., y1, x0] * (1 - tx) * ty
        + cube[..., y1, x1] * tx * ty
    )


def psf_at_position(irf: IrfArrays, lon: float, lat: float, frame: str) -> np.ndarray:
    """The PSF ``(energy_true, rad)`` in ``sr-1`` at a sky position."""
    if irf.psf is None:
        raise ConfigError("the dataset has no PSF map")
    px, py = irf.pixel(lon, lat, frame)
    return _bilinear(irf.psf, px, py)


def containment_radius(
    psf: np.ndarray, rad_edges: np.ndarray, fraction: float, factor: int = 20
) -> np.ndarray:
    """Containment radius (deg) per true energy, Gammapy's rad-grid method.

    The cumulative integral ``sum 2 pi r psf dr`` at the upper rad edges is
    interpolated (linear) on a ``factor``-times finer grid of bin centres; the
    radius whose containment is closest to ``fraction`` is returned.
    """
    deg = math.pi / 180.0
    centers = 0.5 * (rad_edges[1:] + rad_edges[:-1])
    widths = np.diff(rad_edges)
    cumsum = np.cumsum(2 * np.pi * centers * deg * psf * widths * deg, axis=-1)
    nodes = rad_edges[1:]
    fine_edges = np.interp(
        np.linspace(0, len(rad_edges) - 1, (len(rad_edges) - 1) * factor + 1),
        np.arange(len(rad_edges)),
        rad_edges,
    )
    fine = 0.5 * (fine_edges[1:] + fine_edges[:-1])
    out = np.empty(psf.shape[:-1])
    for idx in np.ndindex(out.shape):
        curve = cumsum[idx]
        values = np.interp(fine, nodes, curve)
        low = fine < nodes[0]
        if nodes.size > 1:
            slope = (curve[1] - curve[0]) / (nodes[1] - nodes[0])
            values[low] = curve[0] + slope * (fine[low] - nodes[0])
        out[idx] = fine[np.argmin(np.abs(values - fraction))]
    return out


def _odd(value: float) -> int:
    return int(math.ceil(value) // 2 * 2 + 1)


def _interp_rad(psf_e: np.ndarray, rad_centers: np.ndarray, rad: np.ndarray) -> np.ndarray:
    """Linear interpolation in rad, linearly extrapolated past the first/last centres."""
    out = np.interp(rad, rad_centers, psf_e)
    lo, hi = rad < rad_centers[0], rad > rad_centers[-1]
    if lo.any():
        slope = (psf_e[1] - psf_e[0]) / (rad_centers[1] - rad_centers[0])
        out[lo] = psf_e[0] + slope * (rad[lo] - rad_centers[0])
    if hi.any():
        slope = (psf_e[-1] - psf_e[-2]) / (rad_centers[-1] - rad_centers[-2])
        out[hi] = psf_e[-1] + slope * (rad[hi] - rad_centers[-1])
    return out


def psf_kernel(
    irf: IrfArrays,
    geom: WcsGeom,
    lon: float,
    lat: float,
    frame: str,
    containment: float = PSF_CONTAINMENT,
    max_radius: float | None = None,
) -> np.ndarray:
    """PSF kernel ``(energy_true, n, n)`` (odd ``n``) at a position, for the pixels of ``geom``.

    Parameters
    ----------
    irf : IrfArrays
        IRF maps of the dataset.
    geom : WcsGeom
        The dataset's (fine) geometry: pixel size, projection and centre.
    lon, lat : float
        Position (degrees in ``frame``).
    containment : float
        Containment fraction that sets each energy's kernel radius.
    max_radius : float, optional
        Cap on the kernel radius (degrees).
    """
    psf = psf_at_position(irf, lon, lat, frame)
    rad_centers = 0.5 * (irf.rad_edges[1:] + irf.rad_edges[:-1])
    radii = containment_radius(psf, irf.rad_edges, containment)
    if max_radius is None:
        max_radius = float(np.max(radii))
    else:
        radii = np.minimum(radii, max_radius)
    binsz = float(np.max(geom.pixel_scales))
    r68 = containment_radius(psf, irf.rad_edges, 0.68)
    factors = np.minimum(
        np.ceil(PRECISION_FACTOR / (2 * r68 / binsz)), PSF_MAX_OVERSAMPLING
    ).astype(int)
    n = _odd(2 * max_radius / binsz)
    center = geom.center_skydir
    c_lon, c_lat = float(center.spherical.lon.deg), float(center.spherical.lat.deg)
    base = WcsGeom.create(
        skydir=(c_lon, c_lat), binsz=binsz, npix=n, proj=geom.projection, frame=geom.frame
    )
    separations: dict[int, np.ndarray] = {}
    kernel = np.zeros((psf.shape[0], n, n))
    for e in range(psf.shape[0]):
        f = int(max(factors[e], 1))
        if f not in separations:
            fine = base.upsample(f)
            yy, xx = np.meshgrid(np.arange(n * f), np.arange(n * f), indexing="ij")
            lon_f, lat_f = fine.pix_to_world(xx.astype(float), yy.astype(float))
            separations[f] = _separation_deg(lon_f, lat_f, c_lon, c_lat)
        m = min(_odd(2 * radii[e] / binsz), n)
        lo = (n - m) // 2
        sep = separations[f][lo * f : (lo + m) * f, lo * f : (lo + m) * f]
        values = np.clip(_interp_rad(psf[e], rad_centers, sep.ravel()), 0, None).reshape(sep.shape)
        image = values.reshape(m, f, m, f).sum(axis=(1, 3))
        kernel[e, lo : lo + m, lo : lo + m] = image
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = np.nan_to_num(kernel / kernel.sum(axis=(1, 2), keepdims=True))
    return kernel


def _separation_deg(lon, lat, lon0, lat0):
    from ..models.spatial import angular_separation

    r = np.radians
    return np.degrees(angular_separation(r(lon), r(lat), r(lon0), r(lat0)))


def edisp_kernel(irf: IrfArrays, lon: float, lat: float, frame: str) -> np.ndarray:
    """The edisp matrix ``(energy_true, energy)`` at the nearest coarse pixel."""
    if irf.edisp is None:
        raise ConfigError("the dataset has no edisp map")
    px, py = irf.pixel(lon, lat, frame)
    nx, ny = irf.geom.npix
    ix = min(max(int(np.floor(px + 0.5)), 0), nx - 1)
    iy = min(max(int(np.floor(py + 0.5)), 0), ny - 1)
    return np.array(irf.edisp[:, :, iy, ix])
