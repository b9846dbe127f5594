"""Reduce the whole H.E.S.S. DR1 archive (105 observations): gammax vs Gammapy 2.1.

Setting (issue #4): a cube per observation, 4 x 4 deg around its pointing at
0.02 deg (200 x 200 pixels, CAR), 12 reconstructed-energy bins 0.5-50 TeV, 24
true-energy bins 0.3-100 TeV; products counts, exposure, background, PSF and
edisp kernel (0.2 deg IRF grid), offset-max safe mask (2.5 deg).

Contenders, each in a fresh interpreter (imports not timed):

- ``gammax_1``: ``reduce_observations`` on dask's threaded scheduler, 1 thread;
- ``gammax_threads``: the same with 2 threads (the default scheduler);
- ``gammax_cluster``: the same call on a ``distributed.LocalCluster`` of 2 worker processes;
- ``gammapy_serial``: Gammapy's ``MapDatasetMaker`` + ``SafeMaskMaker`` per observation;
- ``gammapy_parallel``: the same through Gammapy's own ``run_multiprocessing``
  (what ``DatasetsMaker(n_jobs=2)`` uses) with 2 processes.

gammax also writes every observation's products to a Zarr store (with sha256
of the inputs); Gammapy keeps them in memory. Printed: wall time,
observations/s, events/s, speed-up over Gammapy serial, peak RSS (of the
process and of its worker processes). The last line is a JSON object.

Run: ``python benchmarks/bench_reduce.py [--n-obs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import run_all, run_one

N_OBS = int(os.environ.get("BENCH_N_OBS", "105"))
OFFSET_MAX = 2.5


def data_dir() -> Path:
    if os.environ.get("GAMMAX_DATA"):
        return Path(os.environ["GAMMAX_DATA"]) / "hess-dl3-dr1"
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "hess-dl3-dr1"


def _gammax(scheduler: str, workers: int):
    import dask

    import gammax
    from gammax.geom import MapAxis, WcsGeom
    from gammax.reduce import MapReductionConfig, reduce_observations

    def job() -> dict:
        store = gammax.open_datastore(data_dir())
        ids = store.obs_ids[:N_OBS]
        energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
        energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
        geom = WcsGeom.create(width=4, binsz=0.02, frame="icrs", proj="CAR", axes=[energy])
        config = MapReductionConfig(
            geom=geom,
            energy_axis_true=energy_true,
            center_on_pointing=True,
            offset_max=OFFSET_MAX,
            safe_mask_methods=("offset-max",),
        )
        out = Path(tempfile.mkdtemp()) / "hess.zarr"
        try:
            if scheduler == "cluster":
                from distributed import Client, LocalCluster

                with (
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                    ) as cluster,
                    Client(cluster) as client,
                ):
                    result = reduce_observations(store, config, out, obs_ids=ids, client=client)
            else:
                with dask.config.set(scheduler="threads", num_workers=workers):
                    result = reduce_observations(store, config, out, obs_ids=ids)
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)
        return {
            "n_obs": len(result.done),
            "n_events": result.n_events,
            "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
        }

    return job


def gammax_1():
    return _gammax("threads", 1)


def gammax_threads():
    return _gammax("threads", 2)


def gammax_cluster():
    return _gammax("cluster", 2)


def _gammapy_reduce(obs):
    """One observation with Gammapy (module level so that multiprocessing can pickle it)."""
    import astropy.units as u
    from gammapy.datasets import MapDataset
    from gammapy.makers import MapDatasetMaker, SafeMaskMaker
    from gammapy.maps import MapAxis, WcsGeom

    warnings.simplefilter("ignore")
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    geom = WcsGeom.create(
        skydir=obs.pointing.fixed_icrs, width=4, binsz=0.02, frame="icrs", proj="CAR", axes=[energy]
    )
    reference = MapDataset.create(geom, energy_axis_true=energy_true, binsz_irf=0.2)
    dataset = MapDatasetMaker().run(reference, obs)
    dataset = SafeMaskMaker(methods=["offset-max"], offset_max=OFFSET_MAX * u.deg).run(dataset, obs)
    return int(dataset.counts.data.sum())


def _gammapy(n_jobs: int):
    warnings.simplefilter("ignore")
    from gammapy.data import DataStore
    from gammapy.utils.parallel import run_multiprocessing

    def job() -> dict:
        store = DataStore.from_dir(data_dir())
        ids = store.obs_table["OBS_ID"][:N_OBS].tolist()
        observations = store.get_observations(ids)
        if n_jobs == 1:
            counts = [_gammapy_reduce(obs) for obs in observations]
        else:
            counts = run_multiprocessing(
                _gammapy_reduce,
                [(obs,) for obs in observations],
                pool_kwargs={"processes": n_jobs},
                task_name="reduce",
            )
        return {
            "n_obs": len(counts),
            "n_events": int(sum(counts)),
            "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
        }

    return job


def gammapy_serial():
    return _gammapy(1)


def gammapy_parallel():
    return _gammapy(2)


CONTENDERS = {
    "gammax_1": gammax_1,
    "gammax_threads": gammax_threads,
    "gammax_cluster": gammax_cluster,
    "gammapy_serial": gammapy_serial,
    "gammapy_parallel": gammapy_parallel,
}


def main() -> None:
    global N_OBS
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", choices=CONTENDERS)
    parser.add_argument("--n-obs", type=int, default=N_OBS)
    parser.add_argument("--only", nargs="*", choices=CONTENDERS)
    args = parser.parse_args()
    N_OBS = args.n_obs
    os.environ["BENCH_N_OBS"] = str(N_OBS)
    if args.one:
        run_one(CONTENDERS[args.one])
        return
    names = args.only or list(CONTENDERS)
    results = run_all(__file__, names, repeats=1, extra=["--n-obs", str(N_OBS)])
    ref = results.get("gammapy_serial", {}).get("median_seconds")
    header = ("contender", "wall s", "obs/s", "events/s", "vs gammapy", "RSS MB", "workers MB")
    print("{:17s} {:>8s} {:>8s} {:>10s} {:>10s} {:>8s} {:>10s}".format(*header))
    summary = {
        "benchmark": "reduce_hess_dr1",
        "n_obs": N_OBS,
        "seconds": {},
        "obs_per_s": {},
        "events_per_s": {},
        "peak_rss_mb": {},
        "workers_peak_rss_mb": {},
    }
    for name, r in results.items():
        t = r["median_seconds"]
        ratio = ref / t if ref else float("nan")
        print(
            f"{name:17s} {t:8.2f} {r['n_obs'] / t:8.2f} {r['n_events'] / t:10.3g} "
            f"{ratio:10.2f} {r['peak_rss_mb']:8.0f} {r['children_peak_rss_mb']:10.0f}"
        )
        summary["seconds"][name] = round(t, 3)
        summary["obs_per_s"][name] = round(r["n_obs"] / t, 3)
        summary["events_per_s"][name] = round(r["n_events"] / t)
        summary["peak_rss_mb"][name] = round(r["peak_rss_mb"])
        summary["workers_peak_rss_mb"][name] = round(r["children_peak_rss_mb"])
    counts = {name: r["n_events"] for name, r in results.items()}
    summary["counts_in_maps"] = counts
    if ref:
        best = min(results[n]["median_seconds"] for n in results if n.startswith("gammax"))
        summary["speedup"] = round(ref / best, 2)
        if "gammapy_parallel" in results:
            summary["speedup_vs_gammapy_parallel"] = round(
                results["gammapy_parallel"]["median_seconds"] / best, 2
            )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
