r"""A built-in analytic instrument: IRFs defined by documented formulas.

:class:`AnalyticInstrument` holds the parameters; its methods build the IRF
Datasets in exactly the layout :func:`gammax.io.read_irf` returns (CF bounds,
``interp_scale``, units, header-like attrs), so that every gammax function
that takes IRFs takes these, and :func:`~gammax.simulate.irf_fits.irf_to_hdu`
writes them as GADF HDUs that gammax and Gammapy read. Values are ``float32``
and bin edges are ``float32``-representable, as in GADF files: an analytic IRF
written to FITS and read back is bit-identical.

With :math:`x = E / E_0` and the offset :math:`\theta` from the pointing:

Effective area (``aeff_2d``, m²)
    :math:`A(E, \theta) = A_0 \frac{x^a}{1 + x^a} \exp(-\theta^2 / 2\sigma_\theta^2)`.
    ``LO_THRES`` is the energy where :math:`A/A_0 = 0.1` on axis,
    :math:`E_0 \, 9^{-1/a}`; ``HI_THRES`` is ``energy_threshold_hi``.

PSF (``psf_3gauss`` with one Gaussian, or ``psf_table``)
    :math:`P(r) = \frac{1}{2\pi\sigma^2} \exp(-r^2 / 2\sigma^2)` with
    :math:`\sigma(E, \theta) = \mathrm{clip}(\sigma_0 (E / 1\,\mathrm{TeV})^{-\beta}
    (1 + \kappa\theta^2), \sigma_{min}, \sigma_{max})`. As ``psf_3gauss``:
    ``SCALE`` :math:`= 1 / 2\pi\sigma^2` (sr⁻¹), ``SIGMA_1`` :math:`= \sigma`,
    ``AMPL_2 = AMPL_3 = 0``.

Energy dispersion (``edisp_2d``)
    The migration :math:`\mu = E_{reco} / E_{true}` is Gaussian with mean
    :math:`1 + b(E)` and width :math:`r(E)`:
    :math:`b(E) = \mathrm{clip}(b_0 (E / 1\,\mathrm{TeV})^{-\beta_b}, -0.5, 0.5)`,
    :math:`r(E) = \mathrm{clip}(r_0 (E / 1\,\mathrm{TeV})^{-\rho}, r_{min}, r_{max})`,
    independent of the offset; tabulated at the migra bin centres and
    normalised to unit integral over the migra bins.

Background (``bkg_3d`` or ``bkg_2d``, s⁻¹ MeV⁻¹ sr⁻¹)
    :math:`B(E, l, b) = B_0 (E / 1\,\mathrm{TeV})^{-\Gamma} \frac{x^a}{1 + x^a}
    \exp(-(l^2 + b^2) / 2\sigma_b^2)` in RA/Dec-aligned FoV coordinates
    (``FOVALIGN='RADEC'``); ``bkg_2d`` uses :math:`l^2 + b^2 = \theta^2`. The
    trigger factor :math:`x^a / (1 + x^a)` is the effective area's.

Each table IRF holds the formula evaluated at its bin centres (geometric centres
in energy); the GADF interpolation between them is what gammax and Gammapy
evaluate.

Examples
--------
>>> inst = AnalyticInstrument(aeff_max=1e5)
>>> aeff = inst.aeff()
>>> aeff["aeff"].dims
('energy_true', 'offset')
>>> round(float(aeff.attrs["energy_threshold_lo"]), 4)
0.0623
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError
from ..io.gadf import IRF_SPECS
from ..io.irf_table import bin_centers
from ..units import unit_string

__all__ = ["AnalyticInstrument"]

_DEG2_PER_SR = (180.0 / np.pi) ** 2


@dataclass(frozen=True)
class AnalyticInstrument:
    """Parameters of the analytic instrument; the formulas are in the module docstring.

    Energies are in TeV, angles in degrees, areas in m², the background
    normalisation in s⁻¹ MeV⁻¹ sr⁻¹. The defaults describe a generic
    CTA-like array.

    Examples
    --------
    >>> irfs = AnalyticInstrument(psf_sigma=0.05).irfs()
    >>> sorted(irfs)
    ['aeff', 'bkg', 'edisp', 'psf']
    """

    #: Effective area plateau :math:`A_0` (m²).
    aeff_max: float = 3.0e5
    #: Energy :math:`E_0` of half the plateau (TeV).
    aeff_energy: float = 0.15
    #: Steepness :math:`a` of the rise.
    aeff_index: float = 2.5
    #: Gaussian offset width :math:`\sigma_\theta` of the acceptance (deg).
    aeff_offset_sigma: float = 2.5
    #: PSF width :math:`\sigma_0` at 1 TeV on axis (deg).
    psf_sigma: float = 0.06
    #: PSF energy slope :math:`\beta`.
    psf_index: float = 0.25
    #: PSF growth with offset :math:`\kappa` (deg⁻²).
    psf_offset_coeff: float = 0.02
    #: PSF width limits :math:`\sigma_{min}, \sigma_{max}` (deg).
    psf_sigma_range: tuple[float, float] = (0.02, 0.5)
    #: Energy resolution :math:`r_0` at 1 TeV.
    edisp_resolution: float = 0.1
    #: Resolution energy slope :math:`\rho`.
    edisp_index: float = 0.15
    #: Resolution limits :math:`r_{min}, r_{max}`.
    edisp_resolution_range: tuple[float, float] = (0.05, 0.25)
    #: Energy bias :math:`b_0` at 1 TeV.
    edisp_bias: float = 0.0
    #: Bias energy slope :math:`\beta_b`.
    edisp_bias_index: float = 0.5
    #: Background rate :math:`B_0` at 1 TeV on axis (s⁻¹ MeV⁻¹ sr⁻¹).
    bkg_norm: float = 4.0e-6
    #: Background spectral index :math:`\Gamma`.
    bkg_index: float = 2.7
    #: Background FoV width :math:`\sigma_b` (deg).
    bkg_offset_sigma: float = 2.0
    #: True (and reconstructed) energy range of the tables (TeV).
    energy_range: tuple[float, float] = (0.01, 300.0)
    #: Energy bins per decade.
    energy_per_decade: int = 10
    #: Largest offset of the tables (deg) and offset bin width (deg).
    offset_max: float = 6.0
    offset_step: float = 0.5
    #: Migration range and bin width.
    migra_range: tuple[float, float] = (0.1, 3.0)
    migra_step: float = 0.01
    #: FoV bin width of ``bkg_3d`` (deg); the table spans ``+-offset_max``.
    bkg_step: float = 0.25
    #: Largest PSF ``rad`` of a ``psf_table`` (deg) and number of rad bins.
    rad_max: float = 2.0
    rad_bins: int = 200
    #: IRF classes to build.
    psf_class: str = "psf_3gauss"
    bkg_class: str = "bkg_3d"
    #: Upper safe energy threshold ``HI_THRES`` (TeV).
    energy_threshold_hi: float = 100.0
    #: ``TELESCOP`` / ``INSTRUME`` keywords.
    telescope: str = "GAMMAX-SIM"
    instrument: str = "analytic"

    def __post_init__(self) -> None:
        if self.psf_class not in ("psf_3gauss", "psf_table"):
            raise ConfigError(f"psf_class={self.psf_class!r}; expected 'psf_3gauss' or 'psf_table'")
        if self.bkg_class not in ("bkg_3d", "bkg_2d"):
            raise ConfigError(f"bkg_class={self.bkg_class!r}; expected 'bkg_3d' or 'bkg_2d'")
        lo, hi = self.energy_range
        if not 0 < lo < hi:
            raise ConfigError(f"energy_range={self.energy_range}; expected 0 < lo < hi")

    # -- the formulas ---------------------------------------------------------------
    def trigger(self, energy: np.ndarray) -> np.ndarray:
        """Rising factor :math:`x^a / (1 + x^a)`, :math:`x = E / E_0` (E in TeV)."""
        xa = (np.asarray(energy, float) / self.aeff_energy) ** self.aeff_index
        return xa / (1.0 + xa)

    def aeff_value(self, energy: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Effective area (m²) at true energies (TeV) and offsets (deg)."""
        offset = np.asarray(offset, float)
        return (
            self.aeff_max
            * self.trigger(energy)
            * np.exp(-0.5 * offset**2 / self.aeff_offset_sigma**2)
        )

    def psf_width(self, energy: np.ndarray, offset: np.ndarray) -> np.ndarray:
        r"""Gaussian PSF width :math:`\sigma(E, \theta)` (deg)."""
        energy, offset = np.asarray(energy, float), np.asarray(offset, float)
        sigma = self.psf_sigma * energy**-self.psf_index * (1 + self.psf_offset_coeff * offset**2)
        return np.clip(sigma, *self.psf_sigma_range)

    def edisp_resolution_bias(self, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Resolution :math:`r(E)` and bias :math:`b(E)` of the migration."""
        energy = np.asarray(energy, float)
        res = np.clip(
            self.edisp_resolution * energy**-self.edisp_index, *self.edisp_resolution_range
        )
        bias = np.clip(self.edisp_bias * energy**-self.edisp_bias_index, -0.5, 0.5)
        return res, bias

    def bkg_value(self, energy: np.ndarray, offset2: np.ndarray) -> np.ndarray:
        """Background rate (s⁻¹ MeV⁻¹ sr⁻¹) at reco energies (TeV) and squared offsets (deg²)."""
        energy = np.asarray(energy, float)
        return (
            self.bkg_norm
            * energy**-self.bkg_index
            * self.trigger(energy)
            * np.exp(-0.5 * np.asarray(offset2, float) / self.bkg_offset_sigma**2)
        )

    # -- axes -------------------------------------------------------------------------
    def _energy_edges(self) -> np.ndarray:
        lo, hi = np.log10(self.energy_range)
        n = max(1, int(np.ceil((hi - lo) * self.energy_per_decade - 1e-9)))
        return np.logspace(lo, hi, n + 1)

    def _linear_edges(self, lo: float, hi: float, step: float) -> np.ndarray:
        n = max(1, round((hi - lo) / step))
        return np.linspace(lo, hi, n + 1)

    def _rad_edges(self) -> np.ndarray:
        # quadratic spacing resolves the narrow high-energy PSF near rad = 0
        return self.rad_max * np.linspace(0.0, 1.0, self.rad_bins + 1) ** 2

    # -- IRF Datasets -----------------------------------------------------------------
    def _dataset(
        self,
        hdu_class: str,
        axes: dict[str, np.ndarray],
        values: dict,
        units: dict,
        attrs: dict | None = None,
    ) -> xr.Dataset:
        spec = IRF_SPECS[hdu_class]
        coords = {}
        for axis in spec.axes:
            edges = np.asarray(axes[axis.dim], np.float32).astype(np.float64)
            lo, hi = edges[:-1], edges[1:]
            unit = unit_string(axis.default_unit)
            coords[axis.dim] = xr.Variable(
                axis.dim,
                bin_centers(lo, hi, axis.scale),
                {
                    "units": unit,
                    "interp_scale": axis.scale,
                    "bounds": D.bounds_name(axis.dim),
                    "node_type": "edges",
                },
            )
            coords[D.bounds_name(axis.dim)] = xr.Variable(
                (axis.dim, D.BOUNDS), np.stack([lo, hi], axis=-1), {"units": unit}
            )
        centers = {dim: coords[dim].values for dim in spec.dims}
        data_vars = {}
        for var, func in values.items():
            grid = np.meshgrid(*[centers[d] for d in spec.dims], indexing="ij")
            data_vars[var] = xr.Variable(
                spec.dims,
                np.asarray(func(*grid), np.float32),
                {
                    "units": unit_string(units[var]),
                    "interp_scale": spec.values_scale,
                    "fits_column": spec.data[var][0],
                },
            )
        header = {
            "HDUCLASS": "GADF",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS3": "FULL-ENCLOSURE",
            "HDUCLAS4": hdu_class.upper(),
            "TELESCOP": self.telescope,
            "INSTRUME": self.instrument,
        }
        out = {
            **header,
            "hdu_class": hdu_class,
            "hdu_type": spec.hdu_type,
            "is_pointlike": False,
            **(attrs or {}),
        }
        return xr.Dataset(data_vars, coords=coords, attrs=out)

    def aeff(self) -> xr.Dataset:
        """The effective area as an ``aeff_2d`` IRF Dataset."""
        e_lo = self.aeff_energy * 9.0 ** (-1.0 / self.aeff_index)
        return self._dataset(
            "aeff_2d",
            {
                D.ENERGY_TRUE: self._energy_edges(),
                D.OFFSET: self._linear_edges(0.0, self.offset_max, self.offset_step),
            },
            {"aeff": self.aeff_value},
            {"aeff": "m2"},
            {
                "LO_THRES": float(np.float32(e_lo)),
                "HI_THRES": float(self.energy_threshold_hi),
                "energy_threshold_lo": float(np.float32(e_lo)),
                "energy_threshold_lo_units": "TeV",
                "energy_threshold_hi": float(self.energy_threshold_hi),
                "energy_threshold_hi_units": "TeV",
            },
        )

    def edisp(self) -> xr.Dataset:
        """The energy dispersion as an ``edisp_2d`` IRF Dataset (normalised over migra)."""
        migra_edges = self._linear_edges(*self.migra_range, self.migra_step)
        migra_edges = migra_edges.astype(np.float32).astype(np.float64)
        width = np.diff(migra_edges)

        def density(energy, migra, offset):
            res, bias = self.edisp_resolution_bias(energy)
            pdf = np.exp(-0.5 * ((migra - 1.0 - bias) / res) ** 2)
            norm = np.sum(pdf * width[np.newaxis, :, np.newaxis], axis=1, keepdims=True)
            return pdf / norm

        return self._dataset(
            "edisp_2d",
            {
                D.ENERGY_TRUE: self._energy_edges(),
                D.MIGRA: migra_edges,
                D.OFFSET: self._linear_edges(0.0, self.offset_max, self.offset_step),
            },
            {"edisp": density},
            {"edisp": ""},
        )

    def psf(self) -> xr.Dataset:
        """The PSF as a ``psf_3gauss`` (one Gaussian) or ``psf_table`` IRF Dataset."""
        axes = {
            D.ENERGY_TRUE: self._energy_edges(),
            D.OFFSET: self._linear_edges(0.0, self.offset_max, self.offset_step),
        }
        if self.psf_class == "psf_table":
            axes[D.RAD] = self._rad_edges()

            def table(energy, offset, rad):
                sigma = self.psf_width(energy, offset)
                return _DEG2_PER_SR / (2 * np.pi * sigma**2) * np.exp(-0.5 * (rad / sigma) ** 2)

            return self._dataset("psf_table", axes, {"psf": table}, {"psf": "sr-1"})

        def scale(energy, offset):
            return _DEG2_PER_SR / (2 * np.pi * self.psf_width(energy, offset) ** 2)

        def zero(energy, offset):
            return np.zeros(np.shape(energy))

        return self._dataset(
            "psf_3gauss",
            axes,
            {
                "sigma_1": self.psf_width,
                "sigma_2": self.psf_width,
                "sigma_3": self.psf_width,
                "scale": scale,
                "ampl_2": zero,
                "ampl_3": zero,
            },
            {
                "sigma_1": "deg",
                "sigma_2": "deg",
                "sigma_3": "deg",
                "scale": "sr-1",
                "ampl_2": "",
                "ampl_3": "",
            },
        )

    def bkg(self) -> xr.Dataset:
        """The background as a ``bkg_3d`` (or ``bkg_2d``) IRF Dataset, ``FOVALIGN='RADEC'``."""
        energy = self._energy_edges()
        unit = {"bkg": "1 / (MeV s sr)"}
        if self.bkg_class == "bkg_2d":
            offsets = self._linear_edges(0.0, self.offset_max, self.offset_step)
            return self._dataset(
                "bkg_2d",
                {D.ENERGY: energy, D.OFFSET: offsets},
                {"bkg": lambda e, o: self.bkg_value(e, o**2)},
                unit,
                {"FOVALIGN": "RADEC", "fov_alignment": "RADEC"},
            )
        fov = self._linear_edges(-self.offset_max, self.offset_max, self.bkg_step)
        return self._dataset(
            "bkg_3d",
            {D.ENERGY: energy, D.FOV_LON: fov, D.FOV_LAT: fov},
            {"bkg": lambda e, lon, lat: self.bkg_value(e, lon**2 + lat**2)},
            unit,
            {"FOVALIGN": "RADEC", "fov_alignment": "RADEC"},
        )

    def irfs(self) -> dict[str, xr.Dataset]:
        """All four IRFs by HDU type: ``aeff``, ``edisp``, ``psf``, ``bkg``."""
        return {"aeff": self.aeff(), "edisp": self.edisp(), "psf": self.psf(), "bkg": self.bkg()}

    def to_dict(self) -> dict:
        """The parameters as a plain dict (for provenance records)."""
        return asdict(self)
