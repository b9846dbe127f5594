"""Counts cube of the Crab Nebula from the H.E.S.S. DL3 DR1 events, with a quick look.

Reads the EVENTS tables of the four Crab observations with astropy (one dask
chunk per observation), bins them lazily into a 3D WCS cube (TAN, 0.02 deg
pixels, 4 log energy bands), masks the source for a ring-style exclusion mask,
smooths the counts with a Gaussian kernel across chunk borders, and writes:

- ``crab_counts_quicklook.png``: one panel per energy band;
- ``crab_counts.fits``: the cube in the GADF map format (opens in Gammapy);
- ``crab_maps.zarr``: counts, smoothed counts and the exclusion mask (with CF bounds).

Usage: ``python examples/geometry_quicklook.py [OUTPUT_DIR] [--data PATH]``
(OUTPUT_DIR defaults to a new temporary directory; the data to ``$GAMMAX_DATA``
or ``../shared/data``).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import astropy.units as u
import dask
import dask.array as da
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from regions import CircleSkyRegion

from gammax import dims
from gammax.geom import MapAxis, WcsGeom, bin_events, exclusion_mask
from gammax.geom.convolve import smooth
from gammax.geom.fits import write_map
from gammax.geom.plot import quicklook
from gammax.testing import data_path

CRAB = SkyCoord(83.633, 22.0145, unit="deg")


@dask.delayed
def _read_column(path: Path, column: str) -> np.ndarray:
    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul["EVENTS"].data[column], dtype=float)


def crab_events(root: Path) -> xr.Dataset:
    """RA, DEC, ENERGY of the Crab runs, one lazy chunk per observation."""
    index = Table.read(root / "obs-index.fits.gz")
    runs = index[index["OBJECT"] == "Crab Nebula"]
    columns: dict[str, list] = {"RA": [], "DEC": [], "ENERGY": []}
    for obs_id, n_events in zip(runs["OBS_ID"], runs["EVENT_COUNT"], strict=True):
        path = root / "data" / f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
        for name in columns:
            columns[name].append(
                da.from_delayed(_read_column(path, name), shape=(int(n_events),), dtype=float)
            )
    units = {"RA": "deg", "DEC": "deg", "ENERGY": "TeV"}
    return xr.Dataset(
        {k: (dims.EVENT, da.concatenate(v), {"units": units[k]}) for k, v in columns.items()}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", help="output directory (default: a temp dir)")
    parser.add_argument("--data", help="folder holding hess-dl3-dr1/")
    args = parser.parse_args()
    out = Path(args.output or tempfile.mkdtemp(prefix="gammax-quicklook-"))
    out.mkdir(parents=True, exist_ok=True)
    root = (Path(args.data) if args.data else data_path()) / "hess-dl3-dr1"

    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 4)
    geom = WcsGeom.create(
        skydir=CRAB, width=4.0, binsz=0.02, proj="TAN", frame="icrs", axes=[energy]
    )
    events = crab_events(root)
    counts = bin_events(events, geom)  # lazy: nothing read yet
    region = CircleSkyRegion(CRAB, 0.3 * u.deg)
    mask = exclusion_mask(geom, region, chunks={dims.X: 100, dims.Y: 100})
    smoothed = smooth(
        counts.chunk({dims.X: 100, dims.Y: 100}).astype(float), "0.05 deg", mode="constant"
    ).rename("counts_smoothed")

    counts, smoothed, mask = dask.compute(counts, smoothed, mask)
    print(
        f"{events.sizes[dims.EVENT]:,} events read, {int(counts.sum()):,} in the cube "
        f"{dict(counts.sizes)}"
    )
    print(f"counts per band: {counts.sum([dims.Y, dims.X]).values.tolist()}")

    quicklook(smoothed, out / "crab_counts_quicklook.png")
    write_map(counts, out / "crab_counts.fits", overwrite=True)
    ds = xr.Dataset(
        {"counts": counts, "counts_smoothed": smoothed, "exclusion_mask": mask}
    ).gx.add_bounds()
    with warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is not part of the v3 specification yet.
        warnings.filterwarnings("ignore", message="Consolidated metadata")
        ds.to_zarr(out / "crab_maps.zarr", mode="w", consolidated=True)
    reopened = xr.open_zarr(out / "crab_maps.zarr")
    assert reopened["counts"].gx.geom == geom
    print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")


if __name__ == "__main__":
    main()
