"""The fit: optimise the parallel likelihood, estimate the covariance, write back.

:func:`fit` builds a :class:`~gammax.fit.Likelihood` (chunks in memory,
locally or on a cluster), minimises it with iminuit or scipy, checks that
every source stayed inside the pixel boxes its chunks were built around
(re-anchoring and re-optimising if one moved further than the 0.1 deg margin,
as Gammapy updates its evaluators), estimates the covariance (iminuit HESSE,
or a finite-difference Hessian for scipy), and writes the best fit and the
covariance back into the models.

Examples
--------
>>> from gammax.fit import fit
>>> result = fit([dataset], models, backend="minuit")          # doctest: +SKIP
>>> print(result.summary())                                    # doctest: +SKIP
>>> from distributed import Client
>>> with Client(n_workers=2) as client:                        # doctest: +SKIP
...     result = fit(datasets, models, client=client)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ConfigError
from .likelihood import Likelihood
from .optimize import finite_hessian, minimize
from .result import FitResult

__all__ = ["fit"]


def _autoscale(models: Any) -> None:
    """Re-condition free parameters from their current values (Gammapy's ``autoscale``)."""
    free = set(models.free_parameter_names)
    for key, _, p in models.parameter_items():
        if key in free:
            p.autoscale()


def _start_errors(models: Any, space: Any) -> np.ndarray:
    out = []
    for key, scale in zip(space.free, space.scales, strict=True):
        p = models.parameter(key)
        err = p.error / scale if np.isfinite(p.error) and p.error > 0 else 1.0
        out.append(err if p.scale_transform == "lin" else 1.0)
    return np.array(out)


def fit(
    datasets: Sequence[xr.Dataset] | xr.Dataset,
    models: Any,
    backend: str = "minuit",
    client: Any = None,
    chunks: dict | None = None,
    covariance: bool = True,
    optimize_opts: dict | None = None,
    n_groups: int | None = None,
    max_reanchor: int = 3,
    mode: str = "actors",
    likelihood: Likelihood | None = None,
) -> FitResult:
    """Fit models to datasets (joint over all of them).

    Parameters
    ----------
    datasets : Dataset or sequence of Datasets
        gammax datasets of any types (unique names).
    models : Models
        Models; free parameters are fitted. Modified in place: best fit,
        errors and covariance are written back.
    backend : {"minuit", "scipy"}
        Optimizer.
    client : distributed.Client, optional
        Evaluate the likelihood on this cluster (data stay on the workers).
    chunks : dict, optional
        Split map datasets into blocks (``{"y": 100}``, see :class:`Likelihood`).
    covariance : bool
        Estimate the covariance (HESSE for iminuit).
    optimize_opts : dict, optional
        Backend options (iminuit ``tol``, ``strategy``; scipy ``method``...).
    n_groups : int, optional
        Chunk groups (default: workers or CPUs).
    mode : {"actors", "tasks"}
        How groups live on a cluster (see :class:`Likelihood`).
    likelihood : Likelihood, optional
        A likelihood already built for these datasets and models (at their
        current values): re-used instead of building one.
    max_reanchor : int
        How many times sources that moved out of their boxes are re-anchored.

    Returns
    -------
    FitResult
        Keeps the likelihood alive for profiles: close it when done.
    """
    from ..models import Models

    models = models if isinstance(models, Models) else Models(models)
    _autoscale(models)
    opts = dict(optimize_opts or {})
    nfev = 0
    for attempt in range(max_reanchor + 1):
        if likelihood is not None and attempt == 0:
            like = likelihood
            if like.space.free != models.free_parameter_names or not np.array_equal(
                like.x0, models.free_vector()
            ):
                raise ConfigError("the likelihood was built for other models or values")
        else:
            like = Likelihood(
                datasets, models, client=client, chunks=chunks, n_groups=n_groups, mode=mode
            )
        space = like.space
        bounds = list(zip(space.factor_min, space.factor_max, strict=True))
        out = minimize(
            like, like.x0, space.free, backend, _start_errors(models, space), bounds, **dict(opts)
        )
        nfev += out.nfev
        models.set_free_vector(out.x)
        if attempt == max_reanchor or like.in_reach(out.x):
            break
        like.close()
    n = len(space.free)
    cov = np.full((n, n), np.nan)
    if covariance:
        before = like.n_evaluations
        if backend == "minuit":
            m = out.minuit
            m.hesse()
            if m.covariance is not None:
                cov = np.array(m.covariance)
        else:
            steps = _start_errors(models, space)
            for _ in range(2):  # second pass with steps of the estimated errors
                try:
                    cov = 2.0 * np.linalg.inv(finite_hessian(like, out.x, steps))
                except np.linalg.LinAlgError:
                    break
                diag = np.diag(cov)
                if not np.all(np.isfinite(diag) & (diag > 0)):
                    break
                steps = np.sqrt(diag)
        nfev += like.n_evaluations - before
    result = FitResult(
        names=tuple(space.free),
        x=np.asarray(out.x, float),
        total_stat=float(out.fval),
        success=out.success,
        message=out.message,
        nfev=nfev,
        backend=backend,
        covariance_factors=cov,
        likelihood=like,
        models=models,
        optimize_output=out,
        optimize_options=opts,
    )
    if covariance and np.all(np.isfinite(cov)):
        models.set_free_covariance(result.covariance.data, space="value")
    return result
