"""HEALPix geometry: pixel indices against healpy, regions, interpolation weights."""

from __future__ import annotations

import numpy as np
import pytest
from dask.base import tokenize

from gammax import dims
from gammax.errors import GeometryError
from gammax.geom import HpxGeom, MapAxis


@pytest.fixture(scope="module")
def healpy():
    """The reference HEALPix library (Gammapy's; installed with the gammapy test extra)."""
    import healpy

    return healpy


def _random_sky(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


@pytest.mark.gammapy
@pytest.mark.parametrize("nest", [True, False])
@pytest.mark.parametrize("nside", [1, 16, 256, 4096])
def test_pixel_indices_match_healpy(nside, nest, healpy):
    lon, lat = _random_sky(20000, seed=nside)
    geom = HpxGeom(nside, nest, "icrs")
    expected = healpy.ang2pix(nside, lon, lat, nest=nest, lonlat=True)
    np.testing.assert_array_equal(geom.world_to_global(lon, lat), expected)
    np.testing.assert_array_equal(geom.world_to_local(lon, lat), expected)
    plon, plat = geom.pix_to_world(expected[:100])
    hlon, hlat = healpy.pix2ang(nside, expected[:100], nest=nest, lonlat=True)
    np.testing.assert_allclose(plon, hlon, atol=1e-9)
    np.testing.assert_allclose(plat, hlat, atol=1e-9)


@pytest.mark.gammapy
@pytest.mark.parametrize("nest", [True, False])
@pytest.mark.parametrize("region", ["DISK(83.6,22.0,3.0)", "DISK(0,-89,5)", "DISK(200,10,0.7)"])
def test_disk_region_matches_healpy_query_disc(region, nest, healpy):
    nside = 128
    geom = HpxGeom(nside, nest, "icrs", region)
    lon, lat, radius = (float(v) for v in region[5:-1].split(","))
    expected = np.sort(
        healpy.query_disc(
            nside, healpy.ang2vec(lon, lat, lonlat=True), np.radians(radius), nest=nest
        )
    )
    np.testing.assert_array_equal(geom.ipix, expected)
    assert geom.shape == (expected.size,)


@pytest.mark.gammapy
def test_partial_geometry_matches_gammapy():
    from gammapy.maps import HpxGeom as GHpxGeom

    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
    ours = HpxGeom.create(
        nside=64, nest=False, frame="galactic", skydir=(10, 5), width=12, axes=[axis]
    )
    theirs = GHpxGeom.create(nside=64, nest=False, frame="galactic", skydir=(10, 5), width=12)
    np.testing.assert_array_equal(ours.ipix, np.sort(theirs._ipix))
    assert ours.shape == (2, int(theirs.npix[0]))


@pytest.mark.gammapy
def test_hpx_pixel_region_is_the_children_of_a_coarse_pixel(healpy):
    geom = HpxGeom(64, True, "icrs", "HPX_PIXEL(NESTED,4,17)")
    factor = (64 // 4) ** 2
    np.testing.assert_array_equal(geom.ipix, np.arange(17 * factor, 18 * factor))
    ring = HpxGeom(64, False, "icrs", "HPX_PIXEL(NESTED,4,17)")
    np.testing.assert_array_equal(np.sort(healpy.nest2ring(64, geom.ipix)), ring.ipix)


@pytest.mark.gammapy
def test_local_indices_outside_partial_geometry_are_minus_one(healpy):
    geom = HpxGeom(32, True, "galactic", "DISK(0,0,5)")
    local = geom.world_to_local([0.0, 180.0, np.nan], [0.0, 0.0, 0.0])
    assert local[0] >= 0 and local[1] == -1 and local[2] == -1
    assert geom.ipix[local[0]] == healpy.ang2pix(32, 0.0, 0.0, nest=True, lonlat=True)


@pytest.mark.gammapy
def test_interp_weights_match_healpy(healpy):
    lon, lat = _random_sky(2000, seed=5)
    geom = HpxGeom(32, False, "icrs")
    local, weights = geom.interp_weights(lon, lat)
    hpix, hweights = healpy.get_interp_weights(32, lon, lat, nest=False, lonlat=True)
    for i in range(lon.size):
        ours = dict(zip(local[:, i], weights[:, i], strict=True))
        theirs = dict(zip(hpix[:, i], hweights[:, i], strict=True))
        assert set(ours) == set(theirs)
        np.testing.assert_allclose([ours[k] for k in theirs], list(theirs.values()), atol=1e-9)


def test_invalid_hpx_geometries():
    with pytest.raises(GeometryError, match="power of 2"):
        HpxGeom(12)
    with pytest.raises(GeometryError, match="parse"):
        HpxGeom(8, region="CIRCLE 1 2 3")
    with pytest.raises(GeometryError, match="not supported"):
        HpxGeom(8, region="BOX(1,2,3)").ipix  # noqa: B018


def test_geometry_identity_and_coords():
    geom = HpxGeom(16, True, "icrs", "DISK(10,10,20)")
    twin = HpxGeom(16, True, "icrs", "DISK(10,10,20)")
    assert geom == twin and hash(geom) == hash(twin) and tokenize(geom) == tokenize(twin)
    sub = geom.select_pixels(np.arange(5))
    assert sub != geom and sub.shape == (5,)
    coord = geom.sky_coords()[dims.HPX_PIX]
    np.testing.assert_array_equal(coord.values, geom.ipix)
    np.testing.assert_allclose(geom.solid_angle().values, 4 * np.pi / (12 * 16**2))
