"""The examples in the gammax.geom docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gammax.geom

_SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(gammax.geom.__path__))
MODULES = ["gammax.geom", *(f"gammax.geom.{name}" for name in _SUBMODULES)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
