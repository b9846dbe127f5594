"""Fixtures of the fit tests: the H.E.S.S. Crab runs reduced by gammax, models, Gammapy twins.

The reduction is the one of ``tests/reduce/conftest.py`` (copied, not imported:
4 x 4 deg CAR at 0.02 deg around the Crab, 12 reco-energy bins 0.5-50 TeV, 24
true-energy bins 0.3-100 TeV, 0.2 deg IRF grid, offset-max 2 deg, FoV
background scaled outside 0.3 deg). Gammapy cross-checks get *the same arrays*
as Gammapy datasets (:func:`to_gammapy_map`), so they compare the fits, not
the reductions (those are compared in ``tests/reduce``).
"""

from __future__ import annotations

import glob

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

import gammax
import gammax.models as gm
from gammax.geom import MapAxis, WcsGeom

CRAB_RUNS = [23523, 23526, 23559, 23592]
CRAB = SkyCoord(83.633, 22.0145, unit="deg", frame="icrs")


def crab_config():
    from gammax.reduce import MapReductionConfig

    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    geom = WcsGeom.create(skydir=CRAB, width=4, binsz=0.02, frame="icrs", proj="CAR", axes=[energy])
    return MapReductionConfig(
        geom=geom,
        energy_axis_true=energy_true,
        offset_max=2.0,
        safe_mask_methods=("offset-max",),
        background_method="fov",
        fov_params={"method": "scale"},
        exclusion={"regions": CircleSkyRegion(CRAB, 0.3 * u.deg).serialize(format="ds9")},
    )


@pytest.fixture(scope="session")
def crab_zarr(hess_dir, tmp_path_factory):
    """Path of the gammax reduction store of the four Crab runs."""
    from gammax.reduce import reduce_observations

    store = gammax.open_datastore(hess_dir).select_obs(CRAB_RUNS)
    path = tmp_path_factory.mktemp("fit") / "crab.zarr"
    reduce_observations(store, crab_config(), path)
    return path


@pytest.fixture(scope="session")
def crab_stacked(crab_zarr):
    """The stacked Crab MapDataset, in memory."""
    from gammax.datasets import MapDataset

    return MapDataset.from_zarr(crab_zarr, "map/stacked").load()


@pytest.fixture(scope="session")
def joint_crab_files(data_dir):
    """The OGIP PHA files of MAGIC, VERITAS, FACT and H.E.S.S. (joint-crab)."""
    root = data_dir / "joint-crab" / "spectra"
    files = []
    for instrument in ("magic", "veritas", "fact", "hess"):
        files += sorted(glob.glob(str(root / instrument / "pha_*.fits")))
    assert len(files) == 9
    return files


def crab_models(dataset_name="stacked", spatial="point"):
    """Power law at the Crab, point or Gaussian, plus the dataset's FoV background."""
    position = {"lon_0": "83.63 deg", "lat_0": "22.01 deg"}
    if spatial == "point":
        shape = gm.PointSpatialModel(**position)
    else:
        shape = gm.GaussianSpatialModel(sigma="0.05 deg", **position)
    crab = gm.SkyModel(
        gm.PowerLawSpectralModel(index=2.6, amplitude="4e-11 cm-2 s-1 TeV-1"), shape, name="crab"
    )
    names = [dataset_name] if isinstance(dataset_name, str) else dataset_name
    return gm.Models([crab, *[gm.FoVBackgroundModel(n) for n in names]])


# -- Gammapy twins of gammax datasets (identical arrays) -----------------------------------
def _gp_geom(geom, axes):
    from gammapy.maps import WcsGeom as GGeom

    return GGeom(geom.wcs, npix=geom.npix, axes=axes)


def _gp_energy_axis(ds, dim):
    from gammapy.maps import MapAxis as GAxis

    coord = ds.coords[dim]
    return GAxis.from_energy_edges(
        np.asarray(coord.attrs["edges"]), unit=coord.attrs["units"], name=dim
    )


def to_gammapy_map(ds):
    """A Gammapy MapDataset holding exactly the arrays of a gammax MapDataset."""
    from gammapy.datasets import MapDataset as GMapDataset
    from gammapy.irf import EDispKernelMap, PSFMap
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GAxis

    from gammax.datasets import irf_maps

    e, et = _gp_energy_axis(ds, "energy"), _gp_energy_axis(ds, "energy_true")
    image = ds.counts.gx.geom.to_image()
    geom, geom_true = _gp_geom(image, [e]), _gp_geom(image, [et])
    irf = irf_maps(ds)
    coarse = irf.psf.gx.geom.to_image()
    rad = GAxis.from_edges(np.asarray(irf.rad.attrs["edges"]), unit="deg", name="rad")
    psf = Map.from_geom(_gp_geom(coarse, [rad, et]), data=irf.psf.values, unit="sr-1")
    expo = irf.exposure_irf.values[:, None]
    psf_expo = Map.from_geom(_gp_geom(coarse, [rad.squash(), et]), data=expo, unit="m2 s")
    edisp = Map.from_geom(_gp_geom(coarse, [e, et]), data=irf.edisp.values)
    edisp_expo = Map.from_geom(_gp_geom(coarse, [e.squash(), et]), data=expo, unit="m2 s")
    return GMapDataset(
        counts=Map.from_geom(geom, data=ds.counts.values.astype(float)),
        exposure=Map.from_geom(geom_true, data=ds.exposure.values, unit="m2 s"),
        background=Map.from_geom(geom, data=ds.background.values),
        mask_safe=Map.from_geom(geom, data=ds.mask_safe.values.astype(bool)),
        psf=PSFMap(psf, psf_expo),
        edisp=EDispKernelMap(edisp, edisp_expo),
        name=ds.attrs["name"],
    )


def gammapy_crab_models(dataset_name="stacked", spatial="point"):
    """Gammapy's twin of :func:`crab_models`."""
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        GaussianSpatialModel,
        Models,
        PointSpatialModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    position = {"lon_0": "83.63 deg", "lat_0": "22.01 deg", "frame": "icrs"}
    if spatial == "point":
        shape = PointSpatialModel(**position)
    else:
        shape = GaussianSpatialModel(sigma="0.05 deg", **position)
    crab = SkyModel(
        PowerLawSpectralModel(index=2.6, amplitude="4e-11 cm-2 s-1 TeV-1"), shape, name="crab"
    )
    names = [dataset_name] if isinstance(dataset_name, str) else dataset_name
    return Models([crab, *[FoVBackgroundModel(dataset_name=n) for n in names]])


def gammapy_values_errors(models, hesse_datasets=None):
    """``{gammax key: (value, error)}`` of Gammapy's free parameters (errors from HESSE)."""
    if hesse_datasets is not None:
        from gammapy.modeling import Fit

        Fit().covariance(hesse_datasets)
    from gammapy.modeling.models import Models

    models = Models(models)
    names = models.parameters.free_parameters.names
    out = {}
    for m in models:
        for comp in ("spectral", "spatial"):
            sub = getattr(m, f"{comp}_model", None)
            if sub is None:
                continue
            for p in sub.parameters.free_parameters:
                if p.name in names:
                    out[f"{m.name}.{comp}.{p.name}"] = (p.value, p.error)
    return out
