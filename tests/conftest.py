"""Shared fixtures; real-data tests use the ``data`` marker and fail loudly without data."""

from __future__ import annotations

import pytest

from gammax.testing import data_path


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
