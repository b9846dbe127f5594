"""Faults during a survey reduction (issue 8), on a simulated 100-observation survey.

Every fault is real: a worker process killed with SIGKILL, a client process
killed or interrupted, corrupted input files, a read-only or full file system
(a real tmpfs). The faulty runs are compared array by array with a clean run
of the same archive.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import dask
import numpy as np
import pytest
import zarr
from astropy.io import fits
from astropy.table import Table

import gammax
from gammax.errors import InvalidIRFError
from gammax.reduce import reduce_observations
from gammax.reduce.zarr_store import (
    StoreWriteError,
    completed_observations,
    failure_report,
    run_summary,
)

from .conftest import (
    N_OBS,
    assert_same_observations,
    assert_same_stack,
    chunk_files,
    observation_arrays,
    scale_config,
    stacked_arrays,
)

pytestmark = pytest.mark.slow


def _poll_completed(path: Path, at_least: int, timeout: float = 300.0) -> int:
    """Wait until ``at_least`` observations are complete in the store; return how many."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            n = len(completed_observations(path, "map"))
        except Exception:  # the store is being created or a group rewritten
            n = 0
        if n >= at_least:
            return n
        time.sleep(0.25)
    raise AssertionError(f"fewer than {at_least} observations completed in {timeout} s")


# --- a worker process dies -------------------------------------------------------------


@pytest.mark.distributed
def test_worker_killed_mid_run_completes_identically(scale_store, clean_run, tmp_path):
    from distributed import Client, LocalCluster

    path = tmp_path / "killed.zarr"
    killed = {}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        victim = sorted(pids.values())[0]

        def kill_one_worker():
            killed["completed_before"] = _poll_completed(path, 15)
            os.kill(victim, signal.SIGKILL)

        thread = threading.Thread(target=kill_one_worker, daemon=True)
        thread.start()
        result = reduce_observations(scale_store, scale_config(), path, client=client)
        thread.join(timeout=60)
        pids_after = client.run(os.getpid)
    # the kill really happened mid-run, and that worker process is gone
    assert 15 <= killed["completed_before"] < N_OBS
    assert victim not in pids_after.values()
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)
    # the run completed: every observation, the same products and mosaic as a clean run
    assert sorted(result.done) == list(range(1, N_OBS + 1))
    assert not result.failed and result.stacked and result.status == "finished"
    # tasks rerun for results lost with the worker found their groups complete
    assert set(result.recovered) <= set(result.done)
    assert_same_observations(path, clean_run.path, range(1, N_OBS + 1))
    assert_same_stack(path, clean_run.path)


# --- the client is interrupted -----------------------------------------------------------

_CLIENT = """
import json, signal, sys
# a background job of a non-interactive shell (nohup ... &, some CI runners) starts with
# SIGINT ignored, and Python then installs no KeyboardInterrupt handler: restore it, as
# an interactive session has it
signal.signal(signal.SIGINT, signal.default_int_handler)
import gammax
from gammax.reduce import MapReductionConfig, reduce_observations

archive, output, config_file = sys.argv[1:4]
config = MapReductionConfig.from_dict(json.load(open(config_file)))
obs_ids = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
try:
    reduce_observations(gammax.open_datastore(archive), config, output, obs_ids=obs_ids)
except KeyboardInterrupt:
    sys.exit(130)
"""


def _start_client(tmp_path, archive, output, obs_ids=None) -> subprocess.Popen:
    script = tmp_path / "client.py"
    script.write_text(_CLIENT)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(scale_config().to_dict()))
    args = [sys.executable, str(script), str(archive), str(output), str(config_file)]
    if obs_ids is not None:
        args.append(json.dumps(list(obs_ids)))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_client_killed_mid_run_resumes_without_recomputing(
    scale_archive, scale_store, clean_run, tmp_path
):
    path = tmp_path / "interrupted.zarr"
    client = _start_client(tmp_path, scale_archive, path)
    try:
        _poll_completed(path, 30)
    finally:
        client.send_signal(signal.SIGKILL)  # no chance to clean up
        client.communicate(timeout=60)
    assert client.returncode == -signal.SIGKILL
    finished = completed_observations(path, "map")
    assert 30 <= len(finished) < N_OBS
    # the killed run left its summary "running"
    assert run_summary(path)["status"] == "running"
    before = chunk_files(path, finished)
    assert len(before) >= 10 * len(finished)
    # a kill during a metadata write leaves zarr's temporary file (seen in CI, where
    # it made zarr warn on the next listing of the group); plant them where it can
    leftovers = [
        path / "map" / f"zarr.{uuid.uuid4().hex}.partial",
        path / "map" / "obs" / f"zarr.{uuid.uuid4().hex}.partial",
        path / f"zarr.{uuid.uuid4().hex}.partial",
    ]
    for file in leftovers:
        file.write_text('{"zarr_format": 3, "node_')

    result = reduce_observations(scale_store, scale_config(), path)
    assert not any(file.exists() for file in leftovers)
    # finished observations were skipped, and their files not rewritten (inode, mtime)
    assert sorted(result.resumed) == sorted(finished)
    assert sorted(result.done) == sorted(set(range(1, N_OBS + 1)) - finished)
    assert result.previous_status == "running"
    assert chunk_files(path, finished) == before
    stored = run_summary(path)
    assert stored["status"] == "finished"
    assert stored["n_resumed"] == len(finished) and stored["n_done"] == N_OBS - len(finished)
    history = zarr.open_group(str(path), mode="r")["map"].attrs["run_history"]
    assert [h["status"] for h in history] == ["running", "finished"]
    # and the result is the clean run's
    assert_same_observations(path, clean_run.path, range(1, N_OBS + 1))
    assert_same_stack(path, clean_run.path)


def test_client_ctrl_c_stops_cleanly_and_resumes(scale_archive, scale_store, clean_run, tmp_path):
    ids = list(range(1, 41))
    path = tmp_path / "ctrl-c.zarr"
    client = _start_client(tmp_path, scale_archive, path, ids)
    try:
        _poll_completed(path, 4)
    finally:
        client.send_signal(signal.SIGINT)  # KeyboardInterrupt in the client
        _, err = client.communicate(timeout=60)
    n_done = len(completed_observations(path, "map"))
    assert client.returncode == 130, (client.returncode, n_done, err.decode()[-2000:])
    # the run stopped, waited for its running tasks, and said so in the store
    summary = run_summary(path)
    assert summary["status"] == "interrupted"
    finished = completed_observations(path, "map")
    assert 4 <= len(finished) < len(ids)
    before = chunk_files(path, finished)
    result = reduce_observations(scale_store, scale_config(), path, obs_ids=ids, stack=False)
    assert sorted(result.resumed) == sorted(finished)
    assert sorted(result.done) == sorted(set(ids) - finished)
    assert result.previous_status == "interrupted"
    assert chunk_files(path, finished) == before
    assert_same_observations(path, clean_run.path, ids)


# --- corrupted input files ---------------------------------------------------------------

TRUNCATED, NO_GTI, NAN_IRF = 17, 42, 73


def _corrupt_archive(src: Path, dst: Path) -> Path:
    """A copy of the archive with 3 of its 100 observations broken, one way each."""
    shutil.copytree(src, dst)
    data = dst / "data"
    # 1. a truncated gzip stream
    raw = (data / f"obs_{TRUNCATED:06d}.fits.gz").read_bytes()
    (data / f"obs_{TRUNCATED:06d}.fits.gz").write_bytes(raw[: len(raw) // 2])
    # 2. a file without its GTI HDU (the index still lists it)
    name = data / f"obs_{NO_GTI:06d}.fits.gz"
    with fits.open(name) as hdul:
        kept = fits.HDUList([h.copy() for h in hdul if h.name != "GTI"])
    with gzip.open(name, "wb") as fh:
        kept.writeto(fh)
    # 3. an IRF file with NaN background values, used by one observation
    with fits.open(dst / "irf" / "analytic.fits.gz") as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    bkg = hdul["BACKGROUND"].data["BKG"].copy()
    bkg[0, 3, 5:8, 5:8] = np.nan
    hdul["BACKGROUND"].data["BKG"] = bkg
    hdul.writeto(dst / "irf" / "nan_irf.fits.gz")
    index = Table.read(dst / "hdu-index.fits.gz")
    index["FILE_NAME"] = index["FILE_NAME"].astype("U32")
    rows = (index["OBS_ID"] == NAN_IRF) & (index["FILE_DIR"] == "irf")
    assert rows.sum() == 4
    index["FILE_NAME"][rows] = "nan_irf.fits.gz"
    index.write(dst / "hdu-index.fits.gz", overwrite=True)
    return dst


def test_corrupted_files_are_skipped_and_reported(scale_archive, clean_run, tmp_path):
    broken = gammax.open_datastore(_corrupt_archive(scale_archive, tmp_path / "broken"))
    path = tmp_path / "broken.zarr"
    with dask.config.set(scheduler="threads"):
        result = reduce_observations(broken, scale_config(), path, errors="skip")
    bad = {TRUNCATED, NO_GTI, NAN_IRF}
    good = sorted(set(range(1, N_OBS + 1)) - bad)
    assert set(result.failed) == bad
    assert sorted(result.done) == good and result.stacked
    # the failure report in the store names error, file, HDU and observation
    report = failure_report(path)
    assert set(report) == bad
    assert report[TRUNCATED]["error"] == "CorruptFileError"
    assert Path(report[TRUNCATED]["file"]).name == f"obs_{TRUNCATED:06d}.fits.gz"
    assert "truncated" in report[TRUNCATED]["message"]
    assert report[NO_GTI]["error"] == "HDUNotFoundError"
    assert Path(report[NO_GTI]["file"]).name == f"obs_{NO_GTI:06d}.fits.gz"
    assert report[NO_GTI]["hdu"] == "GTI"
    assert report[NAN_IRF]["error"] == "InvalidIRFError"
    assert Path(report[NAN_IRF]["file"]).name == "nan_irf.fits.gz"
    assert report[NAN_IRF]["hdu"] == "BACKGROUND"
    assert "non-finite" in report[NAN_IRF]["message"]
    for obs_id, entry in report.items():
        assert entry["obs_id"] == obs_id
        assert (
            f"obs_id {obs_id}"
            in zarr.open_group(str(path), mode="r")["map"].attrs["failures"][str(obs_id)]
        )
    assert run_summary(path)["n_failed"] == 3
    # no failed observation left a group or a trace in the mosaic; no NaN anywhere
    assert completed_observations(path, "map") == set(good)
    assert all(np.isfinite(v).all() for v in stacked_arrays(path).values())
    # everything else equals the clean run: per observation, and the mosaic equals the
    # clean run's observations stacked without the broken ones (re-stacked, not recomputed)
    assert_same_observations(path, clean_run.path, good)
    reference = tmp_path / "reference.zarr"
    shutil.copytree(clean_run.path, reference)
    restacked = reduce_observations(broken, scale_config(), reference, obs_ids=good)
    assert sorted(restacked.resumed) == good and restacked.done == []
    assert_same_stack(path, reference)

    # with errors="raise" the NaN IRF stops the run with a gammax error naming it
    with pytest.raises(InvalidIRFError, match=r"nan_irf\.fits\.gz.*BACKGROUND.*obs_id 73"):
        reduce_observations(broken, scale_config(), path, obs_ids=[NAN_IRF])
    assert run_summary(path)["status"] == "failed"
    assert completed_observations(path, "map") == set(good)  # nothing lost


# --- the store cannot be written ------------------------------------------------------


def _readonly(mount, path):
    """Make the store read-only: remount the tmpfs (root) or chmod (other users)."""
    if mount is not None:
        mount.remount("ro")
    else:
        for p in [path, *path.rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)


def _writable(mount, path):
    if mount is not None:
        mount.remount("rw")
    else:
        for p in [path, *path.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)


@pytest.fixture
def store_dir(request, tmp_path):
    """Where the store goes, and a tmpfs mount when running as root (chmod binds no root)."""
    if os.geteuid() != 0:
        return tmp_path, None
    mount = request.getfixturevalue("tmpfs")
    return mount.mount("64m"), mount


def test_read_only_store_is_a_clear_error_and_nothing_is_damaged(scale_store, clean_run, store_dir):
    root, mount = store_dir
    path = root / "ro.zarr"
    first, more = list(range(1, 11)), list(range(1, 21))
    reduce_observations(scale_store, scale_config(), path, obs_ids=first)
    before = chunk_files(path, first)
    stack_before = stacked_arrays(path)
    _readonly(mount, path)
    try:
        with pytest.raises(StoreWriteError, match=r"ro\.zarr") as info:
            reduce_observations(scale_store, scale_config(), path, obs_ids=more)
        assert info.value.errno in (errno.EROFS, errno.EACCES)
        assert isinstance(info.value, OSError)
        assert "read-only" in str(info.value) or "permission" in str(info.value)
        # refused by the first write of the run, before any observation was reduced
        assert "run summary" in str(info.value)
    finally:
        _writable(mount, path)
    # nothing written before was touched
    assert chunk_files(path, first) == before
    assert completed_observations(path, "map") == set(first)
    for var, values in stacked_arrays(path).items():
        np.testing.assert_array_equal(values, stack_before[var])
    assert_same_observations(path, clean_run.path, first)
    # writable again: the run resumes
    result = reduce_observations(scale_store, scale_config(), path, obs_ids=more)
    assert sorted(result.resumed) == first and sorted(result.done) == more[10:]
    assert_same_observations(path, clean_run.path, more)


def test_stacking_writes_into_a_read_only_store_are_clear_errors(scale_store, store_dir):
    # a store that turns read-only mid-run can fail in the stacking tasks too (seen at
    # full size: a mosaic window write raised a bare OSError); each write of the mosaic
    # raises StoreWriteError naming what it wrote, and leaves the stack as it was
    from gammax.reduce import mosaic
    from gammax.reduce.stack import window_grid

    root, mount = store_dir
    path = root / "stack-ro.zarr"
    ids = list(range(1, 6))
    config = scale_config()
    reduce_observations(scale_store, config, path, obs_ids=ids)
    before = stacked_arrays(path)
    done = [{"obs_id": i, "status": "done"} for i in ids]
    window = next(
        w
        for w in window_grid(config.geom.sky_shape, config.stack_chunk)
        if (
            acc := mosaic._accumulate_window(str(path), "map", config, "maps", w, ids, None, *done)
        ).obs_ids
    )
    _readonly(mount, path)
    try:
        with pytest.raises(
            StoreWriteError, match=r"window y \d+:\d+, x \d+:\d+ of map/stacked/maps"
        ):
            mosaic._write_window(acc, str(path), "map", config, "maps", window)
        with pytest.raises(StoreWriteError, match=r"attributes of map/stacked") as info:
            mosaic._finish(str(path), "map", done, [True])
        assert info.value.errno in (errno.EROFS, errno.EACCES)
        with pytest.raises(StoreWriteError, match=r"map/stacked.*stack-ro\.zarr"):
            mosaic._init_stacked(str(path), "map", config)
    finally:
        _writable(mount, path)
    for var, values in stacked_arrays(path).items():
        np.testing.assert_array_equal(values, before[var])


def test_full_disk_is_a_clear_error_and_a_rerun_resumes(scale_store, clean_run, tmpfs):
    root = tmpfs.mount("2m")
    path = root / "full.zarr"
    ids = list(range(1, 41))
    with dask.config.set(scheduler="threads"):
        with pytest.raises(StoreWriteError, match=r"full\.zarr") as info:
            reduce_observations(scale_store, scale_config(), path, obs_ids=ids)
    assert info.value.errno == errno.ENOSPC
    assert "disk is full" in str(info.value)
    finished = completed_observations(path, "map")
    assert 0 < len(finished) < len(ids)
    # the complete groups read back identical to the clean run
    assert_same_observations(path, clean_run.path, sorted(finished))
    before = chunk_files(path, finished)
    # more space: the rerun resumes and completes
    tmpfs.remount("size=64m")
    result = reduce_observations(scale_store, scale_config(), path, obs_ids=ids)
    assert sorted(result.resumed) == sorted(finished)
    assert sorted(result.done) == sorted(set(ids) - finished)
    assert chunk_files(path, finished) == before
    assert_same_observations(path, clean_run.path, ids)


# --- the run summary ---------------------------------------------------------------


def test_run_summary_is_returned_stored_and_printed(scale_store, clean_run, tmp_path, capsys):
    stored = run_summary(clean_run.path)
    assert stored == json.loads(json.dumps(clean_run.to_dict()))
    assert stored["status"] == "finished"
    assert stored["n_done"] == N_OBS and stored["n_resumed"] == 0 and stored["n_failed"] == 0
    assert stored["done"] == list(range(1, N_OBS + 1))
    assert stored["n_events"] == clean_run.n_events > 0
    assert 0 < stored["task_seconds_median"] <= stored["task_seconds_max"]
    assert stored["task_seconds_total"] == pytest.approx(
        sum(clean_run.task_seconds.values()), abs=0.01
    )
    assert stored["wall_seconds"] > 0
    # the counted events are the counts in the per-observation maps (inside the mosaic)
    root = zarr.open_group(str(clean_run.path), mode="r")
    stored_events = [root[f"map/obs/{o}"].attrs["gammax_n_events"] for o in range(1, N_OBS + 1)]
    assert sum(stored_events) == clean_run.n_events
    assert stored_events[0] == int(observation_arrays(clean_run.path, 1)["counts"].sum())
    # progress=True prints the summary after the progress bar
    result = reduce_observations(
        scale_store, scale_config(), tmp_path / "progress.zarr", obs_ids=[1, 2, 3], progress=True
    )
    out = capsys.readouterr().out
    assert "100% Completed" in out
    assert "observations done: 3, already complete (resumed): 0, failed: 0" in out
    assert out.rstrip().endswith(result.summary())


def test_store_write_error_keeps_errno_and_location_through_pickling(tmp_path):
    # what distributed does with an exception raised on a worker
    import pickle

    from gammax.reduce.zarr_store import store_writes

    with pytest.raises(StoreWriteError) as info:
        with store_writes(tmp_path / "s.zarr", "group 'map/obs/7'", obs_id=7):
            open(tmp_path / "missing-dir" / "f", "wb")  # a real OSError (ENOENT)
    error = pickle.loads(pickle.dumps(info.value))
    assert type(error) is StoreWriteError and isinstance(error, OSError)
    assert error.errno == errno.ENOENT == info.value.errno
    assert error.obs_id == 7 and error.file == str(tmp_path / "s.zarr")
    assert str(error) == str(info.value)
    assert "map/obs/7" in str(error) and "obs_id 7" in str(error)
