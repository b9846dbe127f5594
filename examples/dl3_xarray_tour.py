"""A tour of lazy DL3 access with gammax: data store, selections, events, IRFs.

Run from the repository root::

    python examples/dl3_xarray_tour.py [path/to/hess-dl3-dr1]
"""

from __future__ import annotations

import sys

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

import gammax
from gammax import irf
from gammax.testing import data_path


def main(path: str | None = None) -> None:
    store = gammax.open_datastore(path or data_path("hess-dl3-dr1"))
    print(store.summary(), "\n")

    crab = SkyCoord(83.633, 22.0145, unit="deg")
    runs = store.select_cone(crab, 2.5 * u.deg).select_range("ZEN_PNT", max=50 * u.deg)
    print("Crab runs:", runs.obs_ids.tolist())

    events = runs.events()  # lazy: only headers were read
    print(events, "\n")

    # xarray-native analysis: events above 1 TeV within 0.2 deg of the Crab, per run
    ra, dec = np.deg2rad(events.RA), np.deg2rad(events.DEC)
    cos_sep = np.sin(dec) * np.sin(crab.dec.rad) + np.cos(dec) * np.cos(crab.dec.rad) * np.cos(
        ra - crab.ra.rad
    )
    on = (cos_sep > np.cos(np.deg2rad(0.2))) & (events.ENERGY > 1.0)
    counts = on.groupby(events.obs_id.compute()).sum().compute()
    print(
        "ON counts above 1 TeV per run:",
        {int(k): int(v) for k, v in zip(counts.obs_id.values, counts.values, strict=True)},
    )

    # IRFs are Datasets; evaluation is lazy and broadcasts by dim name
    aeff = runs.irf(int(runs.obs_ids[0]), "aeff")
    values = np.geomspace(0.5, 50, 5)
    energy = xr.DataArray(
        values, dims="energy_true", coords={"energy_true": values}, attrs={"units": "TeV"}
    )
    area = irf.evaluate_aeff(aeff, energy, [0.0, 0.5, 1.0] * u.deg)
    print("\nEffective area (m2):")
    print(area.round(0).to_pandas())
    psf = runs.irf(int(runs.obs_ids[0]), "psf")
    r68 = irf.psf_containment_radius(psf, 0.68, energy, 0.5 * u.deg, extrapolate="fill")
    print("\nPSF 68% containment radius (deg):", np.round(r68.values, 3))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
