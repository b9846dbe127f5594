"""Tiny, seeded synthetic GADF DL3 files for tests (written at run time, never committed)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

MJDREF = {
    "MJDREFI": 51910,
    "MJDREFF": 0.000742870370370241,
    "TIMESYS": "TT",
    "TIMEUNIT": "s",
    "TIMEREF": "LOCAL",
}


def events_hdu(
    obs_id: int,
    n: int = 100,
    seed: int = 0,
    drop: tuple[str, ...] = (),
    ra_pnt: float = 83.63,
    dec_pnt: float = 22.01,
    tstart: float = 1.0e8,
) -> fits.BinTableHDU:
    rng = np.random.default_rng(seed)
    table = Table()
    table["EVENT_ID"] = np.arange(n, dtype=np.int64) + obs_id * 10**6
    table["TIME"] = np.sort(rng.uniform(tstart, tstart + 1800.0, n))
    table["TIME"].unit = "s"
    table["RA"] = (ra_pnt + rng.normal(0, 1, n)).astype(np.float32)
    table["RA"].unit = "deg"
    table["DEC"] = (dec_pnt + rng.normal(0, 1, n)).astype(np.float32)
    table["DEC"].unit = "deg"
    table["ENERGY"] = rng.pareto(1.5, n).astype(np.float32) + np.float32(0.5)
    table["ENERGY"].unit = "TeV"
    table["MULTIP"] = rng.integers(2, 5, n).astype(np.int16)
    for name in drop:
        del table[name]
    hdu = fits.BinTableHDU(table, name="EVENTS")
    hdu.header.update(
        {
            "HDUCLASS": "GADF",
            "HDUCLAS1": "EVENTS",
            "OBS_ID": obs_id,
            "RA_PNT": ra_pnt,
            "DEC_PNT": dec_pnt,
            "ALT_PNT": 60.0,
            "AZ_PNT": 10.0,
            "OBJECT": "Crab Nebula",
            "TSTART": tstart,
            "TSTOP": tstart + 1800.0,
            "ONTIME": 1800.0,
            "LIVETIME": 1700.0,
            "DEADC": 1700.0 / 1800.0,
            **MJDREF,
        }
    )
    return hdu


def gti_hdu(tstart: float = 1.0e8) -> fits.BinTableHDU:
    table = Table({"START": [tstart, tstart + 1000.0], "STOP": [tstart + 900.0, tstart + 1800.0]})
    table["START"].unit = "s"
    table["STOP"].unit = "s"
    hdu = fits.BinTableHDU(table, name="GTI")
    hdu.header.update({"HDUCLASS": "GADF", "HDUCLAS1": "GTI", **MJDREF})
    return hdu


def aeff_hdu(nan: bool = False, clas4: str = "AEFF_2D") -> fits.BinTableHDU:
    e_edges = np.geomspace(0.1, 100, 9)
    theta_edges = np.linspace(0, 2.5, 6)
    e = np.sqrt(e_edges[:-1] * e_edges[1:])
    theta = 0.5 * (theta_edges[:-1] + theta_edges[1:])
    area = 1e5 * (1 - np.exp(-e / 0.5))[:, None] * np.exp(-(theta**2) / 4.0)[None, :]
    if nan:
        area[3, 2] = np.nan
    table = Table()
    table["ENERG_LO"] = [e_edges[:-1]] * 1
    table["ENERG_HI"] = [e_edges[1:]]
    table["THETA_LO"] = [theta_edges[:-1]]
    table["THETA_HI"] = [theta_edges[1:]]
    table["EFFAREA"] = [area.T]  # numpy (theta, energy) -> TDIM (ENERG, THETA)
    table["ENERG_LO"].unit = table["ENERG_HI"].unit = "TeV"
    table["THETA_LO"].unit = table["THETA_HI"].unit = "deg"
    table["EFFAREA"].unit = "m2"
    hdu = fits.BinTableHDU(table, name="AEFF")
    hdu.header.update(
        {
            "HDUCLASS": "GADF",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": "EFF_AREA",
            "HDUCLAS3": "FULL-ENCLOSURE",
            "HDUCLAS4": clas4,
            "LO_THRES": 0.3,
            "HI_THRES": 80.0,
        }
    )
    return hdu


def write_run(
    path: Path,
    obs_id: int,
    *,
    seed: int = 0,
    drop: tuple[str, ...] = (),
    nan_aeff: bool = False,
    n: int = 100,
    tstart: float = 1.0e8,
    ra_pnt: float = 83.63,
    dec_pnt: float = 22.01,
) -> Path:
    """One DL3 file with EVENTS, GTI and AEFF HDUs (gzipped if the name ends in .gz)."""
    hdul = fits.HDUList(
        [
            fits.PrimaryHDU(),
            events_hdu(
                obs_id, n=n, seed=seed, drop=drop, tstart=tstart, ra_pnt=ra_pnt, dec_pnt=dec_pnt
            ),
            gti_hdu(tstart),
            aeff_hdu(nan=nan_aeff),
        ]
    )
    hdul.writeto(path, overwrite=True)
    return path


def write_index(root: Path, rows: list[dict], obs_rows: list[dict], gz: bool = True) -> None:
    """HDU and observation index tables for ``rows`` (dicts of the HDU index columns)."""
    hdu_table = Table(
        rows=[
            (
                r["OBS_ID"],
                r["HDU_TYPE"],
                r["HDU_CLASS"],
                r.get("FILE_DIR", "."),
                r["FILE_NAME"],
                r["HDU_NAME"],
            )
            for r in rows
        ],
        names=("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"),
    )
    hdu_hdu = fits.BinTableHDU(hdu_table, name="HDU_INDEX")
    hdu_hdu.header.update({"HDUCLASS": "GADF", "HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"})
    obs_table = Table(rows=obs_rows)
    for col in ("RA_PNT", "DEC_PNT"):
        if col in obs_table.colnames:
            obs_table[col].unit = "deg"
    for col in ("TSTART", "TSTOP", "LIVETIME"):
        if col in obs_table.colnames:
            obs_table[col].unit = "s"
    obs_hdu = fits.BinTableHDU(obs_table, name="OBS_INDEX")
    obs_hdu.header.update({"HDUCLASS": "GADF", "HDUCLAS1": "INDEX", "HDUCLAS2": "OBS", **MJDREF})
    suffix = ".fits.gz" if gz else ".fits"
    fits.HDUList([fits.PrimaryHDU(), hdu_hdu]).writeto(root / f"hdu-index{suffix}", overwrite=True)
    fits.HDUList([fits.PrimaryHDU(), obs_hdu]).writeto(root / f"obs-index{suffix}", overwrite=True)


def run_rows(obs_id: int, file_name: str) -> list[dict]:
    return [
        {"OBS_ID": obs_id, "HDU_TYPE": t, "HDU_CLASS": c, "FILE_NAME": file_name, "HDU_NAME": h}
        for t, c, h in (
            ("events", "events", "EVENTS"),
            ("gti", "gti", "GTI"),
            ("aeff", "aeff_2d", "AEFF"),
        )
    ]


def make_store(root: Path, obs_ids=(1, 2, 3), gz: bool = True, **kwargs) -> Path:
    """A small synthetic data store with index tables."""
    root.mkdir(parents=True, exist_ok=True)
    rows, obs_rows = [], []
    for i, obs_id in enumerate(obs_ids):
        name = f"run_{obs_id:04d}.fits" + (".gz" if gz else "")
        tstart = 1.0e8 + 86400.0 * i
        write_run(root / name, obs_id, seed=obs_id, tstart=tstart, **kwargs)
        rows += run_rows(obs_id, name)
        obs_rows.append(
            {
                "OBS_ID": obs_id,
                "RA_PNT": 83.63 + i,
                "DEC_PNT": 22.01,
                "TSTART": tstart,
                "TSTOP": tstart + 1800.0,
                "LIVETIME": 1700.0,
                "OBJECT": "Crab Nebula" if i % 2 == 0 else "PKS 2155-304",
                "ZEN_PNT": 20.0 + 10 * i,
            }
        )
    write_index(root, rows, obs_rows, gz=gz)
    return root


def truncate_gzip(path: Path, fraction: float = 0.5) -> Path:
    """Cut a gzip file (created from ``path`` if it is not gzipped yet)."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        raw = gzip.compress(raw)
    path.write_bytes(raw[: int(len(raw) * fraction)])
    return path
