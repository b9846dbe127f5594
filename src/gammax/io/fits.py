"""Low-level FITS access with gammax errors.

Every read of a FITS file in gammax goes through :func:`open_fits`, which turns
astropy's and the operating system's failures into gammax exceptions that name
the file, the HDU and the observation:

- a missing file -> :class:`~gammax.errors.DataFileNotFoundError`;
- a truncated or corrupt gzip stream, a truncated FITS file ->
  :class:`~gammax.errors.CorruptFileError`;
- a missing HDU -> :class:`~gammax.errors.HDUNotFoundError`, listing the HDUs
  that are there.

Astropy reads gzipped files sequentially and drops an HDU whose data were cut
off, so a truncated gzip file looks like a file with fewer HDUs. When an HDU is
missing from a gzipped file, the gzip stream is checked to tell the two apart.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning

from ..errors import CorruptFileError, DataFileNotFoundError, HDUNotFoundError

__all__ = [
    "ColumnSchema",
    "check_gzip_stream",
    "column_attrs",
    "column_schema",
    "column_schemas",
    "get_hdu",
    "header_to_attrs",
    "open_fits",
    "read_columns",
    "read_header",
]

# Keywords that describe the FITS layout, not the data; they do not go into attrs.
_STRUCTURAL_KEYWORDS = (
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "PCOUNT",
    "GCOUNT",
    "TFIELDS",
    "EXTEND",
    "SIMPLE",
    "THEAP",
)
_INDEXED_KEYWORD = re.compile(
    r"^(NAXIS|TTYPE|TFORM|TUNIT|TDIM|TNULL|TSCAL|TZERO|TDISP|TCOMM|TUCD|TLMIN|TLMAX)\d+$"
)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def describe_read_error(err: BaseException) -> str:
    """Message for a decompression error: truncated or otherwise corrupt."""
    if isinstance(err, EOFError):
        return "truncated gzip stream (the file ends before the end-of-stream marker)"
    return f"corrupt gzip stream ({err})"


def check_gzip_stream(path: str | os.PathLike) -> str | None:
    """Decompress a gzip file completely and say what is wrong with it, if anything.

    Returns
    -------
    str or None
        ``None`` for an intact stream, otherwise a description of the damage.
    """
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        return describe_read_error(err)
    return None


@contextlib.contextmanager
def open_fits(
    path: str | os.PathLike, *, obs_id: int | None = None, hdu: str | int | None = None
) -> Iterator[fits.HDUList]:
    """Open a FITS file (gzipped or not) read-only, with gammax errors.

    Parameters
    ----------
    path : path-like
        The file.
    obs_id : int, optional
        Observation the file belongs to; only used in error messages.
    hdu : str or int, optional
        HDU the caller is after; only used in error messages.

    Yields
    ------
    astropy.io.fits.HDUList
        Lazily loaded HDU list; it is closed on exit.
    """
    path = Path(path)
    where = {"file": path, "hdu": hdu, "obs_id": obs_id}
    if not path.is_file():
        raise DataFileNotFoundError(
            "file does not exist" if not path.exists() else "path is not a regular file", **where
        )
    try:
        hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise CorruptFileError(describe_read_error(err), **where) from err
    except OSError as err:
        raise CorruptFileError(f"not a readable FITS file ({err})", **where) from err
    try:
        yield hdul
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise CorruptFileError(describe_read_error(err), **where) from err
    finally:
        hdul.close()


def _nth_hdu(hdul: fits.HDUList, index: int):
    try:
        return hdul[index]
    except IndexError:
        return None


def _find_hdu(hdul: fits.HDUList, hdu: str | int):
    """The HDU, loading no further than needed (astropy's name lookup reads every HDU)."""
    if not isinstance(hdu, str):
        return _nth_hdu(hdul, int(hdu))
    name = hdu.strip().upper()
    index = 0
    while (candidate := _nth_hdu(hdul, index)) is not None:
        if candidate.name.upper() == name:
            return candidate
        index += 1
    return None


def get_hdu(
    hdul: fits.HDUList, hdu: str | int, *, path: str | os.PathLike, obs_id: int | None = None
) -> fits.hdu.base._BaseHDU:
    """Return one HDU of an open file, or raise a gammax error that says why not.

    Name lookup is case-insensitive, as in the FITS standard, and reads the file
    only as far as the HDU. An HDU whose data would extend past the end of an
    uncompressed file raises :class:`~gammax.errors.CorruptFileError`.
    """
    where = {"file": path, "hdu": hdu, "obs_id": obs_id}
    try:
        found = _find_hdu(hdul, hdu)
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise CorruptFileError(describe_read_error(err), **where) from err
    except AstropyUserWarning as err:  # "File may have been truncated", raised as error
        raise CorruptFileError(f"truncated FITS file ({err})", **where) from None
    if found is not None:
        if not _is_gzip(Path(path)):
            info = found.fileinfo()
            end = info["datLoc"] + found.size * abs(found.header.get("BITPIX", 8)) // 8
            size = os.path.getsize(path)
            if info and end > size:
                raise CorruptFileError(
                    f"truncated FITS file: the HDU's data end at byte {end}, the file has "
                    f"{size} bytes",
                    **where,
                )
        return found
    # The HDU is missing: in a gzipped file that may mean a truncated stream.
    if _is_gzip(Path(path)):
        problem = check_gzip_stream(path)
        if problem is not None:
            raise CorruptFileError(problem, **where)
    try:
        available = [h.name for h in hdul]
    except Exception:  # pragma: no cover - listing is best effort
        available = []
    raise HDUNotFoundError(f"HDU not found; the file has {available}", **where)


def read_header(
    path: str | os.PathLike, hdu: str | int, *, obs_id: int | None = None
) -> fits.Header:
    """Read one HDU header without reading its data."""
    with open_fits(path, obs_id=obs_id, hdu=hdu) as hdul:
        return get_hdu(hdul, hdu, path=path, obs_id=obs_id).header.copy()


def header_to_attrs(header: fits.Header) -> dict:
    """Header keywords as a JSON-able dict, without the FITS layout keywords.

    ``COMMENT`` and ``HISTORY`` cards are joined into one string each.

    Examples
    --------
    >>> from astropy.io import fits
    >>> header_to_attrs(fits.Header({"OBS_ID": 3, "NAXIS": 2, "OBJECT": "Crab"}))
    {'OBS_ID': 3, 'OBJECT': 'Crab'}
    """
    attrs: dict = {}
    for key, value in header.items():
        if not key or key in _STRUCTURAL_KEYWORDS:
            continue
        if _INDEXED_KEYWORD.match(key):
            continue
        if key in ("COMMENT", "HISTORY"):
            text = str(value)
            attrs[key] = f"{attrs[key]}\n{text}" if key in attrs else text
            continue
        if isinstance(value, fits.card.Undefined):
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        attrs[key] = value
    return attrs


@dataclass(frozen=True)
class ColumnSchema:
    """Name, dtype, per-row shape and unit of one binary-table column.

    Built from the header alone: no data are read.
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    unit: str | None
    description: str | None = None


def _column_dtype(col: fits.Column) -> np.dtype:
    """The dtype astropy gives the column's data after scaling and conversion."""
    fmt = col.format
    code = fmt.format if hasattr(fmt, "format") else str(fmt)[-1]
    if code == "L" or code == "X":
        return np.dtype(bool)
    base = np.dtype(fmt.recformat if not fmt.recformat.startswith("a") else "S").base
    if code == "A":  # astropy decodes character columns to unicode
        return np.dtype(f"U{fmt.repeat or 1}")
    bzero, bscale = col.bzero, col.bscale
    if bscale not in (None, 1) or (bzero not in (None, 0) and base.kind in "f"):
        return np.dtype(np.float64)
    if bzero not in (None, 0) and base.kind == "i":
        unsigned = {
            np.int16: (2**15, np.uint16),
            np.int32: (2**31, np.uint32),
            np.int64: (2**63, np.uint64),
        }
        for int_type, (zero, utype) in unsigned.items():
            if base == np.dtype(int_type) and bzero == zero:
                return np.dtype(utype)
        if base == np.dtype(np.uint8) and bzero == -128:
            return np.dtype(np.int8)
        return np.dtype(np.float64)
    return base.newbyteorder("=")


def column_schema(col: fits.Column | ColumnSchema, description: str | None = None) -> ColumnSchema:
    """Schema of one binary-table column, from its definition alone."""
    if isinstance(col, ColumnSchema):
        return col
    dtype = _column_dtype(col)
    if col.dim:
        shape = tuple(int(n) for n in reversed(col.dim.strip("() ").split(",")))
    else:
        repeat = col.format.repeat or 1
        code = col.format.format if hasattr(col.format, "format") else ""
        shape = () if repeat == 1 or code == "A" else (int(repeat),)
    return ColumnSchema(
        name=col.name, dtype=dtype, shape=shape, unit=col.unit or None, description=description
    )


def column_attrs(schema: ColumnSchema) -> dict:
    """Xarray attrs of a column: ``units`` (canonical astropy string) and ``description``.

    A unit astropy cannot parse is kept verbatim as ``units_raw``.
    """
    from ..errors import UnitError
    from ..units import parse_unit

    attrs = {}
    if schema.unit:
        try:
            attrs["units"] = parse_unit(schema.unit).to_string()
        except UnitError:
            attrs["units_raw"] = schema.unit
    if schema.description:
        attrs["description"] = schema.description
    return attrs


def column_schemas(hdu: fits.BinTableHDU) -> list[ColumnSchema]:
    """Schemas of all columns of a binary table HDU, from its header."""
    return [
        column_schema(col, hdu.header.get(f"TCOMM{idx}"))
        for idx, col in enumerate(hdu.columns, start=1)
    ]


def read_columns(
    path: str | os.PathLike,
    hdu: str | int,
    columns: list[str] | tuple[str, ...],
    *,
    rows: slice | None = None,
    obs_id: int | None = None,
    layout=None,
) -> dict[str, np.ndarray]:
    """Read columns (optionally a range of rows) of a binary table, native byte order.

    Values equal astropy's ``hdul[hdu].data[column]`` bit for bit. With a
    ``layout`` from :func:`gammax.io.fast_table.scan_table` of a numeric table,
    the bytes are read directly (the fast path); otherwise astropy reads them.
    """
    if layout is not None and layout.dtype is not None:
        from .fast_table import read_rows

        return read_rows(layout, columns, rows, hdu=hdu, obs_id=obs_id)
    with open_fits(path, obs_id=obs_id, hdu=hdu) as hdul:
        table_hdu = get_hdu(hdul, hdu, path=path, obs_id=obs_id)
        try:
            data = table_hdu.data
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise CorruptFileError(
                f"corrupt gzip stream ({err})", file=path, hdu=hdu, obs_id=obs_id
            ) from err
        except (ValueError, OSError, TypeError) as err:
            raise CorruptFileError(
                f"cannot read table data ({err})", file=path, hdu=hdu, obs_id=obs_id
            ) from err
        if data is None:
            data_len = 0
        else:
            data_len = len(data)
        expected = int(table_hdu.header.get("NAXIS2", data_len))
        if data_len != expected:
            raise CorruptFileError(
                f"table has {data_len} rows, header says {expected}: truncated file",
                file=path,
                hdu=hdu,
                obs_id=obs_id,
            )
        out = {}
        for name in columns:
            values = data[name] if data is not None else np.zeros(0)
            if rows is not None:
                values = values[rows]
            values = np.asarray(values)
            if values.dtype.byteorder not in ("=", "|"):
                values = values.astype(values.dtype.newbyteorder("="))
            out[name] = values
        return out
