"""Instrument response functions as xarray objects: pure, lazy evaluation and integration.

IRFs are :class:`xarray.Dataset` objects as read by
:meth:`gammax.DataStore.irf` or :func:`gammax.io.read_irf`. The functions here
evaluate them at arbitrary coordinates (DataArrays broadcast by dim name,
Quantities, numbers) without computing: with dask inputs or dask-backed IRFs
the results are lazy.
"""

from __future__ import annotations

from .aeff import evaluate_aeff
from .background import evaluate_background, integrate_background, integrate_loglog
from .edisp import edisp_kernel, evaluate_edisp
from .interpolate import EXTRAPOLATE_MODES, axis_edges, interpolate
from .maps import evaluate_map_irf, read_map_irf
from .psf import evaluate_psf, psf_containment, psf_containment_radius
from .rad_max import evaluate_rad_max

__all__ = [
    "EXTRAPOLATE_MODES",
    "axis_edges",
    "edisp_kernel",
    "evaluate",
    "evaluate_aeff",
    "evaluate_background",
    "evaluate_edisp",
    "evaluate_map_irf",
    "evaluate_psf",
    "evaluate_rad_max",
    "integrate_background",
    "integrate_loglog",
    "interpolate",
    "psf_containment",
    "psf_containment_radius",
    "read_map_irf",
]

_EVALUATORS = {
    "aeff": evaluate_aeff,
    "edisp": evaluate_edisp,
    "psf": evaluate_psf,
    "bkg": evaluate_background,
    "rad_max": evaluate_rad_max,
}


def evaluate(irf, **coords):
    """Evaluate any table IRF by its ``hdu_type``: ``evaluate(aeff, energy_true=..., offset=...)``.

    Keyword arguments are the coordinates and ``extrapolate``; see the specific
    functions (:func:`evaluate_aeff`, ...).
    """
    hdu_type = irf.attrs.get("hdu_type")
    if hdu_type not in _EVALUATORS:
        raise ValueError(f"cannot evaluate an IRF of hdu_type {hdu_type!r}")
    return _EVALUATORS[hdu_type](irf, **coords)
