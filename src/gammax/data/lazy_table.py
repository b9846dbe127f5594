"""Lazy, chunked access to binary tables spread over many FITS files.

Building the dask graph needs only the HDU headers (row counts, column
formats): one *read* task per chunk of rows reads all requested columns of that
chunk at once, and each column is a dask array whose chunks pick their column out
of the read task's result. Computing several columns together therefore reads
each file once.

The row dimension gets at least one chunk per table; tables longer than
``chunk_rows`` are split.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from ..io import fits as fits_io
from ..io.fast_table import TableLayout
from ..io.fits import ColumnSchema

__all__ = ["TableSource", "lazy_columns", "row_chunks"]


@dataclass(frozen=True)
class TableSource:
    """One table HDU of one observation, as known from its header."""

    obs_id: int
    path: str
    hdu: str | int
    nrows: int
    schemas: tuple[ColumnSchema, ...]
    attrs: dict = field(hash=False, compare=False)
    #: Seconds added to the time columns (to refer them to a common epoch).
    time_shift: float = 0.0
    #: Row layout for the fast numeric read path (None: astropy reads the table).
    layout: TableLayout | None = field(default=None, hash=False, compare=False)

    @property
    def columns(self) -> dict[str, ColumnSchema]:
        """Schemas by column name."""
        return {s.name: s for s in self.schemas}

    def token(self) -> tuple:
        """Identity of the file content for deterministic graph names."""
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        return (self.path, self.hdu, self.nrows, stamp, self.time_shift)


def row_chunks(nrows: int, chunk_rows: int) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of the chunks of one table (at least one)."""
    if nrows <= 0:
        return [(0, 0)]
    return [(start, min(start + chunk_rows, nrows)) for start in range(0, nrows, chunk_rows)]


def _read_block(
    path: str,
    hdu: str | int,
    columns: tuple[str, ...],
    start: int,
    stop: int,
    obs_id: int,
    time_columns: tuple[str, ...],
    time_shift: float,
    dtypes: tuple[np.dtype, ...],
    layout: TableLayout | None = None,
) -> dict[str, np.ndarray]:
    # Looked up at call time: tests replace it to prove nothing is read early.
    block = fits_io.read_columns(
        path, hdu, list(columns), rows=slice(start, stop), obs_id=obs_id, layout=layout
    )
    for name, dtype in zip(columns, dtypes, strict=True):
        values = block[name]
        if name in time_columns and time_shift != 0.0:
            values = values.astype(np.float64) + time_shift
        if values.dtype != dtype:
            values = values.astype(dtype)
        block[name] = values
    return block


def _full(n: int, value: int, dtype: np.dtype) -> np.ndarray:
    return np.full(n, value, dtype=dtype)


def lazy_columns(
    sources: Sequence[TableSource],
    columns: Sequence[str],
    *,
    chunk_rows: int,
    time_columns: Sequence[str] = (),
    prefix: str = "table",
) -> tuple[dict[str, da.Array], da.Array]:
    """Dask arrays of ``columns`` concatenated over ``sources``, and the obs id per row.

    Parameters
    ----------
    sources : sequence of TableSource
        The tables, in output order. Each must have every requested column.
    columns : sequence of str
        Column names.
    chunk_rows : int
        Maximum rows per chunk.
    time_columns : sequence of str
        Columns shifted by each source's ``time_shift``.
    prefix : str
        Prefix of the graph layer names.

    Returns
    -------
    columns : dict of str -> dask.array.Array
        One array per column; shape ``(n_rows, *column_shape)``.
    obs_id : dask.array.Array
        int64 obs id of every row (no file is read for it).
    """
    columns = tuple(columns)
    schemas = {}
    for name in columns:
        per_source = [src.columns[name] for src in sources]
        shapes = {s.shape for s in per_source}
        if len(shapes) > 1:
            raise ValueError(f"column {name!r} has different shapes across tables: {shapes}")
        dtype = np.result_type(*[s.dtype for s in per_source]) if per_source else np.float64
        if name in time_columns and any(src.time_shift for src in sources):
            dtype = np.result_type(dtype, np.float64)
        schemas[name] = (per_source[0].shape if per_source else (), np.dtype(dtype))
    dtypes = tuple(schemas[name][1] for name in columns)

    blocks = [
        (src, start, stop) for src in sources for start, stop in row_chunks(src.nrows, chunk_rows)
    ]
    token = tokenize([src.token() for src in sources], columns, chunk_rows, tuple(time_columns))
    read_name = f"read-{prefix}-{token}"
    read_layer = {
        (read_name, i): (
            _read_block,
            src.path,
            src.hdu,
            columns,
            start,
            stop,
            src.obs_id,
            tuple(time_columns),
            src.time_shift,
            dtypes,
            src.layout,
        )
        for i, (src, start, stop) in enumerate(blocks)
    }
    row_sizes = tuple(stop - start for _, start, stop in blocks)

    arrays = {}
    layers = {read_name: read_layer}
    deps = {read_name: set()}
    for name in columns:
        shape, dtype = schemas[name]
        arr_name = f"{prefix}-{name.lower()}-{token}"
        zeros = (0,) * len(shape)
        layers[arr_name] = {
            (arr_name, i, *zeros): (operator.getitem, (read_name, i), name)
            for i in range(len(blocks))
        }
        deps[arr_name] = {read_name}
        graph = HighLevelGraph(
            {read_name: layers[read_name], arr_name: layers[arr_name]},
            {read_name: set(), arr_name: {read_name}},
        )
        chunks = (row_sizes, *[(n,) for n in shape])
        arrays[name] = da.Array(
            graph,
            arr_name,
            chunks,
            dtype=dtype,
            meta=np.empty((0,) * (1 + len(shape)), dtype=dtype),
        )

    ids_name = f"{prefix}-obs_id-{token}"
    ids_layer = {
        (ids_name, i): (_full, stop - start, src.obs_id, np.dtype(np.int64))
        for i, (src, start, stop) in enumerate(blocks)
    }
    ids = da.Array(
        HighLevelGraph({ids_name: ids_layer}, {ids_name: set()}),
        ids_name,
        (row_sizes,),
        dtype=np.int64,
        meta=np.empty((0,), dtype=np.int64),
    )
    return arrays, ids
