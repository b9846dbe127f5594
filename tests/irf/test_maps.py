"""HAWC map-based IRFs: read as maps on their geometry, evaluated like Gammapy's interp_by_coord."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from astropy import units as u
from astropy.coordinates import SkyCoord

import gammax
from gammax import irf as girf
from gammax.errors import ExtrapolationError
from gammax.testing import raise_if_dask_computes

pytestmark = pytest.mark.data

LON = np.array([83.6, 83.9, 82.0, 85.1])
LAT = np.array([22.0, 21.5, 23.0, 20.2])


@pytest.fixture(scope="module")
def hawc(data_dir):
    return gammax.open_datastore(
        data_dir / "hawc" / "crab_events_pass4",
        hdu_index="hdu-index-table-NN-Crab.fits.gz",
        obs_index="obs-index-table-NN-Crab.fits.gz",
        index_hdu=8,
    )


def positions():
    return xr.DataArray(LON, dims="pos"), xr.DataArray(LAT, dims="pos")


def test_map_irfs_have_named_dims_and_bounds(hawc):
    obs_id = int(hawc.obs_ids[0])
    psf = hawc.irf(obs_id, "psf")
    assert psf.psf.dims == ("energy", "rad", "y", "x")
    assert psf.attrs["hdu_class"] == "psf_map_reco"
    assert psf.rad_bounds.dims == ("rad", "bounds")
    edisp = hawc.irf(obs_id, "edisp")
    assert edisp.edisp.dims == ("energy_true", "energy", "y", "x")
    assert edisp.edisp.gx.geom.frame == "icrs"
    aeff = hawc.irf(obs_id, "aeff")
    assert aeff.aeff.dims == ("energy_true", "y", "x")


@pytest.mark.gammapy
def test_psf_map_matches_gammapy(hawc):
    from gammapy.irf import RecoPSFMap

    obs_id = int(hawc.obs_ids[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = RecoPSFMap.read(hawc.location(obs_id, "psf").path, format="gadf")
    rad = np.linspace(0.01, 2, 7)
    energy = np.geomspace(1, 100, 5)
    coords = {
        "skycoord": SkyCoord(LON[:, None, None] * u.deg, LAT[:, None, None] * u.deg),
        "rad": rad[None, :, None] * u.deg,
        "energy": energy[None, None, :] * u.TeV,
    }
    expected = theirs.psf_map.interp_by_coord(coords)
    got = girf.evaluate_map_irf(
        hawc.irf(obs_id, "psf"), *positions(), rad=rad, energy=energy, extrapolate="fill"
    )
    np.testing.assert_allclose(
        got.transpose("pos", "rad", "energy").values,
        expected,
        rtol=1e-6,
        atol=1e-12 * expected.max(),
    )


@pytest.mark.gammapy
def test_edisp_kernel_map_matches_gammapy(hawc):
    from gammapy.irf import EDispKernelMap

    obs_id = int(hawc.obs_ids[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = EDispKernelMap.read(hawc.location(obs_id, "edisp").path, format="gadf")
    e_true = np.geomspace(0.5, 200, 9)
    e_reco = np.geomspace(0.5, 200, 4)
    coords = {
        "skycoord": SkyCoord(LON[:, None, None] * u.deg, LAT[:, None, None] * u.deg),
        "energy_true": e_true[None, :, None] * u.TeV,
        "energy": e_reco[None, None, :] * u.TeV,
    }
    expected = theirs.edisp_map.interp_by_coord(coords)
    got = girf.evaluate_map_irf(
        hawc.irf(obs_id, "edisp"),
        *positions(),
        energy_true=e_true,
        energy=e_reco,
        extrapolate="fill",
    )
    np.testing.assert_allclose(
        got.transpose("pos", "energy_true", "energy").values, expected, rtol=1e-6, atol=1e-12
    )


def test_map_evaluation_is_lazy_and_explicit_outside(hawc):
    obs_id = int(hawc.obs_ids[0])
    psf = hawc.irf(obs_id, "psf")
    lon, lat = positions()
    with raise_if_dask_computes():
        lazy = girf.evaluate_map_irf(
            psf, lon.chunk(2), lat.chunk(2), rad=[0.1, 0.5] * u.deg, energy=[2.0, 20.0] * u.TeV
        )
    eager = girf.evaluate_map_irf(psf, lon, lat, rad=[0.1, 0.5] * u.deg, energy=[2.0, 20.0] * u.TeV)
    np.testing.assert_array_equal(lazy.compute().values, eager.values)
    far = xr.DataArray([120.0], dims="pos")
    with pytest.raises(ExtrapolationError, match="outside the map"):
        girf.evaluate_map_irf(
            psf, far, xr.DataArray([0.0], dims="pos"), rad=0.1, energy=2.0
        ).compute()
    filled = girf.evaluate_map_irf(
        psf,
        far,
        xr.DataArray([0.0], dims="pos"),
        rad=0.1,
        energy=2.0,
        extrapolate="fill",
        fill_value=-1.0,
    )
    assert filled.values.tolist() == [-1.0]
