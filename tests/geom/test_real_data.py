"""Real H.E.S.S. events: binning against Gammapy, and the quick-look example end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits

from gammax.geom import MapAxis, WcsGeom, bin_events

CRAB_RUN = "hess_dl3_dr1_obs_id_023523.fits.gz"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "geometry_quicklook.py"


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("frame,proj", [("icrs", "TAN"), ("galactic", "CAR")])
def test_hess_crab_run_binning_equals_gammapy(hess_dir, frame, proj):
    from gammapy.data import EventList
    from gammapy.maps import Map
    from gammapy.maps import MapAxis as GMapAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    path = hess_dir / "data" / CRAB_RUN
    with fits.open(path) as hdul:
        table = hdul["EVENTS"].data
        events = {k: np.asarray(table[k], dtype=float) for k in ("RA", "DEC", "ENERGY")}
    crab = SkyCoord(83.633, 22.0145, unit="deg")
    kwargs = dict(skydir=crab, width=3.0, binsz=0.02, proj=proj, frame=frame)
    geom = WcsGeom.create(**kwargs, axes=[MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6)])
    ggeom = GWcsGeom.create(**kwargs, axes=[GMapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6)])
    gmap = Map.from_geom(ggeom)
    gevents = EventList.read(path)
    # The file stores RA/DEC as float32 and astropy would rotate them to Galactic in float32
    # (errors ~1e-5 deg); give Gammapy the same float64 numbers gammax uses.
    for column in ("RA", "DEC", "ENERGY"):
        gevents.table[column] = gevents.table[column].astype(np.float64)
    gmap.fill_events(gevents)
    counts = bin_events(events, geom)
    assert counts.sum() > 1000
    np.testing.assert_array_equal(counts.values, gmap.data)


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.gammapy
def test_quicklook_example_runs_on_real_data(tmp_path, data_dir):
    from gammapy.maps import Map

    result = subprocess.run(
        [sys.executable, str(EXAMPLE), str(tmp_path), "--data", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    png = tmp_path / "crab_counts_quicklook.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    gmap = Map.read(tmp_path / "crab_counts.fits")
    assert gmap.data.sum() > 10_000
    assert (tmp_path / "crab_maps.zarr").is_dir()
