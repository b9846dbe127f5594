"""Dataset schemas: the validator names every problem, using metadata only."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from gammax.datasets import SCHEMAS, MapDataset, SpectrumDataset, validate
from gammax.errors import FormatError, UnitError
from gammax.geom import MapAxis, WcsGeom
from gammax.testing import raise_if_dask_computes


def toy():
    e = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
    et = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3, name="energy_true")
    geom = WcsGeom.create(skydir=(0, 0), npix=6, binsz=0.1, axes=[e])
    counts = geom.wrap(np.zeros(geom.shape))
    exposure = geom.to_image().to_cube([et]).wrap(np.ones((3, 6, 6)), unit="m2 s")
    return MapDataset.create(
        counts,
        exposure,
        background=geom.wrap(np.ones(geom.shape)),
        mask_safe=np.ones(geom.shape, bool),
        name="toy",
    )


def test_valid_dataset_passes_and_is_returned():
    ds = toy()
    assert validate(ds) is ds
    assert MapDataset.is_instance(ds) and not SpectrumDataset.is_instance(ds)
    assert (
        "exposure('energy_true', 'y', 'x') unit m2 s (required)" in SCHEMAS["MapDataset"].describe()
    )


@given(st.sets(st.sampled_from(["counts", "exposure"]), min_size=1))
def test_every_missing_required_variable_is_named(missing):
    ds = toy().drop_vars(sorted(missing))
    with pytest.raises(FormatError) as err:
        validate(ds)
    for name in missing:
        assert f"required variable {name!r}" in str(err.value)
    assert "'toy'" in str(err.value)


def test_wrong_dims_dtype_units_and_edges_are_reported():
    ds = toy()
    bad = ds.assign(counts=ds.counts.transpose("x", "y", "energy"))
    with pytest.raises(FormatError, match=r"'counts' has dims \('x', 'y', 'energy'\)"):
        validate(bad)
    with pytest.raises(FormatError, match="'mask_safe' has dtype float64"):
        validate(ds.assign(mask_safe=ds.mask_safe.astype(float)))
    with pytest.raises(UnitError, match="'exposure' has unit 'TeV', not convertible to 'm2 s'"):
        validate(ds.assign(exposure=ds.exposure.assign_attrs(units="TeV")))
    no_edges = ds.assign_coords(energy=xr.DataArray(ds.energy.values, dims="energy"))
    with pytest.raises(FormatError, match="neither 'edges' nor CF 'bounds'"):
        validate(no_edges)
    with pytest.raises(FormatError, match="unknown dataset type"):
        validate(ds.assign_attrs(gammax_dataset="Map"))
    with pytest.raises(FormatError, match="expected a SpectrumDataset"):
        SpectrumDataset.validate(ds)
    with pytest.raises(FormatError, match=r"xarray\.Dataset"):
        validate(ds.counts)


def test_validation_does_not_compute():
    ds = toy().chunk({"y": 3})
    with raise_if_dask_computes():
        validate(ds)


def test_schema_units_are_parsable():
    import astropy.units as u

    for schema in SCHEMAS.values():
        for var in schema.variables:
            if var.unit:
                u.Unit(var.unit)
    assert isinstance(xr.Dataset(), xr.Dataset)
