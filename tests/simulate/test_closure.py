"""Closure: a simulated archive reduced by gammax.reduce gives back what was injected."""

from __future__ import annotations

import numpy as np

import gammax.simulate as gs
from gammax.geom import MapAxis, WcsGeom
from gammax.models import Models
from gammax.reduce import MapReductionConfig, reduce_observations

from .conftest import CRAB


def test_background_counts_equal_the_reduced_background_with_dead_time(tmp_path, instrument):
    """Background-only runs with 20% dead time: counts = predicted background (ONTIME).

    GADF background rates are per observation time; a simulator scaling them
    with the live time would give 20% fewer counts than the reduction predicts.
    """
    specs = gs.wobble_pointings(CRAB, 4, offset=0.5, ontime=30000.0, deadc=0.8)
    result = gs.simulate_archive(tmp_path / "dl3", specs, instrument, Models([]), seed=3)
    energy = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", 6)
    geom = WcsGeom.create(skydir=CRAB, width=5, binsz=0.1, frame="icrs", axes=[energy])
    config = MapReductionConfig(
        geom=geom, products=("counts", "background"), offset_max=2.0, background_oversampling=8
    )
    reduced = reduce_observations(result.open(), config, tmp_path / "red.zarr")
    stacked = reduced.open_stacked()["maps"]
    safe = stacked.mask_safe.values
    counts = np.where(safe, stacked.counts.values, 0).sum(axis=(1, 2))
    background = np.where(safe, stacked.background.values, 0).sum(axis=(1, 2))
    assert counts.sum() > 20_000
    # total within 3 sigma (1 sigma ~ 0.6%), and per energy bin within 4 sigma
    assert abs(counts.sum() - background.sum()) < 3 * np.sqrt(background.sum())
    significant = background > 100
    pulls = (counts - background)[significant] / np.sqrt(background[significant])
    assert np.all(np.abs(pulls) < 4), pulls
