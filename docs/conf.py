"""Sphinx configuration of the gammax documentation."""

project = "gammax"
author = "gammax developers"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
]
napoleon_numpy_docstring = True
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "xarray": ("https://docs.xarray.dev/en/stable", None),
    "dask": ("https://docs.dask.org/en/stable", None),
    "astropy": ("https://docs.astropy.org/en/stable", None),
}
html_theme = "alabaster"
exclude_patterns = ["_build"]
