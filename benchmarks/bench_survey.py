"""Reduce a simulated Galactic-plane survey into one mosaic: gammax vs Gammapy 2.1.

The archive (issue #8, scaled down): ``--n-obs`` runs of 30 min on the strip
|l| < 10 deg, b = -1, 0, 1 deg, simulated once with the analytic instrument
(``gammax.simulate``: 20 sources, no diffuse component) and read by both
packages. The mosaic: CAR 24 x 6 deg at ``--binsz`` deg, 4 energy bins
0.3-30 TeV, 6 true-energy bins; counts, exposure and background; offset-max
safe mask (2 deg); each observation reduced on a 4.4 deg cutout around its
pointing and stacked into the mosaic.

Contenders, each in a fresh interpreter (imports not timed):

- ``gammax_1w`` / ``gammax_2w``: ``reduce_observations`` on a
  ``distributed.LocalCluster`` of 1 / 2 worker processes (1 thread, 2 GB
  memory limit each), writing a Zarr store (per-observation groups and the
  windowed mosaic); worker memory is sampled every 0.2 s during the run
  (``psutil`` RSS of each worker process), and spilled bytes read from the
  workers at the end;
- ``gammapy_serial``: Gammapy's documented mosaic loop (``MapDataset.cutout``,
  ``MapDatasetMaker``, ``SafeMaskMaker``, ``MapDataset.stack``), in memory.

The stacked counts are printed for every contender (the gammax runs must agree
exactly; Gammapy's are printed next to them). Printed:
wall time (with the cluster start), time of the reduction call alone,
observations/s and events/s (events binned into the mosaic) of the reduction,
speed-up over Gammapy (wall times), peak RSS (sampled with psutil) of the
process that runs the contender and of every worker. The last line is
one JSON object.

Run: ``python benchmarks/bench_survey.py [--n-obs 100 300] [--binsz 0.05]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import MemoryTrace, run_all, run_one

LON, LATS, ONTIME, SEED = (-10.0, 10.0), (-1.0, 0.0, 1.0), 1800.0, 8
ARCHIVE = Path(os.environ.get("BENCH_ARCHIVE", "/tmp/gammax-bench-survey"))
BINSZ = float(os.environ.get("BENCH_BINSZ", "0.05"))
CUTOUT, OFFSET_MAX = 4.4, 2.0


def make_archive(n_obs: int) -> Path:
    """Simulate the archive once per size (kept between runs)."""
    import gammax.simulate as gs
    from gammax.models import Models

    root = ARCHIVE / f"n{n_obs}"
    if (root / "obs-index.fits.gz").exists():
        return root
    specs = gs.galactic_plane_pointings(n_obs, lon_range=LON, lat_values=LATS, ontime=ONTIME)
    sky = Models(gs.galactic_population(20, seed=SEED, lon_range=LON))
    gs.simulate_archive(root, specs, gs.Instrument.analytic(), sky, seed=SEED, overwrite=True)
    return root


def _axes():
    from gammax.geom import MapAxis

    energy = MapAxis.from_energy_bounds("0.3 TeV", "30 TeV", 4)
    energy_true = MapAxis.from_energy_bounds("0.2 TeV", "50 TeV", 6, name="energy_true")
    return energy, energy_true


def _gammax(workers: int):
    import numpy as np
    import psutil
    import zarr
    from astropy.coordinates import SkyCoord
    from distributed import Client, LocalCluster

    import gammax
    from gammax.geom import WcsGeom
    from gammax.reduce import MapReductionConfig, reduce_observations

    def job() -> dict:
        energy, energy_true = _axes()
        geom = WcsGeom.create(
            skydir=SkyCoord(0, 0, unit="deg", frame="galactic"),
            width=(24, 6),
            binsz=BINSZ,
            frame="galactic",
            proj="CAR",
            axes=[energy],
        )
        config = MapReductionConfig(
            geom=geom,
            energy_axis_true=energy_true,
            products=("counts", "exposure", "background"),
            offset_max=OFFSET_MAX,
            cutout_width=CUTOUT,
            stack_chunk=100,
        )
        store = gammax.open_datastore(ARCHIVE / f"n{N_OBS}")
        out = Path(tempfile.mkdtemp()) / "survey.zarr"
        try:
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    memory_limit="2GB",
                    dashboard_address=":0",
                ) as cluster,
                Client(cluster) as client,
            ):
                procs = {a: psutil.Process(p) for a, p in client.run(os.getpid).items()}
                with (
                    MemoryTrace(procs, interval=0.2) as workers_rss,
                    MemoryTrace({"self": psutil.Process()}, interval=0.2) as me,
                ):
                    result = reduce_observations(store, config, out, client=client)
                spilled = client.run(
                    lambda dask_worker: int(
                        getattr(getattr(dask_worker.data, "spilled_total", None), "disk", 0)
                    )
                )
            counts = zarr.open_group(str(out), mode="r")["map/stacked/maps/counts"][...]
        finally:
            shutil.rmtree(out.parent, ignore_errors=True)
        return {
            "n_obs": len(result.done),
            "n_events": int(np.sum(counts)),
            "reduce_seconds": result.seconds,
            "workers_peak_rss_mb": sorted(round(v) for v in workers_rss.peaks().values()),
            "client_peak_rss_mb": round(me.peaks().get("self", 0.0)),
            "spilled_bytes": int(sum(spilled.values())),
            "stacked_counts": int(np.sum(counts)),
        }

    return job


def gammax_1w():
    return _gammax(1)


def gammax_2w():
    return _gammax(2)


def gammapy_serial():
    warnings.simplefilter("ignore")
    import astropy.units as u
    import numpy as np
    import psutil
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import MapDataset
    from gammapy.makers import MapDatasetMaker, SafeMaskMaker
    from gammapy.maps import MapAxis, WcsGeom

    def job() -> dict:
        energy = MapAxis.from_energy_bounds("0.3 TeV", "30 TeV", 4)
        energy_true = MapAxis.from_energy_bounds("0.2 TeV", "50 TeV", 6, name="energy_true")
        geom = WcsGeom.create(
            skydir=SkyCoord(0, 0, unit="deg", frame="galactic"),
            width=(24, 6),
            binsz=BINSZ,
            frame="galactic",
            proj="CAR",
            axes=[energy],
        )
        stacked = MapDataset.create(geom, energy_axis_true=energy_true, name="stacked")
        maker = MapDatasetMaker(selection=["counts", "exposure", "background"])
        safe = SafeMaskMaker(methods=["offset-max"], offset_max=OFFSET_MAX * u.deg)
        store = DataStore.from_dir(ARCHIVE / f"n{N_OBS}")
        observations = store.get_observations(store.obs_table["OBS_ID"].tolist())
        with MemoryTrace({"self": psutil.Process()}, interval=0.2) as me:
            for obs in observations:
                cutout = stacked.cutout(obs.pointing.fixed_icrs, width=CUTOUT * u.deg)
                dataset = safe.run(maker.run(cutout, obs), obs)
                stacked.stack(dataset)
        counts = int(np.sum(stacked.counts.data))
        return {
            "n_obs": len(observations),
            "n_events": counts,
            "stacked_counts": counts,
            "client_peak_rss_mb": round(me.peaks().get("self", 0.0)),
        }

    return job


CONTENDERS = {"gammax_1w": gammax_1w, "gammax_2w": gammax_2w, "gammapy_serial": gammapy_serial}
N_OBS = int(os.environ.get("BENCH_N_OBS", "100"))


def main() -> None:
    global N_OBS
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", choices=CONTENDERS)
    parser.add_argument("--make", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--n-obs", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--binsz", type=float, default=BINSZ)
    parser.add_argument("--only", nargs="*", choices=CONTENDERS)
    args = parser.parse_args()
    os.environ["BENCH_BINSZ"] = str(args.binsz)
    if args.one:
        run_one(CONTENDERS[args.one])
        return
    if args.make:
        make_archive(args.make)
        return
    summary: dict = {"benchmark": "survey_mosaic", "binsz": args.binsz, "runs": {}}
    header = ("n_obs", "contender", "wall s", "reduce s", "obs/s", "events/s", "vs gammapy")
    header += ("RSS MB",)
    print("{:>6s} {:15s} {:>8s} {:>8s} {:>7s} {:>9s} {:>10s} {:>8s}  workers MB".format(*header))
    for n in args.n_obs:
        # in a child: Linux children inherit the parent's peak RSS (ru_maxrss)
        subprocess.run([sys.executable, __file__, "--make", str(n)], check=True)
        N_OBS = n
        os.environ["BENCH_N_OBS"] = str(n)
        results = run_all(__file__, args.only or list(CONTENDERS), repeats=1)
        ref = results.get("gammapy_serial", {}).get("median_seconds")
        counts = {k: r["stacked_counts"] for k, r in results.items()}
        print(f"stacked counts ({n} obs): {counts}")
        ours = {v for k, v in counts.items() if k.startswith("gammax")}
        if len(ours) != 1:
            raise AssertionError(f"gammax stacked counts differ between runs: {counts}")
        summary.setdefault("stacked_counts", {})[n] = counts
        for name, r in results.items():
            s = r["median_seconds"]
            red = r.get("reduce_seconds", s)  # without starting the cluster
            speedup = ref / s if ref else float("nan")
            print(
                f"{n:6d} {name:15s} {s:8.2f} {red:8.2f} {r['n_obs'] / red:7.2f} "
                f"{r['n_events'] / red:9.3g} {speedup:10.2f} {r['client_peak_rss_mb']:8d}  "
                f"{r.get('workers_peak_rss_mb') or '-'}"
            )
            summary["runs"][f"{n}/{name}"] = {
                "seconds": round(s, 2),
                "reduce_seconds": round(red, 2),
                "obs_per_s": round(r["n_obs"] / red, 3),
                "events_per_s": round(r["n_events"] / red, 1),
                "peak_rss_mb": r["client_peak_rss_mb"],
                "workers_peak_rss_mb": r.get("workers_peak_rss_mb"),
                "spilled_bytes": r.get("spilled_bytes"),
                "speedup_vs_gammapy": round(speedup, 3),
            }
    best = [v["speedup_vs_gammapy"] for k, v in summary["runs"].items() if "gammax_2w" in k]
    summary["speedup"] = best[-1] if best else None
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
