"""Flux points: a norm fitted per energy bin, as a dask graph of independent bins.

In each bin the source's spectral model (the *reference model*, at its
current, usually best-fit, values) is scaled by a free ``norm``; the other
parameters of the source are frozen, those of other models too unless
``reoptimize``. The bin is selected through ``mask_fit`` on the datasets'
reconstructed-energy bins, its edges snapped to the datasets' edges
(Gammapy's ``slice_by_energy`` rule). Every bin is one ``dask.delayed`` task
that runs :func:`gammax.fit.fit` (and its profiles) on the datasets: on the
local threaded scheduler by default, on a cluster with ``client=``.

Examples
--------
>>> import astropy.units as u
>>> fpe = FluxPointsEstimator([1, 3, 10, 30] * u.TeV, source="crab",
...                           selection_optional="all")
>>> fp = fpe.run(datasets, models)                            # doctest: +SKIP
>>> fp.norm.values, fp.norm_ul.values                         # doctest: +SKIP
>>> from gammax.estimators.core import sed_quantity
>>> sed_quantity(fp, "e2dnde").values                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..datasets import energy_axis
from ..errors import ConfigError
from .core import (
    EnergyBin,
    as_dataset_list,
    fit_norm,
    nan_result,
    parse_selection,
    predictions,
    reference_fluxes,
    reference_model_attrs,
    result_coords,
    snap_energy_bins,
    source_model,
    stack_rows,
    with_mask_fit,
)

__all__ = ["FluxPointsEstimator", "estimate_bin"]


def _dataset_edges(datasets: Sequence[xr.Dataset]) -> tuple[np.ndarray, str]:
    axes = [energy_axis(ds, D.ENERGY) for ds in datasets]
    unit = axes[0].unit
    first = np.asarray(axes[0].edges, float)
    for ds, ax in zip(datasets, axes, strict=True):
        edges = np.asarray(ax.edges, float) * float(_factor(ax.unit, unit))
        if edges.shape != first.shape or not np.allclose(edges, first, rtol=1e-6):
            raise ConfigError(
                f"all datasets must have aligned energy axes; {ds.attrs.get('name')!r} differs"
            )
    return first, unit


def _factor(unit: str, target: str) -> float:
    import astropy.units as u

    return float(u.Unit(unit).to(u.Unit(target)))


def estimate_bin(
    datasets: Sequence[xr.Dataset],
    models: Any,
    preds: Sequence[Any] | None,
    ebin: EnergyBin,
    options: dict,
) -> dict[str, Any]:
    """Task body: restrict the datasets to one bin through ``mask_fit`` and fit the norm."""
    n = len(datasets)
    if ebin.idx_max <= ebin.idx_min:
        return nan_result(n, options["selection"], options["norm_values"])
    masked = []
    for ds in datasets:
        selected = np.zeros(ds.sizes[D.ENERGY], bool)
        selected[ebin.idx_min : ebin.idx_max] = True
        masked.append(with_mask_fit(ds, selected))
    return fit_norm(
        masked,
        models,
        options["source"],
        n_sigma=options["n_sigma"],
        n_sigma_ul=options["n_sigma_ul"],
        selection=options["selection"],
        reoptimize=options["reoptimize"],
        norm_values=options["norm_values"],
        backend=options["backend"],
        preds=preds,
    )


def prepare(datasets: Sequence[xr.Dataset], models: Any, source: Any) -> tuple[list, list]:
    """Task body shared by all bins: the loaded datasets and their predicted counts."""
    loaded = [ds.load() for ds in datasets]
    return loaded, predictions(loaded, models, source)


def _part(prepared: tuple, i: int) -> Any:
    return prepared[i]


def run_graph(tasks: list, client: Any = None, scheduler: str | None = None) -> list:
    """Compute a list of delayed tasks locally (threads by default) or on ``client``."""
    import dask

    if client is not None:
        futures = client.compute(tasks)
        return client.gather(futures)
    return list(dask.compute(*tasks, scheduler=scheduler or "threads"))


class FluxPointsEstimator:
    """Flux points of one source in given energy bins.

    Parameters
    ----------
    energy_edges : Quantity or sequence
        Bin edges (bare numbers: the datasets' energy unit); snapped to the
        datasets' reconstructed-energy edges.
    source : str or int
        The sky model whose flux is measured.
    n_sigma : float
        Width of ``norm_err`` and of the asymmetric errors, in sigma.
    n_sigma_ul : float
        Confidence of the upper limits, in sigma.
    selection_optional : None, "all" or subset of {"errn-errp", "ul", "scan"}
        Optional steps.
    reoptimize : bool
        Re-fit the other models' free parameters in every bin (and in the
        profiles); otherwise they are frozen.
    norm_values : sequence of float, optional
        Norms of the likelihood scan (default: 11 values from 0.2 to 5, log).
    backend : {"minuit", "scipy"}
        Optimizer of :func:`gammax.fit.fit`.
    scheduler : str, optional
        Local dask scheduler for the bins (default ``"threads"``).
    """

    def __init__(
        self,
        energy_edges: Any,
        source: str | int = 0,
        n_sigma: float = 1.0,
        n_sigma_ul: float = 2.0,
        selection_optional: Any = None,
        reoptimize: bool = False,
        norm_values: Sequence[float] | None = None,
        backend: str = "minuit",
        scheduler: str | None = None,
    ) -> None:
        if not (n_sigma > 0 and n_sigma_ul > 0):
            raise ConfigError(f"n_sigma ({n_sigma}) and n_sigma_ul ({n_sigma_ul}) must be > 0")
        self.energy_edges = energy_edges
        self.source = source
        self.n_sigma = float(n_sigma)
        self.n_sigma_ul = float(n_sigma_ul)
        self.selection_optional = parse_selection(selection_optional)
        self.reoptimize = bool(reoptimize)
        values = np.geomspace(0.2, 5, 11) if norm_values is None else norm_values
        self.norm_values = np.asarray(values, float)
        if self.norm_values.ndim != 1 or self.norm_values.size < 1:
            raise ConfigError(f"norm_values must be a 1-D sequence, got {norm_values!r}")
        self.backend = backend
        self.scheduler = scheduler

    def _options(self) -> dict:
        return {
            "source": self.source,
            "n_sigma": self.n_sigma,
            "n_sigma_ul": self.n_sigma_ul,
            "selection": self.selection_optional,
            "reoptimize": self.reoptimize,
            "norm_values": self.norm_values,
            "backend": self.backend,
        }

    def bins(self, datasets: Any) -> list[EnergyBin]:
        """The energy bins snapped to the datasets' edges."""
        datasets = as_dataset_list(datasets)
        edges, unit = _dataset_edges(datasets)
        return snap_energy_bins(edges, self.energy_edges, unit)

    def tasks(self, datasets: Any, models: Any) -> tuple[list, list[EnergyBin]]:
        """One ``dask.delayed`` task per bin, all depending on one shared node.

        The shared node loads the datasets and predicts their counts at the
        start values (:class:`~gammax.estimators.core.Predictions`).
        """
        import dask

        datasets = as_dataset_list(datasets)
        source_model(models, self.source)  # fail early on a bad source
        bins = self.bins(datasets)
        models_node = dask.delayed(models, pure=True)
        shared = dask.delayed(prepare, pure=True)(list(datasets), models_node, self.source)
        loaded = dask.delayed(_part, pure=True)(shared, 0)
        preds = dask.delayed(_part, pure=True)(shared, 1)
        opts = self._options()
        tasks = [
            dask.delayed(estimate_bin, pure=True)(loaded, models_node, preds, b, opts) for b in bins
        ]
        return tasks, bins

    def run(self, datasets: Any, models: Any, client: Any = None) -> xr.Dataset:
        """Estimate the flux points.

        Parameters
        ----------
        datasets : Dataset or sequence of Datasets
            gammax map or spectrum datasets (joint likelihood), numpy or
            dask-backed; aligned reconstructed-energy axes.
        models : Models
            Models of the datasets; ``source`` among them (not modified).
        client : distributed.Client, optional
            Run the bins on this cluster.

        Returns
        -------
        xarray.Dataset
            On dim ``energy`` (coords ``energy_min``, ``energy_max``,
            ``energy_ref``) and ``dataset``: ``norm``, ``norm_err``, ``ts``,
            ``sqrt_ts``, ``stat``, ``stat_null``, ``success``, ``counts``,
            ``npred``, ``npred_excess``, ``is_ul``, ``ref_dnde``,
            ``ref_e2dnde``, ``ref_flux``, ``ref_eflux`` and the optional
            ``norm_errn``, ``norm_errp``, ``norm_ul``, ``stat_scan``.
        """
        datasets = as_dataset_list(datasets)
        tasks, bins = self.tasks(datasets, models)
        rows = run_graph(tasks, client, self.scheduler)
        names = [str(ds.attrs.get("name", "")) for ds in datasets]
        return self.assemble(rows, bins, names, models)

    def assemble(self, rows: list, bins: list[EnergyBin], names: list[str], models: Any):
        """The result Dataset from per-bin rows."""
        return assemble_result(rows, bins, names, models, self)


def assemble_result(
    rows: list, bins: list[EnergyBin], names: Sequence[str], models: Any, est: Any
) -> xr.Dataset:
    """Build a flux-point Dataset (dim ``energy``) from the rows of its bins."""
    data = stack_rows(rows, names, est.norm_values)
    coords = result_coords(bins)
    coords["dataset"] = xr.DataArray(np.array(names, dtype=object), dims=("dataset",))
    if "stat_scan" in data:
        coords["norm_scan"] = xr.DataArray(est.norm_values, dims=("norm_scan",))
    ds = xr.Dataset({k: xr.Variable(*v) for k, v in data.items()}, coords=coords)
    ts = np.clip(ds.ts.values, 0, None)
    with np.errstate(invalid="ignore"):
        ds["sqrt_ts"] = xr.Variable(
            (D.ENERGY,), np.where(ds.norm.values > 0, np.sqrt(ts), -np.sqrt(ts))
        )
        ds["is_ul"] = xr.Variable((D.ENERGY,), ds.sqrt_ts.values < 2.0)
    src = source_model(models, est.source)
    ref = reference_fluxes(
        src.spectral_model,
        ds.energy_min.values,
        ds.energy_max.values,
        ds.energy_min.attrs["units"],
    )
    from .core import DEFAULT_UNIT

    for key, values in ref.items():
        ds[key] = xr.Variable((D.ENERGY,), values, {"units": DEFAULT_UNIT[key[4:]]})
    for key in list(ds.data_vars):
        ds[key].attrs.setdefault("units", "")
    ds.attrs.update(
        {
            "sed_type_init": "likelihood",
            "n_sigma": est.n_sigma,
            "n_sigma_ul": est.n_sigma_ul,
            "sqrt_ts_threshold_ul": 2.0,
            "source": src.name,
            "reoptimize": int(est.reoptimize),
            "selection_optional": list(est.selection_optional),
            "estimator": type(est).__name__,
            **reference_model_attrs(models, est.source),
        }
    )
    return ds
