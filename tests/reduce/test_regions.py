"""Reflected and wobble OFF regions, ON/OFF counts: unit tests and Gammapy 2.1 cross-checks.

Real data: the four H.E.S.S. DR1 Crab runs (ON: a 0.11 deg circle at the Crab,
12 reco-energy bins 0.5-50 TeV) against Gammapy's ``ReflectedRegionsBackgroundMaker``
on a ``SpectrumDataset`` filled by ``SpectrumDatasetMaker``, and the two MAGIC
``rad_max_2d`` runs (ON: a point at the Crab) with ``WobbleRegionsFinder``.
Region centres, counts and alpha must be identical.
"""

from __future__ import annotations

import doctest
import itertools
import logging
import warnings

import astropy.units as u
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion, EllipseSkyRegion, PointSkyRegion, RectangleSkyRegion

import gammax
from gammax.errors import ConfigError
from gammax.geom import MapAxis, WcsGeom, exclusion_mask, read_map
from gammax.reduce import regions as rg
from gammax.reduce import regions_reflected as rr
from gammax.testing import raise_if_dask_computes

RUNS = [23523, 23526, 23559, 23592]
CRAB = SkyCoord(83.633, 22.014, unit="deg")
POINTING = SkyCoord(10.0, 0.0, unit="deg")
ON = CircleSkyRegion(SkyCoord(10.0, 0.5, unit="deg"), 0.1 * u.deg)
AXIS = MapAxis.from_energy_edges([1.0, 2.0, 4.0, 8.0], unit="TeV")


# -- finders, synthetic ------------------------------------------------------------------------
def test_reference_geometry():
    geom = rr.reference_geometry(ON, POINTING, "0.01 deg")
    # width 4 * 0.5 + 0.3 = 2.3 deg
    assert geom.npix == (230, 230) and geom.projection == "TAN" and geom.frame == "icrs"
    assert geom.center_skydir.separation(POINTING).deg < 1e-10
    assert rr.reference_geometry(ON, POINTING, 0.02 * u.deg).npix == (115, 115)


def test_reflected_regions_geometry():
    off = rg.find_reflected_regions(ON, POINTING)
    assert len(off) > 5
    seps = off.centers.separation(POINTING).deg
    np.testing.assert_allclose(seps, 0.5, atol=1e-6)  # on the circle through the ON region
    # no overlap with ON or with each other beyond the pixel size (the angular size is
    # measured on 0.01 deg pixel centres, as in Gammapy), in order around the circle
    centres = [ON.center, *off.centers]
    for a, b in itertools.pairwise(centres):
        assert 0.2 - 0.01 < a.separation(b).deg < 0.3
    assert off.centers.separation(ON.center).deg.min() > 0.2 - 0.01
    assert all(r.radius.to_value("deg") == pytest.approx(0.1, rel=1e-3) for r in off)
    # max_region_number and min_distance reduce the number
    assert len(rg.find_reflected_regions(ON, POINTING, max_region_number=2)) == 2
    assert len(rg.find_reflected_regions(ON, POINTING, min_distance="0.5 rad")) < len(off)
    assert "circle" in off.to_ds9()


def test_reflected_regions_avoid_excluded_pixels():
    free = rg.find_reflected_regions(ON, POINTING)
    geom = WcsGeom.create(skydir=POINTING, width=3, binsz=0.02, proj="CAR")
    blocker = CircleSkyRegion(free.centers[0], 0.15 * u.deg)
    mask = exclusion_mask(geom, blocker)
    off = rg.find_reflected_regions(ON, POINTING, mask)
    assert 0 < len(off) < len(free)
    coords = geom.get_coord()
    excluded = ~mask.values
    sky = SkyCoord(coords["lon"].values[excluded], coords["lat"].values[excluded], unit="deg")
    for region in off:
        assert not region.contains(sky, off.wcs).any()


def test_wobble_regions_are_symmetric():
    off = rg.find_wobble_regions(ON, POINTING, 1)
    assert len(off) == 1
    assert off.centers[0].separation(SkyCoord(10.0, -0.5, unit="deg")).deg < 1e-6
    off = rg.find_wobble_regions(ON, POINTING, 3)
    expected = SkyCoord([10.5, 10.0, 9.5], [0.0, -0.5, 0.0], unit="deg")
    # rotation by 90 deg steps on the TAN plane: counter-clockwise in pixels (east first)
    np.testing.assert_allclose(off.centers.separation(expected).deg, 0, atol=2e-3)
    np.testing.assert_allclose(off.centers.separation(POINTING).deg, 0.5, atol=1e-6)
    # a big ON region: wobble copies overlap -> no region
    big = CircleSkyRegion(ON.center, 0.45 * u.deg)
    assert len(rg.find_wobble_regions(big, POINTING, 5)) == 0
    # a point region is excluded within one reference pixel of an excluded pixel
    geom = WcsGeom.create(skydir=POINTING, width=3, binsz=0.02, proj="CAR")
    mask = exclusion_mask(geom, CircleSkyRegion(SkyCoord(10.0, -0.5, unit="deg"), 0.05 * u.deg))
    assert len(rg.find_wobble_regions(PointSkyRegion(ON.center), POINTING, 3, mask)) == 2


def test_finder_errors():
    with pytest.raises(ConfigError, match="PointSkyRegion"):
        rg.find_reflected_regions(PointSkyRegion(ON.center), POINTING)
    with pytest.raises(ConfigError, match="angle_increment"):
        rg.find_reflected_regions(ON, POINTING, angle_increment="0 rad")
    with pytest.raises(ConfigError, match="min_distance"):
        rg.find_reflected_regions(ON, POINTING, min_distance="1 TeV")
    with pytest.raises(ConfigError, match="n_off_regions"):
        rg.find_wobble_regions(ON, POINTING, 0)


# -- counts, synthetic --------------------------------------------------------------------------
def synthetic_events(off):
    """Events at known places: 3 in ON, 2 at each OFF centre, 4 far away."""
    ra = [10.0, 10.02, 10.0]
    dec = [0.5, 0.48, 0.45]
    energy = [1.5, 3.0, 100.0]  # the last one is outside the energy axis
    for c in off.centers:
        ra += [c.ra.deg, c.ra.deg]
        dec += [c.dec.deg, c.dec.deg]
        energy += [1.0, 7.999]
    ra += [12.0, 12.0, 8.0, 10.0]
    dec += [0.0, 1.0, 0.0, 0.0]
    energy += [1.5, 1.5, 1.5, 1.5]
    return {"RA": np.array(ra), "DEC": np.array(dec), "ENERGY": np.array(energy) * u.TeV}


def test_on_off_counts_synthetic():
    off = rg.find_reflected_regions(ON, POINTING)
    n = len(off)
    ds = rg.reflected_regions_background(synthetic_events(off), ON, POINTING, AXIS)
    assert ds.counts.values.tolist() == [1, 1, 0]
    assert ds.counts_off.values.tolist() == [n, 0, n]
    np.testing.assert_allclose(ds.alpha.values, 1 / n)
    assert ds.acceptance_off.values.tolist() == [n] * 3
    assert ds.mask_safe.values.all() and ds.attrs["n_off_regions"] == n
    assert ds.counts.dims == ("energy",) and ds.counts.dtype == np.int64
    # energies in GeV give the same
    events = synthetic_events(off)
    events["ENERGY"] = events["ENERGY"].to("GeV")
    xr.testing.assert_equal(rg.reflected_regions_background(events, ON, POINTING, AXIS), ds)


def test_on_off_counts_dask_lazy_and_equal():
    off = rg.find_reflected_regions(ON, POINTING)
    events = synthetic_events(off)
    eager = rg.make_counts_on_off(events, ON, off, AXIS)
    table = xr.Dataset(
        {
            "RA": ("event", dsa.from_array(events["RA"], chunks=4), {"units": "deg"}),
            "DEC": ("event", dsa.from_array(events["DEC"], chunks=4), {"units": "deg"}),
            "ENERGY": ("event", dsa.from_array(events["ENERGY"].value, 4), {"units": "TeV"}),
        }
    )
    with raise_if_dask_computes():
        lazy = rg.make_counts_on_off(table, ON, off, AXIS)
    assert isinstance(lazy.counts.data, dsa.Array)
    xr.testing.assert_equal(lazy.compute(), eager)


def test_no_off_region():
    big = CircleSkyRegion(ON.center, 0.45 * u.deg)
    events = {"RA": [10.0], "DEC": [0.5], "ENERGY": [1.5]}
    ds = rg.reflected_regions_background(
        events, big, POINTING, AXIS, finder="wobble", finder_params={"n_off_regions": 5}
    )
    assert ds.attrs["n_off_regions"] == 0 and ds.attrs["off_regions"] == ""
    assert ds.counts.values.tolist() == [1, 0, 0] and ds.counts_off.values.sum() == 0
    assert not ds.mask_safe.values.any() and (ds.alpha.values == 0).all()


def rad_max_table(values, energy_edges, offset_edges=(0.0, 2.0)):
    e = np.asarray(energy_edges, float)
    o = np.asarray(offset_edges, float)
    return xr.Dataset(
        {"rad_max": (("energy", "offset"), np.asarray(values, float)[:, None], {"units": "deg"})},
        coords={
            "energy": ("energy", np.sqrt(e[:-1] * e[1:]), {"units": "TeV", "bounds": "eb"}),
            "offset": ("offset", 0.5 * (o[:-1] + o[1:]), {"units": "deg", "bounds": "ob"}),
            "eb": (("energy", "bounds"), np.stack([e[:-1], e[1:]], 1), {"units": "TeV"}),
            "ob": (("offset", "bounds"), np.stack([o[:-1], o[1:]], 1), {"units": "deg"}),
        },
    )


def test_rad_max_point_counts_synthetic():
    # rad_max 0.2 deg in [1, 3) TeV, 0.05 deg in [3, 6) TeV. Gammapy takes the nearest bin
    # centre in log energy: the switch is at sqrt(sqrt(3) * sqrt(18)) = 2.711 TeV, not 3.
    table = rad_max_table([0.2, 0.05], [1.0, 3.0, 6.0])
    on = PointSkyRegion(ON.center)
    off = rg.find_wobble_regions(on, POINTING, 1)
    other = off.centers[0]
    events = {
        "RA": [10.0, 10.0, 10.0, 10.0, 10.0, other.ra.deg, other.ra.deg],
        "DEC": [0.6, 0.6, 0.6, 0.53, 0.9, other.dec.deg + 0.1, other.dec.deg + 0.01],
        "ENERGY": [1.5, 2.5, 2.9, 5.0, 1.5, 1.5, 7.0],  # 7 TeV: beyond the table -> 0
    }
    ds = rg.make_counts_on_off(events, on, off, AXIS, rad_max=table, pointing=POINTING)
    # ON: (0.1 deg, 1.5 TeV) in; (0.1, 2.5) in; (0.1, 2.9) out; (0.03, 5) in; (0.4, 1.5) out
    assert ds.counts.values.tolist() == [1, 1, 1]
    assert ds.counts_off.values.tolist() == [1, 0, 0]
    with pytest.raises(ConfigError, match="rad_max"):
        rg.make_counts_on_off(events, on, off, AXIS)
    # overlapping rad_max circles: no OFF region
    wide = rad_max_table([0.3, 0.3], [1.0, 3.0, 6.0])
    ds = rg.reflected_regions_background(
        events,
        on,
        POINTING,
        AXIS,
        finder="wobble",
        finder_params={"n_off_regions": 5},
        rad_max=wide,
    )
    assert ds.attrs["n_off_regions"] == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"finder": "ring"}, r"finder='ring'.*\['reflected', 'wobble'\]"),
        ({"finder_params": {"n_off": 3}}, r"\['n_off'\].*'reflected'.*angle_increment"),
        ({"finder": "wobble"}, "n_off_regions"),
        ({"rad_max": rad_max_table([0.2, 0.1], [1, 3, 9])}, "PointSkyRegion"),
        ({"pointing": "crab"}, "pointing="),
    ],
)
def test_background_config_errors(kwargs, match):
    args = {"pointing": POINTING, **kwargs}
    with pytest.raises(ConfigError, match=match):
        rg.reflected_regions_background(
            {"RA": [], "DEC": [], "ENERGY": []}, ON, energy_axis=AXIS, **args
        )


def test_docstring_examples():
    for module in (rg, rr):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 3 and result.failed == 0


# -- against Gammapy -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gp():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import gammapy.data
        import gammapy.datasets
        import gammapy.makers
        import gammapy.maps
    logging.getLogger("gammapy").setLevel(logging.CRITICAL)
    return gammapy


@pytest.fixture(scope="module")
def hess(gp, hess_dir):
    return gp.data.DataStore.from_dir(hess_dir), gammax.open_datastore(hess_dir)


def antipode(pointing, source):
    """The point opposite ``source`` on the circle about ``pointing``: an OFF position."""
    angle = pointing.position_angle(source) + 180 * u.deg
    return pointing.directional_offset_by(angle, pointing.separation(source))


def masks(gp, data_dir, pointing):
    """(name, Gammapy mask, gammax mask): none, a fake 0.3 deg source, the real Crab mask."""
    fake = CircleSkyRegion(antipode(pointing, CRAB), 0.3 * u.deg)
    gp_geom = gp.maps.WcsGeom.create(skydir=CRAB, width=8, binsz=0.02, proj="CAR")
    geom = WcsGeom.create(skydir=CRAB, width=8, binsz=0.02, proj="CAR")
    gp_fake = ~gp_geom.region_mask([fake])
    fake_mask = exclusion_mask(geom, fake)
    np.testing.assert_array_equal(gp_fake.data, fake_mask.values)
    path = data_dir / "joint-crab" / "exclusion" / "exclusion_mask_crab.fits.gz"
    real = gp.maps.Map.read(path)
    real = gp.maps.Map.from_geom(real.geom, data=real.data.astype(bool))  # stored as int64
    return [("none", None, None), ("fake", gp_fake, fake_mask), ("crab", real, read_map(path))]


def gammapy_on_off(gp, obs, on, energy_axis, finder, mask):
    geom = gp.maps.RegionGeom.create(on, axes=[energy_axis])
    dataset = gp.makers.SpectrumDatasetMaker(selection=["counts"]).run(
        gp.datasets.SpectrumDataset.create(geom), obs
    )
    maker = gp.makers.ReflectedRegionsBackgroundMaker(region_finder=finder, exclusion_mask=mask)
    return maker.run(dataset, obs)


def assert_same_on_off(gp, obs, events, on, pointing, finder_name, params, gp_mask, mask, **kw):
    """gammax's ON/OFF dataset equals Gammapy's: regions, reference WCS, counts, alpha."""
    from gammapy.utils.regions import compound_region_to_regions
    from regions import Regions

    bounds = kw.pop("energy_bounds", (0.5, 50, 12))
    gp_axis = gp.maps.MapAxis.from_energy_bounds(*bounds, unit="TeV")
    axis = MapAxis.from_energy_bounds(*bounds, unit="TeV")
    if finder_name == "reflected":
        finder = gp.makers.ReflectedRegionsFinder(**params)
    else:
        finder = gp.makers.WobbleRegionsFinder(**params)
    expected = gammapy_on_off(gp, obs, on, gp_axis, finder, gp_mask)
    got = rg.reflected_regions_background(
        events,
        on,
        pointing,
        axis,
        exclusion_mask=mask,
        finder=finder_name,
        finder_params=params,
        **kw,
    )
    text = got.attrs["off_regions"]
    ours = list(Regions.parse(text, format="ds9")) if text else []
    theirs = []
    if expected.counts_off is not None:
        theirs = compound_region_to_regions(expected.counts_off.geom.region)
        reference = rr.reference_geometry(on, pointing, params.get("binsz", "0.01 deg"))
        assert reference.wcs.to_header_string() == expected.counts_off.geom.wcs.to_header_string()
    assert got.attrs["n_off_regions"] == len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert type(a) is type(b)
        assert a.center.separation(b.center).deg < 1e-6
    np.testing.assert_array_equal(got.counts.values, expected.counts.data.ravel())
    if theirs:
        np.testing.assert_array_equal(got.counts_off.values, expected.counts_off.data.ravel())
        np.testing.assert_array_equal(got.alpha.values, expected.alpha.data.ravel())
        np.testing.assert_array_equal(
            got.acceptance_off.values, expected.acceptance_off.data.ravel()
        )
    np.testing.assert_array_equal(got.mask_safe.values, expected.mask_safe.data.ravel())
    return got


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("obs_id", RUNS)
def test_reflected_and_wobble_as_gammapy(gp, hess, data_dir, obs_id):
    gstore, xstore = hess
    obs = gstore.obs(obs_id)
    events = xstore.events(obs_id)
    pointing = SkyCoord(events.attrs["RA_PNT"], events.attrs["DEC_PNT"], unit="deg")
    assert obs.get_pointing_icrs(obs.tmid).separation(pointing).deg < 1e-10
    on = CircleSkyRegion(CRAB, 0.11 * u.deg)
    n_found = {}
    for name, gp_mask, mask in masks(gp, data_dir, pointing):
        got = assert_same_on_off(gp, obs, events, on, pointing, "reflected", {}, gp_mask, mask)
        n_found[name] = got.attrs["n_off_regions"]
        assert got.counts.sum() > 100 and got.counts_off.sum() > 100
        if name != "crab":
            got = assert_same_on_off(
                gp, obs, events, on, pointing, "wobble", {"n_off_regions": 3}, gp_mask, mask
            )
            assert got.attrs["n_off_regions"] == (3 if name == "none" else 2)
    # the fake source removes OFF regions; the Crab mask removes one next to the ON region
    assert n_found["fake"] < n_found["none"] and n_found["crab"] < n_found["none"]


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize(
    ("on", "params"),
    [
        (RectangleSkyRegion(CRAB, 0.3 * u.deg, 0.15 * u.deg, angle=30 * u.deg), {}),
        (EllipseSkyRegion(CRAB, 0.3 * u.deg, 0.15 * u.deg, angle=10 * u.deg), {}),
        (
            CircleSkyRegion(CRAB, 0.2 * u.deg),
            {
                "angle_increment": "0.05 rad",
                "min_distance": "2 deg",
                "min_distance_input": "0.3 rad",
                "max_region_number": 6,
                "binsz": "0.02 deg",
            },
        ),
    ],
    ids=["rectangle", "ellipse", "params"],
)
def test_shapes_and_parameters_as_gammapy(gp, hess, data_dir, on, params):
    gstore, xstore = hess
    for obs_id in (23526, 23592):
        events = xstore.events(obs_id)
        pointing = SkyCoord(events.attrs["RA_PNT"], events.attrs["DEC_PNT"], unit="deg")
        _, (_, gp_mask, mask), _ = masks(gp, data_dir, pointing)
        assert_same_on_off(
            gp, gstore.obs(obs_id), events, on, pointing, "reflected", params, gp_mask, mask
        )


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("n_off", [1, 3, 5])
def test_rad_max_as_gammapy(gp, data_dir, n_off):
    path = data_dir / "magic" / "rad_max" / "data"
    gstore, xstore = gp.data.DataStore.from_dir(path), gammax.open_datastore(path)
    on = PointSkyRegion(CRAB)
    for obs_id in xstore.obs_ids:
        obs = gstore.obs(int(obs_id), required_irf="point-like")
        events = xstore.events(int(obs_id))
        rad_max = xstore.irf(int(obs_id), "rad_max").load()
        pointing = SkyCoord(events.attrs["RA_PNT"], events.attrs["DEC_PNT"], unit="deg")
        got = assert_same_on_off(
            gp,
            obs,
            events,
            on,
            pointing,
            "wobble",
            {"n_off_regions": n_off},
            None,
            None,
            rad_max=rad_max,
            energy_bounds=(0.05, 50, 15),
        )
        # 5 OFF points on a 0.4 deg circle overlap with rad_max: no OFF region, as in Gammapy
        assert got.attrs["n_off_regions"] == (0 if n_off == 5 else n_off)
        assert got.counts.sum() > 300
        if n_off == 3:  # exclude the OFF position opposite the Crab
            fake = CircleSkyRegion(antipode(pointing, CRAB), 0.1 * u.deg)
            geom = gp.maps.WcsGeom.create(skydir=CRAB, width=3, binsz=0.02)
            gp_mask = ~geom.region_mask([fake])
            mask = exclusion_mask(WcsGeom.create(skydir=CRAB, width=3, binsz=0.02), fake)
            got = assert_same_on_off(
                gp,
                obs,
                events,
                on,
                pointing,
                "wobble",
                {"n_off_regions": 3},
                gp_mask,
                mask,
                rad_max=rad_max,
                energy_bounds=(0.05, 50, 15),
            )
            assert got.attrs["n_off_regions"] == 2
