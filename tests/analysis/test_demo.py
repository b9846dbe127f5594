"""``gammax demo``: the injected source is recovered and every promised file is written.

The demo simulates 4 x 20 min of a point source with a power law
(:data:`gammax.analysis.demo.INJECTED`) with the analytic instrument and fits
it from :data:`~gammax.analysis.demo.START`. Required: every fitted source
parameter within 3 sigma (its HESSE error) of the injected value, in 3D and 1D;
the flux-point norms (relative to the best fit) within 3 sigma of 1.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import yaml

import gammax
import gammax.models as gm
from gammax.analysis.demo import INJECTED, START
from gammax.analysis.outputs import PLOTS
from gammax.cli import main

pytestmark = pytest.mark.slow

N_SIGMA = 3.0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    code = main(["demo", "--output", str(out), "--no-progress"])
    return code, out


def test_demo_exit_code(demo):
    code, _ = demo
    assert code == 0


@pytest.mark.parametrize("kind", ["3d", "1d"])
def test_demo_recovers_injected_source(demo, kind):
    _, out = demo
    summary = json.loads((out / kind / "summary.json").read_text())
    fit = summary["fit"]
    assert fit["success"]
    names = ["index", "amplitude"] + (["lon_0", "lat_0"] if kind == "3d" else [])
    for name in names:
        comp = "spatial" if name.endswith("_0") else "spectral"
        p = fit["parameters"][f"source.{comp}.{name}"]
        assert p["error"] > 0
        # the fit moved from its start to the truth
        assert abs(p["value"] - INJECTED[name]) < N_SIGMA * p["error"], (name, p, INJECTED[name])
        assert abs(START[name] - INJECTED[name]) > N_SIGMA * p["error"], name
    # the written best-fit models are the summary's
    models = gm.read_models(out / kind / "models.yaml")
    index = models.parameter("source.spectral.index")
    assert index.value == pytest.approx(fit["parameters"]["source.spectral.index"]["value"])
    # flux points follow the best-fit spectrum
    fp = summary["flux_points"]
    norm, err = np.array(fp["norm"]), np.array(fp["norm_err"])
    assert fp["n_bins"] == 4 and np.all(np.abs(norm - 1) < N_SIGMA * err), (norm, err)
    # one light-curve bin per observation, a constant source
    lc = summary["light_curve"]
    assert lc["n_bins"] == 4 and lc["variability_pvalue"][0] > 0.001


def test_demo_writes_every_promised_file(demo):
    _, out = demo
    store = gammax.open_datastore(out / "archive")
    assert len(store.obs_ids) == 4
    for name in ("demo_3d.yaml", "demo_1d.yaml"):
        assert (out / name).is_file()
    for kind in ("3d", "1d"):
        d = out / kind
        files = ["config.yaml", "models.yaml", "summary.json", "provenance.json"]
        files += ["flux_points.ecsv", "light_curve.ecsv"]
        for name in files:
            assert (d / name).is_file() and (d / name).stat().st_size > 0, (kind, name)
        for plot in PLOTS[kind]:
            png = d / "plots" / f"{plot}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", (kind, plot)
        group = "map" if kind == "3d" else "spectrum"
        stacked = xr.open_zarr(
            d / "datasets.zarr",
            group=f"{group}/stacked/" + ("maps" if kind == "3d" else "spectrum"),
            consolidated=False,
        )
        assert float(stacked.counts.sum()) > 0
        summary = json.loads((d / "summary.json").read_text())
        assert all((d / f).exists() for f in summary["files"].values())
        prov = json.loads((d / "provenance.json").read_text())
        assert prov["versions"]["gammax"] == gammax.__version__
        assert prov["config"]["datasets"]["type"] == kind
        assert prov["obs_ids"] == [1, 2, 3, 4]
    excess = xr.open_zarr(out / "3d" / "excess_map.zarr")
    assert "sqrt_ts" in excess
    # the source is the brightest spot of the significance map
    sig = excess.sqrt_ts
    if "energy" in sig.dims:
        sig = sig.isel(energy=0)
    iy, ix = np.unravel_index(int(np.nanargmax(sig.values)), sig.shape)
    ny, nx = sig.shape
    assert abs(iy - ny / 2) <= 2 and abs(ix - nx / 2) <= 2


@pytest.mark.distributed
def test_run_on_a_distributed_scheduler_gives_the_same_fit(demo, tmp_path, capsys):
    """``gammax run --scheduler ADDRESS``: reduction and fit on a real LocalCluster."""
    import distributed

    _, out = demo
    local = json.loads((out / "3d" / "summary.json").read_text())["fit"]["parameters"]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        args = ["run", str(out / "demo_3d.yaml"), "--output", str(tmp_path / "d")]
        args += ["--scheduler", cluster.scheduler_address, "--no-progress"]
        assert main([*args, "--steps", "observations", "datasets", "fit"]) == 0
        # the observations were reduced by the cluster's workers
        assert any(
            "reduce-obs" in str(key)
            for key in client.run_on_scheduler(
                lambda dask_scheduler: list(dask_scheduler.task_prefixes)
            )
        )
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert "distributed scheduler" in summary["compute"]
    for key, p in summary["fit"]["parameters"].items():
        assert abs(p["value"] - local[key]["value"]) < 0.01 * local[key]["error"], key


def test_steps_one_by_one_with_defaults(demo, tmp_path):
    """Default models, fit range and per-observation datasets through the Python API."""
    from gammax.analysis import Analysis, AnalysisConfig
    from gammax.datasets import energy_axis

    _, out = demo
    data = yaml.safe_load((out / "demo_3d.yaml").read_text())
    data["models"] = {}  # default: a power-law point source "source" at the map centre
    data["general"].update(outdir=str(tmp_path / "steps"), progress=False)
    data["datasets"]["stack"] = False
    data["fit"]["fit_range"] = {"min": None, "max": None}
    analysis = Analysis(AnalysisConfig(data))
    store = analysis.get_observations()
    assert [int(o) for o in store.obs_ids] == [1, 2, 3, 4]
    datasets = analysis.get_datasets()
    assert [ds.attrs["name"] for ds in datasets] == ["1", "2", "3", "4"]
    assert all("mask_fit" not in ds for ds in datasets)
    # fit.fit_range becomes mask_fit: the energy bins inside the range
    ranged = Analysis(
        AnalysisConfig(data).update({"fit": {"fit_range": {"min": "1 TeV", "max": "20 TeV"}}})
    )
    masked = ranged._apply_fit_range(datasets[0])
    edges = np.asarray(energy_axis(datasets[0]).edges)
    inside = (edges[:-1] >= 1 - 1e-6) & (edges[1:] <= 20 + 1e-6)
    mask = masked.mask_fit.any(["x", "y"]).values
    assert inside.any() and not inside.all() and np.array_equal(mask, inside)
    assert bool(masked.mask_fit.all(["x", "y"]).values[inside].all())
    result = analysis.run_fit()
    assert result.success
    assert analysis.models.names == ["source", "1-bkg", "2-bkg", "3-bkg", "4-bkg"]
    index = analysis.models.parameter("source.spectral.index")
    assert abs(index.value - INJECTED["index"]) < N_SIGMA * index.error
    assert (tmp_path / "steps" / "models.yaml").is_file()


def test_rerun_resumes_an_interrupted_run_and_protects_a_finished_one(demo, tmp_path):
    from gammax.analysis import Analysis, AnalysisConfig
    from gammax.errors import ConfigError

    _, out = demo
    data = yaml.safe_load((out / "demo_1d.yaml").read_text())
    data["general"].update(
        outdir=str(tmp_path / "r"),
        progress=False,
        overwrite=False,
        plots=False,
        steps=["observations", "datasets"],
    )
    first = Analysis(AnalysisConfig(data))
    first.run()
    assert sorted(first.reduction.done) == [1, 2, 3, 4]
    with pytest.raises(ConfigError, match=r"general\.overwrite"):
        Analysis(AnalysisConfig(data)).run()
    (tmp_path / "r" / "summary.json").unlink()  # as if interrupted before the end
    again = Analysis(AnalysisConfig(data))
    again.run()
    assert again.reduction.done == [] and sorted(again.reduction.resumed) == [1, 2, 3, 4]


def test_progress_bars_during_reduction_and_fit(demo, tmp_path, capfd):
    _, out = demo
    data = yaml.safe_load((out / "demo_1d.yaml").read_text())
    data["general"]["progress"] = True  # the demo fixture ran with --no-progress
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(data))
    args = ["run", str(config), "--output", str(tmp_path / "p")]
    assert main([*args, "--steps", "observations", "datasets", "fit"]) == 0
    captured = capfd.readouterr()
    assert "% Completed" in captured.out  # dask's progress bar over the reduction graph
    assert "likelihood evaluations" in captured.err and ": done" in captured.err  # the fit
