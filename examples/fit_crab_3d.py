"""A 3D likelihood fit of the Crab: reduce, fit, intervals, contour, fake data, joint fit.

Steps:

1. reduce the four H.E.S.S. DR1 Crab runs to a Zarr store (skipped if it
   exists): 4 x 4 deg at 0.02 deg, 12 reco / 24 true energy bins, FoV background;
2. open the stacked dataset lazily and fit a point source with a power law plus
   the FoV background norm (iminuit MIGRAD + HESSE); print the result, a MINOS
   interval and save an index-amplitude contour plot;
3. write the fitted models (Gammapy-compatible YAML with the covariance);
4. draw a Poisson fake from the fitted models and refit it;
5. fit the four observations jointly (unstacked) on a ``distributed``
   ``LocalCluster`` of two workers: each worker reads its datasets from the store
   and keeps them; the result equals the local joint fit bit for bit.

Usage: ``python examples/fit_crab_3d.py [OUTPUT_DIR]`` (default: a new
temporary directory). Needs the shared data (``../shared/data`` or
``$GAMMAX_DATA``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

import gammax
import gammax.models as gm
from gammax.datasets import MapDataset
from gammax.fit import fake, fit
from gammax.geom import MapAxis, WcsGeom
from gammax.reduce import MapReductionConfig, reduce_observations
from gammax.testing import data_path

matplotlib.use("Agg")
import matplotlib.pyplot as plt

CRAB = SkyCoord(83.633, 22.0145, unit="deg")
RUNS = [23523, 23526, 23559, 23592]


def reduce(path: Path) -> None:
    """Reduce the Crab runs (as in the reduction tests)."""
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    geom = WcsGeom.create(skydir=CRAB, width=4, binsz=0.02, proj="CAR", axes=[energy])
    config = MapReductionConfig(
        geom=geom,
        energy_axis_true=energy_true,
        offset_max=2.0,
        background_method="fov",
        fov_params={"method": "scale"},
        exclusion={"regions": CircleSkyRegion(CRAB, 0.3 * u.deg).serialize(format="ds9")},
    )
    store = gammax.open_datastore(data_path("hess-dl3-dr1")).select_obs(RUNS)
    print(reduce_observations(store, config, path).summary())


def crab_models(dataset_names: list[str]) -> gm.Models:
    crab = gm.SkyModel(
        gm.PowerLawSpectralModel(index=2.6, amplitude="4e-11 cm-2 s-1 TeV-1"),
        gm.PointSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg"),
        name="crab",
    )
    return gm.Models([crab, *[gm.FoVBackgroundModel(n) for n in dataset_names]])


def main(out: Path) -> None:
    store = out / "crab.zarr"
    if not store.exists():
        reduce(store)

    # -- the stacked fit ------------------------------------------------------------------
    stacked = MapDataset.from_zarr(store, "map/stacked")  # lazy
    models = crab_models(["stacked"])
    with fit(stacked, models) as result:
        print(result.summary())
        print("correlation:\n", np.round(result.correlation, 2))
        minos = result.confidence("crab.spectral.index", sigma=1)
        print(f"MINOS index interval: -{minos['errn']:.4f} +{minos['errp']:.4f}")
        x, y = "crab.spectral.index", "crab.spectral.amplitude"
        contour = result.contour(x, y, npoints=12)
        fig, ax = plt.subplots()
        ax.plot(np.append(contour[x], contour[x][0]), np.append(contour[y], contour[y][0]))
        ax.plot(result.values[x], result.values[y], "+")
        ax.set(xlabel="index", ylabel="amplitude (cm-2 s-1 TeV-1)", title="1 sigma contour")
        fig.savefig(out / "crab_contour.png")
        print("contour plot:", out / "crab_contour.png")
    models.write(out / "crab_fit.yaml", overwrite=True)
    print("models:", out / "crab_fit.yaml")

    # -- a Poisson fake of the fitted models, refitted ------------------------------------
    faked = fake(stacked.load(), models, seed=42)
    with fit(faked, crab_models(["stacked"])) as refit:
        print(
            "fake refit index:",
            round(refit.values["crab.spectral.index"], 3),
            "+-",
            round(refit.errors["crab.spectral.index"], 3),
        )

    # -- joint fit of the four observations, locally and on two workers ------------------
    from distributed import Client, LocalCluster

    observations = [MapDataset.from_zarr(store, f"map/obs/{run}") for run in RUNS]
    names = [str(run) for run in RUNS]
    with fit(observations, crab_models(names)) as local:
        print(local.summary())
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
        fit(observations, crab_models(names), client=client) as remote,
    ):
        same = np.array_equal(local.x, remote.x) and local.total_stat == remote.total_stat
        print("distributed joint fit equals the local one:", same)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", help="output directory")
    args = parser.parse_args()
    output = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="gammax-fit-"))
    output.mkdir(parents=True, exist_ok=True)
    main(output)
