"""Shared fixtures for the model tests."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr


@pytest.fixture(scope="session")
def gp():
    """Gammapy's models module (the reference implementation, a test extra)."""
    return pytest.importorskip("gammapy.modeling.models")


@pytest.fixture(scope="session")
def energy_edges():
    """Log-spaced true-energy edges, 50 GeV to 200 TeV (TeV)."""
    return np.geomspace(0.05, 200.0, 25)


def energy_da(values, dim="energy_true", unit="TeV"):
    """Energies as a DataArray with units."""
    return xr.DataArray(np.asarray(values, float), dims=dim, attrs={"units": unit})
