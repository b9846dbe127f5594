"""Opening the full H.E.S.S. store and building its events computes nothing and reads no data."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

import gammax
from gammax import dims as D
from gammax.io import fits as fits_io
from gammax.testing import raise_if_dask_computes

pytestmark = pytest.mark.data


def test_full_hess_events_are_lazy_then_bit_identical(hess_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("event data were read while building the graph")

    with monkeypatch.context() as m, raise_if_dask_computes() as counter:
        m.setattr(fits_io, "read_columns", refuse)
        store = gammax.open_datastore(hess_dir)
        events = store.events()
        gti = store.gti()
        pointing = store.pointing()
        # Building more graph on top stays lazy too.
        total = events.ENERGY.sum()
        selected = events.where(events.ENERGY > 1.0)
    assert counter.total_computes == 0
    assert selected.ENERGY.chunks == events.ENERGY.chunks
    assert len(store) == 105
    assert events.sizes[D.EVENT] == int(store.obs_table["EVENT_COUNT"].sum())
    assert events.ENERGY.attrs["units"] == "TeV"
    assert events.TIME.attrs["timesys"] == "tt"
    assert gti.sizes[D.GTI] == 105
    assert pointing.sizes[D.OBS_ID] == 105
    # at least one chunk per observation
    assert len(events.ENERGY.chunks[0]) >= 105

    computed = events.compute()
    assert float(total.compute()) == pytest.approx(float(computed.ENERGY.sum()))
    offset = 0
    for obs_id in store.obs_ids:
        loc = store.location(int(obs_id), "events")
        with fits.open(loc.path) as hdul:
            data = hdul["EVENTS"].data
            n = len(data)
            for name in data.columns.names:
                expected = np.asarray(data[name])
                got = computed[name].values[offset : offset + n]
                assert got.dtype == expected.dtype.newbyteorder("="), name
                # bit for bit, NaNs included
                assert got.tobytes() == expected.astype(got.dtype).tobytes(), (obs_id, name)
            assert (computed.obs_id.values[offset : offset + n] == obs_id).all()
        offset += n
    assert offset == computed.sizes[D.EVENT]
