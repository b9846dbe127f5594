"""Fixtures of helper A's estimator tests (flux points, light curves, tables, plots).

- ``joint_hess``: the four H.E.S.S. Crab runs as OGIP ON/OFF spectra (joint-crab)
  with a power law fitted by gammax;
- ``pks_datasets``: six PKS 2155-304 flare runs (33787-33792) reduced by gammax to
  per-run ON/OFF spectra; ``light_curve``: their per-run light curve;
- ``crab_zarr`` / ``crab_stacked``: the 3D Crab reduction of ``tests/fit/conftest.py``
  (imported, not copied).
"""

from __future__ import annotations

import glob

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

import gammax
import gammax.models as gm
from gammax.datasets import read_ogip
from gammax.estimators.light_curve import LightCurveEstimator
from gammax.fit import fit

from ..fit.conftest import crab_stacked, crab_zarr  # noqa: F401 - fixtures re-used

HESS = "joint-crab/spectra/hess/pha_obs*.fits"
PKS = SkyCoord(329.71694, -30.22559, unit="deg")
PKS_RUNS = list(range(33787, 33793))
PKS_EDGES = [0.7, 20] * u.TeV


def pks_models():
    """Power law for PKS 2155-304 (start values)."""
    model = gm.SkyModel(
        gm.PowerLawSpectralModel(index=3.4, amplitude="2e-11 cm-2 s-1 TeV-1"), name="pks"
    )
    return gm.Models([model])


@pytest.fixture(scope="session")
def hess_files(data_dir):
    files = sorted(glob.glob(str(data_dir / HESS)))
    assert len(files) == 4
    return files


@pytest.fixture(scope="session")
def joint_hess(hess_files):
    datasets = [read_ogip(f) for f in hess_files]
    models = gm.Models(
        [
            gm.SkyModel(
                gm.PowerLawSpectralModel(index=2.5, amplitude="4e-11 cm-2 s-1 TeV-1"), name="crab"
            )
        ]
    )
    result = fit(datasets, models)
    assert result.success
    result.close()
    return datasets, models


@pytest.fixture(scope="session")
def pks_zarr(hess_dir, tmp_path_factory):
    from gammax.geom import MapAxis
    from gammax.reduce import SpectrumReductionConfig, reduce_observations

    config = SpectrumReductionConfig(
        on_region=CircleSkyRegion(PKS, 0.11 * u.deg),
        energy_axis=MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", 8),
        energy_axis_true=MapAxis.from_energy_bounds("0.3 TeV", "50 TeV", 16, name="energy_true"),
        safe_mask_methods=("aeff-default", "edisp-bias"),
    )
    store = gammax.open_datastore(hess_dir).select_obs(PKS_RUNS)
    path = tmp_path_factory.mktemp("lc") / "pks.zarr"
    reduce_observations(store, config, path, name="spectrum")
    return path


@pytest.fixture(scope="session")
def pks_datasets(pks_zarr):
    from gammax.datasets import SpectrumDatasetOnOff

    return [SpectrumDatasetOnOff.from_zarr(pks_zarr, f"spectrum/obs/{r}") for r in PKS_RUNS]


@pytest.fixture(scope="session")
def light_curve(pks_datasets):
    lce = LightCurveEstimator(PKS_EDGES, "pks", selection_optional=["errn-errp", "ul"])
    return lce.run(pks_datasets, pks_models())
