"""The examples in the gammax.datasets and gammax.fit docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gammax.datasets
import gammax.fit

MODULES = [
    f"{pkg.__name__}.{m.name}"
    for pkg in (gammax.datasets, gammax.fit)
    for m in pkgutil.iter_modules(pkg.__path__)
] + ["gammax.datasets", "gammax.fit"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
