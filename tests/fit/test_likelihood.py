"""The likelihood as a pure function of the factor vector, over chunks kept in memory."""

from __future__ import annotations

import numpy as np
import pytest

from gammax.datasets import MapDatasetOnOff
from gammax.errors import ConfigError
from gammax.fit import Likelihood, fake, fit, npred_signal, wstat
from gammax.fit.likelihood import make_specs

from .toy import spectrum_models, toy_map_dataset, toy_models, toy_spectrum


def _datasets():
    names = ["a", "b", "c"]
    truth = toy_models(names)
    return [fake(toy_map_dataset(n), truth, seed=i) for i, n in enumerate(names)], names


def test_pure_function_of_the_vector():
    datasets, names = _datasets()
    models = toy_models(names)
    before = models.values()
    like = Likelihood(datasets, models)
    x = like.x0 * 1.01
    first = like(x)
    assert like(like.x0) != first
    assert like(x) == first  # no hidden state
    assert models.values() == before  # models untouched
    assert like.n_evaluations == 3


def test_groups_and_chunks_do_not_change_the_value():
    datasets, names = _datasets()
    models = toy_models(names)
    x = Likelihood(datasets, models).x0 * 1.02
    reference = Likelihood(datasets, models, n_groups=1)
    per_chunk = reference.chunk_stats(x)
    assert per_chunk.shape == (3,)
    for n_groups, chunks in ((2, None), (3, None), (2, {"y": 20, "energy": 2})):
        like = Likelihood(datasets, models, n_groups=n_groups, chunks=chunks)
        assert like(x) == pytest.approx(reference(x), rel=1e-12)
    # datasets in chunk order: the same per-dataset values in any grouping
    np.testing.assert_array_equal(
        Likelihood(datasets, models, n_groups=3).chunk_stats(x), per_chunk
    )


def test_joint_fit_of_maps_and_spectra():
    datasets, names = _datasets()
    spec = toy_spectrum("spec", seed=5)
    models = toy_models(names)
    result = fit([*datasets, spec], models)
    assert result.success
    assert len(result.likelihood.specs) == 4
    assert set(result.names) >= {"src.spectral.index", "a-bkg.spectral.norm"}


def test_map_onoff_dataset_uses_wstat():
    base = toy_map_dataset("onoff")
    rng = np.random.default_rng(3)
    models = toy_models(["onoff"])
    del models  # the FoV background has no meaning for on/off data
    import gammax.models as gm

    models = gm.Models([toy_models()["src"]])
    sig = npred_signal(base, models).values
    off = rng.poisson(np.full(base.counts.shape, 2.5)).astype(float)
    ds = MapDatasetOnOff.create(
        counts=base.counts.copy(data=rng.poisson(sig + 0.5).astype(float)),
        exposure=base.exposure,
        counts_off=base.counts.copy(data=off),
        acceptance=1.0,
        acceptance_off=5.0,
        psf=None,
        name="onoff",
    )
    with pytest.raises(AttributeError):
        ds.background  # noqa: B018
    like = Likelihood(ds, models)
    expected = float(np.sum(wstat(ds.counts.values, off, 0.2, npred_signal(ds, models).values)))
    assert like(like.x0) == pytest.approx(expected, rel=1e-10)


def test_specs_and_errors():
    ds = toy_map_dataset()
    assert len(make_specs([ds], {"y": 10})) == 5
    with pytest.raises(ConfigError, match="chunks may split"):
        make_specs([ds], {"rad": 3})
    with pytest.raises(ConfigError, match="unique"):
        make_specs([ds, ds])
    with pytest.raises(ConfigError, match="mode"):
        Likelihood(ds, toy_models(), mode="threads")
    like = Likelihood([toy_spectrum("s")], spectrum_models())
    assert "local" in repr(like)
    like.close()
    with pytest.raises(ConfigError, match="closed"):
        like(like.x0)


def test_fit_re_anchors_a_source_that_moved_out_of_its_box():
    truth = toy_models()
    ds = fake(toy_map_dataset(npix=61), truth, seed=4)
    models = toy_models(lon="0.22 deg", lat="0.15 deg")  # 0.27 deg from the truth
    first = Likelihood(ds, models)
    result = fit(ds, models)
    assert result.success
    assert not first.in_reach(result.x)  # the start boxes no longer cover the source ...
    assert result.likelihood.in_reach(result.x)  # ... the final likelihood's do
    lon = result.values["src.spatial.lon_0"]
    assert abs(lon - 0.02) < 3 * result.errors["src.spatial.lon_0"]


def test_overflowing_trial_step_is_a_penalty_not_a_nan():
    from gammax.fit.likelihood import NONFINITE_STAT

    datasets, names = _datasets()
    models = toy_models(names)
    like = Likelihood(datasets, models)
    index = like.space.free.index("src.spectral.index")
    x = like.x0.copy()
    x[index] = -400.0  # E^400: the flux overflows
    assert like(x) == NONFINITE_STAT
    assert np.isfinite(like(like.x0)) and like(like.x0) < NONFINITE_STAT
    # a fit started with a step wide enough to reach such values still converges
    models.parameter("src.spectral.index").error = 300.0
    result = fit(datasets, models)
    assert result.success
    assert abs(result.values["src.spectral.index"] - 2.5) < 5 * result.errors["src.spectral.index"]
    result.close()
