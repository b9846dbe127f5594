"""The event sampler is statistically right, and reproducible.

Statistical tests compare histograms of drawn events with expectations computed
independently with :mod:`gammax.irf` and :mod:`gammax.models`; they pass when the
chi2 p-value exceeds ``P_MIN``. Seeds are fixed, so the tests are deterministic;
the threshold says how far from the expectation a result may be.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy import units as u
from scipy import stats

import gammax.simulate as gs
from gammax import irf as girf
from gammax.errors import ConfigError
from gammax.models import (
    ExpDecayTemporalModel,
    FoVBackgroundModel,
    Models,
    PowerLawNormSpectralModel,
    TemplateNPredModel,
)
from gammax.reduce.fov import sky_to_fov
from gammax.simulate._sphere import fov_to_sky, power_law_sample, separation

from .conftest import CRAB, crab_model, gauss_model

#: Smallest accepted chi2 p-value.
P_MIN = 1e-3

SPEC = gs.ObservationSpec(1, CRAB[0], CRAB[1] - 0.5, tstart=1.0e8, ontime=7200.0, deadc=0.9)


def chi2_pvalue(observed, expected, min_expected=5.0):
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    ok = expected >= min_expected
    chi2 = float((((observed - expected) ** 2) / expected)[ok].sum())
    return stats.chi2.sf(chi2, int(ok.sum()) - 1), chi2, int(ok.sum())


def da(values, dim, unit):
    return xr.DataArray(np.asarray(values, float), dims=dim, attrs={"units": unit})


@pytest.fixture(scope="module")
def bright(tables):
    """About 120k events of a bright point source 0.5 deg from the pointing."""
    model = crab_model("3e-10 cm-2 s-1 TeV-1")
    events = gs.sample_events(SPEC, tables, [model], seed=11, background=False, true_columns=True)
    return model, events


def expected_true_counts(instrument, model, fine_edges, offset, livetime):
    centers = np.sqrt(fine_edges[1:] * fine_edges[:-1])
    area = girf.evaluate_aeff(
        instrument.aeff, da(centers, "energy_true", "TeV"), offset, extrapolate="fill"
    ).values
    flux = model.spectral_model.integral(fine_edges[:-1] * u.TeV, fine_edges[1:] * u.TeV)
    return centers, np.asarray(flux.values) * 1e4 * area * livetime  # cm-2 -> m-2


def test_true_energy_spectrum(instrument, bright):
    """Histogram of true energies vs flux x effective area x live time."""
    model, events = bright
    fine = np.geomspace(0.01, 300.0, 4501)
    centers, mu = expected_true_counts(instrument, model, fine, 0.5, SPEC.livetime)
    assert events.attrs["npred"]["crab"] == pytest.approx(mu.sum(), rel=2e-3)
    edges = np.geomspace(0.03, 100.0, 31)
    expected, _ = np.histogram(centers, edges, weights=mu)
    observed, _ = np.histogram(events["ENERGY_TRUE"].values, edges)
    p, chi2, n = chi2_pvalue(observed, expected)
    assert p > P_MIN, (chi2, n)


def test_reco_energy_spectrum(instrument, bright):
    """Reconstructed energies vs the true spectrum folded with the dispersion kernel."""
    model, events = bright
    fine = np.geomspace(0.01, 300.0, 4501)
    centers, mu = expected_true_counts(instrument, model, fine, 0.5, SPEC.livetime)
    edges = np.geomspace(0.03, 100.0, 31)
    kernel = girf.edisp_kernel(instrument.edisp, da(centers, "energy_true", "TeV"), edges, 0.5)
    expected = (kernel.transpose("energy_true", "energy").values * mu[:, None]).sum(axis=0)
    observed, _ = np.histogram(events["ENERGY"].values, edges)
    p, chi2, n = chi2_pvalue(observed, expected)
    assert p > P_MIN, (chi2, n)
    # the dispersion moved events: reco and true energies differ by about the resolution
    ratio = events["ENERGY"].values / events["ENERGY_TRUE"].values
    assert 0.05 < np.std(ratio) < 0.2


def assert_psf_distribution(events, psf, r_max: float) -> None:
    """Distances of the events from the Crab follow the PSF containment at each true energy."""
    rad = separation(events["RA"].values, events["DEC"].values, *CRAB)
    edges = np.array([0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.6, r_max])
    cont = girf.psf_containment(
        psf,
        da(edges, "edge", "deg"),
        da(events["ENERGY_TRUE"].values, "event", "TeV"),
        0.5,
        extrapolate="clip",
    )
    expected = np.diff(cont.transpose("event", "edge").values, axis=1).sum(axis=0)
    observed, _ = np.histogram(rad, edges)
    p, chi2, n = chi2_pvalue(observed, expected)
    assert p > P_MIN, (chi2, n)


def test_psf_containment(instrument, bright):
    """Angular distances from the source vs the PSF containment at each event's energy."""
    _, events = bright
    assert_psf_distribution(events, instrument.psf, r_max=3)
    # and the true positions are the source position
    np.testing.assert_allclose(events["RA_TRUE"].values, CRAB[0])


def test_background_matches_irf(instrument, tables):
    """Background: total rate = IRF integral (1 %), offsets and energies by chi2."""
    spec = SPEC.replace(ontime=36000.0)
    events = gs.sample_events(spec, tables, None, seed=5)
    assert set(np.unique(events["MC_ID"].values)) == {0}
    grid = np.linspace(-6, 6, 241)
    c = 0.5 * (grid[1:] + grid[:-1])
    lon = xr.DataArray(
        np.broadcast_to(c[:, None], (240, 240)), dims=("a", "b"), attrs={"units": "deg"}
    )
    lat = xr.DataArray(
        np.broadcast_to(c[None, :], (240, 240)), dims=("a", "b"), attrs={"units": "deg"}
    )
    omega = np.radians(0.05) * np.diff(np.sin(np.radians(grid)))[None, :] * np.ones((240, 1))
    e_edges = np.geomspace(0.01, 300, 46)
    rate = girf.integrate_background(instrument.bkg, e_edges, lon, lat, extrapolate="fill")
    # GADF background rates are per observation time (ONTIME), not live time
    counts = rate.transpose("energy", "a", "b").values * omega[None] * spec.ontime
    assert events.attrs["npred"]["background"] == pytest.approx(counts.sum(), rel=0.01)
    n = events.sizes["event"]
    assert abs(n - counts.sum()) < 5 * np.sqrt(counts.sum()) + 0.01 * counts.sum()

    fov_lon, fov_lat = sky_to_fov(events["RA"].values, events["DEC"].values, *spec.pointing)
    offset_edges = np.arange(0, 6.5, 0.5)
    observed, _ = np.histogram(np.hypot(fov_lon, fov_lat), offset_edges)
    expected, _ = np.histogram(
        np.hypot(lon, lat).values.ravel(), offset_edges, weights=counts.sum(axis=0).ravel()
    )
    p, chi2, k = chi2_pvalue(observed, expected * n / counts.sum())
    assert p > P_MIN, (chi2, k)
    observed, _ = np.histogram(events["ENERGY"].values, e_edges[::3])
    expected = np.add.reduceat(counts.sum(axis=(1, 2)), np.arange(0, 45, 3))
    p, chi2, k = chi2_pvalue(observed, expected * n / counts.sum())
    assert p > P_MIN, (chi2, k)


def test_extended_source(instrument, tables):
    """A Gaussian source: expected counts and radial profile of its true positions."""
    from gammax.geom import MapAxis, WcsGeom

    model = gauss_model(position=(CRAB[0], CRAB[1] + 0.5), sigma=0.3)
    spec = SPEC.replace(ontime=20000.0)
    events = gs.sample_events(spec, tables, [model], seed=3, background=False, true_columns=True)
    # independent expectation: model flux per pixel x exposure at the pixel (reduction's way)
    axis = MapAxis.from_energy_bounds("0.01 TeV", "300 TeV", 90, name="energy_true")
    geom = WcsGeom.create(
        skydir=(CRAB[0], CRAB[1] + 0.5), width=3.5, binsz=0.02, proj="TAN", axes=[axis]
    )
    flux = model.integrate_geom(geom).values * 1e4  # m-2 s-1
    coords = geom.to_image().get_coord()
    offset = separation(coords["lon"].values, coords["lat"].values, *spec.pointing)
    area = girf.evaluate_aeff(
        instrument.aeff,
        da(axis.center, "energy_true", "TeV"),
        da(offset, ("y", "x"), "deg"),
        extrapolate="fill",
    )
    mu = flux * area.transpose("energy_true", "y", "x").values * spec.livetime
    assert events.attrs["npred"]["blob"] == pytest.approx(mu.sum(), rel=0.01)
    # radial profile of the true positions (energy-independent: aeff separates in E, theta)
    r_pix = separation(coords["lon"].values, coords["lat"].values, CRAB[0], CRAB[1] + 0.5)
    r_edges = np.linspace(0, 1.5, 16)
    expected, _ = np.histogram(r_pix.ravel(), r_edges, weights=mu.sum(axis=0).ravel())
    r = separation(events["RA_TRUE"].values, events["DEC_TRUE"].values, CRAB[0], CRAB[1] + 0.5)
    observed, _ = np.histogram(r, r_edges)
    p, chi2, k = chi2_pvalue(observed, expected * observed.sum() / expected.sum())
    assert p > P_MIN, (chi2, k)


def test_diffuse_template(tables):
    model = gs.galactic_diffuse(lon_range=(170, 200), binsz=0.2, flux_crab=20.0)
    spec = SPEC.replace(ontime=3600.0)
    events = gs.sample_events(
        spec, tables, Models([model]), seed=2, background=False, true_columns=True
    )
    assert events.sizes["event"] > 100
    offset = separation(events["RA_TRUE"].values, events["DEC_TRUE"].values, *spec.pointing)
    assert offset.max() <= tables.offset_max + 0.1
    assert events.attrs["npred"]["diffuse"] == pytest.approx(events.sizes["event"], rel=0.15)


def test_temporal_model_and_gtis(tables):
    t_ref = gs.ObservationSpec(0, 0, 0, 1.0e8, 1).start_time().mjd  # TT
    decay = ExpDecayTemporalModel(t0="0.01 d", t_ref=t_ref, scale="tt")
    model = crab_model("3e-10 cm-2 s-1 TeV-1")
    model = type(model)(model.spectral_model, model.spatial_model, decay, name="flare")
    gti = ((1.0e8, 1.0e8 + 1800.0), (1.0e8 + 2400.0, 1.0e8 + 4200.0))
    spec = SPEC.replace(gti=gti)
    assert spec.ontime == 3600.0
    events = gs.sample_events(spec, tables, [model], seed=4, background=False)
    t = events["TIME"].values - 1.0e8
    assert np.all(((t >= 0) & (t <= 1800)) | ((t >= 2400) & (t <= 4200)))
    steady = gs.sample_events(
        spec, tables, [crab_model("3e-10 cm-2 s-1 TeV-1")], seed=4, background=False
    )
    # mean norm over the GTIs: integral of exp(-t / t0) / ontime
    t0 = 864.0
    norm = t0 * (1 - np.exp(-1800 / t0) + np.exp(-2400 / t0) - np.exp(-4200 / t0)) / 3600.0
    ratio = events.attrs["npred"]["flare"] / steady.attrs["npred"]["crab"]
    assert ratio == pytest.approx(norm, rel=2e-3)
    # exponential decay of the arrival times in the first GTI
    first = t[t <= 1800]
    edges = np.linspace(0, 1800, 13)
    observed, _ = np.histogram(first, edges)
    expected = -np.diff(np.exp(-edges / t0))
    p, chi2, k = chi2_pvalue(observed, expected / expected.sum() * first.size)
    assert p > P_MIN, (chi2, k)
    # without a temporal model, times are uniform in the GTIs
    s = steady["TIME"].values - 1.0e8
    assert np.all(((s >= 0) & (s <= 1800)) | ((s >= 2400) & (s <= 4200)))
    assert stats.kstest(s[s <= 1800] / 1800, "uniform").pvalue > P_MIN


def test_fov_background_model_scales_background(tables):
    base = gs.sample_events(SPEC, tables, None, seed=1)
    bkg = FoVBackgroundModel("x", spectral_model=PowerLawNormSpectralModel(norm=2.0))
    scaled = gs.sample_events(SPEC, tables, Models([bkg]), seed=1)
    assert scaled.attrs["npred"]["background"] == pytest.approx(
        2 * base.attrs["npred"]["background"], rel=1e-12
    )


def test_seeds(tables, sky_models):
    a = gs.sample_events(SPEC, tables, sky_models, seed=1)
    b = gs.sample_events(SPEC, tables, sky_models, seed=1)
    c = gs.sample_events(SPEC, tables, sky_models, seed=2)
    xr.testing.assert_identical(a, b)
    assert a.sizes["event"] != c.sizes["event"] or not np.array_equal(a.RA, c.RA)
    # a component's events do not depend on the other components
    alone = gs.sample_events(SPEC, tables, sky_models, seed=1, background=False)
    for mc_id in (1, 2):
        np.testing.assert_array_equal(
            a.RA.values[a.MC_ID.values == mc_id], alone.RA.values[alone.MC_ID.values == mc_id]
        )
    assert a.attrs["mc_names"] == {0: "background", 1: "crab", 2: "blob"}
    assert np.all(np.diff(a["TIME"].values) >= 0)


def test_invisible_and_empty(tables):
    far = crab_model(position=(CRAB[0] + 40, CRAB[1]))
    events = gs.sample_events(SPEC, tables, [far], seed=1, background=False, true_columns=True)
    assert events.sizes["event"] == 0
    assert sorted(events.data_vars) == [
        "DEC",
        "DEC_TRUE",
        "ENERGY",
        "ENERGY_TRUE",
        "MC_ID",
        "RA",
        "RA_TRUE",
        "TIME",
    ]
    assert events.attrs["npred"] == {}


def test_unsupported_models(tables):
    npred = xr.DataArray(np.ones(2), dims="energy", coords={"energy": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="TemplateNPredModel"):
        gs.sample_events(SPEC, tables, Models([TemplateNPredModel(npred, name="t")]))


def test_fov_to_sky_inverts_reduce_fov():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-6, 6, 500), rng.uniform(-6, 6, 500)
    for ra0, dec0 in ((83.6, 22.0), (10.0, -85.0), (300.0, 70.0)):
        ra, dec = fov_to_sky(lon, lat, ra0, dec0)
        back_lon, back_lat = sky_to_fov(ra, dec, ra0, dec0)
        np.testing.assert_allclose(back_lon, lon, atol=1e-9)
        np.testing.assert_allclose(back_lat, lat, atol=1e-9)


@pytest.mark.parametrize("index", [-2.7, -1.0, 0.0, 1.5])
def test_power_law_sample(index):
    u_ = np.random.default_rng(1).random(20000)
    x = power_law_sample(np.full(u_.size, 1.0), np.full(u_.size, 10.0), 1.0, 10.0**index, u_)
    p = index + 1
    if p == 0:
        cdf = lambda v: np.log(v) / np.log(10.0)  # noqa: E731
    else:
        cdf = lambda v: (v**p - 1) / (10.0**p - 1)  # noqa: E731
    assert stats.kstest(x, cdf).pvalue > P_MIN


def test_table_psf_and_2d_background():
    """The psf_table / bkg_2d variants: PSF containment and background total as the IRFs say."""
    inst = gs.Instrument.analytic(psf_class="psf_table", bkg_class="bkg_2d")
    tables = gs.build_tables(inst)
    model = crab_model("3e-10 cm-2 s-1 TeV-1")
    spec = SPEC.replace(ontime=3600.0)
    events = gs.sample_events(spec, tables, [model], seed=8, true_columns=True)
    source = events.where(events["MC_ID"] == 1, drop=True)
    assert_psf_distribution(source, inst.psf, r_max=2)
    offsets = np.linspace(0, 6, 241)
    centers = 0.5 * (offsets[1:] + offsets[:-1])
    omega = 2 * np.pi * (np.cos(np.radians(offsets[:-1])) - np.cos(np.radians(offsets[1:])))
    rate = girf.integrate_background(
        inst.bkg,
        np.geomspace(0.01, 300, 46),
        offset=da(centers, "offset", "deg"),
        extrapolate="fill",
    )
    total = float((rate.sum("energy").values * omega).sum()) * spec.ontime
    # the background grid is a square of +-6 deg: the corners lie beyond the table (zero)
    assert events.attrs["npred"]["background"] == pytest.approx(total, rel=0.01)
