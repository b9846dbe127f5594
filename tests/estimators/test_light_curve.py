"""Light curves of PKS 2155-304 (H.E.S.S. DR1 flare runs) against Gammapy 2.1.

Six runs of the July 2006 flare (33787-33792) reduced by gammax to per-run
ON/OFF spectra (reflected regions, 0.11 deg ON circle); the same spectra go to
Gammapy through OGIP files (with each run's GTI). Per-run norms within 0.1
sigma of Gammapy's ``LightCurveEstimator``, upper limits within 5%.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

from gammax.errors import ConfigError
from gammax.estimators.flux_points import FluxPointsEstimator
from gammax.estimators.light_curve import LightCurveEstimator, fractional_variance

from .conftest import PKS_EDGES, PKS_RUNS, pks_models

pytestmark = [pytest.mark.data]

RUNS, EDGES = PKS_RUNS, PKS_EDGES


def _gammapy_datasets(datasets, tmp_path):
    from gammapy.data import GTI
    from gammapy.datasets import Datasets
    from gammapy.datasets import SpectrumDatasetOnOff as GSpec

    from gammax.datasets import write_ogip

    out = []
    for ds in datasets:
        files = write_ogip(ds.compute(), tmp_path / ds.attrs["name"])
        g = GSpec.read(files["pha"], name=ds.attrs["name"])
        start = Time(ds.attrs["time_start"], format="mjd", scale=ds.attrs["timesys"])
        duration = (ds.attrs["time_stop"] - ds.attrs["time_start"]) * u.day
        g.gti = GTI.create([0] * u.s, [duration.to_value("s")] * u.s, reference_time=start)
        out.append(g)
    return Datasets(out)


@pytest.mark.gammapy
def test_per_run_light_curve_matches_gammapy(light_curve, pks_datasets, tmp_path):
    from gammapy.estimators import LightCurveEstimator as GLCE
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    gds = _gammapy_datasets(pks_datasets, tmp_path)
    gds.models = [
        SkyModel(PowerLawSpectralModel(index=3.4, amplitude="2e-11 cm-2 s-1 TeV-1"), name="pks")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        glc = GLCE(energy_edges=EDGES, source="pks", selection_optional=["errn-errp", "ul"])
        table = glc.run(gds).to_table(sed_type="likelihood", format="lightcurve")
    lc = light_curve
    assert lc.sizes["time"] == len(RUNS) == len(table)
    np.testing.assert_allclose(lc.time_min.values, table["time_min"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(lc.time_max.values, table["time_max"], rtol=0, atol=1e-8)
    err = np.asarray(table["norm_err"], float).ravel()
    for key in ("norm", "norm_err", "norm_errn", "norm_errp"):
        diff = np.abs(lc[key].values.ravel() - np.asarray(table[key], float).ravel()) / err
        assert np.all(diff < 0.1), (key, diff)
    np.testing.assert_allclose(
        lc.norm_ul.values.ravel(), np.asarray(table["norm_ul"], float).ravel(), rtol=0.05
    )
    np.testing.assert_allclose(lc.ts.values.ravel(), np.asarray(table["ts"]).ravel(), rtol=1e-3)
    # counts per dataset: each run only in its own time bin (Gammapy: NaN elsewhere)
    counts = lc.counts.values[:, 0, :]
    np.testing.assert_array_equal(counts, np.asarray(table["counts"], float)[:, 0, :])
    assert np.all(np.isnan(counts[~np.eye(len(RUNS), dtype=bool)]))


@pytest.mark.gammapy
def test_variability_measures(light_curve):
    from gammapy.stats import compute_fvar
    from scipy import stats

    x, err = light_curve.norm.values[:, 0], light_curve.norm_err.values[:, 0]
    fvar, fvar_err = compute_fvar(x, err)
    assert light_curve.fvar.values[0] == pytest.approx(fvar, rel=1e-12)
    assert light_curve.fvar_err.values[0] == pytest.approx(fvar_err, rel=1e-12)
    ours = fractional_variance(x, err)
    assert ours[0] == pytest.approx(fvar, rel=1e-12)
    # chi2 against the weighted mean, independently
    w = 1 / err**2
    mean = np.sum(w * x) / np.sum(w)
    chi2 = np.sum((x - mean) ** 2 * w)
    assert light_curve.variability_chi2.values[0] == pytest.approx(chi2, rel=1e-10)
    assert light_curve.variability_pvalue.values[0] == pytest.approx(
        stats.chi2.sf(chi2, len(x) - 1), rel=1e-8
    )
    # the flare is variable: far from constant
    assert light_curve.variability_pvalue.values[0] < 1e-10
    assert light_curve.fvar.values[0] > 5 * light_curve.fvar_err.values[0]


def test_night_and_given_intervals(pks_datasets, light_curve):
    # all six runs are one night: the nightly light curve is the flux point of all of them
    night = LightCurveEstimator(EDGES, "pks", time_intervals="night").run(
        pks_datasets, pks_models()
    )
    assert night.sizes["time"] == 1
    fp = FluxPointsEstimator(EDGES, "pks").run(pks_datasets, pks_models())
    np.testing.assert_allclose(night.norm.values[0], fp.norm.values, rtol=1e-6)
    np.testing.assert_array_equal(night.counts.values[0], fp.counts.values)
    # given intervals as astropy Times: the first two runs, then the next two
    t0, t1 = light_curve.time_min.values, light_curve.time_max.values
    intervals = [
        (Time(t0[0], format="mjd", scale="tt"), Time(t1[1], format="mjd", scale="tt")),
        (Time(t0[2], format="mjd", scale="tt"), Time(t1[3], format="mjd", scale="tt")),
    ]
    lc = LightCurveEstimator(EDGES, "pks", time_intervals=intervals).run(pks_datasets, pks_models())
    assert lc.sizes["time"] == 2
    pair = FluxPointsEstimator(EDGES, "pks").run(pks_datasets[2:4], pks_models())
    np.testing.assert_allclose(lc.norm.values[1], pair.norm.values, rtol=1e-6)


def test_missing_times_raise(pks_datasets):
    bare = pks_datasets[0].copy()
    del bare.attrs["time_start"]
    with pytest.raises(ConfigError, match="time_start"):
        LightCurveEstimator(EDGES, "pks").run([bare], pks_models())
    with pytest.raises(ConfigError, match="no dataset lies inside"):
        LightCurveEstimator(EDGES, "pks", time_intervals=[(40000.0, 40001.0)]).run(
            pks_datasets, pks_models()
        )


def test_graph_is_built_without_computing(pks_datasets):
    """The bins are tasks of one graph sharing one node that loads the (lazy) datasets."""
    import dask

    def refuse(*args, **kwargs):
        raise AssertionError("something was computed while building the graph")

    assert pks_datasets[0].counts.chunks is not None  # lazily opened from Zarr
    est = FluxPointsEstimator([0.7, 2, 6, 20] * u.TeV, "pks")
    with dask.config.set(scheduler=refuse):
        tasks, bins = est.tasks(pks_datasets, pks_models())
    assert len(tasks) == len(bins) == 3
    graph = dask.base.collections_to_expr(tasks).__dask_graph__()
    prepare = [k for k in graph if str(k).startswith("prepare-")]
    assert len(prepare) == 1


def test_lazy_and_loaded_datasets_give_the_same_points(pks_datasets):
    est = FluxPointsEstimator([0.7, 3, 20] * u.TeV, "pks", selection_optional=["ul"])
    lazy = est.run(pks_datasets[:2], pks_models())
    loaded = est.run([ds.compute() for ds in pks_datasets[:2]], pks_models())
    for key in ("norm", "norm_err", "norm_ul", "ts", "counts", "npred"):
        np.testing.assert_array_equal(lazy[key].values, loaded[key].values)
