"""Small reductions of the four H.E.S.S. Crab runs for the map-estimator tests.

A 2 x 2 deg CAR cutout at 0.02 deg around the Crab, 4 reconstructed-energy bins
(0.5-50 TeV), 8 true-energy bins, FoV background scaled outside 0.3 deg: small
enough to keep the tests fast, real enough to compare with Gammapy. The Gammapy
twins hold *the same arrays* (see ``tests/fit/conftest.py::to_gammapy_map``), so
the cross-checks compare the estimators, not the reductions.
"""

from __future__ import annotations

from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

import gammax
from gammax.geom import MapAxis, WcsGeom

CRAB_RUNS = [23523, 23526, 23559, 23592]
CRAB = SkyCoord(83.633, 22.0145, unit="deg", frame="icrs")
EXCLUSION_RADIUS = 0.3


def small_config(width: float = 2.0, n_energy: int = 4):
    """Reduction config of the small Crab cube."""
    from gammax.reduce import MapReductionConfig

    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", n_energy)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 8, name="energy_true")
    geom = WcsGeom.create(
        skydir=CRAB, width=width, binsz=0.02, frame="icrs", proj="CAR", axes=[energy]
    )
    region = CircleSkyRegion(CRAB, EXCLUSION_RADIUS * u.deg)
    return MapReductionConfig(
        geom=geom,
        energy_axis_true=energy_true,
        offset_max=2.0,
        safe_mask_methods=("offset-max",),
        background_method="fov",
        fov_params={"method": "scale"},
        exclusion={"regions": region.serialize(format="ds9")},
    )


def reduce_small(hess_dir, path, **kwargs):
    """Reduce the four Crab runs into ``path``; return the stacked MapDataset (in memory)."""
    from gammax.datasets import MapDataset
    from gammax.reduce import reduce_observations

    store = gammax.open_datastore(hess_dir).select_obs(CRAB_RUNS)
    reduce_observations(store, small_config(**kwargs), path)
    return MapDataset.from_zarr(path, "map/stacked").load()


_CACHE: dict = {}


def small_crab(hess_dir, tmp_dir):
    """The small stacked Crab MapDataset, reduced once per test session."""
    key = (str(hess_dir), str(tmp_dir))
    if key not in _CACHE:
        from pathlib import Path

        _CACHE[key] = reduce_small(hess_dir, Path(tmp_dir) / "small_crab.zarr")
    return _CACHE[key]


def ring_on_off(ds):
    """A MapDatasetOnOff from the ring background (0.5-0.8 deg ring, Crab excluded)."""
    from gammax.datasets import MapDatasetOnOff
    from gammax.geom import exclusion_mask

    keep = exclusion_mask(
        ds.counts.gx.geom.to_image(), [CircleSkyRegion(CRAB, EXCLUSION_RADIUS * u.deg)]
    )
    return MapDatasetOnOff.from_ring(ds, r_in=0.5, width=0.3, exclusion=keep)


def gammapy_on_off(on):
    """Gammapy's twin of a gammax MapDatasetOnOff (same arrays)."""
    from gammapy.datasets import MapDatasetOnOff as GOnOff
    from gammapy.maps import Map

    from tests.fit.conftest import to_gammapy_map

    base = on.drop_vars(["counts_off", "acceptance", "acceptance_off"]).assign(
        background=on.acceptance
    )
    base.attrs["gammax_dataset"] = "MapDataset"
    g = to_gammapy_map(base)
    geom = g.counts.geom
    return GOnOff.from_map_dataset(
        g,
        acceptance=Map.from_geom(geom, data=on.acceptance.values.astype(float)),
        acceptance_off=Map.from_geom(geom, data=on.acceptance_off.values.astype(float)),
        counts_off=Map.from_geom(geom, data=on.counts_off.values.astype(float)),
        name=on.attrs["name"],
    )


def rel_diff(ours, theirs, mask):
    """Largest relative difference over ``mask``."""
    import numpy as np

    ours, theirs = np.asarray(ours, float)[mask], np.asarray(theirs, float)[mask]
    return float(np.max(np.abs(ours - theirs) / np.abs(theirs)))
