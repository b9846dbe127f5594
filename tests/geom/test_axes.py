"""Axes: construction, pixel transforms, bin indices, serialisation, invariants."""

from __future__ import annotations

import pickle

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.time import Time
from dask.base import tokenize
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gammax import dims
from gammax.errors import GeometryError
from gammax.geom import LabelAxis, MapAxis, TimeAxis, axis_from_coordinate, axis_from_dict

edges_strategy = (
    st.lists(
        st.floats(min_value=1e-3, max_value=1e4, allow_nan=False),
        min_size=2,
        max_size=30,
        unique=True,
    )
    .map(sorted)
    .filter(lambda e: np.all(np.diff(e) > 1e-9 * np.abs(e[1:])))
)


def test_energy_axis_edges_and_centres_are_geometric():
    axis = MapAxis.from_energy_bounds(0.1, 100, 3, unit="TeV")
    assert axis.name == dims.ENERGY
    np.testing.assert_allclose(axis.edges, [0.1, 1, 10, 100], rtol=1e-14)
    np.testing.assert_allclose(axis.center, np.sqrt(axis.edges[:-1] * axis.edges[1:]), rtol=1e-14)
    assert axis.unit == "TeV"


def test_per_decade_and_quantities():
    axis = MapAxis.from_energy_bounds(
        1 * u.TeV, 100 * u.TeV, 5, per_decade=True, name=dims.ENERGY_TRUE
    )
    assert axis.nbin == 10
    assert axis.name == dims.ENERGY_TRUE
    axis_gev = MapAxis.from_energy_edges([1, 10, 100] * u.GeV)
    assert axis_gev.unit == "GeV"


@pytest.mark.parametrize(
    "bad",
    [
        dict(name="x", nodes=(1.0,)),
        dict(name="rad", nodes=(2.0, 1.0)),
        dict(name="rad", nodes=(0.0, 1.0), interp="log"),
        dict(name="rad", nodes=(0.0, np.nan)),
        dict(name="rad", nodes=(0.0, 1.0), interp="cubic"),
        dict(name="", nodes=(0.0, 1.0)),
    ],
)
def test_invalid_axes_raise_geometry_error(bad):
    with pytest.raises(GeometryError):
        MapAxis(**bad)
    with pytest.raises(ValueError):  # GeometryError is also a ValueError
        MapAxis(**bad)


def test_energy_axis_needs_energy_unit_and_name():
    with pytest.raises(GeometryError, match="energy unit"):
        MapAxis.from_energy_bounds(1, 10, 2, unit="deg")
    with pytest.raises(GeometryError, match="energy axis"):
        MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2, name="rad")


def test_coord_to_idx_matches_searchsorted_and_excludes_upper_edge():
    rng = np.random.default_rng(1)
    axis = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 24)
    values = np.concatenate([10 ** rng.uniform(-2, 3, 5000), axis.edges, [np.nan, np.inf]])
    expected = np.searchsorted(axis.edges, values, side="right") - 1
    expected[(expected >= axis.nbin) | ~np.isfinite(values)] = -1
    np.testing.assert_array_equal(axis.coord_to_idx(values), expected)
    assert axis.coord_to_idx([axis.edges[-1]])[0] == -1
    assert axis.coord_to_idx([axis.edges[0]])[0] == 0


def test_coord_to_idx_converts_quantities():
    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
    assert axis.coord_to_idx(5000 * u.GeV).item() == 1
    with pytest.raises(GeometryError):
        axis.coord_to_idx(1 * u.deg)


@settings(max_examples=60, deadline=None)
@given(
    edges=edges_strategy,
    interp=st.sampled_from(["lin", "log", "sqrt"]),
    node_type=st.sampled_from(["edges", "center"]),
)
def test_pix_coord_pix_is_identity_and_edges_monotonic(edges, interp, node_type):
    try:
        axis = MapAxis("rad", tuple(edges), "deg", interp, node_type)
    except GeometryError:  # sqrt node axes whose extrapolated lower edge is negative
        assume(interp == "sqrt" and node_type == "center")
        return
    assert np.all(np.diff(axis.edges) > 0)
    assert np.all((axis.center > axis.edges[:-1]) & (axis.center < axis.edges[1:]))
    pix = np.linspace(-0.5, axis.nbin - 0.5, 37)
    np.testing.assert_allclose(axis.coord_to_pix(axis.pix_to_coord(pix)), pix, atol=1e-8)
    np.testing.assert_allclose(axis.coord_to_pix(axis.center), np.arange(axis.nbin), atol=1e-8)


@settings(max_examples=60, deadline=None)
@given(edges=edges_strategy, data=st.data())
def test_coord_to_idx_agrees_with_edges(edges, data):
    axis = MapAxis.from_edges(edges, name="rad")
    values = np.array(
        data.draw(
            st.lists(
                st.floats(min_value=edges[0] / 2, max_value=edges[-1] * 2), min_size=1, max_size=20
            )
        )
    )
    idx = axis.coord_to_idx(values)
    inside = idx >= 0
    assert np.all(axis.edges[idx[inside]] <= values[inside])
    assert np.all(values[inside] < axis.edges[idx[inside] + 1])
    assert np.all((values[~inside] < edges[0]) | (values[~inside] >= edges[-1]))


def test_downsample_upsample_slice():
    axis = MapAxis.from_energy_bounds("1 TeV", "100 TeV", 8)
    down = axis.downsample(2)
    np.testing.assert_allclose(down.edges, axis.edges[::2], rtol=1e-12)
    up = axis.upsample(2)
    assert up.nbin == 16
    np.testing.assert_allclose(up.edges[::2], axis.edges, rtol=1e-12)
    np.testing.assert_allclose(up.edges[1::2], axis.center, rtol=1e-12)
    sub = axis.slice(2, 5)
    np.testing.assert_array_equal(sub.edges, axis.edges[2:6])
    with pytest.raises(GeometryError):
        axis.downsample(3)


def test_axis_dict_pickle_and_token_roundtrip():
    axis = MapAxis.from_nodes([1.0, 2.0, 4.0], name="rad", unit="deg", interp="log")
    assert axis_from_dict(axis.to_dict()) == axis
    assert pickle.loads(pickle.dumps(axis)) == axis
    assert tokenize(axis) == tokenize(
        MapAxis.from_nodes([1.0, 2.0, 4.0], name="rad", unit="deg", interp="log")
    )
    assert tokenize(axis) != tokenize(axis.rename("offset"))


def test_coordinate_roundtrip_and_selection():
    axis = MapAxis.from_energy_bounds("1 TeV", "100 TeV", 6)
    coord = axis.to_coordinate()
    assert axis_from_coordinate(coord) == axis
    sub = xr.DataArray(np.zeros(6), dims=dims.ENERGY, coords={dims.ENERGY: coord})
    assert axis_from_coordinate(sub.isel(energy=slice(1, 4)).coords[dims.ENERGY]) == axis.slice(
        1, 4
    )
    with pytest.raises(GeometryError, match="non-contiguous"):
        axis_from_coordinate(sub.isel(energy=[0, 2]).coords[dims.ENERGY])
    with pytest.raises(GeometryError, match="axis attributes"):
        axis_from_coordinate(xr.DataArray([1.0, 2.0], dims="energy"))


def test_label_axis():
    axis = LabelAxis("dataset", ("crab", "pks", "msh"))
    np.testing.assert_array_equal(axis.coord_to_idx(["msh", "crab", "nope"]), [2, 0, -1])
    assert axis_from_coordinate(axis.to_coordinate()) == axis
    with pytest.raises(GeometryError):
        LabelAxis("dataset", ("a", "a"))


def test_time_axis_from_non_contiguous_gtis():
    start = Time([55000.0, 55000.5, 55003.0], format="mjd", scale="tt")
    stop = Time([55000.25, 55001.0, 55004.0], format="mjd", scale="tt")
    axis = TimeAxis.from_gti(start, stop, unit="d")
    assert not axis.is_contiguous
    assert axis.nbin == 3
    np.testing.assert_allclose((axis.time_min - start).to_value("s"), 0, atol=1e-6)
    np.testing.assert_allclose((axis.time_max - stop).to_value("s"), 0, atol=1e-6)
    times = Time([55000.1, 55000.3, 55000.7, 55003.5, 55005.0], format="mjd", scale="tt")
    np.testing.assert_array_equal(axis.coord_to_idx(times), [0, -1, 1, 2, -1])
    pix = axis.coord_to_pix(times)
    assert np.isnan(pix[1]) and np.isnan(pix[4])
    np.testing.assert_allclose(
        axis.pix_to_coord(pix[[0, 2, 3]]), axis._relative(times[[0, 2, 3]]), rtol=1e-12
    )
    back = axis_from_coordinate(axis.to_coordinate())
    assert back == axis
    with pytest.raises(GeometryError, match="overlapping"):
        TimeAxis((0.0, 1.0), (2.0, 3.0))
