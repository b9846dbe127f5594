"""Sky geometries, axes and maps on xarray.

A map is an ``xr.DataArray`` with dims ``(non-spatial axes..., sky pixel dims)``
whose geometry travels in JSON-able coordinates (see :mod:`gammax.geom.base`);
``da.gx.geom`` gives it back. Importing this package registers the ``.gx``
accessors.

Examples
--------
>>> from gammax.geom import MapAxis, WcsGeom
>>> geom = WcsGeom.create(skydir=(0, 0), width=4, binsz=0.1, frame="galactic",
...                       axes=[MapAxis.from_energy_bounds("1 TeV", "100 TeV", 4)])
>>> counts = geom.empty(dtype="int64", name="counts")
>>> counts.gx.geom == geom
True
"""

from __future__ import annotations

from .accessor import GeomAccessor, GeomDatasetAccessor, add_bounds, geom_of
from .axes import LabelAxis, MapAxis, TimeAxis, axis_from_coordinate, axis_from_dict
from .base import GEOM_COORD, Geom, geom_from_dict
from .binning import bin_events, bin_pixels
from .convolve import convolve, smooth
from .fits import read_map, write_map
from .hpx import HpxGeom
from .interp import interp_to_geom, reproject_to_geom
from .masks import exclusion_mask, region_mask
from .ops import crop, cutout, downsample, pad, upsample
from .region import RegionGeom
from .wcs import WcsGeom

__all__ = [
    "GEOM_COORD",
    "Geom",
    "GeomAccessor",
    "GeomDatasetAccessor",
    "HpxGeom",
    "LabelAxis",
    "MapAxis",
    "RegionGeom",
    "TimeAxis",
    "WcsGeom",
    "add_bounds",
    "axis_from_coordinate",
    "axis_from_dict",
    "bin_events",
    "bin_pixels",
    "convolve",
    "crop",
    "cutout",
    "downsample",
    "exclusion_mask",
    "geom_from_dict",
    "geom_of",
    "interp_to_geom",
    "pad",
    "read_map",
    "region_mask",
    "reproject_to_geom",
    "smooth",
    "upsample",
    "write_map",
]
