"""TS maps: the vectorised per-pixel fit, tiling, distribution and Gammapy 2.1 cross-checks.

Gammapy's ``TSMapEstimator`` runs on a Gammapy twin holding the same arrays as
the small Crab cube (point-source kernel with a power law of index 2, kernel
width 0.3 deg, one energy band). Where TS > 4: ``ts``, ``sqrt_ts``, ``norm``,
``norm_err``, ``npred_excess`` and ``flux`` within 1% per pixel, and the upper
limits within 1% of the statistical error (they sit near zero for negative
fluctuations, where a relative difference means nothing).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import minimize_scalar

from gammax.errors import ConfigError, UnitError
from gammax.estimators.ts_map import TSMapEstimator, fit_amplitudes

from ._maps_fixtures import CRAB, rel_diff, small_crab


@pytest.fixture(scope="module")
def crab(hess_dir, tmp_path_factory):
    return small_crab(hess_dir, tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def crab_cut(crab):
    from gammax.datasets import MapDataset

    return MapDataset.cutout(crab, CRAB, 1.0, name="cut")


def _cash_sum(x, c, b, m):
    mu = np.maximum(b + x * m, 1e-25)
    return float(np.sum(2 * (mu - c * np.log(mu))))


def test_fit_amplitudes_matches_scalar_minimisation():
    rng = np.random.default_rng(3)
    n, k = 40, 49
    m = rng.uniform(0, 1, (n, k)) * rng.uniform(5, 50, (n, 1))
    b = rng.uniform(0.2, 3, (n, k))
    true = rng.uniform(-0.02, 0.5, (n, 1))
    c = rng.poisson(np.clip(b + true * m, 0, None)).astype(float)
    res = fit_amplitudes(c, b, m, n_sigma=1, n_sigma_ul=2, selection=("ul", "errn-errp"))
    for i in range(n):
        lo = -np.min(b[i] / m[i][m[i] > 0])
        best = minimize_scalar(
            _cash_sum,
            bounds=(lo, 5.0),
            args=(c[i], b[i], m[i]),
            method="bounded",
            options={"xatol": 1e-10},
        )
        stat0 = _cash_sum(0.0, c[i], b[i], m[i])
        np.testing.assert_allclose(res["norm"][i], best.x, atol=1e-6, rtol=1e-5)
        np.testing.assert_allclose(res["ts"][i], stat0 - best.fun, atol=1e-6)
        # the UL and errors sit where the statistic rises by n_sigma**2
        for x, rise in (
            (res["norm_ul"][i], 4.0),
            (res["norm"][i] + res["norm_errp"][i], 1.0),
            (res["norm"][i] - res["norm_errn"][i], 1.0),
        ):
            assert abs(_cash_sum(x, c[i], b[i], m[i]) - best.fun - rise) < 1e-4
    assert np.all(res["success"] == 1)


@pytest.mark.data
@pytest.mark.gammapy
def test_ts_map_matches_gammapy_where_ts_above_4(crab):
    from gammapy.estimators import TSMapEstimator as GammapyTS

    from tests.fit.conftest import to_gammapy_map

    ours = TSMapEstimator(kernel_width="0.3 deg").run(crab).compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp = GammapyTS(kernel_width="0.3 deg", selection_optional=["ul"], rtol=1e-6)
        theirs = gp.run(to_gammapy_map(crab))
    ts = theirs.ts.data
    np.testing.assert_array_equal(np.isnan(ours.ts.values), np.isnan(ts))
    mask = np.isfinite(ts) & (ts > 4)
    assert mask.sum() > 500
    for name in ("ts", "sqrt_ts", "norm", "norm_err", "npred_excess", "flux"):
        diff = rel_diff(ours[name].values, getattr(theirs, name).data, mask)
        assert diff < 0.01, (name, diff)
    ul_diff = np.abs(ours.norm_ul.values - theirs.norm_ul.data)[mask]
    assert np.all(ul_diff < 0.01 * ours.norm_err.values[mask])
    assert float(ours.sqrt_ts.max()) > 20


@pytest.mark.data
def test_tiles_chunks_and_laziness_do_not_change_the_result(crab_cut):
    reference = TSMapEstimator(kernel_width="0.3 deg", tile_size=64).run(crab_cut)
    assert hasattr(reference.ts.data, "dask")  # lazy until computed
    reference = reference.compute()
    small_tiles = TSMapEstimator(kernel_width="0.3 deg", tile_size=13).run(crab_cut)
    chunked = TSMapEstimator(kernel_width="0.3 deg", tile_size=20).run(
        crab_cut.chunk({"x": 17, "y": 23})
    )
    for other in (small_tiles.compute(), chunked.compute()):
        for name in ("ts", "norm", "norm_err", "norm_ul"):
            np.testing.assert_allclose(other[name].values, reference[name].values, rtol=1e-9)


@pytest.mark.data
@pytest.mark.distributed
def test_distributed_client_gives_the_local_result(crab_cut):
    from dask.distributed import Client, LocalCluster

    est = TSMapEstimator(kernel_width="0.3 deg", tile_size=16)
    local = est.run(crab_cut).compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        client = Client(cluster)
    try:
        remote = est.run(crab_cut, client=client)
        assert len(client.scheduler_info()["workers"]) == 2
    finally:
        client.close()
        cluster.close()
    for name in ("ts", "sqrt_ts", "norm", "norm_ul", "flux"):
        np.testing.assert_array_equal(remote[name].values, local[name].values)


@pytest.mark.data
def test_energy_bands_and_zarr_round_trip(crab_cut, tmp_path):
    import astropy.units as u

    from gammax.models import from_yaml

    maps = TSMapEstimator(kernel_width="0.2 deg", energy_edges=[0.5, 5, 50] * u.TeV).run(crab_cut)
    assert maps.ts.dims == ("energy", "y", "x") and maps.sizes["energy"] == 2
    edges = maps.ts.gx.geom.axis("energy").edges
    np.testing.assert_allclose(edges, [0.5, 5, 50], rtol=1e-6)
    maps.to_zarr(tmp_path / "ts.zarr", consolidated=False)
    back = xr.open_zarr(tmp_path / "ts.zarr", consolidated=False)
    assert back.ts.gx.geom == maps.ts.gx.geom
    np.testing.assert_array_equal(back.norm_ul.values, maps.norm_ul.values)
    model = from_yaml(back.attrs["reference_model"])[0]
    assert type(model.spatial_model).__name__ == "PointSpatialModel"
    assert back.attrs["kernel_width"] == "0.2 deg"


def test_bad_input_raises_gammax_errors():
    with pytest.raises(UnitError, match="kernel_width"):
        TSMapEstimator(kernel_width="2 m")
    with pytest.raises(ConfigError, match="tile_size"):
        TSMapEstimator(tile_size=0)
    with pytest.raises(ConfigError, match="selection_optional"):
        TSMapEstimator(selection_optional=["scan"])


@pytest.mark.data
def test_ts_map_figure(crab_cut, tmp_path):
    from gammax.estimators.map_plot import plot_significance_map, plot_ts_map

    maps = TSMapEstimator(kernel_width="0.3 deg").run(crab_cut).compute()
    ax = plot_ts_map(maps)
    shown = np.ma.filled(ax.images[0].get_array(), np.nan)
    np.testing.assert_array_equal(shown, np.clip(maps.ts.values[0], 0, None))
    assert ax.images[0].colorbar.ax.get_ylabel() == "TS"
    path = tmp_path / "ts.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = plot_significance_map(maps, vmin=-3, vmax=30)
    norm = ax.images[0].norm
    assert (norm.vmin, norm.vcenter, norm.vmax) == (-3, 0.0, 30)


@pytest.mark.data
@pytest.mark.gammapy
def test_gaussian_kernel_ts_map_matches_gammapy(crab_cut):
    from gammapy.estimators import TSMapEstimator as GammapyTS
    from gammapy.modeling.models import GaussianSpatialModel as GGauss
    from gammapy.modeling.models import PowerLawSpectralModel as GPL
    from gammapy.modeling.models import SkyModel as GSky

    import gammax.models as gm
    from tests.fit.conftest import to_gammapy_map

    model = gm.SkyModel(
        gm.PowerLawSpectralModel(index=2.5), gm.GaussianSpatialModel(sigma="0.1 deg"), name="g"
    )
    est = TSMapEstimator(model=model, kernel_width="0.5 deg", selection_optional=["errn-errp"])
    ours = est.run(crab_cut).compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gmodel = GSky(GPL(index=2.5), GGauss(sigma="0.1 deg", frame="icrs"), name="g")
        gp = GammapyTS(gmodel, kernel_width="0.5 deg", selection_optional=["errn-errp"], rtol=1e-6)
        theirs = gp.run(to_gammapy_map(crab_cut))
    ts = theirs.ts.data
    mask = np.isfinite(ts) & (ts > 4)
    assert mask.sum() > 100
    for name in ("ts", "norm", "norm_err", "flux"):
        diff = rel_diff(ours[name].values, getattr(theirs, name).data, mask)
        assert diff < 0.01, (name, diff)
    err = ours.norm_err.values[mask]
    for name in ("norm_errn", "norm_errp"):
        diff = np.abs(ours[name].values - getattr(theirs, name).data)[mask]
        assert np.all(diff < 0.01 * err), (name, float(np.max(diff / err)))


@pytest.mark.data
@pytest.mark.gammapy
def test_energy_bands_match_gammapy(crab_cut):
    import astropy.units as u
    from gammapy.estimators import TSMapEstimator as GammapyTS

    from tests.fit.conftest import to_gammapy_map

    edges = [0.5, 5, 50] * u.TeV
    ours = TSMapEstimator(kernel_width="0.3 deg", energy_edges=edges).run(crab_cut).compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp = GammapyTS(kernel_width="0.3 deg", energy_edges=edges, selection_optional=["ul"])
        theirs = gp.run(to_gammapy_map(crab_cut))
    ts = theirs.ts.data
    assert ts.shape == ours.ts.shape == (2, 50, 50)
    np.testing.assert_array_equal(np.isnan(ours.ts.values), np.isnan(ts))
    mask = np.isfinite(ts) & (ts > 4)
    assert mask[0].sum() > 500 and mask[1].sum() > 50
    for name in ("ts", "norm", "norm_err", "flux", "npred_excess"):
        diff = rel_diff(ours[name].values, getattr(theirs, name).data, mask)
        assert diff < 0.01, (name, diff)


def test_default_kernel_follows_a_galactic_map_frame():
    """The default point-source kernel takes the map's frame (survey maps are Galactic)."""
    import gammax.models as gm
    from gammax.datasets import MapDataset
    from gammax.fit import npred
    from tests.fit.toy import toy_map_dataset, toy_models

    ds = toy_map_dataset()
    ds = MapDataset.fake(ds, npred(ds, toy_models()), seed=3)
    default = TSMapEstimator(kernel_width="0.5 deg", selection_optional=None).run(ds).compute()
    galactic = gm.SkyModel(
        gm.PowerLawSpectralModel(index=2), gm.PointSpatialModel(frame="galactic"), name="k"
    )
    explicit = TSMapEstimator(galactic, kernel_width="0.5 deg", selection_optional=None)
    np.testing.assert_array_equal(default.ts.values, explicit.run(ds).ts.values)
    assert float(default.sqrt_ts.max()) > 5  # the faked source is found
    icrs = gm.SkyModel(gm.PowerLawSpectralModel(index=2), gm.PointSpatialModel(), name="k")
    with pytest.raises(ConfigError, match="frame 'icrs' differs from the map frame 'galactic'"):
        TSMapEstimator(icrs, kernel_width="0.5 deg").run(ds)
