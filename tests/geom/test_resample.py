"""Interpolation, reprojection, masks, cutouts and resampling against Gammapy; dask vs numpy."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion, EllipseSkyRegion, PointSkyRegion, RectangleSkyRegion

from gammax import dims
from gammax.errors import GeometryError
from gammax.geom import HpxGeom, MapAxis, WcsGeom, exclusion_mask, region_mask
from gammax.geom.interp import interp_to_geom, reproject_to_geom
from gammax.geom.ops import crop, cutout, downsample, pad, upsample
from gammax.testing import raise_if_dask_computes

CRAB = SkyCoord(83.63, 22.01, unit="deg")
# Target centre off the source's pixel borders: nearest-pixel ties are knife edges.
NEAR_CRAB = SkyCoord(83.643, 22.021, unit="deg")
RTOL = 1e-6


def _energy(lo="1 TeV", hi="10 TeV", n=3):
    return MapAxis.from_energy_bounds(lo, hi, n)


def _gp_energy(lo="1 TeV", hi="10 TeV", n=3):
    from gammapy.maps import MapAxis as GMapAxis

    return GMapAxis.from_energy_bounds(lo, hi, n)


def _pair(skydir, npix, binsz, proj, frame, axes_args=None):
    """The same geometry in gammax and in Gammapy."""
    from gammapy.maps import WcsGeom as GWcsGeom

    args = axes_args or []
    ours = WcsGeom.create(
        skydir=skydir,
        npix=npix,
        binsz=binsz,
        proj=proj,
        frame=frame,
        axes=[_energy(*a) for a in args],
    )
    theirs = GWcsGeom.create(
        skydir=skydir,
        npix=npix,
        binsz=binsz,
        proj=proj,
        frame=frame,
        axes=[_gp_energy(*a) for a in args],
    )
    return ours, theirs


@pytest.fixture(scope="module")
def source_gx():
    """The gammax half of ``source``, without Gammapy."""
    geom = WcsGeom.create(
        skydir=CRAB, npix=(40, 30), binsz=0.05, proj="TAN", frame="icrs", axes=[_energy()]
    )
    data = np.random.default_rng(3).random(geom.shape)
    return geom.wrap(data, unit="cm-2 s-1")


@pytest.fixture(scope="module")
def source():
    """A smooth random cube (gammax map and Gammapy map with the same numbers)."""
    from gammapy.maps import Map

    ours, theirs = _pair(CRAB, (40, 30), 0.05, "TAN", "icrs", [("1 TeV", "10 TeV", 3)])
    rng = np.random.default_rng(3)
    data = rng.random(ours.shape)
    gmap = Map.from_geom(theirs, data=data.copy())
    return ours.wrap(data, unit="cm-2 s-1"), gmap


@pytest.mark.gammapy
@pytest.mark.parametrize("method", ["linear", "nearest"])
def test_interp_to_geom_matches_gammapy(source, method):
    ours_src, gmap = source
    target, gtarget = _pair(
        NEAR_CRAB.galactic, (25, 25), 0.04, "CAR", "galactic", [("1.5 TeV", "8 TeV", 4)]
    )
    expected = gmap.interp_to_geom(gtarget, method=method).data
    got = interp_to_geom(ours_src, target, method=method)
    assert got.gx.geom == target
    assert np.count_nonzero(expected) > 100
    np.testing.assert_allclose(got.values, expected, rtol=RTOL, atol=1e-12)


@pytest.mark.gammapy
def test_interp_to_geom_is_lazy_and_equal_on_dask(source):
    ours_src, _ = source
    target, _ = _pair(CRAB.galactic, (25, 25), 0.04, "CAR", "galactic", [("1.5 TeV", "8 TeV", 4)])
    eager = interp_to_geom(ours_src, target)
    with raise_if_dask_computes():
        lazy = interp_to_geom(ours_src.chunk({dims.X: 10, dims.Y: 10}), target)
    np.testing.assert_array_equal(lazy.values, eager.values)


@pytest.mark.gammapy
@pytest.mark.parametrize("preserve_counts", [False, True])
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_reproject_to_geom_matches_gammapy(source, preserve_counts):
    # Gammapy divides by empty bins inside reproject_to_geom (its own RuntimeWarning).
    ours_src, gmap = source
    target, gtarget = _pair(
        CRAB.galactic, (8, 6), 0.13, "CAR", "galactic", [("1 TeV", "10 TeV", 3)]
    )
    expected = gmap.reproject_to_geom(gtarget, preserve_counts=preserve_counts).data
    got = reproject_to_geom(ours_src, target, preserve_counts=preserve_counts)
    assert np.count_nonzero(expected) > 20
    np.testing.assert_allclose(got.values, expected, rtol=RTOL, atol=1e-12)
    lazy = reproject_to_geom(
        ours_src.chunk({dims.ENERGY: 1}), target, preserve_counts=preserve_counts
    )
    np.testing.assert_allclose(lazy.values, got.values, rtol=1e-12)


def _regions():
    return [
        CircleSkyRegion(SkyCoord(83.7, 22.1, unit="deg"), 0.3 * u.deg),
        RectangleSkyRegion(
            SkyCoord(83.3, 21.7, unit="deg"), 0.4 * u.deg, 0.2 * u.deg, angle=20 * u.deg
        ),
        EllipseSkyRegion(
            SkyCoord(84.2, 22.4, unit="deg").galactic, 0.5 * u.deg, 0.2 * u.deg, angle=-30 * u.deg
        ),
    ]


@pytest.mark.gammapy
@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_region_mask_matches_gammapy_and_chunked(frame):
    ours, theirs = _pair(CRAB, (60, 50), 0.03, "TAN", frame)
    expected = theirs.region_mask(_regions()).data
    got = region_mask(ours, _regions())
    assert got.dtype == bool and expected.sum() > 100
    np.testing.assert_array_equal(got.values, expected)
    with raise_if_dask_computes():
        lazy = region_mask(ours, _regions(), chunks={dims.X: 16, dims.Y: 16})
    np.testing.assert_array_equal(lazy.values, expected)
    np.testing.assert_array_equal(exclusion_mask(ours, _regions()).values, ~expected)


@pytest.mark.gammapy
def test_hpx_region_mask_matches_gammapy():
    from gammapy.maps import HpxGeom as GHpxGeom

    region = [CircleSkyRegion(SkyCoord(83.7, 22.1, unit="deg"), 1.5 * u.deg)]
    ours = HpxGeom(128, True, "icrs", "DISK(83.6,22,4)")
    theirs = GHpxGeom(128, True, "icrs", region="DISK(83.6,22,4)")
    expected = theirs.region_mask(region).data
    got = region_mask(ours, region)
    assert expected.sum() > 10
    np.testing.assert_array_equal(got.values, expected)


def test_point_region_selects_its_pixel():
    geom = WcsGeom.create(skydir=(0, 0), npix=(5, 5), binsz=1.0, frame="galactic")
    mask = region_mask(geom, PointSkyRegion(SkyCoord(1.2, -0.9, unit="deg", frame="galactic")))
    idx = geom.coord_to_idx({"lon": 1.2, "lat": -0.9})
    assert mask.values.sum() == 1 and mask.values[idx["y"], idx["x"]]


@pytest.mark.gammapy
@pytest.mark.parametrize("mode", ["trim", "partial"])
def test_cutout_matches_gammapy(source, mode):
    ours_src, gmap = source
    position = SkyCoord(83.9, 22.3, unit="deg")
    expected = gmap.cutout(position, 1.3 * u.deg, mode=mode)
    got = cutout(ours_src, position, 1.3, mode=mode)
    np.testing.assert_array_equal(got.values, expected.data)
    lon, lat = got.gx.geom.pix_to_world(0, 0)
    glon, glat = expected.geom.pix_to_coord((0, 0))
    np.testing.assert_allclose([lon, lat], [glon.to_value("deg"), glat.to_value("deg")], atol=1e-10)


@pytest.mark.gammapy
@pytest.mark.parametrize("preserve_counts", [True, False])
def test_resampling_matches_gammapy(source, preserve_counts):
    ours_src, gmap = source
    np.testing.assert_allclose(
        downsample(ours_src, 2, preserve_counts).values,
        gmap.downsample(2, preserve_counts=preserve_counts).data,
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        upsample(ours_src, 3, preserve_counts).values,
        gmap.upsample(3, preserve_counts=preserve_counts).data,
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        upsample(ours_src, 2, preserve_counts, order=1).values,
        gmap.upsample(2, order=1, preserve_counts=preserve_counts).data,
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        downsample(
            ours_src.isel(energy=slice(0, 2)), 2, preserve_counts, axis_name=dims.ENERGY
        ).values,
        gmap.slice_by_idx({"energy": slice(0, 2)})
        .downsample(2, preserve_counts=preserve_counts, axis_name="energy")
        .data,
        rtol=RTOL,
    )


def test_resampling_dask_maps_is_lazy_and_equal(source_gx):
    ours_src = source_gx
    lazy_src = ours_src.chunk({dims.X: 7, dims.Y: 10})
    position = SkyCoord(83.9, 22.3, unit="deg")
    with raise_if_dask_computes():
        lazy = [
            downsample(lazy_src, 2),
            downsample(lazy_src.isel(energy=slice(0, 2)), 2, axis_name=dims.ENERGY),
            upsample(lazy_src, 2, order=1),
            cutout(lazy_src, position, 1.3, mode="partial"),
        ]
    eager = [
        downsample(ours_src, 2),
        downsample(ours_src.isel(energy=slice(0, 2)), 2, axis_name=dims.ENERGY),
        upsample(ours_src, 2, order=1),
        cutout(ours_src, position, 1.3, mode="partial"),
    ]
    for a, b in zip(lazy, eager, strict=True):
        assert a.gx.geom == b.gx.geom
        np.testing.assert_allclose(a.values, b.values, rtol=1e-12)


def test_pad_and_crop_are_inverse_and_lazy(source_gx):
    ours_src = source_gx
    with raise_if_dask_computes():
        padded = pad(ours_src.chunk({dims.X: 7}), 3, cval=-1.0)
    assert padded.gx.geom == ours_src.gx.geom.pad(3)
    assert float(padded.isel(x=0).max()) == -1.0
    back = crop(padded, 3)
    np.testing.assert_array_equal(back.values, ours_src.values)
    assert back.gx.geom == ours_src.gx.geom


def test_resampling_needs_compatible_inputs(source_gx):
    ours_src = source_gx
    with pytest.raises(GeometryError, match="divisible"):
        downsample(ours_src, 7)
    hpx = HpxGeom(8).empty()
    with pytest.raises(GeometryError, match="WCS"):
        pad(hpx, 1)
    other = WcsGeom.create(npix=(3, 3), axes=[_energy(n=2)])
    with pytest.raises(GeometryError, match="identical"):
        reproject_to_geom(ours_src, other)
    with pytest.raises(GeometryError, match="lacks"):
        interp_to_geom(ours_src, other.to_image())


def test_interp_reproduces_a_linear_function_exactly():
    geom = WcsGeom.create(skydir=(0, 0), npix=(30, 20), binsz=0.1, proj="CAR", frame="galactic")
    yy, xx = np.meshgrid(np.arange(20), np.arange(30), indexing="ij")
    m = geom.wrap(2.0 * xx + 3.0 * yy)
    target = geom.upsample(2).crop(2)
    got = interp_to_geom(m, target)
    tx = (np.arange(target.npix[0]) + 2 - 0.5) / 2.0
    ty = (np.arange(target.npix[1]) + 2 - 0.5) / 2.0
    expected = 2.0 * tx[None, :] + 3.0 * ty[:, None]
    np.testing.assert_allclose(got.values, expected, atol=1e-9)
    assert isinstance(got, xr.DataArray)
