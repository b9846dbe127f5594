"""Estimators: flux points, light curves, excess/TS maps and sensitivity (DL5 products).

Each estimator is embarrassingly parallel over energy bins, time intervals or
image tiles and runs as a dask graph (local scheduler by default, a
``distributed.Client`` through ``client=``). Results are :class:`xarray.Dataset`
objects with named dims that carry the reference model and the estimator's
parameters in JSON-able attrs, so they write to Zarr as they are.

- :class:`FluxPointsEstimator`, :class:`LightCurveEstimator`: a norm per energy
  bin (and time interval) of the source's spectral model, with errors,
  asymmetric errors, upper limits, TS and likelihood scans;
  :func:`write_flux_points` / :func:`write_light_curve` give Gammapy's
  ``gadf-sed`` / ``lightcurve`` tables (FITS or ECSV); :func:`plot_sed`,
  :func:`plot_light_curve`.
- :class:`ExcessMapEstimator`: correlated excess and significance maps (Cash
  for a known background, WStat for ON/OFF); :class:`TSMapEstimator`: a
  source kernel's amplitude fitted at every pixel, over image tiles with a
  kernel halo; :class:`SensitivityEstimator`: differential IACT-style
  sensitivity; :func:`plot_significance_map`, :func:`plot_ts_map`,
  :func:`plot_significance_distribution`, :func:`significance_figure`.
"""

from __future__ import annotations

from .core import read_reference_model, sed_quantity
from .excess_map import ExcessMapEstimator, cash_counts_statistic, wstat_counts_statistic
from .flux_points import FluxPointsEstimator
from .io import read_flux_points, read_light_curve, to_table, write_flux_points, write_light_curve
from .light_curve import LightCurveEstimator, fractional_variance, variability
from .map_plot import (
    plot_significance_distribution,
    plot_significance_map,
    plot_ts_map,
    significance_figure,
)
from .plot import model_sed_band, plot_light_curve, plot_sed
from .sensitivity import SensitivityEstimator, criterion_names
from .ts_map import TSMapEstimator, fit_amplitudes

__all__ = [
    "ExcessMapEstimator",
    "FluxPointsEstimator",
    "LightCurveEstimator",
    "SensitivityEstimator",
    "TSMapEstimator",
    "cash_counts_statistic",
    "criterion_names",
    "fit_amplitudes",
    "fractional_variance",
    "model_sed_band",
    "plot_light_curve",
    "plot_sed",
    "plot_significance_distribution",
    "plot_significance_map",
    "plot_ts_map",
    "read_flux_points",
    "read_light_curve",
    "read_reference_model",
    "sed_quantity",
    "significance_figure",
    "to_table",
    "variability",
    "write_flux_points",
    "write_light_curve",
    "wstat_counts_statistic",
]
