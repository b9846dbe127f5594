"""GADF index tables (HDU index and observation index) as xarray Datasets.

- The **observation index** becomes an :class:`xarray.Dataset` with dim ``obs_id``:
  every column is a variable with ``attrs["units"]``; the table header (e.g. the
  time reference ``MJDREFI``/``MJDREFF``/``TIMESYS``) goes into ``attrs``.
- The **HDU index** becomes an :class:`xarray.Dataset` with dim ``hdu``.

Both can also be *built* from the headers of a plain directory of DL3 files
(:func:`build_index`), for data shipped without index tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits

from .. import config
from .. import dims as D
from ..errors import CorruptFileError, FormatError, GammaxError, MissingColumnError
from ..io.fits import get_hdu, header_to_attrs, open_fits
from ..io.gadf import classify_header
from ..units import UnitError, parse_unit

__all__ = [
    "HDU_INDEX_COLUMNS",
    "build_index",
    "find_index_files",
    "read_hdu_index",
    "read_obs_index",
    "table_to_dataset",
]

HDU_INDEX_COLUMNS = ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")
_INDEX_NAMES = {
    "hdu": ("hdu-index.fits.gz", "hdu-index.fits", "hdu_index.fits.gz", "hdu_index.fits"),
    "obs": ("obs-index.fits.gz", "obs-index.fits", "obs_index.fits.gz", "obs_index.fits"),
}
_FITS_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fit.gz", ".fts", ".fts.gz")


def find_index_files(root: Path) -> tuple[Path | None, Path | None]:
    """The HDU and observation index files of a data store directory, if any."""
    found = []
    for kind in ("hdu", "obs"):
        path = next((root / n for n in _INDEX_NAMES[kind] if (root / n).is_file()), None)
        found.append(path)
    return found[0], found[1]


def _column_to_numpy(column: np.ndarray) -> np.ndarray:
    values = np.asarray(column)
    if values.dtype.kind == "S":
        values = np.char.strip(np.char.decode(values, "ascii", errors="replace"))
    elif values.dtype.kind == "U":
        values = np.char.strip(values)
    elif values.dtype.byteorder not in ("=", "|"):
        values = values.astype(values.dtype.newbyteorder("="))
    return values


def table_to_dataset(hdu: fits.BinTableHDU, dim: str, *, path: Path | None = None) -> xr.Dataset:
    """Every column of a binary table as a variable along ``dim``, with units.

    Vector columns get extra dims ``<dim>_<column>_<i>``. String columns are
    decoded and stripped. The header keywords go into ``attrs``.
    """
    data = hdu.data
    variables = {}
    for col in hdu.columns:
        values = _column_to_numpy(data[col.name]) if data is not None else np.zeros(0)
        extra = tuple(f"{col.name.lower()}_{i}" for i in range(values.ndim - 1))
        attrs = {}
        if col.unit:
            try:
                attrs["units"] = parse_unit(col.unit).to_string()
            except UnitError:
                attrs["units_raw"] = col.unit
        variables[col.name] = xr.Variable((dim, *extra), values, attrs)
    attrs = header_to_attrs(hdu.header)
    if path is not None:
        attrs["source_file"] = str(path)
    return xr.Dataset(variables, attrs=attrs)


def _read_table(path: Path, hdu: str | int) -> fits.BinTableHDU:
    with open_fits(path, hdu=hdu) as hdul:
        table = get_hdu(hdul, hdu, path=path)
        if not isinstance(table, fits.BinTableHDU):
            raise FormatError("index HDU is not a binary table", file=path, hdu=hdu)
        table.data  # noqa: B018 - load before the file closes
        return table


def _obs_ids(values: np.ndarray, path: Path, hdu: str | int) -> np.ndarray:
    try:
        return np.asarray(values).astype(np.int64)
    except (TypeError, ValueError):
        example = str(np.asarray(values).ravel()[0])[:40] if np.size(values) else ""
        raise FormatError(
            f"OBS_ID column does not hold integers (e.g. {example!r})", file=path, hdu=hdu
        ) from None


def read_hdu_index(path: str | os.PathLike, hdu: str | int = 1) -> xr.Dataset:
    """Read a GADF HDU index table into a Dataset with dim ``hdu``.

    ``HDU_TYPE`` and ``HDU_CLASS`` are lower-cased; ``OBS_ID`` becomes int64;
    ``FILE_DIR`` is taken relative to the index file (``BASE_DIR`` in the header,
    if any, overrides it).
    """
    path = Path(path)
    table = _read_table(path, hdu)
    missing = [c for c in HDU_INDEX_COLUMNS if c not in table.columns.names]
    if missing:
        raise MissingColumnError(
            f"HDU index lacks column(s) {missing}; it has {table.columns.names}",
            file=path,
            hdu=hdu,
        )
    ds = table_to_dataset(table, D.HDU, path=path)
    ds["OBS_ID"] = (D.HDU, _obs_ids(ds["OBS_ID"].values, path, hdu))
    for name in ("HDU_TYPE", "HDU_CLASS"):
        ds[name] = (D.HDU, np.char.lower(ds[name].values.astype(str)))
    ds.attrs["base_dir"] = str(Path(ds.attrs.get("BASE_DIR", path.parent)))
    return ds


def read_obs_index(path: str | os.PathLike, hdu: str | int = 1) -> xr.Dataset:
    """Read a GADF observation index table into a Dataset with dim ``obs_id``."""
    path = Path(path)
    table = _read_table(path, hdu)
    if "OBS_ID" not in table.columns.names:
        raise MissingColumnError(
            f"observation index lacks column OBS_ID; it has {table.columns.names}",
            file=path,
            hdu=hdu,
        )
    ds = table_to_dataset(table, D.OBS_ID, path=path)
    obs_ids = _obs_ids(ds["OBS_ID"].values, path, hdu)
    ds = ds.drop_vars("OBS_ID").assign_coords({D.OBS_ID: obs_ids})
    if len(np.unique(obs_ids)) != obs_ids.size:
        raise FormatError("observation index lists an OBS_ID more than once", file=path, hdu=hdu)
    return ds


# Keywords of an EVENTS header that make up an observation-index row.
_OBS_KEYWORDS = (
    "RA_PNT",
    "DEC_PNT",
    "GLON_PNT",
    "GLAT_PNT",
    "ALT_PNT",
    "AZ_PNT",
    "ZEN_PNT",
    "ONTIME",
    "LIVETIME",
    "DEADC",
    "TSTART",
    "TSTOP",
    "DATE-OBS",
    "TIME-OBS",
    "DATE-END",
    "TIME-END",
    "OBJECT",
    "OBS_MODE",
    "N_TELS",
    "TELLIST",
    "TELESCOP",
    "INSTRUME",
)
#: Units of the observation-index columns (GADF), where a file leaves them out.
OBS_UNITS: dict[str, str] = {
    "RA_PNT": "deg",
    "DEC_PNT": "deg",
    "GLON_PNT": "deg",
    "GLAT_PNT": "deg",
    "ALT_PNT": "deg",
    "AZ_PNT": "deg",
    "ZEN_PNT": "deg",
    "ONTIME": "s",
    "LIVETIME": "s",
    "TSTART": "s",
    "TSTOP": "s",
}
_TIME_KEYWORDS = ("MJDREFI", "MJDREFF", "TIMEUNIT", "TIMESYS", "TIMEREF")


def _scan_file(path: Path) -> tuple[list[dict], list[dict], list[str]]:
    """HDU-index rows, obs-index rows and problems found in one file's headers."""
    hdu_rows, obs_rows, problems = [], [], []
    try:
        with open_fits(path) as hdul:
            headers = [
                (i, h.name, h.header.copy(), getattr(h, "_data_size", None))
                for i, h in enumerate(hdul)
            ]
    except GammaxError as err:
        return [], [], [str(err)]
    except Exception as err:  # astropy raises many types on broken files
        return [], [], [str(CorruptFileError(f"cannot read headers ({err})", file=path))]
    file_obs = next(
        (h.get("OBS_ID") for _, _, h, _ in headers if classify_header(h) == ("events", "events")),
        None,
    )
    for idx, name, header, _ in headers:
        kind = classify_header(header)
        if kind is None:
            continue
        obs_id = header.get("OBS_ID", file_obs)
        try:
            obs_id = int(obs_id)
        except (TypeError, ValueError):
            problems.append(
                f"{kind[0]} HDU has no integer OBS_ID and no EVENTS HDU in the same file "
                f"gives one [file '{path}', HDU '{name or idx}']"
            )
            continue
        hdu_rows.append(
            {
                "OBS_ID": obs_id,
                "HDU_TYPE": kind[0],
                "HDU_CLASS": kind[1],
                "FILE_DIR": str(path.parent),
                "FILE_NAME": path.name,
                "HDU_NAME": name or str(idx),
            }
        )
        if kind[0] == "events":
            row = {"OBS_ID": obs_id, "EVENT_COUNT": int(header.get("NAXIS2", 0))}
            for key in _OBS_KEYWORDS + _TIME_KEYWORDS:
                if key in header and not isinstance(header[key], fits.card.Undefined):
                    row[key] = header[key]
            obs_rows.append(row)
    return hdu_rows, obs_rows, problems


def build_index(
    paths: Iterable[str | os.PathLike], *, root: str | os.PathLike | None = None
) -> tuple[xr.Dataset, xr.Dataset, list[str]]:
    """Build HDU and observation index tables from the headers of DL3 files.

    Parameters
    ----------
    paths : iterable of path-like
        FITS files, or directories searched recursively for ``*.fits[.gz]``.
    root : path-like, optional
        Base directory recorded in the HDU index (default: common parent).

    Returns
    -------
    hdu_index, obs_index : xarray.Dataset
        As :func:`read_hdu_index` / :func:`read_obs_index` return.
    problems : list of str
        Files or HDUs that could not be indexed, one message each.
    """
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.name.lower().endswith(_FITS_SUFFIXES) and "index" not in f.name.lower()
                )
            )
        else:
            files.append(p)
    with ThreadPoolExecutor(config.get("io.header_threads")) as pool:
        results = list(pool.map(_scan_file, files))
    hdu_rows = [r for rows, _, _ in results for r in rows]
    obs_rows = [r for _, rows, _ in results for r in rows]
    problems = [p for _, _, probs in results for p in probs]
    base = (
        Path(root)
        if root is not None
        else (Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path("."))
    )
    hdu_vars = {
        col: (
            D.HDU,
            np.array([r[col] for r in hdu_rows], dtype=np.int64 if col == "OBS_ID" else str),
        )
        for col in HDU_INDEX_COLUMNS
    }
    for var in ("FILE_DIR",):
        hdu_vars[var] = (
            D.HDU,
            np.array([os.path.relpath(r[var], base) for r in hdu_rows], dtype=str),
        )
    hdu_index = xr.Dataset(hdu_vars, attrs={"base_dir": str(base), "built_from_headers": True})

    obs_ids = np.array(sorted({r["OBS_ID"] for r in obs_rows}), dtype=np.int64)
    by_id = {r["OBS_ID"]: r for r in obs_rows}
    keys = sorted({k for r in obs_rows for k in r} - {"OBS_ID"} - set(_TIME_KEYWORDS))
    obs_vars = {}
    for key in keys:
        values = [by_id[o].get(key) for o in obs_ids]
        numeric = all(isinstance(v, int | float | np.number) or v is None for v in values)
        if numeric:
            arr = np.array([np.nan if v is None else v for v in values], dtype=float)
            if all(isinstance(v, int | np.integer) for v in values):
                arr = arr.astype(np.int64)
        else:
            arr = np.array(["" if v is None else str(v) for v in values], dtype=str)
        attrs = {"units": OBS_UNITS[key]} if key in OBS_UNITS else {}
        obs_vars[key] = xr.Variable((D.OBS_ID,), arr, attrs)
    time_attrs = {}
    for r in obs_rows:
        for key in _TIME_KEYWORDS:
            if key in r:
                time_attrs.setdefault(key, r[key])
    obs_index = xr.Dataset(
        obs_vars, coords={D.OBS_ID: obs_ids}, attrs={**time_attrs, "built_from_headers": True}
    )
    return hdu_index, obs_index, problems
