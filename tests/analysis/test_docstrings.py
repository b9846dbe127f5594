"""The examples in the gammax.analysis docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gammax.analysis

MODULES = [f"gammax.analysis.{m.name}" for m in pkgutil.iter_modules(gammax.analysis.__path__)]


@pytest.mark.parametrize("name", sorted([*MODULES, "gammax.analysis", "gammax.cli"]))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
