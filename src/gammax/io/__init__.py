"""FITS readers for the GADF formats, and the ``gammax`` xarray backend engine."""

from __future__ import annotations

from .fits import check_gzip_stream, column_schemas, header_to_attrs, open_fits, read_columns
from .gadf import HDU_CLASSES, HDU_TYPES, IRF_SPECS, classify_header
from .irf_table import read_irf

__all__ = [
    "HDU_CLASSES",
    "HDU_TYPES",
    "IRF_SPECS",
    "check_gzip_stream",
    "classify_header",
    "column_schemas",
    "header_to_attrs",
    "open_fits",
    "read_columns",
    "read_irf",
]
