"""Figures of excess and TS maps: significance / TS images and the significance histogram.

Images are drawn on astropy ``WCSAxes`` by :func:`gammax.geom.plot_map`
(figures built without pyplot state). The histogram shows the significance of
the pixels outside the exclusion (the background-only pixels) with a Gaussian
fitted to them and the standard normal for reference: a well-modelled
background gives mean ~0 and width ~1.

Examples
--------
>>> import numpy as np
>>> from gammax.geom import WcsGeom
>>> noise = np.random.default_rng(0).normal(size=(30, 40))
>>> sig = WcsGeom.create(npix=(40, 30), binsz=0.05).wrap(noise)
>>> ax, fit = plot_significance_distribution(sig)
>>> bool(abs(fit["mean"]) < 0.1 and abs(fit["sigma"] - 1) < 0.1)
True
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError
from ..geom.plot import plot_map

__all__ = [
    "plot_significance_distribution",
    "plot_significance_map",
    "plot_ts_map",
    "significance_figure",
]


def _image(maps: xr.Dataset | xr.DataArray, name: str, energy_index: int | None) -> xr.DataArray:
    da = maps[name] if isinstance(maps, xr.Dataset) else maps
    if D.ENERGY in da.dims:
        if energy_index is None:
            if da.sizes[D.ENERGY] != 1:
                raise ConfigError(
                    f"{name} has {da.sizes[D.ENERGY]} energy bands: pass energy_index"
                )
            energy_index = 0
        da = da.isel({D.ENERGY: energy_index})
    return da


def plot_significance_map(
    maps: xr.Dataset | xr.DataArray,
    ax: Any = None,
    energy_index: int | None = None,
    vmin: float = -5.0,
    vmax: float = 10.0,
    cmap: str = "coolwarm",
    **kwargs: Any,
):
    """The ``sqrt_ts`` image of an excess or TS map result (diverging colours around 0).

    Returns the ``WCSAxes``; the colour bar is labelled ``sqrt(TS)``.
    """
    from matplotlib.colors import TwoSlopeNorm

    image = _image(maps, "sqrt_ts", energy_index)
    title = kwargs.pop("title", "Significance")
    norm = TwoSlopeNorm(vcenter=0.0, vmin=vmin, vmax=vmax)
    ax = plot_map(image, ax=ax, norm=norm, cmap=cmap, **kwargs)
    ax.images[-1].colorbar.set_label("significance (sqrt TS)")
    ax.set_title(title)
    return ax


def plot_ts_map(
    maps: xr.Dataset | xr.DataArray,
    ax: Any = None,
    energy_index: int | None = None,
    stretch: str = "sqrt",
    **kwargs: Any,
):
    """The ``ts`` image of a TS map result (``sqrt`` stretch), NaN pixels blank."""
    image = _image(maps, "ts", energy_index)
    image = image.clip(min=0)
    ax = plot_map(image, ax=ax, stretch=stretch, cmap=kwargs.pop("cmap", "inferno"), **kwargs)
    ax.images[-1].colorbar.set_label("TS")
    ax.set_title("TS")
    return ax


def _normal_fit(values: np.ndarray) -> dict[str, float]:
    from scipy.stats import norm

    mean, sigma = norm.fit(values)
    return {"mean": float(mean), "sigma": float(sigma), "n": int(values.size)}


def plot_significance_distribution(
    maps: xr.Dataset | xr.DataArray,
    exclusion: xr.DataArray | None = None,
    ax: Any = None,
    energy_index: int | None = None,
    bins: Any = None,
) -> tuple[Any, dict[str, float]]:
    """Histogram of the significance outside the exclusion, a fitted Gaussian and N(0, 1).

    Parameters
    ----------
    maps : Dataset or DataArray
        Result with ``sqrt_ts`` (or the significance image itself).
    exclusion : DataArray, optional
        Boolean image, True where **not excluded** (Gammapy's convention).
    ax : matplotlib Axes, optional
        Axes to draw on (a new figure otherwise).

    Returns
    -------
    (Axes, dict)
        The axes and the Gaussian fit (``mean``, ``sigma``, ``n`` pixels).
    """
    from matplotlib.figure import Figure
    from scipy.stats import norm

    image = _image(maps, "sqrt_ts", energy_index)
    values = np.asarray(image.values, float)
    keep = np.isfinite(values)
    if exclusion is not None:
        keep &= np.asarray(exclusion.values, bool)
    values = values[keep]
    if values.size < 10:
        raise ConfigError(f"only {values.size} finite pixels outside the exclusion: no histogram")
    fit = _normal_fit(values)
    if ax is None:
        ax = Figure(figsize=(6, 4)).add_subplot()
    if bins is None:
        bins = np.linspace(min(values.min(), -5), max(values.max(), 5), 61)
    ax.hist(values, bins=bins, density=True, histtype="step", color="k", label="pixels")
    grid = np.linspace(bins[0], bins[-1], 400)
    ax.plot(
        grid,
        norm.pdf(grid, fit["mean"], fit["sigma"]),
        color="C3",
        label=f"fit: mean {fit['mean']:.2f}, width {fit['sigma']:.2f}",
    )
    ax.plot(grid, norm.pdf(grid), ls="--", color="C0", label="N(0, 1)")
    ax.set_yscale("log")
    ax.set_ylim(0.5 / values.size, 1.0)
    ax.set_xlabel("significance")
    ax.set_ylabel("density")
    ax.legend(loc="upper right", fontsize="small")
    return ax, fit


def significance_figure(
    maps: xr.Dataset,
    path: str | os.PathLike | None = None,
    exclusion: xr.DataArray | None = None,
    energy_index: int | None = None,
):
    """Significance image and histogram side by side; written to ``path`` (PNG) if given."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5))
    geom = maps.sqrt_ts.gx.geom.to_image()
    ax_map = fig.add_subplot(1, 2, 1, projection=geom.wcs)
    plot_significance_map(maps, ax=ax_map, energy_index=energy_index)
    ax_hist = fig.add_subplot(1, 2, 2)
    plot_significance_distribution(maps, exclusion, ax=ax_hist, energy_index=energy_index)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
