"""Benchmark: binning events into a 3D WCS cube.

Compares, in one process and on the same events and geometry:

- ``numpy.bincount`` on precomputed flat bin indices (the floor: counting only);
- gammax ``bin_events`` on numpy columns (sky -> pixel, energy -> bin, counting), one thread;
- gammax ``bin_events`` on dask columns with the threaded scheduler (all cores);
- Gammapy 2.1 ``Map.fill_events`` (one thread).

Rates are events per second per core (best of ``--repeat`` runs); peak memory is the
``tracemalloc`` peak of one run of each method (numpy reports its buffers to tracemalloc).
The last line printed is one JSON object with all figures; ``speedup`` is gammax
(one thread) over Gammapy.

Run: ``python benchmarks/bench_binning.py [--events N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc
import warnings

import numpy as np

N_THREADS = os.cpu_count() or 1


def make_events(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Events around the Crab (ICRS), a quarter outside the map, energies 0.05-150 TeV."""
    rng = np.random.default_rng(seed)
    return {
        "RA": 83.63 + rng.normal(0, 1.5, n),
        "DEC": 22.01 + rng.normal(0, 1.5, n),
        "ENERGY": 10 ** rng.uniform(-1.3, 2.2, n),
    }


def best_time(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_memory_mb(func) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="dask chunk (events)")
    args = parser.parse_args()

    import dask
    import dask.array as dsa
    from astropy.coordinates import SkyCoord

    from gammax.geom import MapAxis, WcsGeom, bin_events

    n = args.events
    events = make_events(n)
    crab = SkyCoord(83.63, 22.01, unit="deg")
    geom_kwargs = dict(skydir=crab, width=5.0, binsz=0.02, proj="TAN", frame="icrs")
    geom = WcsGeom.create(
        **geom_kwargs, axes=[MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 12)]
    )
    nbins = int(np.prod(geom.shape))
    print(
        f"{n:,} events into a {geom.shape} cube ({nbins:,} bins), TAN, 0.02 deg pixels, "
        f"12 log energy bins; {platform.processor() or platform.machine()}, "
        f"{N_THREADS} cores"
    )

    # numpy.bincount floor on precomputed flat indices
    idx = geom.coord_to_idx(
        {"lon": events["RA"], "lat": events["DEC"], "frame": "icrs", "energy": events["ENERGY"]}
    )
    valid = (idx["x"] >= 0) & (idx["y"] >= 0) & (idx["energy"] >= 0)
    flat = np.where(
        valid, (idx["energy"] * geom.npix[1] + idx["y"]) * geom.npix[0] + idx["x"], nbins
    ).astype(np.intp)

    def run_bincount():
        return np.bincount(flat, minlength=nbins + 1)[:nbins]

    def run_gammax():
        return bin_events(events, geom).values

    dask_events = {k: dsa.from_array(v, chunks=args.chunk) for k, v in events.items()}

    def run_gammax_dask():
        with dask.config.set(scheduler="threads", num_workers=N_THREADS):
            return bin_events(dask_events, geom).compute().values

    from astropy.table import Table
    from astropy.time import Time
    from gammapy.data import EventList
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GMapAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    ggeom = GWcsGeom.create(
        **geom_kwargs, axes=[GMapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 12)]
    )
    table = Table(
        {
            "RA": events["RA"],
            "DEC": events["DEC"],
            "ENERGY": events["ENERGY"],
            "TIME": Time(np.full(n, 55000.0), format="mjd", scale="tt"),
        }
    )
    table["RA"].unit, table["DEC"].unit, table["ENERGY"].unit = "deg", "deg", "TeV"
    gevents = EventList(table)

    def run_gammapy():
        m = Map.from_geom(ggeom)
        m.fill_events(gevents)
        return m.data

    # Same answers first.
    reference = run_bincount().reshape(geom.shape)
    ours, ours_dask, theirs = run_gammax(), run_gammax_dask(), run_gammapy()
    same = (
        np.array_equal(ours, reference)
        and np.array_equal(ours_dask, reference)
        and np.array_equal(theirs, reference)
    )
    print(
        f"identical counts (bincount, gammax, gammax+dask, Gammapy): {same}; "
        f"{int(reference.sum()):,} events in the cube"
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = {
            "numpy_bincount": best_time(run_bincount, args.repeat),
            "gammax": best_time(run_gammax, args.repeat),
            "gammax_dask": best_time(run_gammax_dask, args.repeat),
            "gammapy": best_time(run_gammapy, max(1, args.repeat // 2)),
        }
        mem = {
            name: peak_memory_mb(func)
            for name, func in (
                ("numpy_bincount", run_bincount),
                ("gammax", run_gammax),
                ("gammax_dask", run_gammax_dask),
                ("gammapy", run_gammapy),
            )
        }
    cores = {"numpy_bincount": 1, "gammax": 1, "gammax_dask": N_THREADS, "gammapy": 1}
    rate = {k: n / t[k] / cores[k] for k in t}

    print(
        f"{'method':<16}{'cores':>6}{'time [s]':>10}{'M events/s/core':>17}"
        f"{'vs bincount':>13}{'peak MB':>9}"
    )
    for k in t:
        print(
            f"{k:<16}{cores[k]:>6}{t[k]:>10.4f}{rate[k] / 1e6:>17.2f}"
            f"{rate[k] / rate['numpy_bincount']:>13.3f}{mem[k]:>9.1f}"
        )
    speedup = rate["gammax"] / rate["gammapy"]
    print(
        f"gammax / Gammapy (one thread): {speedup:.1f}x; gammax reaches "
        f"{rate['gammax'] / rate['numpy_bincount']:.2f} of the bincount floor; "
        f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    print(
        json.dumps(
            {
                "benchmark": "bin_events_3d_wcs",
                "n_events": n,
                "shape": list(geom.shape),
                "n_bins": nbins,
                "cores": N_THREADS,
                "identical_counts": bool(same),
                "events_per_s_per_core": {k: round(v) for k, v in rate.items()},
                "seconds": {k: round(v, 5) for k, v in t.items()},
                "peak_tracemalloc_mb": {k: round(v, 1) for k, v in mem.items()},
                "fraction_of_bincount": round(rate["gammax"] / rate["numpy_bincount"], 3),
                "speedup": round(speedup, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
