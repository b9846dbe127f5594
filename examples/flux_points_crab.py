"""Crab flux points (3D and 1D) and a PKS 2155-304 flare light curve from H.E.S.S. DR1.

1. Reduce the four Crab runs to a stacked 3D dataset and per-run ON/OFF
   spectra (one Zarr store), fit a power law (point source + FoV background
   in 3D, WStat in 1D), and estimate flux points in 6 energy bins with
   asymmetric errors, upper limits and likelihood scans;
2. write them as ``gadf-sed`` tables (FITS and ECSV, which Gammapy reads) and
   to Zarr, and draw the SED with the model's 1-sigma band;
3. reduce six runs of the July 2006 PKS 2155-304 flare to ON/OFF spectra and
   estimate the per-run light curve above 0.7 TeV, with its variability.

Run from the repository root::

    python examples/flux_points_crab.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import astropy.units as u
import matplotlib.pyplot as plt

import gammax
import gammax.models as gm
from gammax.datasets import MapDataset, SpectrumDatasetOnOff
from gammax.estimators.flux_points import FluxPointsEstimator
from gammax.estimators.io import write_flux_points, write_light_curve
from gammax.estimators.light_curve import LightCurveEstimator
from gammax.estimators.plot import plot_light_curve, plot_sed
from gammax.fit import fit
from gammax.geom import MapAxis, WcsGeom
from gammax.reduce import MapReductionConfig, SpectrumReductionConfig, reduce_observations
from gammax.testing import data_path

CRAB_RUNS = [23523, 23526, 23559, 23592]
PKS_RUNS = list(range(33787, 33793))
EDGES = [0.7, 1.5, 3, 6, 12, 25, 50] * u.TeV


def crab(output: Path) -> None:
    store = gammax.open_datastore(data_path("hess-dl3-dr1")).select_obs(CRAB_RUNS)
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    maps = MapReductionConfig(
        geom=WcsGeom.create(skydir=(83.633, 22.0145), width=3, binsz=0.02, axes=[energy]),
        energy_axis_true=energy_true,
        offset_max=2.0,
        safe_mask_methods=("offset-max",),
        background_method="fov",
        exclusion={"regions": "icrs; circle(83.633, 22.0145, 0.3)"},
    )
    reduce_observations(store, maps, output / "crab.zarr")
    spectra = SpectrumReductionConfig(
        on_region="icrs; circle(83.633, 22.0145, 0.11)",
        energy_axis=energy,
        energy_axis_true=energy_true,
        safe_mask_methods=("aeff-default", "edisp-bias"),
    )
    reduce_observations(store, spectra, output / "crab.zarr", name="spectrum")

    # 3D: point source + FoV background, then flux points of the fitted model
    stacked = MapDataset.from_zarr(output / "crab.zarr", "map/stacked")
    crab3d = gm.SkyModel(
        gm.PowerLawSpectralModel(index=2.6, amplitude="4e-11 cm-2 s-1 TeV-1"),
        gm.PointSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg"),
        name="crab",
    )
    models3d = gm.Models([crab3d, gm.FoVBackgroundModel("stacked")])
    with fit(stacked, models3d) as result:
        print(result.summary())
    fpe = FluxPointsEstimator(EDGES, "crab", selection_optional="all")
    fp3d = fpe.run(stacked, models3d)
    print(fp3d[["norm", "norm_err", "norm_ul", "sqrt_ts"]].to_dataframe())

    # 1D: per-run ON/OFF spectra, joint WStat likelihood
    spectra_1d = [
        SpectrumDatasetOnOff.from_zarr(output / "crab.zarr", f"spectrum/obs/{r}") for r in CRAB_RUNS
    ]
    models1d = gm.Models(
        [
            gm.SkyModel(
                gm.PowerLawSpectralModel(index=2.6, amplitude="4e-11 cm-2 s-1 TeV-1"), name="crab"
            )
        ]
    )
    with fit(spectra_1d, models1d):
        pass
    fp1d = fpe.run(spectra_1d, models1d)

    write_flux_points(fp3d, output / "crab_3d_sed.fits", sed_type="e2dnde", overwrite=True)
    write_flux_points(fp1d, output / "crab_1d_sed.ecsv", sed_type="likelihood", overwrite=True)
    fp3d.to_zarr(output / "crab_flux_points.zarr", mode="w", consolidated=False)

    ax = plot_sed(fp3d, sed_type="e2dnde", label="3D")
    plot_sed(fp1d, sed_type="e2dnde", ax=ax, color="C1", label="1D")
    ax.figure.savefig(output / "crab_sed.png", dpi=120)
    plt.close(ax.figure)


def pks_flare(output: Path) -> None:
    store = gammax.open_datastore(data_path("hess-dl3-dr1")).select_obs(PKS_RUNS)
    config = SpectrumReductionConfig(
        on_region="icrs; circle(329.71694, -30.22559, 0.11)",
        energy_axis=MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", 8),
        energy_axis_true=MapAxis.from_energy_bounds("0.3 TeV", "50 TeV", 16, name="energy_true"),
        safe_mask_methods=("aeff-default", "edisp-bias"),
    )
    reduce_observations(store, config, output / "pks.zarr", name="spectrum")
    datasets = [
        SpectrumDatasetOnOff.from_zarr(output / "pks.zarr", f"spectrum/obs/{r}") for r in PKS_RUNS
    ]
    model = gm.SkyModel(
        gm.PowerLawSpectralModel(index=3.4, amplitude="2e-11 cm-2 s-1 TeV-1"), name="pks"
    )
    lce = LightCurveEstimator([0.7, 20] * u.TeV, "pks", selection_optional=["ul"])
    lc = lce.run(datasets, gm.Models([model]))
    print(
        f"chi2 vs constant {float(lc.variability_chi2[0]):.1f} for "
        f"{int(lc.variability_dof[0])} dof (p = {float(lc.variability_pvalue[0]):.2g}), "
        f"Fvar = {float(lc.fvar[0]):.3f} +- {float(lc.fvar_err[0]):.3f}"
    )
    write_light_curve(lc, output / "pks_lc.fits", sed_type="flux", overwrite=True)
    ax = plot_light_curve(lc, sed_type="flux")
    ax.figure.savefig(output / "pks_lc.png", dpi=120)
    plt.close(ax.figure)


def main(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    crab(output)
    pks_flare(output)
    print(f"written to {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="gammax-fp-")))
