"""A tour of gammax.analysis: the steps one by one, and their xarray results.

Simulates a small archive with the built-in analytic instrument (no download
needed), then runs a 3D analysis step by step and looks at each product with
plain xarray. Run it with::

    python examples/analysis_tour.py [OUTPUT_DIR]

About 20 s on two cores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from gammax.analysis import Analysis, AnalysisConfig
from gammax.analysis.demo import demo_configs, simulate_demo_archive

out = Path(sys.argv[1] if len(sys.argv) > 1 else "analysis-tour")
out.mkdir(parents=True, exist_ok=True)

# 1. data: four 20-minute observations of a point source (index 2.5)
simulate_demo_archive(out / "archive", n_obs=4)

# 2. a configuration: the demo's 3D one, with a few values changed. update() returns a
#    new, validated configuration; a typo would raise ConfigError naming the key.
config = AnalysisConfig(demo_configs(out, out / "archive")["3d"])
config = config.update(
    {"general": {"outdir": str(out / "3d"), "progress": False}, "fit": {"backend": "minuit"}}
)
print(config.datasets.geom.wcs.binsize, config.datasets.geom.axes.energy.nbins)

# 3. the steps, one by one
analysis = Analysis(config)
store = analysis.get_observations()
print(store.summary())

datasets = analysis.get_datasets()  # lazy xr.Datasets opened from <outdir>/datasets.zarr
stacked = datasets[0]
print(stacked)  # dims (energy, y, x), (energy_true, y, x); units in attrs

# plain xarray on the stacked maps: counts and background per energy bin, excess image
per_energy = stacked[["counts", "background"]].sum(["x", "y"]).compute()
print(per_energy.to_dataframe()[["counts", "background"]])
excess = (stacked.counts - stacked.background).sum("energy")
print("excess within 0.2 deg of the centre:", float(excess[20:30, 20:30].sum()))

# the same store opens without gammax, group by group
maps = xr.open_zarr(out / "3d" / "datasets.zarr", group="map/obs/1/maps", consolidated=False)
print("observation 1 counts:", int(maps.counts.sum()))

result = analysis.run_fit()
print(result.summary())

flux_points = analysis.get_flux_points()  # xr.Dataset on dim "energy"
print(flux_points[["norm", "norm_err", "sqrt_ts"]].to_dataframe())

light_curve = analysis.get_light_curve()  # dims ("time", "energy")
print("variability p-value:", light_curve.variability_pvalue.values)

maps = analysis.get_excess_map()
peak = maps.sqrt_ts.where(np.isfinite(maps.sqrt_ts)).max()
print("peak significance:", float(peak))

# 4. plots, summary.json and provenance.json
summary = analysis.write_outputs()
print(json.dumps(summary["fit"]["parameters"], indent=1))
print("outputs:", sorted(summary["files"].values()))
