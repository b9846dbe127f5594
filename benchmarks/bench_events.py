"""Open the H.E.S.S. DL3 DR1 store and sum all event energies: gammax vs Gammapy vs astropy.

Contenders, each in a fresh interpreter (imports not timed), 3 runs, median shown:

- ``gammax``: ``open_datastore`` + ``store.events().ENERGY.sum().compute()``
  (dask threaded scheduler, the default);
- ``gammapy``: ``DataStore.from_dir`` + ``get_observations`` + reading every
  observation's events (what a Gammapy user runs);
- ``astropy``: a loop of ``fits.open`` reading the ENERGY column of each file (the floor).

Run: ``python benchmarks/bench_events.py``. The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import run_all, run_one


def data_dir() -> Path:
    if os.environ.get("GAMMAX_DATA"):
        return Path(os.environ["GAMMAX_DATA"]) / "hess-dl3-dr1"
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "hess-dl3-dr1"


def gammax():
    import gammax as gx

    def job() -> dict:
        store = gx.open_datastore(data_dir())
        events = store.events()
        total = float(events.ENERGY.astype("float64").sum().compute())
        return {"sum_energy": total, "n_events": int(events.sizes["event"]), "n_obs": len(store)}

    return job


def gammapy():
    warnings.simplefilter("ignore")
    from gammapy.data import DataStore

    def job() -> dict:
        store = DataStore.from_dir(data_dir())
        observations = store.get_observations()
        total, n = 0.0, 0
        for obs in observations:
            energy = obs.events.energy.to_value("TeV")
            total += float(energy.astype("float64").sum())
            n += energy.size
        return {"sum_energy": total, "n_events": n, "n_obs": len(observations)}

    return job


def astropy():
    from astropy.io import fits

    def job() -> dict:
        total, n = 0.0, 0
        files = sorted((data_dir() / "data").glob("*.fits.gz"))
        for path in files:
            with fits.open(path) as hdul:
                energy = hdul["EVENTS"].data["ENERGY"]
                total += float(energy.astype("float64").sum())
                n += energy.size
        return {"sum_energy": total, "n_events": n, "n_obs": len(files)}

    return job


CONTENDERS = {"gammax": gammax, "gammapy": gammapy, "astropy": astropy}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", choices=CONTENDERS)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.one:
        run_one(CONTENDERS[args.one])
        return
    results = run_all(__file__, list(CONTENDERS), repeats=args.repeats)
    header = ("contender", "median s", "runs", "events/s", "peak RSS MB")
    print("{:10s} {:>9s} {:>24s} {:>12s} {:>12s}".format(*header))
    for name, r in results.items():
        rate = r["n_events"] / r["median_seconds"]
        print(
            f"{name:10s} {r['median_seconds']:9.3f} {r['all_seconds']!s:>24s} "
            f"{rate:12.3g} {r['peak_rss_mb']:12.0f}"
        )
    sums = {name: r["sum_energy"] for name, r in results.items()}
    agree = max(sums.values()) - min(sums.values()) <= 1e-9 * max(sums.values())
    print(f"energy sums agree: {agree} ({sums})")
    g, ref, floor = (results[k]["median_seconds"] for k in ("gammax", "gammapy", "astropy"))
    summary = {
        "benchmark": "open_store_sum_energy",
        "n_obs": results["gammax"]["n_obs"],
        "n_events": results["gammax"]["n_events"],
        "gammax_s": round(g, 4),
        "gammapy_s": round(ref, 4),
        "astropy_floor_s": round(floor, 4),
        "speedup": round(ref / g, 2),
        "vs_astropy_floor": round(g / floor, 2),
        "gammax_events_per_s": round(results["gammax"]["n_events"] / g),
        "peak_rss_mb": {k: round(v["peak_rss_mb"]) for k, v in results.items()},
        "sums_agree": agree,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
