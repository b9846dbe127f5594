"""Build a survey-sized synthetic DL3 archive with the simulator, as one dask graph.

The archive of issue #8: observations on a Galactic-plane strip, a synthetic
source population (point and extended sources, log N - log S fluxes) plus a
diffuse ridge, with the CTA prod5 / 1DC responses (or the analytic instrument).
Every observation is one dask task (draw events, write a GADF file); the index
tables are written at the end. The default is a small run; the issue #8 archive
(>= 3000 observations, >= 2e8 events, several hundred sources) is::

    python benchmarks/make_archive.py --n-obs 3000 --n-sources 500 --irf prod5-south \\
        --workers 2 --out /scratch/gps-archive

Printed: set-up and simulation times, observations/s, events/s, bytes written,
peak RSS of this process and of every worker process, and a final JSON line.

Options ``--irf``: ``analytic``, ``prod5-south``, ``prod5-north``, ``1dc`` or a
path to a GADF IRF file. ``--workers 0`` runs on dask's threaded scheduler in
this process (``--threads`` threads) instead of a ``distributed.LocalCluster``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

IRFS = {
    "prod5-south": "cta-caldb/Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz",
    "prod5-north": "cta-caldb/Prod5-North-20deg-AverageAz-4LSTs09MSTs.180000s-v0.1.fits.gz",
    "1dc": "cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits",
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def instrument_for(name: str):
    import gammax.simulate as gs
    from gammax.testing import data_path

    if name == "analytic":
        return gs.Instrument.analytic()
    path = data_path(IRFS[name]) if name in IRFS else Path(name)
    return gs.Instrument.read(path)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-obs", type=int, default=60, help="observations (default 60)")
    p.add_argument("--n-sources", type=int, default=300, help="sources in the population")
    p.add_argument("--no-diffuse", action="store_true", help="leave out the diffuse ridge")
    p.add_argument(
        "--irf",
        default="prod5-south",
        help="analytic | prod5-south | prod5-north | 1dc | path to a GADF IRF file",
    )
    p.add_argument("--out", help="archive directory (default: a temporary one, deleted)")
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="LocalCluster worker processes; 0: threaded scheduler in-process",
    )
    p.add_argument("--threads", type=int, default=2, help="threads with --workers 0")
    p.add_argument("--ontime", type=float, default=1800.0, help="seconds per observation")
    p.add_argument("--lon-range", type=float, nargs=2, default=(-60.0, 60.0))
    p.add_argument("--lat-values", type=float, nargs="+", default=(-1.0, 0.0, 1.0))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--irf-layout", default="shared", choices=("shared", "embed", "reference"))
    p.add_argument("--compresslevel", type=int, default=1)
    p.add_argument(
        "--only-obs",
        help="JSON file with a list of observation ids: simulate only those of the full "
        "pointing plan (their events are the same as in the full archive: every "
        "observation and source has its own random stream)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="open the result with gammax and compare the event counts",
    )
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    t0 = time.perf_counter()
    import dask

    import gammax
    import gammax.simulate as gs
    from gammax.models import Models

    instrument = instrument_for(args.irf)
    sources = gs.galactic_population(
        args.n_sources, seed=args.seed, lon_range=tuple(args.lon_range)
    )
    components = [*sources]
    if not args.no_diffuse:
        lo, hi = args.lon_range
        components.append(gs.galactic_diffuse(lon_range=(lo - 10.0, hi + 10.0)))
    models = Models(components)
    specs = gs.galactic_plane_pointings(
        args.n_obs,
        lon_range=tuple(args.lon_range),
        lat_values=tuple(args.lat_values),
        ontime=args.ontime,
    )
    if args.only_obs:
        keep = {int(i) for i in json.loads(Path(args.only_obs).read_text())}
        specs = [spec for spec in specs if spec.obs_id in keep]
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gammax-archive-"))
    t_setup = time.perf_counter() - t0
    print(
        f"set-up {t_setup:.1f} s: {instrument!r}, {len(sources)} sources"
        f"{'' if args.no_diffuse else ' + diffuse'}, {len(specs)} observations -> {out}"
    )

    workers_rss = []
    t1 = time.perf_counter()
    kwargs = {
        "seed": args.seed,
        "irf": args.irf_layout,
        "compresslevel": args.compresslevel,
        "overwrite": True,
    }
    if args.workers > 0:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            t_cluster = time.perf_counter() - t1
            t1 = time.perf_counter()
            result = gs.simulate_archive(out, specs, instrument, models, client=client, **kwargs)
            rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
            workers_rss = sorted(rss.values())
    else:
        t_cluster = 0.0
        with dask.config.set(scheduler="threads", num_workers=args.threads):
            result = gs.simulate_archive(out, specs, instrument, models, **kwargs)
    seconds = time.perf_counter() - t1
    obs = result.observations
    n_events = int(obs["n_events"].sum())
    size = int(obs["size"].sum())
    print(result.summary())
    print(
        f"cluster start {t_cluster:.1f} s; simulation {seconds:.1f} s: "
        f"{len(obs) / seconds:.2f} obs/s, {n_events / seconds:.3g} events/s, "
        f"{size / seconds / 1e6:.1f} MB/s written ({size / 1e9:.2f} GB)"
    )
    print(
        f"events per observation: median {obs['n_events'].median():.0f}, "
        f"background fraction {obs['n_background'].sum() / max(n_events, 1):.3f}, "
        f"visible sources per observation: median {obs['n_sources'].median():.0f}"
    )
    print(f"task seconds: median {obs['seconds'].median():.3f}, max {obs['seconds'].max():.3f}")
    print(
        f"peak RSS: this process {peak_rss_mb():.0f} MB; workers "
        f"{[round(r) for r in workers_rss]} MB"
    )
    summary = {
        "benchmark": "make_archive",
        "irf": args.irf,
        "n_obs": len(obs),
        "n_events": n_events,
        "n_sources": len(sources),
        "diffuse": not args.no_diffuse,
        "workers": args.workers,
        "threads": args.threads if args.workers == 0 else 1,
        "setup_seconds": round(t_setup, 2),
        "cluster_seconds": round(t_cluster, 2),
        "seconds": round(seconds, 2),
        "obs_per_s": round(len(obs) / seconds, 3),
        "events_per_s": round(n_events / seconds),
        "bytes": size,
        "peak_rss_mb": round(peak_rss_mb()),
        "workers_peak_rss_mb": [round(r) for r in workers_rss],
        "graph_tasks": result.graph_tasks,
    }
    if args.check:
        t2 = time.perf_counter()
        store = gammax.open_datastore(out)
        counts = store.obs_table["EVENT_COUNT"].values
        summary["check_ok"] = bool(len(store) == len(obs) and int(counts.sum()) == n_events)
        summary["open_seconds"] = round(time.perf_counter() - t2, 2)
    if not args.out:
        shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
