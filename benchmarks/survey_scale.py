"""Out-of-core reduction of a survey-sized archive into one 0.02 deg mosaic (issue #8).

The archive is the one ``make_archive.py`` builds (3,000 CTA prod5 observations
on the Galactic plane, |l| < 60 deg, b = -1, 0, 1 deg)::

    python benchmarks/make_archive.py --n-obs 3000 --n-sources 500 \\
        --irf prod5-south --workers 2 --out /scratch/gps3000
    python benchmarks/survey_scale.py --archive /scratch/gps3000 \\
        --n-obs 300 1000 3000 --workers 1 2 --keep /scratch/gps3000-mosaic.zarr

Every run reduces the first ``n`` observations (longitude-major order: the
strip grows with ``n``) into the same mosaic: Galactic CAR covering the whole
strip at ``--binsz`` (default 0.02 deg), 6 reconstructed-energy bins 0.2-100
TeV, 20 true-energy bins 0.05-250 TeV; counts, exposure, background, PSF and energy
dispersion (the IRF maps on a 0.5 deg grid); offset-max safe mask (2.5 deg),
each observation reduced on a 5 deg cutout and streamed into 250-pixel
windows of the mosaic. The reduction runs on a ``distributed.LocalCluster``
of ``--workers`` processes (1 thread, ``--memory-limit`` each), one
fresh interpreter per run (the imports are not timed).

Printed per run: wall time (cluster start included) and the reduction call
alone, observations/s and events/s (events in the input files), peak RSS of
every worker (sampled every 0.5 s with psutil) and of the client, the worker
RSS at 25/50/75/100% of the run (is memory flat as the run goes on?), bytes
spilled to disk, and the
stacked counts (every run over the same observations must agree exactly).
There is no Gammapy contender at this size (``bench_survey.py`` runs the
side-by-side comparison on 100-1,000 observations); the speed-up printed is
2 workers over 1 worker. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import MemoryTrace, local_cluster

STRIP_LON, STRIP_WIDTH, STRIP_HEIGHT = 0.0, 126.0, 7.0
OFFSET_MAX, CUTOUT, WINDOW = 2.5, 5.0, 250


def survey_config(binsz: float = 0.02):
    """The mosaic of the whole strip and the reduction settings (shared with survey_products)."""
    from astropy.coordinates import SkyCoord

    from gammax.geom import MapAxis, WcsGeom
    from gammax.reduce import MapReductionConfig

    energy = MapAxis.from_energy_bounds("0.2 TeV", "100 TeV", 6)
    # 5.4 true-energy bins per decade: coarser bins bias the predicted counts
    # where the effective area rises steeply (checked on flux points)
    energy_true = MapAxis.from_energy_bounds("0.05 TeV", "250 TeV", 20, name="energy_true")
    geom = WcsGeom.create(
        skydir=SkyCoord(STRIP_LON, 0, unit="deg", frame="galactic"),
        width=(STRIP_WIDTH, STRIP_HEIGHT),
        binsz=binsz,
        frame="galactic",
        proj="CAR",
        axes=[energy],
    )
    return MapReductionConfig(
        geom=geom,
        energy_axis_true=energy_true,
        products=("counts", "exposure", "background", "psf", "edisp"),
        binsz_irf=0.5,
        offset_max=OFFSET_MAX,
        cutout_width=CUTOUT,
        stack_chunk=WINDOW,
    )


def reduce_run(
    archive: str,
    n_obs: int,
    workers: int,
    binsz: float,
    memory_limit: str,
    keep,
    profile: bool = True,
):
    """Child: reduce the first ``n_obs`` observations on a fresh LocalCluster; a result dict.

    ``profile=False`` turns off the workers' statistical profiler
    (``distributed.worker.profile.enabled``), which keeps a call tree per
    second of run time for the last ``distributed.admin.low-level-log-length``
    (1000) seconds.
    """
    import dask
    import numpy as np
    import psutil
    import zarr
    from distributed import Client

    import gammax
    from gammax.reduce import reduce_observations

    config = survey_config(binsz)
    store = gammax.open_datastore(archive)
    ids = [int(i) for i in store.obs_table["obs_id"].values[:n_obs]]
    file_events = int(store.obs_table["EVENT_COUNT"].values[:n_obs].sum())
    out = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="gammax-survey-")) / "mosaic.zarr"
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    try:
        with (
            dask.config.set({"distributed.worker.profile.enabled": profile}),
            local_cluster(workers, memory_limit) as cluster,
            Client(cluster) as client,
        ):
            procs = {a: psutil.Process(p) for a, p in client.run(os.getpid).items()}
            with MemoryTrace(procs) as trace, MemoryTrace({"client": psutil.Process()}) as me:
                result = reduce_observations(store, config, out, obs_ids=ids, client=client)
            spilled = client.run(
                lambda dask_worker: int(
                    getattr(getattr(dask_worker.data, "spilled_total", None), "disk", 0)
                )
            )
        wall = time.perf_counter() - t0
        counts = zarr.open_group(str(out), mode="r")["map/stacked/maps/counts"]
        stacked = int(sum(np.sum(counts[i]) for i in range(counts.shape[0])))
        store_bytes = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        if not keep:
            shutil.rmtree(out.parent, ignore_errors=True)
    return {
        "n_obs": len(result.done),
        "failed": len(result.failed),
        "n_events": int(result.n_events),
        "file_events": file_events,
        "wall_seconds": wall,
        "reduce_seconds": result.seconds,
        "task_seconds_median": float(np.median(list(result.task_seconds.values()))),
        "workers_peak_rss_mb": sorted(round(v) for v in trace.peaks().values()),
        "workers_rss_at_25_50_75_100pct": trace.at_fractions(),
        "client_peak_rss_mb": round(me.peaks().get("client", 0.0)),
        "spilled_bytes": int(sum(spilled.values())),
        "stacked_counts": stacked,
        "store_bytes": store_bytes,
        "mosaic_shape": list(config.geom.shape),
        "worker_profiler": profile,
    }


def main(argv=None) -> dict | None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--archive", required=True, help="archive built by make_archive.py")
    p.add_argument("--n-obs", type=int, nargs="+", default=[300, 1000, 3000])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--binsz", type=float, default=0.02)
    p.add_argument("--memory-limit", default="2GB")
    p.add_argument("--keep", help="keep the mosaic store of the last run here")
    p.add_argument(
        "--no-profile",
        action="store_true",
        help="turn off the workers' statistical profiler (its history grows for 1000 s)",
    )
    p.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        n, w = args.one
        res = reduce_run(
            args.archive, n, w, args.binsz, args.memory_limit, args.keep, not args.no_profile
        )
        print(json.dumps(res))
        return None
    runs = [(n, w) for n in args.n_obs for w in args.workers]
    summary: dict = {"benchmark": "survey_scale", "archive": args.archive, "runs": {}}
    summary.update(binsz=args.binsz, memory_limit=args.memory_limit, load=os.getloadavg()[0])
    summary["worker_profiler"] = not args.no_profile
    print(
        f"{'n_obs':>6s} {'workers':>7s} {'wall s':>8s} {'reduce s':>8s} {'obs/s':>6s} "
        f"{'events/s':>9s} {'spill MB':>8s} {'client MB':>9s}  workers peak MB | at 25/50/75/100%"
    )
    for i, (n, w) in enumerate(runs):
        keep = args.keep if args.keep and i == len(runs) - 1 else None
        cmd = [sys.executable, __file__, "--archive", args.archive, "--one", str(n), str(w)]
        cmd += ["--binsz", str(args.binsz), "--memory-limit", args.memory_limit]
        cmd += ["--keep", keep] if keep else []
        cmd += ["--no-profile"] if args.no_profile else []
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"run {n} obs / {w} workers failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        red = r["reduce_seconds"]
        print(
            f"{n:6d} {w:7d} {r['wall_seconds']:8.1f} {red:8.1f} {r['n_obs'] / red:6.2f} "
            f"{r['file_events'] / red:9.3g} {r['spilled_bytes'] / 1e6:8.1f} "
            f"{r['client_peak_rss_mb']:9d}  {r['workers_peak_rss_mb']} | "
            f"{r['workers_rss_at_25_50_75_100pct']}",
            flush=True,
        )
        summary["runs"][f"{n}/{w}w"] = {
            **{k: v for k, v in r.items() if k != "mosaic_shape"},
            "obs_per_s": round(r["n_obs"] / red, 3),
            "events_per_s": round(r["n_events"] / red),
            "file_events_per_s": round(r["file_events"] / red),
        }
        summary["mosaic_shape"] = r["mosaic_shape"]
    for n in args.n_obs:
        counts = {
            k: v["stacked_counts"] for k, v in summary["runs"].items() if k.startswith(f"{n}/")
        }
        if len(set(counts.values())) > 1:
            raise AssertionError(
                f"stacked counts differ between runs of {n} observations: {counts}"
            )
        one, two = summary["runs"].get(f"{n}/1w"), summary["runs"].get(f"{n}/2w")
        if one and two:
            summary[f"speedup_2w_vs_1w_{n}"] = round(
                one["reduce_seconds"] / two["reduce_seconds"], 3
            )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
