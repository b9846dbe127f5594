"""A scaled-down survey for the fault tests: ~100 simulated Galactic-plane runs.

One archive per test session (simulated with the analytic instrument, no
downloaded data), a survey-mosaic configuration coarse enough that a reduction
of the 100 observations takes seconds, and one clean reference reduction that
the faulty runs are compared with, array by array.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import zarr

N_OBS = 100
LON_RANGE = (-10.0, 10.0)
LAT_VALUES = (-1.0, 0.0, 1.0)
SEED = 8


def scale_config(**kwargs):
    """Galactic-plane CAR mosaic at 0.2 deg, 2 energy bins, cutouts per observation."""
    from astropy.coordinates import SkyCoord

    from gammax.geom import MapAxis, WcsGeom
    from gammax.reduce import MapReductionConfig

    energy = MapAxis.from_energy_bounds("0.3 TeV", "30 TeV", 2)
    energy_true = MapAxis.from_energy_bounds("0.2 TeV", "50 TeV", 3, name="energy_true")
    geom = WcsGeom.create(
        skydir=SkyCoord(0.0, 0.0, unit="deg", frame="galactic"),
        width=(24.0, 6.0),
        binsz=0.2,
        frame="galactic",
        proj="CAR",
        axes=[energy],
    )
    defaults = {
        "geom": geom,
        "energy_axis_true": energy_true,
        "products": ("counts", "exposure", "background"),
        "offset_max": 2.0,
        "safe_mask_methods": ("offset-max",),
        "cutout_width": 4.4,
        "stack_chunk": 40,
    }
    defaults.update(kwargs)
    return MapReductionConfig(**defaults)


@pytest.fixture(scope="session")
def scale_archive(tmp_path_factory) -> Path:
    """The simulated archive: 100 runs of 5 min on b = -1, 0, 1 deg, |l| < 10 deg."""
    import gammax.simulate as gs
    from gammax.models import Models

    specs = gs.galactic_plane_pointings(
        N_OBS, lon_range=LON_RANGE, lat_values=LAT_VALUES, ontime=300.0
    )
    sky = Models(gs.galactic_population(20, seed=SEED, lon_range=LON_RANGE))
    root = tmp_path_factory.mktemp("scale") / "archive"
    with __import__("dask").config.set(scheduler="threads"):
        gs.simulate_archive(root, specs, gs.Instrument.analytic(), sky, seed=SEED)
    return root


@pytest.fixture(scope="session")
def scale_store(scale_archive):
    import gammax

    return gammax.open_datastore(scale_archive)


@pytest.fixture(scope="session")
def clean_run(scale_store, tmp_path_factory):
    """Reference: the whole archive reduced without faults (threaded scheduler)."""
    import dask

    from gammax.reduce import reduce_observations

    path = tmp_path_factory.mktemp("clean") / "clean.zarr"
    with dask.config.set(scheduler="threads"):
        result = reduce_observations(scale_store, scale_config(), path)
    assert len(result.done) == N_OBS and result.stacked
    return result


def _arrays(path, group) -> dict[str, np.ndarray]:
    """The data variables of a group, read with zarr (no decoding: bit-exact, fast)."""
    node = zarr.open_group(str(path), mode="r", use_consolidated=False)[group]
    coords = set()
    for _, array in node.arrays():
        coords.update(str(array.attrs.get("coordinates", "")).split())
    return {
        key: array[...]
        for key, array in node.arrays()
        if key in ("counts", "exposure", "background", "mask_safe") and key not in coords
    }


def stacked_arrays(path, name="map") -> dict[str, np.ndarray]:
    return _arrays(path, f"{name}/stacked/maps")


def observation_arrays(path, obs_id, name="map") -> dict[str, np.ndarray]:
    return _arrays(path, f"{name}/obs/{obs_id}/maps")


def assert_same_stack(path, reference, name="map"):
    """Stacked mosaics identical, bit for bit (and not empty)."""
    got, expected = stacked_arrays(path, name), stacked_arrays(reference, name)
    assert set(got) == set(expected) == {"counts", "exposure", "background", "mask_safe"}
    for var in expected:
        np.testing.assert_array_equal(got[var], expected[var], err_msg=var)
    assert expected["counts"].sum() > 1000
    attrs = zarr.open_group(str(path), mode="r")[f"{name}/stacked"].attrs
    ref_attrs = zarr.open_group(str(reference), mode="r")[f"{name}/stacked"].attrs
    assert attrs["obs_ids"] == ref_attrs["obs_ids"]
    assert attrs["livetime"] == ref_attrs["livetime"]


def assert_same_observations(path, reference, obs_ids, name="map"):
    """Every observation's maps identical, bit for bit."""
    for obs_id in obs_ids:
        got = observation_arrays(path, obs_id, name)
        expected = observation_arrays(reference, obs_id, name)
        assert set(got) == set(expected) == {"counts", "exposure", "background", "mask_safe"}
        for var in expected:
            np.testing.assert_array_equal(got[var], expected[var], err_msg=f"{obs_id}/{var}")


def chunk_files(path, obs_ids, name="map") -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every file of the observations' groups."""
    out = {}
    for obs_id in obs_ids:
        group = Path(path) / name / "obs" / str(obs_id)
        for f in sorted(group.rglob("*")):
            if f.is_file():
                st = f.stat()
                out[str(f.relative_to(path))] = (st.st_ino, st.st_mtime_ns)
    return out


def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN)."""
    import os
    import tempfile

    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = tempfile.mkdtemp(prefix="gammax-mount-probe-")
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], capture_output=True
        )
        if done.returncode != 0:
            return False
        subprocess.run(["umount", probe], check=True)
        return True
    finally:
        shutil.rmtree(probe, ignore_errors=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A real, small file system: ``mount(size)`` mounts a tmpfs, ``remount(opts)`` changes it.

    Needs root with ``CAP_SYS_ADMIN``; the test is skipped otherwise, with the
    reason (an unprivileged CI runner cannot produce a full or read-only file
    system without it).
    """
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root with CAP_SYS_ADMIN")
    mnt = tmp_path / "mnt"
    mnt.mkdir()

    class Mount:
        path = mnt

        def mount(self, size: str) -> Path:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True
            )
            return mnt

        def remount(self, options: str) -> None:
            subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)

    yield Mount()
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
