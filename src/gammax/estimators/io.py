"""Flux points and light curves as tables: ``gadf-sed`` and ``lightcurve``, FITS or ECSV.

The tables are Gammapy's (``FluxPoints.to_table``): one row per energy bin
(``gadf-sed``) or per time bin with energy-vector cells (``lightcurve``),
columns ``e_ref``, ``e_min``, ``e_max`` (TeV), the SED quantities of the chosen
``sed_type`` (``likelihood``: the norms and the reference ``ref_dnde``,
``ref_flux``, ``ref_eflux``; ``dnde``, ``e2dnde``, ``flux``, ``eflux``: the
converted values in Gammapy's units), ``ts``, ``sqrt_ts``, ``npred``,
``npred_excess``, ``counts``, ``stat``, ``stat_null``, ``success``, ``is_ul``,
and the likelihood scans (``norm_scan``, ``stat_scan``). Meta: ``SED_TYPE``,
``UL_CONF``; light curves add ``MJDREFI``/``MJDREFF`` = 0, ``TIMESYS``,
``TIMEUNIT`` = ``d``. FITS files have the table in HDU ``FLUXPOINTS``, so
Gammapy's ``FluxPoints.read`` opens them (tested). The suffix chooses:
``.fits`` / ``.fits.gz`` or ``.ecsv``.

Results also round-trip through Zarr as they are (``ds.to_zarr`` /
``xr.open_zarr``): their attrs are JSON-able.

Examples
--------
>>> write_flux_points(fp, "crab_sed.fits", sed_type="e2dnde")   # doctest: +SKIP
>>> fp2 = read_flux_points("crab_sed.fits")                       # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, FormatError
from .core import DEFAULT_UNIT, sed_quantity

__all__ = [
    "read_flux_points",
    "read_light_curve",
    "to_table",
    "write_flux_points",
    "write_light_curve",
]

_SUFFIXES = ("_err", "_errn", "_errp", "_ul")
_COMMON = ("ts", "sqrt_ts", "npred", "npred_excess", "stat", "stat_null", "counts", "success")
_PER_DATASET = ("counts", "npred", "npred_excess")


def _ul_conf(n_sigma_ul: float) -> float:
    from scipy import stats

    return float(np.round(1 - 2 * stats.norm.sf(n_sigma_ul), 7))


def _sed_columns(fp: xr.Dataset, sed_type: str) -> dict[str, Any]:
    """SED columns (numpy arrays, leading dims as in ``fp``) with units."""
    cols: dict[str, Any] = {}
    if sed_type == "likelihood":
        for key in ("ref_dnde", "ref_flux", "ref_eflux"):
            cols[key] = u.Quantity(fp[key].values, fp[key].attrs["units"])
        for name in ["norm", *[f"norm{s}" for s in _SUFFIXES]]:
            if name in fp:
                cols[name] = np.asarray(fp[name].values, float)
        return cols
    if sed_type not in DEFAULT_UNIT or sed_type == "norm":
        raise ConfigError(
            f"sed_type {sed_type!r}: expected 'likelihood', 'dnde', 'e2dnde', 'flux' or 'eflux'"
        )
    for suffix in ("", *_SUFFIXES):
        if f"norm{suffix}" in fp:
            q = sed_quantity(fp, f"{sed_type}{suffix}")
            cols[f"{sed_type}{suffix}"] = u.Quantity(q.values, DEFAULT_UNIT[sed_type])
    return cols


def _energy_columns(fp: xr.Dataset) -> dict[str, u.Quantity]:
    unit = fp.energy_min.attrs.get("units", "TeV")
    return {
        name: u.Quantity(fp[f"energy_{name[2:]}"].values, unit).to("TeV")
        for name in ("e_ref", "e_min", "e_max")
    }


def _common_columns(fp: xr.Dataset) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for name in _COMMON:
        if name in fp:
            cols[name] = np.asarray(fp[name].values)
    if "stat_scan" in fp:
        lead = fp.stat_scan.shape[:-1]
        cols["norm_scan"] = np.broadcast_to(fp.norm_scan.values, (*lead, fp.sizes["norm_scan"]))
        cols["stat_scan"] = np.asarray(fp.stat_scan.values)
    if "is_ul" in fp and "norm_ul" in fp:
        cols["is_ul"] = np.asarray(fp.is_ul.values, bool)
    return cols


def _broadcast(value: Any, shape: tuple) -> Any:
    if isinstance(value, u.Quantity):
        return u.Quantity(np.broadcast_to(value.value, shape).copy(), value.unit)
    return np.broadcast_to(value, shape).copy()


def to_table(fp: xr.Dataset, sed_type: str = "likelihood", format: str | None = None) -> Any:
    """The Gammapy table of a flux-point or light-curve result.

    Parameters
    ----------
    fp : xarray.Dataset
        A :class:`~gammax.estimators.flux_points.FluxPointsEstimator` (dim
        ``energy``) or light-curve (dims ``time``, ``energy``) result.
    sed_type : {"likelihood", "dnde", "e2dnde", "flux", "eflux"}
        Quantities to write (``"norm"`` is accepted for ``"likelihood"``).
    format : {"gadf-sed", "lightcurve"}, optional
        Default: ``lightcurve`` if ``fp`` has a ``time`` dim, else ``gadf-sed``.
    """
    from astropy.table import Table

    sed_type = "likelihood" if sed_type == "norm" else sed_type
    has_time = D.TIME in fp.dims
    format = format or ("lightcurve" if has_time else "gadf-sed")
    if format == "gadf-sed" and has_time:
        raise ConfigError("a light curve (dim 'time') is written in format 'lightcurve'")
    if format == "lightcurve" and not has_time:
        raise ConfigError("format 'lightcurve' needs a result with a 'time' dim")
    if format not in ("gadf-sed", "lightcurve"):
        raise ConfigError(f"format {format!r}: expected 'gadf-sed' or 'lightcurve'")
    table = Table()
    if has_time:
        fp = fp.transpose(D.TIME, D.ENERGY, ...)
        table["time_min"] = np.asarray(fp.time_min.values, float)
        table["time_max"] = np.asarray(fp.time_max.values, float)
        n = fp.sizes[D.TIME]
        for name, q in _energy_columns(fp).items():
            table[name] = _broadcast(q, (n, q.size))
    else:
        for name, q in _energy_columns(fp).items():
            table[name] = q
    for name, value in {**_sed_columns(fp, sed_type), **_common_columns(fp)}.items():
        if has_time and np.ndim(value) == 1:  # e.g. ref_dnde: same in every time bin
            value = _broadcast(value, (fp.sizes[D.TIME], *np.shape(value)))
        table[name] = value
    table.meta["SED_TYPE"] = sed_type
    if "n_sigma_ul" in fp.attrs:
        table.meta["UL_CONF"] = _ul_conf(float(fp.attrs["n_sigma_ul"]))
    if has_time:
        table.meta.update(
            MJDREFI=0, MJDREFF=0.0, TIMESYS=fp.time_min.attrs.get("scale", "tt"), TIMEUNIT="d"
        )
    return table


def _write(table: Any, path: Path, overwrite: bool) -> None:
    from astropy.io import fits

    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    name = path.name.lower()
    if name.endswith((".fits", ".fits.gz", ".fit")):
        hdus = fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(table, name="FLUXPOINTS")])
        hdus.writeto(path, overwrite=overwrite)
    elif name.endswith(".ecsv"):
        table.write(path, format="ascii.ecsv", overwrite=overwrite)
    else:
        raise ConfigError(f"{path}: the suffix must be .fits, .fits.gz or .ecsv")


def write_flux_points(
    fp: xr.Dataset,
    path: Any,
    sed_type: str = "likelihood",
    format: str = "gadf-sed",
    overwrite: bool = False,
) -> Path:
    """Write flux points as a ``gadf-sed`` table (FITS or ECSV by the suffix)."""
    path = Path(path)
    table = to_table(fp, sed_type, format)
    if path.name.lower().endswith(".ecsv") and "reference_model" in fp.attrs:
        table.meta["reference_model"] = fp.attrs["reference_model"]
    _write(table, path, overwrite)
    return path


def write_light_curve(
    lc: xr.Dataset, path: Any, sed_type: str = "likelihood", overwrite: bool = False
) -> Path:
    """Write a light curve as a ``lightcurve`` table (FITS or ECSV by the suffix)."""
    return write_flux_points(lc, path, sed_type, "lightcurve", overwrite)


def _read_table(path: Path) -> Any:
    from astropy.io import fits
    from astropy.table import Table

    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.name.lower().endswith(".ecsv"):
        return Table.read(path, format="ascii.ecsv")
    try:
        with fits.open(path) as hdus:
            hdu = hdus["FLUXPOINTS"] if "FLUXPOINTS" in hdus else hdus[1]
            return Table.read(hdu)
    except (OSError, KeyError, IndexError) as err:
        raise FormatError(f"cannot read a flux-point table ({err})", file=path) from err


def _from_table(table: Any, path: Path) -> xr.Dataset:
    names = table.colnames
    sed_type = table.meta.get("SED_TYPE")
    if sed_type is None:
        raise FormatError("the table has no SED_TYPE in its meta", file=path)
    has_time = "time_min" in names
    lead = (D.TIME, D.ENERGY) if has_time else (D.ENERGY,)
    for col in ("e_min", "e_max"):
        if col not in names:
            raise FormatError(f"column {col!r} missing", file=path)

    def energy(col: str) -> np.ndarray:
        q = table[col].quantity.to_value("TeV")
        return np.asarray(q[0] if has_time else q, float)

    coords: dict[str, Any] = {}
    emin, emax = energy("e_min"), energy("e_max")
    eref = energy("e_ref") if "e_ref" in names else np.sqrt(emin * emax)
    for name, values in (("energy_min", emin), ("energy_max", emax), ("energy_ref", eref)):
        coords[name] = xr.DataArray(values, dims=(D.ENERGY,), attrs={"units": "TeV"})
    coords[D.ENERGY] = xr.DataArray(eref, dims=(D.ENERGY,), attrs={"units": "TeV"})
    if has_time:
        scale = str(table.meta.get("TIMESYS", "utc")).lower()
        for name in ("time_min", "time_max"):
            coords[name] = xr.DataArray(
                np.asarray(table[name], float), dims=(D.TIME,), attrs={"units": "d", "scale": scale}
            )
    data: dict[str, Any] = {}
    skip = {"e_ref", "e_min", "e_max", "time_min", "time_max", "norm_scan"}
    for name in names:
        if name in skip:
            continue
        col = table[name]
        values = np.asarray(col)
        if name.startswith("ref_") and has_time:
            values = values[0]
            dims: tuple = (D.ENERGY,)
        elif name in _PER_DATASET:
            dims = (*lead, "dataset")
            values = values.reshape(*values.shape[: len(lead)], -1)
        elif name == "stat_scan":
            dims = (*lead, "norm_scan")
        else:
            dims = lead if not name.startswith("ref_") else (D.ENERGY,)
        attrs = {"units": str(col.unit) if col.unit is not None else ""}
        data[name] = xr.Variable(dims, values, attrs)
    if "norm_scan" in names:
        scan = np.asarray(table["norm_scan"])
        coords["norm_scan"] = xr.DataArray(scan.reshape(-1, scan.shape[-1])[0], dims=("norm_scan",))
    ds = xr.Dataset(data, coords=coords)
    meta = {k.lower(): v for k, v in table.meta.items() if isinstance(v, str | int | float)}
    ds.attrs.update(meta)
    ds.attrs["sed_type_init"] = sed_type
    if "UL_CONF" in table.meta:
        from scipy import stats

        ds.attrs["n_sigma_ul"] = float(
            np.round(stats.norm.isf(0.5 * (1 - table.meta["UL_CONF"])), 1)
        )
    return ds


def read_flux_points(path: Any) -> xr.Dataset:
    """Read a ``gadf-sed`` (or ``lightcurve``) table written by gammax or Gammapy.

    Returns a Dataset with the table's quantities on dim ``energy`` (and
    ``time``), coords ``energy_min``/``energy_max``/``energy_ref`` in TeV
    (``time_min``/``time_max`` in MJD), attrs ``sed_type_init`` and the meta.
    """
    path = Path(path)
    return _from_table(_read_table(path), path)


def read_light_curve(path: Any) -> xr.Dataset:
    """Read a ``lightcurve`` table (see :func:`read_flux_points`)."""
    ds = read_flux_points(path)
    if D.TIME not in ds.dims:
        raise FormatError("not a light curve: no time_min/time_max columns", file=path)
    return ds
