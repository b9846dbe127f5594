"""Binned fakes: lazy, reproducible per chunking, Poisson-distributed."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from gammax.geom import MapAxis, WcsGeom
from gammax.simulate import fake_counts
from gammax.testing import raise_if_dask_computes


@pytest.fixture
def npred():
    axis = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3)
    geom = WcsGeom.create(skydir=(0, 0), npix=(40, 30), binsz=0.1, axes=[axis])
    values = np.random.default_rng(0).gamma(2.0, 3.0, geom.shape)
    return geom.wrap(values, unit="", name="npred")


def test_keeps_layout_and_geometry(npred):
    counts = fake_counts(npred, seed=1)
    assert counts.name == "counts"
    assert counts.dims == npred.dims
    assert counts.dtype == np.int32
    assert counts.gx.geom == npred.gx.geom
    assert counts.attrs["fake_seed"] == 1


def test_lazy_and_chunk_reproducible(npred):
    chunked = npred.chunk({"energy": 1, "y": 10})
    with raise_if_dask_computes():
        lazy = fake_counts(chunked, seed=3)
    assert lazy.chunks == chunked.chunks
    a, b = lazy.compute(), fake_counts(chunked, seed=3).compute()
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a, fake_counts(chunked, seed=4).values)
    # numpy input is one block: same as a single dask chunk
    np.testing.assert_array_equal(
        fake_counts(npred, seed=3).values, fake_counts(npred.chunk(-1), seed=3).values
    )
    # other chunks: another realisation (documented)
    assert not np.array_equal(a.values, fake_counts(npred, seed=3).values)


def test_chunk_invariant_mode(npred):
    ref = fake_counts(npred, seed=9, chunk_invariant=True).values
    for chunks in ({"energy": 1}, {"y": 7, "x": 13}, {"energy": 2, "x": 5}):
        got = fake_counts(npred.chunk(chunks), seed=9, chunk_invariant=True).values
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("invariant", [False, True])
def test_poisson_statistics(invariant):
    mu = np.repeat([0.0, 0.3, 2.0, 15.0, 400.0], 20000)
    counts = fake_counts(
        xr.DataArray(mu, dims="bin").chunk(25000), seed=2, chunk_invariant=invariant
    ).values
    for value in np.unique(mu):
        sample = counts[mu == value]
        if value == 0:
            assert not sample.any()
            continue
        assert sample.mean() == pytest.approx(value, rel=5 * np.sqrt(1 / (value * sample.size)))
        assert sample.var() == pytest.approx(value, rel=0.05)
        if value < 20:
            k = np.arange(sample.max() + 1)
            observed = np.bincount(sample, minlength=k.size)
            expected = stats.poisson.pmf(k, value) * sample.size
            ok = expected > 5
            chi2 = (((observed - expected) ** 2) / expected)[ok].sum()
            assert stats.chi2.sf(chi2, ok.sum() - 1) > 1e-3


def test_bad_values():
    bad = xr.DataArray([1.0, -1.0, np.nan], dims="bin")
    with pytest.raises(ValueError, match="2 negative or non-finite"):
        fake_counts(bad)
    lazy = fake_counts(bad.chunk(1))
    with pytest.raises(ValueError, match="negative or non-finite"):
        lazy.compute()
