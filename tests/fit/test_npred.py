"""Predicted counts: analytic checks, the compiled chunks, dask, and Gammapy."""

from __future__ import annotations

import numpy as np
import pytest

from gammax.datasets import irf_maps
from gammax.fit import IrfArrays, Likelihood, cash, npred, npred_background, npred_signal
from gammax.fit.kernels import psf_kernel
from gammax.testing import raise_if_dask_computes

from .toy import axes, psf_sigma, toy_map_dataset, toy_models


def power_law_integral(lo, hi, index=2.5, amplitude=1e-11):
    """Analytic PL integral (reference 1 TeV), per cm2 s."""
    return amplitude / (1 - index) * (hi ** (1 - index) - lo ** (1 - index))


def bilinear(geom, lon, lat):
    x, y = geom.world_to_pix(np.array([lon]), np.array([lat]), "galactic")
    x, y = float(x[0]), float(y[0])
    ix, iy = int(np.floor(x)), int(np.floor(y))
    return [
        (iy + dy, ix + dx, (1 - abs(x - ix - dx)) * (1 - abs(y - iy - dy)))
        for dy in (0, 1)
        for dx in (0, 1)
    ]


def test_point_source_without_psf_or_edisp_is_flux_times_exposure():
    ds = toy_map_dataset(psf=False, edisp=False)
    models = toy_models()
    models["src"].apply_irf["edisp"] = False
    mu = npred_signal(ds, models).values
    energy, energy_true = axes()
    lo, hi = np.asarray(energy_true.edges[:-1]), np.asarray(energy_true.edges[1:])
    flux = power_law_integral(lo, hi)
    # the diagonal response sends each true bin to the reco bin holding its centre
    reco = np.searchsorted(np.asarray(energy.edges), np.asarray(energy_true.center)) - 1
    expected = np.zeros(ds.counts.shape)
    expo = ds.exposure.values * 1e4
    for iy, ix, w in bilinear(ds.counts.gx.geom, 0.02, -0.03):
        for t, r in enumerate(reco):
            if 0 <= r < energy.nbin:
                expected[r, iy, ix] += flux[t] * w * expo[t, iy, ix]
    np.testing.assert_allclose(mu, expected, rtol=1e-10, atol=1e-300)


def test_psf_kernel_is_normalised_with_the_gaussian_width():
    ds = toy_map_dataset()
    geom = ds.counts.gx.geom.to_image()
    kernel = psf_kernel(IrfArrays.from_dataset(ds), geom, 0.0, 0.0, "galactic")
    np.testing.assert_allclose(kernel.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    n = kernel.shape[-1]
    yy, xx = np.mgrid[:n, :n] - n // 2
    r2 = (xx**2 + yy**2) * 0.05**2
    second_moment = (kernel * r2).sum(axis=(1, 2))
    # 2D Gaussian: <r^2> = 2 sigma^2 (+ pixelisation, - truncation at 99.9% containment)
    expected = 2 * psf_sigma(axes()[1]) ** 2 + 2 * 0.05**2 / 12
    np.testing.assert_allclose(second_moment, expected, rtol=0.03)


def test_psf_and_edisp_conserve_counts():
    """Exposure applies at the true position, so PSF + edisp keep flux x exposure x row sums."""
    ds = toy_map_dataset(npix=61)
    mu = npred_signal(ds, toy_models()).values
    _, energy_true = axes()
    flux = power_law_integral(np.asarray(energy_true.edges[:-1]), np.asarray(energy_true.edges[1:]))
    expo_at_source = sum(
        w * ds.exposure.values[:, iy, ix] * 1e4
        for iy, ix, w in bilinear(ds.counts.gx.geom, 0.02, -0.03)
    )
    edisp = irf_maps(ds).edisp.values[:, :, 0, 0]
    expected = (flux * expo_at_source) @ edisp
    np.testing.assert_allclose(mu.sum(axis=(1, 2)), expected, rtol=1e-6)


def test_background_model_scales_the_template():
    ds = toy_map_dataset()
    models = toy_models()
    models.set_values({"toy-bkg.spectral.norm": 1.3, "toy-bkg.spectral.tilt": 0.2})
    bkg = npred_background(ds, models).values
    energy = np.asarray(axes()[0].center)
    np.testing.assert_allclose(bkg[:, 0, 0], 0.5 * 1.3 * energy**-0.2)
    total = npred(ds, models).values
    np.testing.assert_allclose(total, bkg + npred_signal(ds, models).values)


@pytest.mark.parametrize("spatial", ["point", "gauss"])
@pytest.mark.parametrize("chunks", [None, {"y": 10}, {"y": 17, "x": 25, "energy": 3}])
def test_compiled_likelihood_equals_cash_of_public_npred(spatial, chunks):
    ds = toy_map_dataset()
    models = toy_models(spatial=spatial)
    mu = npred(ds, models).values
    rng = np.random.default_rng(1)
    ds = ds.assign(counts=ds.counts.copy(data=rng.poisson(mu).astype(float)))
    expected = float(cash(ds.counts.values, mu).sum())
    like = Likelihood(ds, models, chunks=chunks)
    assert like(like.x0) == pytest.approx(expected, rel=1e-10)
    # away from the start values too (the boxes were built at the start)
    x = like.x0.copy()
    x[0] *= 1.05
    values = like.space.values_from_vector(x)
    expected = float(cash(ds.counts.values, npred(ds, models, values).values).sum())
    assert like(x) == pytest.approx(expected, rel=1e-10)


def _with_frozen_neighbours(models):
    """The toy models plus a frozen Gaussian and a frozen point source nearby."""
    import gammax.models as gm

    extra = []
    for name, spatial in (
        ("gauss", gm.GaussianSpatialModel(lon_0="0.3 deg", lat_0="0.1 deg", sigma="0.15 deg")),
        ("point", gm.PointSpatialModel(lon_0="-0.4 deg", lat_0="-0.2 deg")),
    ):
        spatial.frame = "galactic"
        m = gm.SkyModel(gm.PowerLawSpectralModel(index=2.2), spatial, name=name)
        m.freeze()
        extra.append(m)
    return gm.Models([*models, *extra])


@pytest.mark.parametrize("chunks", [None, {"y": 17, "x": 25}])
def test_frozen_sources_are_one_constant_array_with_the_same_statistic(chunks):
    ds = toy_map_dataset()
    models = _with_frozen_neighbours(toy_models())
    mu = npred(ds, models).values
    ds = ds.assign(counts=ds.counts.copy(data=np.random.default_rng(3).poisson(mu).astype(float)))
    like = Likelihood(ds, models, chunks=chunks, n_groups=1)
    chunks_built = like._groups[0].chunks
    # only the free source keeps kernels; the frozen ones are folded into a constant
    assert all([a.model.name for a in c.anchors] == ["src"] for c in chunks_built)
    assert sum(c.fixed_sum for c in chunks_built) > 10
    x = like.x0.copy()
    x[:2] *= 1.03
    for point in (like.x0, x):
        values = like.space.values_from_vector(point)
        expected = float(cash(ds.counts.values, npred(ds, models, values).values).sum())
        assert like(point) == pytest.approx(expected, rel=1e-10)
        dense = sum(c.npred(values).sum() for c in chunks_built)
        assert dense == pytest.approx(float(npred(ds, models, values).values.sum()), rel=1e-10)


@pytest.mark.parametrize("chunks", [None, {"y": 17, "x": 25}])
@pytest.mark.parametrize("spatial", ["point", "gauss"])
def test_a_source_with_only_its_norm_free_is_one_scaled_template(chunks, spatial):
    from gammax.estimators.core import scaled_models

    ds = toy_map_dataset()
    truth = _with_frozen_neighbours(toy_models(spatial=spatial))
    mu = npred(ds, truth).values
    ds = ds.assign(counts=ds.counts.copy(data=np.random.default_rng(4).poisson(mu).astype(float)))
    models, key = scaled_models(truth, "src", reoptimize=False)
    models.parameter(key).value = 0.8
    like = Likelihood(ds, models, chunks=chunks, n_groups=1)
    assert like.space.free == (key,)
    built = like._groups[0].chunks
    # no kernels, no exposure: a template at norm 1 per chunk
    assert all(not c.anchors and c.context.exposure is None for c in built)
    assert all([k for k, _, _ in c.linear] == [key] for c in built)
    for factor in (1.0, 1.7, 0.0):
        x = like.x0 * factor
        values = like.space.values_from_vector(x)
        expected = float(cash(ds.counts.values, npred(ds, models, values).values).sum())
        assert like(x) == pytest.approx(expected, rel=1e-10)
        dense = sum(c.npred(values).sum() for c in built)
        assert dense == pytest.approx(float(npred(ds, models, values).values.sum()), rel=1e-10)


def test_source_moving_out_of_its_box_is_rebuilt_exactly():
    ds = toy_map_dataset()
    models = toy_models()
    like = Likelihood(ds, models)
    key = "src.spatial.lon_0"
    i = like.space.free.index(key)
    far = like.space.vector_from_values({key: 0.5})  # 0.48 deg: beyond the 0.1 deg margin
    assert not like.in_reach(far)
    values = like.space.values_from_vector(far)
    expected = float(cash(ds.counts.values, npred(ds, models, values).values).sum())
    assert like(far) == pytest.approx(expected, rel=1e-10)
    assert like.in_reach(like.x0) and i >= 0


def test_npred_is_lazy_on_dask_and_equals_numpy():
    ds = toy_map_dataset()
    models = toy_models()
    lazy = ds.chunk({"y": 15, "x": 20, "energy": 2, "energy_true": 4})
    # the coarse IRF maps (small) are loaded once to build the kernels; nothing else
    with raise_if_dask_computes(max_computes=1):
        mu = npred(lazy, models)
    assert hasattr(mu.data, "dask")
    np.testing.assert_allclose(mu.values, npred(ds, models).values, rtol=1e-12, atol=1e-300)


@pytest.mark.gammapy
def test_npred_equals_gammapy_for_flat_exposure():
    """With a flat exposure Gammapy's PSF-then-exposure order is exact too: same npred."""
    from gammapy.modeling.models import (
        FoVBackgroundModel,
        Models,
        PointSpatialModel,
        PowerLawSpectralModel,
        SkyModel,
    )

    from .conftest import to_gammapy_map

    ds = toy_map_dataset(gradient=0.0)
    gds = to_gammapy_map(ds)
    gds.models = Models(
        [
            SkyModel(
                PowerLawSpectralModel(index=2.5, amplitude="1e-11 cm-2 s-1 TeV-1"),
                PointSpatialModel(lon_0="0.02 deg", lat_0="-0.03 deg", frame="galactic"),
                name="src",
            ),
            FoVBackgroundModel(dataset_name="toy"),
        ]
    )
    ours = npred(ds, toy_models()).values
    np.testing.assert_allclose(ours, gds.npred().data, rtol=1e-6, atol=1e-9 * ours.max())


@pytest.mark.data
@pytest.mark.gammapy
def test_psf_kernel_and_npred_match_gammapy_on_crab(crab_stacked):
    from astropy.coordinates import SkyCoord

    from .conftest import crab_models, gammapy_crab_models, to_gammapy_map

    gds = to_gammapy_map(crab_stacked)
    position = SkyCoord(83.63, 22.01, unit="deg")
    expected = gds.psf.get_psf_kernel(geom=gds.exposure.geom, position=position).data
    ours = psf_kernel(
        IrfArrays.from_dataset(crab_stacked),
        crab_stacked.counts.gx.geom.to_image(),
        83.63,
        22.01,
        "icrs",
    )
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, atol=1e-7)
    gds.models = gammapy_crab_models()
    models = crab_models()
    np.testing.assert_allclose(
        npred_background(crab_stacked, models).values, gds.npred_background().data, rtol=1e-12
    )
    # Gammapy convolves the spatial model with the PSF and multiplies by the exposure
    # afterwards; gammax multiplies first (the order of the physics). At the Crab, 0.5 deg
    # from the pointings, this changes the predicted source counts by < 1.5% per energy.
    signal = npred_signal(crab_stacked, models).values
    assert signal.min() >= 0  # no FFT rounding noise below zero (fakes need mu >= 0)
    ratio = signal.sum(axis=(1, 2)) / gds.npred_signal().data.sum(axis=(1, 2))
    np.testing.assert_allclose(ratio, 1.0, atol=0.015)
