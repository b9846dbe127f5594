"""The ``gammax`` xarray backend engine."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

from gammax.errors import UnknownHDUClassError
from gammax.io import backend
from gammax.io import fits as fits_io
from gammax.io.backend import GammaxBackendEntrypoint

from ..dl3_factory import write_run


def test_engine_is_registered():
    assert "gammax" in xr.backends.list_engines()
    assert isinstance(xr.backends.list_engines()["gammax"], GammaxBackendEntrypoint)


def test_open_events_lazily(tmp_path, monkeypatch):
    path = write_run(tmp_path / "run.fits.gz", 42, n=500)
    calls = []
    original = fits_io.read_columns

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(backend, "read_columns", counting)
    ds = xr.open_dataset(path, engine="gammax")
    assert calls == []  # opening reads headers only
    assert ds.sizes == {"event": 500}
    assert ds.ENERGY.attrs["units"] == "TeV"
    assert ds.TIME.attrs["mjdref"] == pytest.approx(51910.000742870370370241)
    assert ds.attrs["OBS_ID"] == 42
    assert (ds.obs_id.values == 42).all()
    expected = fits.getdata(path, "EVENTS")
    np.testing.assert_array_equal(ds.ENERGY[10:20].values, expected["ENERGY"][10:20])
    assert len(calls) == 1 and calls[0][2] == ["ENERGY"]
    for name in expected.columns.names:
        np.testing.assert_array_equal(ds[name].values, expected[name])


def test_open_gti_irf_and_chunks(tmp_path):
    path = write_run(tmp_path / "run.fits", 3)
    gti = xr.open_dataset(path, engine="gammax", hdu="GTI", chunks={})
    assert gti.START.chunks == ((2,),)
    np.testing.assert_array_equal(gti.STOP.values, fits.getdata(path, "GTI")["STOP"])
    aeff = xr.open_dataset(path, engine="gammax", hdu="AEFF")
    assert aeff.aeff.dims == ("energy_true", "offset")
    assert aeff.attrs["hdu_class"] == "aeff_2d"
    raw = fits.getdata(path, "AEFF")["EFFAREA"][0]
    np.testing.assert_array_equal(aeff.aeff.values, raw.T)


def test_guess_can_open(tmp_path):
    path = write_run(tmp_path / "run.fits.gz", 3)
    entry = GammaxBackendEntrypoint()
    assert entry.guess_can_open(path)
    assert entry.guess_can_open(str(path))
    other = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((3, 3))).writeto(other)
    assert not entry.guess_can_open(other)
    text = tmp_path / "notes.txt"
    text.write_text("x")
    assert not entry.guess_can_open(text)
    # without engine=, xarray picks gammax for a GADF file
    assert xr.open_dataset(path).attrs["hdu_type"] == "events"


def test_non_gadf_hdu_is_refused(tmp_path):
    path = tmp_path / "image.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((2, 2)), name="IMG")]).writeto(path)
    with pytest.raises(UnknownHDUClassError, match="IMG"):
        xr.open_dataset(path, engine="gammax", hdu="IMG")
    with pytest.raises(UnknownHDUClassError, match="no GADF HDU"):
        xr.open_dataset(path, engine="gammax")


@pytest.mark.data
def test_real_irfs_open_through_the_engine(data_dir):
    path = data_dir / "cta-1dc/caldb/data/cta/1dc/bcf/South_z20_50h/irf_file.fits"
    psf = xr.open_dataset(path, engine="gammax", hdu="POINT SPREAD FUNCTION")
    assert set(psf.data_vars) == {"sigma_1", "sigma_2", "sigma_3", "scale", "ampl_2", "ampl_3"}
    bkg = xr.open_dataset(path, engine="gammax", hdu="BACKGROUND")
    assert bkg.bkg.dims == ("energy", "fov_lon", "fov_lat")
    rad_max = xr.open_dataset(
        data_dir / "magic/rad_max/data/20131004_05029747_DL3_CrabNebula-W0.40+035.fits",
        engine="gammax",
        hdu="RAD_MAX",
    )
    assert rad_max.rad_max.attrs["units"] == "deg"
