"""The data store: index tables, observation selection and lazy access to DL3 data.

Opening a store reads its index tables only (or, for a directory without index
tables, the HDU headers of its files). Everything else is lazy:
:meth:`DataStore.events` and :meth:`DataStore.gti` read HDU headers to build dask
graphs, and no table data until something computes.

Examples
--------
>>> import gammax, astropy.units as u
>>> from astropy.coordinates import SkyCoord
>>> store = gammax.open_datastore("hess-dl3-dr1")  # doctest: +SKIP
>>> crab = store.select_cone(SkyCoord.from_name("Crab"), 2 * u.deg)  # doctest: +SKIP
>>> events = crab.events()  # lazy xr.Dataset, dim "event"  # doctest: +SKIP
>>> events.ENERGY.sum().compute()  # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.time import Time

from .. import config
from .. import dims as D
from ..errors import (
    FormatError,
    GammaxError,
    ObservationNotFoundError,
    SelectionError,
)
from ..io.fast_table import TableLayout, layout_schemas, scan_table
from ..io.fits import column_schemas, get_hdu, header_to_attrs, open_fits
from ..io.gadf import HDU_TYPES
from ..io.time import time_attrs, time_offset
from ..units import parse_unit
from .events import build_table_dataset
from .index import build_index, find_index_files, read_hdu_index, read_obs_index
from .lazy_table import TableSource

__all__ = ["DataStore", "HDULocation", "open_datastore"]


@dataclass(frozen=True)
class HDULocation:
    """Where one HDU of one observation is: file, HDU name and class."""

    obs_id: int
    hdu_type: str
    hdu_class: str
    path: Path
    hdu: str

    def __str__(self) -> str:
        return f"obs {self.obs_id} {self.hdu_type} ({self.hdu_class}): {self.path} [{self.hdu}]"


class _HeaderCache:
    """Thread-safe cache of table headers, shared by a store and its selections.

    Values are ``(attrs, schemas, nrows, layout)``; ``layout`` locates the rows
    for the fast numeric read path (``None`` for tables astropy must read).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], tuple] = {}

    def get(self, loc: HDULocation) -> tuple[dict, tuple, int, TableLayout | None]:
        key = (str(loc.path), loc.hdu)
        with self._lock:
            if key in self._data:
                return self._data[key]
        layout = scan_table(loc.path, loc.hdu, obs_id=loc.obs_id)
        if layout.dtype is not None:
            schemas = layout_schemas(layout)
        else:
            with open_fits(loc.path, obs_id=loc.obs_id, hdu=loc.hdu) as hdul:
                table = get_hdu(hdul, loc.hdu, path=loc.path, obs_id=loc.obs_id)
                schemas = tuple(column_schemas(table)) if hasattr(table, "columns") else ()
            layout = None
        header = layout.header if layout is not None else None
        if header is None:
            with open_fits(loc.path, obs_id=loc.obs_id, hdu=loc.hdu) as hdul:
                header = get_hdu(hdul, loc.hdu, path=loc.path, obs_id=loc.obs_id).header
        value = (header_to_attrs(header), schemas, int(header.get("NAXIS2", 0)), layout)
        with self._lock:
            self._data[key] = value
        return value


class DataStore:
    """A GADF DL3 data store: index tables plus lazy access to events, GTIs and IRFs.

    Use :func:`open_datastore` to create one. Selections return new stores that
    share the index and a header cache; a store is never modified in place.

    Attributes
    ----------
    obs_table : xarray.Dataset
        Observation index, dim ``obs_id``, every column with its units.
    hdu_table : xarray.Dataset
        HDU index, dim ``hdu``.
    root : pathlib.Path
        Directory that relative ``FILE_DIR`` entries start from.
    """

    def __init__(
        self,
        hdu_table: xr.Dataset,
        obs_table: xr.Dataset,
        root: str | os.PathLike,
        *,
        _cache: _HeaderCache | None = None,
        _locations: dict | None = None,
    ) -> None:
        self.hdu_table = hdu_table
        self.obs_table = obs_table
        self.root = Path(root)
        self._cache = _cache or _HeaderCache()
        self._locations = _locations if _locations is not None else self._index_locations()

    # ------------------------------------------------------------------ index
    def _index_locations(self) -> dict[tuple[int, str], HDULocation]:
        t = self.hdu_table
        base = Path(t.attrs.get("base_dir", self.root))
        locations = {}
        for obs_id, hdu_type, hdu_class, file_dir, file_name, hdu_name in zip(
            t["OBS_ID"].values,
            t["HDU_TYPE"].values,
            t["HDU_CLASS"].values,
            t["FILE_DIR"].values,
            t["FILE_NAME"].values,
            t["HDU_NAME"].values,
            strict=True,
        ):
            directory = base / str(file_dir) if str(file_dir) not in ("", "--") else base
            key = (int(obs_id), str(hdu_type))
            locations.setdefault(
                key,
                HDULocation(
                    int(obs_id),
                    str(hdu_type),
                    str(hdu_class),
                    Path(os.path.normpath(directory / str(file_name))),
                    str(hdu_name),
                ),
            )
        return locations

    def _derive(self, obs_table: xr.Dataset) -> DataStore:
        return DataStore(
            self.hdu_table, obs_table, self.root, _cache=self._cache, _locations=self._locations
        )

    @property
    def obs_ids(self) -> np.ndarray:
        """Observation ids of this store (or selection), in index order."""
        return np.asarray(self.obs_table[D.OBS_ID].values)

    def __len__(self) -> int:
        return int(self.obs_table.sizes[D.OBS_ID])

    def __repr__(self) -> str:
        return f"<gammax.DataStore {self.root}: {len(self)} observations>"

    def location(self, obs_id: int, hdu_type: str) -> HDULocation:
        """Where the ``hdu_type`` HDU (events, gti, aeff, ...) of ``obs_id`` is.

        Raises
        ------
        gammax.errors.ObservationNotFoundError
            If the observation or the HDU type is not in the index.
        """
        if hdu_type not in HDU_TYPES:
            raise ValueError(f"hdu_type={hdu_type!r}; expected one of {sorted(HDU_TYPES)}")
        loc = self._locations.get((int(obs_id), hdu_type))
        if loc is None:
            known = sorted(t for (o, t) in self._locations if o == int(obs_id))
            if not known:
                raise ObservationNotFoundError(
                    f"observation not in the HDU index of {self.root}", obs_id=int(obs_id)
                )
            raise ObservationNotFoundError(
                f"no {hdu_type!r} HDU in the index; this observation has {known}",
                obs_id=int(obs_id),
            )
        return loc

    def hdu_types(self, obs_id: int) -> list[str]:
        """HDU types the index lists for an observation."""
        return sorted(t for (o, t) in self._locations if o == int(obs_id))

    # -------------------------------------------------------------- selection
    def select_obs(self, obs_ids: Iterable[int]) -> DataStore:
        """Keep the given observations, in the given order.

        Raises
        ------
        gammax.errors.ObservationNotFoundError
            If an id is not in the store.
        """
        ids = np.atleast_1d(
            np.asarray(list(obs_ids) if not np.isscalar(obs_ids) else [obs_ids], dtype=np.int64)
        )
        missing = sorted(set(ids.tolist()) - set(self.obs_ids.tolist()))
        if missing:
            raise ObservationNotFoundError(
                f"observation(s) {missing[:10]}{'...' if len(missing) > 10 else ''} not in "
                f"the store ({len(self)} observations)"
            )
        return self._derive(self.obs_table.sel({D.OBS_ID: ids}))

    def _column(self, name: str) -> xr.DataArray:
        if name not in self.obs_table:
            raise SelectionError(
                f"observation table has no column {name!r}; it has "
                f"{sorted(self.obs_table.data_vars)}"
            )
        return self.obs_table[name]

    def select_cone(self, center: SkyCoord, radius: Any) -> DataStore:
        """Keep observations whose pointing lies within ``radius`` of ``center``.

        ``center`` may be in any frame astropy knows; the pointing is the
        ``RA_PNT``/``DEC_PNT`` of the observation table (ICRS). ``radius`` is a
        Quantity/Angle or a number of degrees.
        """
        ra = self._column("RA_PNT")
        dec = self._column("DEC_PNT")
        pointing = SkyCoord(
            np.asarray(ra.values, dtype=float) * parse_unit(ra.attrs.get("units", "deg")),
            np.asarray(dec.values, dtype=float) * parse_unit(dec.attrs.get("units", "deg")),
            frame="icrs",
        )
        radius = u.Quantity(radius, u.deg)
        keep = pointing.separation(center.icrs) <= radius
        return self._derive(self.obs_table.isel({D.OBS_ID: np.flatnonzero(keep)}))

    def select_range(self, column: str, min: Any = None, max: Any = None) -> DataStore:
        """Keep observations with ``min <= column <= max`` (either bound optional).

        Bounds may be Quantities (converted to the column's unit) or numbers (in
        the column's unit).
        """
        values = self._column(column)
        if values.dtype.kind not in "iuf":
            raise SelectionError(
                f"column {column!r} is not numeric (dtype {values.dtype}); "
                "use select_target for names"
            )
        unit = parse_unit(values.attrs.get("units"))
        keep = np.ones(values.shape, dtype=bool)
        for bound, op in ((min, np.greater_equal), (max, np.less_equal)):
            if bound is None:
                continue
            try:
                limit = u.Quantity(bound, unit).value if isinstance(bound, u.Quantity) else bound
            except u.UnitConversionError as err:
                raise SelectionError(
                    f"bound {bound} cannot be compared with column {column!r} in {unit}"
                ) from err
            keep &= op(values.values, limit)
        return self._derive(self.obs_table.isel({D.OBS_ID: np.flatnonzero(keep)}))

    def _obs_times(self) -> tuple[Time, Time, str]:
        for name in ("TSTART", "TSTOP"):
            self._column(name)
        try:
            ref = time_attrs(self.obs_table.attrs)
        except FormatError as err:
            raise SelectionError(f"observation table has no time reference: {err.message}") from err
        epoch = Time(ref["mjdref"], format="mjd", scale=ref["timesys"])
        start = epoch + np.asarray(self.obs_table["TSTART"].values, float) * u.s
        stop = epoch + np.asarray(self.obs_table["TSTOP"].values, float) * u.s
        return start, stop, ref["timesys"]

    def select_time(
        self, start: Any = None, stop: Any = None, *, within: bool = False
    ) -> DataStore:
        """Keep observations overlapping ``[start, stop]`` (or lying ``within`` it).

        ``start``/``stop`` are :class:`astropy.time.Time` objects, or values
        astropy parses (ISO strings; numbers are MJD), read in the time scale of
        the observation table (``TIMESYS``, usually TT).
        """
        t_start, t_stop, scale = self._obs_times()

        def as_time(value: Any) -> Time:
            if isinstance(value, Time):
                return value
            fmt = "mjd" if isinstance(value, int | float | np.number) else None
            return Time(value, format=fmt, scale=scale)

        keep = np.ones(len(self), dtype=bool)
        if start is not None:
            start = as_time(start)
            keep &= (t_start >= start) if within else (t_stop >= start)
        if stop is not None:
            stop = as_time(stop)
            keep &= (t_stop <= stop) if within else (t_start <= stop)
        return self._derive(self.obs_table.isel({D.OBS_ID: np.flatnonzero(keep)}))

    def select_target(self, name: str) -> DataStore:
        """Keep observations whose target matches ``name``.

        Looks at ``OBJECT`` and ``TARGET_NAME``. Matching ignores case, spaces,
        ``_`` and ``-``; a name with ``*``/``?`` is a shell-style pattern, other
        names match as a substring (``"crab"`` matches ``"Crab Nebula"``).
        """
        columns = [c for c in ("OBJECT", "TARGET_NAME") if c in self.obs_table]
        if not columns:
            raise SelectionError(
                "observation table has neither OBJECT nor TARGET_NAME; "
                f"it has {sorted(self.obs_table.data_vars)}"
            )

        def norm(text: str) -> str:
            return "".join(ch for ch in str(text).lower() if ch not in " _-")

        pattern = norm(name)
        wildcard = any(ch in pattern for ch in "*?[")
        keep = np.zeros(len(self), dtype=bool)
        for col in columns:
            for i, value in enumerate(self.obs_table[col].values):
                text = norm(value)
                keep[i] |= fnmatch.fnmatchcase(text, pattern) if wildcard else pattern in text
        return self._derive(self.obs_table.isel({D.OBS_ID: np.flatnonzero(keep)}))

    # ----------------------------------------------------------- lazy access
    def _resolve_ids(self, obs_ids: Iterable[int] | int | None) -> list[int]:
        if obs_ids is None:
            return [int(o) for o in self.obs_ids]
        if np.isscalar(obs_ids):
            obs_ids = [obs_ids]
        ids = [int(o) for o in obs_ids]
        known = set(self.obs_ids.tolist())
        missing = [o for o in ids if o not in known]
        if missing:
            raise ObservationNotFoundError(
                f"observation(s) {missing[:10]} not in this store or selection"
            )
        return ids

    def _table_sources(
        self, ids: Sequence[int], hdu_type: str, errors: str
    ) -> tuple[list[TableSource], dict, dict]:
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors={errors!r}; expected 'raise' or 'skip'")

        def load(obs_id: int):
            loc = self.location(obs_id, hdu_type)
            attrs, schemas, nrows, layout = self._cache.get(loc)
            return loc, attrs, schemas, nrows, layout

        def guarded(obs_id: int):
            try:
                return load(obs_id), None
            except GammaxError as err:
                if errors == "raise":
                    raise
                return None, err

        threads = max(1, min(int(config.get("io.header_threads")), len(ids)))
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(guarded, ids))
        loaded = []
        skipped = {}
        for obs_id, (value, err) in zip(ids, results, strict=True):
            if err is not None:
                skipped[str(obs_id)] = str(err)
            else:
                loaded.append(value)
        reference = None
        sources = []
        for loc, attrs, schemas, nrows, layout in loaded:
            try:
                t_attrs = time_attrs(attrs)
            except FormatError as err:
                err = FormatError(err.message, file=loc.path, hdu=loc.hdu, obs_id=loc.obs_id)
                if errors == "raise":
                    raise err from None
                skipped[str(loc.obs_id)] = str(err)
                continue
            reference = reference or t_attrs
            sources.append(
                TableSource(
                    obs_id=loc.obs_id,
                    path=str(loc.path),
                    hdu=loc.hdu,
                    nrows=nrows,
                    schemas=schemas,
                    attrs=attrs,
                    time_shift=time_offset(t_attrs, reference),
                    layout=layout,
                )
            )
        if skipped:
            warnings.warn(
                f"skipped {len(skipped)} observation(s) with unreadable {hdu_type}: "
                + "; ".join(skipped.values()),
                stacklevel=3,
            )
        return sources, reference or {}, skipped

    def _table(self, hdu_type: str, obs_ids, columns, chunk_rows, errors) -> xr.Dataset:
        ids = self._resolve_ids(obs_ids)
        sources, reference, skipped = self._table_sources(ids, hdu_type, errors)
        if errors == "skip":
            good = []
            for src in sources:
                try:
                    from .events import check_required_columns

                    check_required_columns(src, hdu_type)
                    good.append(src)
                except GammaxError as err:
                    skipped[str(src.obs_id)] = str(err)
            sources = good
        ds = build_table_dataset(
            sources, hdu_type, columns=columns, chunk_rows=chunk_rows, time_reference=reference
        )
        if skipped:
            ds.attrs["skipped_obs"] = skipped
        return ds

    def events(
        self,
        obs_ids: Iterable[int] | int | None = None,
        *,
        columns: Sequence[str] | None = None,
        chunk_rows: int | None = None,
        errors: str = "raise",
    ) -> xr.Dataset:
        """Lazy event list of the selected observations (dim ``event``).

        Reads the EVENTS headers (row counts, columns, keywords); no event data
        are read until the result is computed.

        Parameters
        ----------
        obs_ids : int or iterable of int, optional
            Observations (default: all of this store or selection).
        columns : sequence of str, optional
            Columns to include (default: all columns present in every observation;
            any others are listed in ``attrs["dropped_columns"]``).
        chunk_rows : int, optional
            Maximum events per chunk; default ``gammax.events.chunk_rows``
            (dask config). Every observation has at least one chunk of its own.
        errors : {"raise", "skip"}
            ``"skip"`` leaves out observations whose EVENTS HDU cannot be opened
            or lacks required columns, warns, and lists them in
            ``attrs["skipped_obs"]``.

        Returns
        -------
        xarray.Dataset
            See :mod:`gammax.data.events`.
        """
        return self._table("events", obs_ids, columns, chunk_rows, errors)

    def gti(
        self, obs_ids: Iterable[int] | int | None = None, *, errors: str = "raise"
    ) -> xr.Dataset:
        """Lazy good-time intervals (dim ``gti``, variables ``START``, ``STOP``)."""
        return self._table("gti", obs_ids, None, None, errors)

    def pointing(self, obs_ids: Iterable[int] | int | None = None) -> xr.Dataset:
        """Pointing of each observation (dim ``obs_id``), from the index or EVENTS headers.

        Variables ``RA_PNT``, ``DEC_PNT`` (ICRS, deg) and, where known,
        ``ALT_PNT``, ``AZ_PNT`` and ``OBS_MODE``. Only headers are read.
        """
        ids = self._resolve_ids(obs_ids)
        keys = ("RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT", "OBS_MODE")
        table = self.obs_table.sel({D.OBS_ID: ids})
        have = [k for k in keys if k in table]
        if "RA_PNT" in have and "DEC_PNT" in have:
            out = table[have]
        else:
            rows = []
            for obs_id in ids:
                attrs = self._cache.get(self.location(obs_id, "events"))[0]
                rows.append({k: attrs.get(k) for k in keys})
            data = {}
            for k in keys:
                values = [r[k] for r in rows]
                if all(v is None for v in values):
                    continue
                if k == "OBS_MODE":
                    data[k] = (D.OBS_ID, np.array(["" if v is None else str(v) for v in values]))
                else:
                    data[k] = (
                        D.OBS_ID,
                        np.array([np.nan if v is None else float(v) for v in values]),
                        {"units": "deg"},
                    )
            out = xr.Dataset(data, coords={D.OBS_ID: np.asarray(ids, dtype=np.int64)})
        out.attrs = {"frame": "icrs", "description": "pointing position of each observation"}
        return out

    def irf(self, obs_id: int, hdu_type: str) -> xr.Dataset:
        """The IRF ``hdu_type`` (aeff, edisp, psf, bkg, rad_max) of an observation.

        Table IRFs: axis coordinates are read now (they are small); the values
        are a lazy dask array, read and validated when computed. Map IRFs (HAWC)
        are read as maps on their geometry (:mod:`gammax.irf.maps`).
        """
        from ..io.irf_table import read_irf
        from ..irf.maps import MAP_IRF_CLASSES, read_map_irf

        loc = self.location(obs_id, hdu_type)
        if loc.hdu_class in MAP_IRF_CLASSES:
            return read_map_irf(
                loc.path, loc.hdu, hdu_type=loc.hdu_type, hdu_class=loc.hdu_class, obs_id=loc.obs_id
            )
        return read_irf(loc.path, loc.hdu, obs_id=loc.obs_id, hdu_class=loc.hdu_class)

    def observation(self, obs_id: int) -> Observation:
        """One observation with lazy access to its events, GTIs and IRFs."""
        self._resolve_ids([obs_id])
        return Observation(self, int(obs_id))

    # ---------------------------------------------------------------- checks
    def check(self, *, read_data: bool = True) -> Any:
        """Validate every HDU of the store and report all problems in one table.

        See :func:`gammax.data.check.check_store`.
        """
        from .check import check_store

        return check_store(self, read_data=read_data)

    def summary(self) -> str:
        """A short text summary of the observations (used by ``gammax info``)."""
        from .summary import store_summary

        return store_summary(self)


class Observation:
    """Lazy view of one observation of a :class:`DataStore`."""

    def __init__(self, store: DataStore, obs_id: int) -> None:
        self.store = store
        self.obs_id = obs_id

    def __repr__(self) -> str:
        return f"<gammax.Observation {self.obs_id}: {', '.join(self.hdu_types)}>"

    @property
    def hdu_types(self) -> list[str]:
        """HDU types available for this observation."""
        return self.store.hdu_types(self.obs_id)

    @property
    def events(self) -> xr.Dataset:
        """Lazy event list."""
        return self.store.events(self.obs_id)

    @property
    def gti(self) -> xr.Dataset:
        """Lazy good-time intervals."""
        return self.store.gti(self.obs_id)

    def irf(self, hdu_type: str) -> xr.Dataset:
        """One IRF, see :meth:`DataStore.irf`."""
        return self.store.irf(self.obs_id, hdu_type)

    @property
    def aeff(self) -> xr.Dataset:
        """Effective area."""
        return self.irf("aeff")

    @property
    def edisp(self) -> xr.Dataset:
        """Energy dispersion."""
        return self.irf("edisp")

    @property
    def psf(self) -> xr.Dataset:
        """Point spread function."""
        return self.irf("psf")

    @property
    def bkg(self) -> xr.Dataset:
        """Background model."""
        return self.irf("bkg")

    @property
    def rad_max(self) -> xr.Dataset:
        """Energy-dependent ON-region radius (point-like IRFs)."""
        return self.irf("rad_max")


def open_datastore(
    path: str | os.PathLike,
    *,
    hdu_index: str | os.PathLike | None = None,
    obs_index: str | os.PathLike | bool | None = None,
    index_hdu: str | int = 1,
) -> DataStore:
    """Open a GADF data store.

    Parameters
    ----------
    path : path-like
        Data store directory (with ``hdu-index.fits[.gz]`` and
        ``obs-index.fits[.gz]``), or a plain directory of DL3 files: without
        index tables the index is built from the files' headers.
    hdu_index, obs_index : path-like, optional
        Index files with other names (relative to ``path`` or absolute), e.g.
        HAWC's ``hdu-index-table-NN-Crab.fits.gz``. ``obs_index=False`` builds the
        observation table from the EVENTS headers instead of reading one.
    index_hdu : str or int
        HDU of the HDU index file to read (HAWC stores one table per event
        class, in HDUs 1-9).

    Returns
    -------
    DataStore

    Raises
    ------
    gammax.errors.DataFileNotFoundError
        If ``path`` or a given index file does not exist.
    gammax.errors.FormatError
        If an index table is malformed.
    """
    from ..errors import DataFileNotFoundError

    root = Path(path)
    if not root.exists():
        raise DataFileNotFoundError("data store path does not exist", file=root)
    if root.is_file():
        hdu_index, root = root, root.parent
    default_hdu, default_obs = find_index_files(root)
    hdu_path = (root / hdu_index) if hdu_index is not None else default_hdu
    if obs_index is False:
        obs_path = None
    elif obs_index not in (None, True):
        obs_path = root / obs_index
    else:
        obs_path = default_obs
    for given, p in ((hdu_index, hdu_path), (obs_index, obs_path)):
        if given not in (None, False, True) and not Path(p).is_file():
            raise DataFileNotFoundError("index file does not exist", file=p)

    if hdu_path is None:
        hdu_table, built_obs, problems = build_index([root], root=root)
        if problems:
            warnings.warn(
                f"{len(problems)} HDU(s) could not be indexed: " + "; ".join(problems[:5]),
                stacklevel=2,
            )
        obs_table = read_obs_index(obs_path) if obs_path is not None else built_obs
    else:
        hdu_table = read_hdu_index(hdu_path, hdu=index_hdu)
        if obs_path is not None:
            obs_table = read_obs_index(obs_path)
        else:
            obs_table = _obs_table_from_events(hdu_table, root)
    return DataStore(hdu_table, obs_table, root)


def _obs_table_from_events(hdu_table: xr.Dataset, root: Path) -> xr.Dataset:
    """Observation table from the EVENTS headers the HDU index points to."""
    store = DataStore(hdu_table, xr.Dataset(coords={D.OBS_ID: np.zeros(0, np.int64)}), root)
    ids = sorted({int(o) for o in hdu_table["OBS_ID"].values})
    event_files = [
        store._locations[(o, "events")].path for o in ids if (o, "events") in store._locations
    ]
    _, obs_table, _ = build_index(sorted(set(event_files)), root=root)
    known = set(obs_table[D.OBS_ID].values.tolist())
    extra = [o for o in ids if o not in known]
    if extra:  # observations without events (IRF-only entries): ids only
        obs_table = xr.concat(
            [obs_table, xr.Dataset(coords={D.OBS_ID: np.asarray(extra, np.int64)})],
            dim=D.OBS_ID,
            data_vars="all",
            coords="different",
            join="outer",
        )
    obs_table.attrs["built_from_headers"] = True
    return obs_table
