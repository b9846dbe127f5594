"""Offset-only IRFs evaluated once per distinct pixel offset equal the per-pixel evaluation."""

from __future__ import annotations

import numpy as np
import pytest

import gammax
from gammax.geom import MapAxis, WcsGeom
from gammax.irf import edisp_kernel, evaluate_aeff
from gammax.reduce.products import (
    _axis_values,
    make_edisp_kernel_map,
    make_exposure,
    on_unique_offsets,
    pixel_offsets,
)
from gammax.units import parse_unit

pytestmark = pytest.mark.data

POINTING = (83.63, 22.51)


@pytest.fixture(scope="module")
def irfs(hess_dir):
    store = gammax.open_datastore(hess_dir)
    return store.irf(23523, "aeff"), store.irf(23523, "edisp")


def test_exposure_equals_per_pixel_evaluation(irfs):
    aeff, _ = irfs
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    geom = WcsGeom.create(width=4, binsz=0.02, frame="icrs", proj="CAR", skydir=POINTING)
    exposure = make_exposure(geom, aeff, POINTING, 1000.0, energy_true)
    offset = pixel_offsets(geom, POINTING).reset_coords(drop=True)
    direct = evaluate_aeff(aeff, _axis_values(energy_true), offset, extrapolate="fill")
    to_m2 = float(parse_unit(direct.attrs["units"]).to("m2"))
    expected = direct.transpose("energy_true", *offset.dims).values * to_m2 * 1000.0
    assert float(np.abs(expected).max()) > 0
    np.testing.assert_allclose(exposure.values, expected, rtol=1e-7, atol=1e-6)


def test_edisp_kernel_map_equals_per_pixel_evaluation(irfs):
    _, edisp = irfs
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    geom = WcsGeom.create(width=4, binsz=0.2, frame="icrs", proj="CAR", skydir=POINTING)
    kernel = make_edisp_kernel_map(geom, edisp, POINTING, energy_true, energy)
    offset = pixel_offsets(geom, POINTING).reset_coords(drop=True)
    direct = edisp_kernel(
        edisp, _axis_values(energy_true).rename(None), np.asarray(energy.edges), offset
    )
    expected = direct.transpose("energy_true", "energy", *offset.dims).values
    np.testing.assert_allclose(kernel.values, expected, rtol=1e-7, atol=1e-12)


def test_distinct_offsets_are_few_on_a_centred_grid():
    geom = WcsGeom.create(width=4, binsz=0.2, frame="icrs", proj="CAR", skydir=POINTING)
    offset = pixel_offsets(geom, POINTING).reset_coords(drop=True)
    seen = []

    def evaluate(o):
        seen.append(o.size)
        return o * 2.0

    doubled = on_unique_offsets(offset, evaluate)
    # a 20 x 20 grid centred on the pointing: mirror images share their offset
    assert seen[0] < offset.size / 4
    np.testing.assert_allclose(doubled.values, 2.0 * offset.values, rtol=0, atol=3e-12)
    assert doubled.dims == offset.dims
