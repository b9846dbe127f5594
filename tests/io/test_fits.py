"""Low-level FITS access: schemas from headers, error translation, header attrs."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from gammax.errors import CorruptFileError, DataFileNotFoundError, HDUNotFoundError
from gammax.io.fits import (
    check_gzip_stream,
    column_schemas,
    header_to_attrs,
    open_fits,
    read_columns,
    read_header,
)

from ..dl3_factory import truncate_gzip, write_run

REAL_EVENT_FILES = [
    "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz",
    "cta-1dc/data/baseline/gps/gps_baseline_110380.fits",
    "magic/rad_max/data/20131004_05029747_DL3_CrabNebula-W0.40+035.fits",
    "veritas/crab-point-like-ED/64080.fits.gz",
    "hawc/crab_events_pass4/events/EventList_Crab_fHitbin9NN.fits.gz",
]


@pytest.mark.data
@pytest.mark.parametrize("name", REAL_EVENT_FILES)
def test_schema_from_header_matches_astropy_data(data_dir, name):
    path = data_dir / name
    with fits.open(path) as hdul:
        for hdu in hdul[1:]:
            if not isinstance(hdu, fits.BinTableHDU):
                continue
            schemas = column_schemas(hdu)  # header only
            data = hdu.data
            for schema in schemas:
                values = np.asarray(data[schema.name])
                assert schema.dtype == values.dtype.newbyteorder("="), (hdu.name, schema.name)
                assert values.shape[1:] == schema.shape, (hdu.name, schema.name)


def test_schema_of_scaled_and_special_columns(tmp_path):
    cols = [
        fits.Column("U16", "I", bzero=32768, array=np.array([0, 65535], dtype=np.uint16)),
        fits.Column("U64", "K", bzero=2**63, array=np.array([1, 2**64 - 1], dtype=np.uint64)),
        fits.Column("SCALED", "J", array=np.array([2, 5], dtype=np.int32)),
        fits.Column("FLAG", "L", array=np.array([True, False])),
        fits.Column("NAME", "8A", array=np.array(["ab", "cde"])),
        fits.Column("VEC", "3E", array=np.ones((2, 3), dtype=np.float32)),
    ]
    path = tmp_path / "t.fits"
    table = fits.BinTableHDU.from_columns(cols, name="T")
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with fits.open(path, mode="update") as hdul:  # a scaled integer column
        hdul["T"].header["TSCAL3"] = 0.5
    with fits.open(path) as hdul:
        schemas = {s.name: s for s in column_schemas(hdul["T"])}
        data = hdul["T"].data
        for name, schema in schemas.items():
            assert schema.dtype == np.asarray(data[name]).dtype.newbyteorder("="), name
    assert schemas["VEC"].shape == (3,)
    assert schemas["SCALED"].dtype == np.float64 and schemas["U64"].dtype == np.uint64
    block = read_columns(path, "T", ["U64", "VEC"], rows=slice(1, 2))
    assert block["U64"].tolist() == [2**64 - 1]
    assert block["VEC"].shape == (1, 3)


def test_errors_name_file_and_hdu(tmp_path):
    with pytest.raises(DataFileNotFoundError, match=r"file '.*nope.fits', HDU 'EVENTS', obs_id 4"):
        read_header(tmp_path / "nope.fits", "EVENTS", obs_id=4)
    path = write_run(tmp_path / "run.fits.gz", 1)
    listing = r"the file has \['PRIMARY', 'EVENTS', 'GTI', 'AEFF'\]"
    with pytest.raises(HDUNotFoundError, match=listing):
        read_header(path, "PSF", obs_id=1)
    assert check_gzip_stream(path) is None
    truncate_gzip(path, 0.6)
    assert "truncated" in check_gzip_stream(path)
    with pytest.raises(CorruptFileError, match="truncated gzip stream"):
        read_header(path, "AEFF", obs_id=1)
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"this is not a FITS file" * 10)
    with pytest.raises(CorruptFileError):
        with open_fits(junk) as hdul:
            hdul[1]


def test_truncated_uncompressed_file(tmp_path):
    path = write_run(tmp_path / "run.fits", 1, n=5000)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(CorruptFileError, match=r"truncated|rows"):
        read_columns(path, "EVENTS", ["ENERGY"])


def test_header_attrs_are_json_safe():
    header = fits.Header()
    header["OBS_ID"] = 7
    header["TTYPE1"] = "ENERGY"
    header["NAXIS2"] = 10
    header["RA_PNT"] = np.float32(1.5)
    header["COMMENT"] = "one"
    header["COMMENT"] = "two"
    attrs = header_to_attrs(header)
    assert attrs == {"OBS_ID": 7, "RA_PNT": 1.5, "COMMENT": "one\ntwo"}


def test_fast_table_path_equals_astropy(tmp_path):
    from gammax.io.fast_table import layout_schemas, read_rows, scan_table

    rng = np.random.default_rng(1)
    n = 257
    cols = [
        fits.Column("U16", "I", bzero=32768, array=rng.integers(0, 65535, n).astype(np.uint16)),
        fits.Column(
            "U64", "K", bzero=2**63, array=rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2)
        ),
        fits.Column("I8", "B", array=rng.integers(0, 255, n).astype(np.uint8)),
        fits.Column("VEC", "6E", dim="(3,2)", array=rng.normal(size=(n, 2, 3)).astype(np.float32)),
        fits.Column("TIME", "D", unit="s", array=rng.uniform(0, 1e9, n)),
    ]
    path = tmp_path / "t.fits.gz"
    table = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((5, 7))), table]).writeto(path)
    layout = scan_table(path, "events")
    assert layout.dtype is not None and layout.index == 2 and layout.nrows == n
    with fits.open(path) as hdul:
        data = hdul["EVENTS"].data
        schemas = {s.name: s for s in column_schemas(hdul["EVENTS"])}
    assert {s.name: s for s in layout_schemas(layout)} == schemas
    got = read_rows(layout, ["U16", "U64", "I8", "VEC", "TIME"], slice(13, 200))
    for name, values in got.items():
        expected = np.asarray(data[name])[13:200]
        assert values.dtype == expected.dtype.newbyteorder("=")
        assert values.tobytes() == expected.astype(values.dtype).tobytes(), name
    # the same through read_columns, with and without the layout
    slow = read_columns(path, "EVENTS", ["U64", "VEC"], rows=slice(5, 9))
    fast = read_columns(path, "EVENTS", ["U64", "VEC"], rows=slice(5, 9), layout=layout)
    for name in slow:
        np.testing.assert_array_equal(slow[name], fast[name])
    # character columns are left to astropy
    text = tmp_path / "text.fits"
    fits.BinTableHDU.from_columns([fits.Column("NAME", "4A", array=["a", "b"])], name="T").writeto(
        text
    )
    assert scan_table(text, "T").dtype is None
    with pytest.raises(HDUNotFoundError, match=r"\['PRIMARY', 'T'\]"):
        scan_table(text, "EVENTS")


@pytest.mark.data
def test_read_irfs_in_one_pass_equals_read_irf(data_dir):
    from gammax.io.irf_table import read_irf, read_irfs

    cases = [
        (
            "hess-dl3-dr1/data/hess_dl3_dr1_obs_id_023523.fits.gz",
            {"aeff": "AEFF", "edisp": "EDISP", "psf": "PSF", "bkg": "BKG"},
        ),
        (
            "cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits",
            {
                "aeff": "EFFECTIVE AREA",
                "psf": "POINT SPREAD FUNCTION",
                "edisp": "ENERGY DISPERSION",
                "bkg": "BACKGROUND",
            },
        ),
    ]
    for name, hdus in cases:
        path = data_dir / name
        fast = read_irfs(path, {k: (h, None) for k, h in hdus.items()}, obs_id=5)
        for key, hdu in hdus.items():
            slow = read_irf(path, hdu, obs_id=5).load()
            assert fast[key].identical(slow), (name, key)
