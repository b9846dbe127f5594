"""Spatial models: values and pixel integrals against Gammapy, normalisation, laziness."""

from __future__ import annotations

import astropy.units as u
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

import gammax.models as xm
from gammax.errors import ConfigError
from gammax.geom import MapAxis, WcsGeom
from gammax.testing import raise_if_dask_computes

CENTER = {"lon_0": "83.6 deg", "lat_0": "22.0 deg", "frame": "icrs"}
CASES = [
    ("GaussianSpatialModel", {"sigma": "0.5 deg"}),
    ("GaussianSpatialModel", {"sigma": "0.4 deg", "e": 0.8, "phi": "30 deg"}),
    ("GeneralizedGaussianSpatialModel", {"r_0": "0.5 deg", "eta": 0.3, "e": 0.5, "phi": "40 deg"}),
    ("DiskSpatialModel", {"r_0": "1 deg", "edge_width": 0.1}),
    ("DiskSpatialModel", {"r_0": "0.8 deg", "e": 0.6, "phi": "70 deg", "edge_width": 0.05}),
    ("ShellSpatialModel", {"radius": "1 deg", "width": "0.3 deg"}),
    ("Shell2SpatialModel", {"r_0": "1 deg", "eta": 0.3}),
    ("ConstantSpatialModel", {}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def _pair(gp, name, pars):
    pars = dict(pars) if name == "ConstantSpatialModel" else {**CENTER, **pars}
    return getattr(gp, name)(**pars), getattr(xm, name)(**pars)


def _grid():
    lon = xr.DataArray(np.linspace(80, 88, 41), dims="lon", attrs={"units": "deg"})
    lat = xr.DataArray(np.linspace(18, 26, 37), dims="lat", attrs={"units": "deg"})
    return lon, lat


@pytest.mark.gammapy
@pytest.mark.parametrize(("name", "pars"), CASES, ids=IDS)
def test_values_match_gammapy_in_any_frame(gp, name, pars):
    g, x = _pair(gp, name, pars)
    lon, lat = _grid()
    got = x(lon, lat)
    assert got.dims == ("lon", "lat") and got.attrs["units"] == "sr-1"
    lon2, lat2 = np.meshgrid(lon.values, lat.values, indexing="ij")
    want = np.broadcast_to(g(lon2 * u.deg, lat2 * u.deg).to_value("sr-1"), lon2.shape)
    np.testing.assert_allclose(got.values, want, rtol=1e-10, atol=1e-12 * want.max())
    # the same positions given in galactic coordinates
    gal = SkyCoord(lon2 * u.deg, lat2 * u.deg).galactic
    l_da = xr.DataArray(gal.l.deg, dims=("lon", "lat"), attrs={"units": "deg"})
    b_da = xr.DataArray(gal.b.deg, dims=("lon", "lat"), attrs={"units": "deg"})
    got = x(l_da, b_da, frame="galactic")
    np.testing.assert_allclose(got.values, want, rtol=1e-9, atol=1e-9 * want.max())


@pytest.mark.gammapy
@pytest.mark.parametrize(("name", "pars"), CASES, ids=IDS)
def test_integrate_geom_matches_gammapy(gp, name, pars):
    """Mean over the oversampled sub-pixels matches; solid angles differ by ~1e-6.

    gammax's pixel solid angle is exact (spherical triangles); Gammapy's is an
    approximation, so the comparison divides each by its own solid angle.
    """
    from gammapy.maps import WcsGeom as GpWcsGeom

    g, x = _pair(gp, name, pars)
    args = {"skydir": (83.6, 22.0), "width": 4, "binsz": 0.1, "frame": "icrs"}
    g_geom, x_geom = GpWcsGeom.create(**args), WcsGeom.create(**args)
    factor = x.oversampling_factor(x_geom)
    want = g.integrate_geom(g_geom).quantity.to_value("") / g_geom.solid_angle().to_value("sr")
    got = x.integrate_geom(x_geom)
    assert got.dims == ("y", "x") and got.gx.geom == x_geom
    mean = got.values / x_geom.solid_angle().values
    # Gammapy is 0 outside its cutout of the evaluation radius; gammax evaluates there
    np.testing.assert_allclose(mean, want, rtol=1e-9, atol=1e-6 * want.max())
    np.testing.assert_allclose(
        got.values.sum(), (want * x_geom.solid_angle().values).sum(), rtol=1e-5
    )
    if name.startswith(("Disk", "GeneralizedGaussian")):
        assert factor > 1


@pytest.mark.gammapy
def test_point_source_weights_match_gammapy(gp):
    from gammapy.maps import WcsGeom as GpWcsGeom

    args = {"skydir": (83, 22), "npix": (30, 20), "binsz": 0.1, "frame": "icrs"}
    g_geom, x_geom = GpWcsGeom.create(**args), WcsGeom.create(**args)
    pars = {"lon_0": "184.55 deg", "lat_0": "-5.78 deg", "frame": "galactic"}
    g, x = gp.PointSpatialModel(**pars), xm.PointSpatialModel(**pars)
    got = x.integrate_geom(x_geom)
    np.testing.assert_allclose(got.values, g.integrate_geom(g_geom).data, atol=1e-12)
    assert got.values.sum() == pytest.approx(1.0)
    assert (got.values > 0).sum() == 4
    with pytest.raises(ConfigError, match="integrate_geom"):
        x(83.0, 22.0)
    g, x = gp.ConstantFluxSpatialModel(), xm.ConstantFluxSpatialModel()
    np.testing.assert_allclose(x.integrate_geom(x_geom).values, g.integrate_geom(g_geom).data)
    np.testing.assert_allclose(
        x.evaluate_geom(x_geom).values, g.evaluate_geom(g_geom).to_value("sr-1"), rtol=1e-5
    )


@pytest.mark.gammapy
def test_template_matches_gammapy(gp, tmp_path):
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GpMapAxis
    from gammapy.maps import WcsGeom as GpWcsGeom

    rng = np.random.default_rng(1)
    axis = GpMapAxis.from_energy_bounds("1 TeV", "100 TeV", 3, name="energy_true")
    geom = GpWcsGeom.create(skydir=(10, 1), npix=(30, 20), binsz=0.1, frame="galactic", axes=[axis])
    m = Map.from_geom(geom, data=rng.uniform(0.5, 2, geom.data_shape), unit="sr-1")
    m.data[0, 3, 4] = 0.0
    m.write(tmp_path / "tpl.fits")
    g = gp.TemplateSpatialModel(m, normalize=False, filename=str(tmp_path / "tpl.fits"))
    x = xm.TemplateSpatialModel.read(tmp_path / "tpl.fits", normalize=False)
    assert x.is_energy_dependent and x.frame == "galactic"
    lon = xr.DataArray(np.linspace(8.3, 11.7, 35), dims="lon", attrs={"units": "deg"})
    lat = xr.DataArray(np.linspace(-0.2, 2.2, 27), dims="lat", attrs={"units": "deg"})
    energy = xr.DataArray([1.5, 3.0, 20.0, 70.0, 200.0], dims="e", attrs={"units": "TeV"})
    got = x(lon, lat, energy=energy).transpose("lon", "lat", "e")
    grid = np.meshgrid(lon.values, lat.values, energy.values, indexing="ij")
    want = g(grid[0] * u.deg, grid[1] * u.deg, grid[2] * u.TeV).to_value("sr-1")
    np.testing.assert_allclose(got.values, want, rtol=1e-10, atol=1e-10 * want.max())
    # a shifted position shifts the map
    g.lon_0.value, x.lon_0.value = 10.3, 10.3
    want = g(grid[0] * u.deg, grid[1] * u.deg, grid[2] * u.TeV).to_value("sr-1")
    got = x(lon, lat, energy=energy).transpose("lon", "lat", "e")
    np.testing.assert_allclose(got.values, want, rtol=1e-10, atol=1e-10 * want.max())


def test_normalised_template_integrates_to_one_per_energy():
    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2, name="energy_true")
    geom = WcsGeom.create(skydir=(0, 0), npix=(12, 10), binsz=0.2, frame="galactic", axes=[axis])
    data = np.random.default_rng(3).uniform(0, 5, geom.shape)
    model = xm.TemplateSpatialModel(geom.wrap(data))
    assert model.unit == "sr-1" and model.lon_0.value == pytest.approx(0.0)
    integral = model.integrate_geom(geom)
    assert integral.dims == ("energy_true", "y", "x")
    np.testing.assert_allclose(integral.sum(("y", "x")).values, 1.0, rtol=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    lon0=st.floats(-1, 1),
    lat0=st.floats(-1, 1),
    size=st.floats(0.15, 0.6),
    e=st.floats(0.0, 0.7),
    phi=st.floats(-90, 90),
    kind=st.sampled_from(["gauss", "disk", "gengauss", "shell", "shell2"]),
)
def test_normalised_shapes_integrate_to_one(lon0, lat0, size, e, phi, kind):
    geom = WcsGeom.create(skydir=(0, 0), width=8, binsz=0.05, frame="galactic")
    pos = {"lon_0": lon0, "lat_0": lat0, "frame": "galactic"}
    model = {
        "gauss": lambda: xm.GaussianSpatialModel(sigma=size, e=e, phi=phi, **pos),
        "disk": lambda: xm.DiskSpatialModel(r_0=size, e=e, phi=phi, edge_width=0.05, **pos),
        "gengauss": lambda: xm.GeneralizedGaussianSpatialModel(
            r_0=size / 2, eta=0.5, e=e, phi=phi, **pos
        ),
        "shell": lambda: xm.ShellSpatialModel(radius=size, width=size / 3, **pos),
        "shell2": lambda: xm.Shell2SpatialModel(r_0=size, eta=0.4, **pos),
    }[kind]()
    total = float(model.integrate_geom(geom, oversampling_factor=8).sum())
    # elongated shapes are normalised in the flat-sky approximation (as Gammapy)
    assert total == pytest.approx(1.0, abs=3e-3)


def test_integrate_geom_is_lazy_per_chunk_and_equals_eager():
    geom = WcsGeom.create(skydir=(0, 0), npix=(40, 30), binsz=0.05, frame="galactic")
    model = xm.DiskSpatialModel(lon_0="0.1 deg", lat_0="0 deg", r_0="0.4 deg", frame="icrs")
    with raise_if_dask_computes():
        lazy = model.integrate_geom(geom, chunks={"y": 10, "x": 20})
        values = model.evaluate_geom(geom, chunks={"y": 10, "x": 20})
    assert isinstance(lazy.data, da.Array) and lazy.data.chunks == ((10, 10, 10), (20, 20))
    np.testing.assert_allclose(lazy.values, model.integrate_geom(geom).values, rtol=1e-14)
    np.testing.assert_allclose(values.values, model.evaluate_geom(geom).values, rtol=1e-14)
    # dask-backed coordinates
    lon = xr.DataArray(da.linspace(-1, 1, 50, chunks=10), dims="p", attrs={"units": "deg"})
    lat = xr.DataArray(da.zeros(50, chunks=10), dims="p", attrs={"units": "deg"})
    with raise_if_dask_computes():
        out = model(lon, lat, frame="galactic")
    np.testing.assert_allclose(
        out.values, model(lon.compute(), lat.compute(), frame="galactic").values, rtol=1e-14
    )


def test_parameter_values_do_not_mutate_and_change_the_integral():
    geom = WcsGeom.create(skydir=(0, 0), npix=(20, 20), binsz=0.1)
    model = xm.GaussianSpatialModel(sigma="0.1 deg")
    moved = model.integrate_geom(geom, values={"lon_0": 0.5})
    assert model.lon_0.value == 0.0
    ix = int(np.argmax(moved.values.max(axis=0)))
    lon = float(geom.pix_to_world(ix, 10)[0])
    assert abs(((lon + 180) % 360) - 180 - 0.5) < 0.06


def test_healpix_and_region_geometries():
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from gammax.geom import HpxGeom, RegionGeom

    hpx = HpxGeom.create(nside=16, frame="galactic")
    iso = xm.ConstantSpatialModel(value=1 / (4 * np.pi))
    assert float(iso.integrate_geom(hpx).sum()) == pytest.approx(1.0, rel=1e-12)
    gauss = xm.GaussianSpatialModel(lon_0="10 deg", lat_0="5 deg", sigma="3 deg", frame="galactic")
    assert float(gauss.integrate_geom(hpx).sum()) == pytest.approx(1.0, abs=1e-4)
    # fraction of a Gaussian within 2 sigma: 1 - exp(-2) (small-angle limit)
    region = CircleSkyRegion(SkyCoord(10, 5, unit="deg", frame="galactic"), 0.2 * u.deg)
    narrow = xm.GaussianSpatialModel(
        lon_0="10 deg", lat_0="5 deg", sigma="0.1 deg", frame="galactic"
    )
    fraction = narrow.integrate_geom(RegionGeom.create(region))
    assert fraction.dims == ()
    assert float(fraction) == pytest.approx(1 - np.exp(-2), abs=5e-3)
