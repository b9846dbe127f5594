"""Fixtures of the dataset tests: a small gammax reduction of two H.E.S.S. Crab runs."""

from __future__ import annotations

import pytest
from astropy.coordinates import SkyCoord

import gammax
from gammax.geom import MapAxis, WcsGeom

RUNS = [23523, 23526]


@pytest.fixture(scope="session")
def small_zarr(hess_dir, tmp_path_factory):
    from gammax.reduce import MapReductionConfig, reduce_observations

    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 10, name="energy_true")
    geom = WcsGeom.create(
        skydir=SkyCoord(83.633, 22.0145, unit="deg"), width=2.0, binsz=0.05, axes=[energy]
    )
    config = MapReductionConfig(geom=geom, energy_axis_true=energy_true, offset_max=2.0)
    store = gammax.open_datastore(hess_dir).select_obs(RUNS)
    path = tmp_path_factory.mktemp("datasets") / "small.zarr"
    reduce_observations(store, config, path)
    return path


@pytest.fixture(scope="session")
def joint_crab(data_dir):
    return data_dir / "joint-crab" / "spectra"
