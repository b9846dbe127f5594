"""Map datasets from reduction stores: lazy, geometries, cutouts, fakes."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from gammax.datasets import MapDataset, MapDatasetOnOff, fit_mask, irf_maps
from gammax.errors import ConfigError
from gammax.testing import raise_if_dask_computes

pytestmark = pytest.mark.data


def test_from_zarr_is_lazy_and_complete(small_zarr):
    import xarray as xr

    with raise_if_dask_computes():
        ds = MapDataset.from_zarr(small_zarr, "map/obs/23523")
        cut = MapDataset.cutout(ds, SkyCoord(83.633, 22.0145, unit="deg"), 1.0)
    assert ds.attrs["name"] == "23523" and ds.attrs["obs_id"] == 23523
    assert ds.attrs["livetime"] > 1000
    for name in ("counts", "exposure", "background", "mask_safe", "psf", "edisp"):
        assert hasattr(ds[name].data, "dask"), name
    maps = xr.open_zarr(small_zarr, group="map/obs/23523/maps", consolidated=False)
    np.testing.assert_array_equal(ds.counts.values, maps.counts.values)
    assert ds.counts.gx.geom == maps.counts.gx.geom
    irf = irf_maps(ds)
    assert irf.psf.gx.geom.npix == (10, 10) and irf.psf.dims == ("energy_true", "rad", "y", "x")
    assert cut.counts.shape == (6, 20, 20)
    # the cutout keeps its place on the sky, the IRF maps cover it
    geom = cut.counts.gx.geom
    lon, lat = geom.pix_to_world(np.array([0.0, 19.0]), np.array([0.0, 19.0]))
    irf_geom = irf_maps(cut).psf.gx.geom
    px, py = irf_geom.world_to_pix(lon, lat, "icrs")
    assert np.all((px > -0.5) & (px < irf_geom.npix[0] - 0.5) & (py > -0.5))


def test_stacked_group_and_errors(small_zarr):
    ds = MapDataset.from_zarr(small_zarr, "map/stacked", name="crab")
    assert ds.attrs["name"] == "crab" and ds.attrs["n_obs"] == 2
    with pytest.raises(FileNotFoundError, match="map/obs/1"):
        MapDataset.from_zarr(small_zarr, "map/obs/1")


def test_fit_mask_and_fake(small_zarr):
    ds = MapDataset.from_zarr(small_zarr, "map/obs/23526").load()
    mask = fit_mask(ds)
    np.testing.assert_array_equal(mask.values, ds.mask_safe.values)
    ds2 = ds.assign(mask_fit=~ds.mask_safe)
    assert not fit_mask(ds2).values.any()
    mu = np.full(ds.counts.shape, 4.0)
    faked = MapDataset.fake(ds, mu, seed=7)
    assert faked.attrs["fake_seed"] == 7
    counts = faked.counts.values
    assert counts.mean() == pytest.approx(4.0, rel=0.01)
    assert counts.var() == pytest.approx(4.0, rel=0.03)
    np.testing.assert_array_equal(MapDataset.fake(ds, mu, seed=7).counts.values, counts)
    with pytest.raises(ConfigError, match="non-negative"):
        MapDataset.fake(ds, -mu, seed=1)


def test_onoff_map_dataset_and_fake(small_zarr):
    ds = MapDataset.from_zarr(small_zarr, "map/stacked").load()
    onoff = MapDatasetOnOff.create(
        ds.counts,
        ds.exposure,
        counts_off=ds.counts,
        acceptance=1.0,
        acceptance_off=4.0,
        mask_safe=ds.mask_safe,
        name="onoff",
    )
    assert onoff.attrs["gammax_dataset"] == "MapDatasetOnOff"
    assert float(onoff.acceptance_off.max()) == 4.0
    faked = MapDatasetOnOff.fake(
        onoff, np.zeros(ds.counts.shape), np.full(ds.counts.shape, 2.0), seed=1
    )
    # OFF counts ~ Poisson(background / alpha) = Poisson(8)
    assert faked.counts_off.values.mean() == pytest.approx(8.0, rel=0.02)
    assert faked.counts.values.mean() == pytest.approx(2.0, rel=0.02)
