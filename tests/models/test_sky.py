"""Sky and background models against Gammapy; laziness of whole-map evaluation."""

from __future__ import annotations

import astropy.units as u
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy.time import Time

import gammax.models as xm
from gammax.errors import ConfigError, UnitError
from gammax.geom import MapAxis, WcsGeom
from gammax.testing import raise_if_dask_computes


def _crab(mod, **kwargs):
    return mod.SkyModel(
        spectral_model=mod.LogParabolaSpectralModel(
            alpha=2.4, beta=0.1, reference="1 TeV", amplitude="3e-11 cm-2 s-1 TeV-1"
        ),
        spatial_model=mod.GaussianSpatialModel(
            lon_0="83.63 deg", lat_0="22.01 deg", sigma="0.15 deg", frame="icrs"
        ),
        name="crab",
        **kwargs,
    )


def _geoms():
    from gammapy.maps import MapAxis as GpMapAxis
    from gammapy.maps import WcsGeom as GpWcsGeom

    args = {"skydir": (184.56, -5.78), "width": 2, "binsz": 0.05, "frame": "galactic"}
    g_axis = GpMapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6, name="energy_true")
    x_axis = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6, name="energy_true")
    return GpWcsGeom.create(axes=[g_axis], **args), WcsGeom.create(axes=[x_axis], **args)


@pytest.mark.gammapy
def test_sky_model_evaluate_and_integrate_match_gammapy(gp):
    g, x = _crab(gp), _crab(xm)
    lon = xr.DataArray(np.linspace(83.0, 84.2, 7), dims="p", attrs={"units": "deg"})
    lat = xr.DataArray(np.linspace(21.5, 22.5, 7), dims="p", attrs={"units": "deg"})
    energy = xr.DataArray([0.7, 3.0, 20.0], dims="energy_true", attrs={"units": "TeV"})
    got = x.evaluate(energy, lon, lat)
    assert u.Unit(got.attrs["units"]) == u.Unit("cm-2 s-1 TeV-1 sr-1")
    want = g.evaluate(lon.values * u.deg, lat.values * u.deg, energy.values[:, None] * u.TeV)
    np.testing.assert_allclose(
        got.transpose("energy_true", "p").values, want.to_value("cm-2 s-1 TeV-1 sr-1"), rtol=1e-10
    )
    g_geom, x_geom = _geoms()
    flux = x.integrate_geom(x_geom)
    assert flux.dims == ("energy_true", "y", "x") and flux.gx.geom == x_geom
    assert u.Unit(flux.attrs["units"]) == u.Unit("cm-2 s-1")
    want = g.integrate_geom(g_geom).quantity.to_value("cm-2 s-1")
    # per-pixel solid angles differ by ~1e-6 between gammax (exact) and Gammapy, and
    # Gammapy sets pixels beyond 5 sigma (outside its cutout) to 0
    ratio = g_geom.solid_angle().to_value("sr") / x_geom.solid_angle().values
    np.testing.assert_allclose(flux.values * ratio, want, rtol=1e-9, atol=1e-5 * want.max())
    dnde = x.evaluate_geom(x_geom)
    np.testing.assert_allclose(
        dnde.values,
        g.evaluate_geom(g_geom).to_value(dnde.attrs["units"]),
        rtol=1e-9,
        atol=1e-9 * dnde.values.max(),
    )


@pytest.mark.gammapy
def test_temporal_factor_over_gtis_matches_gammapy(gp):
    from gammapy.data import GTI

    temporal = {"t0": "2 d", "t_ref": "55000 d"}
    g = _crab(gp, temporal_model=gp.ExpDecayTemporalModel(**temporal))
    x = _crab(xm, temporal_model=xm.ExpDecayTemporalModel(**temporal))
    start = Time([55000.5, 55002.0], format="mjd")
    stop = Time([55001.0, 55003.5], format="mjd")
    g_geom, x_geom = _geoms()
    want = g.integrate_geom(g_geom, gti=GTI.create(start, stop)).quantity.to_value("cm-2 s-1")
    got = x.integrate_geom(x_geom, gti=(start, stop))
    ratio = g_geom.solid_angle().to_value("sr") / x_geom.solid_angle().values
    np.testing.assert_allclose(got.values * ratio, want, rtol=1e-9, atol=1e-5 * want.max())


@pytest.mark.gammapy
def test_fov_background_matches_gammapy(gp):
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GpMapAxis
    from gammapy.maps import WcsGeom as GpWcsGeom

    args = {"skydir": (0, 0), "npix": (8, 6), "binsz": 0.2, "frame": "galactic"}
    g_geom = GpWcsGeom.create(axes=[GpMapAxis.from_energy_bounds("1 TeV", "10 TeV", 4)], **args)
    x_geom = WcsGeom.create(axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 4)], **args)
    data = np.random.default_rng(0).uniform(1, 2, x_geom.shape)
    g = gp.FoVBackgroundModel(
        dataset_name="d1", spectral_model=gp.PowerLawNormSpectralModel(norm=1.3, tilt=0.2)
    )
    x = xm.FoVBackgroundModel("d1", xm.PowerLawNormSpectralModel(norm=1.3, tilt=0.2))
    assert x.name == "d1-bkg" and x.parameter_keys()[1] == "d1-bkg.spectral.norm"
    want = data * g.evaluate_geom(g_geom)
    bkg = x_geom.wrap(data, unit="")
    np.testing.assert_allclose(x.apply(bkg).values, want, rtol=1e-12)
    # a template predicted-counts model does the same with its own map
    t_map = Map.from_geom(g_geom, data=data)
    g_t = gp.TemplateNPredModel(t_map, spectral_model=gp.PowerLawNormSpectralModel(tilt=0.3))
    x_t = xm.TemplateNPredModel(bkg, xm.PowerLawNormSpectralModel(tilt=0.3), name="t")
    np.testing.assert_allclose(x_t.evaluate().values, g_t.evaluate().data, rtol=1e-12)
    np.testing.assert_allclose(
        x_t.evaluate(values={"t.spectral.norm": 2.0}).values, 2 * g_t.evaluate().data, rtol=1e-12
    )


def test_background_apply_is_lazy():
    geom = WcsGeom.create(
        npix=(8, 6), binsz=0.2, axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 4)]
    )
    bkg = geom.empty(chunks={"energy": 2}, fill_value=1.0)
    model = xm.FoVBackgroundModel("d1", xm.PowerLawNormSpectralModel(tilt=0.5))
    with raise_if_dask_computes():
        out = model.apply(bkg, values={"d1-bkg.spectral.norm": 3.0})
    assert isinstance(out.data, da.Array) and out.gx.geom == geom
    np.testing.assert_allclose(out.values[:, 0, 0], 3 * geom.axis("energy").center ** -0.5)


def test_sky_model_integrate_geom_lazy_and_values_keys():
    x_axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3, name="energy_true")
    geom = WcsGeom.create(skydir=(83.63, 22.01), npix=(20, 16), binsz=0.05, axes=[x_axis])
    model = _crab(xm)
    with raise_if_dask_computes():
        lazy = model.integrate_geom(
            geom, chunks={"y": 8, "x": 10}, values={"crab.spectral.alpha": 2.0}
        )
    eager = model.integrate_geom(geom, values={"crab.spectral.alpha": 2.0})
    np.testing.assert_allclose(lazy.values, eager.values, rtol=1e-14)
    assert model.spectral_model.alpha.value == 2.4
    other = model.integrate_geom(geom)
    assert not np.allclose(other.values, eager.values, rtol=1e-3, atol=0)


def test_sky_model_checks():
    with pytest.raises(UnitError, match="not equivalent"):
        xm.SkyModel(xm.PowerLawNormSpectralModel(), name="x")
    with pytest.raises(TypeError, match="spatial_model"):
        xm.SkyModel(xm.PowerLawSpectralModel(), xm.PowerLawSpectralModel())
    with pytest.raises(ConfigError, match="norm spectral model"):
        xm.FoVBackgroundModel("d", xm.PowerLawSpectralModel())
    model = _crab(xm)
    with pytest.raises(ConfigError, match="pass lon and lat"):
        model.evaluate(1.0)
    with pytest.raises(ConfigError, match="one FoVBackgroundModel"):
        xm.Models([xm.FoVBackgroundModel("d"), xm.FoVBackgroundModel("d", name="other")])
