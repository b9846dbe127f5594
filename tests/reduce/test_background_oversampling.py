"""Background integration over energy sub-bins (Gammapy's ``background_oversampling``)."""

from __future__ import annotations

import numpy as np
import pytest

import gammax
from gammax.errors import ConfigError
from gammax.irf import integrate_background
from gammax.reduce import reduce_observations
from gammax.simulate import AnalyticInstrument

from .conftest import gammapy_background, relative
from .test_run import small_config


def _rates(oversampling, edges):
    bkg = AnalyticInstrument().bkg()
    return integrate_background(
        bkg, edges, fov_lon=0.5, fov_lat=0.3, oversampling=oversampling
    ).values


def test_oversampling_sums_the_sub_bins_and_converges():
    edges = np.geomspace(0.2, 100, 7)  # 6 bins a factor 2.8 wide, as the survey mosaic
    fine = np.geomspace(0.2, 100, 6 * 64 + 1)
    reference = _rates(None, fine).reshape(6, 64).sum(axis=1)
    np.testing.assert_allclose(_rates(64, edges), reference, rtol=1e-10)
    err_edges = np.abs(_rates(None, edges) / reference - 1)
    err_four = np.abs(_rates(4, edges) / reference - 1)
    # the threshold bin: a power law between the edges is off by > 1%, four sub-bins are not
    assert err_edges[0] > 0.01
    assert err_four.max() < 0.2 * err_edges.max()
    np.testing.assert_array_equal(_rates(1, edges), _rates(None, edges))


@pytest.mark.parametrize("value", [0, -2, 2.5, "4", True])
def test_bad_oversampling_is_a_config_error(value):
    with pytest.raises(ConfigError, match="background_oversampling"):
        small_config(background_oversampling=value)
    with pytest.raises(ConfigError, match="oversampling"):
        _rates(value, np.geomspace(1, 10, 3))


def test_stores_written_before_the_option_resume(tmp_path):
    # a store written before background_oversampling existed (its config has no such
    # key, and another fingerprint) resumes with the default; any other value is
    # another configuration
    import hashlib
    import json

    from gammax.reduce.zarr_store import init_store

    config = small_config()
    before = config.to_dict()
    del before["background_oversampling"]
    old = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert old != config.fingerprint()
    init_store(tmp_path / "old.zarr", "map", before, old)
    init_store(tmp_path / "old.zarr", "map", config.to_dict(), config.fingerprint())
    over = small_config(background_oversampling=4)
    with pytest.raises(ConfigError, match="another configuration"):
        init_store(tmp_path / "old.zarr", "map", over.to_dict(), over.fingerprint())
    # and a store of the option's default refuses another value too
    init_store(tmp_path / "new.zarr", "map", config.to_dict(), config.fingerprint())
    with pytest.raises(ConfigError, match="another configuration"):
        init_store(tmp_path / "new.zarr", "map", over.to_dict(), over.fingerprint())


@pytest.mark.data
@pytest.mark.gammapy
def test_oversampled_background_matches_gammapy(hess_dir, tmp_path):
    store = gammax.open_datastore(hess_dir).select_obs([23523])
    maps = {}
    for n in (None, 4):
        config = small_config(
            products=("counts", "exposure", "background"),
            safe_mask_methods=("offset-max",),
            background_oversampling=n,
        )
        result = reduce_observations(store, config, tmp_path / f"{n}.zarr", stack=False)
        maps[n] = result.open_observation(23523)["maps"]["background"].values
    expected = gammapy_background(hess_dir, 23523, config.geom, background_oversampling=4)
    median, worst, n = relative(maps[4], expected, 1e-3 * expected.max())
    assert n > 1000 and median < 0.005 and worst < 0.02, (median, worst)
    # and the sub-bins change the prediction (both agree with Gammapy's own counterpart)
    change = np.abs(maps[4].sum(axis=(1, 2)) / maps[None].sum(axis=(1, 2)) - 1)
    assert change.max() > 0.003, change
