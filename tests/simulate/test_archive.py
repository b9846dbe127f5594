"""Simulated archives: gammax and Gammapy open them and agree; files are reproducible."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest

import gammax
import gammax.simulate as gs
from gammax.cli import main as gammax_cli
from gammax.geom import MapAxis, WcsGeom
from gammax.reduce.products import make_counts

from .conftest import CRAB


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(root).rglob("*.fits*"))
    }


def test_archive_opens_in_gammax(archive, wobble_specs):
    store = archive.open()
    assert len(store) == 5
    assert list(store.obs_ids) == [s.obs_id for s in wobble_specs]
    events = store.events().compute()
    per_obs = np.bincount(events["obs_id"].values)[1:]
    assert per_obs.tolist() == archive.observations["n_events"].tolist()
    assert per_obs.tolist() == store.obs_table["EVENT_COUNT"].values.tolist()
    np.testing.assert_allclose(store.obs_table["LIVETIME"].values, 570.0)
    assert store.obs_table["RA_PNT"].attrs["units"] == "deg"
    assert set(np.unique(events["MC_ID"].values)) == {0, 1, 2}
    assert events.attrs["MMN00001"] == "crab"
    gti = store.gti().compute()
    np.testing.assert_allclose(gti["STOP"] - gti["START"], 600.0)
    assert set(store.hdu_types(1)) == {"events", "gti", "aeff", "edisp", "psf", "bkg"}
    # the IRFs come from the shared file, as in CTA 1DC
    assert store.location(1, "aeff").path == archive.path / "irf" / "analytic.fits.gz"


def test_check_reports_no_problems(archive, capsys):
    assert len(archive.open().check()) == 0
    assert gammax_cli(["check", str(archive.path)]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_same_seed_same_bytes(tmp_path, instrument, sky_models, wobble_specs):
    specs = wobble_specs[:2]
    a = gs.simulate_archive(tmp_path / "a", specs, instrument, sky_models, seed=3)
    b = gs.simulate_archive(tmp_path / "b", specs, instrument, sky_models, seed=3)
    c = gs.simulate_archive(tmp_path / "c", specs, instrument, sky_models, seed=4)
    assert digests(a.path) == digests(b.path)
    da, dc = digests(a.path), digests(c.path)
    assert da["irf/analytic.fits.gz"] == dc["irf/analytic.fits.gz"]
    assert da["data/obs_000001.fits.gz"] != dc["data/obs_000001.fits.gz"]


def test_refuses_to_overwrite(tmp_path, instrument, wobble_specs):
    gs.simulate_archive(tmp_path, wobble_specs[:1], instrument, None)
    with pytest.raises(FileExistsError, match="overwrite"):
        gs.simulate_archive(tmp_path, wobble_specs[:1], instrument, None)
    gs.simulate_archive(tmp_path, wobble_specs[1:2], instrument, None, overwrite=True)
    assert list(gammax.open_datastore(tmp_path).obs_ids) == [2]
    with pytest.raises(ValueError, match="unique"):
        gs.simulate_archive(tmp_path / "x", wobble_specs[:1] * 2, instrument, None)


def test_embedded_irfs(tmp_path, instrument, sky_models, wobble_specs):
    result = gs.simulate_archive(
        tmp_path, wobble_specs[:2], instrument, sky_models, seed=1, irf="embed", true_columns=True
    )
    store = result.open()
    assert store.location(2, "psf").path == tmp_path / "data" / "obs_000002.fits.gz"
    assert len(store.check()) == 0
    assert gs.Instrument.read(tmp_path / "data" / "obs_000002.fits.gz").token == instrument.token
    events = store.events(2).compute()
    assert {"ENERGY_TRUE", "RA_TRUE", "DEC_TRUE"} <= set(events.data_vars)


@pytest.mark.gammapy
def test_gammapy_gives_the_same_counts(archive):
    """Gammapy's DataStore: same events per observation; MapDatasetMaker: same counts map."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.data import DataStore
        from gammapy.datasets import MapDataset
        from gammapy.makers import MapDatasetMaker
        from gammapy.maps import MapAxis as GpMapAxis
        from gammapy.maps import WcsGeom as GpWcsGeom

    store = archive.open()
    theirs = DataStore.from_dir(archive.path)
    assert theirs.obs_table["OBS_ID"].tolist() == list(store.obs_ids)
    observations = theirs.get_observations()
    events = store.events().compute()
    axis = MapAxis.from_energy_bounds("0.1 TeV", "30 TeV", 8)
    geom = WcsGeom.create(skydir=CRAB, width=4.0, binsz=0.04, frame="icrs", axes=[axis])
    gp_geom = GpWcsGeom.create(
        skydir=CRAB,
        width=4.0,
        binsz=0.04,
        frame="icrs",
        axes=[GpMapAxis.from_energy_bounds("0.1 TeV", "30 TeV", 8)],
    )
    maker = MapDatasetMaker(selection=["counts"])
    for obs in observations:
        mine = events.where(events["obs_id"] == obs.obs_id, drop=True)
        assert len(obs.events.table) == mine.sizes["event"]
        gp_counts = maker.run(MapDataset.create(gp_geom, name=str(obs.obs_id)), obs).counts
        columns = {k: mine[k].values for k in ("RA", "DEC", "ENERGY")}
        ours = make_counts(geom, columns)
        assert ours.values.sum() > 100
        np.testing.assert_array_equal(ours.values, gp_counts.data)
        assert obs.observation_live_time_duration.to_value("s") == pytest.approx(570.0)
        assert obs.aeff.data.shape == (45, 12)


@pytest.mark.distributed
@pytest.mark.slow
def test_local_and_distributed_give_the_same_files(tmp_path, instrument, sky_models, wobble_specs):
    from distributed import Client, LocalCluster

    local = gs.simulate_archive(tmp_path / "local", wobble_specs, instrument, sky_models, seed=5)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        remote = gs.simulate_archive(
            tmp_path / "dist", wobble_specs, instrument, sky_models, seed=5, client=client
        )
    assert digests(local.path) == digests(remote.path)
    assert remote.n_events == local.n_events > 0


@pytest.mark.data
def test_cta_prod5_archive(data_dir, tmp_path):
    """CTA prod5 IRFs referenced in place; background counts as the IRF predicts."""
    inst = gs.Instrument.read(
        data_dir / "cta-caldb" / "Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz"
    )
    specs = gs.galactic_plane_pointings(2, lon_range=(-2, 2), lat_values=(0.0,), ontime=60.0)
    models = gs.galactic_population(30, seed=2, lon_range=(-3, 3))
    result = gs.simulate_archive(tmp_path, specs, inst, models, seed=2, irf="reference")
    store = result.open()
    assert len(store.check()) == 0
    assert store.location(1, "bkg").path.resolve() == Path(inst.source)
    tables = gs.build_tables(inst)
    expected = tables.bkg_rate * specs[0].ontime
    n_bkg = int(result.observations["n_background"].iloc[0])
    assert abs(n_bkg - expected) < 5 * np.sqrt(expected)
    assert result.observations["n_sources"].min() > 0
