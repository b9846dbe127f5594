"""Correlated excess, significance, flux and error maps (Gammapy's ``ExcessMapEstimator``).

Counts, background and, for ON/OFF datasets, OFF counts and the acceptance
ratio are correlated with a top-hat disk of ``correlation_radius`` (gammax's
convolution: per dask chunk with halos, so chunk borders are invisible). The
statistics per pixel are those of Gammapy's ``CashCountsStatistic`` (known
background, the dataset's predicted counts) and ``WStatCountsStatistic``
(ON/OFF): excess, TS, signed ``sqrt_ts``, the symmetric error, asymmetric
errors and upper limits. Every statistic is vectorised over the map
(closed forms through the Lambert W function for Cash, array bisection for
WStat); on dask inputs the result is lazy and computed per chunk.

The flux maps divide the excess by the predicted counts of the reference
spectral model (default a power law of index 2) folded with exposure and
energy dispersion, correlated the same way, as Gammapy does.

Examples
--------
>>> import numpy as np
>>> stats = cash_counts_statistic(np.array([10.0, 3.0]), np.array([2.0, 3.0]))
>>> np.round(stats["sqrt_ts"], 3)
array([4.024, 0.   ])
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from scipy.special import lambertw

from .. import dims as D
from ..datasets import dataset_kind, diagonal_edisp, energy_axis
from ..errors import ConfigError, UnitError
from ..fit.stats import cash, wstat
from ..geom import MapAxis
from ..geom.convolve import convolve, disk_kernel

__all__ = [
    "ExcessMapEstimator",
    "cash_counts_statistic",
    "reference_fluxes",
    "reference_model_yaml",
    "vectorized_bisect",
    "wstat_counts_statistic",
]

_SELECTION = ("errn-errp", "ul")


# -- vectorised root finding and counts statistics ---------------------------------------
def vectorized_bisect(
    func: Callable[[np.ndarray], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    rtol: float = 1e-12,
    max_iter: int = 200,
) -> np.ndarray:
    """Roots of ``func`` in ``[lower, upper]`` for whole arrays at once (NaN if not bracketed).

    ``func`` maps an array of trial values to an array of function values
    (element-wise); the search stops when every bracket is narrower than
    ``rtol`` times its position (or ``max_iter``).

    Examples
    --------
    >>> targets = np.array([2.0, 9.0])
    >>> roots = vectorized_bisect(lambda x: x**2 - targets, np.zeros(2), np.full(2, 4.0))
    >>> np.round(roots, 6)
    array([1.414214, 3.      ])
    """
    lo = np.array(lower, float, copy=True)
    hi = np.array(upper, float, copy=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        flo, fhi = func(lo), func(hi)
        exact_lo, exact_hi = flo == 0, fhi == 0
        valid = np.isfinite(flo) & np.isfinite(fhi) & (np.sign(flo) != np.sign(fhi))
        for _ in range(max_iter):
            mid = 0.5 * (lo + hi)
            if not np.any(valid & (np.abs(hi - lo) > rtol * np.maximum(np.abs(mid), 1e-300))):
                break
            fmid = func(mid)
            left = np.sign(fmid) == np.sign(flo)
            lo = np.where(left, mid, lo)
            flo = np.where(left, fmid, flo)
            hi = np.where(left, hi, mid)
        root = 0.5 * (lo + hi)
    root = np.where(exact_lo, lower, np.where(exact_hi, upper, root))
    return np.where(valid | exact_lo | exact_hi, root, np.nan)


def _lambertw_real(x: np.ndarray, branch: int) -> np.ndarray:
    return np.real(lambertw(x, k=branch))


def cash_counts_statistic(
    n_on: Any,
    mu_bkg: Any,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    selection: Sequence[str] = _SELECTION,
) -> dict[str, np.ndarray]:
    """Gammapy's ``CashCountsStatistic`` on arrays (known background ``mu_bkg``).

    Returns ``n_on``, ``n_bkg``, ``n_sig`` (excess), ``ts``, ``sqrt_ts`` (signed),
    ``error`` (``sqrt(n_on)``, times ``n_sigma``) and, if selected, ``errn``,
    ``errp`` (``"errn-errp"``) and ``ul`` (``"ul"``) in closed form (Lambert W).
    """
    n_on = np.asarray(n_on, float)
    mu_bkg = np.asarray(mu_bkg, float)
    n_sig = n_on - mu_bkg
    ts = np.clip(cash(n_on, mu_bkg) - cash(n_on, n_on), 0, None)
    out = {
        "n_on": n_on,
        "n_bkg": mu_bkg,
        "n_sig": n_sig,
        "ts": ts,
        "sqrt_ts": np.sign(n_sig) * np.sqrt(ts),
        "error": np.sqrt(n_on) * n_sigma,
    }
    positive = n_on > 0
    safe_on = np.where(positive, n_on, 1.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        if "errn-errp" in selection:
            c = n_sigma**2 / 2
            arg = -np.exp(-c / safe_on - 1)
            out["errn"] = np.where(positive, safe_on * (_lambertw_real(arg, 0) + 1), 0.0)
            out["errp"] = np.where(positive, -safe_on * (_lambertw_real(arg, -1) + 1), c)
        if "ul" in selection:
            c = n_sigma_ul**2 / 2
            arg = -np.exp(-c / safe_on - 1)
            out["ul"] = np.where(positive, -safe_on * (_lambertw_real(arg, -1) + 1) + n_sig, c)
    return out


def wstat_counts_statistic(
    n_on: Any,
    n_off: Any,
    alpha: Any,
    mu_sig: Any = 0.0,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    selection: Sequence[str] = _SELECTION,
) -> dict[str, np.ndarray]:
    """Gammapy's ``WStatCountsStatistic`` on arrays (ON/OFF counts, background profiled).

    Same keys as :func:`cash_counts_statistic`; the asymmetric errors and upper
    limits are the roots of ``WStat(mu) = WStat_min + n_sigma**2``, found by
    :func:`vectorized_bisect` on the brackets Gammapy uses.
    """
    n_on, n_off, alpha, mu_sig = np.broadcast_arrays(
        *(np.asarray(a, float) for a in (n_on, n_off, alpha, mu_sig))
    )
    n_bkg = alpha * n_off
    n_sig = n_on - n_bkg - mu_sig
    with np.errstate(invalid="ignore", divide="ignore"):
        stat_null = wstat(n_on, n_off, alpha, mu_sig)
        stat_max = wstat(n_on, n_off, alpha, n_sig + mu_sig)
    ts = np.clip(stat_null - stat_max, 0, None)
    error = np.sqrt(n_on + alpha**2 * n_off)
    out = {
        "n_on": n_on,
        "n_bkg": n_bkg,
        "n_sig": n_sig,
        "ts": ts,
        "sqrt_ts": np.sign(n_sig) * np.sqrt(ts),
        "error": error * n_sigma,
    }

    def stat(mu: np.ndarray, level: np.ndarray) -> np.ndarray:
        return wstat(n_on, n_off, alpha, mu + mu_sig) - level

    if "errn-errp" in selection:
        level = stat_max + n_sigma**2
        lo = n_sig - 2 * n_sigma * (error + 1)
        root = vectorized_bisect(lambda mu: stat(mu, level), lo, n_sig)
        out["errn"] = np.where(np.isnan(root), n_on, n_sig - root)
        hi = n_sig + 2 * n_sigma * (error + 1)
        out["errp"] = vectorized_bisect(lambda mu: stat(mu, level), n_sig, hi) - n_sig
    if "ul" in selection:
        level = stat_max + n_sigma_ul**2
        hi = n_sig + 2 * n_sigma_ul * (error + 1)
        out["ul"] = vectorized_bisect(lambda mu: stat(mu, level), n_sig, hi)
    return out


# -- reference model -------------------------------------------------------------------
def reference_model_yaml(spectral_model: Any, name: str = "reference") -> str:
    """YAML (Gammapy's model format) of a sky model holding ``spectral_model``."""
    from ..models import Models, SkyModel

    return Models([SkyModel(spectral_model, name=name)]).to_yaml()


def reference_fluxes(spectral_model: Any, edges: np.ndarray, unit: str) -> dict[str, np.ndarray]:
    """Integral flux (cm-2 s-1), dnde and e2dnde at the log centre of each energy bin."""
    lo = np.asarray(edges[:-1], float) * u.Unit(unit)
    hi = np.asarray(edges[1:], float) * u.Unit(unit)
    flux = spectral_model.integral(lo, hi)
    flux = np.asarray(flux.values) * u.Unit(flux.attrs["units"]).to("cm-2 s-1")
    e_ref = np.sqrt(lo * hi)
    dnde = spectral_model(e_ref)
    dnde_unit = u.Unit(dnde.attrs["units"]) if hasattr(dnde, "attrs") else u.Unit("")
    dnde = np.asarray(getattr(dnde, "values", dnde)) * dnde_unit.to("cm-2 s-1 TeV-1")
    return {
        "flux": flux,
        "dnde": dnde,
        "e2dnde": dnde * e_ref.to_value("TeV") ** 2,
        "e_ref": e_ref.to_value("TeV"),
    }


def reco_exposure(ds: xr.Dataset, spectral_model: Any) -> xr.DataArray:
    """Predicted counts ``(energy, y, x)`` of ``spectral_model`` (per pixel, unit norm).

    Exposure times the model's flux in each true-energy bin, folded with the
    energy dispersion at the centre of the IRF grid (Gammapy's
    ``estimate_exposure_reco_energy(normalize=False)``).
    """
    axis_true = energy_axis(ds, D.ENERGY_TRUE)
    edges = np.asarray(axis_true.edges, float)
    lo, hi = edges[:-1] * u.Unit(axis_true.unit), edges[1:] * u.Unit(axis_true.unit)
    flux = spectral_model.integral(lo, hi)
    flux = np.asarray(flux.values) * u.Unit(flux.attrs["units"]).to("cm-2 s-1")
    expo_factor = u.Unit(ds.exposure.attrs.get("units", "m2 s")).to("cm2 s")
    if "edisp" in ds.data_vars:
        from ..fit.kernels import IrfArrays, edisp_kernel

        irf = IrfArrays.from_dataset(ds)
        center = irf.geom.center_skydir
        matrix = edisp_kernel(
            irf, float(center.spherical.lon.deg), float(center.spherical.lat.deg), irf.geom.frame
        )
    else:
        matrix = diagonal_edisp(axis_true, energy_axis(ds, D.ENERGY))
    weights = xr.DataArray(
        flux[:, None] * expo_factor * np.asarray(matrix, float), dims=(D.ENERGY_TRUE, D.ENERGY)
    )
    expo = ds.exposure.astype(float).reset_coords(drop=True)
    out = xr.dot(expo, weights, dim=D.ENERGY_TRUE).transpose(D.ENERGY, D.Y, D.X)
    return ds.counts.copy(data=out.data).astype(float).assign_attrs(units="")


# -- energy grouping --------------------------------------------------------------------
def energy_groups(axis: MapAxis, energy_edges: Any) -> list[tuple[int, int]]:
    """Index ranges of the dataset's energy bins for each output band (nearest edges)."""
    n = len(axis.edges) - 1
    if energy_edges is None:
        return [(0, n)]
    try:
        edges = u.Quantity(energy_edges).to_value(axis.unit)
    except (TypeError, u.UnitsError) as err:
        raise UnitError(f"energy_edges {energy_edges!r} are not energies: {err}") from err
    log_ds = np.log(np.asarray(axis.edges, float))
    idx = sorted({int(np.argmin(np.abs(log_ds - np.log(e)))) for e in np.atleast_1d(edges)})
    groups = [(a, b) for a, b in itertools.pairwise(idx) if b > a]
    if not groups:
        raise ConfigError(
            f"energy_edges {energy_edges!r} select no energy bin of the dataset "
            f"(edges {axis.edges[0]:.3g}-{axis.edges[-1]:.3g} {axis.unit})"
        )
    return groups


def band_axis(axis: MapAxis, groups: list[tuple[int, int]]) -> MapAxis:
    """The energy axis of the output bands."""
    edges = np.asarray(axis.edges, float)
    new = [edges[groups[0][0]]] + [edges[b] for _, b in groups]
    return MapAxis.from_energy_edges(np.asarray(new) * u.Unit(axis.unit))


def resample_energy(
    da: xr.DataArray, groups: list[tuple[int, int]], weights: xr.DataArray | None = None
) -> xr.DataArray:
    """Sum ``da`` (times ``weights``) over each group of energy bins: dims ``(band, y, x)``."""
    data = _plain(da).astype(float)
    if weights is not None:
        data = data * _plain(weights)
    parts = [data.isel({D.ENERGY: slice(a, b)}).sum(D.ENERGY) for a, b in groups]
    return xr.concat(parts, dim=D.ENERGY).transpose(D.ENERGY, D.Y, D.X)


def _plain(da: xr.DataArray) -> xr.DataArray:
    """The data and dims of ``da`` without coordinates (cutouts keep pixel labels)."""
    return xr.DataArray(da.data, dims=da.dims)


def resample_mask(mask: xr.DataArray, groups: list[tuple[int, int]]) -> xr.DataArray:
    """Logical OR of the mask over each group of energy bins."""
    data = _plain(mask).astype(bool)
    parts = [data.isel({D.ENERGY: slice(a, b)}).any(D.ENERGY) for a, b in groups]
    return xr.concat(parts, dim=D.ENERGY).transpose(D.ENERGY, D.Y, D.X)


def _stat_maps(func: Callable, inputs: list[xr.DataArray], keys: list[str], **kwargs):
    def block(*arrays):
        res = func(*arrays, **kwargs)
        return np.stack([np.asarray(res[k], float) for k in keys], axis=-1)

    out = xr.apply_ufunc(
        block,
        *inputs,
        output_core_dims=[["stat_key"]],
        dask="parallelized",
        output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"stat_key": len(keys)}},
    )
    return {k: out.isel(stat_key=i, drop=True) for i, k in enumerate(keys)}


def estimator_attrs(name: str, params: Mapping[str, Any], spectral_model: Any) -> dict:
    """JSON-able attributes of an estimator result."""
    attrs = {"estimator": name, "sed_type_init": "likelihood"}
    for key, value in params.items():
        attrs[key] = _jsonable(value)
    attrs["reference_model"] = reference_model_yaml(spectral_model)
    json.dumps(attrs)
    return attrs


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, u.Quantity):
        return str(value) if value.isscalar else [str(v) for v in value]
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    return str(value)


# -- estimator ---------------------------------------------------------------------------
class ExcessMapEstimator:
    """Correlated excess, significance, flux and error maps of a map dataset.

    Parameters
    ----------
    correlation_radius : str or Quantity
        Radius of the top-hat correlation disk.
    n_sigma, n_sigma_ul : float
        Confidence level (in sigma) of the errors and of the upper limits.
    energy_edges : Quantity or list, optional
        Energy bands of the output maps (snapped to the dataset's nearest edges).
        Default: one band summed over all energies, as Gammapy.
    correlate_off : bool
        Correlate the OFF counts too (ON/OFF datasets).
    spectral_model : SpectralModel, optional
        Reference spectrum of the flux maps; default power law of index 2.
    selection_optional : sequence of str, "all" or None
        ``"errn-errp"`` and/or ``"ul"`` (default ``"all"``: both).

    Examples
    --------
    >>> est = ExcessMapEstimator(correlation_radius="0.1 deg")
    >>> est.correlation_radius
    <Quantity 0.1 deg>
    >>> maps = est.run(dataset)  # doctest: +SKIP
    """

    tag = "ExcessMapEstimator"

    def __init__(
        self,
        correlation_radius: Any = "0.1 deg",
        n_sigma: float = 1,
        n_sigma_ul: float = 2,
        energy_edges: Any = None,
        correlate_off: bool = True,
        spectral_model: Any = None,
        selection_optional: Any = "all",
    ) -> None:
        try:
            self.correlation_radius = u.Quantity(correlation_radius).to("deg")
        except (TypeError, ValueError, u.UnitsError) as err:
            raise UnitError(f"correlation_radius {correlation_radius!r} is not an angle") from err
        if self.correlation_radius.value <= 0:
            raise ConfigError(f"correlation_radius must be > 0, got {correlation_radius!r}")
        if n_sigma <= 0 or n_sigma_ul <= 0:
            raise ConfigError(f"n_sigma and n_sigma_ul must be > 0, got {n_sigma}, {n_sigma_ul}")
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.energy_edges = energy_edges
        self.correlate_off = bool(correlate_off)
        if spectral_model is None:
            from ..models import PowerLawSpectralModel

            spectral_model = PowerLawSpectralModel(index=2)
        self.spectral_model = spectral_model
        self.selection_optional = _selection(selection_optional)

    def kernel(self, geom: Any) -> np.ndarray:
        """The top-hat disk (ones inside, Gammapy's ``kernel / kernel.max()``)."""
        binsz = float(np.mean(np.abs(geom.pixel_scales)))
        kernel = disk_kernel(self.correlation_radius.to_value("deg") / binsz)
        return kernel / kernel.max()

    def params(self) -> dict[str, Any]:
        """The estimator's parameters (JSON-able)."""
        return {
            "correlation_radius": str(self.correlation_radius),
            "n_sigma": self.n_sigma,
            "n_sigma_ul": self.n_sigma_ul,
            "energy_edges": self.energy_edges,
            "correlate_off": self.correlate_off,
            "selection_optional": list(self.selection_optional),
        }

    def run(self, dataset: xr.Dataset, models: Any = None) -> xr.Dataset:
        """Excess, TS, significance and flux maps of a ``MapDataset`` / ``MapDatasetOnOff``.

        Parameters
        ----------
        dataset : xarray.Dataset
            Map dataset (numpy or dask); its ``mask_safe`` (and ``mask_fit``) are applied.
        models : Models, optional
            Models of the dataset: for a ``MapDataset`` the background is
            ``npred`` of the background and these models (so the excess is
            relative to the models), for ON/OFF their signal is subtracted.

        Returns
        -------
        xarray.Dataset
            Maps ``(energy, y, x)``: ``counts``, ``npred``, ``npred_background``,
            ``npred_excess``, ``excess``, ``ts``, ``sqrt_ts``, ``norm``,
            ``norm_err``, [``norm_errn``, ``norm_errp``, ``norm_ul``] and the
            matching ``flux*`` maps (cm-2 s-1); NaN outside the mask.
        """
        kind = dataset_kind(dataset)
        if kind not in ("MapDataset", "MapDatasetOnOff"):
            raise ConfigError(
                f"ExcessMapEstimator needs a MapDataset or MapDatasetOnOff, got {kind} "
                f"{dataset.attrs.get('name', '')!r}"
            )
        geom = dataset.counts.gx.geom
        axis = energy_axis(dataset, D.ENERGY)
        groups = energy_groups(axis, self.energy_edges)
        out_geom = geom.to_image().to_cube([band_axis(axis, groups)])
        safe = (
            dataset.mask_safe.astype(bool)
            if "mask_safe" in dataset.data_vars
            else xr.ones_like(dataset.counts, dtype=bool)
        )
        mask = resample_mask(safe, groups)
        if "mask_fit" in dataset.data_vars:
            mask = mask & resample_mask(dataset.mask_fit, groups)
        weights = safe.astype(float)
        counts = resample_energy(dataset.counts, groups, weights)
        expo = resample_energy(reco_exposure(dataset, self.spectral_model), groups, weights)
        kernel = self.kernel(geom)
        maskf = mask.astype(float)

        def conv(da):
            return _plain(convolve(out_geom.wrap(da.data), kernel))

        n_on = np.rint(conv(counts * maskf))
        sel = self.selection_optional
        kwargs = {"n_sigma": self.n_sigma, "n_sigma_ul": self.n_sigma_ul, "selection": sel}
        keys = ["n_on", "n_bkg", "n_sig", "ts", "sqrt_ts", "error", *_opt_keys(sel)]
        if kind == "MapDatasetOnOff":
            stats, stat_type = self._wstat_maps(dataset, models, groups, weights, maskf, n_on, conv)
            stats = _stat_maps(wstat_counts_statistic, stats, keys, **kwargs)
        else:
            from ..fit import npred as fit_npred
            from ..fit import npred_background

            mu = npred_background(dataset, []) if models is None else fit_npred(dataset, models)
            bkg = conv(resample_energy(mu, groups, weights) * maskf)
            stats = _stat_maps(cash_counts_statistic, [n_on, bkg], keys, **kwargs)
            stat_type = "cash"
        with np.errstate(invalid="ignore", divide="ignore"):
            expo_c = conv(expo * maskf) / conv(maskf)
        ref = reference_fluxes(self.spectral_model, out_geom.axis(D.ENERGY).edges, axis.unit)
        flux_ref = xr.DataArray(ref["flux"], dims=(D.ENERGY,))
        maps: dict[str, xr.DataArray] = {
            "counts": stats["n_on"],
            "npred": stats["n_on"],
            "npred_background": stats["n_bkg"],
            "npred_excess": stats["n_sig"],
            "excess": stats["n_sig"],
            "ts": stats["ts"],
            "sqrt_ts": stats["sqrt_ts"],
            "norm": stats["n_sig"] / expo_c,
            "norm_err": stats["error"] / expo_c,
        }
        for key, name in (("errn", "norm_errn"), ("errp", "norm_errp"), ("ul", "norm_ul")):
            if key in stats:
                maps[name] = stats[key] / expo_c
        for name in [n for n in maps if n.startswith("norm")]:
            maps[name.replace("norm", "flux")] = maps[name] * flux_ref
        units = {n: ("cm-2 s-1" if n.startswith("flux") else "") for n in maps}
        data = {
            n: out_geom.wrap(m.where(mask).transpose(D.ENERGY, D.Y, D.X).data, unit=units[n])
            for n, m in maps.items()
        }
        data["mask"] = out_geom.wrap(mask.transpose(D.ENERGY, D.Y, D.X).data)
        result = xr.Dataset(data)
        attrs = estimator_attrs(self.tag, self.params(), self.spectral_model)
        attrs.update(stat_type=stat_type, dataset=str(dataset.attrs.get("name", "")))
        result.attrs.update(attrs)
        return result

    def _wstat_maps(self, dataset, models, groups, weights, maskf, n_on, conv):
        """Inputs of the WStat statistic: ``n_on, n_off, alpha, mu_sig`` (correlated)."""
        from ..fit import npred_signal

        off = resample_energy(dataset.counts_off, groups, weights)
        acc = resample_energy(dataset.acceptance, groups, weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            alpha_full = (dataset.acceptance / dataset.acceptance_off).fillna(0.0)
            alpha_full = alpha_full.where(np.isfinite(alpha_full), 0.0)
        bkg = resample_energy(alpha_full * dataset.counts_off, groups, weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc_off = acc * off / bkg
        sig = (
            xr.zeros_like(off)
            if models is None
            else resample_energy(npred_signal(dataset, models), groups, weights)
        )
        mu_sig = conv(sig * maskf)
        n_off = off * maskf
        if self.correlate_off:
            background = (bkg * maskf).where(acc_off.fillna(0) != 0, 0.0).fillna(0.0)
            background_c = conv(background)
            n_off = conv(n_off)
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = background_c / n_off
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                alpha = conv(acc * maskf) / (acc_off * maskf)
        return [n_on, n_off, alpha, mu_sig], "wstat"


def _selection(selection: Any) -> tuple[str, ...]:
    if selection is None:
        return ()
    if selection == "all":
        return _SELECTION
    selection = tuple(selection)
    unknown = set(selection) - set(_SELECTION)
    if unknown:
        raise ConfigError(
            f"selection_optional {sorted(unknown)} not available; choose from {_SELECTION}"
        )
    return selection


def _opt_keys(selection: Sequence[str]) -> list[str]:
    keys = []
    if "errn-errp" in selection:
        keys += ["errn", "errp"]
    if "ul" in selection:
        keys.append("ul")
    return keys
