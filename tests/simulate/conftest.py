"""Shared fixtures of the simulation tests: the analytic instrument, its tables, a small archive."""

from __future__ import annotations

import pytest

import gammax.simulate as gs
from gammax.models import (
    GaussianSpatialModel,
    Models,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
)

CRAB = (83.63, 22.01)


@pytest.fixture(scope="session")
def instrument():
    return gs.Instrument.analytic()


@pytest.fixture(scope="session")
def tables(instrument):
    return gs.build_tables(instrument)


def crab_model(amplitude: str = "3e-11 cm-2 s-1 TeV-1", position=CRAB, index: float = 2.5):
    return SkyModel(
        PowerLawSpectralModel(index=index, amplitude=amplitude),
        PointSpatialModel(lon_0=f"{position[0]} deg", lat_0=f"{position[1]} deg"),
        name="crab",
    )


def gauss_model(position=(84.13, 22.51), sigma: float = 0.3):
    return SkyModel(
        PowerLawSpectralModel(index=2.2, amplitude="2e-11 cm-2 s-1 TeV-1"),
        GaussianSpatialModel(
            lon_0=f"{position[0]} deg", lat_0=f"{position[1]} deg", sigma=f"{sigma} deg"
        ),
        name="blob",
    )


@pytest.fixture(scope="session")
def sky_models():
    return Models([crab_model(), gauss_model()])


@pytest.fixture(scope="session")
def wobble_specs():
    return gs.wobble_pointings(CRAB, 5, offset=0.5, ontime=600.0, object="Crab")


@pytest.fixture(scope="session")
def archive(tmp_path_factory, instrument, sky_models, wobble_specs):
    """A 5-observation archive of the analytic instrument (seed 7)."""
    root = tmp_path_factory.mktemp("archive")
    return gs.simulate_archive(root, wobble_specs, instrument, sky_models, seed=7)
