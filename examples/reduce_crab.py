"""Reduce the four H.E.S.S. DR1 Crab runs to a 3D dataset and an ON/OFF spectrum.

Writes ``crab.zarr`` (maps and spectrum groups) and two PNGs into the output
directory (default: a temporary directory), then prints the run summaries and
a ring-background significance of the Crab.

Run from the repository root::

    python examples/reduce_crab.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from astropy.coordinates import SkyCoord

import gammax
from gammax.geom import MapAxis, WcsGeom, exclusion_mask
from gammax.reduce import (
    MapReductionConfig,
    SpectrumReductionConfig,
    reduce_observations,
)
from gammax.reduce.background import ring_background
from gammax.testing import data_path


def main(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    store = gammax.open_datastore(data_path("hess-dl3-dr1")).select_target("crab")
    crab = SkyCoord(83.633, 22.0145, unit="deg")
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    exclusion = "icrs; circle(83.633, 22.0145, 0.3)"

    maps_config = MapReductionConfig(
        geom=WcsGeom.create(skydir=crab, width=4, binsz=0.02, axes=[energy]),
        energy_axis_true=energy_true,
        safe_mask_methods=("aeff-default", "offset-max"),
        offset_max=2.0,
        background_method="fov",
        exclusion={"regions": exclusion},
    )
    result = reduce_observations(store, maps_config, output / "crab.zarr", progress=True)
    print(result.summary())

    spectrum_config = SpectrumReductionConfig(
        on_region="icrs; circle(83.633, 22.0145, 0.11)",
        energy_axis=energy,
        energy_axis_true=energy_true,
        safe_mask_methods=("aeff-default", "edisp-bias"),
    )
    spectra = reduce_observations(store, spectrum_config, output / "crab.zarr", name="spectrum")
    print(spectra.summary())

    stacked = result.open_stacked()["maps"].to_dataset()
    safe = stacked.mask_safe
    counts = stacked.counts.where(safe, 0).sum("energy")
    background = stacked.background.where(safe, 0).sum("energy")
    keep = exclusion_mask(stacked.counts.gx.geom.to_image(), exclusion)
    ring = ring_background(counts, background, r_in=0.5, width=0.3, exclusion=keep).compute()
    print(f"peak ring-background significance: {float(ring.significance.max()):.1f} sigma")

    ax = ring.significance.gx.plot(cmap="RdBu_r", vmin=-5, vmax=5)
    ax.set_title("Crab, 4 runs: Li & Ma significance (ring background)")
    ax.figure.savefig(output / "crab_significance.png", dpi=100)

    spectrum = spectra.open_stacked()["spectrum"].to_dataset()
    excess = spectrum.counts - spectrum.alpha * spectrum.counts_off
    fig, ax = plt.subplots()
    ax.step(spectrum.energy, spectrum.counts, where="mid", label="ON")
    ax.step(spectrum.energy, spectrum.alpha * spectrum.counts_off, where="mid", label="alpha x OFF")
    ax.step(spectrum.energy, excess, where="mid", label="excess")
    ax.set(xscale="log", xlabel="Energy [TeV]", ylabel="Counts")
    ax.legend()
    fig.savefig(output / "crab_spectrum.png", dpi=100)
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
