"""The reduction run: Zarr layout, provenance, resume, errors, schedulers, stacking."""

from __future__ import annotations

import json
import warnings

import dask
import numpy as np
import pytest
import xarray as xr
import zarr

import gammax
from gammax.errors import ConfigError, GammaxError
from gammax.reduce import open_observation, reduce_observations
from gammax.reduce import run as run_module
from gammax.reduce.stack import accumulate, combine, finalize

from .conftest import CRAB_RUNS, gammax_config

pytestmark = pytest.mark.data

FAST = {
    "products": ("counts", "exposure", "background"),
    "background_method": None,
    "exclusion": None,
    "safe_mask_methods": ("offset-max", "aeff-default"),
}


def small_config(**kwargs):
    from astropy.coordinates import SkyCoord

    from gammax.geom import MapAxis, WcsGeom

    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 6)
    geom = WcsGeom.create(
        skydir=SkyCoord(83.633, 22.0145, unit="deg"),
        width=2.5,
        binsz=0.05,
        frame="icrs",
        axes=[energy],
    )
    return gammax_config(geom=geom, energy_axis_true=None, **{**FAST, **kwargs})


def open_zarr_quiet(path, group):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        return xr.open_zarr(path, group=group)


def load_all(path, name="map", ids=CRAB_RUNS):
    out = {}
    for obs_id in ids:
        out[obs_id] = open_observation(path, obs_id, name).load()
    return out


def assert_same_products(a, b):
    for obs_id in a:
        for group in ("maps",):
            da_, db_ = a[obs_id][group].to_dataset(), b[obs_id][group].to_dataset()
            assert set(da_.data_vars) == set(db_.data_vars)
            for var in da_.data_vars:
                np.testing.assert_array_equal(da_[var].values, db_[var].values)


def test_store_opens_with_plain_xarray_and_carries_geometry_units_provenance(crab_store, tmp_path):
    config = small_config()
    path = tmp_path / "out.zarr"
    result = reduce_observations(crab_store, config, path)
    assert sorted(result.done) == CRAB_RUNS and result.stacked
    maps = open_zarr_quiet(path, "map/obs/23523/maps")
    assert maps.counts.gx.geom == config.geom
    assert maps.exposure.attrs["units"] == "m2 s"
    assert maps.energy_true.attrs["units"] == "TeV"
    stacked = open_zarr_quiet(path, "map/stacked/maps")
    assert int(stacked.counts.sum()) == sum(
        int(
            open_zarr_quiet(path, f"map/obs/{o}/maps")
            .counts.where(open_zarr_quiet(path, f"map/obs/{o}/maps").mask_safe, 0)
            .sum()
        )
        for o in CRAB_RUNS
    )
    root = zarr.open_group(str(path), mode="r")
    assert root.attrs["gammax_version"] == gammax.__version__
    dataset = root["map"]
    assert dataset.attrs["config_fingerprint"] == config.fingerprint()
    assert dataset.attrs["config"]["offset_max"] == config.offset_max
    obs = dataset["obs"]["23523"].attrs
    assert obs["gammax_complete"] is True
    assert obs["input_files"][0].endswith("hess_dl3_dr1_obs_id_023523.fits.gz")
    from gammax.reduce.zarr_store import file_checksum

    assert obs["input_sha256"] == [file_checksum(obs["input_files"][0])]
    assert obs["livetime"] == pytest.approx(obs["ontime"] * 0.985, rel=0.05)
    json.dumps(dict(obs))  # plain JSON


def test_resume_after_interruption_is_identical_and_skips_finished(crab_store, tmp_path):
    config = small_config()
    clean = tmp_path / "clean.zarr"
    with dask.config.set(scheduler="sync"):
        reduce_observations(crab_store, config, clean)
    calls = []
    original = run_module.reduce_observation

    def failing_after_two(ref, config):
        calls.append(ref.obs_id)
        if len(calls) > 2:
            raise KeyboardInterrupt("simulated interruption")
        return original(ref, config)

    path = tmp_path / "resumed.zarr"
    with dask.config.set(scheduler="sync"), pytest.MonkeyPatch.context() as m:
        m.setattr(run_module, "reduce_observation", failing_after_two)
        with pytest.raises(KeyboardInterrupt):
            reduce_observations(crab_store, config, path)
    finished = sorted(calls[:2])
    from gammax.reduce.zarr_store import completed_observations

    assert completed_observations(path, "map") == set(finished)
    recomputed = []

    def counting(ref, config):
        recomputed.append(ref.obs_id)
        return original(ref, config)

    with dask.config.set(scheduler="sync"), pytest.MonkeyPatch.context() as m:
        m.setattr(run_module, "reduce_observation", counting)
        result = reduce_observations(crab_store, config, path)
    assert sorted(result.resumed) == finished
    assert sorted(recomputed) == sorted(set(CRAB_RUNS) - set(finished))
    assert_same_products(load_all(clean), load_all(path))
    a = open_zarr_quiet(clean, "map/stacked/maps")
    b = open_zarr_quiet(path, "map/stacked/maps")
    for var in a.data_vars:
        np.testing.assert_array_equal(a[var].values, b[var].values)


def test_half_written_observation_is_redone(crab_store, tmp_path):
    config = small_config()
    path = tmp_path / "out.zarr"
    reduce_observations(crab_store.select_obs([23523]), config, path)
    group = zarr.open_group(str(path), mode="a")["map/obs/23523"]
    del group.attrs["gammax_complete"]  # as if the run died before the flag
    result = reduce_observations(crab_store.select_obs([23523]), config, path)
    assert result.done == [23523] and result.resumed == []


def test_other_configuration_is_refused(crab_store, tmp_path):
    path = tmp_path / "out.zarr"
    reduce_observations(crab_store.select_obs([23523]), small_config(), path, stack=False)
    with pytest.raises(ConfigError, match="another configuration"):
        reduce_observations(crab_store.select_obs([23523]), small_config(offset_max=1.0), path)
    result = reduce_observations(
        crab_store.select_obs([23523]), small_config(offset_max=1.0), path, overwrite=True
    )
    assert result.done == [23523]


def test_bad_observation_skipped_or_raised_and_nothing_lost(tmp_path, hess_dir):
    # a copy of the Crab runs' index pointing one run at a truncated file
    import shutil

    from ..dl3_factory import truncate_gzip

    root = tmp_path / "store"
    root.mkdir()
    store = gammax.open_datastore(hess_dir)
    for obs_id in CRAB_RUNS:
        src = store.location(obs_id, "events").path
        shutil.copy(src, root / src.name)
    truncate_gzip(root / "hess_dl3_dr1_obs_id_023559.fits.gz", 0.5)
    for name in ("hdu-index.fits.gz", "obs-index.fits.gz"):
        shutil.copy(hess_dir / name, root / name)
    # the index's FILE_DIR is "data": link the files there
    (root / "data").mkdir()
    for f in root.glob("hess_*"):
        f.rename(root / "data" / f.name)
    broken = gammax.open_datastore(root).select_obs(CRAB_RUNS)
    config = small_config()
    path = tmp_path / "out.zarr"
    with dask.config.set(scheduler="sync"):
        result = reduce_observations(broken, config, path, errors="skip")
    assert list(result.failed) == [23559]
    assert "truncated gzip" in result.failed[23559]
    assert sorted(result.done) == [23523, 23526, 23592]
    failures = zarr.open_group(str(path), mode="r")["map"].attrs["failures"]
    assert "23559" in failures and "obs_id 23559" in failures["23559"]
    stacked_obs = zarr.open_group(str(path), mode="r")["map/stacked"].attrs["obs_ids"]
    assert stacked_obs == [23523, 23526, 23592]
    before = load_all(path, ids=[23523, 23526, 23592])
    with dask.config.set(scheduler="sync"), pytest.raises(GammaxError, match="obs_id 23559"):
        reduce_observations(broken, config, path, errors="raise")
    assert_same_products(before, load_all(path, ids=[23523, 23526, 23592]))


def test_stacking_is_order_independent(crab_store, tmp_path):
    config = small_config()
    path = tmp_path / "out.zarr"
    reduce_observations(crab_store, config, path, stack=False)
    trees = load_all(path)
    accs = [accumulate(trees[o], config) for o in CRAB_RUNS]
    left = combine(combine(combine(accs[0], accs[1]), accs[2]), accs[3])
    right = combine(accs[3], combine(accs[2], combine(accs[1], accs[0])))
    a, b = finalize(left, config), finalize(right, config)
    for var in ("counts", "background", "exposure", "mask_safe"):
        np.testing.assert_allclose(
            a.groups["maps"][var].values, b.groups["maps"][var].values, rtol=1e-12
        )


@pytest.mark.distributed
@pytest.mark.slow
def test_distributed_local_cluster_gives_the_same_result(crab_store, tmp_path):
    from distributed import Client, LocalCluster

    config = small_config(products=("counts", "exposure", "background", "psf", "edisp"))
    local = tmp_path / "local.zarr"
    with dask.config.set(scheduler="threads"):
        reduce_observations(crab_store, config, local)
    remote = tmp_path / "cluster.zarr"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        result = reduce_observations(crab_store, config, remote, client=client)
        workers = client.run(lambda: 1)
    assert len(workers) == 2
    assert sorted(result.done) == CRAB_RUNS
    a, b = load_all(local), load_all(remote)
    assert_same_products(a, b)
    for obs_id in CRAB_RUNS:
        np.testing.assert_array_equal(
            a[obs_id]["irf"]["psf"].values, b[obs_id]["irf"]["psf"].values
        )
    sa = open_zarr_quiet(local, "map/stacked/maps")
    sb = open_zarr_quiet(remote, "map/stacked/maps")
    for var in sa.data_vars:
        np.testing.assert_array_equal(sa[var].values, sb[var].values)


def test_progress_bar_reports(crab_store, tmp_path, capsys):
    config = small_config()
    reduce_observations(crab_store.select_obs([23523]), config, tmp_path / "p.zarr", progress=True)
    out = capsys.readouterr().out
    assert "100% Completed" in out


def test_configuration_errors_name_the_key():
    with pytest.raises(ConfigError, match="'edisp-bias', which needs the 'edisp' product"):
        small_config(safe_mask_methods=("edisp-bias",))
    with pytest.raises(ConfigError, match=r"unknown product\(s\) \['cnts'\].*valid"):
        small_config(products=("cnts",))
    with pytest.raises(ConfigError, match="aeff-defualt"):
        small_config(safe_mask_methods=("aeff-defualt",))


def test_written_groups_read_back_identically(crab_store, tmp_path):
    from gammax.reduce.observation import observation_refs, reduce_observation
    from gammax.reduce.zarr_store import STORAGE_DTYPES, write_datasets

    config = small_config(
        products=("counts", "exposure", "background", "psf", "edisp"),
        safe_mask_methods=("offset-max",),
    )
    products = reduce_observation(observation_refs(crab_store, [23523])[0], config)
    path = tmp_path / "w.zarr"
    zarr.open_group(str(path), mode="w")
    write_datasets(path, "g", products.groups, products.attrs)
    for key, expected in products.groups.items():
        got = open_zarr_quiet(path, f"g/{key}").load()
        expected = expected.copy()
        for name, dtype in STORAGE_DTYPES.items():
            if name in expected:
                expected[name] = expected[name].astype(dtype, keep_attrs=True)
        xr.testing.assert_identical(got, expected)
        for name in expected.data_vars:
            assert got[name].gx.geom == expected[name].gx.geom
    assert zarr.open_group(str(path), mode="r")["g"].attrs["obs_id"] == 23523


def test_mosaic_windows_and_cutouts_give_the_same_stack(crab_store, tmp_path):
    products = ("counts", "exposure", "background", "psf", "edisp")
    common = {
        "products": products,
        "offset_max": 0.9,
        "safe_mask_methods": ("offset-max", "aeff-default"),
    }
    whole = reduce_observations(crab_store, small_config(**common), tmp_path / "a.zarr")
    windows = reduce_observations(
        crab_store, small_config(stack_chunk=20, **common), tmp_path / "b.zarr"
    )
    cutouts = reduce_observations(
        crab_store, small_config(stack_chunk=17, cutout_width=2.0, **common), tmp_path / "c.zarr"
    )
    # cutouts really are smaller than the geometry
    cut = cutouts.open_observation(23523)["maps"]["counts"]
    assert cut.sizes["x"] < whole.open_observation(23523)["maps"]["counts"].sizes["x"]
    ref = {p: open_zarr_quiet(whole.path, f"map/stacked/{p}").load() for p in ("maps", "irf")}
    for result in (windows, cutouts):
        for part, expected in ref.items():
            got = open_zarr_quiet(result.path, f"map/stacked/{part}").load()
            for var in expected.data_vars:
                np.testing.assert_allclose(
                    got[var].values,
                    expected[var].values,
                    rtol=1e-6,
                    atol=1e-6 * float(np.abs(expected[var]).max()),
                    err_msg=f"{part}/{var}",
                )
        attrs = zarr.open_group(str(result.path), mode="r")["map/stacked"].attrs
        assert attrs["obs_ids"] == CRAB_RUNS and attrs["gammax_complete"]
    assert int(ref["maps"]["counts"].sum()) > 1000
