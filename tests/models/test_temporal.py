"""Temporal models: values against Gammapy, exact integrals, time inputs, laziness."""

from __future__ import annotations

import astropy.units as u
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy.table import Table
from astropy.time import Time
from scipy.integrate import quad

import gammax.models as xm
from gammax.testing import raise_if_dask_computes

T0 = 59000.0
CASES = [
    ("ConstantTemporalModel", {}),
    ("LinearTemporalModel", {"alpha": 1.0, "beta": "0.3 d-1", "t_ref": f"{T0} d"}),
    ("ExpDecayTemporalModel", {"t0": "2.5 d", "t_ref": f"{T0} d"}),
    ("GaussianTemporalModel", {"t_ref": f"{T0 + 1} d", "sigma": "0.7 d"}),
    (
        "GeneralizedGaussianTemporalModel",
        {"t_ref": f"{T0 + 1} d", "t_rise": "0.5 d", "t_decay": "2 d", "eta": 0.7},
    ),
    ("PowerLawTemporalModel", {"alpha": -1.3, "t_ref": f"{T0 - 1} d", "t0": "0.5 d"}),
    ("PowerLawTemporalModel", {"alpha": -1.0, "t_ref": f"{T0 - 1} d"}),
    ("SineTemporalModel", {"amp": 0.4, "omega": "2 rad / d", "t_ref": f"{T0} d"}),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def _pair(gp, name, pars):
    g = getattr(gp, name)(**pars)
    x = getattr(xm, name)(**pars)
    return g, x


@pytest.mark.gammapy
@pytest.mark.parametrize(("name", "pars"), CASES, ids=IDS)
def test_values_match_gammapy(gp, name, pars):
    g, x = _pair(gp, name, pars)
    times = Time(T0 + np.linspace(0.05, 5, 40), format="mjd", scale="utc")
    got = x(times)
    assert got.dims == ("time",) and got.attrs["units"] == ""
    np.testing.assert_allclose(got.values, u.Quantity(g(times)).to_value(""), rtol=1e-12)
    # the same times in TT give the same values (converted to the model's UTC)
    np.testing.assert_allclose(x(times.tt).values, got.values, rtol=1e-12)


@pytest.mark.gammapy
@pytest.mark.parametrize(("name", "pars"), CASES, ids=IDS)
def test_integrals_are_exact(gp, name, pars):
    """Per-interval integrals against quadrature of Gammapy's model; and Gammapy's mean."""
    g, x = _pair(gp, name, pars)
    t_min = Time(T0 + np.array([0.1, 0.9, 2.0]), format="mjd")
    t_max = Time(T0 + np.array([0.6, 1.7, 4.5]), format="mjd")
    got = x.integral(t_min, t_max)
    assert got.attrs["units"] == "d"

    def f(t):
        return float(np.squeeze(u.Quantity(g(Time(t, format="mjd"))).to_value("")))

    want = [
        quad(f, a, b, epsrel=1e-11, limit=200)[0] for a, b in zip(t_min.mjd, t_max.mjd, strict=True)
    ]
    np.testing.assert_allclose(got.values, want, rtol=1e-9)
    if name not in ("SineTemporalModel", "GeneralizedGaussianTemporalModel"):
        # Gammapy divides by the summed duration of all intervals; its Sine integral
        # uses sin instead of cos, its generalised Gaussian uses 100-point sums.
        total = (t_max - t_min).to_value("d").sum()
        np.testing.assert_allclose(
            got.values / total, u.Quantity(g.integral(t_min, t_max)).to_value(""), rtol=1e-10
        )


@pytest.mark.gammapy
def test_light_curve_template_matches_gammapy(gp, tmp_path):
    table = Table({"TIME": [0.0, 1.0, 2.0, 4.0] * u.d, "NORM": [1.0, 3.0, 0.5, 3.0]})
    table.meta.update({"MJDREFI": 55000, "MJDREFF": 0.5, "TIMESYS": "tt", "TIMEUNIT": "d"})
    table.write(tmp_path / "lc.fits")
    g = gp.LightCurveTemplateTemporalModel.read(str(tmp_path / "lc.fits"))
    x = xm.LightCurveTemplateTemporalModel.read(tmp_path / "lc.fits")
    assert x.t_ref.value == pytest.approx(g.t_ref.value, abs=1e-12)
    times = Time(55000.5 + np.linspace(-1.5, 6, 61), format="mjd", scale="tt")
    np.testing.assert_allclose(x(times).values, g(times).to_value(""), rtol=1e-9, atol=1e-12)

    def f(t):
        return float(np.squeeze(g(Time(t, format="mjd", scale="tt")).to_value("")))

    t_min = Time([55000.0, 55001.2, 55003.5], format="mjd", scale="tt")
    t_max = Time([55001.0, 55002.9, 55006.0], format="mjd", scale="tt")
    want = [
        quad(f, a, b, epsrel=1e-12, points=55000.5 + np.arange(-1, 7), limit=100)[0]
        for a, b in zip(t_min.mjd, t_max.mjd, strict=True)
    ]
    np.testing.assert_allclose(x.integral(t_min, t_max).values, want, rtol=1e-6)
    # write and read back
    x.write(tmp_path / "lc2.fits")
    back = xm.LightCurveTemplateTemporalModel.read(tmp_path / "lc2.fits")
    np.testing.assert_allclose(back(times).values, x(times).values, rtol=1e-12)


def test_time_inputs_agree():
    model = xm.GaussianTemporalModel(t_ref=T0 + 1.0, sigma="0.5 d")
    times = Time(T0 + np.array([0.5, 1.0, 1.7]), format="mjd", scale="utc")
    ref = model(times).values
    # gammax event/GTI times: seconds since an epoch in TT
    epoch = Time(T0, format="mjd", scale="tt")
    seconds = (times.tt - epoch).to_value("s")
    as_seconds = xr.DataArray(
        seconds, dims="time", attrs={"units": "s", "mjdref": T0, "timesys": "tt"}
    )
    np.testing.assert_allclose(model(as_seconds).values, ref, rtol=1e-9)
    as_mjd = xr.DataArray(times.mjd, dims="time", attrs={"units": "d", "timesys": "utc"})
    np.testing.assert_allclose(model(as_mjd).values, ref, rtol=1e-12)
    as_dt64 = xr.DataArray(times.datetime64, dims="time")
    np.testing.assert_allclose(model(as_dt64).values, ref, rtol=1e-9)
    with pytest.raises(TypeError, match="astropy Time"):
        model([1.0, 2.0])


def test_lazy_time_evaluation_equals_eager():
    model = xm.ExpDecayTemporalModel(t_ref=T0)
    attrs = {"units": "s", "mjdref": T0, "timesys": "utc"}
    seconds = xr.DataArray(da.linspace(0, 5 * 86400, 21, chunks=5), dims="t", attrs=attrs)
    starts = xr.DataArray(seconds.data[:-1], dims="gti", attrs=attrs)
    stops = xr.DataArray(seconds.data[1:], dims="gti", attrs=attrs)
    with raise_if_dask_computes():
        out = model(seconds)
        integral = model.integral(starts, stops)
    assert isinstance(out.data, da.Array) and isinstance(integral.data, da.Array)
    np.testing.assert_array_equal(out.values, model(seconds.compute()).values)
    np.testing.assert_array_equal(
        integral.values, model.integral(starts.compute(), stops.compute()).values
    )
    # MJD floats near 59000 carry ~1e-11 d rounding, hence 1e-10
    np.testing.assert_allclose(out.values, np.exp(-np.linspace(0, 5, 21)), rtol=1e-10)
    np.testing.assert_allclose(integral.values.sum(), 1 - np.exp(-5.0), rtol=1e-10)
