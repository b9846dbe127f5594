"""Plotting maps: sky images on WCS axes and a one-panel-per-band quick look.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state), on
astropy's ``WCSAxes`` so the axes show sky coordinates. HEALPix maps are first
interpolated (nearest pixel) onto an all-sky or local ``CAR`` image.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from gammax.geom import MapAxis, WcsGeom
>>> geom = WcsGeom.create(npix=(20, 20), binsz=0.1,
...                       axes=[MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)])
>>> path = os.path.join(tempfile.mkdtemp(), "quicklook.png")
>>> fig = quicklook(geom.wrap(np.ones(geom.shape)), path)
>>> os.path.exists(path)
True
"""

from __future__ import annotations

import os
from itertools import pairwise
from typing import Any

import numpy as np
import xarray as xr

from ..errors import GeometryError
from .accessor import geom_of
from .hpx import HpxGeom
from .wcs import WcsGeom

__all__ = ["plot_map", "quicklook"]


def _as_wcs_image(da: xr.DataArray) -> xr.DataArray:
    geom = geom_of(da)
    if isinstance(geom, WcsGeom):
        return da
    if isinstance(geom, HpxGeom):
        from .interp import interp_to_geom

        binsz = geom.pixel_scales[0] / 2
        if geom.is_allsky:
            target = WcsGeom.create(
                binsz=binsz,
                frame=geom.frame,
                proj="AIT",
                axes=geom.axes,
                npix=(int(360 / binsz), int(180 / binsz)),
            )
        else:
            lon, lat = geom.pix_to_world(np.arange(geom.sky_shape[0]))
            from .sky import lonlat_to_unit, unit_to_lonlat

            x, y, z = lonlat_to_unit(lon, lat)
            clon, clat = unit_to_lonlat(x.mean(), y.mean(), z.mean())
            width = 2.2 * float(np.max(np.hypot((lon - clon + 180) % 360 - 180, lat - clat)))
            target = WcsGeom.create(
                skydir=(float(clon), float(clat)),
                width=width,
                binsz=binsz,
                frame=geom.frame,
                proj="CAR",
                axes=geom.axes,
            )
        return interp_to_geom(da, target, method="nearest", fill_value=np.nan)
    raise GeometryError(f"cannot plot a {type(geom).__name__} as a sky image")


def plot_map(
    da: xr.DataArray,
    ax: Any = None,
    fig: Any = None,
    add_cbar: bool = True,
    stretch: str = "linear",
    **kwargs: Any,
):
    """Plot a sky image (2-D map; sum cubes first) on WCS axes.

    Parameters
    ----------
    da : DataArray
        Image (WCS or HEALPix). Non-spatial dims must have been reduced.
    ax : WCSAxes, optional
        Axes to draw on; by default a new figure with one WCSAxes.
    fig : Figure, optional
        Figure for the new axes.
    add_cbar : bool
        Add a colour bar.
    stretch : {"linear", "sqrt", "log"}
        Colour stretch.
    **kwargs
        Passed to ``imshow``.

    Returns
    -------
    WCSAxes
        The axes.
    """
    from astropy.visualization import simple_norm
    from matplotlib.figure import Figure

    image = _as_wcs_image(da)
    geom = geom_of(image)
    if image.ndim != 2:
        raise GeometryError(
            f"plot_map needs an image, got dims {image.dims}; "
            "select or sum the non-spatial dims first"
        )
    data = np.asarray(image.values, dtype=float)
    if ax is None:
        fig = Figure(figsize=(6, 5)) if fig is None else fig
        ax = fig.add_subplot(projection=geom.wcs)
    finite = data[np.isfinite(data)]
    if "norm" not in kwargs and finite.size:
        kwargs["norm"] = simple_norm(
            finite, stretch=stretch, vmin=kwargs.pop("vmin", None), vmax=kwargs.pop("vmax", None)
        )
    kwargs.setdefault("cmap", "viridis")
    im = ax.imshow(data, origin="lower", interpolation="nearest", **kwargs)
    frame = geom.frame
    lon_label, lat_label = (
        ("Galactic longitude", "Galactic latitude")
        if frame == "galactic"
        else ("Right ascension", "Declination")
    )
    try:
        ax.coords[0].set_axislabel(lon_label)
        ax.coords[1].set_axislabel(lat_label)
        ax.coords[0].set_major_formatter("d.d")
        ax.coords[1].set_major_formatter("d.d")
    except (AttributeError, TypeError):
        ax.set_xlabel(lon_label)
        ax.set_ylabel(lat_label)
    if add_cbar:
        cbar = ax.figure.colorbar(im, ax=ax, shrink=0.8)
        unit = image.attrs.get("units", "")
        if unit:
            cbar.set_label(unit)
    return ax


def quicklook(
    da: xr.DataArray,
    path: str | os.PathLike | None = None,
    ncols: int = 3,
    stretch: str = "sqrt",
    dpi: int = 100,
):
    """One panel per band of the first non-spatial axis (others summed), to PNG.

    Parameters
    ----------
    da : DataArray
        Map (image or cube).
    path : path-like, optional
        PNG file to write.
    ncols : int
        Panels per row.
    stretch : str
        Colour stretch of every panel.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from matplotlib.figure import Figure

    geom = geom_of(da)
    image = _as_wcs_image(da)
    wgeom = geom_of(image)
    if not geom.axes:
        bands, labels = [image], [str(da.name or "")]
    else:
        first = geom.axes[0]
        rest = [a.name for a in geom.axes[1:]]
        reduced = image.sum(rest) if rest else image
        bands = [reduced.isel({first.name: i}) for i in range(first.nbin)]
        labels = _band_labels(first)
    nrows = int(np.ceil(len(bands) / ncols))
    ncols = min(ncols, len(bands))
    fig = Figure(figsize=(4.2 * ncols, 3.6 * nrows))
    for i, (band, label) in enumerate(zip(bands, labels, strict=True)):
        ax = fig.add_subplot(nrows, ncols, i + 1, projection=wgeom.to_image().wcs)
        band = wgeom.to_image().wrap(band.data, unit=image.attrs.get("units", ""))
        plot_map(band, ax=ax, stretch=stretch)
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    if path is not None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
        fig.savefig(path, dpi=dpi)
    return fig


def _band_labels(axis) -> list[str]:
    from .axes import LabelAxis, TimeAxis

    if isinstance(axis, LabelAxis):
        return list(axis.labels)
    if isinstance(axis, TimeAxis):
        return [
            f"{axis.name} {lo:.6g}-{hi:.6g} {axis.unit}"
            for lo, hi in zip(axis.edges_min, axis.edges_max, strict=True)
        ]
    edges = np.asarray(axis.edges)
    return [f"{axis.name} {lo:.3g}-{hi:.3g} {axis.unit}" for lo, hi in pairwise(edges)]
