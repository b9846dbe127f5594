"""Events and GTIs: chunking, time references, attrs, dtypes of declared vs computed arrays."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

import gammax
from gammax.data import to_time
from gammax.testing import raise_if_dask_computes

from ..dl3_factory import make_store


@pytest.fixture
def store(tmp_path):
    return gammax.open_datastore(make_store(tmp_path / "s", obs_ids=(1, 2, 3), n=2500))


def test_large_observations_are_split_into_row_chunks(store):
    with dask.config.set({"gammax.events.chunk_rows": 1000}):
        events = store.events()
    assert events.ENERGY.chunks == ((1000, 1000, 500) * 3,)
    assert store.events(chunk_rows=2500).ENERGY.chunks == ((2500,) * 3,)
    whole = store.events(chunk_rows=10**6).compute()
    split = events.compute()
    for name in whole.data_vars:
        np.testing.assert_array_equal(whole[name].values, split[name].values)
    np.testing.assert_array_equal(split.obs_id.values, np.repeat([1, 2, 3], 2500))


def test_declared_dtypes_and_chunks_match_computed(store):
    events = store.events(chunk_rows=700)
    for name, var in events.variables.items():
        blocks = var.data.to_delayed().ravel()
        first = blocks[0].compute()
        assert first.dtype == var.dtype, name
        assert first.shape[0] == var.chunks[0][0], name
    assert events.MULTIP.dtype == np.int16


def test_header_attrs_and_per_obs_keywords(store):
    events = store.events()
    assert events.attrs["OBJECT"] == "Crab Nebula"  # same in all runs
    assert "TSTART" not in events.attrs  # differs between runs
    assert events.attrs["obs_headers"]["2"]["OBS_ID"] == 2
    assert events.ENERGY.attrs["units"] == "TeV"
    assert events.TIME.attrs["timesys"] == "tt"


def test_times_refer_to_one_epoch_across_observations(tmp_path):
    root = make_store(tmp_path / "s", obs_ids=(1, 2))
    # move run 2 to another epoch: same instants, different MJDREF and TIME values
    path = root / "run_0002.fits.gz"
    with fits.open(path) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    shift_days = 100.0
    for name in ("EVENTS", "GTI"):
        hdul[name].header["MJDREFI"] = hdul[name].header["MJDREFI"] + int(shift_days)
    hdul["EVENTS"].data["TIME"] -= shift_days * 86400.0
    hdul["GTI"].data["START"] -= shift_days * 86400.0
    hdul["GTI"].data["STOP"] -= shift_days * 86400.0
    hdul.writeto(path, overwrite=True)
    store = gammax.open_datastore(root)
    events = store.events().compute()
    original = gammax.open_datastore(make_store(tmp_path / "ref", obs_ids=(1, 2)))
    expected = to_time(original.events().TIME.compute())
    got = to_time(events.TIME)
    assert np.max(np.abs((got - expected).to_value("s"))) < 1e-5
    gti = store.gti().compute()
    assert gti.START.attrs["mjdref"] == events.TIME.attrs["mjdref"]
    start = to_time(gti.START)
    assert isinstance(start, Time) and start[2] > start[1]


def test_pointing_from_headers_without_index_columns(tmp_path):
    root = make_store(tmp_path / "s", obs_ids=(4, 5))
    for index in root.glob("*index*"):
        index.unlink()
    store = gammax.open_datastore(root)
    with raise_if_dask_computes():
        pointing = store.pointing()
    assert pointing.RA_PNT.attrs["units"] == "deg"
    np.testing.assert_allclose(pointing.RA_PNT.values, 83.63)
    assert pointing.attrs["frame"] == "icrs"
