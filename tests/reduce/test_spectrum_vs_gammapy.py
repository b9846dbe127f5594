"""1D reduction (ON/OFF spectra with reflected regions) against Gammapy 2.1.

H.E.S.S. Crab runs, ON circle 0.11 deg at the Crab, 12 reco-energy bins
0.5-50 TeV, 24 true-energy bins 0.3-100 TeV, ``aeff-default`` and ``edisp-bias``
safe masks: ON/OFF counts, alpha and masks identical; exposure and the
dispersion matrix within 0.5% (median) / 2% (max); the stacked spectrum too.
MAGIC point-like runs with ``rad_max`` and wobble OFF regions: counts identical.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion, PointSkyRegion

import gammax
from gammax.geom import MapAxis
from gammax.reduce import SpectrumReductionConfig, reduce_observations
from gammax.reduce.zarr_store import read_products

from .conftest import CRAB, CRAB_RUNS, relative

pytestmark = [pytest.mark.data, pytest.mark.gammapy, pytest.mark.slow]

METHODS = ("aeff-default", "edisp-bias")


def config(**kwargs):
    defaults = {
        "on_region": CircleSkyRegion(CRAB, 0.11 * u.deg),
        "energy_axis": MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12),
        "energy_axis_true": MapAxis.from_energy_bounds(
            "0.3 TeV", "100 TeV", 24, name="energy_true"
        ),
        "safe_mask_methods": METHODS,
    }
    defaults.update(kwargs)
    return SpectrumReductionConfig(**defaults)


@pytest.fixture(scope="module")
def ours(crab_store, tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "crab.zarr"
    reduce_observations(crab_store, config(), path, name="spectrum")
    return path


@pytest.fixture(scope="module")
def theirs(hess_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.data import DataStore
        from gammapy.datasets import Datasets, SpectrumDataset
        from gammapy.makers import (
            ReflectedRegionsBackgroundMaker,
            SafeMaskMaker,
            SpectrumDatasetMaker,
        )
        from gammapy.maps import MapAxis as GAxis
        from gammapy.maps import RegionGeom

        energy = GAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
        energy_true = GAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
        geom = RegionGeom.create(region=CircleSkyRegion(CRAB, 0.11 * u.deg), axes=[energy])
        empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_true)
        maker = SpectrumDatasetMaker(
            selection=["counts", "exposure", "edisp"], containment_correction=False
        )
        bkg = ReflectedRegionsBackgroundMaker()
        safe = SafeMaskMaker(methods=list(METHODS))
        out = {}
        for obs in DataStore.from_dir(hess_dir).get_observations(CRAB_RUNS):
            ds = maker.run(empty.copy(name=str(obs.obs_id)), obs)
            ds = bkg.run(ds, obs)
            out[obs.obs_id] = safe.run(ds, obs)
        out["stacked"] = Datasets(list(out.values())).stack_reduce(name="stacked")
        return out


@pytest.mark.parametrize("obs_id", CRAB_RUNS)
def test_on_off_counts_alpha_mask_identical(ours, theirs, obs_id):
    got = read_products(ours, obs_id, "spectrum").groups["spectrum"]
    ref = theirs[obs_id]
    np.testing.assert_array_equal(got.counts.values, ref.counts.data.ravel())
    np.testing.assert_array_equal(got.counts_off.values, ref.counts_off.data.ravel())
    np.testing.assert_allclose(got.alpha.values, ref.alpha.data.ravel(), rtol=1e-12)
    np.testing.assert_array_equal(got.mask_safe.values, ref.mask_safe.data.ravel())


@pytest.mark.parametrize("obs_id", CRAB_RUNS)
def test_exposure_and_edisp_within_tolerance(ours, theirs, obs_id):
    got = read_products(ours, obs_id, "spectrum").groups["spectrum"]
    ref = theirs[obs_id]
    expected = ref.exposure.quantity.to_value("m2 s").ravel()
    median, worst, _ = relative(got.exposure.values, expected, 1e-3 * expected.max())
    assert median < 0.005 and worst < 0.02, (median, worst)
    kernel = ref.edisp.get_edisp_kernel().data  # (energy_true, energy)
    median, worst, _ = relative(got.edisp.values, kernel, 1e-3)
    assert median < 0.005 and worst < 0.02, (median, worst)


def test_stacked_spectrum(ours, theirs):
    got = read_products(ours, "stacked", "spectrum").groups["spectrum"]
    ref = theirs["stacked"]
    np.testing.assert_array_equal(got.counts.values, ref.counts.data.ravel())
    np.testing.assert_array_equal(got.counts_off.values, ref.counts_off.data.ravel())
    safe = ref.mask_safe.data.ravel()
    # Gammapy keeps the stacked acceptance_off in float32
    np.testing.assert_allclose(got.alpha.values[safe], ref.alpha.data.ravel()[safe], rtol=1e-6)
    expected = ref.exposure.quantity.to_value("m2 s").ravel()
    median, worst, _ = relative(got.exposure.values, expected, 1e-3 * expected.max())
    assert median < 0.005 and worst < 0.02, (median, worst)
    # each run's kernel enters only in its safe reco-energy bins
    kernel = ref.edisp.get_edisp_kernel().data
    median, worst, _ = relative(got.edisp.values, kernel, 1e-3)
    assert median < 0.005 and worst < 0.02, (median, worst)


def test_stacked_wstat_fit_matches_gammapy(ours, theirs):
    from gammapy.modeling import Fit
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    import gammax.models as gm
    from gammax.datasets import SpectrumDatasetOnOff
    from gammax.fit import fit

    from ..fit.conftest import gammapy_values_errors

    stacked = SpectrumDatasetOnOff.from_zarr(ours, "spectrum/stacked")
    models = gm.Models(
        [gm.SkyModel(gm.PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"))]
    )
    result = fit(stacked, models)
    assert result.success
    gds = theirs["stacked"].copy(name="stacked-gammapy")
    gmodel = SkyModel(PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"))
    gds.models = [gmodel]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Fit().run([gds]).success
        reference = gammapy_values_errors([gmodel], hesse_datasets=[gds])
    name = models[0].name
    for key, (value, error) in reference.items():
        key = key.replace(gmodel.name, name, 1)
        assert abs(result.values[key] - value) < 0.1 * error, (key, result.values[key], value)
        assert result.errors[key] == pytest.approx(error, rel=0.05), key
    result.close()


def test_magic_rad_max_wobble(data_dir, tmp_path):
    root = data_dir / "magic" / "rad_max" / "data"
    store = gammax.open_datastore(root)
    target = SkyCoord(83.63308, 22.01450, unit="deg")
    cfg = config(
        on_region=PointSkyRegion(target),
        background="wobble",
        finder_params={"n_off_regions": 3},
        energy_axis=MapAxis.from_energy_bounds("0.05 TeV", "20 TeV", 10),
        energy_axis_true=MapAxis.from_energy_bounds("0.03 TeV", "30 TeV", 20, name="energy_true"),
        safe_mask_methods=("aeff-default",),
    )
    path = tmp_path / "magic.zarr"
    result = reduce_observations(store, cfg, path, name="spectrum")
    assert sorted(result.done) == sorted(store.obs_ids.tolist())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.data import DataStore
        from gammapy.datasets import SpectrumDataset
        from gammapy.makers import (
            ReflectedRegionsBackgroundMaker,
            SpectrumDatasetMaker,
            WobbleRegionsFinder,
        )
        from gammapy.maps import MapAxis as GAxis
        from gammapy.maps import RegionGeom

        geom = RegionGeom.create(
            region=PointSkyRegion(target), axes=[GAxis.from_energy_bounds("0.05 TeV", "20 TeV", 10)]
        )
        empty = SpectrumDataset.create(
            geom=geom,
            energy_axis_true=GAxis.from_energy_bounds("0.03 TeV", "30 TeV", 20, name="energy_true"),
        )
        maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"])
        bkg = ReflectedRegionsBackgroundMaker(region_finder=WobbleRegionsFinder(3))
        for obs in DataStore.from_dir(root).get_observations():
            ref = bkg.run(maker.run(empty.copy(), obs), obs)
            got = read_products(path, obs.obs_id, "spectrum").groups["spectrum"]
            np.testing.assert_array_equal(got.counts.values, ref.counts.data.ravel())
            np.testing.assert_array_equal(got.counts_off.values, ref.counts_off.data.ravel())
            expected = ref.exposure.quantity.to_value("m2 s").ravel()
            median, worst, _ = relative(got.exposure.values, expected, 1e-3 * expected.max())
            assert median < 0.005 and worst < 0.02


def test_wstat_fit_of_reduced_spectra_matches_gammapy(ours, theirs):
    """Issue 5's 1D cross-check on spectra from the reduction store (not OGIP files)."""
    from gammapy.datasets import Datasets
    from gammapy.modeling import Fit
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    import gammax.models as gm
    from gammax.datasets import SpectrumDatasetOnOff
    from gammax.fit import fit

    from ..fit.conftest import gammapy_values_errors

    datasets = [SpectrumDatasetOnOff.from_zarr(ours, f"spectrum/obs/{o}") for o in CRAB_RUNS]
    assert [d.attrs["name"] for d in datasets] == [str(o) for o in CRAB_RUNS]
    models = gm.Models(
        [gm.SkyModel(gm.PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"))]
    )
    result = fit(datasets, models)
    assert result.success
    gds = Datasets([theirs[o] for o in CRAB_RUNS])
    gmodel = SkyModel(PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"))
    gds.models = [gmodel]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Fit().run(gds).success
        reference = gammapy_values_errors([gmodel], hesse_datasets=gds)
    name = models[0].name
    for key, (value, error) in reference.items():
        key = key.replace(gmodel.name, name, 1)
        assert abs(result.values[key] - value) < 0.1 * error, (key, result.values[key], value)
        assert result.errors[key] == pytest.approx(error, rel=0.05), key
    result.close()


def test_spectra_from_store_carry_observation_times(ours, hess_dir):
    from gammapy.data import DataStore

    from gammax.datasets import SpectrumDataset, SpectrumDatasetOnOff

    obs = DataStore.from_dir(hess_dir).obs(CRAB_RUNS[0])
    on_off = SpectrumDatasetOnOff.from_zarr(ours, f"spectrum/obs/{CRAB_RUNS[0]}")
    assert on_off.attrs["timesys"] == "tt"
    # Gammapy's GTI start/stop (TT) to better than a millisecond
    assert on_off.attrs["time_start"] == pytest.approx(obs.gti.time_start[0].tt.mjd, abs=1e-8)
    assert on_off.attrs["time_stop"] == pytest.approx(obs.gti.time_stop[-1].tt.mjd, abs=1e-8)
    # lazy, and the ON-only view drops the OFF side
    assert on_off.counts.chunks is not None
    on_only = SpectrumDataset.from_zarr(ours, "spectrum/stacked")
    assert "counts_off" not in on_only
    stacked = read_products(ours, "stacked", "spectrum").groups["spectrum"]
    np.testing.assert_array_equal(on_only.counts.values, stacked.counts.values)
    np.testing.assert_array_equal(on_only.exposure.values, stacked.exposure.values)
    assert on_only.attrs["n_obs"] == len(CRAB_RUNS)
    with pytest.raises(gammax.errors.FormatError, match="no 1D spectrum"):
        SpectrumDatasetOnOff.from_zarr(ours, "spectrum/obs/999")


def test_flux_points_of_reduced_spectra_match_gammapy(ours, theirs):
    """Issue 6's 1D Crab flux points on spectra from the reduction store (not OGIP files)."""
    from gammapy.datasets import Datasets
    from gammapy.estimators import FluxPointsEstimator as GammapyFPE
    from gammapy.modeling import Fit
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    import gammax.models as gm
    from gammax.datasets import SpectrumDatasetOnOff
    from gammax.estimators import FluxPointsEstimator
    from gammax.fit import fit

    from ..estimators.test_flux_points import compare_with_gammapy

    edges = [0.5, 1.5, 5.0, 20.0] * u.TeV
    datasets = [SpectrumDatasetOnOff.from_zarr(ours, f"spectrum/obs/{o}") for o in CRAB_RUNS]
    models = gm.Models(
        [
            gm.SkyModel(
                gm.PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"), name="crab"
            )
        ]
    )
    fit(datasets, models).close()
    fp = FluxPointsEstimator(edges, "crab", selection_optional=["errn-errp", "ul"]).run(
        datasets, models
    )
    gds = Datasets([theirs[o] for o in CRAB_RUNS])
    gmodel = SkyModel(
        PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"), name="crab"
    )
    gds.models = [gmodel]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Fit().run(gds).success
        table = (
            GammapyFPE(energy_edges=edges, source="crab", selection_optional=["errn-errp", "ul"])
            .run(gds)
            .to_table(sed_type="likelihood")
        )
    compare_with_gammapy(fp, table)
