"""The ``gammax`` xarray backend engine: ``xr.open_dataset(path, engine="gammax")``.

Opens one GADF HDU of a FITS file (gzipped or not) lazily:

- EVENTS, GTI and POINTING tables become Datasets with dim ``event``, ``gti``
  or ``time`` (the same layout as :meth:`gammax.DataStore.events`);
- IRF tables (``aeff_2d``, ``edisp_2d``, ``psf_table``, ``psf_3gauss``,
  ``psf_king``, ``bkg_2d``, ``bkg_3d``, ``rad_max_2d``) become the Datasets of
  :func:`gammax.io.read_irf`.

Only headers (and the tiny IRF axis columns) are read when opening; values are
read on access, or per chunk with ``chunks={}``.

Examples
--------
>>> import xarray as xr
>>> events = xr.open_dataset("run.fits.gz", engine="gammax")  # doctest: +SKIP
>>> aeff = xr.open_dataset("run.fits.gz", engine="gammax", hdu="AEFF")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

from .. import dims as D
from ..errors import FormatError, UnknownHDUClassError
from .fits import (
    ColumnSchema,
    column_attrs,
    column_schemas,
    get_hdu,
    header_to_attrs,
    open_fits,
    read_columns,
)
from .gadf import IRF_SPECS, REQUIRED_COLUMNS, classify_header
from .irf_table import read_irf
from .time import time_attrs

__all__ = ["GammaxBackendEntrypoint", "open_table_hdu"]

_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fit.gz", ".fts", ".fts.gz")
_ROW_DIMS = {"events": D.EVENT, "gti": D.GTI, "pointing": D.TIME}
_TIME_COLUMNS = {"events": ("TIME",), "gti": ("START", "STOP"), "pointing": ("TIME",)}


class FitsColumnArray(BackendArray):
    """One column of a binary table, read on access (rows sliced in the file)."""

    def __init__(
        self, path: str, hdu: str | int, schema: ColumnSchema, nrows: int, obs_id: int | None = None
    ) -> None:
        self.path = path
        self.hdu = hdu
        self.name = schema.name
        self.obs_id = obs_id
        self.shape = (nrows, *schema.shape)
        self.dtype = schema.dtype

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._raw_getitem
        )

    def _raw_getitem(self, key: tuple):
        rows, rest = key[0], key[1:]
        row_slice = rows if isinstance(rows, slice) else slice(rows, rows + 1)
        values = read_columns(self.path, self.hdu, [self.name], rows=row_slice, obs_id=self.obs_id)[
            self.name
        ]
        values = values.astype(self.dtype, copy=False)
        if not isinstance(rows, slice):
            values = values[0]
        return values[(..., *tuple(rest))] if rest else values


def _pick_hdu(path: Path) -> tuple[str | int, tuple[str, str]]:
    """First GADF HDU of a file, preferring EVENTS."""
    found = []
    with open_fits(path) as hdul:
        for idx, hdu in enumerate(hdul):
            kind = classify_header(hdu.header)
            if kind is not None:
                found.append((hdu.name or idx, kind))
    if not found:
        raise UnknownHDUClassError(
            "no GADF HDU (HDUCLAS1 = EVENTS, GTI, RESPONSE) in file", file=path
        )
    for name, kind in found:
        if kind[0] == "events":
            return name, kind
    return found[0]


def open_table_hdu(
    path: str | os.PathLike, hdu: str | int, hdu_type: str, *, obs_id: int | None = None
) -> xr.Dataset:
    """Lazily open an EVENTS, GTI or POINTING table of one file."""
    path = Path(path)
    with open_fits(path, obs_id=obs_id, hdu=hdu) as hdul:
        table = get_hdu(hdul, hdu, path=path, obs_id=obs_id)
        header = table.header.copy()
        schemas = column_schemas(table)
    attrs = header_to_attrs(header)
    if obs_id is None and isinstance(attrs.get("OBS_ID"), int):
        obs_id = attrs["OBS_ID"]
    names = {s.name.upper() for s in schemas}
    missing = [c for c in REQUIRED_COLUMNS.get(hdu_type, ()) if c not in names]
    if missing:
        from ..errors import MissingColumnError

        raise MissingColumnError(
            f"{hdu_type.upper()} table lacks required column(s) {missing}",
            file=path,
            hdu=hdu,
            obs_id=obs_id,
        )
    nrows = int(header.get("NAXIS2", 0))
    dim = _ROW_DIMS[hdu_type]
    try:
        t_attrs = time_attrs(header)
    except FormatError:
        t_attrs = {}
    variables = {}
    for schema in schemas:
        var_attrs = column_attrs(schema)
        if schema.name in _TIME_COLUMNS[hdu_type]:
            var_attrs.update(t_attrs)
        extra = tuple(f"{schema.name.lower()}_{i}" for i in range(len(schema.shape)))
        data = indexing.LazilyIndexedArray(FitsColumnArray(str(path), hdu, schema, nrows, obs_id))
        variables[schema.name] = xr.Variable((dim, *extra), data, var_attrs)
    coords = {}
    if obs_id is not None:
        coords[D.OBS_ID] = xr.Variable((dim,), np.full(nrows, obs_id, dtype=np.int64))
    attrs.update({"hdu_type": hdu_type, "source_file": str(path), "source_hdu": hdu})
    return xr.Dataset(variables, coords=coords, attrs=attrs)


class GammaxBackendEntrypoint(BackendEntrypoint):
    """xarray backend for GADF DL3 FITS files (events, GTI, pointing, IRFs)."""

    description = "Open GADF DL3 FITS HDUs (events, GTIs, IRFs) lazily with gammax"
    url = "https://gammax.readthedocs.io"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "hdu", "obs_id")

    def open_dataset(
        self,
        filename_or_obj,
        *,
        drop_variables=None,
        hdu: str | int | None = None,
        obs_id: int | None = None,
    ) -> xr.Dataset:
        """Open one HDU; ``hdu`` defaults to the EVENTS HDU or the first GADF HDU."""
        path = Path(os.fspath(filename_or_obj))
        if hdu is None:
            hdu, kind = _pick_hdu(path)
        else:
            with open_fits(path, obs_id=obs_id, hdu=hdu) as hdul:
                header = get_hdu(hdul, hdu, path=path, obs_id=obs_id).header
                kind = classify_header(header)
            if kind is None:
                raise UnknownHDUClassError(
                    f"HDU is not a GADF HDU gammax reads (HDUCLAS1={header.get('HDUCLAS1')!r}, "
                    f"HDUCLAS2={header.get('HDUCLAS2')!r}, HDUCLAS4={header.get('HDUCLAS4')!r})",
                    file=path,
                    hdu=hdu,
                    obs_id=obs_id,
                )
        hdu_type, hdu_class = kind
        if hdu_class in IRF_SPECS:
            ds = read_irf(path, hdu, obs_id=obs_id, hdu_class=hdu_class, dask_values=False)
        elif hdu_type in _ROW_DIMS:
            ds = open_table_hdu(path, hdu, hdu_type, obs_id=obs_id)
        else:
            raise UnknownHDUClassError(
                f"HDU class {hdu_class!r} is not supported by the xarray engine",
                file=path,
                hdu=hdu,
                obs_id=obs_id,
            )
        if drop_variables:
            ds = ds.drop_vars(list(drop_variables), errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj) -> bool:
        """True for a FITS file (by name) that holds at least one GADF HDU."""
        try:
            path = Path(os.fspath(filename_or_obj))
        except TypeError:
            return False
        if not path.name.lower().endswith(_SUFFIXES) or not path.is_file():
            return False
        try:
            _pick_hdu(path)
        except Exception:
            return False
        return True
