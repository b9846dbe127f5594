"""Binning events: against numpy.histogramdd, Gammapy's fill_events, eager vs chunked."""

from __future__ import annotations

import astropy.units as u
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.time import Time
from regions import CircleSkyRegion

from gammax import dims
from gammax.errors import GeometryError
from gammax.geom import HpxGeom, MapAxis, RegionGeom, TimeAxis, WcsGeom, bin_events, bin_pixels
from gammax.testing import raise_if_dask_computes

N_EVENTS = 1_000_000


@pytest.fixture(scope="module")
def events():
    """One million events around the Crab, some outside the map and the energy range."""
    rng = np.random.default_rng(42)
    return {
        "RA": 83.63 + rng.normal(0, 1.2, N_EVENTS),
        "DEC": 22.01 + rng.normal(0, 1.2, N_EVENTS),
        "ENERGY": 10 ** rng.uniform(-1.3, 2.2, N_EVENTS),
    }


@pytest.fixture(scope="module")
def geom():
    energy = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 12)
    return WcsGeom.create(
        skydir=SkyCoord(83.63, 22.01, unit="deg").galactic,
        width=5.0,
        binsz=0.04,
        proj="TAN",
        frame="galactic",
        axes=[energy],
    )


def test_binning_equals_histogramdd_on_the_same_pixel_coordinates(events, geom):
    counts = bin_events(events, geom)
    assert counts.dims == (dims.ENERGY, dims.Y, dims.X)
    assert counts.dtype == np.int64
    assert counts.gx.geom == geom
    pix = geom.coord_to_pix(
        {"lon": events["RA"], "lat": events["DEC"], "frame": "icrs", dims.ENERGY: events["ENERGY"]}
    )
    sample = np.stack([pix[dims.ENERGY], pix[dims.Y], pix[dims.X]], axis=1)
    bins = [np.arange(n + 1) - 0.5 for n in geom.shape]
    expected, _ = np.histogramdd(sample, bins=bins)
    np.testing.assert_array_equal(counts.values, expected)
    assert 0 < counts.sum() < N_EVENTS


@pytest.mark.gammapy
@pytest.mark.slow
def test_binning_equals_gammapy_fill_events(events, geom):
    from astropy.table import Table
    from gammapy.data import EventList
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GMapAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    table = Table(
        {
            "RA": events["RA"] * u.deg,
            "DEC": events["DEC"] * u.deg,
            "ENERGY": events["ENERGY"] * u.TeV,
            "TIME": Time(np.full(N_EVENTS, 55000.0), format="mjd", scale="tt"),
        }
    )
    gaxis = GMapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 12)
    ggeom = GWcsGeom.create(
        skydir=SkyCoord(83.63, 22.01, unit="deg").galactic,
        width=5.0,
        binsz=0.04,
        proj="TAN",
        frame="galactic",
        axes=[gaxis],
    )
    gmap = Map.from_geom(ggeom)
    gmap.fill_events(EventList(table))
    counts = bin_events(events, geom)
    np.testing.assert_array_equal(counts.values, gmap.data)


def test_eager_and_chunked_binning_agree_and_chunked_is_lazy(events, geom):
    eager = bin_events(events, geom)
    chunked = {k: dsa.from_array(v, chunks=150_000) for k, v in events.items()}
    chunked["ENERGY"] = (
        xr.DataArray(chunked["ENERGY"], dims=dims.EVENT, attrs={"units": "GeV"}) * 1000
    )
    chunked["ENERGY"].attrs["units"] = "GeV"
    with raise_if_dask_computes():
        lazy = bin_events(chunked, geom, split_every=3)
    assert isinstance(lazy.data, dsa.Array)
    assert lazy.dtype == eager.dtype
    np.testing.assert_array_equal(lazy.compute().values, eager.values)


def test_weights_and_unit_conversion():
    geom = WcsGeom.create(
        skydir=(0, 0),
        npix=(3, 3),
        binsz=1.0,
        axes=[MapAxis.from_energy_bounds("1 TeV", "100 TeV", 2)],
    )
    events = xr.Dataset(
        {
            "ra": (dims.EVENT, [0.0, 0.0, 1.0, 50.0]),
            "dec": (dims.EVENT, [0.0, 0.0, 0.0, 0.0]),
            "energy": (dims.EVENT, [2000.0, 20000.0, 2000.0, 2000.0], {"units": "GeV"}),
            "w": (dims.EVENT, [0.5, 2.0, 1.0, 9.0]),
        }
    )
    counts = bin_events(events, geom, weights="w")
    assert counts.dtype == np.float64
    assert counts.sum() == 3.5
    idx = geom.coord_to_idx({"lon": [0.0, 1.0], "lat": [0.0, 0.0]})
    assert counts.values[0, idx["y"][0], idx["x"][0]] == 0.5
    assert counts.values[1, idx["y"][0], idx["x"][0]] == 2.0
    assert counts.values[0, idx["y"][1], idx["x"][1]] == 1.0


@pytest.mark.gammapy
def test_hpx_binning_matches_healpy(events):
    import healpy  # the reference HEALPix library, installed with the gammapy test extra

    geom = HpxGeom(64, False, "icrs", "DISK(83.63,22.01,3)")
    n = 200_000
    counts = bin_events({k: v[:n] for k, v in events.items()}, geom.to_image())
    pix = healpy.ang2pix(64, events["RA"][:n], events["DEC"][:n], lonlat=True)
    expected = np.bincount(pix, minlength=12 * 64**2)[geom.ipix]
    np.testing.assert_array_equal(counts.values, expected)


def test_region_binning_counts_events_in_the_region(events):
    region = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.3 * u.deg)
    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3)
    geom = RegionGeom.create(region, axes=[axis])
    n = 200_000
    ev = {k: v[:n] for k, v in events.items()}
    counts = bin_events(ev, geom)
    assert counts.dims == (dims.ENERGY,)
    sep = SkyCoord(ev["RA"], ev["DEC"], unit="deg").separation(region.center).deg
    inside = sep < 0.3
    expected = np.histogram(ev["ENERGY"][inside], bins=axis.edges)[0]
    # The region is tested on a TAN plane: at most a few events at the rim may differ.
    assert np.abs(counts.values - expected).sum() <= 3


def test_time_axis_binning_with_gadf_reference():
    start = Time([55000.0, 55000.5], format="mjd", scale="tt")
    stop = Time([55000.25, 55001.0], format="mjd", scale="tt")
    axis = TimeAxis.from_gti(start, stop, unit="s")
    geom = WcsGeom.create(skydir=(0, 0), npix=(2, 2), binsz=1.0, axes=[axis])
    mjdref = 54999.0
    met = (np.array([55000.1, 55000.3, 55000.6, 55000.9]) - mjdref) * 86400.0
    events = {
        "ra": np.zeros(4),
        "dec": np.zeros(4),
        "time": xr.DataArray(
            met, dims=dims.EVENT, attrs={"units": "s", "MJDREFI": 54999, "MJDREFF": 0.0}
        ),
    }
    counts = bin_events(events, geom)
    np.testing.assert_array_equal(counts.sum([dims.X, dims.Y]).values, [1, 2])


def test_missing_columns_raise_geometry_error(geom):
    with pytest.raises(GeometryError, match="ENERGY"):
        bin_events({"RA": [1.0], "DEC": [1.0]}, geom)


def test_bin_pixels_counts_indices(geom):
    rng = np.random.default_rng(0)
    idx = {d: rng.integers(-2, n + 2, 10_000) for d, n in geom.sizes.items()}
    counts = bin_pixels(idx, geom)
    valid = np.all([(idx[d] >= 0) & (idx[d] < n) for d, n in geom.sizes.items()], axis=0)
    expected = np.zeros(geom.shape)
    np.add.at(expected, tuple(idx[d][valid] for d in geom.dims), 1)
    np.testing.assert_array_equal(counts.values, expected)
