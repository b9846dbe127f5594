"""Write simulated observations as GADF DL3 files, and the index tables of an archive.

Files are written deterministically: no creation dates in headers, and gzip
streams with a zero modification time and no file name, so the same inputs and
seed give the same bytes. Writes go to a temporary file renamed into place, so
a file is either complete or absent.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from gammax.simulate import ObservationSpec
>>> spec = ObservationSpec(1, 83.63, 22.01, tstart=0.0, ontime=100.0)
>>> events = xr.Dataset({"TIME": ("event", [1.0]), "RA": ("event", [83.6]),
...                      "DEC": ("event", [22.0]), "ENERGY": ("event", [1.0]),
...                      "MC_ID": ("event", [0])})
>>> events_hdu(events, spec).header["OBS_ID"]
1
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits

from .. import __version__
from ..data.index import OBS_UNITS
from .observation import ObservationSpec

__all__ = [
    "EVENT_COLUMNS",
    "events_hdu",
    "gti_hdu",
    "write_hdulist",
    "write_index_tables",
]

_GADF_DOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
CREATOR = f"gammax {__version__}"

#: Columns of a simulated EVENTS table: name -> (FITS format, unit).
EVENT_COLUMNS: dict[str, tuple[str, str]] = {
    "EVENT_ID": ("K", ""),
    "TIME": ("D", "s"),
    "RA": ("E", "deg"),
    "DEC": ("E", "deg"),
    "ENERGY": ("E", "TeV"),
    "MC_ID": ("J", ""),
    "ENERGY_TRUE": ("E", "TeV"),
    "RA_TRUE": ("E", "deg"),
    "DEC_TRUE": ("E", "deg"),
}


def write_hdulist(hdul: fits.HDUList, path: str | os.PathLike, *, compresslevel: int = 1) -> int:
    """Write an HDU list reproducibly (gzip if the name ends in ``.gz``); return the bytes.

    The gzip header carries no time stamp or file name, so equal HDUs give
    equal files. The file appears atomically (temporary file, then rename).
    Level 1 is the default: event lists of random floats compress about as
    well at level 1 as at 6, three times faster.
    """
    path = Path(path)
    buffer = io.BytesIO()
    hdul.writeto(buffer)
    raw = buffer.getvalue()
    if path.name.endswith(".gz"):
        out = io.BytesIO()
        with gzip.GzipFile(
            filename="", mode="wb", fileobj=out, mtime=0, compresslevel=compresslevel
        ) as gz:
            gz.write(raw)
        raw = out.getvalue()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(raw)
    os.replace(tmp, path)
    return len(raw)


def _time_keywords(spec: ObservationSpec) -> dict:
    return {
        "MJDREFI": int(spec.mjdref[0]),
        "MJDREFF": float(spec.mjdref[1]),
        "TIMEUNIT": "s",
        "TIMESYS": spec.timesys,
        "TIMEREF": "LOCAL",
    }


def _common(hdu: fits.BinTableHDU, clas1: str) -> None:
    hdu.header["HDUCLASS"] = "GADF"
    hdu.header["HDUDOC"] = _GADF_DOC
    hdu.header["HDUVERS"] = "0.3"
    hdu.header["HDUCLAS1"] = clas1


def events_hdu(
    events: xr.Dataset,
    spec: ObservationSpec,
    *,
    meta: Mapping[str, object] | None = None,
) -> fits.BinTableHDU:
    """The EVENTS HDU of an observation.

    Parameters
    ----------
    events : xarray.Dataset
        Dim ``event``; the columns of :data:`EVENT_COLUMNS` that are present are
        written (``EVENT_ID`` is numbered from 1 if absent).
    spec : ObservationSpec
        Observation (header keywords).
    meta : mapping, optional
        More header keywords (e.g. ``MIDnnnnn``/``MMNnnnnn`` model names).
    """
    n = events.sizes.get("event", 0)
    data = {}
    if "EVENT_ID" not in events:
        data["EVENT_ID"] = np.arange(1, n + 1, dtype=np.int64)
    for name in EVENT_COLUMNS:
        if name in events:
            data[name] = np.asarray(events[name].values)
    columns = [
        fits.Column(
            name=name,
            format=EVENT_COLUMNS[name][0],
            unit=EVENT_COLUMNS[name][1] or None,
            array=values,
        )
        for name, values in data.items()
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="EVENTS")
    _common(hdu, "EVENTS")
    h = hdu.header
    h["OBS_ID"] = spec.obs_id
    h["OBS_MODE"] = "POINTING"
    h["RA_PNT"] = (spec.ra_pnt, "[deg] pointing RA (ICRS)")
    h["DEC_PNT"] = (spec.dec_pnt, "[deg] pointing Dec (ICRS)")
    if np.isfinite(spec.alt_pnt) and np.isfinite(spec.az_pnt):
        h["ALT_PNT"] = (spec.alt_pnt, "[deg]")
        h["AZ_PNT"] = (spec.az_pnt, "[deg]")
    h["GEOLON"] = (float(spec.site[0]), "[deg] observatory longitude")
    h["GEOLAT"] = (float(spec.site[1]), "[deg] observatory latitude")
    h["ALTITUDE"] = (float(spec.site[2]), "[m] observatory height")
    h["EQUINOX"] = 2000.0
    h["RADECSYS"] = "ICRS"
    h["OBJECT"] = spec.object
    h["TSTART"] = (spec.tstart, "[s] start since the reference epoch")
    h["TSTOP"] = (spec.tstop, "[s] stop since the reference epoch")
    h["ONTIME"] = (spec.ontime, "[s] summed GTI length")
    h["LIVETIME"] = (spec.livetime, "[s] ONTIME x DEADC")
    h["DEADC"] = spec.deadc
    h.update(_time_keywords(spec))
    h["EUNIT"] = "TeV"
    h["TELESCOP"] = "GAMMAX-SIM"
    h["CREATOR"] = CREATOR
    for key, value in (meta or {}).items():
        h[key] = value
    for key, value in spec.extra:
        h[key] = value
    return hdu


def gti_hdu(spec: ObservationSpec) -> fits.BinTableHDU:
    """The GTI HDU of an observation."""
    starts = np.array([a for a, _ in spec.gti], dtype=np.float64)
    stops = np.array([b for _, b in spec.gti], dtype=np.float64)
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="START", format="D", unit="s", array=starts),
            fits.Column(name="STOP", format="D", unit="s", array=stops),
        ],
        name="GTI",
    )
    _common(hdu, "GTI")
    hdu.header.update(_time_keywords(spec))
    hdu.header["OBS_ID"] = spec.obs_id
    return hdu


def _string_column(name: str, values: Sequence[str]) -> fits.Column:
    width = max([1, *(len(v) for v in values)])
    return fits.Column(name=name, format=f"{width}A", array=np.asarray(values, dtype=f"S{width}"))


def write_index_tables(
    root: str | os.PathLike,
    hdu_rows: Sequence[Mapping],
    obs_rows: Sequence[Mapping],
    *,
    mjdref: tuple[int, float],
    timesys: str,
    telescope: str = "GAMMAX-SIM",
) -> tuple[Path, Path]:
    """Write ``hdu-index.fits.gz`` and ``obs-index.fits.gz`` into ``root``.

    Parameters
    ----------
    root : path-like
        Archive directory.
    hdu_rows : sequence of mapping
        ``OBS_ID``, ``HDU_TYPE``, ``HDU_CLASS``, ``FILE_DIR``, ``FILE_NAME``,
        ``HDU_NAME``, and optionally ``SIZE`` (bytes).
    obs_rows : sequence of mapping
        One row per observation; every row has the same keys. Units are taken
        from :data:`OBS_UNITS`.
    mjdref, timesys
        Time reference of the ``TSTART``/``TSTOP`` columns.
    """
    root = Path(root)
    cols = []
    for name in ("HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"):
        cols.append(_string_column(name, [str(r[name]) for r in hdu_rows]))
    cols.insert(
        0,
        fits.Column(
            name="OBS_ID",
            format="K",
            array=np.array([int(r["OBS_ID"]) for r in hdu_rows], np.int64),
        ),
    )
    if hdu_rows and "SIZE" in hdu_rows[0]:
        cols.append(
            fits.Column(
                name="SIZE",
                format="K",
                unit="byte",
                array=np.array([int(r["SIZE"]) for r in hdu_rows], np.int64),
            )
        )
    hdu_index = fits.BinTableHDU.from_columns(cols, name="HDU_INDEX")
    _common(hdu_index, "INDEX")
    hdu_index.header["HDUCLAS2"] = "HDU"
    hdu_index.header["CREATOR"] = CREATOR

    cols = []
    keys = list(obs_rows[0]) if obs_rows else ["OBS_ID"]
    for key in keys:
        values = [r[key] for r in obs_rows]
        if all(isinstance(v, str) for v in values):
            cols.append(_string_column(key, values))
        elif all(isinstance(v, int | np.integer) for v in values):
            cols.append(fits.Column(name=key, format="K", array=np.array(values, np.int64)))
        else:
            cols.append(
                fits.Column(
                    name=key,
                    format="D",
                    unit=OBS_UNITS.get(key),
                    array=np.array(values, np.float64),
                )
            )
    obs_index = fits.BinTableHDU.from_columns(cols, name="OBS_INDEX")
    _common(obs_index, "INDEX")
    obs_index.header["HDUCLAS2"] = "OBS"
    obs_index.header.update(
        {
            "MJDREFI": int(mjdref[0]),
            "MJDREFF": float(mjdref[1]),
            "TIMEUNIT": "s",
            "TIMESYS": timesys,
            "TIMEREF": "LOCAL",
            "TELESCOP": telescope,
            "CREATOR": CREATOR,
        }
    )
    paths = (root / "hdu-index.fits.gz", root / "obs-index.fits.gz")
    write_hdulist(fits.HDUList([fits.PrimaryHDU(), hdu_index]), paths[0])
    write_hdulist(fits.HDUList([fits.PrimaryHDU(), obs_index]), paths[1])
    return paths
