"""Statistics, predicted counts, the parallel likelihood and fits.

- :mod:`~gammax.fit.stats`: ``cash``, ``cstat``, ``wstat`` (profiled
  background), ``chi2`` (Gammapy's definitions);
- :func:`npred`, :func:`npred_signal`, :func:`npred_background`: predicted
  counts as pure functions of (dataset, models, values); :func:`fake`: Poisson
  data from them;
- :class:`Likelihood`: ``-2 log L`` as a pure function of the factor vector,
  summed over dataset chunks that stay in memory (local threads or the workers
  of a ``distributed.Client``); only the vector travels per evaluation;
- :func:`fit` and :class:`FitResult`: iminuit (migrad, hesse, minos,
  mncontour) or scipy, covariance and correlation, profiles, confidence
  intervals and contours.

Examples
--------
>>> import numpy as np
>>> from gammax.fit import cash_sum
>>> cash_sum(np.array([3, 0]), np.array([2.5, 0.5]))  # doctest: +ELLIPSIS
0.50...
"""

from __future__ import annotations

from .core import fit
from .fake import fake
from .kernels import IrfArrays, containment_radius, edisp_kernel, psf_kernel
from .likelihood import ChunkGroup, ChunkSpec, Likelihood, make_specs
from .npred import dataset_models, npred, npred_background, npred_signal
from .optimize import BACKENDS, OptimizeOutput, finite_hessian, minimize
from .result import FitResult
from .stats import (
    STATISTICS,
    TRUNCATION_VALUE,
    cash,
    cash_sum,
    chi2,
    chi2_sum,
    cstat,
    cstat_sum,
    wstat,
    wstat_gof_terms,
    wstat_mu_bkg,
    wstat_sum,
)

__all__ = [
    "BACKENDS",
    "STATISTICS",
    "TRUNCATION_VALUE",
    "ChunkGroup",
    "ChunkSpec",
    "FitResult",
    "IrfArrays",
    "Likelihood",
    "OptimizeOutput",
    "cash",
    "cash_sum",
    "chi2",
    "chi2_sum",
    "containment_radius",
    "cstat",
    "cstat_sum",
    "dataset_models",
    "edisp_kernel",
    "fake",
    "finite_hessian",
    "fit",
    "make_specs",
    "minimize",
    "npred",
    "npred_background",
    "npred_signal",
    "psf_kernel",
    "wstat",
    "wstat_gof_terms",
    "wstat_mu_bkg",
    "wstat_sum",
]
