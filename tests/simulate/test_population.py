"""Synthetic skies and observation plans."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

import gammax.simulate as gs
from gammax.models import (
    DiskSpatialModel,
    GaussianSpatialModel,
    PointSpatialModel,
    models_from_dict,
)
from gammax.simulate._sphere import separation


def test_population():
    kwargs = {
        "seed": 4,
        "lon_range": (-60, 60),
        "extended_fraction": 0.4,
        "flux_range": (0.01, 1.0),
        "alpha": 1.0,
    }
    models = gs.galactic_population(2000, **kwargs)
    assert len(models) == 2000
    assert len(set(models.names)) == 2000
    lon = np.array([m.spatial_model.lon_0.value for m in models])
    lat = np.array([m.spatial_model.lat_0.value for m in models])
    assert np.all((lon <= 60) | (lon >= 300))
    assert np.std(lat) == pytest.approx(0.5, rel=0.1)
    kinds = [type(m.spatial_model) for m in models]
    n_point = kinds.count(PointSpatialModel)
    assert n_point == pytest.approx(1200, abs=120)
    assert kinds.count(DiskSpatialModel) + kinds.count(GaussianSpatialModel) == 2000 - n_point
    # integral fluxes above 1 TeV follow N(>S) ~ S^-1 between 0.01 and 1 Crab
    index = np.array([m.spectral_model.index.value for m in models])
    amplitude = np.array([m.spectral_model.amplitude.value for m in models])
    flux = amplitude / (index - 1) / gs.CRAB_FLUX_1TEV  # integral above 1 TeV
    assert flux.min() >= 0.01 * 0.999 and flux.max() <= 1.0 * 1.001
    assert np.all(np.diff(flux) <= 0)  # brightest first
    above = np.array([(flux > s).sum() for s in (0.02, 0.2)])
    # N(>S) = (1/S - 1) / (1/0.01 - 1) of the sources
    assert above[0] / above[1] == pytest.approx((1 / 0.02 - 1) / (1 / 0.2 - 1), rel=0.2)
    assert np.mean(index) == pytest.approx(2.4, abs=0.02)
    # the same seed, the same sky; the YAML form reads back
    assert (
        gs.galactic_population(50, **kwargs).to_dict()
        == models_from_dict(gs.galactic_population(50, **kwargs).to_dict()).to_dict()
    )
    assert (
        gs.galactic_population(50, **kwargs).to_dict()
        != gs.galactic_population(50, **{**kwargs, "seed": 5}).to_dict()
    )


def test_diffuse():
    model = gs.galactic_diffuse(lon_range=(-20, 20), binsz=0.2, flux_crab=3.0, index=2.5)
    flux = float(model.spectral_model.integral(1 * u.TeV, 1e6 * u.TeV))
    assert flux == pytest.approx(3.0 * gs.CRAB_FLUX_1TEV, rel=1e-6)
    template = model.spatial_model
    assert template.frame == "galactic"
    inner = float(template(0.0, 0.0))
    assert inner > float(template(0.0, 2.0)) > float(template(0.0, 4.0))
    assert inner > float(template(15.0, 0.0))


def test_galactic_plane_pointings():
    specs = gs.galactic_plane_pointings(
        30,
        lon_range=(-30, 30),
        lat_values=(-1.0, 0.0, 1.0),
        ontime=1200.0,
        first_obs_id=100,
        per_night=8,
    )
    assert [s.obs_id for s in specs] == list(range(100, 130))
    gal = SkyCoord([s.ra_pnt for s in specs], [s.dec_pnt for s in specs], unit="deg").galactic
    np.testing.assert_allclose(np.sort(np.unique(np.round(gal.b.deg, 6))), [-1, 0, 1], atol=1e-6)
    lon = gal.l.wrap_at("180d").deg
    assert lon.min() > -30 and lon.max() < 30
    starts = np.array([s.tstart for s in specs])
    assert np.all(np.diff(starts) >= 1200.0)
    assert (starts[8] - starts[0]) == pytest.approx(86400.0)
    assert all(s.livetime == pytest.approx(0.95 * 1200.0) for s in specs)


def test_wobble_pointings():
    specs = gs.wobble_pointings((83.63, 22.01), 8, offset=0.7)
    sep = separation([s.ra_pnt for s in specs], [s.dec_pnt for s in specs], 83.63, 22.01)
    np.testing.assert_allclose(sep, 0.7, rtol=1e-9)
    assert specs[0].dec_pnt == pytest.approx(22.71)


def test_observation_spec():
    spec = gs.ObservationSpec.create(
        5,
        SkyCoord(0, 0, unit="deg", frame="galactic"),
        "2030-01-01T00:00:00",
        30 * u.min,
        deadc=0.9,
    )
    assert spec.ontime == 1800.0 and spec.livetime == 1620.0
    assert spec.start_time().isot == "2030-01-01T00:00:00.000"
    assert spec.replace(ontime=60.0).tstop == spec.tstart + 60.0
    with pytest.raises(ValueError, match="deadc"):
        gs.ObservationSpec(1, 0, 0, 0, 10, deadc=0)
    with pytest.raises(ValueError, match="GTIs"):
        gs.ObservationSpec(1, 0, 0, 0, 10, gti=((5.0, 1.0),))


_MODULES = [
    "gammax.simulate",
    *(f"gammax.simulate.{m.name}" for m in pkgutil.iter_modules(gs.__path__)),
]


@pytest.mark.parametrize("name", _MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
