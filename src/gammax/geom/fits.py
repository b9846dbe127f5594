"""GADF FITS map formats, both ways: WCS images with a BANDS table, HEALPix tables.

Layouts (as written and read by Gammapy's ``Map.write``/``Map.read``):

- **WCS**: an image HDU (``PRIMARY`` by default) whose header holds the
  celestial WCS, ``WCSSHAPE``, ``BUNIT``, ``META`` (JSON of the attributes) and
  ``BANDSHDU`` naming the BANDS table; data ``(axes..., NAXIS2, NAXIS1)``.
- **HEALPix**: a binary table (``SKYMAP``) with ``PIXTYPE='HEALPIX'``,
  ``ORDERING``, ``NSIDE``, ``COORDSYS``, ``INDXSCHM`` (``IMPLICIT`` all-sky,
  ``EXPLICIT`` partial with a ``PIX`` column of global indices, ``SPARSE``
  read only) and one ``CHANNEL<n>`` column per image plane.
- **BANDS**: one row per image plane (``CHANNEL``) and, per non-spatial axis,
  centre/min/max columns; ``AXCOLS<i>`` and ``INTERP<i>`` describe axis ``i``.
  Gammapy's axis 1 is the innermost non-spatial dim, so gammax's axes are
  Gammapy's in reverse order.

Data keep their dtype (float64 stays float64), so a FITS -> xarray -> Zarr ->
FITS round trip is exact. Booleans are written as 8-bit integers (``GXBOOL``).

Examples
--------
>>> import numpy as np, tempfile, os
>>> from gammax.geom import MapAxis, WcsGeom
>>> geom = WcsGeom.create(npix=(4, 3), binsz=0.1,
...                       axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)])
>>> m = geom.wrap(np.arange(24.0).reshape(2, 3, 4), unit="cm-2 s-1")
>>> path = os.path.join(tempfile.mkdtemp(), "map.fits")
>>> write_map(m, path)
>>> back = read_map(path)
>>> bool((back == m).all()), back.gx.geom == geom, back.gx.unit == m.gx.unit
(True, True, True)
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.table import Table

from .. import dims as _dims
from ..errors import FormatError, GeometryError
from ..units import parse_unit, unit_string
from .accessor import geom_of
from .axes import LabelAxis, MapAxis, TimeAxis
from .base import Geom
from .hpx import HpxGeom
from .wcs import WcsGeom

__all__ = ["read_map", "write_map"]

_COLUMN_FORMATS = {"f8": "D", "f4": "E", "i8": "K", "i4": "J", "i2": "I", "u1": "B", "b1": "L"}
_COORDSYS = {"icrs": "CEL", "fk5": "CEL", "galactic": "GAL"}


# -- BANDS table -----------------------------------------------------------------------------
def _axis_columns(axis) -> list[str]:
    name = axis.name.upper()
    if isinstance(axis, LabelAxis):
        return [name]
    if isinstance(axis, MapAxis) and axis.node_type == "center":
        return [name]
    if axis.name == _dims.ENERGY:
        return ["E_MIN", "E_MAX"]
    return [f"{name}_MIN", f"{name}_MAX"]


def _bands_hdu(geom: Geom, name: str) -> fits.BinTableHDU:
    gp_axes = list(reversed(geom.axes))  # Gammapy order: innermost first
    table = Table()
    table["CHANNEL"] = np.arange(int(np.prod([a.nbin for a in gp_axes])))
    ctr = np.meshgrid(*[np.asarray(a.center) for a in gp_axes])
    meta: dict[str, Any] = {}
    for i, axis in enumerate(gp_axes):
        upper = axis.name.upper()
        if isinstance(axis, LabelAxis):
            table[upper] = np.ravel(ctr[i]).astype(str)
        else:
            lo = np.meshgrid(*[_edges_min(a) for a in gp_axes])[i]
            hi = np.meshgrid(*[_edges_max(a) for a in gp_axes])[i]
            unit = parse_unit(axis.unit)
            names = (
                ["ENERGY", "E_MIN", "E_MAX"]
                if axis.name == _dims.ENERGY
                else [upper, f"{upper}_MIN", f"{upper}_MAX"]
            )
            for colname, values in zip(names, (ctr[i], lo, hi), strict=True):
                table[colname] = np.ravel(values).astype(float) * unit
        meta[f"AXCOLS{i + 1}"] = ",".join(_axis_columns(axis))
        if isinstance(axis, MapAxis):
            meta[f"INTERP{i + 1}"] = axis.interp
        elif isinstance(axis, TimeAxis):
            meta[f"INTERP{i + 1}"] = "lin"
            meta["MJDREFI"], meta["MJDREFF"] = axis.reference_mjd
            meta["TIMESYS"] = axis.scale
    hdu = fits.BinTableHDU(table, name=name)
    for key, value in meta.items():
        hdu.header[key] = value
    return hdu


def _edges_min(axis) -> np.ndarray:
    if isinstance(axis, TimeAxis):
        return np.asarray(axis.edges_min)
    if isinstance(axis, LabelAxis):
        return np.zeros(axis.nbin)
    return np.asarray(axis.edges_min)


def _edges_max(axis) -> np.ndarray:
    if isinstance(axis, TimeAxis):
        return np.asarray(axis.edges_max)
    if isinstance(axis, LabelAxis):
        return np.zeros(axis.nbin)
    return np.asarray(axis.edges_max)


def _axes_from_bands(hdu: fits.BinTableHDU | None, path: Any) -> tuple:
    """Gammax axes (outermost first) from a GADF BANDS table."""
    if hdu is None:
        return ()
    header, data = hdu.header, hdu.data
    names = [n.upper() for n in hdu.columns.names]
    if "AXCOLS1" not in header:
        # Fermi-LAT conventions: EBOUNDS (counts cubes) and ENERGIES (model/exposure cubes)
        if "E_MIN" in names and "E_MAX" in names:
            unit = hdu.columns["E_MIN"].unit or "keV"
            edges = np.append(np.asarray(data["E_MIN"], float), float(data["E_MAX"][-1]))
            return (MapAxis(_dims.ENERGY, tuple(edges), unit_string(unit), "log"),)
        if "ENERGY" in names:
            col = hdu.columns.names[names.index("ENERGY")]
            unit = hdu.columns[col].unit or "MeV"
            return (
                MapAxis(
                    _dims.ENERGY_TRUE,
                    tuple(np.asarray(data[col], float)),
                    unit_string(unit),
                    "log",
                    "center",
                ),
            )
        raise FormatError(
            "bands table has no AXCOLS1, E_MIN/E_MAX or ENERGY columns", file=path, hdu=hdu.name
        )
    axes = []
    for idx in range(1, 10):
        axcols = header.get(f"AXCOLS{idx}")
        if axcols is None:
            break
        cols = [c.strip() for c in axcols.split(",")]
        first = cols[0]
        column = hdu.columns[first]
        unit = unit_string(column.unit or "")
        if first == "E_MIN":
            name = _dims.ENERGY
        else:
            name = first.replace("_MIN", "").lower()
            name = _dims.RAD if name == "theta" else name
        interp = header.get(f"INTERP{idx}", "lin")
        values = data[first]
        if values.dtype.kind in "SU":
            axes.append(LabelAxis(name, tuple(dict.fromkeys(values.astype(str).tolist()))))
            continue
        if len(cols) == 1:
            axes.append(MapAxis(name, tuple(np.unique(values)), unit, interp, "center"))
            continue
        lo, hi = np.unique(values), np.unique(data[cols[1]])
        if name == _dims.TIME and "MJDREFI" in header:
            axes.append(
                TimeAxis(
                    tuple(lo),
                    tuple(hi),
                    unit or "s",
                    (int(header["MJDREFI"]), float(header["MJDREFF"])),
                    str(header.get("TIMESYS", "tt")).lower(),
                    name,
                )
            )
            continue
        if not np.allclose(lo[1:], hi[:-1], rtol=1e-10, atol=0):
            raise FormatError(f"axis {name!r} bins are not contiguous", file=path, hdu=hdu.name)
        edges = np.append(lo, hi[-1])
        axes.append(MapAxis(name, tuple(edges), unit, interp, "edges"))
    return tuple(reversed(axes))


# -- writing --------------------------------------------------------------------------------
def _meta_json(attrs: dict[str, Any]) -> str:
    meta = {k: v for k, v in attrs.items() if k != "units"}
    try:
        return json.dumps(meta)
    except TypeError:
        return json.dumps({k: v for k, v in meta.items() if isinstance(v, str | int | float)})


def _native(data: np.ndarray) -> np.ndarray:
    return data.astype(data.dtype.newbyteorder("="), copy=False)


def write_map(
    da: xr.DataArray,
    path: str | os.PathLike,
    hdu: str | None = None,
    hdu_bands: str | None = None,
    overwrite: bool = False,
) -> None:
    """Write a map to a GADF FITS file (computes dask-backed maps).

    Parameters
    ----------
    da : DataArray
        WCS or HEALPix map.
    path : path-like
        Output file.
    hdu : str, optional
        Data HDU name; default ``PRIMARY`` (WCS) or ``SKYMAP`` (HEALPix).
    hdu_bands : str, optional
        BANDS HDU name; default ``<hdu>_BANDS``.
    overwrite : bool
        Replace an existing file.
    """
    geom = geom_of(da)
    data = np.asarray(da.values)
    is_bool = data.dtype == bool
    unit = da.attrs.get("units", "")
    if isinstance(geom, WcsGeom):
        hdu = "PRIMARY" if hdu is None else hdu.upper()
    elif isinstance(geom, HpxGeom):
        hdu = "SKYMAP" if hdu is None else hdu.upper()
    else:
        raise GeometryError(f"FITS map formats hold WCS or HEALPix maps, not {type(geom)!r}")
    hdu_bands = f"{hdu}_BANDS" if hdu_bands is None else hdu_bands.upper()

    if isinstance(geom, WcsGeom):
        header = fits.Header()
        for key, value in geom.cards:
            header[key] = value
        shape = ",".join(str(n) for n in (*geom.npix, *[a.nbin for a in reversed(geom.axes)]))
        header["WCSSHAPE"] = f"({shape})"
        for key, value in _bands_hdu(geom, hdu_bands).header.items():
            if key.startswith(("AXCOLS", "INTERP")):  # Gammapy repeats them here
                header[key] = value
        out_data = data.astype(np.uint8) if is_bool else data
        main = (
            fits.PrimaryHDU(out_data, header=header)
            if hdu == "PRIMARY"
            else fits.ImageHDU(out_data, header=header, name=hdu)
        )
    else:
        header = _hpx_header(geom)
        cols = []
        if not geom.is_allsky:
            pix_format = "K" if geom.npix_max >= 2**31 else "J"
            cols.append(fits.Column("PIX", pix_format, array=geom.ipix))
        planes = data.reshape(-1, data.shape[-1])
        fmt = _COLUMN_FORMATS.get(data.dtype.str[1:], "D")
        for i, plane in enumerate(planes):
            cols.append(fits.Column(f"CHANNEL{i + 1}", fmt, array=plane))
        main = fits.BinTableHDU.from_columns(cols, header=header, name=hdu)
    if geom.axes:
        main.header["BANDSHDU"] = hdu_bands
    main.header["BUNIT"] = parse_unit(unit).to_string("fits") if unit else ""
    main.header["META"] = _meta_json(dict(da.attrs))
    if is_bool:
        main.header["GXBOOL"] = (True, "data are booleans stored as integers")
    hdus = [main] if hdu == "PRIMARY" else [fits.PrimaryHDU(), main]
    if geom.axes:
        hdus.append(_bands_hdu(geom, hdu_bands))
    fits.HDUList(hdus).writeto(path, overwrite=overwrite)


def _hpx_header(geom: HpxGeom) -> fits.Header:
    header = fits.Header()
    header["PIXTYPE"] = "HEALPIX"
    header["ORDERING"] = "NESTED" if geom.nest else "RING"
    header["INDXSCHM"] = "IMPLICIT" if geom.is_allsky else "EXPLICIT"
    header["ORDER"] = int(np.log2(geom.nside))
    header["NSIDE"] = geom.nside
    header["FIRSTPIX"] = 0
    header["LASTPIX"] = geom.npix_max - 1
    header["HPX_CONV"] = "GADF"
    header["COORDSYS"] = _COORDSYS[geom.frame]
    if geom.frame != "galactic":
        header["EQUINOX"] = 2000.0
    if geom.region and geom.pixels is None:
        header["HPX_REG"] = geom.region
    return header


# -- reading --------------------------------------------------------------------------------
def _find_data_hdu(hdul: fits.HDUList, hdu: str | int | None, path: Any):
    if hdu is not None:
        try:
            return hdul[hdu]
        except KeyError as err:
            from ..errors import HDUNotFoundError

            names = [h.name for h in hdul]
            raise HDUNotFoundError(f"no HDU {hdu!r}; HDUs are {names}", file=path, hdu=hdu) from err
    for h in hdul:
        if h.header.get("PIXTYPE") == "HEALPIX":
            return h
        if isinstance(h, fits.PrimaryHDU | fits.ImageHDU) and h.header.get("NAXIS", 0) >= 2:
            return h
    raise FormatError("no WCS image or HEALPix table found", file=path)


def read_map(
    path: str | os.PathLike,
    hdu: str | int | None = None,
    hdu_bands: str | None = None,
    chunks: Any = None,
) -> xr.DataArray:
    """Read a GADF FITS map (WCS or HEALPix) written by gammax or Gammapy.

    Parameters
    ----------
    path : path-like
        FITS file.
    hdu : str or int, optional
        Data HDU; default the first image with data or HEALPix table.
    hdu_bands : str, optional
        BANDS HDU; default from the ``BANDSHDU`` keyword.
    chunks : optional
        If given, return a dask-backed map with these chunks.
    """
    with fits.open(path, memmap=False) as hdul:
        main = _find_data_hdu(hdul, hdu, path)
        header = main.header
        bands_name = hdu_bands or header.get("BANDSHDU")
        if bands_name is None:
            bands_name = next((n for n in ("EBOUNDS", "ENERGIES") if n in hdul), None)
        bands = hdul[bands_name] if bands_name and bands_name in hdul else None
        axes = _axes_from_bands(bands, path)
        if header.get("PIXTYPE") == "HEALPIX":
            geom, data = _read_hpx(main, axes, path)
        else:
            npix = None
            if "WCSSHAPE" in header:
                shape = [int(v) for v in header["WCSSHAPE"].strip("()").split(",")]
                npix = (shape[0], shape[1])
            geom = WcsGeom.from_header(header, npix=npix, axes=axes)
            data = _native(np.asarray(main.data))
            if data.shape != geom.shape:
                raise FormatError(
                    f"image shape {data.shape} does not match the geometry {geom.shape}",
                    file=path,
                    hdu=main.name,
                )
        unit = header.get("BUNIT", "")
        try:
            attrs = json.loads(header.get("META", "{}"))
        except json.JSONDecodeError:
            attrs = {}
        if header.get("GXBOOL") or "mask" in main.name.lower():
            data = data.astype(bool)
    if chunks is not None:
        import dask.array as dsa

        data = dsa.from_array(data, chunks=chunks)
    name = None if main.name in ("PRIMARY", "SKYMAP") else main.name.lower()
    return geom.wrap(data, unit=unit_string(unit), name=name, attrs=attrs)


def _read_hpx(main: fits.BinTableHDU, axes: tuple, path: Any):
    header = main.header
    ordering = header.get("ORDERING", "RING").upper()
    if ordering not in ("RING", "NESTED"):
        raise FormatError(f"ORDERING {ordering!r} is not RING or NESTED", file=path, hdu=main.name)
    nest = ordering == "NESTED"
    nside = int(header["NSIDE"]) if "NSIDE" in header else 2 ** int(header["ORDER"])
    coordsys = str(header.get("COORDSYS", "CEL")).upper()
    frame = {"CEL": "icrs", "C": "icrs", "GAL": "galactic", "G": "galactic"}.get(coordsys)
    if frame is None:
        raise FormatError(f"COORDSYS {coordsys!r} is not CEL or GAL", file=path, hdu=main.name)
    region = header.get("HPX_REG") or header.get("HPXREGION") or None
    scheme = str(header.get("INDXSCHM", "IMPLICIT")).upper()
    table = main.data
    names = table.columns.names
    nplanes = int(np.prod([a.nbin for a in axes])) if axes else 1
    if scheme == "SPARSE":
        geom = HpxGeom(nside, nest, frame, region, axes)
        data = np.zeros((nplanes, geom.sky_shape[0]), dtype=float)
        local = geom.global_to_local(np.asarray(table["PIX"]))
        chan = np.asarray(table["CHANNEL"]) if "CHANNEL" in names else np.zeros(len(local), int)
        data[chan, local] = table["VALUE"]
        return geom, data.reshape(geom.shape)
    pixels = np.asarray(table["PIX"], dtype=np.int64) if scheme == "EXPLICIT" else None
    geom = HpxGeom(nside, nest, frame, region, axes, pixels)
    if pixels is not None and not np.all(np.diff(pixels) > 0):
        order = np.argsort(pixels)
    else:
        order = None
    cols = [c for c in names if c.upper().startswith("CHANNEL")]
    if not cols:
        raise FormatError("HEALPix table has no CHANNEL columns", file=path, hdu=main.name)
    planes = np.stack([_native(np.asarray(table[c])) for c in cols])
    if order is not None:
        planes = planes[:, order]
    if planes.shape[0] != nplanes:
        raise FormatError(
            f"{planes.shape[0]} CHANNEL columns for {nplanes} planes", file=path, hdu=main.name
        )
    return geom, planes.reshape(geom.shape)
