"""Data stores: every real DL3 set opens; index tables; selections chain."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

import gammax
from gammax import dims as D
from gammax.errors import ObservationNotFoundError, SelectionError

from ..dl3_factory import make_store

HAWC_NN = {
    "hdu_index": "hdu-index-table-NN-Crab.fits.gz",
    "obs_index": "obs-index-table-NN-Crab.fits.gz",
}


@pytest.mark.data
@pytest.mark.parametrize(
    ("folder", "kwargs", "n_obs", "classes"),
    [
        ("hess-dl3-dr1", {}, 105, {"aeff_2d", "edisp_2d", "psf_table", "bkg_3d"}),
        ("cta-1dc/index/gps", {}, 4, {"aeff_2d", "edisp_2d", "psf_3gauss", "bkg_3d"}),
        ("magic/rad_max/data", {}, 2, {"aeff_2d", "edisp_2d", "rad_max_2d"}),
        ("veritas/crab-point-like-ED", {}, 4, {"aeff_2d", "edisp_2d"}),
        ("joint-crab/dl3/magic", {}, 2, {"aeff_2d", "edisp_2d"}),
        (
            "hawc/crab_events_pass4",
            {**HAWC_NN, "index_hdu": 5},
            1,
            {"map", "edisp_kernel_map", "psf_map_reco"},
        ),
    ],
)
def test_every_dl3_set_opens(data_dir, folder, kwargs, n_obs, classes):
    store = gammax.open_datastore(data_dir / folder, **kwargs)
    assert len(store) == n_obs
    assert store.obs_table[D.OBS_ID].dtype == np.int64
    assert classes <= set(store.hdu_table["HDU_CLASS"].values.tolist())
    # the obs table holds every column of the index file, with units
    obs_file = kwargs.get("obs_index") or next(
        p.name for p in (data_dir / folder).glob("obs-index*")
    )
    table = Table.read(data_dir / folder / obs_file, hdu=1)
    assert set(table.colnames) - {"OBS_ID"} == set(store.obs_table.data_vars)
    for name in table.colnames:
        if name != "OBS_ID" and table[name].unit is not None:
            assert u.Unit(store.obs_table[name].attrs["units"]) == table[name].unit, name
    assert "events" in store.summary() or "HDUs" in store.summary()


@pytest.mark.data
def test_readable_events_of_every_set(data_dir):
    cases = [
        ("hess-dl3-dr1", {}),
        ("cta-1dc/index/gps", {}),
        ("magic/rad_max/data", {}),
        ("veritas/crab-point-like-ED", {}),
        ("hawc/crab_events_pass4", {**HAWC_NN, "index_hdu": 9}),
    ]
    for folder, kwargs in cases:
        store = gammax.open_datastore(data_dir / folder, **kwargs)
        first = int(store.obs_ids[0])
        events = store.events(first)
        loc = store.location(first, "events")
        expected = fits.getdata(loc.path, loc.hdu)["ENERGY"]
        np.testing.assert_array_equal(events.ENERGY.values, expected)


@pytest.mark.data
def test_hess_obs_table_units_and_time_reference(hess_dir):
    store = gammax.open_datastore(hess_dir)
    obs = store.obs_table
    assert obs.RA_PNT.attrs["units"] == "deg"
    assert obs.LIVETIME.attrs["units"] == "s"
    assert obs.attrs["MJDREFI"] == 51910
    assert obs.OBJECT.sel(obs_id=23523).item() == "Crab Nebula"


@pytest.mark.data
def test_hess_selections_chain(hess_dir):
    store = gammax.open_datastore(hess_dir)
    crab = SkyCoord(83.633, 22.0145, unit="deg")
    # the cone works in any frame
    by_cone = store.select_cone(crab.galactic, 3 * u.deg)
    assert set(by_cone.obs_ids) == {23523, 23526, 23559, 23592}
    by_target = store.select_target("crab")
    assert list(by_target.obs_ids) == list(by_cone.obs_ids)
    assert list(store.select_target("PKS*").obs_ids) == list(
        store.obs_ids[[str(o).startswith("PKS") for o in store.obs_table.OBJECT.values]]
    )
    chained = store.select_target("crab").select_range("ZEN_PNT", max=48 * u.deg)
    expected = [o for o in by_target.obs_ids if store.obs_table.ZEN_PNT.sel(obs_id=o) <= 48]
    assert list(chained.obs_ids) == expected and 0 < len(expected) < 4
    # time: the first Crab run only, by its own start/stop
    ref = Time(51910 + 0.000742870370370241, format="mjd", scale="tt")
    tstart = float(store.obs_table.TSTART.sel(obs_id=23523))
    tstop = float(store.obs_table.TSTOP.sel(obs_id=23523))
    one = store.select_time(ref + (tstart + 10) * u.s, ref + (tstop - 10) * u.s)
    assert list(one.obs_ids) == [23523]
    within = store.select_time(ref + (tstart + 10) * u.s, ref + (tstop - 10) * u.s, within=True)
    assert len(within) == 0
    assert list(store.select_obs([23592, 23523]).obs_ids) == [23592, 23523]
    # the selection's events are only those runs
    events = chained.events()
    assert set(np.unique(events.obs_id.values)) == set(expected)


@pytest.mark.data
def test_selection_errors(hess_dir):
    store = gammax.open_datastore(hess_dir)
    with pytest.raises(SelectionError, match=r"no column 'NOPE'.*RA_PNT"):
        store.select_range("NOPE", 0, 1)
    with pytest.raises(SelectionError, match="not numeric"):
        store.select_range("OBJECT", 0, 1)
    with pytest.raises(SelectionError, match="cannot be compared"):
        store.select_range("ZEN_PNT", max=3 * u.TeV)
    with pytest.raises(ObservationNotFoundError, match="1234"):
        store.select_obs([1234])
    with pytest.raises(ObservationNotFoundError, match="no 'rad_max' HDU"):
        store.irf(23523, "rad_max")


def test_gzipped_and_plain_index_tables(tmp_path):
    for gz in (True, False):
        root = make_store(tmp_path / f"store_{gz}", obs_ids=(7, 8), gz=gz)
        store = gammax.open_datastore(root)
        assert list(store.obs_ids) == [7, 8]
        assert store.events().sizes[D.EVENT] == 200


def test_directory_without_index_builds_it_from_headers(tmp_path):
    root = make_store(tmp_path / "store", obs_ids=(11, 12, 13))
    for index in root.glob("*index*"):
        index.unlink()
    store = gammax.open_datastore(root)
    assert list(store.obs_ids) == [11, 12, 13]
    assert store.obs_table.attrs["built_from_headers"]
    assert store.obs_table.RA_PNT.attrs["units"] == "deg"
    assert store.obs_table.EVENT_COUNT.values.tolist() == [100, 100, 100]
    assert store.location(12, "aeff").hdu_class == "aeff_2d"
    assert store.events().sizes[D.EVENT] == 300
    # time selection works from the header time reference
    assert store.select_time("2004-01-01", "2030-01-01").obs_ids.size == 3


@pytest.mark.data
def test_real_directory_without_index(tmp_path, data_dir):
    # VERITAS files linked into a directory with no index tables
    src = data_dir / "veritas" / "crab-point-like-ED"
    for f in src.glob("6408*.fits.gz"):
        (tmp_path / f.name).symlink_to(f)
    built = gammax.open_datastore(tmp_path)
    indexed = gammax.open_datastore(src)
    assert sorted(built.obs_ids) == sorted(indexed.obs_ids)
    np.testing.assert_allclose(
        built.obs_table.RA_PNT.sel(obs_id=indexed.obs_ids), indexed.obs_table.RA_PNT, rtol=1e-6
    )
    for obs_id in indexed.obs_ids:
        assert set(built.hdu_types(obs_id)) == set(indexed.hdu_types(obs_id))
