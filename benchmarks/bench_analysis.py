"""gammax run vs Gammapy's high-level Analysis: the 3D H.E.S.S. Crab example, reduce + fit.

Both run the configuration of ``examples/hess_crab_3d.yaml`` (4 runs, 4 x 4 deg at
0.02 deg, 12 + 24 energy bins, FoV background scaled, offset-max 2 deg; no exclusion
region, which Gammapy's config takes only as a mask file) from a fresh interpreter:
observations -> datasets -> fit of a power-law point source and the background norm.
Plots and estimators are not timed. Prints the figures and, last, one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from _harness import run_all, run_one

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("GAMMAX_DATA", HERE.parents[1] / "shared" / "data"))
EXAMPLE = HERE.parent / "examples" / "hess_crab_3d.yaml"


def gammax():
    import yaml

    from gammax.analysis import Analysis, AnalysisConfig

    data = yaml.safe_load(EXAMPLE.read_text())
    data["observations"]["datastore"] = str(DATA / "hess-dl3-dr1")
    data["datasets"]["background"]["exclusion"] = None
    data["general"] = {
        "outdir": tempfile.mkdtemp(),
        "progress": False,
        "plots": False,
        "steps": ["observations", "datasets", "fit"],
    }
    config = AnalysisConfig(data)

    def job():
        summary = Analysis(config).run()
        p = summary["fit"]["parameters"]["crab.spectral.index"]
        return {"index": p["value"], "index_err": p["error"], "success": summary["fit"]["success"]}

    return job


def gammapy():
    import warnings

    warnings.simplefilter("ignore")
    import yaml
    from gammapy.analysis import Analysis, AnalysisConfig
    from gammapy.modeling.models import Models

    ex = yaml.safe_load(EXAMPLE.read_text())
    ds = ex["datasets"]
    config = AnalysisConfig(
        **{
            "observations": {
                "datastore": str(DATA / "hess-dl3-dr1"),
                "obs_ids": ex["observations"]["obs_ids"],
            },
            "datasets": {
                "type": "3d",
                "stack": True,
                "geom": ds["geom"],
                "background": {"method": "fov_background", "parameters": {"method": "scale"}},
                "safe_mask": {"methods": ["offset-max"], "parameters": {"offset_max": "2 deg"}},
            },
        }
    )
    models = Models.from_dict({"components": ex["models"]["components"]})

    def job():
        analysis = Analysis(config)
        analysis.get_observations()
        analysis.get_datasets()
        analysis.set_models(models)
        analysis.run_fit()
        p = analysis.models["crab"].spectral_model.index
        return {"index": p.value, "index_err": p.error, "success": analysis.fit_result.success}

    return job


if __name__ == "__main__":
    if "--one" in sys.argv:
        run_one(globals()[sys.argv[sys.argv.index("--one") + 1]])
        sys.exit()
    res = run_all(__file__, ["gammax", "gammapy"], repeats=1)
    for name, r in res.items():
        print(
            f"{name:8s} {r['seconds']:7.2f} s  peak {r['peak_rss_mb']:7.0f} MB  "
            f"index {r['index']:.4f} +- {r['index_err']:.4f}  success {r['success']}"
        )
    speedup = res["gammapy"]["seconds"] / res["gammax"]["seconds"]
    print(
        json.dumps(
            {
                "gammax_s": round(res["gammax"]["seconds"], 3),
                "gammapy_s": round(res["gammapy"]["seconds"], 3),
                "gammax_peak_mb": round(res["gammax"]["peak_rss_mb"]),
                "gammapy_peak_mb": round(res["gammapy"]["peak_rss_mb"]),
                "speedup": round(speedup, 2),
            }
        )
    )
