"""Safe data-range masks: Gammapy's ``SafeMaskMaker`` as pure functions.

Each method of Gammapy 2.1's ``SafeMaskMaker`` is a function of gammax
objects (IRF Datasets, DL4 maps, geometries, numbers and quantities):

==================  =================================================================
method              what it does
==================  =================================================================
``offset-max``      keep sky pixels closer than ``offset_max`` to the pointing (``<``)
``aeff-default``    keep reco-energy bins inside the ``LO_THRES``/``HI_THRES`` header
                    range of the effective area
``aeff-max``        lower threshold where the effective area reaches ``aeff_percent``
                    % of its maximum
``edisp-bias``      lower threshold where the energy bias falls to ``bias_percent`` %
``bkg-peak``        lower threshold at the lower edge of the energy bin where the
                    background spectrum peaks
``bkg-invalid``     drop bins whose background is not finite (or not positive, unless
                    ``stat="wstat"``)
==================  =================================================================

An energy threshold keeps only the reco-energy bins that lie entirely inside
the allowed range (:func:`energy_mask`, Gammapy's ``geom.energy_mask``): a bin
straddling a threshold is dropped. As in Gammapy, the ``aeff-max`` and
``edisp-bias`` thresholds are found in true energy and applied to reconstructed
energy.

``irfs="DL4"`` (Gammapy's default) computes ``aeff-max``, ``edisp-bias`` and
``bkg-peak`` from the observation's DL4 products (exposure map, edisp kernel
map, background map) at a position; ``irfs="DL3"`` computes them from the IRF
tables at an offset. :func:`make_mask_safe` combines methods with a logical
*and* and returns a :class:`SafeMask`: the boolean map and the thresholds found.

Examples
--------
>>> from gammax.geom import MapAxis, WcsGeom
>>> energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 4)
>>> geom = WcsGeom.create(skydir=(83.63, 22.01), npix=(5, 5), binsz=1.0, axes=[energy])
>>> energy_mask(geom, energy_min="1 TeV").values
array([False,  True,  True,  True])
>>> safe = make_mask_safe(geom, ["offset-max"], pointing=(83.63, 22.01), offset_max="1.5 deg")
>>> safe.mask.dims, int(safe.mask.isel(energy=0).sum())
(('energy', 'y', 'x'), 9)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

from .. import dims as D
from ..errors import ConfigError, GeometryError
from ..geom import Geom, MapAxis, RegionGeom, WcsGeom, axis_from_coordinate
from ..irf import axis_edges, edisp_kernel, evaluate_aeff
from ..units import parse_unit

__all__ = [
    "IRF_LEVELS",
    "SAFE_MASK_METHODS",
    "SafeMask",
    "check_methods",
    "energy_mask",
    "make_mask_safe",
    "mask_bkg_invalid",
    "mask_offset_max",
    "spectrum_at_position",
    "threshold_aeff_default",
    "threshold_aeff_max",
    "threshold_aeff_max_irf",
    "threshold_bkg_peak",
    "threshold_bkg_peak_irf",
    "threshold_edisp_bias",
    "threshold_edisp_bias_irf",
]

#: Valid safe-mask method names.
SAFE_MASK_METHODS = (
    "aeff-default",
    "aeff-max",
    "edisp-bias",
    "offset-max",
    "bkg-peak",
    "bkg-invalid",
)
#: Where the IRF-based thresholds come from: DL4 products or DL3 tables.
IRF_LEVELS = ("DL4", "DL3")
_STATS = ("cash", "wstat")
_TINY = np.finfo(np.float64).tiny


# -- small conversions -------------------------------------------------------------------
def _quantity(value: Any, unit: str, key: str) -> u.Quantity:
    """A scalar quantity (in its own unit) from a Quantity, a string or a number in ``unit``."""
    try:
        q = u.Quantity(value) if isinstance(value, str) else value
        q = q if isinstance(q, u.Quantity) else u.Quantity(float(q), unit)
        q.to(unit)
        return q
    except (TypeError, ValueError, u.UnitsError) as err:
        raise ConfigError(
            f"{key}={value!r} is not a quantity convertible to {unit}; e.g. '3 deg'"
        ) from err


def _skycoord(value: Any, key: str) -> SkyCoord:
    if isinstance(value, SkyCoord):
        return value
    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"{key}={value!r} is not a position; give a SkyCoord or (ra, dec) in deg (ICRS)"
        ) from err
    return SkyCoord(lon, lat, unit="deg", frame="icrs")


def check_methods(methods: str | Iterable[str]) -> tuple[str, ...]:
    """Validate safe-mask method names (a name or names) and return them as a tuple.

    Raises
    ------
    gammax.errors.ConfigError
        Naming the unknown methods and listing the valid ones.

    Examples
    --------
    >>> check_methods("aeff-max")
    ('aeff-max',)
    """
    names = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [m for m in names if m not in SAFE_MASK_METHODS]
    if unknown:
        raise ConfigError(
            f"safe_mask methods: {unknown} not valid; valid choices are {list(SAFE_MASK_METHODS)}"
        )
    return tuple(dict.fromkeys(names))


def _energy_axis(geom: Geom) -> MapAxis:
    try:
        return geom.axis(D.ENERGY)
    except GeometryError as err:
        raise ConfigError(
            f"energy safe masks need a geometry with a reco {D.ENERGY!r} axis; "
            f"its axes are {geom.axis_names}"
        ) from err


def _coord(da: xr.DataArray, dim: str) -> tuple[np.ndarray, u.UnitBase]:
    """Bin centres of ``dim`` and their unit."""
    if dim not in da.coords:
        raise ConfigError(f"{da.name or 'array'!r} has no {dim!r} coordinate; dims {da.dims}")
    coord = da.coords[dim]
    return np.asarray(coord.values, dtype=float), parse_unit(coord.attrs.get("units", "TeV"))


def _edges(da: xr.DataArray, dim: str) -> tuple[np.ndarray, u.UnitBase]:
    """Bin edges of ``dim``: from a gammax axis coordinate or ``attrs["<dim>_edges"]``."""
    coord = da.coords[dim]
    unit = parse_unit(coord.attrs.get("units", "TeV"))
    if "axis_type" in coord.attrs:
        axis = axis_from_coordinate(coord)
        return np.asarray(axis.edges, dtype=float), parse_unit(axis.unit)
    if f"{dim}_edges" in da.attrs:
        return np.asarray(da.attrs[f"{dim}_edges"], dtype=float), parse_unit(
            da.attrs.get(f"{dim}_edges_units", unit)
        )
    raise ConfigError(f"cannot find the bin edges of {dim!r} of {da.name or 'array'!r}")


def _irf_edges(irf: xr.Dataset, dim: str) -> tuple[np.ndarray, u.UnitBase]:
    """Bin edges of an IRF table axis and their unit."""
    return np.asarray(axis_edges(irf, dim), dtype=float), parse_unit(
        irf[dim].attrs.get("units", "TeV")
    )


# -- Gammapy's TemplateSpectralModel.inverse, on numbers -----------------------------------------
def _loglog(energy: np.ndarray, values: np.ndarray):
    """Log-log linear interpolation (extrapolating), as Gammapy's ``TemplateSpectralModel``."""
    x = np.log(energy)
    y = np.log(np.clip(values, _TINY, np.inf))

    def model(e):
        xe = np.log(e)
        if x.size == 1:
            out = np.exp(np.broadcast_to(y[0], np.shape(xe)))
        else:
            i = np.clip(np.searchsorted(x, xe, side="left") - 1, 0, x.size - 2)
            t = (xe - x[i]) / (x[i + 1] - x[i])
            out = np.exp(y[i] * (1 - t) + y[i + 1] * t)
        out = np.where(np.abs(out) - _TINY <= _TINY, 0.0, out)
        return np.clip(out, 0, np.inf)

    return model


def _inverse(energy: np.ndarray, values: np.ndarray, target: float, lo: float, hi: float) -> float:
    """First energy in ``[lo, hi]`` where the template equals ``target`` (NaN if none).

    Gammapy's ``find_roots``: the sign of ``model - target`` is sampled at 101
    log-spaced energies, and ``brentq`` refines the first sign change.
    """
    from scipy.optimize import brentq

    model = _loglog(energy, values)

    def f(e):
        return 1e12 * (model(e) - target)

    grid = np.exp(np.linspace(np.log(lo), np.log(hi), 101))
    signs = np.sign(f(grid))
    changes = np.nonzero(signs[:-1] != signs[1:])[0]
    if changes.size == 0:
        return np.nan
    k = changes[0]
    try:
        return float(brentq(f, float(grid[k]), float(grid[k + 1])))
    except (RuntimeError, ValueError):
        return np.nan


# -- masks -------------------------------------------------------------------------------
def energy_mask(
    geom: Geom | MapAxis, energy_min: Any = None, energy_max: Any = None
) -> xr.DataArray:
    """Reco-energy bins lying entirely in ``[energy_min, energy_max]``.

    A bin is kept if its lower edge is ``>= energy_min`` and its upper edge
    ``<= energy_max``, exactly as Gammapy's ``Geom.energy_mask``: a bin that
    straddles a threshold is dropped.

    Parameters
    ----------
    geom : Geom or MapAxis
        A geometry with an ``energy`` axis, or the axis.
    energy_min, energy_max : Quantity, str or float, optional
        Thresholds (numbers are TeV); ``None`` means no limit.

    Returns
    -------
    xarray.DataArray
        Boolean, dim ``energy``.

    Examples
    --------
    >>> axis = MapAxis.from_energy_edges([1, 2, 4, 8], unit="TeV")
    >>> energy_mask(axis, energy_min=1.5, energy_max="8 TeV").values
    array([False,  True,  True])
    """
    axis = geom if isinstance(geom, MapAxis) else _energy_axis(geom)
    edges = np.asarray(axis.edges, dtype=float)
    lo, hi = -np.inf, np.inf
    if energy_min is not None:
        lo = _quantity(energy_min, "TeV", "energy_min").to_value(axis.unit)
    if energy_max is not None:
        hi = _quantity(energy_max, "TeV", "energy_max").to_value(axis.unit)
    mask = (edges[:-1] >= lo) & (edges[1:] <= hi)
    return xr.DataArray(
        mask, dims=(axis.name,), coords={axis.name: axis.to_coordinate()}, name="mask_energy"
    )


@dataclass(frozen=True)
class _OffsetBelow:
    """Picklable per-block test ``separation(pointing, pixel) < offset_max``."""

    geom: WcsGeom
    pointing: SkyCoord
    offset_max: float

    def __call__(self, yy, xx):
        lon, lat = self.geom.pix_to_world(xx, yy)
        sky = SkyCoord(lon, lat, unit="deg", frame=self.geom.frame)
        return self.pointing.separation(sky).deg < self.offset_max


def mask_offset_max(
    geom: Geom, pointing: Any, offset_max: Any = "3 deg", *, chunks: Any = None
) -> xr.DataArray:
    """Sky pixels whose centre is closer than ``offset_max`` to the pointing (strict ``<``).

    The separation is astropy's (Vincenty formula, pointing first), as in
    Gammapy's ``Geom.separation``, so that pixels exactly at ``offset_max``
    fall on the same side.

    Parameters
    ----------
    geom : Geom
        WCS, HEALPix or region geometry (for a region: its centre is tested).
    pointing : SkyCoord or (ra, dec)
        Pointing position (a tuple is ICRS degrees).
    offset_max : Quantity, str or float
        Maximum offset (numbers are degrees).
    chunks : optional
        Dask chunks of the sky dims of a WCS geometry; the mask is then lazy.

    Returns
    -------
    xarray.DataArray
        Boolean over the sky dims of ``geom`` (a scalar for a region geometry).

    Examples
    --------
    >>> geom = WcsGeom.create(skydir=(0, 0), npix=(3, 1), binsz=1.0)
    >>> mask_offset_max(geom, (0, 0), 1.0).values
    array([[False,  True, False]])
    """
    limit = float(_quantity(offset_max, "deg", "offset_max").to_value("deg"))
    pointing = _skycoord(pointing, "pointing")
    if isinstance(geom, WcsGeom):
        image = geom.to_image()
        out = image.pixel_field(_OffsetBelow(image, pointing, limit), bool, chunks, None)
    elif isinstance(geom, RegionGeom):
        out = xr.DataArray(bool(geom.center_skydir.separation(pointing).deg < limit))
    else:
        coords = geom.get_coord()
        sky = SkyCoord(coords["lon"].values, coords["lat"].values, unit="deg", frame=geom.frame)
        out = geom.to_image().wrap(pointing.separation(sky).deg < limit)
    out.attrs.pop("units", None)
    return out.rename("mask_offset_max")


def mask_bkg_invalid(background: xr.DataArray, stat: str = "cash") -> xr.DataArray:
    """Bins with a finite background, and positive unless ``stat="wstat"`` (lazy with dask).

    Examples
    --------
    >>> mask_bkg_invalid(xr.DataArray([0.0, 1.0, np.nan])).values
    array([False,  True, False])
    """
    if stat not in _STATS:
        raise ConfigError(f"stat={stat!r} not valid; valid choices are {list(_STATS)}")
    mask = np.isfinite(background)
    if stat != "wstat":
        mask = mask & (background > 0)
    mask.attrs = {}
    return mask.rename("mask_bkg_invalid")


# -- thresholds ---------------------------------------------------------------------------
def threshold_aeff_default(aeff: xr.Dataset) -> tuple[u.Quantity | None, u.Quantity | None]:
    """The default safe energy range of an effective area (``LO_THRES``, ``HI_THRES``).

    A missing or zero keyword gives ``None`` (no limit), as in Gammapy.

    Examples
    --------
    >>> aeff = xr.Dataset(attrs={"energy_threshold_lo": 0.8, "energy_threshold_lo_units": "TeV"})
    >>> threshold_aeff_default(aeff)
    (<Quantity 0.8 TeV>, None)
    """
    out = []
    for key in ("energy_threshold_lo", "energy_threshold_hi"):
        value = aeff.attrs.get(key)
        if value is None or not np.isfinite(value) or value == 0:
            out.append(None)
        else:
            out.append(u.Quantity(float(value), parse_unit(aeff.attrs.get(f"{key}_units", "TeV"))))
    return out[0], out[1]


def threshold_aeff_max(aeff: xr.DataArray, aeff_percent: float = 10) -> u.Quantity | None:
    """Lowest true energy where an effective-area spectrum reaches ``aeff_percent`` % of its max.

    Gammapy's DL4 ``aeff-max``: the spectrum (e.g. the exposure at one position,
    the scale does not matter) is interpolated log-log between its bin centres,
    and the first crossing of the threshold above the first non-zero bin is
    found by root finding. Without a crossing the first non-zero bin centre is
    returned.

    Parameters
    ----------
    aeff : xarray.DataArray
        Values along ``energy_true`` (only that dim).
    aeff_percent : float
        Percentage of the maximum.

    Returns
    -------
    Quantity or None
        The threshold, ``None`` if the spectrum is zero everywhere (then no
        energy is safe).

    Examples
    --------
    >>> e = xr.DataArray([1.0, 10.0, 100.0], dims="energy_true", attrs={"units": "m2"})
    >>> spec = e.assign_coords(energy_true=("energy_true", [1.0, 10.0, 100.0], {"units": "TeV"}))
    >>> threshold_aeff_max(spec, 10).round(6)
    <Quantity 10. TeV>
    """
    values = np.asarray(aeff.values, dtype=float).ravel()
    energy, unit = _coord(aeff, D.ENERGY_TRUE)
    if not np.any(values > 0):
        return None
    first = energy[np.nonzero(values > 0)[0][0]]
    threshold = aeff_percent / 100 * np.max(values)
    root = _inverse(energy, values, threshold, first, energy[-1])
    return u.Quantity(first if np.isnan(root) else root, unit)


def threshold_aeff_max_irf(
    aeff: xr.Dataset, offset: Any = 0.0, aeff_percent: float = 10
) -> u.Quantity | None:
    """Gammapy's DL3 ``aeff-max``: lowest IRF true-energy *edge* with aeff above the limit.

    The effective area is evaluated at ``offset`` on the true-energy bin edges
    of the table; the threshold is the lowest edge where it exceeds
    ``aeff_percent`` % of its maximum (``None`` if it is zero everywhere).
    """
    edges, unit = _irf_edges(aeff, D.ENERGY_TRUE)
    off = _quantity(offset, "deg", "offset")
    values = evaluate_aeff(
        aeff,
        xr.DataArray(edges, dims=D.ENERGY_TRUE, attrs={"units": str(unit)}),
        off,
        extrapolate="fill",
    )
    values = np.asarray(values.values, dtype=float).ravel()
    valid = edges[values > aeff_percent * np.max(values) / 100]
    return u.Quantity(np.min(valid), unit) if valid.size else None


def threshold_edisp_bias(kernel: xr.DataArray, bias_percent: float = 10) -> u.Quantity:
    """Reco energy where the energy bias of an edisp kernel falls to ``bias_percent`` %.

    Gammapy's ``EDispKernel.get_bias_energy``: the bias is
    ``(<E_reco> - E_true) / E_true`` at each true-energy bin centre (mean over
    the reco bin centres, weighted by the kernel); the first true energy above
    the bias peak where the log-log interpolated bias equals
    ``bias_percent / 100`` is found by root finding (the peak energy if none),
    and returned as reco energy ``E_true (1 + bias)``.

    Parameters
    ----------
    kernel : xarray.DataArray
        Dims ``(energy_true, energy)``: probability of each reco bin per true energy.
    bias_percent : float
        Bias in percent.
    """
    kernel = kernel.transpose(D.ENERGY_TRUE, D.ENERGY)
    e_true, unit = _coord(kernel, D.ENERGY_TRUE)
    edges, e_unit = _edges(kernel, D.ENERGY)
    e_reco = _reco_centres(edges) * float(e_unit.to(unit))
    pdf = np.asarray(kernel.values, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nan_to_num(np.sum(pdf * e_reco, axis=-1) / np.sum(pdf, axis=-1))
    bias = (mean - e_true) / e_true
    lo = e_true[np.nanargmax(bias)]
    root = _inverse(e_true, bias, bias_percent / 100, lo, e_true[-1])
    root = lo if np.isnan(root) else root
    return u.Quantity(root * (1 + bias_percent / 100), unit)


def _reco_centres(edges: np.ndarray) -> np.ndarray:
    return np.asarray(MapAxis.from_energy_edges(edges).center, dtype=float)


def threshold_edisp_bias_irf(
    edisp: xr.Dataset, offset: Any = 0.0, bias_percent: float = 10
) -> u.Quantity:
    """Gammapy's DL3 ``edisp-bias``: the bias energy of the IRF's kernel at ``offset``.

    The kernel uses the table's true-energy bins as both true and reco bins,
    as Gammapy's ``EnergyDispersion2D.to_edisp_kernel``.
    """
    edges, unit = _irf_edges(edisp, D.ENERGY_TRUE)
    axis = MapAxis.from_energy_edges(edges, unit=str(unit), name=D.ENERGY_TRUE)
    kernel = edisp_kernel(
        edisp,
        xr.DataArray(np.asarray(axis.center), dims=D.ENERGY_TRUE, attrs={"units": str(unit)}),
        edges,
        _quantity(offset, "deg", "offset"),
    )
    kernel = kernel.assign_coords({D.ENERGY: axis.rename(D.ENERGY).to_coordinate()})
    kernel = kernel.assign_coords({D.ENERGY_TRUE: axis.to_coordinate()})
    return threshold_edisp_bias(kernel, bias_percent)


def threshold_bkg_peak(background: xr.DataArray) -> u.Quantity:
    """Lower edge of the reco-energy bin where the summed background spectrum peaks.

    ``background`` is a map (or spectrum) with an ``energy`` axis; it is summed
    (NaN ignored) over every other dim first. This computes dask arrays.
    """
    other = [d for d in background.dims if d != D.ENERGY]
    spectrum = background.sum(dim=other, skipna=True) if other else background
    edges, unit = _edges(background, D.ENERGY)
    idx = int(np.argmax(np.asarray(spectrum.values)))
    return u.Quantity(edges[idx], unit)


def threshold_bkg_peak_irf(bkg: xr.Dataset) -> u.Quantity:
    """Gammapy's DL3 ``bkg-peak``: peak of the background model integrated over the FoV.

    A ``bkg_3d`` model is first reduced to offsets as Gammapy's
    ``Background3D.to_2d``: the values at ``fov_lat = 0`` and ``fov_lon >= 0``.
    The rate times ``2 pi r dr`` is summed over the offset bins, and the lower
    edge of the IRF energy bin with the largest total is returned.
    """
    rate = bkg["bkg"]
    if D.OFFSET in rate.dims:
        r_edges, _ = _irf_edges(bkg, D.OFFSET)
        values = rate.transpose(D.ENERGY, D.OFFSET).values
    else:
        lon_edges, _ = _irf_edges(bkg, D.FOV_LON)
        lat_edges, _ = _irf_edges(bkg, D.FOV_LAT)
        i_lon = int(np.digitize(0.0, lon_edges) - 1)
        i_lat = int(np.digitize(0.0, lat_edges) - 1)
        values = rate.transpose(D.ENERGY, D.FOV_LON, D.FOV_LAT).values[:, i_lon:, i_lat]
        r_edges = lon_edges[i_lon:]
    centres = 0.5 * (r_edges[:-1] + r_edges[1:])
    total = np.sum(np.asarray(values, dtype=float) * np.diff(r_edges) * 2 * np.pi * centres, -1)
    edges, unit = _irf_edges(bkg, D.ENERGY)
    return u.Quantity(edges[int(np.argmax(total))], unit)


# -- DL4 products at a position ---------------------------------------------------------------
def _nearest_index(pix: float, n: int) -> int:
    """Nearest grid index, ties to the lower one (scipy's ``method="nearest"``)."""
    i = int(np.clip(np.floor(pix), 0, max(n - 2, 0)))
    return i if n == 1 or pix - i <= 0.5 else i + 1


def spectrum_at_position(
    data: xr.DataArray, position: Any = None, *, nearest_valid: bool = False
) -> xr.DataArray:
    """The non-spatial part of a map at the sky pixel nearest to ``position``.

    As Gammapy's ``Map.get_spectrum(position)``: the pixel whose centre is
    nearest in pixel coordinates (ties to the lower index). A map without sky
    dims (region geometry) is returned unchanged.

    Parameters
    ----------
    data : xarray.DataArray
        A gammax map with sky dims ``(y, x)``, or without sky dims.
    position : SkyCoord or (ra, dec), optional
        Position; default the centre of the map.
    nearest_valid : bool
        If the pixel holding ``position`` has no positive value while others
        do, use the valid pixel whose centre is closest on the sky (Gammapy's
        ``IRFMap._get_nearest_valid_position``, used for edisp kernels).
    """
    if D.X not in data.dims or D.Y not in data.dims:
        return data
    geom = data.gx.geom
    if not isinstance(geom, WcsGeom):
        raise ConfigError(f"spectrum_at_position needs a WCS map, got {type(geom).__name__}")
    wcs = geom.wcs
    if position is None:
        cx, cy = geom.center_pix
        position = SkyCoord.from_pixel(cx, cy, wcs)
    c = _skycoord(position, "position").transform_to(geom.frame)
    px, py = (float(v) for v in wcs.wcs_world2pix(c.spherical.lon.deg, c.spherical.lat.deg, 0))
    nx, ny = geom.npix
    if nearest_valid:
        valid = (data > 0).any([d for d in data.dims if d not in (D.X, D.Y)])
        valid = np.asarray(valid.transpose(D.Y, D.X).values)
        ix, iy = int(np.floor(px + 0.5)), int(np.floor(py + 0.5))
        inside = 0 <= ix < nx and 0 <= iy < ny
        if not (inside and valid[iy, ix]) and valid.any():
            yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
            lon, lat = wcs.wcs_pix2world(xx.astype(float), yy.astype(float), 0)
            sep = SkyCoord(lon, lat, unit="deg", frame=c.frame).separation(c).deg
            sep[~valid] = np.inf
            iy, ix = np.unravel_index(int(np.argmin(sep)), sep.shape)
            return data.isel({D.Y: int(iy), D.X: int(ix)})
    return data.isel({D.Y: _nearest_index(py, ny), D.X: _nearest_index(px, nx)})


# -- everything together -------------------------------------------------------------------------
@dataclass(frozen=True)
class SafeMask:
    """A safe-data mask and the thresholds that made it.

    Attributes
    ----------
    mask : xarray.DataArray
        Boolean map on the geometry (``geom.dims``), named ``mask_safe``.
    thresholds : dict of str to float
        Per method: ``"aeff_default_energy_min"``, ``"aeff_default_energy_max"``,
        ``"aeff_max_energy_min"``, ``"edisp_bias_energy_min"``,
        ``"bkg_peak_energy_min"`` (TeV; NaN when undefined) and ``"offset_max"``
        (deg). Plain floats: ready for Zarr attributes.
    """

    mask: xr.DataArray
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def energy_min(self) -> float:
        """Combined lower energy threshold (TeV): the largest lower threshold, NaN if none."""
        values = [v for k, v in self.thresholds.items() if k.endswith("energy_min")]
        values = [v for v in values if np.isfinite(v)]
        return float(max(values)) if values else np.nan

    @property
    def energy_max(self) -> float:
        """Combined upper energy threshold (TeV): the smallest upper threshold, NaN if none."""
        values = [v for k, v in self.thresholds.items() if k.endswith("energy_max")]
        values = [v for v in values if np.isfinite(v)]
        return float(min(values)) if values else np.nan


def _tev(q: u.Quantity | None) -> float:
    return np.nan if q is None else float(q.to_value("TeV"))


def _need(value: Any, key: str, method: str, irfs: str, what: str) -> Any:
    if value is None:
        raise ConfigError(
            f"safe_mask method {method!r} (irfs={irfs!r}) needs {key}= ({what}); it was not given"
        )
    return value


def make_mask_safe(
    geom: Geom,
    methods: str | Iterable[str] = ("aeff-default",),
    *,
    pointing: Any = None,
    aeff: xr.Dataset | None = None,
    edisp: xr.Dataset | None = None,
    bkg: xr.Dataset | None = None,
    exposure: xr.DataArray | None = None,
    edisp_kernel_map: xr.DataArray | None = None,
    background: xr.DataArray | None = None,
    aeff_percent: float = 10,
    bias_percent: float = 10,
    position: Any = None,
    fixed_offset: Any = None,
    offset_max: Any = "3 deg",
    irfs: str = "DL4",
    stat: str = "cash",
    mask_safe: xr.DataArray | None = None,
) -> SafeMask:
    """Safe-data mask of one observation on ``geom``: Gammapy's ``SafeMaskMaker.run``.

    Parameters
    ----------
    geom : Geom
        Geometry of the dataset, with a reco ``energy`` axis.
    methods : str or iterable of str
        Any of :data:`SAFE_MASK_METHODS`; the masks are combined with *and*.
    pointing : SkyCoord or (ra, dec), optional
        Pointing (ICRS degrees for a tuple). Needed by ``offset-max``, by
        ``fixed_offset`` and by ``position`` with ``irfs="DL3"``.
    aeff, edisp, bkg : xarray.Dataset, optional
        IRF tables (``DataStore.irf``): ``aeff`` for ``aeff-default``, and with
        ``irfs="DL3"`` ``aeff`` (``aeff-max``), ``edisp`` (``edisp-bias``),
        ``bkg`` (``bkg-peak``).
    exposure : xarray.DataArray, optional
        DL4 exposure map (``energy_true`` and sky dims, or a spectrum) for
        ``aeff-max`` with ``irfs="DL4"``.
    edisp_kernel_map : xarray.DataArray, optional
        DL4 edisp kernel (``energy_true``, ``energy`` and optionally sky dims of
        a coarse grid) for ``edisp-bias`` with ``irfs="DL4"``.
    background : xarray.DataArray, optional
        DL4 background map on ``geom`` for ``bkg-peak`` with ``irfs="DL4"`` and
        ``bkg-invalid``. As in Gammapy, when it is given its invalid bins are
        always masked (``bkg-invalid`` is implied).
    aeff_percent, bias_percent : float
        Parameters of ``aeff-max`` and ``edisp-bias`` (Gammapy's default 10).
    position : SkyCoord or (ra, dec), optional
        Where ``aeff-max``/``edisp-bias`` are evaluated. DL4 default: the centre
        of ``geom``; DL3 default: offset 0.
    fixed_offset : Quantity, str or float, optional
        Offset from the pointing instead of ``position`` (exclusive with it).
    offset_max : Quantity, str or float
        Maximum offset of ``offset-max`` (default 3 deg).
    irfs : {"DL4", "DL3"}
        Products or IRF tables for the IRF-based thresholds.
    stat : {"cash", "wstat"}
        With ``"wstat"``, zero background is valid.
    mask_safe : xarray.DataArray, optional
        An existing mask to start from.

    Returns
    -------
    SafeMask
        The boolean map (``geom.dims``) and the thresholds found.

    Raises
    ------
    gammax.errors.ConfigError
        For an unknown method or ``irfs`` value, both ``position`` and
        ``fixed_offset``, or a method whose inputs are missing.
    """
    methods = check_methods(methods)
    if irfs not in IRF_LEVELS:
        raise ConfigError(f"irfs={irfs!r} not valid; valid choices are {list(IRF_LEVELS)}")
    if position is not None and fixed_offset is not None:
        raise ConfigError("safe_mask: position and fixed_offset are mutually exclusive")
    for key, value in (("aeff_percent", aeff_percent), ("bias_percent", bias_percent)):
        if not 0 < float(value) <= 100:
            raise ConfigError(f"{key}={value!r} not valid; expected a percentage in (0, 100]")

    thresholds: dict[str, float] = {}
    mask = xr.DataArray(True) if mask_safe is None else mask_safe.astype(bool)
    if background is not None:
        mask = mask & mask_bkg_invalid(background, stat)
    elif "bkg-invalid" in methods:
        _need(background, "background", "bkg-invalid", irfs, "background map on geom")

    if "offset-max" in methods:
        point = _need(pointing, "pointing", "offset-max", irfs, "pointing position")
        mask = mask & mask_offset_max(geom, point, offset_max)
        thresholds["offset_max"] = float(_quantity(offset_max, "deg", "offset_max").to_value("deg"))

    if "aeff-default" in methods:
        table = _need(aeff, "aeff", "aeff-default", irfs, "effective-area IRF Dataset")
        lo, hi = threshold_aeff_default(table)
        thresholds["aeff_default_energy_min"] = _tev(lo)
        thresholds["aeff_default_energy_max"] = _tev(hi)
        mask = mask & energy_mask(geom, lo, hi)

    where = _dl4_position(geom, pointing, position, fixed_offset, irfs, methods)
    offset = _dl3_offset(pointing, position, fixed_offset, irfs, methods)

    if "aeff-max" in methods:
        if irfs == "DL4":
            expo = _need(exposure, "exposure", "aeff-max", irfs, "exposure map")
            lo = threshold_aeff_max(spectrum_at_position(expo, where), aeff_percent)
        else:
            table = _need(aeff, "aeff", "aeff-max", irfs, "effective-area IRF Dataset")
            lo = threshold_aeff_max_irf(table, offset, aeff_percent)
        thresholds["aeff_max_energy_min"] = _tev(lo)
        mask = mask & (energy_mask(geom, lo) if lo is not None else False)

    if "edisp-bias" in methods:
        if irfs == "DL4":
            kmap = _need(edisp_kernel_map, "edisp_kernel_map", "edisp-bias", irfs, "kernel map")
            if D.ENERGY not in kmap.dims:
                raise ConfigError(
                    f"edisp-bias with irfs='DL4' needs an edisp kernel map with dims (energy_true,"
                    f" energy, ...); got {kmap.dims} (a migra map?): use irfs='DL3'"
                )
            kernel = spectrum_at_position(kmap, where, nearest_valid=True)
            lo = threshold_edisp_bias(kernel, bias_percent)
        else:
            table = _need(edisp, "edisp", "edisp-bias", irfs, "energy-dispersion IRF Dataset")
            lo = threshold_edisp_bias_irf(table, offset, bias_percent)
        thresholds["edisp_bias_energy_min"] = _tev(lo)
        mask = mask & energy_mask(geom, lo)

    if "bkg-peak" in methods:
        if irfs == "DL4":
            bmap = _need(background, "background", "bkg-peak", irfs, "background map on geom")
            lo = threshold_bkg_peak(bmap)
        else:
            lo = threshold_bkg_peak_irf(_need(bkg, "bkg", "bkg-peak", irfs, "background IRF"))
        thresholds["bkg_peak_energy_min"] = _tev(lo)
        mask = mask & energy_mask(geom, lo)

    template = geom.empty(dtype=bool, fill_value=True)
    out = (template & mask).transpose(*geom.dims)
    out.attrs = {}
    return SafeMask(out.rename("mask_safe"), thresholds)


def _dl4_position(geom, pointing, position, fixed_offset, irfs, methods):
    if irfs != "DL4" or not {"aeff-max", "edisp-bias"} & set(methods):
        return None
    if fixed_offset is not None:
        point = _need(pointing, "pointing", "fixed_offset", irfs, "pointing position")
        sep = _quantity(fixed_offset, "deg", "fixed_offset")
        return _skycoord(point, "pointing").directional_offset_by(0 * u.deg, sep)
    if position is not None:
        return _skycoord(position, "position")
    if isinstance(geom, WcsGeom):
        cx, cy = geom.center_pix
        return SkyCoord.from_pixel(cx, cy, geom.wcs)
    return None


def _dl3_offset(pointing, position, fixed_offset, irfs, methods) -> u.Quantity:
    if irfs != "DL3" or not {"aeff-max", "edisp-bias"} & set(methods):
        return 0 * u.deg
    if fixed_offset is not None:
        return _quantity(fixed_offset, "deg", "fixed_offset")
    if position is not None:
        point = _need(pointing, "pointing", "position", irfs, "pointing position")
        return _skycoord(point, "pointing").separation(_skycoord(position, "position")).to("deg")
    return 0 * u.deg
