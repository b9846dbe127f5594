"""Light curves: flux points per time interval, and variability measures.

Each dataset carries its time range in attrs ``time_start`` / ``time_stop``
(MJD, scale ``timesys``), as the reduction store writes them per observation.
Time bins are one per dataset by default, given intervals (a dataset belongs
to an interval if its range lies inside, within ``atol``, as Gammapy's
``select_time``), or ``"night"``: the datasets grouped by observing night.
Every (time bin, energy bin) pair is one independent task of one dask graph
(the norm fit of :mod:`gammax.estimators.core`).

Variability (per energy bin, in :func:`variability`): the chi2 of the norms
against their error-weighted mean, its p-value, and the fractional excess
variance with its error (Vaughan et al. 2003, as Gammapy's
``compute_lightcurve_fvar``).

Examples
--------
>>> lce = LightCurveEstimator([0.7, 20] * u.TeV, source="pks2155")  # doctest: +SKIP
>>> lc = lce.run(datasets, models)                                   # doctest: +SKIP
>>> lc.fvar.values, lc.variability_pvalue.values                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError
from .core import as_dataset_list, source_model
from .flux_points import (
    FluxPointsEstimator,
    _part,
    assemble_result,
    estimate_bin,
    prepare,
    run_graph,
)

__all__ = ["LightCurveEstimator", "dataset_time_range", "fractional_variance", "variability"]


def dataset_time_range(ds: xr.Dataset) -> tuple[float, float, str]:
    """``(start, stop, scale)`` of a dataset, MJD, from its attrs."""
    name = ds.attrs.get("name", "")
    try:
        start, stop = float(ds.attrs["time_start"]), float(ds.attrs["time_stop"])
    except KeyError as err:
        raise ConfigError(
            f"dataset {name!r} has no attrs 'time_start'/'time_stop' (MJD): light curves "
            "need per-observation datasets from a reduction store (or set them)"
        ) from err
    return start, stop, str(ds.attrs.get("timesys", "tt")).lower()


def _mjd(value: Any, scale: str) -> float:
    from astropy.time import Time

    if isinstance(value, Time):
        return float(getattr(value, scale).mjd)
    return float(value)


def _intervals(value: Any, scale: str) -> list[tuple[float, float]]:
    out = []
    try:
        pairs = list(value)
    except TypeError as err:
        raise ConfigError(f"time_intervals must be (start, stop) pairs, got {value!r}") from err
    for pair in pairs:
        try:
            start, stop = pair
        except (TypeError, ValueError) as err:
            raise ConfigError(f"time interval {pair!r} is not a (start, stop) pair") from err
        t0, t1 = _mjd(start, scale), _mjd(stop, scale)
        if not t1 > t0:
            raise ConfigError(f"time interval {pair!r}: stop must be after start")
        out.append((t0, t1))
    return out


def night_intervals(
    ranges: Sequence[tuple[float, float]], longitude: float
) -> list[tuple[float, float]]:
    """Group time ranges by observing night: nights change at local solar noon.

    Parameters
    ----------
    ranges : sequence of (start, stop)
        MJD ranges of the datasets.
    longitude : float
        East longitude of the site in degrees (H.E.S.S.: 16.5).

    Examples
    --------
    >>> night_intervals([(53000.9, 53000.92), (53001.0, 53001.02), (53001.9, 53001.95)], 16.5)
    [(53000.9, 53001.02), (53001.9, 53001.95)]
    """
    offset = 0.5 - longitude / 360.0  # UTC day fraction of local noon
    nights: dict[int, list[float]] = {}
    for start, stop in ranges:
        key = int(np.floor(start - offset))
        lo, hi = nights.get(key, [start, stop])
        nights[key] = [min(lo, start), max(hi, stop)]
    return [(lo, hi) for _, (lo, hi) in sorted(nights.items())]


def fractional_variance(
    flux: np.ndarray, flux_err: np.ndarray, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fractional excess variance and its error (Vaughan et al. 2003; Gammapy's ``compute_fvar``).

    Examples
    --------
    >>> fvar, err = fractional_variance(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.1, 0.1]))
    >>> round(float(fvar), 4)  # sqrt(1 - 0.01) / 2
    0.4975
    """
    flux, flux_err = np.asarray(flux, float), np.asarray(flux_err, float)
    mean = np.nanmean(flux, axis=axis)
    n = np.count_nonzero(~np.isnan(flux), axis=axis)
    s2 = np.nansum((flux - np.expand_dims(mean, axis)) ** 2, axis=axis) / (n - 1)
    sig2 = np.nansum(flux_err**2, axis=axis) / n
    fvar = np.sqrt(np.abs(s2 - sig2)) / mean
    a = np.sqrt(2 / n) * sig2 / mean**2
    b = np.sqrt(sig2 / n) * (2 * fvar / mean)
    return fvar, np.sqrt(a**2 + b**2) / (2 * fvar)


def variability(lc: xr.Dataset, quantity: str = "norm") -> xr.Dataset:
    """Variability per energy bin: chi2 vs a constant, p-value, fractional variance.

    Uses ``quantity`` and ``<quantity>_err`` over the time bins with a finite
    value and a positive error. The constant is the error-weighted mean;
    ``variability_dof`` = points - 1.
    """
    from scipy import stats

    x = lc[quantity].transpose(D.TIME, ...).values
    err = lc[f"{quantity}_err"].transpose(D.TIME, ...).values
    ok = np.isfinite(x) & np.isfinite(err) & (err > 0)
    w = np.where(ok, 1.0 / np.where(ok, err, 1.0) ** 2, 0.0)
    xz = np.where(ok, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * xz).sum(axis=0) / w.sum(axis=0)
        chi2 = (w * (xz - mean) ** 2).sum(axis=0)
        dof = ok.sum(axis=0) - 1
        pvalue = np.where(dof > 0, stats.chi2.sf(chi2, np.maximum(dof, 1)), np.nan)
        fvar, fvar_err = fractional_variance(np.where(ok, x, np.nan), np.where(ok, err, np.nan))
    dims = lc[quantity].transpose(D.TIME, ...).dims[1:]
    return xr.Dataset(
        {
            "variability_mean": (dims, mean),
            "variability_chi2": (dims, chi2),
            "variability_dof": (dims, dof.astype(float)),
            "variability_pvalue": (dims, pvalue),
            "fvar": (dims, fvar),
            "fvar_err": (dims, fvar_err),
        }
    )


class LightCurveEstimator(FluxPointsEstimator):
    """Flux points per time interval of one source.

    Parameters
    ----------
    energy_edges : Quantity or sequence
        Energy bins (one bin: an integral light curve).
    source : str or int
        The sky model whose flux is measured.
    time_intervals : None, sequence of (start, stop), or "night"
        None: one bin per dataset; pairs of :class:`astropy.time.Time` (or
        MJD floats in the datasets' scale); ``"night"``: one bin per
        observing night (see :func:`night_intervals`).
    longitude : float
        Site east longitude in degrees for ``"night"`` (default H.E.S.S.).
    atol : float
        Tolerance of the interval selection, in seconds (Gammapy: 1e-6 s).
    **kwargs
        As :class:`~gammax.estimators.flux_points.FluxPointsEstimator`
        (``n_sigma``, ``n_sigma_ul``, ``selection_optional``, ``reoptimize``,
        ``norm_values``, ``backend``, ``scheduler``).
    """

    def __init__(
        self,
        energy_edges: Any,
        source: str | int = 0,
        time_intervals: Any = None,
        longitude: float = 16.5,
        atol: float = 1e-6,
        **kwargs: Any,
    ) -> None:
        super().__init__(energy_edges, source, **kwargs)
        if isinstance(time_intervals, str) and time_intervals != "night":
            raise ConfigError(f"time_intervals {time_intervals!r}: expected None, 'night' or pairs")
        self.time_intervals = time_intervals
        self.longitude = float(longitude)
        self.atol = float(atol)

    def time_bins(self, datasets: Sequence[xr.Dataset]) -> tuple[list, list[list[int]], str]:
        """``(intervals, dataset indices per interval, scale)``; empty intervals dropped."""
        ranges = [dataset_time_range(ds) for ds in datasets]
        scales = {r[2] for r in ranges}
        if len(scales) > 1:
            raise ConfigError(f"datasets have different time scales {sorted(scales)}")
        scale = scales.pop()
        spans = [(r[0], r[1]) for r in ranges]
        if self.time_intervals is None:
            intervals = sorted(set(spans))
        elif self.time_intervals == "night":
            intervals = night_intervals(spans, self.longitude)
        else:
            intervals = _intervals(self.time_intervals, scale)
        atol = self.atol / 86400.0
        out, members = [], []
        for t0, t1 in intervals:
            idx = [i for i, (s, e) in enumerate(spans) if s >= t0 - atol and e <= t1 + atol]
            if idx:
                out.append((t0, t1))
                members.append(idx)
        if not out:
            raise ConfigError("no dataset lies inside any of the time intervals")
        return out, members, scale

    def run(self, datasets: Any, models: Any, client: Any = None) -> xr.Dataset:
        """Estimate the light curve.

        Returns
        -------
        xarray.Dataset
            The flux-point quantities on dims ``(time, energy)`` (per dataset:
            ``(time, energy, dataset)``, NaN for datasets outside a bin),
            coords ``time_min``/``time_max`` (MJD, attrs ``scale``) and the
            energy coords; the variability measures on ``energy``.
        """
        import dask

        datasets = as_dataset_list(datasets)
        source_model(models, self.source)
        intervals, members, scale = self.time_bins(datasets)
        bins = self.bins(datasets)
        models_node = dask.delayed(models, pure=True)
        opts = self._options()
        tasks = []
        for idx in members:
            group = [datasets[i] for i in idx]
            shared = dask.delayed(prepare, pure=True)(group, models_node, self.source)
            loaded = dask.delayed(_part, pure=True)(shared, 0)
            preds = dask.delayed(_part, pure=True)(shared, 1)
            tasks += [
                dask.delayed(estimate_bin, pure=True)(loaded, models_node, preds, b, opts)
                for b in bins
            ]
        rows = run_graph(tasks, client, self.scheduler)
        names = [str(ds.attrs.get("name", "")) for ds in datasets]
        per_time = []
        nb = len(bins)
        for k, idx in enumerate(members):
            chunk = []
            for row in rows[k * nb : (k + 1) * nb]:
                row = dict(row)
                for key in ("counts", "npred", "npred_excess"):
                    full = np.full(len(datasets), np.nan)
                    full[idx] = row[key]
                    row[key] = full
                chunk.append(row)
            per_time.append(assemble_result(chunk, bins, names, models, self))
        lc = xr.concat(
            per_time,
            dim=D.TIME,
            data_vars="all",
            coords="minimal",
            compat="override",
            join="override",
            combine_attrs="override",
        )
        for key in [k for k in lc.data_vars if k.startswith("ref_")]:
            lc[key] = lc[key].isel({D.TIME: 0}, drop=True) if D.TIME in lc[key].dims else lc[key]
        t = np.array(intervals, float)
        attrs = {"units": "d", "scale": scale, "format": "mjd"}
        lc = lc.assign_coords(
            time_min=((D.TIME,), t[:, 0], attrs), time_max=((D.TIME,), t[:, 1], attrs)
        )
        lc = lc.assign(variability(lc))
        lc.attrs["estimator"] = type(self).__name__
        kind = self.time_intervals if isinstance(self.time_intervals, str) else "given"
        lc.attrs["time_intervals"] = "per-dataset" if self.time_intervals is None else kind
        return lc
