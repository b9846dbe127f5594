"""Flux points on the Crab 3D dataset: gammax vs Gammapy 2.1, same arrays, 12 energy bins.

The four H.E.S.S. Crab runs are reduced once by gammax (untimed, 4 x 4 deg at
0.02 deg, 12 reco / 24 true energy bins 0.5-50 TeV, as ``bench_fit.py``) and
stacked; a point source with a power law plus the FoV background norm is
fitted once by gammax (untimed) and both tools start from these values
(Gammapy gets the very same arrays as a ``MapDataset``). Timed: the flux
points in the 12 reconstructed-energy bins with asymmetric errors and upper
limits (``selection_optional=["errn-errp", "ul"]``), other parameters frozen:

- ``gammax``: ``FluxPointsEstimator.run`` (one dask task per bin, local
  threaded scheduler, ``os.cpu_count()`` threads);
- ``gammax_1t``: the same on one thread (``scheduler="sync"``);
- ``gammapy``: ``FluxPointsEstimator(n_jobs=1).run``;
- ``gammapy_2j``: the same with ``n_jobs=2`` (multiprocessing).

Each contender runs in a fresh interpreter (imports and set-up untimed; BLAS
limited to one thread in every process). Printed: wall time, peak RSS, the
largest norm difference in units of Gammapy's error and the largest relative
UL difference (over the bins where Gammapy's norm is positive), the norms and
ULs per bin, the ratios; the last line is a JSON object with a ``speedup`` key
(Gammapy n_jobs=1 / gammax default).

Run: ``python benchmarks/bench_flux_points.py [--repeats N] [--store DIR]``.
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
from bench_fit import CRAB, CRAB_RUNS, _config, _gp_models, _gx_models, _to_gammapy, data_dir

SELECTION = ["errn-errp", "ul"]


def prepare(root: Path) -> None:
    """Reduce the Crab runs and fit the reference model once (untimed)."""
    import gammax
    from gammax.datasets import MapDataset
    from gammax.fit import fit

    store = gammax.open_datastore(data_dir())
    if not (root / "crab.zarr").exists():
        reduce = __import__("gammax.reduce", fromlist=["reduce_observations"])
        reduce.reduce_observations(store.select_obs(CRAB_RUNS), _config(CRAB), root / "crab.zarr")
    if not (root / "crab_fit.json").exists():
        ds = MapDataset.from_zarr(root / "crab.zarr", "map/stacked").load()
        models = _gx_models(["stacked"], CRAB, frozen_bkg=False)
        with fit(ds, models) as result:
            assert result.success
        (root / "crab_fit.json").write_text(json.dumps(models.values()))


def _edges(ds):
    import numpy as np

    return np.asarray(ds.energy.attrs["edges"], float)


def _gammax(root: Path, scheduler: str | None):
    import astropy.units as u
    import numpy as np

    from gammax.datasets import MapDataset
    from gammax.estimators.flux_points import FluxPointsEstimator

    ds = MapDataset.from_zarr(root / "crab.zarr", "map/stacked").load()
    models = _gx_models(["stacked"], CRAB, frozen_bkg=False)
    models.set_values(json.loads((root / "crab_fit.json").read_text()))
    est = FluxPointsEstimator(
        _edges(ds) * u.TeV, "src", selection_optional=SELECTION, scheduler=scheduler
    )

    def job():
        fp = est.run(ds, models)
        return {
            "n_bins": int(fp.sizes["energy"]),
            "norm": np.asarray(fp.norm.values).tolist(),
            "norm_ul": np.asarray(fp.norm_ul.values).tolist(),
            "ok": bool(np.all(fp.success.values)),
        }

    return job


def gammax(root: Path):
    return _gammax(root, None)


def gammax_1t(root: Path):
    return _gammax(root, "sync")


def _gammapy(root: Path, n_jobs: int):
    import astropy.units as u
    import numpy as np
    from gammapy.datasets import Datasets
    from gammapy.estimators import FluxPointsEstimator

    from gammax.datasets import MapDataset

    ds = MapDataset.from_zarr(root / "crab.zarr", "map/stacked").load()
    gds = Datasets([_to_gammapy(ds)])
    models = _gp_models(["stacked"], CRAB, frozen_bkg=False)
    for key, value in json.loads((root / "crab_fit.json").read_text()).items():
        name, comp, par = key.split(".")
        getattr(models[name], f"{comp}_model").parameters[par].value = value
    gds.models = models
    est = FluxPointsEstimator(
        energy_edges=_edges(ds) * u.TeV,
        source="src",
        selection_optional=SELECTION,
        n_jobs=n_jobs,
    )

    def job():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = est.run(gds).to_table(sed_type="likelihood")
        return {
            "n_bins": len(table),
            "norm": np.asarray(table["norm"], float).ravel().tolist(),
            "norm_err": np.asarray(table["norm_err"], float).ravel().tolist(),
            "norm_ul": np.asarray(table["norm_ul"], float).ravel().tolist(),
            "ok": bool(np.all(table["success"])),
        }

    return job


def gammapy(root: Path):
    return _gammapy(root, 1)


def gammapy_2j(root: Path):
    return _gammapy(root, 2)


CONTENDERS = ["gammax", "gammax_1t", "gammapy", "gammapy_2j"]


def main() -> None:
    import numpy as np

    out = run_with_store(__file__, CONTENDERS, prepare, globals(), "gammax-bench-fp-")
    if out is None:
        return
    results, load = out
    ref = results.get("gammapy")
    print(
        "agreement with Gammapy over the bins where Gammapy's norm > 0 (in the others "
        "Gammapy's best\nfit lies where predicted counts are negative; gammax bounds the norm "
        "there, see docs/estimators.rst);\npeak MB of gammapy_2j: the parent process only"
    )
    print(
        f"{'contender':12s} {'wall s':>8s} {'runs (s)':>22s} {'bins':>5s} {'peak MB':>8s} "
        f"{'max |dnorm|/err':>16s} {'max UL rel':>11s}"
    )
    for name, r in results.items():
        runs = ", ".join(f"{s:.2f}" for s in r["all_seconds"])
        dn = ul = float("nan")
        if ref is not None:
            good = np.asarray(ref["norm"]) > 0
            err = np.asarray(ref["norm_err"])[good]
            dn = np.abs(np.asarray(r["norm"])[good] - np.asarray(ref["norm"])[good]) / err
            ul = np.abs(np.asarray(r["norm_ul"])[good] / np.asarray(ref["norm_ul"])[good] - 1)
            dn, ul = float(np.max(dn)), float(np.max(ul))
        print(
            f"{name:12s} {r['median_seconds']:8.2f} {runs:>22s} {r['n_bins']:5d} "
            f"{r['peak_rss_mb']:8.0f} {dn:16.4f} {ul:11.2e}"
        )
    for name, r in results.items():
        print(f"{name:12s} norm    " + " ".join(f"{v:8.3f}" for v in r["norm"]))
        print(f"{name:12s} norm_ul " + " ".join(f"{v:8.3f}" for v in r["norm_ul"]))
    summary = {
        "n_bins": next(iter(results.values()))["n_bins"],
        "load_average": round(load, 2),
        **{f"{n}_seconds": round(r["median_seconds"], 3) for n, r in results.items()},
        **{f"{n}_peak_rss_mb": round(r["peak_rss_mb"], 1) for n, r in results.items()},
    }
    if "gammax" in results and "gammapy" in results:
        summary["speedup"] = round(
            results["gammapy"]["median_seconds"] / results["gammax"]["median_seconds"], 2
        )
        if "gammapy_2j" in results:
            summary["speedup_vs_gammapy_2j"] = round(
                results["gammapy_2j"]["median_seconds"] / results["gammax"]["median_seconds"], 2
            )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
