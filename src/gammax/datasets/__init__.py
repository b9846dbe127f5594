"""Datasets: validated :class:`xarray.Dataset` schemas for fits, and their file formats.

Five types, with Gammapy's names, each a declared :class:`Schema` plus a thin
namespace of pure functions (no stateful dataset objects):

=========================  ==========================================================
``MapDataset``             counts / background / masks ``(energy, y, x)``, exposure
                           ``(energy_true, y, x)``, PSF and edisp maps on a coarse grid;
                           :meth:`MapDataset.from_zarr` opens a reduction store lazily
``MapDatasetOnOff``        ... with ``counts_off``, ``acceptance``, ``acceptance_off``
``SpectrumDataset``        1D counts, exposure on ``energy_true``, an edisp matrix
``SpectrumDatasetOnOff``   1D ON/OFF; :func:`read_ogip` / :func:`write_ogip`
``FluxPointsDataset``      differential flux points with errors and upper limits
=========================  ==========================================================

``ds.attrs["gammax_dataset"]`` names the type and ``ds.attrs["name"]`` the
dataset (models refer to it). Predicted counts, statistics and fits are in
:mod:`gammax.fit`.

Examples
--------
>>> from gammax.datasets import SCHEMAS
>>> print(SCHEMAS["SpectrumDatasetOnOff"].describe().splitlines()[1])
  counts('energy',) unit dimensionless (required)
"""

from __future__ import annotations

from .map import DatasetType, MapDataset, MapDatasetOnOff, fit_mask, irf_maps, poisson
from .ogip import read_ogip, write_ogip
from .schema import (
    IRF_GEOM,
    IRF_X,
    IRF_Y,
    KIND_ATTR,
    SCHEMAS,
    Schema,
    Variable,
    dataset_kind,
    validate,
)
from .spectrum import (
    FluxPointsDataset,
    SpectrumDataset,
    SpectrumDatasetOnOff,
    diagonal_edisp,
    energy_axis,
)

__all__ = [
    "IRF_GEOM",
    "IRF_X",
    "IRF_Y",
    "KIND_ATTR",
    "SCHEMAS",
    "DatasetType",
    "FluxPointsDataset",
    "MapDataset",
    "MapDatasetOnOff",
    "Schema",
    "SpectrumDataset",
    "SpectrumDatasetOnOff",
    "Variable",
    "dataset_kind",
    "diagonal_edisp",
    "energy_axis",
    "fit_mask",
    "irf_maps",
    "poisson",
    "read_ogip",
    "validate",
    "write_ogip",
]
