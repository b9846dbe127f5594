"""Small synthetic datasets with analytic IRFs, for fast unit tests (no real data)."""

from __future__ import annotations

import numpy as np
from scipy.special import erf

import gammax.models as gm
from gammax.datasets import MapDataset, SpectrumDataset, SpectrumDatasetOnOff
from gammax.geom import MapAxis, WcsGeom

EXPOSURE = 1e9  # m2 s


def axes():
    energy = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 4)
    energy_true = MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", 8, name="energy_true")
    return energy, energy_true


def edisp_matrix(energy_true, energy, resolution=0.1):
    """Gaussian in log energy, integrated over the reconstructed bins."""
    mu = np.log(np.asarray(energy_true.center))[:, None]
    edges = np.log(np.asarray(energy.edges))
    cdf = 0.5 * (1 + erf((edges[None, :] - mu) / (np.sqrt(2) * resolution)))
    return np.diff(cdf, axis=1)


def psf_sigma(energy_true):
    """Gaussian PSF width (deg) shrinking with energy."""
    return 0.12 * (np.asarray(energy_true.center) / 1.0) ** -0.2


def toy_map_dataset(name="toy", psf=True, edisp=True, npix=41, binsz=0.05, gradient=0.2):
    energy, energy_true = axes()
    geom = WcsGeom.create(skydir=(0, 0), npix=npix, binsz=binsz, frame="galactic", axes=[energy])
    image = geom.to_image()
    x = np.linspace(-1, 1, npix)
    expo = EXPOSURE * (1 + gradient * x)[None, None, :] * np.ones((energy_true.nbin, npix, 1))
    kwargs = {}
    coarse = WcsGeom.create(skydir=(0, 0), npix=5, binsz=0.5, frame="galactic")
    if psf:
        rad = MapAxis.from_edges(np.linspace(0, 1.0, 101), name="rad", unit="deg")
        sig = np.radians(psf_sigma(energy_true))[:, None]
        r = np.radians(np.asarray(rad.center))[None, :]
        values = np.exp(-0.5 * (r / sig) ** 2) / (2 * np.pi * sig**2)
        cube = np.broadcast_to(values[:, :, None, None], (energy_true.nbin, rad.nbin, 5, 5))
        kwargs["psf"] = coarse.to_cube([energy_true, rad]).wrap(cube.copy(), unit="sr-1")
    if edisp:
        matrix = edisp_matrix(energy_true, energy)
        cube = np.broadcast_to(matrix[:, :, None, None], (*matrix.shape, 5, 5))
        kwargs["edisp"] = coarse.to_cube([energy_true, energy]).wrap(cube.copy())
    if kwargs:
        kwargs["exposure_irf"] = coarse.to_cube([energy_true]).wrap(
            np.full((energy_true.nbin, 5, 5), EXPOSURE), unit="m2 s"
        )
    return MapDataset.create(
        counts=geom.wrap(np.zeros(geom.shape)),
        exposure=image.to_cube([energy_true]).wrap(expo, unit="m2 s"),
        background=geom.wrap(np.full(geom.shape, 0.5)),
        mask_safe=geom.wrap(np.ones(geom.shape, bool)),
        name=name,
        **kwargs,
    )


def toy_models(dataset_names=("toy",), spatial="point", lon="0.02 deg", lat="-0.03 deg"):
    position = {"lon_0": lon, "lat_0": lat, "frame": "galactic"}
    shape = (
        gm.PointSpatialModel(**position)
        if spatial == "point"
        else gm.GaussianSpatialModel(sigma="0.1 deg", **position)
    )
    src = gm.SkyModel(
        gm.PowerLawSpectralModel(index=2.5, amplitude="1e-11 cm-2 s-1 TeV-1"), shape, name="src"
    )
    return gm.Models([src, *[gm.FoVBackgroundModel(n) for n in dataset_names]])


def toy_spectrum(name="spec", onoff=True, seed=0, amplitude=2e-11, index=2.5):
    """An ON/OFF (or known-background) spectrum with Poisson counts from a power law."""
    energy, energy_true = axes()
    exposure = np.full(energy_true.nbin, EXPOSURE * 3)
    matrix = edisp_matrix(energy_true, energy)
    model = gm.PowerLawSpectralModel(index=index, amplitude=f"{amplitude} cm-2 s-1 TeV-1")
    edges = np.asarray(energy_true.edges)
    flux = np.asarray(model.integral(edges[:-1], edges[1:]).values) * 1e4  # per m2
    mu_sig = (flux * exposure) @ matrix
    rng = np.random.default_rng(seed)
    alpha, bkg = 0.2, np.full(energy.nbin, 20.0)
    counts = rng.poisson(mu_sig + bkg)
    if onoff:
        return SpectrumDatasetOnOff.create(
            counts,
            rng.poisson(bkg / alpha),
            exposure,
            energy,
            energy_true,
            acceptance=1.0,
            acceptance_off=1 / alpha,
            edisp=matrix,
            name=name,
            attrs={"livetime": 1000.0},
        )
    return SpectrumDataset.create(
        counts,
        exposure,
        energy,
        energy_true,
        edisp=matrix,
        background=bkg,
        name=name,
        attrs={"livetime": 1000.0},
    )


def spectrum_models(index=2.3, amplitude="1e-11 cm-2 s-1 TeV-1"):
    return gm.Models(
        [gm.SkyModel(gm.PowerLawSpectralModel(index=index, amplitude=amplitude), name="src")]
    )
