"""Parameters, priors, linking by name, the free vector, pickling and dask tokens."""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import pickle

import astropy.units as u
import numpy as np
import pytest
from dask.base import tokenize

import gammax.models as xm
from gammax.errors import ConfigError, UnitError


def _two_sources():
    a = xm.SkyModel(
        xm.PowerLawSpectralModel(index=2.0),
        xm.GaussianSpatialModel(lon_0="1 deg", lat_0="0 deg", sigma="0.2 deg", frame="galactic"),
        name="a",
    )
    b = xm.SkyModel(xm.PowerLawSpectralModel(index=2.5, amplitude="3e-12 cm-2 s-1 TeV-1"), name="b")
    return xm.Models([a, b])


def test_parameter_factor_scale_and_bounds():
    p = xm.Parameter("amplitude", 3.2e-12, unit="cm-2 s-1 TeV-1", min=1e-13, max=1e-10)
    assert p.scale == 1e-12
    assert p.factor == pytest.approx(3.2)
    assert (p.factor_min, p.factor_max) == pytest.approx((0.1, 100.0))
    p.factor = 5.0
    assert p.value == pytest.approx(5e-12)
    q = xm.Parameter("x", 0.0)
    assert q.scale == 1.0 and math.isnan(q.factor_min)
    neg = xm.Parameter("x", -250.0)
    assert neg.scale == 100.0 and neg.factor == -2.5
    log = xm.Parameter("x", 1e-3, scale_transform="log")
    assert log.factor_to_value(log.factor) == pytest.approx(1e-3)
    assert log.factor_derivative(log.factor) == pytest.approx(1e-3 * log.scale)
    sqrt = xm.Parameter("x", 16.0, scale_transform="sqrt", scale_method="factor1")
    assert sqrt.factor == pytest.approx(1.0) and sqrt.factor_to_value(2.0) == pytest.approx(64.0)


def test_parameter_units_and_validation():
    p = xm.Parameter("reference", "1 TeV", min="0.5 TeV")
    assert p.unit == "TeV" and p.min == 0.5
    with pytest.raises(UnitError):
        xm.Parameter("reference", "1 TeV", min="3 deg")
    with pytest.raises(ConfigError, match="frozen"):
        xm.Parameter("x", 1.0, frozen="maybe")
    with pytest.raises(ConfigError, match="scale_method"):
        xm.Parameter("x", 1.0, scale_method="scale100")
    model = xm.PowerLawSpectralModel(reference="2000 GeV")
    assert model.reference.unit == "GeV" and model.reference.value == 2000
    with pytest.raises(UnitError, match="reference"):
        xm.PowerLawSpectralModel(reference="2 deg")
    with pytest.raises(ConfigError, match="no parameter"):
        xm.PowerLawSpectralModel(indx=2)


def test_attribute_access_sets_values():
    pl = xm.PowerLawSpectralModel()
    pl.index = 3.0
    pl.reference = 500 * u.GeV
    assert pl.index.value == 3.0 and pl.reference.quantity == 500 * u.GeV
    pl.index.frozen = True
    assert pl.parameters["index"].frozen


def test_free_vector_order_and_roundtrip():
    models = _two_sources()
    names = models.free_parameter_names
    assert names == (
        "a.spectral.index",
        "a.spectral.amplitude",
        "a.spatial.lon_0",
        "a.spatial.lat_0",
        "a.spatial.sigma",
        "b.spectral.index",
        "b.spectral.amplitude",
    )
    x0 = models.free_vector()
    np.testing.assert_allclose(x0, [2.0, 1.0, 1.0, 0.0, 2.0, 2.5, 3.0])
    values = models.values_from_vector(x0 * 1.1)
    assert values["b.spectral.amplitude"] == pytest.approx(3.3e-12)
    assert values["a.spectral.reference"] == 1.0  # frozen: unchanged
    assert models["a"].spectral_model.index.value == 2.0  # pure: nothing changed
    models.set_free_vector(x0 * 1.1)
    assert models["a"].spectral_model.index.value == pytest.approx(2.2)
    np.testing.assert_allclose(models.free_vector(), x0 * 1.1)
    space = models.parameter_space()
    np.testing.assert_allclose(space.vector_from_values(values), x0 * 1.1)
    assert space.factor_min[names.index("a.spatial.sigma")] == 0.0
    assert space.factor_max[0] == math.inf


def test_linking_by_name_shares_one_entry():
    models = _two_sources().link("a.spectral.index", "b.spectral.index", label="index")
    names = models.free_parameter_names
    assert names.count("index") == 1 and "a.spectral.index" not in names
    assert len(names) == 6
    # the first occurrence is canonical: b took a's value
    assert models["b"].spectral_model.index.value == 2.0
    x = models.free_vector()
    x[names.index("index")] = 3.0
    models.set_free_vector(x)
    assert models["a"].spectral_model.index.value == 3.0
    assert models["b"].spectral_model.index.value == 3.0
    # pure evaluation with the shared key changes both models
    values = models.values_from_vector(x)
    e = 2.0 * u.TeV
    va = models["a"].spectral_model(e, values, prefix="a.spectral.")
    vb = models["b"].spectral_model(e, values, prefix="b.spectral.")
    np.testing.assert_allclose(float(va), 1e-12 * 2.0**-3)
    np.testing.assert_allclose(float(vb), 3e-12 * 2.0**-3)
    # desynchronised linked parameters are detected
    models["b"].spectral_model.index.value = 1.0
    with pytest.raises(ConfigError, match="disagree"):
        models.free_vector()


def test_links_across_collections_and_datasets_by_label():
    a, b = _two_sources()
    a.spectral_model.index.link = "gamma"
    other = xm.SkyModel(xm.LogParabolaSpectralModel(), name="c", datasets_names=["hess"])
    other.spectral_model.alpha.link = "gamma"
    models = xm.Models([a, b, other])
    assert "gamma" in models.free_parameter_names
    assert other.spectral_model.alpha.value == 2.0
    assert [m.name for m in models.for_dataset("hess")] == ["a", "b", "c"]
    assert [m.name for m in models.for_dataset("fermi")] == ["a", "b"]
    with pytest.raises(ConfigError, match="incompatible units"):
        models.link("gamma", "a.spatial.sigma")


def test_model_names_must_be_unique_and_objects_not_shared():
    pl = xm.PowerLawSpectralModel()
    with pytest.raises(ConfigError, match="unique"):
        xm.Models([xm.SkyModel(pl, name="a"), xm.SkyModel(xm.PowerLawSpectralModel(), name="a")])
    with pytest.raises(ConfigError, match="not by sharing objects"):
        xm.Models([xm.SkyModel(pl, name="a"), xm.SkyModel(pl, name="b")]).link(
            "a.spectral.index", "b.spectral.index"
        )


def _evaluate(models, factors):
    """Evaluated in a worker process: a pure function of a vector."""
    values = models.values_from_vector(factors)
    return [
        models[name]
        .spectral_model([1.0, 10.0] * u.TeV, values, prefix=f"{name}.spectral.")
        .values.tolist()
        for name in models.names
    ]


def test_pickled_collection_evaluates_identically_in_another_process():
    models = _two_sources().link("a.spectral.index", "b.spectral.index")
    x = models.free_vector() * 1.05
    local = _evaluate(models, x)
    clone = pickle.loads(pickle.dumps(models))
    assert clone == models
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        remote = pool.submit(_evaluate, models, x).result(timeout=120)
        space = pool.submit(pickle.loads, pickle.dumps(models.parameter_space())).result()
    assert remote == local
    assert space == models.parameter_space()


def test_tokens_are_deterministic_and_track_state():
    m1, m2 = _two_sources(), _two_sources()
    assert tokenize(m1) == tokenize(m2) == tokenize(pickle.loads(pickle.dumps(m1)))
    assert tokenize(m1.parameter_space()) == tokenize(m2.parameter_space())
    assert tokenize(m1["a"].spectral_model.index) == tokenize(m2["a"].spectral_model.index)
    m2["a"].spectral_model.index.value = 2.1
    assert tokenize(m1) != tokenize(m2)
    m2["a"].spectral_model.index.value = 2.0
    m2["a"].spectral_model.index.frozen = True
    assert tokenize(m1) != tokenize(m2)


@pytest.mark.gammapy
@pytest.mark.parametrize(
    ("gx_prior", "gp_name", "kwargs", "points"),
    [
        (xm.GaussianPrior, "GaussianPrior", {"mu": 2.0, "sigma": 0.3}, [1.2, 2.0, 2.7]),
        (xm.UniformPrior, "UniformPrior", {"min": -1.0, "max": 3.0}, [-0.5, 2.9]),
        (xm.LogUniformPrior, "LogUniformPrior", {"min": 1e-13, "max": 1e-10}, [3e-13, 5e-11]),
        (
            xm.GeneralizedGaussianPrior,
            "GeneralizedGaussianPrior",
            {"mu": 1.0, "sigma": 0.5, "eta": 0.8},
            [0.1, 1.0, 2.5],
        ),
    ],
)
def test_priors_match_gammapy(gp, gx_prior, gp_name, kwargs, points):
    ours = gx_prior(weight=2.0, **kwargs)
    theirs = getattr(gp, gp_name)(**kwargs)
    theirs.weight = 2.0
    for x in points:
        want = theirs(xm.Parameter("p", x).quantity)
        assert ours.stat(x) == pytest.approx(float(want), rel=1e-12)


def test_gaussian_prior_is_chi2_plus_constant_and_enters_the_statistic():
    prior = xm.GaussianPrior(mu=2.0, sigma=0.25)
    const = math.log(2 * math.pi * 0.25**2)
    for x in (1.5, 2.0, 2.6):
        assert prior.stat(x) == pytest.approx(((x - 2.0) / 0.25) ** 2 + const)
    models = _two_sources()
    models["a"].spectral_model.index.prior = prior
    models["b"].spectral_model.amplitude.prior = xm.UniformPrior(min=0, max=1e-11)
    base = models.prior_stat_sum()
    assert base == pytest.approx(16 * 0 + const + 2 * math.log(1e-11))
    values = models.values()
    values["a.spectral.index"] = 2.5
    assert models.prior_stat_sum(values) - base == pytest.approx(4.0)
    values["b.spectral.amplitude"] = 2e-11
    assert models.prior_stat_sum(values) == math.inf
    # linked parameters count their prior once
    models.link("a.spectral.index", "b.spectral.index")
    assert models.prior_stat_sum() == pytest.approx(base)
    assert models.parameter_space().prior_stat_sum() == pytest.approx(base)


def test_covariance_from_factor_matrix_and_errors():
    models = _two_sources()
    names = models.free_parameter_names
    n = len(names)
    factor_cov = np.diag(np.full(n, 0.01))
    factor_cov[0, 1] = factor_cov[1, 0] = 0.005
    models.set_free_covariance(factor_cov)
    cov = models.covariance
    amp = models.parameter("a.spectral.amplitude")
    assert amp.error == pytest.approx(0.1 * amp.scale)
    i, j = cov.names.index(names[0]), cov.names.index(names[1])
    assert cov.data[i, j] == pytest.approx(0.005 * amp.scale)
    assert cov.data[cov.names.index("a.spectral.reference")].sum() == 0.0
