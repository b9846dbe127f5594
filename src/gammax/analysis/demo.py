"""``gammax demo``: simulate a small archive, then analyse it in 3D and in 1D.

The archive (built with :func:`gammax.simulate.simulate_archive` and the
analytic instrument, :meth:`gammax.simulate.Instrument.analytic`) holds
``n_obs`` wobble observations of one point source with a power-law spectrum,
:data:`INJECTED`. Two configurations are written next to it (``demo_3d.yaml``,
``demo_1d.yaml``; rerun them with ``gammax run``) and analysed with
:class:`~gammax.analysis.Analysis`; each fit starts away from the injected
values (:data:`START`).

Examples
--------
>>> result = run_demo("gammax-demo")  # doctest: +SKIP
>>> result["3d"]["fit"]["parameters"]["source.spectral.index"]  # doctest: +SKIP
{'value': 2.47, 'error': 0.05}
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from .analysis import Analysis
from .config import AnalysisConfig

__all__ = ["INJECTED", "START", "demo_configs", "run_demo", "simulate_demo_archive"]

#: The simulated source: position (deg, ICRS) and power law.
INJECTED = {
    "lon_0": 83.63,
    "lat_0": 22.01,
    "index": 2.5,
    "amplitude": 2e-11,  # cm-2 s-1 TeV-1 at 1 TeV
}
#: Where the fits start.
START = {"lon_0": 83.66, "lat_0": 21.98, "index": 2.2, "amplitude": 1e-11}


def _source(p: dict[str, float], name: str = "source", spatial: bool = True) -> Any:
    import gammax.models as gm

    spectral = gm.PowerLawSpectralModel(
        index=p["index"], amplitude=f"{p['amplitude']} cm-2 s-1 TeV-1", reference="1 TeV"
    )
    shape = gm.PointSpatialModel(lon_0=f"{p['lon_0']} deg", lat_0=f"{p['lat_0']} deg")
    return gm.SkyModel(spectral, shape if spatial else None, name=name)


def simulate_demo_archive(
    path: str | Path, n_obs: int = 4, ontime: float = 1200.0, seed: int = 7, client: Any = None
) -> Any:
    """Write the demo's DL3 archive (GADF files and index tables) into ``path``."""
    import gammax.models as gm
    import gammax.simulate as gs

    specs = gs.wobble_pointings(
        (INJECTED["lon_0"], INJECTED["lat_0"]), n_obs, offset=0.5, ontime=ontime, object="Demo"
    )
    return gs.simulate_archive(
        path,
        specs,
        gs.Instrument.analytic(),
        gm.Models([_source(INJECTED)]),
        seed=seed,
        overwrite=True,
        client=client,
    )


def _components(spatial: bool) -> list[dict]:
    import gammax.models as gm

    return gm.Models([_source(START, spatial=spatial)]).to_dict()["components"]


def demo_configs(outdir: str | Path, archive: str | Path) -> dict[str, dict]:
    """The 3D and 1D configurations of the demo (plain YAML data)."""
    outdir, archive = Path(outdir).resolve(), Path(archive).resolve()
    lon, lat = f"{INJECTED['lon_0']} deg", f"{INJECTED['lat_0']} deg"
    axes = {
        "energy": {"min": "0.5 TeV", "max": "50 TeV", "nbins": 8},
        "energy_true": {"min": "0.3 TeV", "max": "100 TeV", "nbins": 16},
    }
    common = {
        "observations": {"datastore": str(archive)},
        "fit": {"fit_range": {"min": "0.5 TeV", "max": "50 TeV"}},
        "flux_points": {
            "source": "source",
            "energy": {"min": "0.5 TeV", "max": "50 TeV", "nbins": 4},
        },
        "light_curve": {"source": "source"},
    }
    three = {
        "general": {"outdir": str(outdir / "3d"), "overwrite": True},
        "datasets": {
            "type": "3d",
            "geom": {
                "wcs": {
                    "skydir": {"lon": lon, "lat": lat},
                    "binsize": "0.04 deg",
                    "width": {"width": "2 deg", "height": "2 deg"},
                },
                "selection": {"offset_max": "2 deg"},
                "axes": axes,
            },
            "background": {
                "method": "fov",
                "exclusion": f"icrs; circle({INJECTED['lon_0']}, {INJECTED['lat_0']}, 0.3)",
            },
            "safe_mask": {"methods": ["aeff-default", "offset-max"]},
        },
        "models": {"components": _components(spatial=True)},
        "excess_map": {"correlation_radius": "0.1 deg"},
        **common,
    }
    one = {
        "general": {
            "outdir": str(outdir / "1d"),
            "overwrite": True,
            "steps": ["observations", "datasets", "fit", "flux_points", "light_curve"],
        },
        "datasets": {
            "type": "1d",
            "geom": {"axes": axes},
            "on_region": {"lon": lon, "lat": lat, "radius": "0.15 deg"},
            "background": {"method": "reflected"},
            "containment_correction": True,
        },
        "models": {"components": _components(spatial=False)},
        **common,
    }
    return {"3d": three, "1d": one}


def run_demo(
    outdir: str | Path = "gammax-demo",
    n_obs: int = 4,
    seed: int = 7,
    progress: bool = True,
    client: Any = None,
    echo: Any = print,
) -> dict[str, Any]:
    """Simulate the archive, run the 3D and the 1D analysis; returns both summaries.

    Parameters
    ----------
    outdir : path-like
        Output directory: ``archive/``, ``demo_3d.yaml``, ``demo_1d.yaml``,
        ``3d/`` and ``1d/`` (see :mod:`gammax.analysis.outputs`).
    n_obs : int
        Number of simulated observations (20 min each).
    seed : int
        Seed of the simulation.
    progress : bool
        Progress bars.
    client : distributed.Client, optional
        Compute there.
    echo : callable
        Where progress messages go (``print``; ``None`` for silence).
    """
    from .outputs import format_summary

    say = echo or (lambda *_: None)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    archive = outdir / "archive"
    say(f"simulating {n_obs} observations with the analytic instrument -> {archive}")
    simulate_demo_archive(archive, n_obs=n_obs, seed=seed, client=client)
    results: dict[str, Any] = {"injected": dict(INJECTED)}
    for kind, data in demo_configs(outdir, archive).items():
        data["general"]["progress"] = progress
        path = outdir / f"demo_{kind}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        say(f"{kind.upper()} analysis of {path}")
        analysis = Analysis(AnalysisConfig.read(path), client=client)
        results[kind] = analysis.run()
        say(format_summary(results[kind]))
    results["seconds"] = time.perf_counter() - t0
    return results
