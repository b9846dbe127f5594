"""Fit backends and results: minuit vs scipy, covariance, profiles, intervals, contours."""

from __future__ import annotations

import numpy as np
import pytest

import gammax.models as gm
from gammax.errors import ConfigError
from gammax.fit import Likelihood, fit

from .toy import spectrum_models, toy_spectrum


@pytest.fixture(scope="module")
def spectra():
    return [toy_spectrum("a", seed=1), toy_spectrum("b", seed=2, onoff=False)]


@pytest.fixture(scope="module")
def minuit_result(spectra):
    result = fit(spectra, spectrum_models())
    yield result
    result.close()


@pytest.fixture(scope="module")
def scipy_result(spectra):
    result = fit(spectra, spectrum_models(), backend="scipy")
    yield result
    result.close()


def test_minuit_and_scipy_agree(minuit_result, scipy_result):
    assert minuit_result.success and scipy_result.success
    for key in minuit_result.names:
        err = minuit_result.errors[key]
        assert scipy_result.values[key] == pytest.approx(minuit_result.values[key], abs=0.01 * err)
        assert scipy_result.errors[key] == pytest.approx(err, rel=0.02)
    assert scipy_result.total_stat == pytest.approx(minuit_result.total_stat, abs=1e-3)


def test_covariance_correlation_and_write_back(spectra, minuit_result):
    cov = minuit_result.covariance
    assert cov.names == minuit_result.names
    np.testing.assert_allclose(cov.data, cov.data.T)
    corr = minuit_result.correlation
    np.testing.assert_allclose(np.diag(corr), 1.0)
    # data above the 1 TeV reference energy: index and amplitude positively correlated
    assert 0.3 < corr[0, 1] < 1
    assert corr[0, 1] == pytest.approx(cov.data[0, 1] / np.sqrt(cov.data[0, 0] * cov.data[1, 1]))
    models = minuit_result.models
    for key in minuit_result.names:
        p = models.parameter(key)
        assert p.value == minuit_result.values[key]
        assert p.error == pytest.approx(minuit_result.errors[key])
    # the statistic of the written-back models is the minimum
    like = Likelihood(spectra, models)
    assert like(like.x0) == pytest.approx(minuit_result.total_stat, abs=1e-6)


def test_hesse_errors_are_the_curvature(minuit_result):
    """Delta(-2 log L) = 1 at +-1 sigma along each parameter (others at the best fit),
    up to the correlation: the conditional width is sigma * sqrt(1 - rho^2)."""
    rho = minuit_result.correlation[0, 1]
    for i, key in enumerate(minuit_result.names):
        best, err = minuit_result.values[key], minuit_result.errors[key]
        width = err * np.sqrt(1 - rho**2)
        prof = minuit_result.stat_profile(key, [best - width, best, best + width])
        # the profile is slightly asymmetric; its curvature is the one HESSE measured
        np.testing.assert_allclose(prof["delta_stat"], [1.0, 0.0, 1.0], atol=0.08)
        assert (prof["delta_stat"][0] + prof["delta_stat"][2]) / 2 == pytest.approx(1, abs=0.01)
        assert i in (0, 1)


def test_confidence_minos_and_scipy_profile_agree(minuit_result, scipy_result):
    key = "src.spectral.index"
    minos = minuit_result.confidence(key, sigma=1)
    scan = scipy_result.confidence(key, sigma=1)
    assert minos["success"] and scan["success"]
    err = minuit_result.errors[key]
    assert minos["errn"] == pytest.approx(scan["errn"], rel=0.02)
    assert minos["errp"] == pytest.approx(scan["errp"], rel=0.02)
    assert minos["errp"] == pytest.approx(err, rel=0.2)
    # the interval ends are where the re-optimised profile rises by 1
    best = minuit_result.values[key]
    prof = minuit_result.stat_profile(
        key, [best - minos["errn"], best + minos["errp"]], reoptimize=True
    )
    np.testing.assert_allclose(prof["delta_stat"], 1.0, atol=0.02)


def test_two_sigma_interval_is_about_twice_as_wide(minuit_result):
    key = "src.spectral.index"
    one = minuit_result.confidence(key, sigma=1)
    two = minuit_result.confidence(key, sigma=2)
    assert two["errp"] == pytest.approx(2 * one["errp"], rel=0.15)


@pytest.mark.parametrize("backend", ["minuit", "scipy"])
def test_contour_points_lie_on_delta_one(spectra, backend, minuit_result, scipy_result):
    result = minuit_result if backend == "minuit" else scipy_result
    x, y = "src.spectral.index", "src.spectral.amplitude"
    contour = result.contour(x, y, npoints=8, sigma=1)
    assert contour[x].shape == (8,) == contour[y].shape
    i, j = result.names.index(x), result.names.index(y)
    for vx, vy in zip(contour[x][::3], contour[y][::3], strict=True):
        point = result.likelihood.space.vector_from_values({x: vx, y: vy})
        stat = result.likelihood(point)  # only two free parameters: no re-optimisation
        assert stat - result.total_stat == pytest.approx(1.0, abs=0.05), (i, j)


def test_prior_adds_to_the_statistic_and_pulls_the_fit(spectra):
    free = fit(spectra, spectrum_models())
    models = spectrum_models()
    models.parameter("src.spectral.index").prior = gm.GaussianPrior(mu=2.0, sigma=0.01)
    like = Likelihood(spectra, models)
    x = like.x0
    values = like.space.values_from_vector(x)
    data_only = float(np.sum(like.chunk_stats(x)))
    assert like(x) == pytest.approx(data_only + like.space.prior_stat_sum(values))
    pulled = fit(spectra, models)
    assert abs(pulled.values["src.spectral.index"] - 2.0) < 0.03
    assert abs(free.values["src.spectral.index"] - 2.0) > 0.1


def test_frozen_and_linked_parameters(spectra):
    models = spectrum_models()
    models.parameter("src.spectral.index").frozen = True
    result = fit(spectra, models)
    assert result.names == ("src.spectral.amplitude",)
    assert models.parameter("src.spectral.index").value == 2.3
    with pytest.raises(ConfigError, match="free parameter"):
        result.confidence("src.spectral.index")


def test_errors_name_the_problem(spectra):
    models = spectrum_models()
    for p in models.parameter_items():
        p[2].frozen = True
    with pytest.raises(ConfigError, match="no free parameters"):
        fit(spectra, models)
    with pytest.raises(ConfigError, match="unique"):
        fit([spectra[0], spectra[0]], spectrum_models())
    with pytest.raises(ConfigError, match="backend"):
        fit(spectra, spectrum_models(), backend="nope")
