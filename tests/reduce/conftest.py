"""Shared reduction of the four H.E.S.S. DR1 Crab runs, by gammax and by Gammapy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

import gammax
from gammax.geom import MapAxis, WcsGeom

CRAB_RUNS = [23523, 23526, 23559, 23592]
CRAB = SkyCoord(83.633, 22.0145, unit="deg", frame="icrs")
EXCLUSION_RADIUS = 0.3  # deg around the Crab
OFFSET_MAX = 2.0  # deg
SAFE_METHODS = ("aeff-default", "aeff-max", "edisp-bias", "offset-max", "bkg-peak")


def gammax_config(**kwargs):
    from gammax.reduce import MapReductionConfig

    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    geom = WcsGeom.create(skydir=CRAB, width=4, binsz=0.02, frame="icrs", proj="CAR", axes=[energy])
    region = CircleSkyRegion(CRAB, EXCLUSION_RADIUS * u.deg)
    defaults = {
        "geom": geom,
        "energy_axis_true": energy_true,
        "offset_max": OFFSET_MAX,
        "safe_mask_methods": SAFE_METHODS,
        "background_method": "fov",
        "fov_params": {"method": "scale"},
        "exclusion": {"regions": region.serialize(format="ds9")},
    }
    defaults.update(kwargs)
    return MapReductionConfig(**defaults)


@pytest.fixture(scope="session")
def crab_store(hess_dir):
    return gammax.open_datastore(hess_dir).select_obs(CRAB_RUNS)


@pytest.fixture(scope="session")
def gammax_crab(crab_store, tmp_path_factory):
    from gammax.reduce import reduce_observations

    path = tmp_path_factory.mktemp("reduce") / "crab.zarr"
    result = reduce_observations(crab_store, gammax_config(), path)
    return result


@pytest.fixture(scope="session")
def gammapy_crab(hess_dir):
    """Gammapy 2.1 datasets of the same runs, geometry and configuration."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.data import DataStore
        from gammapy.datasets import MapDataset
        from gammapy.makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
        from gammapy.maps import Map
        from gammapy.maps import MapAxis as GAxis
        from gammapy.maps import WcsGeom as GGeom

        energy = GAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
        energy_true = GAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
        geom = GGeom.create(
            skydir=CRAB, width=4, binsz=0.02, frame="icrs", proj="CAR", axes=[energy]
        )
        reference = MapDataset.create(geom, energy_axis_true=energy_true, binsz_irf=0.2)
        exclusion = ~Map.from_geom(geom.to_image()).geom.region_mask(
            [CircleSkyRegion(CRAB, EXCLUSION_RADIUS * u.deg)]
        )
        maker = MapDatasetMaker()
        safe = SafeMaskMaker(methods=list(SAFE_METHODS), offset_max=OFFSET_MAX * u.deg)
        fov = FoVBackgroundMaker(method="scale", exclusion_mask=exclusion)
        observations = DataStore.from_dir(hess_dir).get_observations(CRAB_RUNS)
        out = {}
        for obs in observations:
            dataset = maker.run(reference.copy(name=str(obs.obs_id)), obs)
            dataset = safe.run(dataset, obs)
            before = dataset.copy(name=f"{obs.obs_id}-raw")
            dataset = fov.run(dataset)
            out[obs.obs_id] = {"dataset": dataset, "raw": before}
        return out


def relative(ours, theirs, significant):
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    mask = np.abs(theirs) > significant
    rel = np.abs(ours[mask] - theirs[mask]) / np.abs(theirs[mask])
    return float(np.median(rel)), float(rel.max()), int(mask.sum())


def gammapy_background(store_dir, obs_id: int, geom, **maker_options) -> np.ndarray:
    """Gammapy's ``MapDatasetMaker`` background of one run on ``small_config``'s geometry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.data import DataStore
        from gammapy.datasets import MapDataset
        from gammapy.makers import MapDatasetMaker
        from gammapy.maps import MapAxis as GAxis
        from gammapy.maps import WcsGeom as GGeom

        ggeom = GGeom.create(
            skydir=geom.center_skydir,
            npix=geom.npix,
            binsz=geom.pixel_scales[0],
            frame="icrs",
            axes=[GAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6)],
        )
        obs = DataStore.from_dir(store_dir).obs(obs_id)
        maker = MapDatasetMaker(selection=["background"], **maker_options)
        return maker.run(MapDataset.create(ggeom), obs).background.data
