"""Tables Gammapy reads back with the same values, Zarr round trips, and the figures."""

from __future__ import annotations

import astropy.units as u
import matplotlib
import numpy as np
import pytest
import xarray as xr

from gammax.errors import ConfigError
from gammax.estimators.core import sed_quantity
from gammax.estimators.flux_points import FluxPointsEstimator
from gammax.estimators.io import (
    read_flux_points,
    read_light_curve,
    write_flux_points,
    write_light_curve,
)
from gammax.estimators.plot import model_sed_band, plot_light_curve, plot_sed

from .test_flux_points import EDGES_1D

matplotlib.use("Agg")

pytestmark = [pytest.mark.data]


@pytest.fixture(scope="module")
def fp(joint_hess):
    datasets, models = joint_hess
    return FluxPointsEstimator(EDGES_1D, "crab", selection_optional="all").run(datasets, models)


@pytest.mark.gammapy
@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
@pytest.mark.parametrize("sed_type", ["likelihood", "e2dnde", "flux"])
def test_gammapy_reads_flux_points(fp, tmp_path, suffix, sed_type):
    from gammapy.estimators import FluxPoints

    path = write_flux_points(fp, tmp_path / f"fp{suffix}", sed_type=sed_type)
    with pytest.raises(FileExistsError):
        write_flux_points(fp, path, sed_type=sed_type)
    theirs = FluxPoints.read(path)
    assert theirs.sed_type_init == sed_type
    np.testing.assert_allclose(theirs.energy_min.to_value("TeV"), fp.energy_min.values)
    np.testing.assert_allclose(theirs.energy_max.to_value("TeV"), fp.energy_max.values)
    quantity = "norm" if sed_type == "likelihood" else sed_type
    unit = {"e2dnde": "erg cm-2 s-1", "flux": "cm-2 s-1", "likelihood": ""}[sed_type]
    for suffix_q in ("", "_errn", "_errp", "_ul"):
        name = f"{quantity}{suffix_q}"
        got = getattr(theirs, name).quantity.to_value(unit).ravel()
        np.testing.assert_allclose(got, sed_quantity(fp, name).values, rtol=1e-10)
    np.testing.assert_allclose(theirs.ts.data.ravel(), fp.ts.values, rtol=1e-12)
    np.testing.assert_array_equal(theirs.is_ul.data.ravel(), fp.is_ul.values)
    np.testing.assert_array_equal(theirs.counts.data[..., 0, 0], fp.counts.values)
    # and gammax reads its own files back
    back = read_flux_points(path)
    for name in back.data_vars:
        if name in fp:
            np.testing.assert_allclose(back[name].values, fp[name].values, rtol=1e-12)
    if sed_type == "likelihood":
        np.testing.assert_allclose(back.stat_scan.values, fp.stat_scan.values)


@pytest.mark.gammapy
@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
def test_gammapy_reads_light_curves(light_curve, tmp_path, suffix):
    from gammapy.estimators import FluxPoints

    path = write_light_curve(light_curve, tmp_path / f"lc{suffix}", sed_type="flux")
    theirs = FluxPoints.read(path, format="lightcurve")
    axis = theirs.geom.axes["time"]
    np.testing.assert_allclose(axis.time_min.tt.mjd, light_curve.time_min.values, atol=1e-9)
    np.testing.assert_allclose(axis.time_max.tt.mjd, light_curve.time_max.values, atol=1e-9)
    got = theirs.flux.quantity.to_value("cm-2 s-1").squeeze()
    want = (light_curve.norm * light_curve.ref_flux).values.squeeze()
    np.testing.assert_allclose(got, want, rtol=1e-10)
    got_ul = theirs.flux_ul.quantity.to_value("cm-2 s-1").squeeze()
    np.testing.assert_allclose(
        got_ul, (light_curve.norm_ul * light_curve.ref_flux).values.squeeze()
    )
    back = read_light_curve(path)
    np.testing.assert_allclose(back.time_min.values, light_curve.time_min.values, atol=1e-9)
    np.testing.assert_allclose(back.flux.values, want.reshape(back.flux.shape), rtol=1e-12)


def test_bad_table_requests(fp, light_curve, tmp_path):
    with pytest.raises(ConfigError, match="suffix"):
        write_flux_points(fp, tmp_path / "fp.txt")
    with pytest.raises(ConfigError, match="lightcurve"):
        write_flux_points(light_curve, tmp_path / "lc.fits", format="gadf-sed")
    with pytest.raises(ConfigError, match="sed_type"):
        write_flux_points(fp, tmp_path / "fp.fits", sed_type="counts")
    with pytest.raises(FileNotFoundError):
        read_flux_points(tmp_path / "missing.fits")


@pytest.mark.parametrize("which", ["fp", "lc"])
def test_zarr_round_trip(fp, light_curve, tmp_path, which):
    ds = fp if which == "fp" else light_curve
    ds.to_zarr(tmp_path / "r.zarr", mode="w", consolidated=False)
    back = xr.open_zarr(tmp_path / "r.zarr", consolidated=False).load()
    xr.testing.assert_identical(back, ds)
    assert back.attrs["reference_model"] == ds.attrs["reference_model"]


def test_model_band_matches_sampling(fp):
    """Linear propagation of the covariance against parameter sampling (independent)."""
    from gammax.estimators.core import read_reference_model

    model = read_reference_model(fp).spectral_model
    names = fp.attrs["reference_covariance_names"]
    cov = np.asarray(fp.attrs["reference_covariance"])
    energy = np.geomspace(0.5, 40, 7)
    best, sigma = model_sed_band(model, energy, "TeV", "e2dnde", cov, names)
    rng = np.random.default_rng(1)
    mean = [model.parameters[n].value for n in names]
    samples = rng.multivariate_normal(mean, cov, size=4000)
    params = {p.name: p.value for p in model.parameters}
    params.update({n: samples[:, i][:, None] for i, n in enumerate(names)})
    assert u.Unit(model.amplitude.unit) == u.Unit("cm-2 s-1 TeV-1")
    curves = type(model).evaluate(energy[None, :], **params) * energy**2 * u.TeV.to("erg")
    np.testing.assert_allclose(sigma, np.std(curves, axis=0), rtol=0.06)
    np.testing.assert_allclose(best, np.median(curves, axis=0), rtol=0.02)


def test_sed_figure_has_points_limits_model_and_band(fp, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.container import ErrorbarContainer

    ax = plot_sed(fp, sed_type="e2dnde")
    path = tmp_path / "sed.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2  # points and upper limits
    points, limits = bars
    n_ul = int(fp.is_ul.sum())
    assert 0 < n_ul < fp.sizes["energy"]
    assert len(points.lines[0].get_xdata()) == fp.sizes["energy"] - n_ul
    # upper limits: arrow caps at the UL values
    caps = limits.lines[1]
    assert any(c.get_marker() == matplotlib.lines.CARETDOWNBASE for c in caps)
    ul = (fp.norm_ul * fp.ref_e2dnde).values[fp.is_ul.values]
    vertical = limits.lines[2][-1].get_segments()  # the y error bars, from UL/2 up to UL
    np.testing.assert_allclose([seg[:, 1].max() for seg in vertical], ul)
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the band
    assert "flux points model" in [line.get_label() for line in ax.get_lines()]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    plt.close(ax.figure)


def test_light_curve_figure(light_curve, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.container import ErrorbarContainer

    ax = plot_light_curve(light_curve, sed_type="flux")
    ax.figure.savefig(tmp_path / "lc.png")
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    y = bars[0].lines[0].get_ydata()
    np.testing.assert_allclose(y, (light_curve.norm * light_curve.ref_flux).values[:, 0])
    assert "MJD" in ax.get_xlabel()
    plt.close(ax.figure)
