"""An instrument for simulations: one set of IRFs (aeff, edisp, psf, bkg) as gammax Datasets.

An :class:`Instrument` is built from the analytic formulas
(:meth:`Instrument.analytic`) or read from a GADF IRF file such as the CTA
prod5 or 1DC response files (:meth:`Instrument.read`). Its IRFs are in-memory
Datasets in the layout of :func:`gammax.io.read_irf`; it pickles and tokenizes
deterministically, so it can be a dependency of dask tasks.

Examples
--------
>>> inst = Instrument.analytic(psf_sigma=0.05)
>>> inst.name, sorted(inst.irfs())
('analytic', ['aeff', 'bkg', 'edisp', 'psf'])
>>> cta = Instrument.read("Prod5-South-20deg-AverageAz-14MSTs37SSTs.180000s-v0.1.fits.gz")
... # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits

from ..errors import FormatError
from ..io.fits import open_fits
from ..io.gadf import IRF_SPECS, classify_header
from ..io.irf_table import read_irfs
from .analytic import AnalyticInstrument
from .dl3 import write_hdulist
from .irf_fits import DEFAULT_EXTNAMES, irf_to_hdu

__all__ = ["IRF_TYPES", "Instrument"]

#: HDU types of an instrument, in file order.
IRF_TYPES = ("aeff", "psf", "edisp", "bkg")


def _fingerprint(irfs: dict[str, xr.Dataset]) -> str:
    digest = hashlib.sha256()
    for key in sorted(irfs):
        ds = irfs[key]
        digest.update(key.encode())
        digest.update(str(ds.attrs.get("hdu_class")).encode())
        for name in sorted(ds.variables):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(ds[name].values).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Instrument:
    """IRFs of one instrument configuration.

    Parameters
    ----------
    aeff, edisp, psf : xarray.Dataset
        ``aeff_2d``, ``edisp_2d`` and a table or parametric PSF.
    bkg : xarray.Dataset, optional
        ``bkg_3d`` or ``bkg_2d`` (``FOVALIGN`` RADEC); without it no background
        events are simulated.
    name : str
        Label (file names, ``INSTRUME``).
    source : str, optional
        File the IRFs were read from.
    hdu_names : dict, optional
        HDU name of each IRF in ``source``.
    """

    aeff: xr.Dataset
    edisp: xr.Dataset
    psf: xr.Dataset
    bkg: xr.Dataset | None = None
    name: str = "instrument"
    source: str | None = None
    hdu_names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind, ds in self.irfs().items():
            hdu_class = ds.attrs.get("hdu_class")
            if hdu_class not in IRF_SPECS or IRF_SPECS[hdu_class].hdu_type != kind:
                raise FormatError(f"{kind}: expected a table IRF of that type, got {hdu_class!r}")
            object.__setattr__(self, kind, ds.load())
        if self.bkg is not None:
            align = str(self.bkg.attrs.get("fov_alignment", "RADEC")).upper()
            if align not in ("RADEC", "REVERSE_LON_RADEC"):
                raise FormatError(
                    f"background FOVALIGN={align!r}: only RA/Dec-aligned backgrounds can be "
                    "simulated (ALTAZ needs the horizontal pointing of every event time)"
                )
        object.__setattr__(self, "_token", _fingerprint(self.irfs()))

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def analytic(cls, params: AnalyticInstrument | None = None, **kwargs: Any) -> Instrument:
        """The built-in analytic instrument (see :mod:`gammax.simulate.analytic`).

        Parameters
        ----------
        params : AnalyticInstrument, optional
            Parameters; or give them as keyword arguments.
        """
        params = params or AnalyticInstrument(**kwargs)
        irfs = params.irfs()
        return cls(irfs["aeff"], irfs["edisp"], irfs["psf"], irfs["bkg"], name="analytic")

    @classmethod
    def read(cls, path: str | os.PathLike, *, name: str | None = None) -> Instrument:
        """All IRFs of a GADF IRF file (e.g. a CTA ``irf_file.fits`` or prod5 file).

        The HDUs are found by their ``HDUCLASn`` keywords; the first of each
        type wins.

        Raises
        ------
        gammax.errors.FormatError
            If the file lacks an effective area, energy dispersion or PSF.
        """
        path = Path(path)
        requests: dict[str, tuple[str, str]] = {}
        with open_fits(path) as hdul:
            for hdu in hdul[1:]:
                kind = classify_header(hdu.header)
                if kind and kind[0] in IRF_TYPES and kind[1] in IRF_SPECS:
                    requests.setdefault(kind[0], (hdu.name, kind[1]))
        missing = [t for t in ("aeff", "edisp", "psf") if t not in requests]
        if missing:
            raise FormatError(f"IRF file lacks {missing} HDU(s); found {requests}", file=path)
        irfs = read_irfs(path, requests)
        label = name or path.name.split(".fits")[0]
        return cls(
            irfs["aeff"],
            irfs["edisp"],
            irfs["psf"],
            irfs.get("bkg"),
            name=label,
            source=str(path.resolve()),
            hdu_names={k: v[0] for k, v in requests.items()},
        )

    # -- access -----------------------------------------------------------------------
    def irfs(self) -> dict[str, xr.Dataset]:
        """The IRFs by HDU type (``bkg`` only if present)."""
        out = {"aeff": self.aeff, "edisp": self.edisp, "psf": self.psf}
        if self.bkg is not None:
            out["bkg"] = self.bkg
        return out

    def hdu_name(self, kind: str) -> str:
        """HDU name of an IRF in files written by :meth:`to_hdulist`."""
        attrs = self.irfs()[kind].attrs
        return str(
            self.hdu_names.get(kind)
            or attrs.get("EXTNAME")
            or DEFAULT_EXTNAMES[str(attrs["hdu_class"])]
        )

    def hdu_index_rows(self) -> list[tuple[str, str, str]]:
        """``(hdu_type, hdu_class, hdu_name)`` of each IRF, for an HDU index."""
        return [(k, str(ds.attrs["hdu_class"]), self.hdu_name(k)) for k, ds in self.irfs().items()]

    @property
    def offset_max(self) -> float:
        """Largest offset of the effective-area table (deg)."""
        bounds = self.aeff[self.aeff["offset"].attrs["bounds"]]
        from ..units import parse_unit

        factor = float(parse_unit(self.aeff["offset"].attrs.get("units", "deg")).to("deg"))
        return float(np.max(bounds.values)) * factor

    @property
    def token(self) -> str:
        """sha256 of the IRF classes and values."""
        return self._token  # type: ignore[attr-defined]

    def __dask_tokenize__(self):
        return (type(self).__name__, self.name, self.token)

    def __repr__(self) -> str:
        classes = ", ".join(f"{k}={ds.attrs['hdu_class']}" for k, ds in self.irfs().items())
        return f"Instrument({self.name!r}: {classes})"

    # -- files ------------------------------------------------------------------------
    def to_hdulist(self) -> fits.HDUList:
        """The IRFs as GADF HDUs after an empty primary HDU."""
        hdus = [fits.PrimaryHDU()]
        for kind in IRF_TYPES:
            if kind in self.irfs():
                hdus.append(irf_to_hdu(self.irfs()[kind], self.hdu_name(kind)))
        return fits.HDUList(hdus)

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the IRF file (gzipped if the name ends in ``.gz``), reproducibly."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        write_hdulist(self.to_hdulist(), path)
        return path
