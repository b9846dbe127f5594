"""Interpolation mechanics: explicit extrapolation, laziness, eager == chunked, invariants."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy import units as u
from hypothesis import given, settings
from hypothesis import strategies as st

import gammax
from gammax import irf as girf
from gammax.errors import ExtrapolationError
from gammax.testing import raise_if_dask_computes

from ..dl3_factory import write_run


@pytest.fixture
def aeff(tmp_path):
    path = write_run(tmp_path / "run.fits", 1)
    return gammax.read_irf(path, "AEFF", obs_id=1)


def test_axes_have_cf_bounds_and_scales(aeff):
    assert aeff.aeff.dims == ("energy_true", "offset")
    assert aeff.energy_true.attrs["bounds"] == "energy_true_bounds"
    assert aeff.energy_true_bounds.dims == ("energy_true", "bounds")
    lo, hi = aeff.energy_true_bounds.values.T
    np.testing.assert_allclose(aeff.energy_true.values, np.sqrt(lo * hi))  # log centres
    lo, hi = aeff.offset_bounds.values.T
    np.testing.assert_allclose(aeff.offset.values, 0.5 * (lo + hi))
    assert aeff.energy_true.attrs["interp_scale"] == "log"
    assert aeff.attrs["energy_threshold_lo"] == 0.3


def test_at_nodes_gives_table_values(aeff):
    got = girf.evaluate_aeff(aeff)  # default: the IRF's own bin centres
    np.testing.assert_allclose(got.values, aeff.aeff.values, rtol=1e-12)


def test_extrapolation_is_explicit(aeff):
    energy = [0.05, 1.0, 200.0] * u.TeV
    with pytest.raises(ExtrapolationError, match=r"energy_true.*\[0.1, 100\] TeV") as info:
        girf.evaluate_aeff(aeff, energy, 0.5 * u.deg).compute()
    assert info.value.obs_id == 1 and info.value.hdu == "AEFF"
    filled = girf.evaluate_aeff(aeff, energy, 0.5 * u.deg, extrapolate="fill").values
    assert filled[0] == 0 and filled[2] == 0 and filled[1] > 0
    clipped = girf.evaluate_aeff(aeff, energy, 0.5 * u.deg, extrapolate="clip").values
    edge = girf.evaluate_aeff(aeff, [0.1, 1.0, 100.0] * u.TeV, 0.5 * u.deg).values
    np.testing.assert_allclose(clipped, edge)
    extrapolated = girf.evaluate_aeff(aeff, energy, 0.5 * u.deg, extrapolate="extrapolate")
    # linear extrapolation below the first node goes to zero (clipped), unlike clipping
    assert extrapolated.values[0] == 0 and edge[0] > 0
    with pytest.raises(ValueError, match="extrapolate='sometimes'"):
        girf.evaluate_aeff(aeff, energy, 0.5 * u.deg, extrapolate="sometimes")


def test_units_are_converted(aeff):
    in_tev = girf.evaluate_aeff(aeff, [1.0, 3.0] * u.TeV, 30 * u.arcmin)
    in_gev = girf.evaluate_aeff(aeff, [1000.0, 3000.0] * u.GeV, 0.5 * u.deg)
    np.testing.assert_allclose(in_tev.values, in_gev.values, rtol=1e-12)
    assert in_tev.attrs["units"] == "m2"
    with pytest.raises(gammax.errors.UnitError, match="cannot be converted"):
        girf.evaluate_aeff(aeff, [1.0] * u.s, 0.5 * u.deg)


def test_lazy_and_chunked_equals_eager(aeff):
    energy = xr.DataArray(np.geomspace(0.2, 80, 200), dims="energy_true", attrs={"units": "TeV"})
    offset = xr.DataArray(np.linspace(0, 2.4, 50), dims="offset", attrs={"units": "deg"})
    eager = girf.evaluate_aeff(aeff.load(), energy, offset)
    assert isinstance(eager.data, np.ndarray)
    chunked_energy = energy.chunk({"energy_true": 37})
    lazy_aeff = gammax.read_irf(aeff.attrs["source_file"], "AEFF")
    with raise_if_dask_computes():
        lazy = girf.evaluate_aeff(lazy_aeff, chunked_energy, offset.chunk({"offset": 20}))
    assert isinstance(lazy.data, da.Array)
    assert lazy.chunks == ((37, 37, 37, 37, 37, 15), (20, 20, 10))
    computed = lazy.compute()
    assert computed.dtype == lazy.dtype
    np.testing.assert_array_equal(computed.values, eager.values)


def test_irf_values_are_dask_and_read_once_per_graph(aeff, tmp_path):
    lazy = gammax.read_irf(aeff.attrs["source_file"], "AEFF")
    assert isinstance(lazy.aeff.data, da.Array)
    assert lazy.aeff.data.npartitions == 1
    # the same file and column tokenizes identically: dask merges the reads
    again = gammax.read_irf(aeff.attrs["source_file"], "AEFF")
    assert lazy.aeff.data.name == again.aeff.data.name


@settings(max_examples=60, deadline=None)
@given(
    # between the first and last nodes (bin centres) of the synthetic table
    st.lists(st.floats(0.154, 64.93), min_size=1, max_size=20),
    st.floats(0.25, 2.25),
)
def test_interpolation_stays_within_neighbouring_nodes(tmp_path_factory, energies, offset):
    path = tmp_path_factory.mktemp("h") / "run.fits"
    if not path.exists():
        write_run(path, 1)
    aeff = gammax.read_irf(path, "AEFF").load()
    values = girf.evaluate_aeff(
        aeff, np.asarray(energies) * u.TeV, offset * u.deg, extrapolate="fill"
    ).values
    # between nodes, multilinear interpolation never leaves the range of the table
    table = aeff.aeff.values
    assert np.all(values >= table.min() * (1 - 1e-9))
    assert np.all(values <= table.max() * (1 + 1e-9))


@pytest.mark.data
def test_psf_containment_is_monotonic_and_bounded(hess_dir):
    store = gammax.open_datastore(hess_dir)
    psf = store.irf(23523, "psf")
    rad = np.linspace(0, 0.66, 200) * u.deg
    c = girf.psf_containment(psf, rad, [1, 10] * u.TeV, 0.5 * u.deg, extrapolate="fill")
    values = c.transpose("energy_true", "rad").values
    assert np.all(np.diff(values, axis=-1) >= -1e-12)
    assert np.all(values <= 1.0 + 1e-3) and values[:, -1].min() > 0.9
    r68 = girf.psf_containment_radius(psf, 0.68, [1, 10] * u.TeV, 0.5 * u.deg, extrapolate="fill")
    back = girf.psf_containment(psf, r68, r68.energy_true, 0.5 * u.deg, extrapolate="fill")
    np.testing.assert_allclose(
        back.values.diagonal() if back.ndim == 2 else back.values, 0.68, atol=2e-3
    )


def test_loglog_integral_is_exact_for_power_laws():
    edges = np.geomspace(0.3, 30, 9)
    index = xr.DataArray([1.5, 2.0, 2.7, 1.0], dims="pix")  # 1.0 takes the log branch
    x = xr.DataArray(edges, dims="energy")
    values = 3.0 * x ** (-index)
    got = girf.integrate_loglog(values, x, "energy")
    lo, hi = edges[:-1], edges[1:]
    for i, g in enumerate(index.values):
        if g == 1.0:
            expected = 3.0 * np.log(hi / lo)
        else:
            expected = 3.0 / (1 - g) * (hi ** (1 - g) - lo ** (1 - g))
        np.testing.assert_allclose(got.isel(pix=i).values, expected, rtol=1e-12)


@pytest.mark.data
@pytest.mark.gammapy
def test_background_integral_matches_gammapy(hess_dir, gammapy_store):
    store = gammax.open_datastore(hess_dir)
    bkg = store.irf(23523, "bkg")
    theirs = gammapy_store.obs(23523).bkg
    edges = np.geomspace(0.5, 20, 7) * u.TeV
    lon = np.array([0.0, 0.7, -1.2, 2.1])
    lat = np.array([0.1, -0.4, 1.0, -1.9])
    integral = girf.integrate_background(
        bkg,
        edges,
        xr.DataArray(lon, dims="pix", attrs={"units": "deg"}),
        xr.DataArray(lat, dims="pix", attrs={"units": "deg"}),
        extrapolate="fill",
    )
    assert u.Unit(integral.attrs["units"]) == u.Unit("s-1 sr-1")
    expected = theirs.integrate_log_log(
        energy=edges[:, None], fov_lon=lon * u.deg, fov_lat=lat * u.deg, axis_name="energy"
    ).to_value("s-1 sr-1")
    np.testing.assert_allclose(integral.transpose("energy", "pix").values, expected, rtol=5e-6)
    # times a solid angle it is a rate of counts
    omega = xr.DataArray([1e-5, 2e-5, 3e-5, 4e-5], dims="pix", attrs={"units": "sr"})
    counts_rate = girf.integrate_background(
        bkg,
        edges,
        xr.DataArray(lon, dims="pix", attrs={"units": "deg"}),
        xr.DataArray(lat, dims="pix", attrs={"units": "deg"}),
        solid_angle=omega,
        extrapolate="fill",
    )
    assert u.Unit(counts_rate.attrs["units"]) == u.Unit("s-1")
    np.testing.assert_allclose(counts_rate.values, (integral * omega).values)
