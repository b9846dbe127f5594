"""OGIP spectra: PHA (+ BKG, ARF, RMF) files <-> spectrum datasets.

Reading follows the OGIP specifications (OGIP/92-007 for PHA, CAL/GEN/92-002
for ARF and RMF) and what Gammapy writes and reads:

- the PHA file's ``SPECTRUM`` HDU gives ``counts``, ``QUALITY`` (``mask_safe =
  QUALITY == 0``) and ``BACKSCAL`` (``acceptance``), as columns or keywords;
  ``EXPOSURE`` is the livetime; ``ANCRFILE``, ``RESPFILE`` and ``BACKFILE``
  name the other files, relative to the PHA file;
- the ARF's ``SPECRESP`` times the livetime is the exposure on the true-energy
  bins ``ENERG_LO``/``ENERG_HI``;
- the RMF's ``MATRIX`` (channel groups ``F_CHAN``/``N_CHAN``, first channel
  ``TLMIN`` of ``F_CHAN``, default 1) and ``EBOUNDS`` give ``edisp`` and the
  reconstructed-energy axis;
- the BKG file gives ``counts_off`` and ``acceptance_off`` (its ``BACKSCAL``).

``AREASCAL`` is read into ``attrs`` only if it is not 1 everywhere (as Gammapy,
it is not applied). Writing produces ``pha_obs<name>.fits``, ``arf_obs<name>.fits``,
``rmf_obs<name>.fits`` and ``bkg_obs<name>.fits`` (Gammapy's names), readable
by Gammapy's ``SpectrumDatasetOnOff.read``.

Examples
--------
>>> ds = read_ogip("joint-crab/spectra/hess/pha_obs23523.fits")  # doctest: +SKIP
>>> ds.attrs["gammax_dataset"], ds.attrs["name"]  # doctest: +SKIP
('SpectrumDatasetOnOff', '23523')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits

from .. import dims as D
from ..errors import DataFileNotFoundError, FormatError, HDUNotFoundError, MissingColumnError
from ..geom import MapAxis
from .schema import dataset_kind
from .spectrum import SpectrumDataset, SpectrumDatasetOnOff, energy_axis

__all__ = ["read_ogip", "write_ogip"]


def _open(path: Path) -> fits.HDUList:
    if not path.exists():
        raise DataFileNotFoundError("OGIP file not found", file=path)
    return fits.open(path, memmap=False)


def _hdu(hdul: fits.HDUList, name: str, path: Path) -> fits.BinTableHDU:
    if name not in hdul:
        raise HDUNotFoundError(
            f"no {name!r} HDU; HDUs are {[h.name for h in hdul]}", file=path, hdu=name
        )
    return hdul[name]


def _column_or_keyword(hdu, key: str, n: int, default: float | None, path: Path) -> np.ndarray:
    if key in hdu.columns.names:
        return np.asarray(hdu.data[key], dtype=float)
    if key in hdu.header:
        return np.full(n, float(hdu.header[key]))
    if default is None:
        raise MissingColumnError(f"neither a {key!r} column nor keyword", file=path, hdu=hdu.name)
    return np.full(n, default)


def _energy_edges(lo, hi, unit: str, path: Path, hdu: str) -> np.ndarray:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    if lo.size == 0 or not np.allclose(lo[1:], hi[:-1], rtol=1e-6):
        raise FormatError("energy bins are not contiguous", file=path, hdu=hdu)
    edges = np.append(lo, hi[-1]) * float(u.Unit(unit or "keV").to("TeV"))
    return edges


def _ebounds(hdu, path: Path) -> MapAxis:
    for key in ("E_MIN", "E_MAX"):
        if key not in hdu.columns.names:
            raise MissingColumnError(f"EBOUNDS lacks {key!r}", file=path, hdu=hdu.name)
    unit = hdu.columns["E_MIN"].unit or "keV"
    edges = _energy_edges(hdu.data["E_MIN"], hdu.data["E_MAX"], unit, path, hdu.name)
    return MapAxis.from_edges(edges, name=D.ENERGY, unit="TeV", interp="log")


def _read_spectrum(path: Path) -> dict[str, Any]:
    with _open(path) as hdul:
        hdu = _hdu(hdul, "SPECTRUM", path)
        if "COUNTS" not in hdu.columns.names:
            raise MissingColumnError(
                "SPECTRUM lacks 'COUNTS' (RATE spectra are not supported)",
                file=path,
                hdu="SPECTRUM",
            )
        counts = np.asarray(hdu.data["COUNTS"], dtype=float)
        n = counts.size
        out = {
            "counts": counts,
            "quality": _column_or_keyword(hdu, "QUALITY", n, 0.0, path),
            "backscal": _column_or_keyword(hdu, "BACKSCAL", n, 1.0, path),
            "areascal": _column_or_keyword(hdu, "AREASCAL", n, 1.0, path),
            "header": hdu.header.copy(),
            "ebounds": _ebounds(hdul["EBOUNDS"], path) if "EBOUNDS" in hdul else None,
        }
    return out


def _read_arf(path: Path) -> tuple[MapAxis, np.ndarray]:
    with _open(path) as hdul:
        hdu = _hdu(hdul, "SPECRESP", path)
        for key in ("ENERG_LO", "ENERG_HI", "SPECRESP"):
            if key not in hdu.columns.names:
                raise MissingColumnError(f"SPECRESP lacks {key!r}", file=path, hdu="SPECRESP")
        unit = hdu.columns["ENERG_LO"].unit or "keV"
        edges = _energy_edges(hdu.data["ENERG_LO"], hdu.data["ENERG_HI"], unit, path, "SPECRESP")
        area_unit = u.Unit(hdu.columns["SPECRESP"].unit or "cm2")
        area = np.asarray(hdu.data["SPECRESP"], float) * float(area_unit.to("m2"))
    axis = MapAxis.from_edges(edges, name=D.ENERGY_TRUE, unit="TeV", interp="log")
    return axis, area


def _read_rmf(path: Path) -> tuple[MapAxis, MapAxis, np.ndarray]:
    with _open(path) as hdul:
        name = "MATRIX" if "MATRIX" in hdul else "SPECRESP MATRIX"
        hdu = _hdu(hdul, name, path)
        ebounds = _ebounds(_hdu(hdul, "EBOUNDS", path), path)
        unit = hdu.columns["ENERG_LO"].unit or "keV"
        edges = _energy_edges(hdu.data["ENERG_LO"], hdu.data["ENERG_HI"], unit, path, name)
        nchan = int(hdu.header.get("DETCHANS", ebounds.nbin))
        col = hdu.columns.names.index("F_CHAN") + 1
        first = int(hdu.header.get(f"TLMIN{col}", 1))
        matrix = np.zeros((len(hdu.data), nchan))
        for i, row in enumerate(hdu.data):
            ngrp = int(row["N_GRP"])
            f_chan = np.atleast_1d(row["F_CHAN"])
            n_chan = np.atleast_1d(row["N_CHAN"])
            values = np.atleast_1d(row["MATRIX"])
            start = 0
            for k in range(ngrp):
                lo, nk = int(f_chan[k]) - first, int(n_chan[k])
                matrix[i, lo : lo + nk] = values[start : start + nk]
                start += nk
    true_axis = MapAxis.from_edges(edges, name=D.ENERGY_TRUE, unit="TeV", interp="log")
    return true_axis, ebounds, matrix


def _sibling(pha: Path, name: str) -> Path:
    path = Path(name.strip())
    return path if path.is_absolute() or path.exists() else pha.parent / path


def read_ogip(pha_path: str | os.PathLike, name: str | None = None) -> xr.Dataset:
    """Read an OGIP PHA file and the ARF, RMF and BKG files its header names.

    Returns a ``SpectrumDatasetOnOff`` if the header has ``BACKFILE``, else a
    ``SpectrumDataset`` (without background). The dataset name is ``name`` or
    the ``OBS_ID`` keyword (the file stem if there is none).

    Raises
    ------
    gammax.errors.DataFileNotFoundError, HDUNotFoundError, MissingColumnError, FormatError
        Naming the file and HDU.
    """
    pha_path = Path(pha_path)
    pha = _read_spectrum(pha_path)
    header = pha["header"]
    if "ANCRFILE" not in header or not str(header["ANCRFILE"]).strip():
        raise FormatError("PHA header has no ANCRFILE (the ARF)", file=pha_path, hdu="SPECTRUM")
    livetime = float(header.get("EXPOSURE", 1.0))
    energy_true, area = _read_arf(_sibling(pha_path, header["ANCRFILE"]))
    edisp = None
    energy = pha["ebounds"]
    if str(header.get("RESPFILE", "")).strip() not in ("", "NONE", "none"):
        true_rmf, energy, edisp = _read_rmf(_sibling(pha_path, header["RESPFILE"]))
        if not true_rmf.is_allclose(energy_true, rtol=1e-5):
            raise FormatError(
                "the RMF and ARF true-energy bins differ",
                file=_sibling(pha_path, header["RESPFILE"]),
            )
    if energy is None:
        raise FormatError("no EBOUNDS in the PHA file and no RMF", file=pha_path)
    if energy.nbin != pha["counts"].size:
        raise FormatError(
            f"{pha['counts'].size} channels but {energy.nbin} EBOUNDS bins", file=pha_path
        )
    if name is None:
        name = str(header["OBS_ID"]) if "OBS_ID" in header else pha_path.stem
    attrs: dict[str, Any] = {"livetime": livetime, "source": str(pha_path)}
    if not np.all(pha["areascal"] == 1):
        attrs["areascal"] = pha["areascal"].tolist()
    common = {
        "exposure": area * livetime,
        "energy": energy,
        "energy_true": energy_true,
        "edisp": edisp,
        "mask_safe": pha["quality"] == 0,
        "name": name,
        "attrs": attrs,
    }
    backfile = str(header.get("BACKFILE", "")).strip()
    if backfile in ("", "NONE", "none"):
        return SpectrumDataset.create(pha["counts"], **common)
    bkg = _read_spectrum(_sibling(pha_path, backfile))
    return SpectrumDatasetOnOff.create(
        pha["counts"],
        bkg["counts"],
        acceptance=pha["backscal"],
        acceptance_off=bkg["backscal"],
        **common,
    )


# -- writing -----------------------------------------------------------------------------


def _ebounds_hdu(axis: MapAxis) -> fits.BinTableHDU:
    kev = float(u.Unit(axis.unit).to("keV"))
    cols = [
        fits.Column("CHANNEL", "I", array=np.arange(axis.nbin)),
        fits.Column("E_MIN", "D", unit="keV", array=np.asarray(axis.edges_min) * kev),
        fits.Column("E_MAX", "D", unit="keV", array=np.asarray(axis.edges_max) * kev),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="EBOUNDS")
    hdu.header.update(
        {
            "HDUCLASS": "OGIP",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": "EBOUNDS",
            "CHANTYPE": "PHA",
            "DETCHANS": axis.nbin,
            "HDUVERS": "1.2.0",
        }
    )
    return hdu


def _spectrum_hdu(counts, quality, backscal, livetime, kind: str, files: dict) -> fits.BinTableHDU:
    n = counts.size
    cols = [
        fits.Column("CHANNEL", "I", array=np.arange(n)),
        fits.Column("COUNTS", "J", array=np.rint(counts).astype(np.int32)),
        fits.Column("QUALITY", "I", array=np.asarray(quality, np.int16)),
        fits.Column("BACKSCAL", "D", array=np.asarray(backscal, float)),
        fits.Column("AREASCAL", "D", array=np.ones(n)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="SPECTRUM")
    hdu.header.update(
        {
            "HDUCLASS": "OGIP",
            "HDUCLAS1": "SPECTRUM",
            "HDUCLAS2": kind,
            "HDUCLAS3": "COUNT",
            "HDUCLAS4": "TYPE:1",
            "CHANTYPE": "PHA",
            "DETCHANS": n,
            "POISSERR": True,
            "EXPOSURE": float(livetime),
            **files,
        }
    )
    return hdu


def _rmf_hdulist(edisp: np.ndarray, energy_true: MapAxis, energy: MapAxis) -> fits.HDUList:
    kev = float(u.Unit(energy_true.unit).to("keV"))
    n_grp, f_chan, n_chan, matrix = [], [], [], []
    for row in edisp:
        pos = np.nonzero(row)[0]
        groups = np.split(pos, np.nonzero(np.diff(pos) != 1)[0] + 1) if pos.size else []
        n_grp.append(max(len(groups), 1))
        f_chan.append(np.array([g[0] for g in groups] or [0], np.int32))
        n_chan.append(np.array([g.size for g in groups] or [0], np.int32))
        matrix.append(np.asarray(row[pos], np.float32))
    cols = [
        fits.Column("ENERG_LO", "E", unit="keV", array=np.asarray(energy_true.edges_min) * kev),
        fits.Column("ENERG_HI", "E", unit="keV", array=np.asarray(energy_true.edges_max) * kev),
        fits.Column("N_GRP", "I", array=np.asarray(n_grp, np.int16)),
        fits.Column("F_CHAN", "PJ()", array=np.array(f_chan, dtype=object)),
        fits.Column("N_CHAN", "PJ()", array=np.array(n_chan, dtype=object)),
        fits.Column("MATRIX", "PE()", array=np.array(matrix, dtype=object)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="MATRIX")
    hdu.header.update(
        {
            "HDUCLASS": "OGIP",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": "RSP_MATRIX",
            "CHANTYPE": "PHA",
            "DETCHANS": energy.nbin,
            "TLMIN4": 0,
        }
    )
    return fits.HDUList([fits.PrimaryHDU(), hdu, _ebounds_hdu(energy)])


def write_ogip(
    ds: xr.Dataset, directory: str | os.PathLike, overwrite: bool = False
) -> dict[str, Path]:
    """Write a spectrum dataset as OGIP files in ``directory``; return their paths.

    ``EXPOSURE`` is ``attrs["livetime"]`` (1 s if absent; the ARF then holds
    the exposure in ``cm2 s``). ``QUALITY`` is 0 where ``mask_safe`` (all 0
    without a mask).
    """
    kind = dataset_kind(ds)
    if kind not in ("SpectrumDataset", "SpectrumDatasetOnOff"):
        raise FormatError(f"OGIP holds spectrum datasets, not a {kind}")
    ds = ds.load()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = str(ds.attrs.get("name") or "0")
    paths = {k: directory / f"{k}_obs{name}.fits" for k in ("pha", "arf", "rmf", "bkg")}
    energy, energy_true = energy_axis(ds, D.ENERGY), energy_axis(ds, D.ENERGY_TRUE)
    livetime = float(ds.attrs.get("livetime", 1.0))
    n = energy.nbin
    quality = np.zeros(n, np.int16)
    if "mask_safe" in ds:
        quality = np.where(ds.mask_safe.values, 0, 1).astype(np.int16)
    files = {"ANCRFILE": paths["arf"].name, "RESPFILE": paths["rmf"].name}
    onoff = kind == "SpectrumDatasetOnOff"
    if onoff:
        files["BACKFILE"] = paths["bkg"].name
    backscal = ds.acceptance.values if onoff else np.ones(n)
    pha = _spectrum_hdu(ds.counts.values, quality, backscal, livetime, "TOTAL", files)
    pha.header["OBS_ID"] = name
    fits.HDUList([fits.PrimaryHDU(), pha, _ebounds_hdu(energy)]).writeto(
        paths["pha"], overwrite=overwrite
    )
    if onoff:
        bkg = _spectrum_hdu(
            ds.counts_off.values, quality, ds.acceptance_off.values, livetime, "BKG", {}
        )
        fits.HDUList([fits.PrimaryHDU(), bkg, _ebounds_hdu(energy)]).writeto(
            paths["bkg"], overwrite=overwrite
        )
    else:
        del paths["bkg"]
    kev = float(u.Unit(energy_true.unit).to("keV"))
    exposure_unit = u.Unit(ds.exposure.attrs.get("units", "m2 s"))
    area = ds.exposure.values * float(exposure_unit.to("cm2 s")) / livetime
    arf = fits.BinTableHDU.from_columns(
        [
            fits.Column("ENERG_LO", "D", unit="keV", array=np.asarray(energy_true.edges_min) * kev),
            fits.Column("ENERG_HI", "D", unit="keV", array=np.asarray(energy_true.edges_max) * kev),
            fits.Column("SPECRESP", "D", unit="cm2", array=area),
        ],
        name="SPECRESP",
    )
    arf.header.update({"HDUCLASS": "OGIP", "HDUCLAS1": "RESPONSE", "HDUCLAS2": "SPECRESP"})
    fits.HDUList([fits.PrimaryHDU(), arf]).writeto(paths["arf"], overwrite=overwrite)
    _rmf_hdulist(ds.edisp.values, energy_true, energy).writeto(paths["rmf"], overwrite=overwrite)
    return paths
