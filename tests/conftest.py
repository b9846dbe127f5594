"""Shared fixtures; real-data tests use the ``data`` marker and fail loudly without data."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from gammax.testing import data_path

# Property tests draw the same examples on every run by default (derandomized, so
# the test command passes or fails the same way each time); set
# HYPOTHESIS_PROFILE=explore for fresh random examples on each run.
settings.register_profile("default-derandomized", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default-derandomized"))


@pytest.fixture(scope="session")
def data_dir():
    """Root of the shared real data (``$GAMMAX_DATA`` or ``../shared/data``)."""
    try:
        return data_path()
    except FileNotFoundError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def hess_dir(data_dir):
    return data_dir / "hess-dl3-dr1"


@pytest.fixture(scope="session")
def cta_1dc_dir(data_dir):
    return data_dir / "cta-1dc"
