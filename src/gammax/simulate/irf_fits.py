"""Write IRF Datasets (the layout of :func:`gammax.io.read_irf`) as GADF FITS HDUs.

This is the inverse of :func:`gammax.io.read_irf` for table IRFs
(``aeff_2d``, ``edisp_2d``, ``psf_table``, ``psf_3gauss``, ``psf_king``,
``bkg_2d``, ``bkg_3d``, ``rad_max_2d``):

- each axis becomes a pair of ``<PREFIX>_LO`` / ``<PREFIX>_HI`` vector columns
  (``ENERG``, ``THETA``, ``MIGRA``, ``RAD``, ``DETX``, ``DETY``) from its CF
  bounds variable, in the axis unit;
- each value variable becomes one vector column whose ``TDIM`` lists the axes
  in the GADF order (e.g. ``(ENERG, THETA)``), i.e. a numpy array in the reversed
  order, as the specification and Gammapy's writers have it;
- the header gets ``HDUCLASS='GADF'``, ``HDUCLAS1..4``, ``FOVALIGN`` for
  backgrounds, ``LO_THRES``/``HI_THRES`` from the ``energy_threshold_*``
  attrs and every other FITS-like keyword found in ``attrs``.

Reading the result with :func:`gammax.io.read_irf` gives back the same axes
and values (bit for bit when the values are ``float32``, the default).

Examples
--------
>>> from gammax.simulate import AnalyticInstrument
>>> aeff = AnalyticInstrument().aeff()
>>> hdu = irf_to_hdu(aeff)
>>> hdu.name, hdu.header["HDUCLAS4"]
('EFFECTIVE AREA', 'AEFF_2D')
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import xarray as xr
from astropy.io import fits

from .. import dims as D
from ..errors import FormatError
from ..io.gadf import IRF_SPECS

__all__ = ["DEFAULT_EXTNAMES", "irf_to_hdu"]

#: HDU names Gammapy and the CTA files use for each IRF class.
DEFAULT_EXTNAMES: dict[str, str] = {
    "aeff_2d": "EFFECTIVE AREA",
    "edisp_2d": "ENERGY DISPERSION",
    "psf_table": "PSF_2D_TABLE",
    "psf_3gauss": "POINT SPREAD FUNCTION",
    "psf_king": "PSF_2D_KING",
    "bkg_2d": "BACKGROUND",
    "bkg_3d": "BACKGROUND",
    "rad_max_2d": "RAD_MAX",
}

_CLAS2 = {
    "aeff": "EFF_AREA",
    "edisp": "EDISP",
    "psf": "RPSF",
    "bkg": "BKG",
    "rad_max": "RAD_MAX",
}
_GADF_DOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
_KEYWORD = re.compile(r"^[A-Z0-9_-]{1,8}$")
# Keywords the writer sets itself (or that belong to the table layout).
_OWN = frozenset(
    {
        "EXTNAME",
        "HDUCLASS",
        "HDUDOC",
        "HDUVERS",
        "HDUCLAS1",
        "HDUCLAS2",
        "HDUCLAS3",
        "HDUCLAS4",
        "FOVALIGN",
        "LO_THRES",
        "HI_THRES",
        "RAD_MAX",
        "TDIM",
        "DATASUM",
        "CHECKSUM",
    }
)


def _fits_unit(unit: str) -> str:
    from ..units import parse_unit

    return parse_unit(unit).to_string("fits") if unit else ""


def _axis_edges(irf: xr.Dataset, dim: str) -> tuple[np.ndarray, np.ndarray]:
    bounds = np.asarray(irf[irf[dim].attrs.get("bounds", D.bounds_name(dim))].values, float)
    return bounds[:, 0], bounds[:, 1]


def _header_keywords(attrs: Mapping) -> dict:
    out = {}
    for key, value in attrs.items():
        if not isinstance(key, str) or not _KEYWORD.match(key) or key in _OWN:
            continue
        if isinstance(value, bool | int | float | str | np.integer | np.floating):
            out[key] = value.item() if isinstance(value, np.generic) else value
    return out


def irf_to_hdu(
    irf: xr.Dataset,
    name: str | None = None,
    *,
    dtype: np.dtype | type | str | None = np.float32,
) -> fits.BinTableHDU:
    """A GADF binary-table HDU holding an IRF Dataset.

    Parameters
    ----------
    irf : xarray.Dataset
        A table IRF in the layout :func:`gammax.io.read_irf` returns (its
        ``attrs["hdu_class"]`` says which).
    name : str, optional
        ``EXTNAME``; default :data:`DEFAULT_EXTNAMES` of the class.
    dtype : numpy dtype or None
        Type of the value columns (default ``float32``, as real GADF files);
        ``None`` keeps the Dataset's dtype. Axis columns are always ``float32``.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        One-row table with the axis and value columns and a GADF header.

    Raises
    ------
    gammax.errors.FormatError
        If the Dataset has no known ``hdu_class`` or lacks a variable of it.
    """
    hdu_class = irf.attrs.get("hdu_class")
    if hdu_class not in IRF_SPECS:
        raise FormatError(
            f"cannot write an IRF with hdu_class={hdu_class!r}; expected one of {sorted(IRF_SPECS)}"
        )
    spec = IRF_SPECS[hdu_class]
    columns = []
    for axis in spec.axes:
        lo, hi = _axis_edges(irf, axis.dim)
        unit = _fits_unit(irf[axis.dim].attrs.get("units", axis.default_unit))
        for suffix, values in (("LO", lo), ("HI", hi)):
            columns.append(
                fits.Column(
                    name=f"{axis.prefixes[0]}_{suffix}",
                    format=f"{values.size}E",
                    unit=unit or None,
                    array=values.astype(np.float32)[np.newaxis],
                )
            )
    lengths = [irf.sizes[a.dim] for a in spec.axes]
    tdim = "(" + ",".join(str(n) for n in lengths) + ")"
    for var, candidates in spec.data.items():
        if var not in irf:
            raise FormatError(f"{hdu_class} IRF lacks the variable {var!r}")
        da = irf[var].transpose(*spec.dims)
        values = np.asarray(da.values)
        if dtype is not None:
            values = values.astype(dtype)
        code = {np.dtype(np.float32): "E", np.dtype(np.float64): "D"}[values.dtype]
        columns.append(
            fits.Column(
                name=da.attrs.get("fits_column", candidates[0]),
                format=f"{values.size}{code}",
                unit=_fits_unit(da.attrs.get("units", "")) or None,
                dim=tdim,
                array=np.ascontiguousarray(values.T)[np.newaxis],
            )
        )
    hdu = fits.BinTableHDU.from_columns(
        columns, name=name or irf.attrs.get("EXTNAME") or DEFAULT_EXTNAMES[hdu_class]
    )
    header = hdu.header
    header["HDUCLASS"] = "GADF"
    header["HDUDOC"] = _GADF_DOC
    header["HDUVERS"] = "0.2"
    header["HDUCLAS1"] = "RESPONSE"
    header["HDUCLAS2"] = _CLAS2[spec.hdu_type]
    header["HDUCLAS3"] = "POINT-LIKE" if irf.attrs.get("is_pointlike") else "FULL-ENCLOSURE"
    header["HDUCLAS4"] = hdu_class.upper()
    if spec.hdu_type == "bkg":
        header["FOVALIGN"] = str(irf.attrs.get("fov_alignment", "RADEC"))
    for attr, key in (("energy_threshold_lo", "LO_THRES"), ("energy_threshold_hi", "HI_THRES")):
        if attr in irf.attrs:
            header[key] = (float(irf.attrs[attr]), "[TeV] safe energy threshold")
    if "rad_max" in irf.attrs and hdu_class != "rad_max_2d":
        header["RAD_MAX"] = (float(irf.attrs["rad_max"]), "[deg] direction cut")
    for key, value in _header_keywords(irf.attrs).items():
        if key not in header:
            header[key] = value
    return hdu
