"""Read GADF IRF tables (one-row binary tables of vector columns) into xarray.

An IRF becomes an :class:`xarray.Dataset`:

- one data variable per quantity (``aeff``; ``edisp``; ``psf``; ``bkg``;
  ``rad_max``; the parameters ``sigma_1``... of a multi-Gauss PSF), with named
  dims in the order of :data:`gammax.io.gadf.IRF_SPECS`;
- a coordinate per axis at the bin centres (geometric centre for energy, arithmetic
  otherwise) with ``units``, ``interp_scale`` and a CF ``bounds`` attribute naming
  a ``(n, 2)`` variable of bin edges;
- attrs: the header keywords, ``hdu_class``, ``hdu_type``, ``is_pointlike``,
  ``fov_alignment`` and the safe-energy thresholds ``energy_threshold_lo`` /
  ``energy_threshold_hi`` (TeV) when the header gives them.

The axis columns are read when the dataset is built (they are tiny); the values
are read only when used, and are validated then: a NaN or infinite value raises
:class:`~gammax.errors.InvalidIRFError` naming the file, HDU and observation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import xarray as xr
from astropy.io import fits
from xarray.backends import BackendArray
from xarray.core import indexing

from .. import dims as D
from ..errors import (
    FormatError,
    InvalidIRFError,
    MissingColumnError,
    UnitError,
    UnknownHDUClassError,
)
from ..units import parse_unit
from .fits import column_schema, get_hdu, header_to_attrs, open_fits, read_columns
from .gadf import HDU_CLASSES, IRF_SPECS, AxisSpec, IRFSpec, classify_header

__all__ = [
    "IRFValuesReader",
    "bin_centers",
    "edges_from_nodes",
    "irf_from_table",
    "read_irf",
    "read_irfs",
]


def bin_centers(lo: np.ndarray, hi: np.ndarray, scale: str) -> np.ndarray:
    """Bin centres: geometric for ``scale="log"``, arithmetic otherwise."""
    if scale == "log":
        return np.sqrt(lo * hi)
    return 0.5 * (lo + hi)


def edges_from_nodes(nodes: np.ndarray, scale: str) -> np.ndarray:
    """Bin edges around node positions: midpoints in the interpolation scale.

    The outer edges lie half a step beyond the first and last node, as in
    Gammapy's ``MapAxis.from_nodes``. A single node gets zero-width edges.
    """
    x = np.log(nodes) if scale == "log" else np.asarray(nodes, dtype=float)
    if x.size == 1:
        edges = np.array([x[0], x[0]])
    else:
        mid = 0.5 * (x[1:] + x[:-1])
        edges = np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])
    return np.exp(edges) if scale == "log" else edges


@dataclass(frozen=True)
class IRFValuesReader:
    """Reads one IRF value column and returns it in gammax dim order, validated.

    Small and picklable: this is what travels into dask graphs, not the data.
    """

    path: str
    hdu: str | int
    column: str
    #: Permutation from the file's numpy axis order to the gammax dim order.
    transpose: tuple[int, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    obs_id: int | None = None
    #: Shape of one row of the column in the file (numpy order).
    file_shape: tuple[int, ...] = ()

    def __dask_tokenize__(self):
        stat = os.stat(self.path) if os.path.exists(self.path) else None
        mtime = (stat.st_mtime_ns, stat.st_size) if stat else None
        return (type(self).__name__, self.path, self.hdu, self.column, mtime)

    def read(self) -> np.ndarray:
        """Read, transpose and validate the values."""
        raw = read_columns(
            self.path, self.hdu, [self.column], rows=slice(0, 1), obs_id=self.obs_id
        )[self.column]
        return self.from_row(raw)

    def from_row(self, raw: np.ndarray) -> np.ndarray:
        """Transpose and validate the values of the column's first row."""
        raw = np.asarray(raw)
        if raw.dtype.byteorder not in ("=", "|"):
            raw = raw.astype(raw.dtype.newbyteorder("="))
        row = raw[0].reshape(self.file_shape) if self.file_shape else raw[0]
        values = np.ascontiguousarray(np.transpose(row, self.transpose))
        bad = ~np.isfinite(values)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InvalidIRFError(
                f"column {self.column!r} holds {int(bad.sum())} non-finite value(s) "
                f"(first at index {first}); an IRF must be finite everywhere",
                file=self.path,
                hdu=self.hdu,
                obs_id=self.obs_id,
            )
        return values.astype(self.dtype, copy=False)  # native byte order, file precision


def _read_values(reader: IRFValuesReader) -> np.ndarray:
    return reader.read()


class _IRFBackendArray(BackendArray):
    """Lazily indexed IRF values for the xarray backend (read on first access)."""

    def __init__(self, reader: IRFValuesReader) -> None:
        self.reader = reader
        self.shape = reader.shape
        self.dtype = reader.dtype

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._raw_getitem
        )

    def _raw_getitem(self, key):
        return self.reader.read()[key]


def _find_column(names: list[str], candidates: tuple[str, ...]) -> str | None:
    upper = {n.upper(): n for n in names}
    for cand in candidates:
        if cand.upper() in upper:
            return upper[cand.upper()]
    return None


def _axis_columns(axis: AxisSpec, names: list[str]) -> tuple[str, str] | None:
    for prefix in axis.prefixes:
        lo = _find_column(names, (f"{prefix}_LO",))
        hi = _find_column(names, (f"{prefix}_HI",))
        if lo and hi:
            return lo, hi
    return None


def _resolve_class(header: fits.Header, hdu_class: str | None, where: dict) -> IRFSpec:
    declared = classify_header(header)
    if hdu_class is None:
        if declared is None:
            raise UnknownHDUClassError(
                f"cannot tell the IRF class from the header (HDUCLAS1="
                f"{header.get('HDUCLAS1')!r}, HDUCLAS2={header.get('HDUCLAS2')!r}, "
                f"HDUCLAS4={header.get('HDUCLAS4')!r}); known classes: {list(IRF_SPECS)}",
                **where,
            )
        hdu_class = declared[1]
    if hdu_class not in IRF_SPECS:
        if hdu_class in HDU_CLASSES:
            raise FormatError(f"HDU class {hdu_class!r} is not a table IRF", **where)
        raise UnknownHDUClassError(
            f"unknown HDU class {hdu_class!r}; expected one of {sorted(HDU_CLASSES)}", **where
        )
    return IRF_SPECS[hdu_class]


def _unit(column: fits.Column, default: str, what: str, where: dict) -> str:
    text = (column.unit or "").strip()
    if not text:
        return parse_unit(default).to_string()
    try:
        return parse_unit(text, context=what).to_string()
    except UnitError:
        if default:
            return parse_unit(default).to_string()
        raise UnitError(f"cannot parse unit {text!r} of column {column.name!r}", **where) from None


def _file_axis_order(
    value_shape: tuple[int, ...], lengths: list[int], where: dict
) -> tuple[int, ...]:
    """Which spec axis each numpy axis of a value array is.

    GADF stores a value column with its FITS ``TDIM`` in the specification's axis
    order (e.g. ``ENERG, THETA``), so the numpy shape is that order reversed.
    Some files (H.E.S.S. DR1 and CTA 1DC backgrounds) store the numpy array in
    the specification's order instead; like Gammapy, gammax accepts that layout
    when the reversed one does not fit the axis lengths. When both fit (all axes
    of equal length) the specification's layout wins, as in Gammapy.
    """
    n = len(lengths)
    if tuple(lengths[i] for i in reversed(range(n))) == tuple(value_shape):
        return tuple(reversed(range(n)))
    if tuple(lengths) == tuple(value_shape):
        return tuple(range(n))
    raise FormatError(
        f"value array of shape {value_shape} fits neither the axis lengths {lengths} "
        "nor their reverse",
        **where,
    )


def read_irf(
    path: str | os.PathLike,
    hdu: str | int,
    *,
    obs_id: int | None = None,
    hdu_class: str | None = None,
    dask_values: bool = True,
) -> xr.Dataset:
    """Read a GADF IRF table HDU into an :class:`xarray.Dataset`.

    Parameters
    ----------
    path : path-like
        FITS file (gzipped or not).
    hdu : str or int
        HDU name or index.
    obs_id : int, optional
        Observation the IRF belongs to (error messages and attrs).
    hdu_class : str, optional
        Class from the HDU index (e.g. ``"aeff_2d"``); taken from the header if
        omitted.
    dask_values : bool
        If True (default) the values are single-chunk dask arrays, read when the
        graph computes; if False they are xarray lazily indexed arrays (the
        backend engine's behaviour).

    Returns
    -------
    xarray.Dataset
        The IRF; see the module docstring for its layout.

    Examples
    --------
    >>> aeff = read_irf("run.fits.gz", "AEFF")  # doctest: +SKIP
    >>> aeff["aeff"].dims
    ('energy_true', 'offset')
    """
    path = Path(path)
    with open_fits(path, obs_id=obs_id, hdu=hdu) as hdul:
        table = get_hdu(hdul, hdu, path=path, obs_id=obs_id)
        return _build_irf(table, path, hdu, obs_id, hdu_class, "dask" if dask_values else "lazy")


def read_irfs(
    path: str | os.PathLike,
    requests: dict[str, tuple[str | int, str | None]],
    *,
    obs_id: int | None = None,
) -> dict[str, xr.Dataset]:
    """Read several IRF HDUs of one file into memory, opening (and decompressing) it once.

    This is the reader of reduction tasks: the values are numpy arrays,
    validated as in :func:`read_irf`.

    Parameters
    ----------
    path : path-like
        FITS file.
    requests : dict
        ``{key: (hdu, hdu_class)}``, e.g. ``{"aeff": ("AEFF", "aeff_2d")}``.
    obs_id : int, optional
        For error messages and attrs.
    """
    from .fast_table import read_tables

    path = Path(path)
    out = {}
    fast = read_tables(path, [hdu for hdu, _ in requests.values()], obs_id=obs_id)
    slow = {k: v for k, v in requests.items() if fast.get(v[0]) is None}
    for key, (hdu, hdu_class) in requests.items():
        if key not in slow:
            out[key] = _build_irf(fast[hdu], path, hdu, obs_id, hdu_class, "eager")
    if slow:
        with open_fits(path, obs_id=obs_id) as hdul:
            for key, (hdu, hdu_class) in slow.items():
                table = get_hdu(hdul, hdu, path=path, obs_id=obs_id)
                out[key] = _build_irf(table, path, hdu, obs_id, hdu_class, "eager")
    return out


def irf_from_table(
    table,
    path: str | os.PathLike,
    hdu: str | int,
    *,
    obs_id: int | None = None,
    hdu_class: str | None = None,
) -> xr.Dataset:
    """An in-memory IRF Dataset from a table already read (astropy HDU or ``FastTable``)."""
    return _build_irf(table, Path(path), hdu, obs_id, hdu_class, "eager")


def _build_irf(table, path: Path, hdu, obs_id, hdu_class, values_mode: str) -> xr.Dataset:
    from .fast_table import FastTable

    where = {"file": path, "hdu": hdu, "obs_id": obs_id}
    if not isinstance(table, fits.BinTableHDU | FastTable):
        raise FormatError("IRF HDU is not a binary table", **where)
    header = table.header
    columns = {c.name: c for c in table.columns}
    spec = _resolve_class(header, hdu_class, where)
    names = list(columns)

    axis_cols = []
    for axis in spec.axes:
        found = _axis_columns(axis, names)
        if found is None:
            raise MissingColumnError(
                f"{spec.hdu_class} table lacks the bin columns of axis {axis.dim!r} "
                f"(expected {[p + '_LO/_HI' for p in axis.prefixes]}); it has {names}",
                **where,
            )
        axis_cols.append(found)
    value_cols = {}
    for var, candidates in spec.data.items():
        col = _find_column(names, candidates)
        if col is None:
            raise MissingColumnError(
                f"{spec.hdu_class} table lacks column {' or '.join(candidates)}; it has {names}",
                **where,
            )
        value_cols[var] = col

    data = _table_data(table, where)
    coords: dict[str, xr.Variable] = {}
    lengths = []
    for axis, (lo_name, hi_name) in zip(spec.axes, axis_cols, strict=True):
        lo = np.atleast_1d(np.asarray(data[lo_name][0])).astype(np.float64)
        hi = np.atleast_1d(np.asarray(data[hi_name][0])).astype(np.float64)
        if lo.shape != hi.shape:
            raise FormatError(f"columns {lo_name} and {hi_name} differ in length", **where)
        unit = _unit(columns[lo_name], axis.default_unit, lo_name, where)
        attrs = {"units": unit, "interp_scale": axis.scale, "bounds": D.bounds_name(axis.dim)}
        if np.allclose(lo, hi):
            center = lo
            bin_edges = edges_from_nodes(lo, axis.scale)
            bounds = np.stack([bin_edges[:-1], bin_edges[1:]], axis=-1)
            attrs["node_type"] = "center"
        else:
            center = bin_centers(lo, hi, axis.scale)
            bounds = np.stack([lo, hi], axis=-1)
            attrs["node_type"] = "edges"
        coords[axis.dim] = xr.Variable((axis.dim,), center, attrs)
        coords[D.bounds_name(axis.dim)] = xr.Variable((axis.dim, D.BOUNDS), bounds, {"units": unit})
        lengths.append(center.size)

    data_vars = {}
    for var, col in value_cols.items():
        schema = column_schema(columns[col])
        shape = schema.shape
        if int(np.prod(shape)) != int(np.prod(lengths)) and len(shape) <= 1:
            raise FormatError(
                f"column {col!r} holds {int(np.prod(shape))} values, the axes need "
                f"{int(np.prod(lengths))}",
                **where,
            )
        if len(shape) != len(lengths):
            # A flat vector column without TDIM: the reversed specification order.
            axis_of_dim = tuple(reversed(range(len(lengths))))
        else:
            axis_of_dim = _file_axis_order(shape, lengths, where)
        transpose = tuple(axis_of_dim.index(i) for i in range(len(spec.axes)))
        reader = IRFValuesReader(
            path=str(path),
            hdu=hdu,
            column=col,
            transpose=transpose,
            shape=tuple(lengths),
            dtype=schema.dtype,
            obs_id=obs_id,
            file_shape=tuple(lengths[i] for i in axis_of_dim),
        )
        if values_mode == "dask":
            name = f"irf-{col.lower()}-{dask.base.tokenize(reader)}"
            task = dask.delayed(_read_values)(reader, dask_key_name=name)
            values = da.from_delayed(
                task, shape=reader.shape, dtype=reader.dtype, name=name + "-array"
            )
        elif values_mode == "lazy":
            values = indexing.LazilyIndexedArray(_IRFBackendArray(reader))
        else:
            values = reader.from_row(np.asarray(data[col]))
        unit = _unit(columns[col], spec.default_units.get(var, ""), col, where)
        data_vars[var] = xr.Variable(
            spec.dims,
            values,
            {"units": unit, "interp_scale": spec.values_scale, "fits_column": col},
        )

    attrs = header_to_attrs(header)
    attrs.update(_irf_attrs(header, spec, str(path), hdu, obs_id))
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _table_data(table, where: dict):
    import gzip
    import zlib

    from ..errors import CorruptFileError
    from .fits import describe_read_error

    try:
        data = table.data
        if data is not None and data.dtype.names is None:
            raise ValueError("not a table")
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise CorruptFileError(describe_read_error(err), **where) from err
    except (ValueError, OSError, TypeError) as err:
        raise CorruptFileError(f"cannot read table data ({err})", **where) from err
    if data is None or len(data) < 1:
        raise FormatError("IRF table has no rows", **where)
    return data


def _irf_attrs(header, spec: IRFSpec, path: str, hdu, obs_id) -> dict:
    out = {
        "hdu_class": spec.hdu_class,
        "hdu_type": spec.hdu_type,
        "is_pointlike": str(header.get("HDUCLAS3", "")).strip().upper() == "POINT-LIKE",
        "source_file": path,
        "source_hdu": hdu,
    }
    if obs_id is not None:
        out["obs_id"] = int(obs_id)
    if spec.hdu_class in ("bkg_3d", "bkg_2d"):
        out["fov_alignment"] = str(header.get("FOVALIGN", "RADEC")).strip().upper()
    for key, name in (("LO_THRES", "energy_threshold_lo"), ("HI_THRES", "energy_threshold_hi")):
        value = header.get(key)
        if value is not None and not isinstance(value, fits.card.Undefined):
            out[name] = float(value)
            out[f"{name}_units"] = "TeV"
    if header.get("RAD_MAX") is not None:
        out["rad_max"] = float(header["RAD_MAX"])
        out["rad_max_units"] = "deg"
    return out
