from __future__ import annotations

import warnings

import pytest


@pytest.fixture(scope="module")
def gammapy_store(hess_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gammapy.data import DataStore

        return DataStore.from_dir(hess_dir)
