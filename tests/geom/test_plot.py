"""Plots: sky images on WCS axes, one panel per energy band, written to PNG."""

from __future__ import annotations

import numpy as np
import pytest

from gammax.errors import GeometryError
from gammax.geom import HpxGeom, MapAxis, WcsGeom
from gammax.geom.plot import _as_wcs_image, plot_map, quicklook

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_quicklook_has_one_panel_per_band_and_writes_png(tmp_path):
    geom = WcsGeom.create(
        skydir=(83.63, 22.01),
        npix=(30, 20),
        binsz=0.05,
        proj="TAN",
        axes=[MapAxis.from_energy_bounds("1 TeV", "100 TeV", 4)],
    )
    rng = np.random.default_rng(0)
    path = tmp_path / "ql.png"
    fig = quicklook(geom.wrap(rng.poisson(1.0, geom.shape), unit=""), path, ncols=3)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.images]
    assert len(panels) == 4
    assert all(ax.wcs is not None for ax in panels)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert "1-3.16 TeV" in panels[0].get_title()


def test_plot_map_uses_wcs_axes_and_rejects_cubes():
    geom = WcsGeom.create(npix=(10, 8), binsz=0.1, frame="galactic")
    ax = plot_map(geom.wrap(np.ones(geom.shape)))
    assert ax.coords[0].get_axislabel() == "Galactic longitude"
    cube = geom.to_cube([MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)]).empty()
    with pytest.raises(GeometryError, match="image"):
        plot_map(cube)


def test_healpix_maps_are_drawn_through_a_wcs_image(tmp_path):
    geom = HpxGeom(16, True, "galactic", "DISK(0,0,30)")
    _, lat = geom.pix_to_world(np.arange(geom.sky_shape[0]))
    m = geom.wrap(lat + 100.0)
    image = _as_wcs_image(m)
    values = image.values[np.isfinite(image.values)]
    assert values.size > 0.5 * geom.sky_shape[0]
    assert set(np.unique(values)) <= set(np.unique(lat + 100.0))
    path = tmp_path / "hpx.png"
    quicklook(m, path)
    assert path.read_bytes()[:8] == PNG_MAGIC
