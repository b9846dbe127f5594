"""Event lists and good-time intervals as lazy xarray Datasets.

Events
    dim ``event``; every EVENTS column is a variable (GADF column names,
    ``attrs["units"]`` and ``description`` from the header); coordinate
    ``obs_id`` gives the observation of each event. ``TIME`` is float64 seconds
    since the epoch in its attrs (see :mod:`gammax.data.time`). Header keywords
    shared by all observations are in ``attrs``; keywords that differ are in
    ``attrs["obs_headers"][str(obs_id)]``.

GTIs
    dim ``gti``; variables ``START`` and ``STOP`` (seconds, same time attrs as
    the events) and the coordinate ``obs_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from .. import config
from .. import dims as D
from ..errors import MissingColumnError
from ..io.fits import column_attrs
from ..io.gadf import REQUIRED_COLUMNS
from .lazy_table import TableSource, lazy_columns

__all__ = ["build_table_dataset", "check_required_columns", "split_headers"]

_TIME_COLUMNS = {"events": ("TIME",), "gti": ("START", "STOP"), "pointing": ("TIME",)}
_ROW_DIMS = {"events": D.EVENT, "gti": D.GTI, "pointing": D.TIME}


def check_required_columns(source: TableSource, hdu_type: str) -> None:
    """Raise :class:`~gammax.errors.MissingColumnError` if a required column is missing."""
    names = {name.upper() for name in source.columns}
    missing = [c for c in REQUIRED_COLUMNS.get(hdu_type, ()) if c not in names]
    if missing:
        raise MissingColumnError(
            f"{hdu_type.upper()} table lacks required column(s) {missing}; "
            f"it has {sorted(source.columns)}",
            file=source.path,
            hdu=source.hdu,
            obs_id=source.obs_id,
        )


def split_headers(sources: Sequence[TableSource]) -> tuple[dict, dict]:
    """Header keywords common to all sources, and per-obs keywords that differ."""
    if not sources:
        return {}, {}
    common = dict(sources[0].attrs)
    for src in sources[1:]:
        for key in list(common):
            if src.attrs.get(key, object()) != common[key]:
                del common[key]
    varying = {
        str(src.obs_id): {k: v for k, v in src.attrs.items() if k not in common} for src in sources
    }
    if not any(varying.values()):
        varying = {}
    return common, varying


def build_table_dataset(
    sources: Sequence[TableSource],
    hdu_type: str,
    *,
    columns: Sequence[str] | None = None,
    chunk_rows: int | None = None,
    time_reference: dict | None = None,
) -> xr.Dataset:
    """Assemble the lazy Dataset of an events, GTI or pointing table over observations.

    Parameters
    ----------
    sources : sequence of TableSource
        One table per observation, headers already read.
    hdu_type : {"events", "gti", "pointing"}
        What the tables are.
    columns : sequence of str, optional
        Columns to include; default all columns present in every table.
    chunk_rows : int, optional
        Rows per chunk; default ``gammax.events.chunk_rows`` from dask config.
    time_reference : dict, optional
        Time attrs (:func:`gammax.data.time.time_attrs`) of the common epoch the
        time columns refer to; the sources' ``time_shift`` must refer to it.
    """
    for src in sources:
        check_required_columns(src, hdu_type)
    if columns is None:
        names = list(sources[0].columns) if sources else []
        columns = [c for c in names if all(c in s.columns for s in sources)]
        dropped = sorted({c for s in sources for c in s.columns} - set(columns))
    else:
        dropped = []
        for src in sources:
            missing = [c for c in columns if c not in src.columns]
            if missing:
                raise MissingColumnError(
                    f"{hdu_type.upper()} table lacks requested column(s) {missing}",
                    file=src.path,
                    hdu=src.hdu,
                    obs_id=src.obs_id,
                )
    chunk_rows = int(chunk_rows or config.get("events.chunk_rows"))
    time_columns = [c for c in _TIME_COLUMNS.get(hdu_type, ()) if c in columns]
    arrays, obs_ids = lazy_columns(
        sources, columns, chunk_rows=chunk_rows, time_columns=time_columns, prefix=hdu_type
    )
    dim = _ROW_DIMS[hdu_type]
    data_vars = {}
    for name in columns:
        schema = sources[0].columns[name]
        extra = tuple(f"{name.lower()}_{i}" for i in range(len(schema.shape)))
        attrs = column_attrs(schema)
        if name in time_columns and time_reference is not None:
            attrs.update(time_reference)
        data_vars[name] = xr.Variable((dim, *extra), arrays[name], attrs)
    common, varying = split_headers(sources)
    attrs = dict(common)
    attrs["hdu_type"] = hdu_type
    if varying:
        attrs["obs_headers"] = varying
    if dropped:
        attrs["dropped_columns"] = dropped
    coords = {D.OBS_ID: xr.Variable((dim,), obs_ids, {"long_name": "observation id"})}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
