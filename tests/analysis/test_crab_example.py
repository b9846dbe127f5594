"""``gammax run examples/hess_crab_3d.yaml`` reproduces the Crab fit of the fitting issue.

The example configures the reduction of ``tests/fit`` (four H.E.S.S. DR1 Crab runs,
4 x 4 deg at 0.02 deg, 12 energy bins, FoV background) and its model (power-law
point source plus the background norm). The command runs the reduction and the
fit; Gammapy 2.1 then fits the same stacked dataset (the same arrays, through
``tests/fit``'s ``to_gammapy_map``) with the same start values. Required, as in
``tests/fit``: best-fit values within 0.1 sigma, errors within 5% (Gammapy's
errors from HESSE).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from gammax.cli import main
from gammax.datasets import MapDataset

from ..fit.conftest import gammapy_crab_models, gammapy_values_errors, to_gammapy_map

pytestmark = [pytest.mark.data, pytest.mark.gammapy, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "examples" / "hess_crab_3d.yaml"
SIGMA, ERR = 0.1, 0.05


def test_gammax_run_crab_3d_matches_gammapy(hess_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GAMMAX_DATA", str(Path(hess_dir).parent))
    out = tmp_path / "crab"
    args = ["run", str(EXAMPLE), "--output", str(out), "--no-progress"]
    assert main([*args, "--steps", "observations", "datasets", "fit"]) == 0
    assert "crab.spectral.index" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["observations"] == [23523, 23526, 23559, 23592]
    fit = summary["fit"]
    assert fit["success"]

    from gammapy.datasets import Datasets
    from gammapy.modeling import Fit

    stacked = MapDataset.from_zarr(out / "datasets.zarr", "map/stacked").load()
    gds = Datasets([to_gammapy_map(stacked)])
    gmodels = gammapy_crab_models()
    gds.models = gmodels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Fit().run(gds).success
    reference = gammapy_values_errors(gmodels, hesse_datasets=gds)
    assert set(reference) == set(fit["parameters"])
    for key, (value, error) in reference.items():
        ours = fit["parameters"][key]
        assert abs(ours["value"] - value) < SIGMA * error, (key, ours, value, error)
        assert ours["error"] == pytest.approx(error, rel=ERR), (key, ours, error)


EXAMPLE_1D = EXAMPLE.with_name("hess_crab_1d.yaml")


def _gammapy_1d_pipeline(hess_dir):
    """Gammapy 2.1's reduction and joint fit with the settings of hess_crab_1d.yaml."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.datasets import Datasets, SpectrumDataset
    from gammapy.makers import (
        ReflectedRegionsBackgroundMaker,
        SafeMaskMaker,
        SpectrumDatasetMaker,
    )
    from gammapy.maps import MapAxis, RegionGeom
    from gammapy.modeling import Fit
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel
    from regions import CircleSkyRegion

    region = CircleSkyRegion(SkyCoord(83.633, 22.0145, unit="deg"), 0.11 * u.deg)
    energy = MapAxis.from_energy_bounds("0.5 TeV", "50 TeV", 12)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "100 TeV", 24, name="energy_true")
    empty = SpectrumDataset.create(
        geom=RegionGeom.create(region=region, axes=[energy]), energy_axis_true=energy_true
    )
    maker = SpectrumDatasetMaker(
        selection=["counts", "exposure", "edisp"], containment_correction=True
    )
    background = ReflectedRegionsBackgroundMaker()
    safe = SafeMaskMaker(methods=["aeff-default", "edisp-bias"])
    datasets = Datasets()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gammapy's own deprecation chatter while reading
        observations = DataStore.from_dir(hess_dir).get_observations([23523, 23526, 23559, 23592])
        for obs in observations:
            ds = maker.run(empty.copy(name=str(obs.obs_id)), obs)
            datasets.append(safe.run(background.run(ds, obs), obs))
    model = SkyModel(
        PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"), name="crab"
    )
    datasets.models = [model]
    assert Fit().run(datasets).success
    return gammapy_values_errors([model], hesse_datasets=datasets)


def test_gammax_run_crab_1d_matches_gammapy_pipeline(hess_dir, tmp_path, monkeypatch):
    """The 1D example against Gammapy's whole chain (reduction and joint WStat fit)."""
    monkeypatch.setenv("GAMMAX_DATA", str(Path(hess_dir).parent))
    out = tmp_path / "crab1d"
    args = ["run", str(EXAMPLE_1D), "--output", str(out), "--no-progress"]
    assert main([*args, "--steps", "observations", "datasets", "fit"]) == 0
    fit = json.loads((out / "summary.json").read_text())["fit"]
    assert fit["success"]
    reference = _gammapy_1d_pipeline(hess_dir)
    assert set(reference) == set(fit["parameters"])
    for key, (value, error) in reference.items():
        ours = fit["parameters"][key]
        assert abs(ours["value"] - value) < SIGMA * error, (key, ours, value, error)
        assert ours["error"] == pytest.approx(error, rel=ERR), (key, ours, error)
