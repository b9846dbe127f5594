"""Spectral models: values and integrals against Gammapy and quadrature, units, laziness."""

from __future__ import annotations

import itertools

import astropy.units as u
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

import gammax.models as xm
from gammax.errors import UnitError
from gammax.testing import raise_if_dask_computes

from .conftest import energy_da

# (class name, parameters): the same in gammax and Gammapy.
CASES = [
    ("ConstantSpectralModel", {"const": "3e-12 cm-2 s-1 TeV-1"}),
    (
        "PowerLawSpectralModel",
        {"index": 2.3, "amplitude": "3e-12 cm-2 s-1 TeV-1", "reference": "2 TeV"},
    ),
    ("PowerLawSpectralModel", {"index": 1.0, "reference": "1000 GeV"}),
    ("PowerLaw2SpectralModel", {"index": 2.6, "amplitude": "2e-11 cm-2 s-1", "emin": "1 TeV"}),
    ("BrokenPowerLawSpectralModel", {"index1": 1.5, "index2": 3.1, "ebreak": "3 TeV"}),
    (
        "SmoothBrokenPowerLawSpectralModel",
        {"index1": 1.5, "index2": 3.1, "ebreak": "3 TeV", "beta": 2.0},
    ),
    ("LogParabolaSpectralModel", {"alpha": 2.1, "beta": 0.2, "reference": "1 TeV"}),
    ("LogParabola2SpectralModel", {"alpha": 2.1, "beta": 0.1, "escale": "3 TeV"}),
    ("ExpCutoffPowerLawSpectralModel", {"index": 1.8, "lambda_": "0.05 TeV-1", "alpha": 1.5}),
    ("ExpCutoffPowerLaw3FGLSpectralModel", {"index": 1.7, "ecut": "20 TeV"}),
    ("SuperExpCutoffPowerLaw3FGLSpectralModel", {"index_1": 1.6, "index_2": 0.8, "ecut": "30 TeV"}),
    (
        "SuperExpCutoffPowerLaw4FGLSpectralModel",
        {
            "expfactor": 3e-5,
            "index_2": 0.67,
            "reference": "1000 MeV",
            "amplitude": "1e-9 cm-2 s-1 MeV-1",
        },
    ),
    (
        "SuperExpCutoffPowerLaw4FGLDR3SpectralModel",
        {"expfactor": 0.4, "index_2": 0.67, "reference": "2 TeV"},
    ),
    ("GaussianSpectralModel", {"mean": "3 TeV", "sigma": "1.5 TeV"}),
    ("PowerLawNormSpectralModel", {"norm": 1.3, "tilt": 0.2}),
    ("LogParabolaNormSpectralModel", {"norm": 0.9, "alpha": 0.3, "beta": 0.1}),
    ("ExpCutoffPowerLawNormSpectralModel", {"index": 0.2, "lambda_": "0.02 TeV-1"}),
]
ANALYTIC = {
    "ConstantSpectralModel",
    "PowerLawSpectralModel",
    "PowerLaw2SpectralModel",
    "GaussianSpectralModel",
    "PowerLawNormSpectralModel",
}
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def _pair(gp, name, pars):
    return getattr(gp, name)(**pars), getattr(xm, name)(**pars)


def _ref_in(quantity, unit):
    return quantity.to_value(unit) if unit else quantity.to_value("")


@pytest.mark.gammapy
@pytest.mark.parametrize(("name", "pars"), CASES, ids=IDS)
def test_values_match_gammapy(gp, name, pars, energy_edges):
    g, x = _pair(gp, name, pars)
    energy = energy_edges * u.TeV
    got = x(energy)
    assert got.dims == ("energy_true",)
    want = _ref_in(g(energy), got.attrs["units"])
    np.testing.assert_allclose(got.values, want, rtol=1e-12, atol=1e-14 * np.abs(want).max())


@pytest.mark.gammapy
@pytest.mark.parametrize(
    ("name", "pars"),
    [c for c in CASES if c[0] in ANALYTIC],
    ids=[i for i, c in zip(IDS, CASES, strict=True) if c[0] in ANALYTIC],
)
def test_analytic_integrals_match_gammapy(gp, name, pars, energy_edges):
    g, x = _pair(gp, name, pars)
    lo, hi = energy_edges[:-1] * u.TeV, energy_edges[1:] * u.TeV
    flux, eflux = x.integral(lo, hi), x.energy_flux(lo, hi)
    tol = {"rtol": 1e-10, "atol": 0}
    with np.errstate(divide="ignore", invalid="ignore"):  # Gammapy's index=1 branch
        want_flux = _ref_in(g.integral(lo, hi), flux.attrs["units"])
        want_eflux = _ref_in(g.energy_flux(lo, hi), eflux.attrs["units"])
    if name == "GaussianSpectralModel":  # far tails underflow to exactly 0
        tol["atol"] = 1e-14 * np.max(want_flux)
    np.testing.assert_allclose(flux.values, want_flux, **tol)
    if name == "GaussianSpectralModel":
        tol["atol"] = 1e-14 * np.max(want_eflux)
    np.testing.assert_allclose(eflux.values, want_eflux, **tol)


@pytest.mark.gammapy
@pytest.mark.parametrize(("name", "pars"), CASES, ids=IDS)
def test_integrals_match_quadrature_and_gammapy(gp, name, pars):
    """Quadrature of the Gammapy model (scipy.quad) is the reference, to 1e-9."""
    g, x = _pair(gp, name, pars)
    edges = np.geomspace(0.1, 100.0, 7)
    unit = x.unit

    def ref(a, b, moment):
        def f(e):
            return float(np.squeeze(_ref_in(g(e * u.TeV), unit))) * e**moment

        return quad(f, a, b, epsrel=1e-12, epsabs=0, limit=200, points=[1.0, 3.0])[0]

    for moment, method in ((0, x.integral), (1, x.energy_flux)):
        got = method(edges[:-1] * u.TeV, edges[1:] * u.TeV)
        factor = u.Unit(got.attrs["units"]).to(u.Unit(unit) * u.TeV ** (1 + moment))
        want = np.array([ref(a, b, moment) for a, b in itertools.pairwise(edges)])
        keep = np.abs(want) > 1e-12 * np.abs(want).max()
        np.testing.assert_allclose(got.values[keep] * factor, want[keep], rtol=1e-9)
    # and Gammapy's own (log-log trapezoid) integral, finely sampled
    with np.errstate(divide="ignore", invalid="ignore"):  # Gammapy's index=1 branch
        g_flux = g.integral(edges[:-1] * u.TeV, edges[1:] * u.TeV, ndecade=2000)
    g_flux = g_flux.to_value(u.Unit(unit) * u.TeV)
    got = x.integral(edges[:-1] * u.TeV, edges[1:] * u.TeV)
    factor = u.Unit(got.attrs["units"]).to(u.Unit(unit) * u.TeV)
    np.testing.assert_allclose(got.values * factor, g_flux, rtol=2e-5)


@pytest.mark.gammapy
def test_template_and_piecewise_match_gammapy(gp, energy_edges):
    nodes = [0.1, 1.0, 10.0, 100.0] * u.TeV
    values = [1e-10, 1e-12, 1e-15, 1e-18] * u.Unit("cm-2 s-1 TeV-1")
    g, x = gp.TemplateSpectralModel(nodes, values), xm.TemplateSpectralModel(nodes, values)
    energy = energy_edges * u.TeV  # includes extrapolation below 0.1 and above 100 TeV
    np.testing.assert_allclose(x(energy).values, g(energy).to_value(x.unit), rtol=1e-12)
    norms = [1.0, 2.0, 0.5, 3.0]
    g = gp.PiecewiseNormSpectralModel(nodes, norms=norms)
    x = xm.PiecewiseNormSpectralModel(nodes, norms=norms)
    np.testing.assert_allclose(x(energy).values, g(energy).value, rtol=1e-12)
    g = gp.PiecewiseNormSpectralModel(nodes, norms=norms, interp="lin")
    x = xm.PiecewiseNormSpectralModel(nodes, norms=norms, interp="lin")
    np.testing.assert_allclose(x(energy).values, g(energy).value, rtol=1e-12)


@pytest.mark.gammapy
def test_compound_matches_gammapy(gp, energy_edges):
    absorption = ([0.1, 1, 10, 100] * u.TeV, [1.0, 0.9, 0.4, 0.01] * u.Unit(""))
    g = gp.PowerLawSpectralModel(index=2.2) * gp.TemplateSpectralModel(*absorption)
    x = xm.PowerLawSpectralModel(index=2.2) * xm.TemplateSpectralModel(*absorption)
    energy = energy_edges * u.TeV
    np.testing.assert_allclose(x(energy).values, g(energy).to_value(x.unit), rtol=1e-12)
    g = gp.PowerLawSpectralModel(index=2.2) + gp.LogParabolaSpectralModel(
        amplitude="1e-9 cm-2 s-1 MeV-1", reference="1 TeV"
    )
    x = xm.PowerLawSpectralModel(index=2.2) + xm.LogParabolaSpectralModel(
        amplitude="1e-9 cm-2 s-1 MeV-1", reference="1 TeV"
    )
    np.testing.assert_allclose(x(energy).values, g(energy).to_value(x.unit), rtol=1e-12)
    # a sum of analytic parts is integrated analytically (Gammapy's compound is numeric)
    g1, g2 = gp.PowerLawSpectralModel(index=2.2), gp.PowerLawSpectralModel(index=3.0)
    x = xm.PowerLawSpectralModel(index=2.2) + xm.PowerLawSpectralModel(index=3.0)
    lo, hi = energy[:-1], energy[1:]
    want = (g1.integral(lo, hi) + g2.integral(lo, hi)).to_value("cm-2 s-1")
    np.testing.assert_allclose(x.integral(lo, hi).values, want, rtol=1e-12)


def test_units_are_fixed_by_the_model():
    pl = xm.PowerLawSpectralModel(amplitude="1e-9 cm-2 s-1 MeV-1", reference="1 GeV")
    assert pl.energy_unit == "MeV"
    a = pl(1 * u.TeV)
    b = pl(energy_da([1.0], unit="TeV"))
    c = pl(1.0)  # bare numbers are TeV
    assert u.Unit(a.attrs["units"]) == u.Unit("cm-2 s-1 MeV-1")
    np.testing.assert_allclose([float(a), float(b[0]), float(c)], 1e-9 * 1e3**-2.0)
    flux = pl.integral(1 * u.TeV, 10 * u.TeV)
    assert u.Unit(flux.attrs["units"]) == u.Unit("cm-2 s-1")


def test_e2dnde_units():
    pl = xm.PowerLawSpectralModel(index=2.0)
    sed = pl.e2dnde([1.0, 10.0] * u.TeV)
    assert u.Unit(sed.attrs["units"]) == u.Unit("TeV cm-2 s-1")
    np.testing.assert_allclose(sed.values, [1e-12, 1e-12])


def test_dataarray_without_units_is_an_error():
    with pytest.raises(UnitError, match="attrs\\['units'\\]"):
        xm.PowerLawSpectralModel()(xr.DataArray([1.0], dims="energy"))
    with pytest.raises(UnitError, match="cannot be converted"):
        xm.PowerLawSpectralModel()(energy_da([1.0], unit="deg"))


def test_evaluation_broadcasts_by_dim_name():
    pl = xm.PowerLawSpectralModel()
    e_true = energy_da([1.0, 2.0, 4.0])
    e_other = energy_da([[1.0, 2.0]], dim=("x", "y"))
    assert pl(e_true).dims == ("energy_true",)
    lo = energy_da([1.0, 2.0])
    hi = xr.DataArray([[2.0, 3.0, 4.0]] * 2, dims=("energy_true", "k"), attrs={"units": "TeV"})
    assert pl.integral(lo, hi).dims == ("energy_true", "k")
    assert pl(e_other).shape == (1, 2)


def test_values_do_not_mutate_and_keys_are_local():
    pl = xm.PowerLawSpectralModel(index=2.0)
    v3 = pl(2.0, values={"index": 3.0, "unrelated": 1.0})
    assert pl.index.value == 2.0
    np.testing.assert_allclose(float(v3), 1e-12 * 2.0**-3)
    compound = xm.PowerLawSpectralModel() * xm.PowerLawNormSpectralModel()
    assert compound.parameter_keys() == (
        "model1.index",
        "model1.amplitude",
        "model1.reference",
        "model2.tilt",
        "model2.norm",
        "model2.reference",
    )
    np.testing.assert_allclose(float(compound(1.0, values={"model2.norm": 2.0})), 2e-12)


def test_lazy_evaluation_computes_nothing_and_matches_eager(energy_edges):
    models = [
        xm.LogParabolaSpectralModel(),
        xm.PowerLawSpectralModel() * xm.TemplateSpectralModel([1, 10] * u.TeV, [1.0, 0.5]),
        xm.BrokenPowerLawSpectralModel(index2=3),
    ]
    lo = xr.DataArray(
        da.from_array(energy_edges[:-1], chunks=6), dims="energy_true", attrs={"units": "TeV"}
    )
    hi = xr.DataArray(
        da.from_array(energy_edges[1:], chunks=6), dims="energy_true", attrs={"units": "TeV"}
    )
    for model in models:
        with raise_if_dask_computes():
            dnde = model(lo)
            flux = model.integral(lo, hi)
            eflux = model.energy_flux(lo, hi)
        assert isinstance(dnde.data, da.Array) and dnde.data.chunks == ((6, 6, 6, 6),)
        np.testing.assert_array_equal(dnde.values, model(lo.compute()).values)
        np.testing.assert_allclose(
            flux.values, model.integral(lo.compute(), hi.compute()).values, rtol=1e-14
        )
        np.testing.assert_allclose(
            eflux.values, model.energy_flux(lo.compute(), hi.compute()).values, rtol=1e-14
        )


def test_bin_bounds_from_axes_and_cf_bounds():
    from gammax.geom import MapAxis

    axis = MapAxis.from_energy_bounds("1 TeV", "100 TeV", 4, name="energy_true")
    lo, hi = xm.bin_bounds(axis)
    np.testing.assert_allclose(hi.values / lo.values, 10**0.5)
    ds = xr.Dataset(
        coords={
            "energy_true": ("energy_true", [1.5, 3.0], {"units": "TeV", "bounds": "eb"}),
            "eb": (("energy_true", "bounds"), [[1.0, 2.0], [2.0, 4.0]], {"units": "TeV"}),
        }
    )
    lo, hi = xm.bin_bounds(ds, "energy_true")
    flux = xm.PowerLawSpectralModel().integral(lo, hi)
    np.testing.assert_allclose(flux.values, [0.5e-12, 0.25e-12])


def test_compound_of_incompatible_units_is_an_error():
    with pytest.raises(UnitError, match="cannot add"):
        xm.PowerLawSpectralModel() + xm.PowerLawNormSpectralModel()


LOG_E = st.floats(min_value=-2.0, max_value=2.5)


@settings(max_examples=40, deadline=None)
@given(a=LOG_E, b=LOG_E, c=LOG_E, alpha=st.floats(1.0, 3.0), beta=st.floats(0.0, 0.5))
# found by hypothesis in CI: the power laws were antisymmetric only to the rounding
# of the bound ratio (2e-9 relative in a bin 2e-9 wide)
@example(a=0.0, b=0.0, c=1e-09, alpha=1.0, beta=0.0)
def test_integral_over_adjacent_bins_adds_up(a, b, c, alpha, beta):
    e1, e2, e3 = 10.0 ** np.sort([a, b, c])
    for model in (
        xm.LogParabolaSpectralModel(alpha=alpha, beta=beta, reference="1 TeV"),
        xm.ExpCutoffPowerLawSpectralModel(index=alpha, lambda_=f"{beta} TeV-1"),
        xm.BrokenPowerLawSpectralModel(index1=alpha, index2=alpha + beta, ebreak="2 TeV"),
        xm.PowerLawSpectralModel(index=alpha),
    ):
        lo, hi = energy_da([e1, e2]), energy_da([e2, e3])
        parts = model.integral(lo, hi).values.sum()
        whole = float(model.integral(e1, e3))
        np.testing.assert_allclose(parts, whole, rtol=1e-10, atol=1e-30)
        # reversed bounds give the negative
        np.testing.assert_allclose(float(model.integral(e3, e1)), -whole, rtol=1e-12, atol=1e-30)
