"""Fit statistics: properties (hypothesis) and Gammapy's definitions."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gammax.fit import stats

counts = st.integers(min_value=0, max_value=200)
positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)
alphas = st.floats(min_value=1e-2, max_value=10.0, allow_nan=False)


@given(n=st.integers(min_value=1, max_value=500), rel=st.floats(min_value=1e-3, max_value=0.5))
def test_cash_is_minimal_at_mu_equal_n(n, rel):
    best = stats.cash(n, float(n))
    assert stats.cash(n, n * (1 + rel)) > best
    assert stats.cash(n, n * (1 - rel)) > best


@given(n=counts, mu=positive)
def test_cstat_is_cash_minus_its_minimum(n, mu):
    # C = cash(n, mu) - cash(n, n) for n > 0; cstat is zero at mu = n
    if n > 0:
        expected = stats.cash(n, mu) - stats.cash(n, float(n))
        assert stats.cstat(n, mu) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert stats.cstat(n, mu) >= -1e-12


def test_cash_truncates_small_predictions():
    assert stats.cash(3, 0.0) == pytest.approx(2 * (1e-25 - 3 * np.log(1e-25)))
    assert stats.cash(0, -1.0) == pytest.approx(2e-25)


@given(n_on=counts, n_off=counts, alpha=alphas, mu_sig=st.floats(0, 100))
@settings(max_examples=200)
def test_wstat_background_maximises_the_likelihood(n_on, n_off, alpha, mu_sig):
    mu_b = float(stats.wstat_mu_bkg(n_on, n_off, alpha, mu_sig))
    assert mu_b >= 0

    def minus2logl(b):
        return float(stats.wstat(n_on, n_off, alpha, mu_sig, mu_bkg=b))

    best = minus2logl(mu_b)
    for b in (mu_b * 1.05 + 1e-6, mu_b * 0.95):
        if b > 0 or (n_off == 0 and b >= 0):
            assert minus2logl(b) >= best - 1e-7 * max(1.0, abs(best))


@given(n_on=counts, n_off=counts, alpha=alphas, mu_sig=st.floats(0, 100))
@settings(max_examples=200)
def test_wstat_with_gof_terms_is_a_likelihood_ratio(n_on, n_off, alpha, mu_sig):
    # -2 log(L / L_saturated) >= 0
    assert float(stats.wstat(n_on, n_off, alpha, mu_sig)) >= -1e-8


def test_wstat_zero_count_corners():
    # no ON counts: mu_b = n_off / (1 + alpha) when there is no signal ... and 0 with signal
    assert stats.wstat_mu_bkg(0, 10, 0.5, 0.0) == pytest.approx(10 / 1.5)
    # no OFF counts and signal above alpha-scaled ON: mu_b = 0
    assert stats.wstat_mu_bkg(3, 0, 0.2, 10.0) == pytest.approx(0.0)
    assert np.isfinite(stats.wstat(0, 0, 0.2, 1.0))


def test_masked_sums_and_dask():
    n = np.array([1.0, 5.0, 0.0, 2.0])
    mu = np.array([1.5, 4.0, 0.3, 2.5])
    mask = np.array([True, True, False, True])
    expected = sum(2 * (m - k * np.log(m)) for k, m, ok in zip(n, mu, mask, strict=True) if ok)
    assert stats.cash_sum(n, mu, mask) == pytest.approx(expected)
    lazy = stats.cash(da.from_array(n, chunks=2), da.from_array(mu, chunks=2))
    assert isinstance(lazy, da.Array)
    assert stats.cash_sum(da.from_array(n, chunks=2), da.from_array(mu, chunks=2), mask) == (
        pytest.approx(expected)
    )
    assert stats.chi2_sum([1.0, 2.0], [0.0, 0.0], [1.0, 2.0]) == pytest.approx(2.0)


@pytest.mark.gammapy
@given(
    n_on=st.lists(counts, min_size=1, max_size=20),
    n_off_scale=st.floats(0.0, 5.0),
    alpha=alphas,
    mu=st.floats(0.0, 50.0),
)
@settings(max_examples=50, deadline=None)
def test_statistics_equal_gammapy(n_on, n_off_scale, alpha, mu):
    from gammapy.stats import fit_statistics as gp

    n_on = np.asarray(n_on, float)
    n_off = np.floor(n_on * n_off_scale)
    mu_sig = np.full(n_on.shape, mu)
    np.testing.assert_allclose(stats.cash(n_on, mu_sig + 0.1), gp.cash(n_on, mu_sig + 0.1))
    np.testing.assert_allclose(stats.cstat(n_on, mu_sig + 0.1), gp.cstat(n_on, mu_sig + 0.1))
    with np.errstate(all="ignore"):
        expected = np.nan_to_num(gp.wstat(n_on, n_off, alpha, mu_sig))
        mu_b = gp.get_wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    np.testing.assert_allclose(stats.wstat(n_on, n_off, alpha, mu_sig), expected, atol=1e-9)
    np.testing.assert_allclose(stats.wstat_mu_bkg(n_on, n_off, alpha, mu_sig), mu_b, atol=1e-12)
