"""TS map of a 3D dataset: gammax vs Gammapy 2.1 on the same number of cores.

The four H.E.S.S. DR1 Crab runs are reduced once by gammax (untimed) into a
temporary Zarr store: 4 x 4 deg CAR at 0.02 deg (200 x 200 pixels), 12 reco /
24 true energy bins, FoV background. Gammapy gets the very same arrays as a
``MapDataset`` (built untimed). Both compute the TS map of a point source with
a power law of index 2 (the default kernel), kernel width 0.3 deg, one energy
band (all energies summed), with upper limits (``selection_optional=["ul"]``).

Contenders (each in a fresh interpreter; imports, set-up and a warm-up run on a
0.4 deg cutout untimed; BLAS on one thread everywhere):

``gammax_threads``  dask's local threaded scheduler with 2 threads;
``gammax_2w``       a ``distributed.LocalCluster`` of 2 single-threaded worker
                    processes (started untimed, as in a session), ``client=``;
``gammapy``         ``TSMapEstimator(n_jobs=2)`` (multiprocessing, 2 processes),
                    Gammapy's default tolerance (``rtol=0.01``; gammax solves to 1e-6).

Printed: wall times, pixels per second, peak RSS of the timed process (Gammapy's
and distributed's worker processes are not included), the max relative TS
difference where TS > 4; the last line is a JSON object with ``speedup``
(Gammapy time / best gammax time).

Run: ``python benchmarks/bench_ts_map.py [--repeats N] [--store DIR]``.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).parent))
from _harness import run_with_store
from bench_fit import _to_gammapy, data_dir

CRAB = (83.633, 22.0145)
CRAB_RUNS = [23523, 23526, 23559, 23592]
KERNEL_WIDTH = "0.3 deg"
CORES = 2
CONTENDERS = ["gammax_threads", "gammax_2w", "gammapy"]


def prepare(root: Path) -> None:
    """Reduce the Crab runs into ``root / crab.zarr`` (once)."""
    if (root / "crab.zarr").exists():
        return
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    import gammax
    from gammax.geom import MapAxis, WcsGeom
    from gammax.reduce import MapReductionConfig, reduce_observations

    crab = SkyCoord(*CRAB, unit="deg", frame="icrs")
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    geom = WcsGeom.create(skydir=crab, width=4, binsz=0.02, frame="icrs", proj="CAR", axes=[energy])
    config = MapReductionConfig(
        geom=geom,
        energy_axis_true=energy_true,
        offset_max=2.5,
        safe_mask_methods=("offset-max",),
        background_method="fov",
        fov_params={"method": "scale"},
        exclusion={"regions": CircleSkyRegion(crab, 0.3 * u.deg).serialize(format="ds9")},
    )
    store = gammax.open_datastore(data_dir()).select_obs(CRAB_RUNS)
    reduce_observations(store, config, root / "crab.zarr")


def _load(root: Path):
    from gammax.datasets import MapDataset

    return MapDataset.from_zarr(root / "crab.zarr", "map/stacked").load()


def _warmup_cutout(ds):
    from gammax.datasets import MapDataset

    return MapDataset.cutout(ds, ds.counts.gx.geom.center_skydir, 0.4)


def _summary(values) -> dict:
    import numpy as np

    ts = np.asarray(values, float)
    return {
        "n_pixels": int(np.isfinite(ts).sum()),
        "ts_max": float(np.nanmax(ts)),
        "ts": ts.tolist(),
    }


def gammax_threads(root: Path):
    import dask

    from gammax.estimators.ts_map import TSMapEstimator

    ds = _load(root)
    est = TSMapEstimator(kernel_width=KERNEL_WIDTH, selection_optional=["ul"], tile_size=50)
    est.run(_warmup_cutout(ds)).compute()  # first-call imports, untimed

    def job():
        with dask.config.set(scheduler="threads", num_workers=CORES):
            maps = est.run(ds).compute()
        return _summary(maps.ts.values)

    return job


def gammax_2w(root: Path):
    from dask.distributed import Client, LocalCluster

    from gammax.estimators.ts_map import TSMapEstimator

    ds = _load(root)
    est = TSMapEstimator(kernel_width=KERNEL_WIDTH, selection_optional=["ul"], tile_size=50)
    warnings.simplefilter("ignore")
    cluster = LocalCluster(
        n_workers=CORES, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    est.run(_warmup_cutout(ds), client=client)  # first-call imports, untimed

    def job():
        maps = est.run(ds, client=client)
        out = _summary(maps.ts.values)
        return out

    return job


def gammapy(root: Path):
    warnings.simplefilter("ignore")
    from gammapy.estimators import TSMapEstimator as GammapyTS

    gds = _to_gammapy(_load(root))
    est = GammapyTS(kernel_width=KERNEL_WIDTH, selection_optional=["ul"], n_jobs=CORES)
    est.run(gds.cutout(gds.counts.geom.center_skydir, "0.4 deg"))  # warm-up, untimed

    def job():
        maps = est.run(gds)
        return _summary(maps.ts.data)

    return job


def main() -> None:
    import numpy as np

    out = run_with_store(__file__, CONTENDERS, prepare, globals(), "gammax-bench-ts-")
    if out is None:
        return
    results, load = out
    ref = np.asarray(results["gammapy"]["ts"], float) if "gammapy" in results else None
    print(
        f"{'contender':15s} {'wall s':>8s} {'runs (s)':>24s} {'pix/s':>9s} {'peak MB':>8s} "
        f"{'max rel dTS (TS>4)':>19s}"
    )
    agreement = {}
    for name, r in results.items():
        runs = ", ".join(f"{s:.2f}" for s in r["all_seconds"])
        ts = np.asarray(r["ts"], float)
        shape = ts.shape
        diff = ""
        if ref is not None and name != "gammapy":
            mask = np.isfinite(ref) & (ref > 4)
            agreement[name] = float(np.max(np.abs(ts[mask] - ref[mask]) / ref[mask]))
            diff = f"{agreement[name]:.2e}"
        print(
            f"{name:15s} {r['median_seconds']:8.2f} {runs:>24s} "
            f"{r['n_pixels'] / r['median_seconds']:9.0f} {r['peak_rss_mb']:8.0f} {diff:>19s}"
        )
    t = {k: v["median_seconds"] for k, v in results.items()}
    gx = [k for k in t if k.startswith("gammax")]
    best = min(gx, key=lambda k: t[k]) if gx else None
    summary = {
        "speedup": t["gammapy"] / t[best] if best and "gammapy" in t else None,
        "best_gammax": best,
        "seconds": t,
        "speedup_each": {k: t["gammapy"] / t[k] for k in gx} if "gammapy" in t else {},
        "peak_rss_mb": {k: v["peak_rss_mb"] for k, v in results.items()},
        "map_shape": list(shape) if results else None,
        "n_pixels_fitted": {k: v["n_pixels"] for k, v in results.items()},
        "max_rel_ts_diff_ts_gt_4": agreement,
        "cores": CORES,
        "kernel_width": KERNEL_WIDTH,
        "load_average": load,
    }
    if summary["speedup"] is not None:
        print(
            f"TS map {shape}: gammax ({best}) {t[best]:.2f} s vs Gammapy n_jobs={CORES} "
            f"{t['gammapy']:.2f} s -> {summary['speedup']:.1f}x"
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
