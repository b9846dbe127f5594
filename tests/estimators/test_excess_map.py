"""Excess / significance maps: vectorised counts statistics and Gammapy 2.1 cross-checks.

Cross-checks run Gammapy's ``ExcessMapEstimator`` on Gammapy twins holding the
same arrays as the gammax datasets (the small Crab cube of ``_maps_fixtures``):
Cash (known background) and WStat (ring background ON/OFF, correlated OFF);
every map is compared per pixel within 1% (pixels above 0.1% of the map's
maximum, where a relative difference is meaningful).
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
import xarray as xr

from gammax.errors import ConfigError, UnitError
from gammax.estimators.excess_map import (
    ExcessMapEstimator,
    cash_counts_statistic,
    vectorized_bisect,
    wstat_counts_statistic,
)

from ._maps_fixtures import gammapy_on_off, rel_diff, ring_on_off, small_crab

QUANTITIES = ("npred", "npred_excess", "ts", "sqrt_ts", "norm", "norm_err")
OPTIONAL = ("norm_errn", "norm_errp", "norm_ul")


@pytest.fixture(scope="module")
def crab(hess_dir, tmp_path_factory):
    return small_crab(hess_dir, tmp_path_factory.getbasetemp())


def _compare(ours, theirs, names, tol=0.01):
    for name in names:
        a, b = ours[name].values, getattr(theirs, name).data
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        mask = np.isfinite(b) & (np.abs(b) > 1e-3 * np.nanmax(np.abs(b)))
        assert mask.sum() > 100, name
        assert rel_diff(a, b, mask) < tol, (name, rel_diff(a, b, mask))


def test_vectorized_bisect_roots_and_unbracketed():
    targets = np.array([2.0, 9.0, -1.0])
    roots = vectorized_bisect(lambda x: x**2 - targets, np.zeros(3), np.full(3, 4.0))
    np.testing.assert_allclose(roots[:2], [np.sqrt(2), 3.0], rtol=1e-10)
    assert np.isnan(roots[2])


@pytest.mark.gammapy
def test_cash_and_wstat_statistics_match_gammapy():
    from gammapy.stats import CashCountsStatistic, WStatCountsStatistic

    rng = np.random.default_rng(1)
    n_on = rng.poisson(5, 40).astype(float)
    mu = rng.uniform(0.5, 8, 40)
    ours = cash_counts_statistic(n_on, mu, n_sigma=1, n_sigma_ul=2)
    ref = CashCountsStatistic(n_on, mu)
    for key, expected in (
        ("ts", ref.ts),
        ("sqrt_ts", ref.sqrt_ts),
        ("errn", ref.compute_errn(1)),
        ("errp", ref.compute_errp(1)),
        ("ul", ref.compute_upper_limit(2)),
    ):
        np.testing.assert_allclose(ours[key], expected, rtol=1e-9, atol=1e-12, err_msg=key)
    n_off = rng.poisson(40, 40).astype(float)
    alpha = rng.uniform(0.05, 0.3, 40)
    ours = wstat_counts_statistic(n_on, n_off, alpha, n_sigma=1.5, n_sigma_ul=3)
    ref = WStatCountsStatistic(n_on, n_off, alpha)
    for key, expected in (
        ("ts", ref.ts),
        ("sqrt_ts", ref.sqrt_ts),
        ("errn", ref.compute_errn(1.5)),
        ("errp", ref.compute_errp(1.5)),
        ("ul", ref.compute_upper_limit(3)),
    ):
        np.testing.assert_allclose(ours[key], expected, rtol=1e-7, atol=1e-9, err_msg=key)


@pytest.mark.data
@pytest.mark.gammapy
def test_cash_excess_map_matches_gammapy(crab):
    from gammapy.estimators import ExcessMapEstimator as GammapyExcess

    from tests.fit.conftest import to_gammapy_map

    ours = ExcessMapEstimator("0.1 deg").run(crab).compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = GammapyExcess("0.1 deg", selection_optional="all").run(to_gammapy_map(crab))
    _compare(ours, theirs, QUANTITIES + OPTIONAL)
    assert ours.attrs["stat_type"] == "cash"
    # the Crab is the brightest spot, at the centre
    peak = np.unravel_index(np.nanargmax(ours.sqrt_ts.values[0]), (100, 100))
    assert abs(peak[0] - 50) <= 3 and abs(peak[1] - 50) <= 3
    assert np.nanmax(ours.sqrt_ts.values) > 20


@pytest.mark.data
@pytest.mark.gammapy
def test_ring_on_off_excess_maps_match_gammapy(crab):
    from gammapy.estimators import ExcessMapEstimator as GammapyExcess

    on = ring_on_off(crab)
    edges = [0.5, 5, 50] * u.TeV
    ours = ExcessMapEstimator("0.1 deg", energy_edges=edges).run(on).compute()
    assert ours.sizes["energy"] == 2 and ours.attrs["stat_type"] == "wstat"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp_on = gammapy_on_off(on)
        theirs = GammapyExcess("0.1 deg", energy_edges=edges).run(gp_on)
    _compare(ours, theirs, QUANTITIES)
    # asymmetric errors and UL (Gammapy's per-pixel root finding is slow: a cutout)
    from gammax.datasets import MapDatasetOnOff

    from ._maps_fixtures import CRAB

    cut = MapDatasetOnOff.cutout(on, CRAB, 0.5)
    ours = ExcessMapEstimator("0.1 deg", correlate_off=False).run(cut).compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = GammapyExcess("0.1 deg", correlate_off=False, selection_optional="all").run(
            gammapy_on_off(cut)
        )
    _compare(ours, theirs, QUANTITIES + OPTIONAL)


@pytest.mark.data
def test_chunked_dataset_is_lazy_and_equal(crab):
    eager = ExcessMapEstimator("0.12 deg").run(crab)
    lazy = ExcessMapEstimator("0.12 deg").run(crab.chunk({"x": 30, "y": 40}))
    assert hasattr(lazy.sqrt_ts.data, "dask")
    for name in ("npred", "sqrt_ts", "norm_ul", "flux"):
        np.testing.assert_allclose(lazy[name].values, eager[name].values, rtol=1e-12)


@pytest.mark.data
def test_zarr_round_trip_keeps_geometry_and_reference_model(crab, tmp_path):
    from gammax.models import from_yaml

    maps = ExcessMapEstimator("0.1 deg", n_sigma_ul=3).run(crab)
    maps.to_zarr(tmp_path / "excess.zarr", consolidated=False)
    back = xr.open_zarr(tmp_path / "excess.zarr", consolidated=False)
    assert back.sqrt_ts.gx.geom == maps.sqrt_ts.gx.geom
    np.testing.assert_array_equal(back.flux_ul.values, maps.flux_ul.values)
    assert u.Unit(back.flux.attrs["units"]) == u.Unit("cm-2 s-1")
    assert back.attrs["n_sigma_ul"] == 3.0
    model = from_yaml(back.attrs["reference_model"])[0]
    assert model.spectral_model.parameters["index"].value == 2.0


def test_bad_input_raises_gammax_errors():
    from gammax.datasets import SpectrumDataset
    from gammax.geom import MapAxis

    with pytest.raises(UnitError, match="correlation_radius"):
        ExcessMapEstimator(correlation_radius="3 s")
    with pytest.raises(ConfigError, match="selection_optional"):
        ExcessMapEstimator(selection_optional=["nope"])
    e = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
    et = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2, name="energy_true")
    spec = SpectrumDataset.create(np.zeros(2), np.ones(2), e, et, name="spec")
    with pytest.raises(ConfigError, match="MapDataset"):
        ExcessMapEstimator().run(spec)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.data
def test_significance_figure_and_histogram(crab, tmp_path):
    import astropy.units as u
    from regions import CircleSkyRegion

    from gammax.estimators.map_plot import (
        plot_significance_distribution,
        significance_figure,
    )
    from gammax.geom import exclusion_mask

    from ._maps_fixtures import CRAB

    maps = ExcessMapEstimator("0.1 deg").run(crab).compute()
    keep = exclusion_mask(crab.counts.gx.geom.to_image(), [CircleSkyRegion(CRAB, 0.4 * u.deg)])
    path = tmp_path / "significance.png"
    fig = significance_figure(maps, path, exclusion=keep)
    assert path.read_bytes()[:8] == PNG_MAGIC
    image_ax = next(ax for ax in fig.axes if ax.images and hasattr(ax, "wcs"))
    data = image_ax.images[0].get_array()
    np.testing.assert_array_equal(np.ma.filled(data, np.nan), maps.sqrt_ts.values[0])
    assert image_ax.coords[0].get_axislabel() == "Right ascension"
    # histogram outside the exclusion: its fit is reported in the legend
    ax, fit = plot_significance_distribution(maps, keep)
    outside = maps.sqrt_ts.values[0][keep.values & np.isfinite(maps.sqrt_ts.values[0])]
    assert fit["n"] == outside.size
    np.testing.assert_allclose(fit["mean"], outside.mean(), rtol=1e-10)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "pixels" and f"{fit['mean']:.2f}" in labels[1]
    # correlated background-only pixels: roughly standard normal
    assert abs(fit["mean"]) < 0.5 and 0.5 < fit["sigma"] < 2.0


def test_docstring_examples():
    import doctest
    import importlib

    for name in ("excess_map", "ts_map", "sensitivity", "map_plot"):
        module = importlib.import_module(f"gammax.estimators.{name}")
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, name


@pytest.mark.data
@pytest.mark.gammapy
def test_models_join_the_background(crab):
    """With the Crab model the excess is relative to it: the residual, as in Gammapy.

    gammax and Gammapy predict the model's counts slightly differently (PSF
    applied to flux x exposure vs. to the flux, see ``gammax.fit.npred``), so the
    residual excess maps agree within 1% of the source excess, not per pixel.
    """
    from gammapy.estimators import ExcessMapEstimator as GammapyExcess

    from tests.fit.conftest import crab_models, gammapy_crab_models, to_gammapy_map

    plain = ExcessMapEstimator("0.1 deg").run(crab).compute()
    residual = ExcessMapEstimator("0.1 deg").run(crab, crab_models("stacked")).compute()
    peak = np.nanmax(plain.excess.values)
    # the (unfitted) model absorbs most of the Crab
    assert np.nanmax(np.abs(residual.excess.values)) < 0.25 * peak
    assert np.nanmax(residual.sqrt_ts.values) < 0.3 * np.nanmax(plain.sqrt_ts.values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gds = to_gammapy_map(crab)
        gds.models = gammapy_crab_models("stacked")
        theirs = GammapyExcess("0.1 deg").run(gds)
    diff = np.abs(residual.npred_excess.values - theirs.npred_excess.data)
    assert np.nanmax(diff) < 0.01 * peak
