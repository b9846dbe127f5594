"""What an :class:`~gammax.analysis.Analysis` leaves in its output directory.

.. code-block:: text

    <outdir>/
      config.yaml          the configuration, every value explicit
      datasets.zarr/       reduction store: map/ (3D) or spectrum/ (1D), per observation + stacked
      models.yaml          best-fit models (Gammapy format, with covariance file)
      flux_points.ecsv     flux points (gadf-sed, e2dnde)
      light_curve.ecsv     light curve
      excess_map.zarr/     excess, significance ... maps (3D)
      plots/               counts.png, excess.png, significance.png, residuals.png,
                           sed.png, light_curve.png (1D: counts.png and residuals.png
                           are spectra)
      summary.json         observations, fit (values, errors, statistic), estimator figures,
                           timings, files
      provenance.json      versions, configuration, command, platform, times

Examples
--------
>>> sorted(PLOTS["3d"])
['counts', 'excess', 'light_curve', 'residuals', 'sed', 'significance']
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import logging
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D

__all__ = ["PLOTS", "provenance", "summary", "write_outputs"]

log = logging.getLogger("gammax.analysis")

#: Plots per dataset type (and the step each needs).
PLOTS = {
    "3d": {
        "counts": "datasets",
        "residuals": "fit",
        "excess": "excess_map",
        "significance": "excess_map",
        "sed": "flux_points",
        "light_curve": "light_curve",
    },
    "1d": {
        "counts": "datasets",
        "residuals": "fit",
        "sed": "flux_points",
        "light_curve": "light_curve",
    },
}

_PACKAGES = (
    "gammax",
    "numpy",
    "scipy",
    "xarray",
    "dask",
    "distributed",
    "zarr",
    "astropy",
    "iminuit",
    "regions",
    "matplotlib",
)


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _float(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def provenance(analysis: Any) -> dict[str, Any]:
    """Versions, configuration, command line, platform and times of a run."""
    now = datetime.datetime.now(datetime.UTC)
    started = datetime.datetime.fromtimestamp(analysis.started, datetime.UTC)
    obs = analysis.observations
    return {
        "created": now.isoformat(timespec="seconds"),
        "started": started.isoformat(timespec="seconds"),
        "versions": {name: _version(name) for name in _PACKAGES},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "command": list(sys.argv),
        "compute": analysis.compute_description,
        "datastore": None if obs is None else str(obs.root),
        "obs_ids": None if obs is None else [int(o) for o in obs.obs_ids],
        "config": analysis.config.to_dict(),
    }


def _fit_summary(result: Any) -> dict[str, Any]:
    errors = result.errors
    return {
        "success": bool(result.success),
        "message": str(result.message),
        "backend": result.backend,
        "total_stat": _float(result.total_stat),
        "nfev": int(result.nfev),
        "parameters": {
            k: {"value": _float(v), "error": _float(errors[k])} for k, v in result.values.items()
        },
    }


def _dataset_summary(ds: xr.Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": str(ds.attrs.get("name")),
        "type": ds.attrs.get("gammax_dataset"),
    }
    mask = ds.mask_safe.astype(bool) if "mask_safe" in ds else True
    out["counts"] = _float(ds.counts.where(mask, 0).sum())
    if "background" in ds:
        out["background"] = _float(ds.background.where(mask, 0).sum())
    if "counts_off" in ds:
        alpha = (ds.acceptance / ds.acceptance_off).where(ds.acceptance_off > 0, 0)
        out["counts_off"] = _float(ds.counts_off.where(mask, 0).sum())
        out["background"] = _float((alpha * ds.counts_off).where(mask, 0).sum())
    if "livetime" in ds.attrs:
        out["livetime_s"] = _float(ds.attrs["livetime"])
    return out


def summary(analysis: Any) -> dict[str, Any]:
    """The summary of a run (what ``summary.json`` holds)."""
    out: dict[str, Any] = {"type": analysis.kind, "outdir": str(analysis.outdir)}
    if analysis.observations is not None:
        out["observations"] = [int(o) for o in analysis.observations.obs_ids]
    if analysis.datasets is not None:
        out["datasets"] = [_dataset_summary(ds) for ds in analysis.datasets]
    if analysis.fit_result is not None:
        out["fit"] = _fit_summary(analysis.fit_result)
    fp = analysis.flux_points
    if fp is not None:
        out["flux_points"] = {
            "n_bins": int(fp.sizes[D.ENERGY]),
            "energy_min": [_float(v) for v in fp.energy_min.values],
            "energy_max": [_float(v) for v in fp.energy_max.values],
            "norm": [_float(v) for v in np.ravel(fp.norm.values)],
            "norm_err": [_float(v) for v in np.ravel(fp.norm_err.values)],
            "sqrt_ts": [_float(v) for v in np.ravel(fp.sqrt_ts.values)],
        }
    lc = analysis.light_curve
    if lc is not None:
        entry: dict[str, Any] = {"n_bins": int(lc.sizes.get("time", 0))}
        for key in ("variability_chi2", "variability_dof", "variability_pvalue", "fvar"):
            if key in lc:  # one value per energy bin
                entry[key] = [_float(v) for v in np.ravel(lc[key].values)]
        entry["norm"] = [_float(v) for v in np.ravel(lc.norm.values)]
        entry["norm_err"] = [_float(v) for v in np.ravel(lc.norm_err.values)]
        out["light_curve"] = entry
    em = analysis.excess_map
    if em is not None and "sqrt_ts" in em:
        sig = np.asarray(em.sqrt_ts.values, float)
        out["excess_map"] = {
            "max_significance": _float(np.nanmax(sig)) if np.isfinite(sig).any() else None,
            "correlation_radius": str(analysis.config.excess_map.correlation_radius),
        }
    if analysis.notes:
        out["notes"] = list(analysis.notes)
    if analysis.plot_errors:
        out["plot_errors"] = dict(analysis.plot_errors)
    out["timings_s"] = {k: round(v, 3) for k, v in analysis.timings.items()}
    out["compute"] = analysis.compute_description
    out["files"] = {
        k: str(Path(v).relative_to(analysis.outdir)) for k, v in analysis.written.items()
    }
    return out


# -- plots -----------------------------------------------------------------------------------
def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


def _npred(analysis: Any, ds: xr.Dataset) -> xr.DataArray:
    from ..fit import npred

    return npred(ds, analysis.models)


def _image(da: xr.DataArray) -> xr.DataArray:
    return da.sum(D.ENERGY) if D.ENERGY in da.dims else da


def plot_counts(analysis: Any, path: Path) -> Path:
    """Counts image (3D) or counts spectrum (1D) of the first dataset."""
    from ..geom.plot import plot_map

    plt = _figure()
    ds = analysis.datasets[0]
    if analysis.kind == "3d":
        ax = plot_map(_image(ds.counts).compute(), stretch="sqrt", cmap="viridis")
        ax.set_title(f"counts, dataset {ds.attrs.get('name')}")
        return _save(plt, ax.figure, path)
    fig, ax = plt.subplots(figsize=(6, 4))
    e = ds.energy.values
    ax.step(e, ds.counts.values, where="mid", label="ON counts")
    if "counts_off" in ds:
        alpha = (ds.acceptance / ds.acceptance_off).where(ds.acceptance_off > 0, 0)
        ax.step(e, (alpha * ds.counts_off).values, where="mid", label="alpha x OFF counts")
    ax.set_xscale("log")
    ax.set_xlabel(f"energy [{ds.energy.attrs.get('units', 'TeV')}]")
    ax.set_ylabel("counts")
    ax.legend()
    return _save(plt, fig, path)


def plot_residuals(analysis: Any, path: Path) -> Path:
    """(counts - npred) / sqrt(npred): an image (3D, smoothed) or a spectrum (1D)."""
    from scipy.ndimage import gaussian_filter

    from ..geom.plot import plot_map

    plt = _figure()
    ds = analysis.datasets[0].compute()
    mu = _npred(analysis, ds)
    mask = ds.mask_safe.astype(bool) if "mask_safe" in ds else xr.ones_like(ds.counts, bool)
    if analysis.kind == "3d":
        counts = _image(ds.counts.where(mask, 0))
        model = _image(mu.where(mask, 0))
        sigma = 2.0
        c = gaussian_filter(np.asarray(counts, float), sigma)
        m = gaussian_filter(np.asarray(model, float), sigma)
        with np.errstate(invalid="ignore", divide="ignore"):
            res = np.where(m > 0, (c - m) / np.sqrt(m / (4 * np.pi * sigma**2)), np.nan)
        ax = plot_map(counts.copy(data=res), cmap="RdBu_r", vmin=-5, vmax=5)
        ax.set_title("residual significance (smoothed, 2 px)")
        return _save(plt, ax.figure, path)
    fig, ax = plt.subplots(figsize=(6, 4))
    n, m = np.asarray(ds.counts, float), np.asarray(mu, float)
    good = np.asarray(mask) & (m > 0)
    e = ds.energy.values
    with np.errstate(invalid="ignore", divide="ignore"):
        res = np.where(good, (n - m) / np.sqrt(m), np.nan)
    ax.errorbar(e, res, yerr=np.where(good, 1.0, np.nan), fmt="o")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(f"energy [{ds.energy.attrs.get('units', 'TeV')}]")
    ax.set_ylabel("(counts - npred) / sqrt(npred)")
    return _save(plt, fig, path)


def plot_excess_maps(analysis: Any, paths: dict[str, Path]) -> list[Path]:
    """Excess and significance images from the excess-map result."""
    from ..geom.plot import plot_map

    plt = _figure()
    em = analysis.excess_map
    out = []
    excess = _image(em.npred_excess if "npred_excess" in em else em.excess)
    ax = plot_map(excess, cmap="viridis")
    ax.set_title("excess counts")
    out.append(_save(plt, ax.figure, paths["excess"]))
    sig = em.sqrt_ts
    if D.ENERGY in sig.dims:
        sig = sig.isel({D.ENERGY: 0})
    ax = plot_map(sig, cmap="magma")
    ax.set_title("significance (sqrt TS)")
    out.append(_save(plt, ax.figure, paths["significance"]))
    return out


def plot_sed(analysis: Any, path: Path) -> Path:
    """Flux points with the best-fit model and its error band."""
    from ..estimators.plot import plot_sed as _plot_sed

    plt = _figure()
    source = analysis.config.flux_points.source
    model = analysis.models[source] if analysis.models is not None else None
    ax = _plot_sed(analysis.flux_points, sed_type="e2dnde", model=model)
    return _save(plt, ax.figure, path)


def plot_light_curve(analysis: Any, path: Path) -> Path:
    """The light curve."""
    from ..estimators.plot import plot_light_curve as _plot_lc

    plt = _figure()
    ax = _plot_lc(analysis.light_curve)
    return _save(plt, ax.figure, path)


def write_plots(analysis: Any) -> dict[str, Path]:
    """Every plot whose step ran; returns ``{name: path}``."""
    plots_dir = analysis.outdir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: plots_dir / f"{name}.png" for name in PLOTS[analysis.kind]}
    done: dict[str, Path] = {}
    jobs = []
    if analysis.datasets is not None:
        jobs.append((("counts",), lambda: [plot_counts(analysis, paths["counts"])]))
    if analysis.fit_result is not None:
        jobs.append((("residuals",), lambda: [plot_residuals(analysis, paths["residuals"])]))
    if analysis.excess_map is not None and analysis.kind == "3d":
        jobs.append((("excess", "significance"), lambda: plot_excess_maps(analysis, paths)))
    if analysis.flux_points is not None:
        jobs.append((("sed",), lambda: [plot_sed(analysis, paths["sed"])]))
    if analysis.light_curve is not None:
        jobs.append((("light_curve",), lambda: [plot_light_curve(analysis, paths["light_curve"])]))
    for names, job in jobs:
        # a failed plot is reported (summary "plot_errors", exit code 1), the rest is kept
        try:
            done.update(zip(names, job(), strict=True))
        except Exception as err:
            message = f"{type(err).__name__}: {err}"
            log.error("plot %s failed: %s", "/".join(names), message)
            analysis.plot_errors.update(dict.fromkeys(names, message))
            _figure().close("all")
    return done


def write_outputs(analysis: Any) -> dict[str, Any]:
    """Plots, ``config.yaml``, ``summary.json`` and ``provenance.json``; returns the summary."""
    out = analysis.outdir
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(analysis.config.to_yaml())
    analysis.written["config"] = out / "config.yaml"
    plots = analysis.config.general.plots
    if plots and importlib.util.find_spec("matplotlib") is None:
        log.warning("plots skipped: matplotlib is not installed (pip install matplotlib)")
        analysis.notes.append("plots skipped: matplotlib is not installed")
        plots = False
    if plots:
        for name, path in write_plots(analysis).items():
            analysis.written[f"plot_{name}"] = path
    prov = out / "provenance.json"
    analysis.written["provenance"] = prov
    analysis.written["summary"] = out / "summary.json"
    result = summary(analysis)
    prov.write_text(json.dumps(provenance(analysis), indent=2))
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    return result


def format_summary(result: dict[str, Any]) -> str:
    """A few lines for the terminal."""
    lines = [f"{result['type'].upper()} analysis -> {result['outdir']}"]
    if "observations" in result:
        lines.append(f"  observations: {len(result['observations'])}")
    for ds in result.get("datasets", []):
        bkg = ds.get("background")
        extra = f", background {bkg:.1f}" if bkg is not None else ""
        lines.append(f"  dataset {ds['name']}: counts {ds['counts']:.0f}{extra}")
    fit = result.get("fit")
    if fit:
        lines.append(
            f"  fit: {'converged' if fit['success'] else 'FAILED'}, -2 log L = "
            f"{fit['total_stat']:.2f}"
        )
        for key, p in fit["parameters"].items():
            err = p["error"]
            lines.append(f"    {key:36s} {p['value']: .4g} +- {err:.2g}" if err else f"    {key}")
    if "flux_points" in result:
        lines.append(f"  flux points: {result['flux_points']['n_bins']} bins")
    if "light_curve" in result:
        lines.append(f"  light curve: {result['light_curve']['n_bins']} bins")
    if "excess_map" in result and result["excess_map"]["max_significance"] is not None:
        lines.append(
            f"  excess map: max significance {result['excess_map']['max_significance']:.1f}"
        )
    lines.append(f"  files: {', '.join(sorted(result['files'].values()))}")
    return "\n".join(lines)
