"""Simulate a small DL3 archive with the built-in analytic instrument, then summarise it.

Four wobble runs on a Crab-like point source and a Gaussian neighbour, written
as GADF DL3 files with index tables into the directory given on the command
line (default: a new temporary directory). The archive opens with
``gammax.open_datastore`` and Gammapy's ``DataStore.from_dir``.

Run::

    python examples/simulate_archive.py [OUTDIR] [--n-obs 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import tempfile

import gammax.simulate as gs
from gammax.cli import main as gammax_cli
from gammax.models import (
    GaussianSpatialModel,
    Models,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
)


def sky() -> Models:
    crab = SkyModel(
        PowerLawSpectralModel(index=2.6, amplitude="3.8e-11 cm-2 s-1 TeV-1"),
        PointSpatialModel(lon_0="83.633 deg", lat_0="22.014 deg"),
        name="crab",
    )
    blob = SkyModel(
        PowerLawSpectralModel(index=2.2, amplitude="5e-12 cm-2 s-1 TeV-1"),
        GaussianSpatialModel(lon_0="84.5 deg", lat_0="22.6 deg", sigma="0.3 deg"),
        name="blob",
    )
    return Models([crab, blob])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", nargs="?", help="archive directory (default: temporary)")
    parser.add_argument("--n-obs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    outdir = args.outdir or tempfile.mkdtemp(prefix="gammax-sim-")

    instrument = gs.Instrument.analytic()
    specs = gs.wobble_pointings(
        (83.633, 22.014), args.n_obs, offset=0.5, ontime=1800.0, object="Crab"
    )
    result = gs.simulate_archive(outdir, specs, instrument, sky(), seed=args.seed, overwrite=True)
    print(result.summary())
    print(
        result.observations[["obs_id", "n_events", "n_background", "npred"]].to_string(index=False)
    )
    print()
    return gammax_cli(["info", outdir])


if __name__ == "__main__":
    raise SystemExit(main())
