"""Figures: SEDs (flux points, upper-limit arrows, model with its error band) and light curves.

The model band is the 1-sigma range of the model's SED from its parameter
covariance, propagated linearly: ``var(E) = J C J^T`` with ``J`` the
finite-difference Jacobian of the model SED with respect to the covariance's
parameters (central differences with steps of 1e-3 of each parameter's error).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> ax = plot_sed(fp, sed_type="e2dnde")        # doctest: +SKIP
>>> ax.figure.savefig("sed.png")                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError
from .core import DEFAULT_UNIT, read_reference_model, sed_quantity

__all__ = ["model_sed_band", "plot_light_curve", "plot_sed"]

_LABEL = {
    "dnde": "dN/dE",
    "e2dnde": "E$^2$ dN/dE",
    "flux": "Flux",
    "eflux": "Energy flux",
    "norm": "Norm",
}


def _errors(ds: xr.Dataset, sed_type: str) -> tuple[np.ndarray, np.ndarray] | None:
    if "norm_errn" in ds and "norm_errp" in ds:
        return (
            np.asarray(sed_quantity(ds, f"{sed_type}_errn").values, float),
            np.asarray(sed_quantity(ds, f"{sed_type}_errp").values, float),
        )
    if "norm_err" in ds:
        err = np.asarray(sed_quantity(ds, f"{sed_type}_err").values, float)
        return err, err
    return None


def _points(ax, x, xerr, y, yerr, is_ul, ul, color, label) -> None:
    ok = ~is_ul & np.isfinite(y)
    if yerr is not None:  # NaN errors (failed crossings) are not drawn
        yerr = tuple(np.clip(np.nan_to_num(e, nan=0.0), 0, None) for e in yerr)
    if ok.any():
        ax.errorbar(
            x[ok],
            y[ok],
            xerr=xerr[:, ok],
            yerr=None if yerr is None else np.vstack([yerr[0][ok], yerr[1][ok]]),
            fmt="o",
            color=color,
            label=label,
        )
    if ul is not None:
        up = is_ul & np.isfinite(ul)
        if up.any():
            ax.errorbar(
                x[up],
                ul[up],
                xerr=xerr[:, up],
                yerr=0.5 * ul[up],
                uplims=True,
                fmt="none",
                color=color,
                label=None if ok.any() else label,
            )


def plot_sed(
    fp: xr.Dataset,
    sed_type: str = "e2dnde",
    model: Any = None,
    covariance: bool = True,
    ax: Any = None,
    n_points: int = 100,
    color: str = "C0",
    label: str | None = "flux points",
) -> Any:
    """Flux points with upper-limit arrows, and the model with its 1-sigma band.

    Parameters
    ----------
    fp : xarray.Dataset
        A flux-point result.
    sed_type : {"dnde", "e2dnde", "flux", "eflux", "norm"}
        Quantity on the y axis (the model is drawn for ``dnde`` and ``e2dnde``).
    model : SkyModel, SpectralModel or Models, optional
        Model to draw; default the result's reference model, whose covariance
        is stored in the attrs. A :class:`~gammax.models.Models` gives its full
        covariance; a lone model the diagonal from its parameters' errors.
    covariance : bool
        Draw the error band.
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if sed_type not in DEFAULT_UNIT:
        raise ConfigError(f"sed_type {sed_type!r}: expected one of {list(DEFAULT_UNIT)}")
    if ax is None:
        _, ax = plt.subplots()
    x = fp.energy_ref.values
    xerr = np.vstack([x - fp.energy_min.values, fp.energy_max.values - x])
    y = np.asarray(sed_quantity(fp, sed_type).values, float)
    ul = np.asarray(sed_quantity(fp, f"{sed_type}_ul").values, float) if "norm_ul" in fp else None
    is_ul = np.asarray(fp.is_ul.values, bool) if ("is_ul" in fp and ul is not None) else None
    is_ul = np.zeros(y.shape, bool) if is_ul is None else is_ul
    _points(ax, x, xerr, y, _errors(fp, sed_type), is_ul, ul, color, label)
    if sed_type in ("dnde", "e2dnde"):
        sky, cov, names = _model_and_covariance(fp, model)
        energy = np.geomspace(fp.energy_min.values[0], fp.energy_max.values[-1], n_points)
        values, sigma = model_sed_band(
            sky, energy, fp.energy_min.attrs.get("units", "TeV"), sed_type, cov, names
        )
        ax.plot(energy, values, color=color, label="model" if label is None else f"{label} model")
        if covariance and sigma is not None:
            ax.fill_between(energy, values - sigma, values + sigma, color=color, alpha=0.3)
    ax.set_xscale("log")
    if sed_type != "norm":
        ax.set_yscale("log")
    unit = DEFAULT_UNIT[sed_type]
    ax.set_xlabel(f"Energy [{fp.energy_min.attrs.get('units', 'TeV')}]")
    ax.set_ylabel(f"{_LABEL[sed_type]} [{unit}]" if unit else _LABEL[sed_type])
    ax.legend()
    return ax


def _model_and_covariance(fp: xr.Dataset, model: Any) -> tuple[Any, Any, list[str] | None]:
    from ..models import Models, SkyModel

    if model is None:
        sky = read_reference_model(fp).spectral_model
        names = fp.attrs.get("reference_covariance_names")
        cov = fp.attrs.get("reference_covariance")
        return sky, None if cov is None else np.asarray(cov, float), names
    if isinstance(model, Models):
        src = model[fp.attrs.get("source", 0)]
        prefix = f"{src.name}.spectral."
        keys = [k for k in model.free_parameter_names if k.startswith(prefix)]
        cov = np.asarray(model.covariance.subset(keys).data, float) if keys else None
        return src.spectral_model, cov, [k[len(prefix) :] for k in keys]
    spectral = model.spectral_model if isinstance(model, SkyModel) else model
    free = [p for p in spectral.parameters if not p.frozen and p.error > 0]
    if not free:
        return spectral, None, None
    return spectral, np.diag([p.error**2 for p in free]), [p.name for p in free]


def model_sed_band(
    spectral_model: Any,
    energy: np.ndarray,
    unit: str,
    sed_type: str = "e2dnde",
    covariance: np.ndarray | None = None,
    names: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Model SED at ``energy`` and its 1-sigma error from ``covariance`` (over ``names``).

    Examples
    --------
    >>> from gammax.models import PowerLawSpectralModel
    >>> pl = PowerLawSpectralModel(index=2.0)
    >>> y, s = model_sed_band(pl, np.array([1.0]), "TeV", "dnde", np.diag([0.01, 1e-26]),
    ...                       ["index", "amplitude"])
    >>> bool(abs(s[0] / y[0] - 0.1) < 1e-3)  # 1e-13 +- 1e-13 * 0.1 at the reference energy
    True
    """
    energy = np.asarray(energy, float)
    factor = float(u.Unit(spectral_model.unit).to(DEFAULT_UNIT["dnde"]))
    e_model = (energy * u.Unit(unit)).to(spectral_model.energy_unit)

    def sed(values: dict | None) -> np.ndarray:
        dnde = np.asarray(spectral_model(e_model, values).values, float) * factor
        if sed_type == "dnde":
            return dnde
        e_tev = energy * float(u.Unit(unit).to("TeV"))
        return dnde * e_tev**2 * float(u.TeV.to("erg"))

    best = sed(None)
    if covariance is None or not names:
        return best, None
    cov = np.asarray(covariance, float)
    current = {p.name: p.value for p in spectral_model.parameters}
    jac = []
    for i, name in enumerate(names):
        step = 1e-3 * np.sqrt(cov[i, i]) if cov[i, i] > 0 else 1e-6 * max(abs(current[name]), 1)
        hi = sed({**current, name: current[name] + step})
        lo = sed({**current, name: current[name] - step})
        jac.append((hi - lo) / (2 * step))
    jac = np.array(jac)  # (n_par, n_energy)
    var = np.einsum("ie,ij,je->e", jac, cov, jac)
    return best, np.sqrt(np.clip(var, 0, None))


def plot_light_curve(
    lc: xr.Dataset,
    sed_type: str = "flux",
    energy_index: int = 0,
    ax: Any = None,
    color: str = "C0",
    label: str | None = None,
) -> Any:
    """Light curve of one energy bin: points with errors, upper-limit arrows, time in MJD.

    Parameters
    ----------
    lc : xarray.Dataset
        A light-curve result (dims ``time``, ``energy``).
    sed_type : {"dnde", "e2dnde", "flux", "eflux", "norm"}
        Quantity on the y axis.
    energy_index : int
        Which energy bin.
    """
    import matplotlib.pyplot as plt

    if D.TIME not in lc.dims:
        raise ConfigError("plot_light_curve needs a result with a 'time' dim")
    if ax is None:
        _, ax = plt.subplots()
    one = lc.isel({D.ENERGY: energy_index})
    t0, t1 = one.time_min.values, one.time_max.values
    x = 0.5 * (t0 + t1)
    xerr = np.vstack([x - t0, t1 - x])
    y = np.asarray(sed_quantity(one, sed_type).values, float)
    ul = np.asarray(sed_quantity(one, f"{sed_type}_ul").values, float) if "norm_ul" in one else None
    is_ul = np.asarray(one.is_ul.values, bool) if ul is not None else np.zeros(y.shape, bool)
    if label is None:
        emin, emax = float(one.energy_min), float(one.energy_max)
        label = f"{emin:.3g}-{emax:.3g} {one.energy_min.attrs.get('units', 'TeV')}"
    _points(ax, x, xerr, y, _errors(one, sed_type), is_ul, ul, color, label)
    unit = DEFAULT_UNIT[sed_type]
    ax.set_xlabel(f"Time [MJD, {one.time_min.attrs.get('scale', '').upper()}]")
    ax.set_ylabel(f"{_LABEL[sed_type]} [{unit}]" if unit else _LABEL[sed_type])
    ax.legend()
    return ax
