"""Convolution: kernels, Gammapy's smooth, chunk borders with map_overlap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, signal

from gammax import dims
from gammax.errors import GeometryError
from gammax.geom import HpxGeom, MapAxis, WcsGeom
from gammax.geom.convolve import (
    box_kernel,
    convolve,
    disk_kernel,
    gaussian_kernel,
    ring_kernel,
    smooth,
)
from gammax.testing import raise_if_dask_computes


@pytest.fixture(scope="module")
def cube():
    geom = WcsGeom.create(
        skydir=(0, 0),
        npix=(64, 48),
        binsz=0.02,
        frame="galactic",
        axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)],
    )
    rng = np.random.default_rng(11)
    return geom.wrap(rng.poisson(2.0, geom.shape).astype(float), unit="")


@pytest.mark.parametrize(
    "kernel",
    [
        gaussian_kernel(2.5),
        disk_kernel(4.2),
        ring_kernel(3.0, 2.0),
        box_kernel(5),
        np.arange(15.0).reshape(3, 5),
    ],
)
@pytest.mark.parametrize("mode", ["constant", "reflect", "nearest", "wrap"])
def test_chunked_convolution_equals_whole_array(cube, kernel, mode):
    eager = convolve(cube, kernel, mode=mode)
    for image, result in zip(cube.values, eager.values, strict=True):
        np.testing.assert_allclose(
            result, ndimage.convolve(image, kernel, mode=mode), rtol=1e-12, atol=1e-12
        )
    with raise_if_dask_computes():
        lazy = convolve(cube.chunk({dims.X: 13, dims.Y: 11}), kernel, mode=mode)
    np.testing.assert_allclose(lazy.values, eager.values, rtol=1e-12, atol=1e-12)
    assert lazy.gx.geom == cube.gx.geom


def test_constant_mode_is_a_zero_padded_convolution(cube):
    kernel = ring_kernel(4.0, 1.5)
    image = cube.values[0]
    expected = signal.convolve(image, kernel, mode="same", method="direct")
    np.testing.assert_allclose(convolve(cube, kernel).values[0], expected, atol=1e-12)


@pytest.mark.parametrize("sigma", [0.7, 3.0])
def test_gaussian_kernel_is_ndimage_gaussian(sigma):
    impulse = np.zeros((41, 41))
    impulse[20, 20] = 1.0
    expected = ndimage.gaussian_filter(impulse, sigma, mode="constant")
    k = gaussian_kernel(sigma)
    half = k.shape[0] // 2
    np.testing.assert_allclose(
        expected[20 - half : 21 + half, 20 - half : 21 + half], k, atol=1e-15
    )
    assert abs(k.sum() - 1) < 1e-12


@pytest.mark.gammapy
@pytest.mark.parametrize("kernel", ["gauss", "disk"])
@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_smooth_matches_gammapy(cube, kernel, mode):
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GMapAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    ggeom = GWcsGeom.create(
        skydir=(0, 0),
        npix=(64, 48),
        binsz=0.02,
        frame="galactic",
        axes=[GMapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)],
    )
    gmap = Map.from_geom(ggeom, data=cube.values.copy())
    expected = gmap.smooth("0.07 deg", kernel=kernel, mode=mode).data
    np.testing.assert_allclose(
        smooth(cube, "0.07 deg", kernel=kernel, mode=mode).values, expected, rtol=1e-6, atol=1e-12
    )
    lazy = smooth(cube.chunk({dims.X: 16}), "0.07 deg", kernel=kernel, mode=mode)
    np.testing.assert_allclose(lazy.values, expected, rtol=1e-6, atol=1e-12)


def test_kernel_and_geometry_checks(cube):
    with pytest.raises(GeometryError, match="odd"):
        convolve(cube, np.ones((4, 3)))
    with pytest.raises(GeometryError, match="WCS"):
        convolve(HpxGeom(4).empty(), np.ones((3, 3)))
    with pytest.raises(GeometryError, match="kernel"):
        smooth(cube, 2.0, kernel="airy")
    for k in (disk_kernel(3.3), ring_kernel(2.0, 3.0), box_kernel(3)):
        assert abs(k.sum() - 1) < 1e-12
