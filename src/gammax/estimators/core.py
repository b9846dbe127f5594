"""Shared machinery of the estimators: energy bins, reference fluxes, SED types, norm fits.

The flux of a source in a bin is measured as Gammapy measures it: the source's
spectral model (the *reference model*) is multiplied by a free ``norm``
(:class:`ScaledSpectralModel`), every other parameter of the source is frozen
(other models' free parameters too, unless ``reoptimize``), and the norm is
fitted with :func:`gammax.fit.fit` on the reconstructed-energy bins of that
bin only (selected through ``mask_fit``). SED quantities are the norm times
the reference model's ``dnde``, ``e2dnde`` (at the geometric bin centre),
``flux`` or ``eflux`` (integrated over the bin).

Examples
--------
>>> import numpy as np
>>> bins = snap_energy_bins(np.geomspace(1, 100, 9), [1.1, 9, 95], "TeV")
>>> [(b.idx_min, b.idx_max) for b in bins]
[(0, 4), (4, 8)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, UnitError
from ..models import PowerLawNormSpectralModel
from ..models.spectral import CompoundSpectralModel

__all__ = [
    "DEFAULT_UNIT",
    "SED_TYPES",
    "SELECTION_OPTIONAL",
    "EnergyBin",
    "ScaledSpectralModel",
    "as_dataset_list",
    "fit_norm",
    "nan_result",
    "parse_selection",
    "reference_fluxes",
    "sed_quantity",
    "snap_energy_bins",
    "source_model",
]

#: Units of the SED quantities (Gammapy's ``DEFAULT_UNIT``).
DEFAULT_UNIT = {
    "dnde": "cm-2 s-1 TeV-1",
    "e2dnde": "erg cm-2 s-1",
    "flux": "cm-2 s-1",
    "eflux": "erg cm-2 s-1",
    "norm": "",
}
#: SED types a result converts to (``likelihood`` is Gammapy's name for ``norm`` tables).
SED_TYPES = ("norm", "dnde", "e2dnde", "flux", "eflux")
#: Optional steps of a norm fit.
SELECTION_OPTIONAL = ("errn-errp", "ul", "scan")


def parse_selection(selection_optional: Any) -> tuple[str, ...]:
    """Normalise ``selection_optional``: None, ``"all"`` or a subset of the optional steps."""
    if selection_optional is None:
        return ()
    if selection_optional == "all":
        return SELECTION_OPTIONAL
    if isinstance(selection_optional, str):
        selection_optional = [selection_optional]
    unknown = sorted(set(selection_optional) - set(SELECTION_OPTIONAL))
    if unknown:
        raise ConfigError(
            f"selection_optional {unknown}: expected None, 'all' or a subset of "
            f"{list(SELECTION_OPTIONAL)}"
        )
    return tuple(s for s in SELECTION_OPTIONAL if s in selection_optional)


def as_dataset_list(datasets: Any) -> list[xr.Dataset]:
    """One dataset or a sequence of them, as a list (names must be unique)."""
    if isinstance(datasets, xr.Dataset):
        datasets = [datasets]
    datasets = list(datasets)
    if not datasets:
        raise ConfigError("no datasets given")
    for ds in datasets:
        if not isinstance(ds, xr.Dataset) or "counts" not in ds.data_vars:
            raise ConfigError(
                f"estimators take gammax map or spectrum datasets, got {type(ds).__name__}"
            )
    names = [str(ds.attrs.get("name", "")) for ds in datasets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"dataset names must be unique; duplicated: {dup}")
    return datasets


# -- energy bins ---------------------------------------------------------------------------
@dataclass(frozen=True)
class EnergyBin:
    """A flux-point bin: reconstructed-energy bins ``idx_min..idx_max-1`` of the datasets."""

    idx_min: int
    idx_max: int
    energy_min: float
    energy_max: float
    unit: str

    @property
    def energy_ref(self) -> float:
        """Geometric centre (Gammapy's ``energy_ref``)."""
        return math.sqrt(self.energy_min * self.energy_max)


def _energy_edges_in(edges: Any, unit: str, what: str = "energy_edges") -> np.ndarray:
    if isinstance(edges, str):
        raise ConfigError(f"{what} must be a sequence of energies, got {edges!r}")
    try:
        q = u.Quantity(edges)
        values = q.to_value(unit) if q.unit != u.dimensionless_unscaled else q.value
    except (TypeError, u.UnitConversionError) as err:
        raise UnitError(f"{what} {edges!r} cannot be converted to {unit}") from err
    values = np.atleast_1d(np.asarray(values, float))
    if values.ndim != 1 or values.size < 2 or np.any(np.diff(values) <= 0) or values[0] <= 0:
        raise ConfigError(f"{what} must be >= 2 increasing positive energies, got {edges!r}")
    return values


def snap_energy_bins(dataset_edges: Sequence[float], edges: Any, unit: str) -> list[EnergyBin]:
    """Bins of ``edges`` snapped to the dataset's reconstructed-energy edges (Gammapy's rule).

    Each requested bin is treated alone, as Gammapy's ``slice_by_energy``:
    its edges go to the nearest dataset edge in log-energy (pixel coordinates
    rounded), clipped to the axis. A bin that collapses to no dataset bin is
    kept with ``idx_min == idx_max`` (it gets a NaN result) and its requested
    edges.

    Parameters
    ----------
    dataset_edges : sequence of float
        Reconstructed-energy edges of the datasets, in ``unit``.
    edges : Quantity or sequence
        Requested flux-point edges (bare numbers are in ``unit``).
    unit : str
        Energy unit.
    """
    ref = np.log(np.asarray(dataset_edges, float))
    req = _energy_edges_in(edges, unit)
    nbin = ref.size - 1
    pix = np.interp(np.log(req), ref, np.arange(ref.size) - 0.5, left=-np.inf, right=np.inf)
    pix = np.clip(pix, -0.5, nbin - 0.5)
    idx = np.round(pix + 0.5).astype(int)  # edge index (half to even, as np.round in Gammapy)
    bins = []
    for i in range(req.size - 1):
        lo, hi = int(idx[i]), int(idx[i + 1])
        if hi > lo:
            e = np.asarray(dataset_edges, float)
            bins.append(EnergyBin(lo, hi, float(e[lo]), float(e[hi]), unit))
        else:
            bins.append(EnergyBin(lo, lo, float(req[i]), float(req[i + 1]), unit))
    return bins


# -- the scaled reference model ------------------------------------------------------------
class ScaledSpectralModel(CompoundSpectralModel):
    """``norm x model``: a reference model times a free norm (Gammapy's ``ScaleSpectralModel``).

    A product whose integral is the reference model's integral (analytic where
    it has one) times the norm; written to YAML as Gammapy's compound
    ``model1 * model2`` with a ``PowerLawNormSpectralModel``.

    Parameters
    ----------
    model : SpectralModel
        The reference model.
    norm : float
        Initial norm.

    Examples
    --------
    >>> from gammax.models import PowerLawSpectralModel
    >>> m = ScaledSpectralModel(PowerLawSpectralModel(), norm=2.0)
    >>> float(m(1.0)) / float(PowerLawSpectralModel()(1.0))
    2.0
    """

    #: Path of the parameter the model is proportional to: the compiled likelihood
    #: keeps one template for a source whose only free parameter is this norm.
    linear_parameter = "model2.norm"

    def __init__(self, model: Any, norm: float = 1.0) -> None:
        super().__init__(model, PowerLawNormSpectralModel(norm=norm), "mul")

    def _integral_kernel(self, emin, emax, params, moment, quad):
        i1 = self.model1._integral_kernel(emin, emax, params["p1"], moment, quad)
        return i1 * params["p2"]["norm"]


#: Path of the norm inside a scaled model.
NORM_PATH = ScaledSpectralModel.linear_parameter


def source_model(models: Any, source: str | int) -> Any:
    """The sky model ``source`` (name or index) of ``models``."""
    from ..models import Models, SkyModel

    models = models if isinstance(models, Models) else Models(models)
    try:
        model = models[source]
    except (KeyError, IndexError, TypeError) as err:
        raise ConfigError(f"source {source!r} is not one of the models {models.names}") from err
    if not isinstance(model, SkyModel):
        raise ConfigError(f"source {source!r} is a {type(model).__name__}, not a SkyModel")
    return model


def scaled_models(models: Any, source: str | int, reoptimize: bool) -> tuple[Any, str]:
    """A copy of ``models`` whose source spectrum is scaled by a free norm; the norm's key.

    The source's own parameters are frozen; other models keep their free
    parameters if ``reoptimize``, else everything but the norm is frozen.
    """
    from ..models import Models, SkyModel

    models = (models if isinstance(models, Models) else Models(models)).copy()
    src = source_model(models, source)
    src.freeze()
    spectral = ScaledSpectralModel(src.spectral_model, 1.0)
    new = SkyModel(
        spectral,
        src.spatial_model,
        src.temporal_model,
        name=src.name,
        apply_irf=src.apply_irf,
        datasets_names=src.datasets_names,
    )
    out = []
    for m in models:
        if m.name == src.name:
            out.append(new)
            continue
        if not reoptimize:
            m.freeze()
        out.append(m)
    scaled = Models(out)
    key = f"{src.name}.spectral.{NORM_PATH}"
    norm = scaled.parameter(key)
    norm.frozen = False
    norm.min, norm.max = math.nan, math.nan
    return scaled, key


# -- reference fluxes and SED types --------------------------------------------------------
def _to(da: xr.DataArray, unit: str) -> np.ndarray:
    return np.asarray(da.values, float) * float(u.Unit(da.attrs.get("units", "")).to(unit))


def reference_fluxes(
    spectral_model: Any, energy_min: Sequence[float], energy_max: Sequence[float], unit: str
) -> dict[str, np.ndarray]:
    """``ref_dnde``, ``ref_e2dnde`` (at ``sqrt(emin emax)``), ``ref_flux``, ``ref_eflux``.

    Values in :data:`DEFAULT_UNIT` (Gammapy's units), energies in ``unit``.

    Examples
    --------
    >>> from gammax.models import PowerLawSpectralModel
    >>> ref = reference_fluxes(PowerLawSpectralModel(index=2), [1.0], [100.0], "TeV")
    >>> round(float(ref["ref_dnde"][0]), 16)
    1e-14
    """
    emin = np.asarray(energy_min, float)
    emax = np.asarray(energy_max, float)
    eref = np.sqrt(emin * emax)
    q = (eref * u.Unit(unit)).to(spectral_model.energy_unit)
    qmin = (emin * u.Unit(unit)).to(spectral_model.energy_unit)
    qmax = (emax * u.Unit(unit)).to(spectral_model.energy_unit)
    with np.errstate(invalid="ignore", divide="ignore"):
        dnde = _to(spectral_model(q), DEFAULT_UNIT["dnde"])
        e2dnde = dnde * (eref * u.Unit(unit).to("TeV")) ** 2 * float(u.TeV.to("erg"))
        flux = _to(spectral_model.integral(qmin, qmax), DEFAULT_UNIT["flux"])
        eflux = _to(spectral_model.energy_flux(qmin, qmax), DEFAULT_UNIT["eflux"])
    return {"ref_dnde": dnde, "ref_e2dnde": e2dnde, "ref_flux": flux, "ref_eflux": eflux}


def sed_quantity(result: xr.Dataset, name: str) -> xr.DataArray:
    """A SED quantity of a flux-point result: ``dnde``, ``flux_err``, ``e2dnde_ul``, ``norm``...

    ``<sed>[_err|_errn|_errp|_ul]`` is the matching norm quantity times the
    reference ``ref_<sed>`` (Gammapy's conversion), in :data:`DEFAULT_UNIT`.

    Examples
    --------
    >>> sed_quantity(fp, "e2dnde_ul")  # doctest: +SKIP
    """
    sed, _, suffix = name.partition("_")
    if sed not in SED_TYPES:
        raise ConfigError(f"{name!r}: SED type {sed!r} is not one of {SED_TYPES}")
    norm_name = "norm" + (f"_{suffix}" if suffix else "")
    if norm_name not in result.data_vars:
        raise ConfigError(
            f"{name!r} needs {norm_name!r}, which this result lacks (see selection_optional)"
        )
    norm = result[norm_name]
    if sed == "norm":
        return norm
    out = norm * result[f"ref_{sed}"]
    return out.rename(name).assign_attrs(units=DEFAULT_UNIT[sed])


# -- one norm fit ---------------------------------------------------------------------------
def _contributes(ds: xr.Dataset) -> bool:
    from ..datasets import fit_mask

    mask = fit_mask(ds)
    return True if mask is None else bool(np.asarray(mask.values).any())


def _masked_sum(da: xr.DataArray, ds: xr.Dataset) -> float:
    from ..datasets import fit_mask

    mask = fit_mask(ds)
    values = np.asarray(da.values, float)
    if mask is None:
        return float(values.sum())
    return float(values[np.broadcast_to(np.asarray(mask.values, bool), values.shape)].sum())


def nan_result(n_datasets: int, selection: Sequence[str], norm_values: np.ndarray) -> dict:
    """The result of a bin no dataset contributes to (Gammapy's ``_nan_result``)."""
    out: dict[str, Any] = {
        "norm": math.nan,
        "norm_err": math.nan,
        "ts": math.nan,
        "stat": math.nan,
        "stat_null": math.nan,
        "success": False,
        "counts": np.zeros(n_datasets),
        "npred": np.full(n_datasets, math.nan),
        "npred_excess": np.full(n_datasets, math.nan),
    }
    if "errn-errp" in selection:
        out.update(norm_errn=math.nan, norm_errp=math.nan)
    if "ul" in selection:
        out["norm_ul"] = math.nan
    if "scan" in selection:
        out["stat_scan"] = np.full(len(norm_values), math.nan)
    return out


def with_mask_fit(ds: xr.Dataset, selected: np.ndarray) -> xr.Dataset:
    """``ds`` with ``mask_fit`` restricted to the reconstructed-energy bins ``selected``."""
    sel = xr.DataArray(np.asarray(selected, bool), dims=(D.ENERGY,))
    full = xr.ones_like(ds.counts, dtype=bool) & sel
    if "mask_fit" in ds.data_vars:
        full = full & ds.mask_fit.astype(bool)
    full = full.transpose(*ds.counts.dims).assign_attrs(units="")
    return ds.assign(mask_fit=full)


class _Profile:
    """``Delta(-2 log L)`` along the norm and its crossings (Gammapy's scipy ``confidence``).

    The crossing of ``Delta = delta`` on one side of the best fit is bracketed
    by doubling steps from the HESSE error, then found by Brent's method, so
    it is found where MINOS gives up (e.g. a best fit at zero norm).
    """

    def __init__(self, result: Any, key: str, reoptimize: bool) -> None:
        self.result, self.key, self.reoptimize = result, key, reoptimize
        self.best = result.total_stat
        err = result.errors[key]
        value = result.values[key]
        self.step = err if np.isfinite(err) and err > 0 else max(abs(value), 1e-3)
        low = result.models.parameter(key).min
        self.lower = low if math.isfinite(low) else -math.inf

    def delta(self, value: float) -> float:
        stat = self.result.stat_profile(self.key, [value], reoptimize=self.reoptimize)["stat"][0]
        return float(stat - self.best)

    def crossing(self, start: float, delta: float, sign: float) -> float:
        from scipy.optimize import brentq

        def g(v: float) -> float:
            return self.delta(v) - delta

        a, step = start, self.step
        limit = 1e5 * max(self.step, abs(start))
        b = max(start + sign * step, self.lower)
        while g(b) < 0:
            if step > limit or b <= self.lower:
                return math.nan  # no crossing (above the norm's lower bound)
            a, step = b, step * 2.0
            b = max(start + sign * step, self.lower)
        lo, hi = min(a, b), max(a, b)
        return float(brentq(g, lo, hi, xtol=1e-10 * max(1.0, abs(start)), rtol=1e-8))


@dataclass
class Predictions:
    """Predicted counts of one dataset at the models' start values, shared by all bins.

    ``source``: the source at norm 1; ``rest``: background and other sky
    models (None for on/off datasets, whose background is profiled). The
    source's counts are linear in the norm (its other parameters are frozen),
    so ``npred_excess = norm * source`` in every bin.
    """

    source: np.ndarray
    rest: np.ndarray | None


def predictions(datasets: Sequence[xr.Dataset], models: Any, source: str | int) -> list:
    """:class:`Predictions` of every dataset (computed once per estimator run)."""
    from ..datasets import dataset_kind
    from ..fit import npred_background, npred_signal

    name = source_model(models, source).name
    out = []
    for ds in datasets:
        sig = np.asarray(npred_signal(ds, models, model_names=[name]).values, float)
        rest = None
        if not dataset_kind(ds).endswith("OnOff"):
            others = [m.name for m in _sky_models(ds, models) if m.name != name]
            rest = np.asarray(npred_background(ds, models).values, float)
            if others:
                rest = rest + np.asarray(npred_signal(ds, models, model_names=others).values)
        out.append(Predictions(sig, rest))
    return out


def _sky_models(ds: xr.Dataset, models: Any) -> list:
    from ..fit import dataset_models

    return dataset_models(ds, models)[0]


def _mask(ds: xr.Dataset, shape: tuple) -> np.ndarray:
    from ..datasets import fit_mask

    mask = fit_mask(ds)
    if mask is None:
        return np.ones(shape, bool)
    return np.broadcast_to(np.asarray(mask.values, bool), shape)


def norm_lower_bound(datasets: Sequence[xr.Dataset], preds: Sequence[Predictions]) -> float:
    """Lowest norm keeping every fitted bin's predicted counts >= 0 (NaN: unbounded).

    With Cash, a negative prediction in a bin without counts lowers the
    statistic without limit, so the fit of a faint bin can run away to
    ``norm -> -inf``; below this bound the likelihood is not defined anyway.
    On/off datasets (WStat profiles the background) add no bound.
    """
    bound = -math.inf
    for ds, pred in zip(datasets, preds, strict=True):
        if pred.rest is None:
            continue
        keep = (pred.source > 0) & _mask(ds, pred.source.shape)
        if keep.any():
            bound = max(bound, float(np.max(-pred.rest[keep] / pred.source[keep])))
    return bound if math.isfinite(bound) else math.nan


def fit_norm(
    datasets: Sequence[xr.Dataset],
    models: Any,
    source: str | int,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    selection: Sequence[str] = (),
    reoptimize: bool = False,
    norm_values: Sequence[float] | None = None,
    backend: str = "minuit",
    null_value: float = 0.0,
    preds: Sequence[Predictions] | None = None,
) -> dict[str, Any]:
    """Fit the norm of ``source`` on ``datasets`` (masks already set): Gammapy's estimator steps.

    Returns ``norm``, ``norm_err`` (times ``n_sigma``, as Gammapy), ``stat``,
    ``stat_null`` and ``ts`` (the norm at ``null_value``; other parameters
    re-optimised if ``reoptimize``), ``success``, optionally ``norm_errn``,
    ``norm_errp`` (profile crossings at ``n_sigma``), ``norm_ul`` (at
    ``n_sigma_ul``), ``stat_scan`` (at ``norm_values``), and per dataset the
    masked ``counts``, ``npred`` and ``npred_excess`` at the best fit. Datasets
    whose fit mask is empty do not take part (NaN / zero entries). ``preds``:
    :func:`predictions` of ``datasets`` at the start values (computed if None).
    """
    from ..fit import fit, npred

    selection = tuple(selection)
    norm_values = np.asarray(
        np.geomspace(0.2, 5, 11) if norm_values is None else norm_values, float
    )
    active = [i for i, ds in enumerate(datasets) if _contributes(ds)]
    if not active:
        return nan_result(len(datasets), selection, norm_values)
    use = [datasets[i] for i in active]
    if preds is None:
        preds = predictions(datasets, models, source)
    use_preds = [preds[i] for i in active]
    scaled, key = scaled_models(models, source, reoptimize)
    scaled.parameter(key).min = norm_lower_bound(use, use_preds)
    result = fit(use, scaled, backend=backend, n_groups=1)
    try:
        norm = result.values[key]
        out: dict[str, Any] = {
            "norm": norm,
            "norm_err": result.errors[key] * n_sigma,
            "stat": result.total_stat,
            "success": bool(result.success),
        }
        reoptimize = reoptimize and len(result.names) > 1
        null = result.stat_profile(key, [null_value], reoptimize=reoptimize)["stat"][0]
        out["stat_null"] = float(null)
        out["ts"] = float(null - result.total_stat)
        profile = _Profile(result, key, reoptimize)
        if "errn-errp" in selection:
            delta = n_sigma**2
            out["norm_errn"] = norm - profile.crossing(norm, delta, -1.0)
            out["norm_errp"] = profile.crossing(norm, delta, 1.0) - norm
        if "ul" in selection:
            out["norm_ul"] = profile.crossing(norm, n_sigma_ul**2, 1.0)
        if "scan" in selection:
            scan = result.stat_profile(key, norm_values, reoptimize=reoptimize)
            out["stat_scan"] = np.asarray(scan["stat"], float)
        best = dict(zip(result.names, [result.values[k] for k in result.names], strict=True))
        values = {**scaled.values(), **best}
    finally:
        result.close()
    counts = np.zeros(len(datasets))
    mu = np.full(len(datasets), math.nan)
    excess = np.full(len(datasets), math.nan)
    for i, ds, pred in zip(active, use, use_preds, strict=True):
        mask = _mask(ds, pred.source.shape)
        counts[i] = float(np.asarray(ds.counts.values, float)[mask].sum())
        excess[i] = norm * float(pred.source[mask].sum())
        if pred.rest is None or reoptimize:  # profiled or re-fitted background: recompute
            mu[i] = _masked_sum(npred(ds, scaled, values), ds)
        else:
            mu[i] = excess[i] + float(pred.rest[mask].sum())
    out.update(counts=counts, npred=mu, npred_excess=excess)
    return out


def reference_model_attrs(models: Any, source: str | int) -> dict[str, Any]:
    """Attrs recording the reference model: YAML, and its spectral covariance when known."""
    from ..models import Models

    src = source_model(models, source).copy()
    attrs: dict[str, Any] = {"reference_model": Models([src]).to_yaml()}
    full = models if isinstance(models, Models) else Models(models)
    prefix = f"{src.name}.spectral."
    keys = [k for k in full.free_parameter_names if k.startswith(prefix)]
    if keys:
        cov = full.covariance.subset(keys)
        data = np.asarray(cov.data, float)
        if np.all(np.isfinite(data)) and np.any(np.diag(data) > 0):
            attrs["reference_covariance_names"] = [k[len(prefix) :] for k in keys]
            attrs["reference_covariance"] = data.tolist()
    return attrs


def read_reference_model(result: xr.Dataset) -> Any:
    """The reference :class:`~gammax.models.SkyModel` stored in a result's attrs."""
    from ..models import from_yaml

    text = result.attrs.get("reference_model")
    if not text:
        raise ConfigError("this result carries no reference model (attrs['reference_model'])")
    return from_yaml(text)[0]


def result_coords(bins: Sequence[EnergyBin]) -> dict[str, Any]:
    """Coordinates of the ``energy`` dim of a result: centres and edges with units."""
    unit = bins[0].unit if bins else "TeV"
    emin = np.array([b.energy_min for b in bins])
    emax = np.array([b.energy_max for b in bins])
    eref = np.sqrt(emin * emax)
    attrs = {"units": unit}
    return {
        D.ENERGY: xr.DataArray(eref, dims=(D.ENERGY,), attrs={**attrs, "interp": "log"}),
        "energy_min": xr.DataArray(emin, dims=(D.ENERGY,), attrs=attrs),
        "energy_max": xr.DataArray(emax, dims=(D.ENERGY,), attrs=attrs),
        "energy_ref": xr.DataArray(eref, dims=(D.ENERGY,), attrs=attrs),
    }


def stack_rows(
    rows: Sequence[Mapping[str, Any]], dataset_names: Sequence[str], norm_values: np.ndarray
) -> dict[str, tuple]:
    """Per-bin result dicts -> ``{name: (dims, array)}`` along ``energy``."""
    out: dict[str, tuple] = {}
    keys = [k for k in rows[0] if k not in ("counts", "npred", "npred_excess", "stat_scan")]
    for k in keys:
        arr = np.array([r[k] for r in rows])
        out[k] = ((D.ENERGY,), arr.astype(bool) if k == "success" else arr.astype(float))
    for k in ("counts", "npred", "npred_excess"):
        out[k] = ((D.ENERGY, "dataset"), np.array([r[k] for r in rows], float))
    if "stat_scan" in rows[0]:
        out["stat_scan"] = ((D.ENERGY, "norm_scan"), np.array([r["stat_scan"] for r in rows]))
    return out
