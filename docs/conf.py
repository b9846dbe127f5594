"""Sphinx configuration of the gammax documentation.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` (the test suite
does, in ``tests/test_docs.py``). Set ``GAMMAX_DOCS_OFFLINE=1`` to skip the
intersphinx inventories (no network).
"""

import os

project = "gammax"
author = "gammax developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
]
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"show-inheritance": True}
autodoc_typehints = "none"
autodoc_mock_imports = []
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "xarray": ("https://docs.xarray.dev/en/stable", None),
    "dask": ("https://docs.dask.org/en/stable", None),
    "astropy": ("https://docs.astropy.org/en/stable", None),
}
if os.environ.get("GAMMAX_DOCS_OFFLINE"):
    intersphinx_mapping = {}
html_theme = "alabaster"
exclude_patterns = ["_build", "api_generated/*.rst.tmp"]
