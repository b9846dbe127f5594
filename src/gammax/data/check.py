"""Validation of a whole data store, reporting every problem instead of stopping at the first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .. import config
from ..errors import GammaxError
from ..io.fits import check_gzip_stream, get_hdu, open_fits
from ..io.gadf import HDU_CLASSES, classify_header
from ..io.irf_table import read_irf
from .events import check_required_columns
from .lazy_table import TableSource

if TYPE_CHECKING:
    from .store import DataStore, HDULocation

__all__ = ["REPORT_COLUMNS", "check_store"]

#: Columns of the table :func:`check_store` returns.
REPORT_COLUMNS = ("obs_id", "hdu_type", "hdu_class", "file", "hdu", "error", "message")


def _problem(loc: HDULocation | None, error: str, message: str, **kw) -> dict:
    row = {
        "obs_id": kw.get("obs_id", loc.obs_id if loc else None),
        "hdu_type": kw.get("hdu_type", loc.hdu_type if loc else None),
        "hdu_class": loc.hdu_class if loc else None,
        "file": str(loc.path) if loc else kw.get("file"),
        "hdu": loc.hdu if loc else None,
        "error": error,
        "message": message,
    }
    return row


def _check_hdu(loc: HDULocation, read_data: bool) -> list[dict]:
    problems = []
    if loc.hdu_class not in HDU_CLASSES:
        problems.append(
            _problem(
                loc,
                "UnknownHDUClassError",
                f"unknown HDU class {loc.hdu_class!r}; expected one of {sorted(HDU_CLASSES)}",
            )
        )
        return problems
    try:
        with open_fits(loc.path, obs_id=loc.obs_id, hdu=loc.hdu) as hdul:
            hdu = get_hdu(hdul, loc.hdu, path=loc.path, obs_id=loc.obs_id)
            declared = classify_header(hdu.header)
            if declared is not None and declared[1] != loc.hdu_class and loc.hdu_class != "map":
                problems.append(
                    _problem(
                        loc,
                        "FormatError",
                        f"index says class {loc.hdu_class!r}, header declares {declared[1]!r}",
                    )
                )
            if loc.hdu_type in ("events", "gti"):
                from ..io.fits import column_schemas

                source = TableSource(
                    loc.obs_id,
                    str(loc.path),
                    loc.hdu,
                    int(hdu.header.get("NAXIS2", 0)),
                    tuple(column_schemas(hdu)),
                    {},
                )
                check_required_columns(source, loc.hdu_type)
                if read_data:
                    data = hdu.data
                    n = 0 if data is None else len(data)
                    if n != source.nrows:
                        problems.append(
                            _problem(
                                loc,
                                "CorruptFileError",
                                f"table has {n} rows, header says {source.nrows}",
                            )
                        )
        if read_data and loc.hdu_class in (
            "aeff_2d",
            "edisp_2d",
            "psf_table",
            "psf_3gauss",
            "psf_king",
            "bkg_2d",
            "bkg_3d",
            "rad_max_2d",
        ):
            read_irf(loc.path, loc.hdu, obs_id=loc.obs_id, hdu_class=loc.hdu_class).load()
    except GammaxError as err:
        problems.append(_problem(loc, type(err).__name__, err.message))
    except Exception as err:  # report, never stop the whole check
        problems.append(_problem(loc, type(err).__name__, str(err)))
    return problems


def check_store(store: DataStore, *, read_data: bool = True) -> pd.DataFrame:
    """Check every observation and HDU of a store; return one row per problem.

    Checks that each indexed file exists and is intact (gzip streams are
    decompressed to the end), that each HDU exists and has a known class
    agreeing with its header, that EVENTS and GTI tables have their required
    columns and row counts, that IRF tables are complete and finite, and that
    every observation has events.

    Parameters
    ----------
    store : DataStore
        The store or selection to check.
    read_data : bool
        Also read table data and IRF values (slower, finds more).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REPORT_COLUMNS`; empty when the store is clean.
    """
    locations = [
        loc
        for (obs_id, _), loc in store._locations.items()
        if obs_id in set(store.obs_ids.tolist())
    ]
    rows: list[dict] = []
    for obs_id in store.obs_ids:
        if "events" not in store.hdu_types(int(obs_id)):
            rows.append(
                _problem(
                    None,
                    "ObservationNotFoundError",
                    "observation has no events HDU in the index",
                    obs_id=int(obs_id),
                    hdu_type="events",
                )
            )
    files = sorted({loc.path for loc in locations})
    first_loc = {}
    for loc in locations:
        first_loc.setdefault(loc.path, loc)

    def check_file(path: Path) -> list[dict]:
        loc = first_loc[path]
        if not path.is_file():
            return [_problem(loc, "DataFileNotFoundError", "file does not exist")]
        if read_data and path.name.lower().endswith(".gz"):
            problem = check_gzip_stream(path)
            if problem:
                return [_problem(loc, "CorruptFileError", problem)]
        return []

    threads = int(config.get("io.header_threads"))
    with ThreadPoolExecutor(threads) as pool:
        file_problems = dict(zip(files, pool.map(check_file, files), strict=True))
    broken = set()
    for path, problems in file_problems.items():
        if problems:
            broken.add(path)
            for loc in locations:
                if loc.path == path:
                    rows.append(_problem(loc, problems[0]["error"], problems[0]["message"]))
    todo = [loc for loc in locations if loc.path not in broken]
    with ThreadPoolExecutor(threads) as pool:
        for problems in pool.map(lambda loc: _check_hdu(loc, read_data), todo):
            rows.extend(problems)
    report = pd.DataFrame(rows, columns=list(REPORT_COLUMNS))
    if len(report):
        report["obs_id"] = report["obs_id"].astype("Int64")
        report = report.sort_values(["obs_id", "hdu_type"], kind="stable").reset_index(drop=True)
    return report
