r"""Sampling tables: an instrument's IRFs on fine grids, ready for vectorised inverse-CDF draws.

:func:`build_tables` evaluates the IRFs of an :class:`~gammax.simulate.Instrument`
once (with :mod:`gammax.irf`, the functions the reduction uses) into numpy
arrays that every observation of an archive shares:

effective area
    :math:`A(E, \theta)` at the edges of a fine log true-energy grid and on
    offset nodes (``offset_step`` apart); sources interpolate linearly between
    offset nodes.
PSF
    containment :math:`C(r)` on a radius grid, at true-energy and offset nodes
    (the table's own nodes for ``psf_table``, a fine log grid otherwise).
energy dispersion
    the cumulative migration probability at the migra bin edges (the density is
    constant within a migra bin, as in :func:`gammax.irf.edisp_kernel`), at the
    IRF's own true-energy and offset nodes.
background
    expected counts per second in cells of (reconstructed energy, FoV lon, FoV
    lat): the rate is evaluated at the cell centres and the energy-bin edges,
    integrated as a power law in energy (as :func:`gammax.irf.integrate_background`)
    and multiplied by the exact cell solid angle.

An event takes a node of each IRF at random with the linear-interpolation
weights of its (log) energy and offset, so the drawn distribution is the
interpolated one.

Examples
--------
>>> from gammax.simulate import Instrument
>>> tables = build_tables(Instrument.analytic())
>>> round(tables.offset_max, 2)
6.0
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .. import dims as D
from ..irf import evaluate_aeff, evaluate_background, evaluate_edisp, psf_containment
from ..irf.interpolate import axis_edges
from ..units import parse_unit
from .instrument import Instrument

__all__ = ["SamplingConfig", "SamplingTables", "build_tables"]


@dataclass(frozen=True)
class SamplingConfig:
    """Resolution of the sampling grids (energies in TeV, angles in deg).

    Examples
    --------
    >>> SamplingConfig(energy_true=(0.1, 100.0)).energy_per_decade
    32
    """

    #: True-energy range of source events (default: the effective-area table).
    energy_true: tuple[float, float] | None = None
    #: Bins per decade of the source spectra grid.
    energy_per_decade: int = 32
    #: Largest offset of source events (default: the effective-area table).
    offset_max: float | None = None
    #: Offset node spacing of the effective area.
    offset_step: float = 0.05
    #: Nodes per decade and offset spacing of a parametric PSF.
    psf_energy_per_decade: int = 16
    psf_offset_step: float = 0.25
    #: Radius grid points and containment at its end (parametric PSFs).
    rad_points: int = 400
    psf_containment_max: float = 0.9999
    #: Reconstructed-energy range (default: the background table) and bins per decade.
    bkg_energy: tuple[float, float] | None = None
    bkg_energy_per_decade: int = 16
    #: FoV cell size of the background (deg).
    bkg_step: float = 0.1
    #: Pixel size limits of extended sources and the pixel size of diffuse models (deg).
    extended_binsz: tuple[float, float] = (0.005, 0.05)
    diffuse_binsz: float = 0.05
    #: Sub-pixels per side within the model's finest scale
    #: (:meth:`~gammax.models.SpatialModel.evaluation_bin_size_min`) when the pixel
    #: fractions are integrated, at most ``max_oversampling`` per pixel side: a sharp
    #: disk edge sampled at pixel centres only is off by up to ~1.5% in total flux.
    pixel_oversampling: int = 8
    max_oversampling: int = 32
    #: Sources whose evaluation radius exceeds this (deg) are diffuse: per observation.
    diffuse_radius: float = 5.0


def _log_grid(lo: float, hi: float, per_decade: int) -> np.ndarray:
    n = max(1, int(np.ceil(np.log10(hi / lo) * per_decade - 1e-9)))
    return np.geomspace(lo, hi, n + 1)


def _da(values, dim: str, unit: str) -> xr.DataArray:
    return xr.DataArray(np.asarray(values, float), dims=dim, attrs={"units": unit})


def _factor(unit: str, target: str) -> float:
    return float(parse_unit(unit).to(target))


def _edges(irf: xr.Dataset, dim: str, unit: str) -> np.ndarray:
    return axis_edges(irf, dim) * _factor(irf[dim].attrs.get("units", unit), unit)


def _nodes(irf: xr.Dataset, dim: str, unit: str) -> np.ndarray:
    return np.asarray(irf[dim].values, float) * _factor(irf[dim].attrs.get("units", unit), unit)


@dataclass(frozen=True, eq=False)
class SamplingTables:
    """IRFs on sampling grids; see the module docstring. Build with :func:`build_tables`."""

    config: SamplingConfig
    #: True-energy bin edges (TeV) and offset nodes (deg) of the effective area.
    energy_edges: np.ndarray
    offset_nodes: np.ndarray
    #: Effective area (m²) at ``energy_edges`` x ``offset_nodes``.
    aeff: np.ndarray
    #: PSF nodes: true energy (TeV), offset (deg), radius grid (deg); containment.
    psf_energy: np.ndarray
    psf_offset: np.ndarray
    rad: np.ndarray
    psf_cdf: np.ndarray
    #: Edisp nodes: true energy (TeV), offset (deg), migra edges; cumulative probability.
    edisp_energy: np.ndarray
    edisp_offset: np.ndarray
    migra_edges: np.ndarray
    edisp_cdf: np.ndarray
    #: Whether an edisp node has any migration probability.
    edisp_valid: np.ndarray
    #: Background: reco-energy edges (TeV), FoV lon/lat edges (deg), counts/s per cell
    #: (energy, lon, lat), rate at the energy edges (any unit, for shapes); may be None.
    bkg_energy_edges: np.ndarray | None = None
    fov_edges: tuple[np.ndarray, np.ndarray] | None = None
    bkg_cells: np.ndarray | None = None
    bkg_edge_rate: np.ndarray | None = None
    reverse_lon: bool = False
    instrument_token: str = ""
    _token: str = field(default="", repr=False)

    @property
    def offset_max(self) -> float:
        """Largest offset of source events (deg)."""
        return float(self.offset_nodes[-1])

    @property
    def bkg_rate(self) -> float:
        """Total background rate (counts/s) in the background grid."""
        return 0.0 if self.bkg_cells is None else float(self.bkg_cells.sum())

    def __dask_tokenize__(self):
        return (type(self).__name__, self.instrument_token, repr(self.config))

    def nbytes(self) -> int:
        """Memory held by the tables."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray)) + sum(
            a.nbytes for a in (self.fov_edges or ())
        )


def _aeff_table(inst: Instrument, cfg: SamplingConfig):
    aeff = inst.aeff
    e_table = _edges(aeff, D.ENERGY_TRUE, "TeV")
    lo, hi = cfg.energy_true or (float(e_table[0]), float(e_table[-1]))
    energy = _log_grid(lo, hi, cfg.energy_per_decade)
    offset_max = cfg.offset_max if cfg.offset_max is not None else inst.offset_max
    offsets = np.linspace(0.0, offset_max, max(2, round(offset_max / cfg.offset_step) + 1))
    area = evaluate_aeff(
        aeff, _da(energy, D.ENERGY_TRUE, "TeV"), _da(offsets, D.OFFSET, "deg"), extrapolate="fill"
    )
    values = area.transpose(D.ENERGY_TRUE, D.OFFSET).values * _factor(area.attrs["units"], "m2")
    return energy, offsets, np.clip(values, 0.0, None)


def _psf_table(inst: Instrument, cfg: SamplingConfig, energy: np.ndarray, offset_max: float):
    psf = inst.psf
    if psf.attrs["hdu_class"] == "psf_table":
        e_nodes = _nodes(psf, D.ENERGY_TRUE, "TeV")
        o_nodes = _nodes(psf, D.OFFSET, "deg")
        rad_max = float(_edges(psf, D.RAD, "deg")[-1])
    else:
        e_nodes = _log_grid(energy[0], energy[-1], cfg.psf_energy_per_decade)
        n_o = max(2, round(offset_max / cfg.psf_offset_step) + 1)
        o_nodes = np.linspace(0.0, offset_max, n_o)
        probe = np.linspace(0.0, 10.0, 2001)
        cont = psf_containment(
            psf,
            _da(probe, D.RAD, "deg"),
            _da(e_nodes, D.ENERGY_TRUE, "TeV"),
            _da(o_nodes, D.OFFSET, "deg"),
            extrapolate="clip",
        )
        cont = np.nan_to_num(cont.transpose(D.ENERGY_TRUE, D.OFFSET, D.RAD).values)
        end = cont[..., -1:]
        target = cfg.psf_containment_max * end
        first = np.argmax(cont >= target, axis=-1)
        # nodes inside the table's energy nodes decide (extrapolated parameters can be wild)
        table_e = _nodes(psf, D.ENERGY_TRUE, "TeV")
        inner = (e_nodes >= table_e[0]) & (e_nodes <= table_e[-1])
        use = (end[..., 0] > 0) & inner[:, None]
        rad_max = float(probe[first[use]].max(initial=probe[1]))
    rad = rad_max * np.linspace(0.0, 1.0, cfg.rad_points) ** 2
    cont = psf_containment(
        psf,
        _da(rad, D.RAD, "deg"),
        _da(e_nodes, D.ENERGY_TRUE, "TeV"),
        _da(o_nodes, D.OFFSET, "deg"),
        extrapolate="clip",
    )
    cdf = np.nan_to_num(cont.transpose(D.ENERGY_TRUE, D.OFFSET, D.RAD).values)
    return e_nodes, o_nodes, rad, _fill_invalid(_normalise_cdf(cdf))


def _fill_invalid(cdf: np.ndarray) -> np.ndarray:
    """Give nodes without a PSF (all-zero rows, e.g. below the table) the nearest valid one.

    Nearest in energy at the same offset, else nearest in offset.
    """
    valid = cdf[..., -1] > 0
    if valid.all() or not valid.any():
        return cdf
    out = cdf.copy()
    for axis in (0, 1):  # a loop over IRF nodes, not events
        valid = out[..., -1] > 0
        for i, j in zip(*np.nonzero(~valid), strict=True):
            line = valid[:, j] if axis == 0 else valid[i, :]
            good = np.flatnonzero(line)
            if good.size:
                k = good[np.argmin(np.abs(good - (i if axis == 0 else j)))]
                out[i, j] = out[k, j] if axis == 0 else out[i, k]
    return out


def _normalise_cdf(cdf: np.ndarray) -> np.ndarray:
    cdf = np.maximum.accumulate(np.clip(cdf, 0.0, None), axis=-1)
    cdf = cdf - cdf[..., :1]
    total = cdf[..., -1:]
    return np.divide(cdf, total, out=np.zeros_like(cdf), where=total > 0)


def _edisp_table(inst: Instrument):
    edisp = inst.edisp
    e_nodes = _nodes(edisp, D.ENERGY_TRUE, "TeV")
    o_nodes = _nodes(edisp, D.OFFSET, "deg")
    migra_edges = axis_edges(edisp, D.MIGRA)
    pdf = evaluate_edisp(
        edisp,
        _da(e_nodes, D.ENERGY_TRUE, "TeV"),
        None,
        _da(o_nodes, D.OFFSET, "deg"),
        extrapolate="clip",
    )
    pdf = np.clip(np.nan_to_num(pdf.transpose(D.ENERGY_TRUE, D.OFFSET, D.MIGRA).values), 0, None)
    cum = np.concatenate(
        [np.zeros((*pdf.shape[:-1], 1)), np.cumsum(pdf * np.diff(migra_edges), axis=-1)], axis=-1
    )
    valid = cum[..., -1] > 0
    return e_nodes, o_nodes, migra_edges, _normalise_cdf(cum), valid


def _bkg_table(inst: Instrument, cfg: SamplingConfig):
    bkg = inst.bkg
    e_table = _edges(bkg, D.ENERGY, "TeV")
    lo, hi = cfg.bkg_energy or (float(e_table[0]), float(e_table[-1]))
    energy = _log_grid(lo, hi, cfg.bkg_energy_per_decade)
    if bkg.attrs["hdu_class"] == "bkg_3d":
        lon_range = _edges(bkg, D.FOV_LON, "deg")[[0, -1]]
        lat_range = _edges(bkg, D.FOV_LAT, "deg")[[0, -1]]
    else:
        o_max = float(_edges(bkg, D.OFFSET, "deg")[-1])
        lon_range = lat_range = np.array([-o_max, o_max])
    lon_edges = np.linspace(*lon_range, max(2, round(np.ptp(lon_range) / cfg.bkg_step) + 1))
    lat_edges = np.linspace(*lat_range, max(2, round(np.ptp(lat_range) / cfg.bkg_step) + 1))
    lon_c = 0.5 * (lon_edges[1:] + lon_edges[:-1])
    lat_c = 0.5 * (lat_edges[1:] + lat_edges[:-1])
    lon_grid = xr.DataArray(
        np.broadcast_to(lon_c[:, None], (lon_c.size, lat_c.size)),
        dims=("_lon", "_lat"),
        attrs={"units": "deg"},
    )
    lat_grid = xr.DataArray(
        np.broadcast_to(lat_c[None, :], (lon_c.size, lat_c.size)),
        dims=("_lon", "_lat"),
        attrs={"units": "deg"},
    )
    rate = evaluate_background(
        bkg, _da(energy, D.ENERGY, "TeV"), lon_grid, lat_grid, extrapolate="fill"
    )
    rate = np.clip(np.nan_to_num(rate.transpose(D.ENERGY, "_lon", "_lat").values), 0.0, None)
    rate = rate * _factor(bkg["bkg"].attrs.get("units", "s-1 MeV-1 sr-1"), "s-1 TeV-1 sr-1")
    integral = _loglog(rate, energy)
    omega = np.radians(np.diff(lon_edges))[:, None] * np.diff(np.sin(np.radians(lat_edges)))[None]
    align = str(bkg.attrs.get("fov_alignment", "RADEC")).upper()
    return (
        energy,
        (lon_edges, lat_edges),
        integral * omega[None],
        rate.astype(np.float32),
        align == "REVERSE_LON_RADEC",
    )


def _loglog(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Integral over each bin (axis 0) of the power law through the edge values."""
    shape = (-1,) + (1,) * (y.ndim - 1)
    x_lo, x_hi = x[:-1].reshape(shape), x[1:].reshape(shape)
    y_lo, y_hi = y[:-1], y[1:]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        slope = np.log(y_hi / y_lo) / np.log(x_hi / x_lo)
        p = slope + 1.0
        ratio = x_hi / x_lo
        integral = y_lo * x_lo * (ratio**p - 1.0) / p
        integral = np.where(np.abs(p) < 1e-10, y_lo * x_lo * np.log(ratio), integral)
    ok = (y_lo > 0) & (y_hi > 0) & np.isfinite(integral)
    return np.where(ok, integral, 0.0)


def build_tables(instrument: Instrument, config: SamplingConfig | None = None) -> SamplingTables:
    """Evaluate an instrument's IRFs on the sampling grids (see the module docstring).

    Parameters
    ----------
    instrument : Instrument
        The IRFs.
    config : SamplingConfig, optional
        Grid resolution; defaults are fine for the CTA and analytic IRFs.

    Returns
    -------
    SamplingTables
        Plain numpy arrays (a few MB), picklable.
    """
    cfg = config or SamplingConfig()
    energy, offsets, area = _aeff_table(instrument, cfg)
    psf = _psf_table(instrument, cfg, energy, float(offsets[-1]))
    edisp = _edisp_table(instrument)
    bkg = _bkg_table(instrument, cfg) if instrument.bkg is not None else (None,) * 5
    token = hashlib.sha256(f"{instrument.token}{cfg!r}".encode()).hexdigest()
    return SamplingTables(
        cfg,
        energy,
        offsets,
        area,
        *psf,
        *edisp,
        bkg_energy_edges=bkg[0],
        fov_edges=bkg[1],
        bkg_cells=bkg[2],
        bkg_edge_rate=bkg[3],
        reverse_lon=bool(bkg[4]),
        instrument_token=instrument.token,
        _token=token,
    )
