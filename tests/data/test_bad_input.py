"""Bad input: each broken file raises a gammax error naming file, HDU and obs_id."""

from __future__ import annotations

import pytest
from astropy.io import fits

import gammax
from gammax.errors import (
    CorruptFileError,
    DataFileNotFoundError,
    GammaxError,
    HDUNotFoundError,
    InvalidIRFError,
    MissingColumnError,
    UnknownHDUClassError,
)

from ..dl3_factory import make_store, run_rows, truncate_gzip, write_index, write_run


def assert_names_location(err: GammaxError, file_name: str, hdu: str, obs_id: int) -> None:
    text = str(err)
    assert file_name in text and f"HDU '{hdu}'" in text and f"obs_id {obs_id}" in text, text
    assert err.file.endswith(file_name) and err.hdu == hdu and err.obs_id == obs_id


@pytest.fixture
def broken_store(tmp_path):
    """Six observations: 1 is fine, 2-6 each broken in one way, 7 has an unknown IRF class."""
    root = tmp_path / "broken"
    root.mkdir()
    rows, obs_rows = [], []
    for obs_id in range(1, 8):
        name = f"run_{obs_id}.fits.gz"
        kwargs = {}
        if obs_id == 4:
            kwargs["drop"] = ("ENERGY",)
        if obs_id == 5:
            kwargs["nan_aeff"] = True
        write_run(root / name, obs_id, seed=obs_id, n=2000, **kwargs)
        run = run_rows(obs_id, name)
        if obs_id == 6:
            run[2]["HDU_NAME"] = "NO_SUCH_HDU"
        if obs_id == 7:
            run[2]["HDU_CLASS"] = "aeff_9d"
        rows += run
        obs_rows.append({"OBS_ID": obs_id, "RA_PNT": 83.6, "DEC_PNT": 22.0})
    (root / "run_2.fits.gz").unlink()
    truncate_gzip(root / "run_3.fits.gz", 0.3)
    write_index(root, rows, obs_rows)
    return root


def test_missing_file(broken_store):
    store = gammax.open_datastore(broken_store)
    with pytest.raises(DataFileNotFoundError) as info:
        store.events(2)
    assert_names_location(info.value, "run_2.fits.gz", "EVENTS", 2)
    assert isinstance(info.value, FileNotFoundError)


def test_truncated_gzip(broken_store):
    store = gammax.open_datastore(broken_store)
    with pytest.raises(CorruptFileError, match="truncated gzip") as info:
        store.events(3).compute()
    assert_names_location(info.value, "run_3.fits.gz", "EVENTS", 3)
    assert isinstance(info.value, OSError)


def test_events_missing_required_column(broken_store):
    store = gammax.open_datastore(broken_store)
    with pytest.raises(MissingColumnError, match=r"\['ENERGY'\]") as info:
        store.events(4)
    assert_names_location(info.value, "run_4.fits.gz", "EVENTS", 4)
    assert isinstance(info.value, ValueError)


def test_nan_in_irf(broken_store):
    store = gammax.open_datastore(broken_store)
    aeff = store.irf(5, "aeff")  # axes only: the values are read lazily
    with pytest.raises(InvalidIRFError, match="non-finite") as info:
        aeff.load()
    assert_names_location(info.value, "run_5.fits.gz", "AEFF", 5)
    # a clean IRF of the same layout loads fine
    assert float(store.irf(1, "aeff").aeff.sum()) > 0


def test_index_entry_pointing_at_missing_hdu(broken_store):
    store = gammax.open_datastore(broken_store)
    with pytest.raises(HDUNotFoundError, match="EVENTS") as info:
        store.irf(6, "aeff")
    assert_names_location(info.value, "run_6.fits.gz", "NO_SUCH_HDU", 6)


def test_unknown_hdu_class(broken_store, tmp_path):
    store = gammax.open_datastore(broken_store)
    with pytest.raises(UnknownHDUClassError, match=r"aeff_9d.*aeff_2d") as info:
        store.irf(7, "aeff")
    assert_names_location(info.value, "run_7.fits.gz", "AEFF", 7)
    # an unknown class declared by the header, opened directly
    path = tmp_path / "odd.fits"
    hdu = fits.BinTableHDU.from_columns([fits.Column("X", "E", array=[1.0])], name="ODD")
    hdu.header.update({"HDUCLASS": "GADF", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "WEIRD"})
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with pytest.raises(UnknownHDUClassError, match="HDUCLAS2='WEIRD'"):
        gammax.read_irf(path, "ODD", obs_id=9)


def test_check_reports_every_problem_in_one_table(broken_store):
    store = gammax.open_datastore(broken_store)
    report = store.check()
    problems = {(int(r.obs_id), r.hdu_type, r.error) for r in report.itertuples()}
    assert ("1" not in {str(o) for o, _, _ in problems}) and all(o != 1 for o, _, _ in problems)
    expected = {
        (2, "events", "DataFileNotFoundError"),
        (2, "gti", "DataFileNotFoundError"),
        (2, "aeff", "DataFileNotFoundError"),
        (3, "events", "CorruptFileError"),
        (4, "events", "MissingColumnError"),
        (5, "aeff", "InvalidIRFError"),
        (6, "aeff", "HDUNotFoundError"),
        (7, "aeff", "UnknownHDUClassError"),
    }
    assert expected <= problems
    assert set(report.columns) == {
        "obs_id",
        "hdu_type",
        "hdu_class",
        "file",
        "hdu",
        "error",
        "message",
    }
    assert report.loc[report.obs_id == 6, "hdu"].tolist() == ["NO_SUCH_HDU"]


def test_skip_bad_observations_when_asked(broken_store):
    store = gammax.open_datastore(broken_store)
    with pytest.warns(UserWarning, match="skipped"):
        events = store.events([1, 2, 4], errors="skip")
    assert sorted(events.attrs["skipped_obs"]) == ["2", "4"]
    assert set(events.obs_id.values.tolist()) == {1}
    with pytest.raises(DataFileNotFoundError):
        store.events([1, 2, 4])


def test_clean_store_checks_clean(tmp_path):
    store = gammax.open_datastore(make_store(tmp_path / "ok"))
    assert len(store.check()) == 0


@pytest.mark.data
def test_real_store_with_missing_file(data_dir):
    # the joint-crab MAGIC index lists a run whose file is not shipped
    store = gammax.open_datastore(data_dir / "joint-crab" / "dl3" / "magic")
    report = store.check()
    assert set(report.obs_id) == {5029747}
    assert set(report.error) == {"DataFileNotFoundError"}
    assert store.events(5029748).sizes["event"] > 0


def test_missing_file_in_the_fast_reader_of_the_reduction(broken_store):
    from gammax.io.fast_table import read_tables

    with pytest.raises(DataFileNotFoundError) as info:
        read_tables(broken_store / "run_2.fits.gz", ["EVENTS", "GTI"], obs_id=2)
    assert_names_location(info.value, "run_2.fits.gz", "EVENTS", 2)
    # the reduction's observation references raise the same
    from gammax.reduce.observation import observation_refs

    store = gammax.open_datastore(broken_store)
    with pytest.raises(DataFileNotFoundError, match=r"run_2\.fits\.gz"):
        observation_refs(store, [2], needed=("events", "gti"))
