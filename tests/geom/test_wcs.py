"""WCS geometry: creation, fast projection against wcslib, transforms, derived geometries."""

from __future__ import annotations

import pickle

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from dask.base import tokenize
from hypothesis import given, settings
from hypothesis import strategies as st

from gammax.errors import GeometryError
from gammax.geom import MapAxis, WcsGeom, geom_from_dict
from gammax.geom.projection import FAST_PROJECTIONS, SkyProjector
from gammax.geom.sky import convert_frame

PROJECTIONS = [*FAST_PROJECTIONS, "MOL", "MER"]


@pytest.mark.parametrize("proj", PROJECTIONS)
@pytest.mark.parametrize("crval", [(83.63, 22.01), (0.0, 0.0), (266.4, -29.0), (10.0, 88.0)])
def test_sky_to_pixel_matches_wcslib(proj, crval):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = [f"RA---{proj}", f"DEC--{proj}"]
    wcs.wcs.crval = crval
    wcs.wcs.cdelt = [-0.05, 0.05]
    wcs.wcs.crpix = [100.5, 80.0]
    wcs.wcs.set()
    rng = np.random.default_rng(7)
    lon = crval[0] + rng.uniform(-30, 30, 5000)
    lat = np.clip(crval[1] + rng.uniform(-30, 30, 5000), -90, 90)
    x, y = SkyProjector(wcs, "icrs").to_pixel(lon, lat)
    xr_, yr_ = wcs.wcs_world2pix(lon, lat, 0)
    defined = np.isfinite(xr_)
    np.testing.assert_array_equal(np.isfinite(x), defined)
    np.testing.assert_allclose(x[defined], xr_[defined], atol=1e-8, rtol=0)
    np.testing.assert_allclose(y[defined], yr_[defined], atol=1e-8, rtol=0)
    assert SkyProjector(wcs, "icrs").is_fast == (proj in FAST_PROJECTIONS)


def test_frame_conversion_matches_astropy():
    rng = np.random.default_rng(3)
    c = SkyCoord(
        rng.uniform(0, 360, 2000),
        np.degrees(np.arcsin(rng.uniform(-1, 1, 2000))),
        unit="deg",
        frame="icrs",
    )
    gal = c.galactic
    lon, lat = convert_frame(c.ra.deg, c.dec.deg, "icrs", "galactic")
    dlon = (lon - gal.l.deg + 180) % 360 - 180
    np.testing.assert_allclose(dlon * np.cos(np.radians(lat)), 0, atol=1e-10)
    np.testing.assert_allclose(lat, gal.b.deg, atol=1e-10)


@pytest.mark.gammapy
@pytest.mark.parametrize("proj", ["CAR", "TAN", "AIT"])
@pytest.mark.parametrize("frame", ["icrs", "galactic"])
def test_create_matches_gammapy(proj, frame):
    from gammapy.maps import WcsGeom as GWcsGeom

    kwargs = dict(skydir=(83.63, 22.01), width=(3.0, 2.0), binsz=0.02, proj=proj, frame=frame)
    ours = WcsGeom.create(**kwargs)
    theirs = GWcsGeom.create(**kwargs)
    assert ours.npix == tuple(int(np.max(n)) for n in theirs.npix)
    header = theirs.wcs.to_header()
    for key in ("CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CDELT1", "CDELT2"):
        assert ours.header_cards[key] == header[key], key
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-0.5, ours.npix[0] - 0.5, 500), rng.uniform(-0.5, ours.npix[1] - 0.5, 500)
    lon, lat = ours.pix_to_world(x, y)
    glon, glat = theirs.pix_to_coord((x, y))
    np.testing.assert_allclose(lon, glon.to_value("deg"), atol=1e-10)
    np.testing.assert_allclose(lat, glat.to_value("deg"), atol=1e-10)


geom_params = st.fixed_dictionaries(
    {
        "lon": st.floats(0, 359.9),
        "lat": st.floats(-80, 80),
        "binsz": st.floats(0.005, 0.5),
        "nx": st.integers(1, 300),
        "ny": st.integers(1, 300),
        "proj": st.sampled_from(["CAR", "TAN", "SIN", "ZEA", "ARC", "STG"]),
        "frame": st.sampled_from(["icrs", "galactic"]),
    }
)


@settings(max_examples=60, deadline=None)
@given(p=geom_params, data=st.data())
def test_pixel_coordinate_pixel_is_identity(p, data):
    geom = WcsGeom.create(
        skydir=(p["lon"], p["lat"]),
        npix=(p["nx"], p["ny"]),
        binsz=p["binsz"],
        proj=p["proj"],
        frame=p["frame"],
    )
    n = 20
    fx = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    fy = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    x = -0.5 + fx * geom.npix[0]
    y = -0.5 + fy * geom.npix[1]
    coords = geom.pix_to_coord({"x": x, "y": y})
    # Pixels outside the projection's domain (e.g. beyond the SIN hemisphere) have no sky
    # position; the invariant concerns the others.
    valid = np.isfinite(coords["lon"])
    x, y = x[valid], y[valid]
    coords = {"lon": coords["lon"][valid], "lat": coords["lat"][valid]}
    pix = geom.coord_to_pix(coords)
    np.testing.assert_allclose(pix["x"], x, atol=1e-6)
    np.testing.assert_allclose(pix["y"], y, atol=1e-6)
    idx = geom.coord_to_idx(coords)
    for dim, n in (("x", geom.npix[0]), ("y", geom.npix[1])):
        expected = np.floor(pix[dim] + 0.5)
        expected[(expected < 0) | (expected >= n)] = -1
        np.testing.assert_array_equal(idx[dim], expected)


def test_geometry_is_small_picklable_and_tokenizes_deterministically():
    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3)
    geom = WcsGeom.create(skydir=(0, 0), npix=(10, 8), binsz=0.1, axes=[axis])
    assert pickle.loads(pickle.dumps(geom)) == geom
    assert len(pickle.dumps(geom)) < 5000
    assert geom_from_dict(geom.to_dict()) == geom
    twin = WcsGeom.create(skydir=(0, 0), npix=(10, 8), binsz=0.1, axes=[axis])
    assert tokenize(geom) == tokenize(twin)
    assert tokenize(geom) != tokenize(geom.pad(1))
    with pytest.raises(AttributeError):
        geom.npix = (1, 1)


def test_invalid_geometries():
    with pytest.raises(GeometryError, match="npix"):
        WcsGeom.create(npix=(0, 3))
    with pytest.raises(GeometryError, match="frame"):
        WcsGeom.create(frame="ecliptic")
    axis = MapAxis.from_bounds(0, 1, 2, name="x")
    with pytest.raises(GeometryError, match="reserved"):
        WcsGeom.create(npix=(3, 3), axes=[axis])
    with pytest.raises(GeometryError, match="divisible"):
        WcsGeom.create(npix=(5, 4)).downsample(2)


def test_solid_angle_sums_to_full_sky_and_matches_car_formula():
    geom = WcsGeom.create(binsz=1.0, proj="CAR", frame="galactic")  # all sky, 1 deg
    omega = geom.solid_angle().values
    assert abs(omega.sum() / (4 * np.pi) - 1) < 1e-4
    # For CAR a pixel spans constant latitudes: exact area d(lon) * (sin b2 - sin b1).
    lat_edges = np.radians(np.arange(-90, 91, 1.0))
    exact = np.radians(1.0) * np.diff(np.sin(lat_edges))
    np.testing.assert_allclose(omega[:, 100], exact, rtol=1e-4)


@pytest.mark.gammapy
def test_solid_angle_matches_gammapy():
    from gammapy.maps import WcsGeom as GWcsGeom

    kwargs = dict(skydir=(83.63, 22.01), width=4, binsz=0.05, proj="TAN", frame="icrs")
    np.testing.assert_allclose(
        WcsGeom.create(**kwargs).solid_angle().values,
        GWcsGeom.create(**kwargs).solid_angle().to_value("sr"),
        rtol=1e-6,
    )


@pytest.mark.gammapy
def test_derived_geometries_match_gammapy():
    from gammapy.maps import WcsGeom as GWcsGeom

    kwargs = dict(skydir=(10.0, -5.0), npix=(40, 30), binsz=0.1, proj="CAR", frame="galactic")
    ours, theirs = WcsGeom.create(**kwargs), GWcsGeom.create(**kwargs)

    def same(a, b):
        assert a.npix == tuple(int(np.max(n)) for n in b.npix)
        h = b.wcs.to_header()
        for key in ("CRPIX1", "CRPIX2", "CDELT1", "CDELT2", "CRVAL1", "CRVAL2"):
            np.testing.assert_allclose(a.header_cards[key], h[key], rtol=1e-12, err_msg=key)

    same(ours.pad(3), theirs.pad(3, axis_name=None))
    same(ours.downsample(2), theirs.downsample(2))
    same(ours.upsample(3), theirs.upsample(3))
    same(ours.to_binsz(0.2), theirs.to_binsz(0.2))
    pos = SkyCoord(10.5, -4.7, unit="deg", frame="galactic")
    sl = ours.cutout_slices(pos, 1.2)
    cut = ours.slice_pixels(
        sl["x"].start, sl["y"].start, sl["x"].stop - sl["x"].start, sl["y"].stop - sl["y"].start
    )
    same(cut, theirs.cutout(pos, 1.2 * u.deg))


def test_coordinates_of_events_in_another_frame():
    geom = WcsGeom.create(
        skydir=(184.557, -5.784), npix=(100, 100), binsz=0.02, frame="galactic", proj="TAN"
    )
    crab = SkyCoord(83.633, 22.0145, unit="deg", frame="icrs")
    pix = geom.coord_to_pix({"skycoord": crab})
    gal = crab.galactic
    x, y = geom.wcs.wcs_world2pix(gal.l.deg, gal.b.deg, 0)
    np.testing.assert_allclose([pix["x"], pix["y"]], [x, y], atol=1e-8)
