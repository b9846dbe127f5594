"""The :class:`Analysis`: from a configuration to fitted models, flux points and maps.

Steps, run one by one or all at once with :meth:`Analysis.run`:

1. :meth:`~Analysis.get_observations`: open the data store and select;
2. :meth:`~Analysis.get_datasets`: reduce the observations into the Zarr store
   ``<outdir>/datasets.zarr`` (one dask graph, resumable), then open the stacked
   dataset (or one per observation) lazily;
3. :meth:`~Analysis.set_models` / :meth:`~Analysis.read_models`: the sky models
   (3D datasets get their FoV background model, as in Gammapy);
4. :meth:`~Analysis.run_fit`: the likelihood fit; best-fit models to
   ``models.yaml``;
5. :meth:`~Analysis.get_flux_points`, :meth:`~Analysis.get_light_curve`,
   :meth:`~Analysis.get_excess_map`: the estimators of :mod:`gammax.estimators`.

:meth:`~Analysis.write_outputs` writes the plots, ``summary.json`` and
``provenance.json`` (see :mod:`gammax.analysis.outputs`).

Examples
--------
>>> from gammax.analysis import Analysis, AnalysisConfig
>>> analysis = Analysis(AnalysisConfig.read("examples/hess_crab_3d.yaml"))  # doctest: +SKIP
>>> analysis.run()  # doctest: +SKIP
>>> analysis.fit_result.values["crab.spectral.index"]  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, GammaxError
from .compute import compute_context, describe
from .config import AnalysisConfig

__all__ = ["Analysis"]

log = logging.getLogger("gammax.analysis")

#: Zarr store of the reduced datasets, inside the output directory.
DATASETS_STORE = "datasets.zarr"


class Analysis:
    """A configuration-driven analysis writing all its outputs into one directory.

    Parameters
    ----------
    config : AnalysisConfig, dict, str or path
        The configuration (a path ending in ``.yaml``/``.yml`` is read).
    client : distributed.Client, optional
        Compute there, whatever ``compute.scheduler`` says.

    Attributes
    ----------
    observations : DataStore
        The selected observations (after :meth:`get_observations`).
    datasets : list of xarray.Dataset
        The datasets (after :meth:`get_datasets`).
    models : Models
        The models (after :meth:`set_models`; the best fit after :meth:`run_fit`).
    fit_result : FitResult
    flux_points, light_curve, excess_map : xarray.Dataset
        Estimator results.
    timings : dict
        Wall time (s) of each step.
    """

    def __init__(self, config: Any, client: Any = None) -> None:
        if isinstance(config, str | Path) and str(config).endswith((".yaml", ".yml")):
            config = AnalysisConfig.read(config)
        elif isinstance(config, str):
            config = AnalysisConfig.from_yaml(config)
        elif isinstance(config, dict):
            config = AnalysisConfig(config)
        if not isinstance(config, AnalysisConfig):
            raise ConfigError(f"expected an AnalysisConfig, got {type(config).__name__}")
        self.config = config
        self._client_arg = client
        self.client: Any = client
        self.observations: Any = None
        self.datasets: list[xr.Dataset] | None = None
        self.models: Any = None
        self.fit_result: Any = None
        self.flux_points: xr.Dataset | None = None
        self.light_curve: xr.Dataset | None = None
        self.excess_map: xr.Dataset | None = None
        self.reduction: Any = None
        self.timings: dict[str, float] = {}
        self.written: dict[str, Path] = {}
        self.plot_errors: dict[str, str] = {}
        self.notes: list[str] = []
        self.compute_description = ""
        self.started = time.time()

    # ------------------------------------------------------------------ paths
    @property
    def outdir(self) -> Path:
        """The output directory (relative paths: to the working directory)."""
        from .schema import expand_path

        return Path(expand_path(self.config.general.outdir))

    def _path(self, name: str) -> Path:
        self.outdir.mkdir(parents=True, exist_ok=True)
        return self.outdir / name

    @property
    def kind(self) -> str:
        """``"3d"`` or ``"1d"``."""
        return self.config.datasets.type

    # ------------------------------------------------------------------ compute
    @contextlib.contextmanager
    def compute(self):
        """Context in which steps compute (``compute`` section, or the given client)."""
        if self.client is not None:
            yield self.client
            return
        with compute_context(self.config.compute, self._client_arg) as client:
            self.client = client
            self.compute_description = describe(client, self.config.compute)
            try:
                yield client
            finally:
                self.client = self._client_arg

    # ------------------------------------------------------------------ steps
    def get_observations(self) -> Any:
        """Open the data store and apply the selections of ``observations``."""
        from .. import open_datastore

        t0 = time.perf_counter()
        cfg = self.config.observations
        path = self.config.resolve(cfg.datastore)
        if not path.exists():
            raise ConfigError(f"observations.datastore: {path} does not exist")
        store = open_datastore(path)
        ids = list(cfg.obs_ids)
        if cfg.obs_file is not None:
            file = self.config.resolve(cfg.obs_file)
            try:
                text = file.read_text()
            except FileNotFoundError:
                raise ConfigError("observations.obs_file not found", file=file) from None
            try:
                ids += [int(tok) for tok in text.split() if not tok.startswith("#")]
            except ValueError as err:
                raise ConfigError(f"observations.obs_file: {err}", file=file) from None
        if ids:
            store = store.select_obs(ids)
        cone = cfg.obs_cone
        if cone.radius is not None:
            from astropy.coordinates import SkyCoord

            center = SkyCoord(cone.lon, cone.lat, frame=cone.frame)
            store = store.select_cone(center, cone.radius)
        if cfg.obs_time.start is not None or cfg.obs_time.stop is not None:
            store = store.select_time(cfg.obs_time.start, cfg.obs_time.stop)
        required = set(cfg.required_irf)
        keep = [o for o in store.obs_ids if required <= set(store.hdu_types(int(o)))]
        if len(keep) < len(store.obs_ids):
            dropped = sorted(set(map(int, store.obs_ids)) - set(map(int, keep)))
            log.warning("dropping observations lacking %s: %s", sorted(required), dropped)
            store = store.select_obs(keep)
        if len(store.obs_ids) == 0:
            raise ConfigError(
                f"observations: the selection of {path} is empty (obs_ids {ids or 'all'}, "
                f"cone {cone.radius}, time {cfg.obs_time.start}..{cfg.obs_time.stop})"
            )
        self.observations = store
        self.timings["observations"] = time.perf_counter() - t0
        log.info("observations: %d selected", len(store.obs_ids))
        return store

    def reduction_config(self) -> Any:
        """The :class:`~gammax.reduce.MapReductionConfig` or ``SpectrumReductionConfig``."""
        try:
            return self._reduction_config()
        except ConfigError as err:
            raise ConfigError(f"datasets: {err.message}") from None
        except ValueError as err:  # e.g. a DS9 region string regions cannot read
            raise ConfigError(f"datasets: {type(err).__name__}: {err}") from None

    def _reduction_config(self) -> Any:
        from ..geom import MapAxis, WcsGeom
        from ..reduce import MapReductionConfig, SpectrumReductionConfig

        ds = self.config.datasets
        axes = ds.geom.axes
        energy = MapAxis.from_energy_bounds(
            axes.energy.min, axes.energy.max, axes.energy.nbins, name=D.ENERGY
        )
        energy_true = MapAxis.from_energy_bounds(
            axes.energy_true.min, axes.energy_true.max, axes.energy_true.nbins, name=D.ENERGY_TRUE
        )
        exclusion = None
        if ds.background.exclusion is not None:
            exclusion = {"regions": ds.background.exclusion}
        safe_params = dict(ds.safe_mask.parameters)
        if self.kind == "1d":
            on = ds.on_region
            frame = "galactic" if on.frame == "galactic" else "icrs"
            region = (
                f"{frame}; circle({float(on.lon.to_value('deg'))!r}, "
                f"{float(on.lat.to_value('deg'))!r}, {float(on.radius.to_value('deg'))!r})"
            )
            return SpectrumReductionConfig(
                on_region=region,
                energy_axis=energy,
                energy_axis_true=energy_true,
                background=ds.background.method or "reflected",
                finder_params=dict(ds.background.parameters),
                exclusion=exclusion,
                containment_correction=ds.containment_correction,
                safe_mask_methods=tuple(ds.safe_mask.methods),
                safe_mask_params=safe_params,
            )
        wcs = ds.geom.wcs
        center = self._center()
        geom = WcsGeom.create(
            skydir=center,
            width=(wcs.width.width.to_value("deg"), wcs.width.height.to_value("deg")),
            binsz=wcs.binsize.to_value("deg"),
            frame=wcs.skydir.frame if wcs.skydir.lon is not None else ds.on_region.frame,
            proj=wcs.proj,
            axes=[energy],
        )
        fov = {"method": "scale", **dict(ds.background.parameters)}
        return MapReductionConfig(
            geom=geom,
            energy_axis_true=energy_true,
            products=tuple(ds.map_selection),
            binsz_irf=wcs.binsize_irf.to_value("deg"),
            offset_max=ds.geom.selection.offset_max.to_value("deg"),
            safe_mask_methods=tuple(ds.safe_mask.methods),
            safe_mask_params=safe_params,
            background_method=ds.background.method,
            fov_params=fov if ds.background.method == "fov" else {},
            exclusion=exclusion,
        )

    def _center(self) -> tuple[float, float]:
        ds = self.config.datasets
        for sky in (ds.geom.wcs.skydir, ds.on_region):
            if sky.lon is not None and sky.lat is not None:
                return (sky.lon.to_value("deg"), sky.lat.to_value("deg"))
        if self.observations is not None:
            from astropy.coordinates import SkyCoord

            p = self.observations.pointing()
            names = list(p.data_vars)
            ra = next(n for n in names if n.upper().startswith("RA"))
            dec = next(n for n in names if n.upper().startswith("DEC"))
            c = SkyCoord(np.asarray(p[ra]), np.asarray(p[dec]), unit="deg")
            mean = c.cartesian.mean()
            centre = SkyCoord(mean, representation_type="cartesian").spherical
            return (float(centre.lon.deg), float(centre.lat.deg))
        raise ConfigError(
            "datasets.geom.wcs.skydir: no map centre given (and no ON region to default to)"
        )

    def get_datasets(self) -> list[xr.Dataset]:
        """Reduce the observations into ``datasets.zarr`` and open the datasets lazily."""
        from ..datasets import MapDataset, SpectrumDatasetOnOff
        from ..reduce import reduce_observations

        if self.observations is None:
            self.get_observations()
        t0 = time.perf_counter()
        config = self.reduction_config()
        store = self._path(DATASETS_STORE)
        name = "map" if self.kind == "3d" else "spectrum"
        with self.compute() as client:
            self.reduction = reduce_observations(
                self.observations,
                config,
                store,
                name=name,
                overwrite=self.config.general.overwrite,
                progress=self.config.general.progress,
                client=client,
            )
        if self.reduction.failed:
            raise GammaxError(self.reduction.summary())
        opener = MapDataset if self.kind == "3d" else SpectrumDatasetOnOff
        if self.config.datasets.stack:
            groups = [f"{name}/stacked"]
        else:
            groups = [
                f"{name}/obs/{o}" for o in sorted(self.reduction.done + self.reduction.resumed)
            ]
        datasets = [opener.from_zarr(store, g) for g in groups]
        self.datasets = [self._apply_fit_range(ds) for ds in datasets]
        self.written["datasets"] = store
        self.timings["datasets"] = time.perf_counter() - t0
        return self.datasets

    def _apply_fit_range(self, ds: xr.Dataset) -> xr.Dataset:
        fr = self.config.fit.fit_range
        if fr.min is None:
            return ds
        from ..datasets import energy_axis

        axis = energy_axis(ds, D.ENERGY)
        edges = np.asarray(axis.edges, float)
        lo, hi = fr.min.to_value(axis.unit), fr.max.to_value(axis.unit)
        rtol = 1e-6
        inside = (edges[:-1] >= lo * (1 - rtol)) & (edges[1:] <= hi * (1 + rtol))
        if not inside.any():
            raise ConfigError(
                f"fit.fit_range: no energy bin of dataset {ds.attrs.get('name')!r} lies within "
                f"{fr.min}..{fr.max} (edges {edges[0]:.3g}..{edges[-1]:.3g} {axis.unit})"
            )
        mask = xr.DataArray(inside, dims=(D.ENERGY,)).broadcast_like(ds.counts)
        if "mask_fit" in ds:
            mask = mask & ds.mask_fit.astype(bool)
        return ds.assign(mask_fit=mask.transpose(*ds.counts.dims))

    # ------------------------------------------------------------------ models
    def set_models(self, models: Any) -> Any:
        """Set the models (Models, YAML text, or a list of model dicts).

        3D datasets without a ``FoVBackgroundModel`` get one (norm free, tilt
        frozen), as Gammapy's ``Analysis.set_models`` does.
        """
        import gammax.models as gm

        if isinstance(models, str):
            models = gm.from_yaml(models)
        elif isinstance(models, list) and all(isinstance(m, dict) for m in models):
            try:
                models = gm.models_from_dict({"components": models})
            except GammaxError as err:
                raise ConfigError(f"models.components: {err}") from None
        models = models if isinstance(models, gm.Models) else gm.Models(models)
        if self.kind == "3d" and self.datasets is not None:
            have = {m.name for m in models}
            extra = [
                gm.FoVBackgroundModel(ds.attrs["name"])
                for ds in self.datasets
                if f"{ds.attrs['name']}-bkg" not in have
            ]
            models = gm.Models([*models, *extra])
        self.models = models
        return models

    def read_models(self, path: Any) -> Any:
        """Read a models YAML file and set it (see :meth:`set_models`)."""
        import gammax.models as gm

        return self.set_models(gm.read_models(self.config.resolve(path)))

    def default_models(self) -> Any:
        """A power-law point source ``source`` at the target (3D) or ON region (1D)."""
        import gammax.models as gm

        spectral = gm.PowerLawSpectralModel(
            index=2.5, amplitude="1e-12 cm-2 s-1 TeV-1", reference="1 TeV"
        )
        if self.kind == "1d":
            return gm.Models([gm.SkyModel(spectral, name="source")])
        lon, lat = self._center()
        spatial = gm.PointSpatialModel(lon_0=f"{lon} deg", lat_0=f"{lat} deg")
        return gm.Models([gm.SkyModel(spectral, spatial, name="source")])

    def _ensure_models(self) -> None:
        if self.models is not None:
            return
        cfg = self.config.models
        if cfg.file is not None:
            self.read_models(cfg.file)
        elif cfg.components is not None:
            self.set_models(cfg.components)
        else:
            self.set_models(self.default_models())

    # ------------------------------------------------------------------ fit
    def run_fit(self) -> Any:
        """Fit the models to the datasets; the best fit goes to ``models.yaml``."""
        from ..fit import Likelihood, fit

        if self.datasets is None:
            self.get_datasets()
        self._ensure_models()
        t0 = time.perf_counter()
        datasets = [ds.load() for ds in self.datasets] if self.client is None else self.datasets
        self.datasets = datasets
        with self.compute() as client:
            like = Likelihood(datasets, self.models, client=client)
            with _fit_progress(like, self.config.general.progress):
                result = fit(
                    datasets,
                    self.models,
                    backend=self.config.fit.backend,
                    client=client,
                    optimize_opts=dict(self.config.fit.optimize_opts) or None,
                    likelihood=like,
                )
        self.fit_result = result
        self.models = result.models
        path = self._path("models.yaml")
        self.models.write(path, overwrite=True)
        self.written["models"] = path
        self.timings["fit"] = time.perf_counter() - t0
        if not result.success:
            log.warning("the fit did not converge: %s", result.message)
        return result

    # ------------------------------------------------------------------ estimators
    def _energy_edges(self, section: Any, nbins_default: int = 1) -> Any:
        import astropy.units as u

        if section.min is None:
            fr = self.config.fit.fit_range
            if fr.min is not None:
                lo, hi = fr.min, fr.max
            else:
                ax = self.config.datasets.geom.axes.energy
                lo, hi = ax.min, ax.max
        else:
            lo, hi = section.min, section.max
        nbins = getattr(section, "nbins", None) if "nbins" in section._values else None
        n = nbins or nbins_default
        unit = u.TeV
        return np.geomspace(lo.to_value(unit), hi.to_value(unit), n + 1) * unit

    def _fit_models(self) -> Any:
        if self.models is None:
            self._ensure_models()
        return self.models

    def _source(self, name: str) -> str:
        models = self._fit_models()
        if name not in models.names:
            from .schema import suggest

            raise ConfigError(
                f"source {name!r} is not among the models {models.names}."
                f"{suggest(name, models.names)}"
            )
        return name

    def get_flux_points(self) -> xr.Dataset:
        """Flux points of ``flux_points.source``; written to ``flux_points.ecsv``."""
        from ..estimators.flux_points import FluxPointsEstimator

        if self.datasets is None:
            self.get_datasets()
        cfg = self.config.flux_points
        t0 = time.perf_counter()
        source = self._source(cfg.source)
        params = {"selection_optional": ["ul"], **dict(cfg.parameters)}
        est = FluxPointsEstimator(self._energy_edges(cfg.energy), source, **params)
        with self.compute() as client:
            self.flux_points = est.run(self.datasets, self._fit_models(), client=client)
        self._write_table("flux_points", self.flux_points)
        self.timings["flux_points"] = time.perf_counter() - t0
        return self.flux_points

    def get_light_curve(self) -> xr.Dataset:
        """Light curve of ``light_curve.source``; written to ``light_curve.ecsv``.

        Per-observation datasets are opened from the store when the analysis
        is stacked (one light-curve bin per observation by default).
        """
        from ..estimators.light_curve import LightCurveEstimator

        if self.datasets is None:
            self.get_datasets()
        cfg = self.config.light_curve
        t0 = time.perf_counter()
        source = self._source(cfg.source)
        intervals = None
        if cfg.time_intervals.start:
            from astropy.time import Time

            def as_time(v):
                return Time(v, format="mjd") if isinstance(v, int | float) else Time(v)

            intervals = [
                (as_time(a), as_time(b))
                for a, b in zip(cfg.time_intervals.start, cfg.time_intervals.stop, strict=True)
            ]
        datasets = self._observation_datasets()
        models = self._models_for(datasets)
        est = LightCurveEstimator(
            self._energy_edges(cfg.energy_edges),
            source,
            time_intervals=intervals,
            **dict(cfg.parameters),
        )
        with self.compute() as client:
            self.light_curve = est.run(datasets, models, client=client)
        self._write_table("light_curve", self.light_curve)
        self.timings["light_curve"] = time.perf_counter() - t0
        return self.light_curve

    def _observation_datasets(self) -> list[xr.Dataset]:
        from ..datasets import MapDataset, SpectrumDatasetOnOff

        if not self.config.datasets.stack:
            return list(self.datasets or [])
        name = "map" if self.kind == "3d" else "spectrum"
        opener = MapDataset if self.kind == "3d" else SpectrumDatasetOnOff
        ids = sorted(self.reduction.done + self.reduction.resumed)
        store = self.written["datasets"]
        return [self._apply_fit_range(opener.from_zarr(store, f"{name}/obs/{o}")) for o in ids]

    def _models_for(self, datasets: list[xr.Dataset]) -> Any:
        """The fitted models, with background models for the given datasets (3D)."""
        import gammax.models as gm

        models = self._fit_models()
        if self.kind != "3d":
            return models
        sources = [m for m in models if not isinstance(m, gm.FoVBackgroundModel)]
        return gm.Models([*sources, *[gm.FoVBackgroundModel(ds.attrs["name"]) for ds in datasets]])

    def get_excess_map(self) -> xr.Dataset:
        """Excess and significance maps (3D); written to ``excess_map.zarr``."""
        from ..estimators.excess_map import ExcessMapEstimator

        if self.kind != "3d":
            raise ConfigError("excess_map: needs datasets.type '3d'")
        if self.datasets is None:
            self.get_datasets()
        cfg = self.config.excess_map
        t0 = time.perf_counter()
        edges = None
        if cfg.energy_edges.min is not None:
            edges = [cfg.energy_edges.min.to("TeV"), cfg.energy_edges.max.to("TeV")]
        est = ExcessMapEstimator(
            correlation_radius=cfg.correlation_radius, energy_edges=edges, **dict(cfg.parameters)
        )
        dataset = self.datasets[0]
        if len(self.datasets) > 1:
            log.info("excess_map: computed on the first dataset %r", dataset.attrs.get("name"))
        self.excess_map = est.run(dataset).compute()
        path = self._path("excess_map.zarr")
        if path.exists():
            shutil.rmtree(path)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
            _plain_attrs(self.excess_map).to_zarr(path, mode="w", consolidated=True)
        self.written["excess_map"] = path
        self.timings["excess_map"] = time.perf_counter() - t0
        return self.excess_map

    def _write_table(self, kind: str, result: xr.Dataset) -> None:
        from ..estimators import io

        path = self._path(f"{kind}.ecsv")
        if kind == "flux_points":
            io.write_flux_points(result, path, sed_type="e2dnde", overwrite=True)
        else:
            io.write_light_curve(result, path, overwrite=True)
        self.written[kind] = path

    # ------------------------------------------------------------------ all
    def run(self, steps: Any = None) -> dict[str, Any]:
        """Run the steps of ``general.steps`` (or ``steps``), then write the outputs.

        Returns
        -------
        dict
            The summary (also written to ``summary.json``).
        """
        steps = list(self.config.general.steps if steps is None else steps)
        self._prepare_outdir()
        actions = {
            "observations": self.get_observations,
            "datasets": self.get_datasets,
            "fit": self.run_fit,
            "flux_points": self.get_flux_points,
            "light_curve": self.get_light_curve,
            "excess_map": self.get_excess_map,
        }
        unknown = [s for s in steps if s not in actions]
        if unknown:
            raise ConfigError(f"unknown step(s) {unknown}; valid: {list(actions)}")
        if self.kind == "1d" and "excess_map" in steps:
            steps.remove("excess_map")
            self.notes.append("excess_map skipped: a 3D step (datasets.type is '1d')")
        with self.compute():
            for step in steps:
                log.info("step %s", step)
                actions[step]()
            return self.write_outputs()

    def _prepare_outdir(self) -> None:
        out = self.outdir
        if out.exists() and any(out.iterdir()) and not self.config.general.overwrite:
            mine = (out / "provenance.json").exists() or (out / DATASETS_STORE).exists()
            if not mine:
                raise ConfigError(
                    f"general.outdir: {out} exists and is not empty; choose another directory "
                    "or set general.overwrite: true"
                )
            if (out / "summary.json").exists():
                raise ConfigError(
                    f"general.outdir: {out} holds the outputs of an earlier run; set "
                    "general.overwrite: true to replace them"
                )
        out.mkdir(parents=True, exist_ok=True)

    def write_outputs(self) -> dict[str, Any]:
        """Plots, ``config.yaml``, ``summary.json`` and ``provenance.json``."""
        from .outputs import write_outputs

        return write_outputs(self)


def _plain_attrs(ds: xr.Dataset) -> xr.Dataset:
    """A copy whose attrs are JSON-able (Zarr attributes)."""
    import json

    def ok(v):
        try:
            json.dumps(v)
            return True
        except TypeError:
            return False

    out = ds.copy()
    out.attrs = {k: v for k, v in ds.attrs.items() if ok(v)}
    for name in out.variables:
        out[name].attrs = {k: v for k, v in ds[name].attrs.items() if ok(v)}
    return out


@contextlib.contextmanager
def _fit_progress(like: Any, enabled: bool):
    """A one-line progress display of likelihood evaluations while a fit runs."""
    if not enabled:
        yield
        return
    stop = threading.Event()
    t0 = time.perf_counter()

    def show():
        while not stop.wait(0.25):
            n = like.n_evaluations
            sys.stderr.write(
                f"\r[fit] {n} likelihood evaluations, {time.perf_counter() - t0:.1f} s"
            )
            sys.stderr.flush()

    thread = threading.Thread(target=show, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        n = like.n_evaluations
        sys.stderr.write(
            f"\r[fit] {n} likelihood evaluations, {time.perf_counter() - t0:.1f} s: done\n"
        )
        sys.stderr.flush()
