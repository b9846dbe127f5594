r"""Synthetic source populations along the Galactic plane, and a Galactic diffuse component.

:func:`galactic_population` draws sources with

- Galactic longitude uniform in ``lon_range``, latitude Gaussian (``lat_sigma``);
- integral fluxes above 1 TeV :math:`S` (in Crab units, :data:`CRAB_FLUX_1TEV`)
  from a log N - log S law :math:`N(>S) \propto S^{-\alpha}` between
  ``flux_range``;
- power-law spectra with Gaussian-distributed indices;
- a fraction of extended sources, Gaussians or disks with log-uniform sizes.

:func:`galactic_diffuse` is an analytic ridge, tabulated as a spatial template:
:math:`I(l, b) \propto \exp(-b^2 / 2\sigma_b^2) / (1 + (l / l_0)^2)` on a CAR
map, with a power-law spectrum.

Both return gammax models (Gammapy-compatible YAML).

Examples
--------
>>> models = galactic_population(20, seed=1)
>>> len(models), models[0].spectral_model.tag[0]
(20, 'PowerLawSpectralModel')
>>> diffuse = galactic_diffuse(lon_range=(-30, 30), binsz=0.2)
>>> diffuse.spatial_model.tag[0]
'TemplateSpatialModel'
"""

from __future__ import annotations

import numpy as np

from ..geom import WcsGeom
from ..models import (
    DiskSpatialModel,
    GaussianSpatialModel,
    Models,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
    TemplateSpatialModel,
)

__all__ = ["CRAB_FLUX_1TEV", "galactic_diffuse", "galactic_population", "power_law_amplitude"]

#: Integral flux of the Crab nebula above 1 TeV (cm-2 s-1), as used by the HGPS.
CRAB_FLUX_1TEV = 2.26e-11


def power_law_amplitude(flux_above_1tev: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Amplitude at 1 TeV (cm-2 s-1 TeV-1) of power laws with the given integral flux above 1 TeV.

    Examples
    --------
    >>> float(power_law_amplitude(1e-11, 2.0))
    1e-11
    """
    return np.asarray(flux_above_1tev, float) * (np.asarray(index, float) - 1.0)


def _log_n_log_s(rng: np.random.Generator, n: int, lo: float, hi: float, alpha: float):
    u = rng.random(n)
    return lo * (1.0 - u * (1.0 - (hi / lo) ** -alpha)) ** (-1.0 / alpha)


def galactic_population(
    n_sources: int,
    *,
    seed: int = 0,
    lon_range: tuple[float, float] = (-60.0, 60.0),
    lat_sigma: float = 0.5,
    flux_range: tuple[float, float] = (0.003, 1.0),
    alpha: float = 1.0,
    index_mean: float = 2.4,
    index_sigma: float = 0.2,
    extended_fraction: float = 0.5,
    size_range: tuple[float, float] = (0.03, 0.5),
    disk_fraction: float = 0.3,
    name_prefix: str = "src",
) -> Models:
    r"""A seeded synthetic source population (see the module docstring).

    Parameters
    ----------
    n_sources : int
        Number of sources.
    seed : int
        Seed of the population (independent of the event seeds).
    lon_range : (float, float)
        Galactic longitude range (deg); ``(-60, 60)`` spans the inner Galaxy.
    lat_sigma : float
        Gaussian width of the latitude distribution (deg).
    flux_range : (float, float)
        Integral flux above 1 TeV, in Crab units.
    alpha : float
        Slope of :math:`N(>S) \propto S^{-\alpha}` (1: a disk population).
    index_mean, index_sigma : float
        Spectral index distribution.
    extended_fraction : float
        Fraction of extended sources; of those, ``disk_fraction`` are disks,
        the others Gaussians, with sizes (``sigma`` or ``r_0``) log-uniform in
        ``size_range`` (deg).
    name_prefix : str
        Sources are named ``<prefix>-0000`` ...

    Returns
    -------
    gammax.models.Models
        Brightest first.
    """
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0x9E37,)))
    n = int(n_sources)
    lon = rng.uniform(*lon_range, n) % 360.0
    lat = rng.normal(0.0, lat_sigma, n)
    flux = np.sort(_log_n_log_s(rng, n, *flux_range, alpha))[::-1] * CRAB_FLUX_1TEV
    index = np.round(np.clip(rng.normal(index_mean, index_sigma, n), 1.5, 4.0), 4)
    amplitude = power_law_amplitude(flux, index)
    extended = rng.random(n) < extended_fraction
    disk = rng.random(n) < disk_fraction
    size = np.exp(rng.uniform(*np.log(size_range), n))
    models = []
    for i in range(n):
        position = {"lon_0": f"{lon[i]:.6f} deg", "lat_0": f"{lat[i]:.6f} deg", "frame": "galactic"}
        if not extended[i]:
            spatial = PointSpatialModel(**position)
        elif disk[i]:
            spatial = DiskSpatialModel(r_0=f"{size[i]:.5f} deg", **position)
        else:
            spatial = GaussianSpatialModel(sigma=f"{size[i]:.5f} deg", **position)
        spectral = PowerLawSpectralModel(
            index=float(index[i]), amplitude=f"{amplitude[i]:.9e} cm-2 s-1 TeV-1"
        )
        models.append(SkyModel(spectral, spatial, name=f"{name_prefix}-{i:04d}"))
    return Models(models)


def galactic_diffuse(
    *,
    lon_range: tuple[float, float] = (-70.0, 70.0),
    lat_max: float = 5.0,
    lat_sigma: float = 1.0,
    lon_scale: float = 30.0,
    binsz: float = 0.1,
    flux_crab: float = 2.0,
    index: float = 2.7,
    name: str = "diffuse",
) -> SkyModel:
    r"""An analytic Galactic ridge as a template sky model.

    Parameters
    ----------
    lon_range : (float, float)
        Longitudes covered by the template (deg).
    lat_max : float
        The template covers :math:`|b| \le` ``lat_max`` (deg).
    lat_sigma, lon_scale : float
        :math:`\sigma_b` and :math:`l_0` of the profile (deg).
    binsz : float
        Template pixel size (deg).
    flux_crab : float
        Integral flux above 1 TeV of the whole template, in Crab units.
    index : float
        Spectral index.
    name : str
        Model name.
    """
    lo, hi = lon_range
    geom = WcsGeom.create(
        skydir=(0.5 * (lo + hi), 0.0),
        width=(hi - lo, 2 * lat_max),
        binsz=binsz,
        frame="galactic",
        proj="CAR",
    )
    coords = geom.get_coord()
    lon = (coords["lon"].values + 180.0) % 360.0 - 180.0
    lat = coords["lat"].values
    values = np.exp(-0.5 * (lat / lat_sigma) ** 2) / (1.0 + (lon / lon_scale) ** 2)
    template = TemplateSpatialModel(geom.wrap(values, unit=""), normalize=True)
    amplitude = power_law_amplitude(flux_crab * CRAB_FLUX_1TEV, index)
    spectral = PowerLawSpectralModel(index=index, amplitude=f"{amplitude:.5e} cm-2 s-1 TeV-1")
    return SkyModel(spectral, template, name=name)
