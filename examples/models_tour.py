"""A tour of gammax models: build, evaluate on xarray coordinates, link, write, read, plot.

Builds a Crab-like sky model (log-parabola times an absorption table, Gaussian
shape) and a pulsar-like point source sharing its curvature through a link
label, adds a FoV background model, then:

- evaluates spectra on an energy DataArray, integrates them over bins
  (eagerly and lazily with dask) and integrates the sky model over a WCS cube;
- shows the parameter vector a likelihood would use (free names, factors,
  pure evaluation from ``{key: value}``) and a prior term;
- writes Gammapy-compatible YAML (plus ``*_covariance.dat``), reads it back;
- plots an SED (E^2 dN/dE) with matplotlib to ``models_tour_sed.png``.

Usage: ``python examples/models_tour.py [OUTPUT_DIR]`` (default: a new
temporary directory).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import astropy.units as u
import dask.array as da
import matplotlib
import numpy as np
import xarray as xr

import gammax.models as gm
from gammax.geom import MapAxis, WcsGeom

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def build_models() -> gm.Models:
    """Two sources sharing ``beta`` and a background model."""
    absorption = gm.TemplateSpectralModel(
        [0.1, 1.0, 10.0, 100.0] * u.TeV, [1.0, 0.97, 0.6, 0.05]
    )  # dimensionless: a transmission table
    crab = gm.SkyModel(
        gm.LogParabolaSpectralModel(
            amplitude="3.5e-11 cm-2 s-1 TeV-1", reference="1 TeV", alpha=2.5, beta=0.1
        )
        * absorption,
        gm.GaussianSpatialModel(lon_0="83.63 deg", lat_0="22.01 deg", sigma="0.05 deg"),
        name="crab",
        datasets_names=["hess"],
    )
    pulsar = gm.SkyModel(
        gm.LogParabolaSpectralModel(amplitude="2e-12 cm-2 s-1 TeV-1", reference="1 TeV"),
        gm.PointSpatialModel(lon_0="83.70 deg", lat_0="22.10 deg"),
        name="pulsar",
    )
    pulsar.spectral_model.alpha.prior = gm.GaussianPrior(mu=2.8, sigma=0.2)
    background = gm.FoVBackgroundModel("hess")
    models = gm.Models([crab, pulsar, background])
    return models.link("crab.spectral.model1.beta", "pulsar.spectral.beta", label="beta")


def main(out: Path) -> None:
    models = build_models()
    crab = models["crab"]
    print("free parameters:", models.free_parameter_names)

    # -- spectra on xarray coordinates ---------------------------------------------
    energy = xr.DataArray(np.geomspace(0.1, 100, 7), dims="energy_true", attrs={"units": "TeV"})
    dnde = crab.spectral_model(energy, prefix="crab.spectral.")
    print("dN/dE [", dnde.attrs["units"], "]:", dnde.values)
    axis = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 6, name="energy_true")
    lo, hi = gm.bin_bounds(axis)
    flux = crab.spectral_model.integral(lo, hi)
    lazy = crab.spectral_model.integral(lo.chunk(3), hi.chunk(3))  # dask: nothing computed yet
    assert isinstance(lazy.data, da.Array)
    np.testing.assert_allclose(lazy.values, flux.values)
    print("flux per bin [", flux.attrs["units"], "]:", flux.values)

    # -- a whole cube ---------------------------------------------------------------
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=1.0, binsz=0.02, axes=[axis])
    cube = crab.integrate_geom(geom, chunks={"y": 25, "x": 25})  # lazy, per pixel block
    print("cube", dict(cube.sizes), "total flux:", float(cube.sum()), cube.attrs["units"])

    # -- the parameter vector -----------------------------------------------------------
    space = models.parameter_space()  # small, immutable, picklable
    x = models.free_vector() * 1.01
    values = space.values_from_vector(x)  # {key: value}, models untouched
    shifted = models["pulsar"].spectral_model(energy, values, prefix="pulsar.spectral.")
    print("pulsar dN/dE with shifted parameters:", shifted.values[:3])
    print("prior term:", space.prior_stat_sum(values))

    # -- YAML round trip ------------------------------------------------------------------
    n = len(models.free_parameter_names)
    models.set_free_covariance(np.diag(np.full(n, 1e-4)))
    path = out / "models_tour.yaml"
    models.write(path, overwrite=True)
    back = gm.read_models(path)
    assert back == models
    print("wrote and read back", path, "and", path.with_name("models_tour_covariance.dat"))

    # -- SED plot -------------------------------------------------------------------------
    e = xr.DataArray(np.geomspace(0.1, 100, 100), dims="energy_true", attrs={"units": "TeV"})
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in ("crab", "pulsar"):
        sed = back[name].spectral_model.e2dnde(e)
        sed_erg = (sed * u.Unit(sed.attrs["units"]).to("erg cm-2 s-1")).values
        ax.loglog(e.values, sed_erg, label=name)
    ax.set_xlabel("True energy [TeV]")
    ax.set_ylabel(r"$E^2\,dN/dE$ [erg cm$^{-2}$ s$^{-1}$]")
    ax.legend()
    fig.tight_layout()
    png = out / "models_tour_sed.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    print("SED plot:", png)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, help="output directory")
    args = parser.parse_args()
    out = args.output or Path(tempfile.mkdtemp(prefix="gammax_models_"))
    out.mkdir(parents=True, exist_ok=True)
    main(out)
