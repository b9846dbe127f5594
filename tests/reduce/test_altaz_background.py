"""An Alt/Az-aligned background model against Gammapy 2.1 (time-stepped FoV rotation).

No real data set here has one, so a H.E.S.S. Crab run is rewritten with its
background declared ``FOVALIGN='ALTAZ'`` (and another CREATOR, so that the
H.E.S.S. DR1 reversed-longitude rule does not apply).
"""

from __future__ import annotations

import warnings

import pytest
from astropy.io import fits

import gammax
from gammax.reduce import reduce_observations

from ..dl3_factory import write_index
from .conftest import gammapy_background, relative
from .test_run import small_config

pytestmark = [pytest.mark.data, pytest.mark.gammapy, pytest.mark.slow]


@pytest.fixture(scope="module")
def altaz_store(hess_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("altaz")
    src = hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    with fits.open(src) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    hdul["EVENTS"].header["CREATOR"] = "gammax test"
    hdul["BKG"].header["FOVALIGN"] = "ALTAZ"
    hdul.writeto(root / "run.fits.gz")
    header = hdul["EVENTS"].header
    rows = [
        {"OBS_ID": 23523, "HDU_TYPE": t, "HDU_CLASS": c, "FILE_NAME": "run.fits.gz", "HDU_NAME": h}
        for t, c, h in (
            ("events", "events", "EVENTS"),
            ("gti", "gti", "GTI"),
            ("aeff", "aeff_2d", "AEFF"),
            ("edisp", "edisp_2d", "EDISP"),
            ("psf", "psf_table", "PSF"),
            ("bkg", "bkg_3d", "BKG"),
        )
    ]
    obs = [
        {
            "OBS_ID": 23523,
            "RA_PNT": header["RA_PNT"],
            "DEC_PNT": header["DEC_PNT"],
            "TSTART": header["TSTART"],
            "TSTOP": header["TSTOP"],
        }
    ]
    write_index(root, rows, obs)
    return root


def test_altaz_background_matches_gammapy(altaz_store, tmp_path):
    config = small_config(
        products=("counts", "exposure", "background"), safe_mask_methods=("offset-max",)
    )
    store = gammax.open_datastore(altaz_store)
    result = reduce_observations(store, config, tmp_path / "a.zarr", stack=False)
    ours = result.open_observation(23523)["maps"]["background"].values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.data import DataStore

        assert DataStore.from_dir(altaz_store).obs(23523).bkg.fov_alignment.value == "ALTAZ"
    expected = gammapy_background(altaz_store, 23523, config.geom)
    median, worst, n = relative(ours, expected, 1e-3 * expected.max())
    assert n > 1000 and median < 0.005 and worst < 0.02, (median, worst)
    # the rotation matters: the RA/Dec-aligned reading of the same model differs
    radec = gammax.open_datastore(altaz_store)
    from gammax.reduce.observation import observation_refs, reduce_observation

    ref = observation_refs(radec, [23523])[0]
    import dataclasses

    ref = dataclasses.replace(
        ref,
        events_attrs={k: v for k, v in ref.events_attrs.items() if k not in ("GEOLON", "GEOLAT")},
    )
    with pytest.raises(gammax.errors.FormatError, match="observatory location"):
        reduce_observation(ref, config)
