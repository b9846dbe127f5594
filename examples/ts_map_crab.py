"""Significance and TS maps of the Crab, and the sensitivity of one H.E.S.S. run.

Steps:

1. reduce the four H.E.S.S. DR1 Crab runs to a Zarr store (skipped if it
   exists): 3 x 3 deg at 0.02 deg, 6 reco / 12 true energy bins, FoV background;
2. correlated excess and significance maps (0.1 deg) of the stacked dataset,
   lazily from the store, and a significance figure with the histogram of the
   pixels outside 0.4 deg of the Crab;
3. ring-background ON/OFF significance (WStat) in two energy bands;
4. the TS map of a point source (0.3 deg kernel) on dask's threads, and the
   same on a 2-worker ``distributed.LocalCluster``;
5. write the maps to Zarr and read them back;
6. the differential sensitivity of run 23523 from its OGIP spectrum.

Usage: ``python examples/ts_map_crab.py [OUTPUT_DIR]`` (default: a new
temporary directory). Needs the shared data (``../shared/data`` or
``$GAMMAX_DATA``).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

import gammax
from gammax.datasets import MapDataset, MapDatasetOnOff, read_ogip
from gammax.estimators.excess_map import ExcessMapEstimator
from gammax.estimators.map_plot import plot_ts_map, significance_figure
from gammax.estimators.sensitivity import SensitivityEstimator, criterion_names
from gammax.estimators.ts_map import TSMapEstimator
from gammax.geom import MapAxis, WcsGeom, exclusion_mask
from gammax.reduce import MapReductionConfig, reduce_observations
from gammax.testing import data_path

CRAB = SkyCoord(83.633, 22.0145, unit="deg")
RUNS = [23523, 23526, 23559, 23592]


def reduce(path: Path) -> None:
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 12, name="energy_true")
    geom = WcsGeom.create(skydir=CRAB, width=3, binsz=0.02, frame="icrs", proj="CAR", axes=[energy])
    config = MapReductionConfig(
        geom=geom,
        energy_axis_true=energy_true,
        offset_max=2.0,
        safe_mask_methods=("offset-max",),
        background_method="fov",
        fov_params={"method": "scale"},
        exclusion={"regions": CircleSkyRegion(CRAB, 0.3 * u.deg).serialize(format="ds9")},
    )
    store = gammax.open_datastore(data_path() / "hess-dl3-dr1").select_obs(RUNS)
    reduce_observations(store, config, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output", nargs="?", default=None)
    out = Path(parser.parse_args().output or tempfile.mkdtemp(prefix="gammax-maps-"))
    out.mkdir(parents=True, exist_ok=True)
    store = out / "crab.zarr"
    if not store.exists():
        reduce(store)
    ds = MapDataset.from_zarr(store, "map/stacked")  # lazy (dask)

    # 2. correlated excess / significance (Cash, background = the dataset's npred)
    maps = ExcessMapEstimator(correlation_radius="0.1 deg").run(ds).compute()
    peak = float(maps.sqrt_ts.max())
    print(f"excess map: peak significance {peak:.1f} sigma, excess {float(maps.excess.max()):.0f}")
    keep = exclusion_mask(ds.counts.gx.geom.to_image(), [CircleSkyRegion(CRAB, 0.4 * u.deg)])
    fig = significance_figure(maps, out / "significance.png", exclusion=keep)
    print(f"wrote {out / 'significance.png'} ({len(fig.axes)} axes)")

    # 3. ring background ON/OFF (WStat), two energy bands
    ds_mem = ds.load()
    keep = exclusion_mask(ds_mem.counts.gx.geom.to_image(), [CircleSkyRegion(CRAB, 0.3 * u.deg)])
    on_off = MapDatasetOnOff.from_ring(ds_mem, r_in=0.5, width=0.3, exclusion=keep)
    bands = ExcessMapEstimator("0.1 deg", energy_edges=[0.5, 5, 50] * u.TeV).run(on_off)
    for i, sig in enumerate(bands.sqrt_ts.max(("x", "y")).values):
        print(f"ring ON/OFF band {i}: peak significance {sig:.1f}")

    # 4. TS map: dask threads, then a 2-worker LocalCluster
    est = TSMapEstimator(kernel_width="0.3 deg", tile_size=50, selection_optional=["ul"])
    ts = est.run(ds_mem).compute()
    print(f"TS map: max TS {float(ts.ts.max()):.0f}, median niter {float(ts.niter.median()):.0f}")
    from dask.distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                remote = est.run(ds_mem, client=client)
    same = np.array_equal(remote.ts.values, ts.ts.values, equal_nan=True)
    print(f"distributed TS map equals the local one: {same}")
    ax = plot_ts_map(ts)
    ax.figure.savefig(out / "ts_map.png", dpi=100)

    # 5. Zarr round trip
    ts.to_zarr(out / "ts_map.zarr", mode="w", consolidated=False)
    back = xr.open_zarr(out / "ts_map.zarr", consolidated=False)
    print(f"read back: {list(back.data_vars)[:6]} ... geometry {back.ts.gx.geom.npix}")

    # 6. sensitivity of one run
    pha = data_path() / "joint-crab" / "spectra" / "hess" / "pha_obs23523.fits"
    sens = SensitivityEstimator(n_sigma=5, gamma_min=10, bkg_syst_fraction=0.05).run(read_ogip(pha))
    finite = np.isfinite(sens.e2dnde.values)
    names = np.asarray(criterion_names(sens))
    best = int(np.nanargmin(sens.e2dnde.values))
    print(
        f"sensitivity: best {sens.e2dnde.values[best]:.2e} erg cm-2 s-1 at "
        f"{sens.e_ref.values[best]:.2f} TeV; criteria {sorted({str(n) for n in names[finite]})}"
    )


if __name__ == "__main__":
    main()
