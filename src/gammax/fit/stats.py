r"""Fit statistics (``-2 log L`` up to constants), per bin and summed.

The formulas and conventions are Gammapy's, so statistic values compare
directly:

``cash``
    :math:`C = 2 (\mu - n \log \mu)`, with :math:`\mu` truncated at
    :data:`TRUNCATION_VALUE` (1e-25) from below.
``cstat``
    :math:`2 (\mu - n + n (\log n - \log \mu))` (zero at :math:`\mu = n`).
``wstat``
    Poisson ON counts with a Poisson OFF measurement, the background
    :math:`\mu_b` profiled (:func:`wstat_mu_bkg`),
    :math:`2 (\mu_s + (1 + \alpha) \mu_b - n_{on} \log(\mu_s + \alpha \mu_b)
    - n_{off} \log \mu_b)` plus the goodness-of-fit terms
    :math:`2 (n_{on} (\log n_{on} - 1) + n_{off} (\log n_{off} - 1))`.
``chi2``
    :math:`((d - m) / \sigma)^2`.

All accept numpy or dask arrays (and xarray objects); the ``*_sum`` versions
take an optional boolean ``mask`` of the bins to sum.

Examples
--------
>>> float(cash(2.0, 2.0).round(6))
1.227411
>>> float(cstat(2.0, 2.0))
0.0
>>> round(wstat_sum([10, 3], [20, 4], 0.2, [5.0, 1.0]), 6)
0.696296
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "STATISTICS",
    "TRUNCATION_VALUE",
    "cash",
    "cash_sum",
    "chi2",
    "chi2_sum",
    "cstat",
    "cstat_sum",
    "wstat",
    "wstat_gof_terms",
    "wstat_mu_bkg",
    "wstat_sum",
]

#: Lower truncation of predicted counts in ``cash`` and ``cstat`` (as Gammapy).
TRUNCATION_VALUE = 1e-25


def _xp(*arrays):
    return [
        a if hasattr(a, "__array_function__") or hasattr(a, "dask") else np.asarray(a, float)
        for a in arrays
    ]


def cash(n_on: Any, mu_on: Any, truncation_value: float = TRUNCATION_VALUE) -> Any:
    """Cash statistic per bin: ``2 * (mu - n * log(mu))``, ``mu`` truncated from below."""
    n_on, mu_on = _xp(n_on, mu_on)
    mu = np.maximum(mu_on, truncation_value)
    return 2.0 * (mu - n_on * np.log(mu))


def cstat(n_on: Any, mu_on: Any, truncation_value: float = TRUNCATION_VALUE) -> Any:
    """C statistic per bin, ``n`` and ``mu`` truncated from below (zero at ``mu == n``)."""
    n_on, mu_on = _xp(n_on, mu_on)
    n = np.maximum(n_on, truncation_value)
    mu = np.maximum(mu_on, truncation_value)
    return 2.0 * (mu - n + n * (np.log(n) - np.log(mu)))


def wstat_mu_bkg(n_on: Any, n_off: Any, alpha: Any, mu_sig: Any) -> Any:
    """Profile-likelihood background estimate of WStat (Gammapy's formula, zero-count corners)."""
    n_on, n_off, alpha, mu_sig = _xp(n_on, n_off, alpha, mu_sig)
    c = alpha * (n_on + n_off) - (1 + alpha) * mu_sig
    d = np.sqrt(c**2 + 4 * alpha * (alpha + 1) * n_off * mu_sig)
    with np.errstate(invalid="ignore", divide="ignore"):
        # clipped at 0: c + d can round to a tiny negative number
        return np.maximum((c + d) / (2 * alpha * (alpha + 1)), 0.0)


def wstat_gof_terms(n_on: Any, n_off: Any) -> Any:
    """The model-independent terms that make WStat a goodness of fit."""
    n_on, n_off = _xp(n_on, n_off)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_on = np.where(n_on > 0, -n_on * (1 - np.log(np.where(n_on > 0, n_on, 1.0))), 0.0)
        t_off = np.where(n_off > 0, -n_off * (1 - np.log(np.where(n_off > 0, n_off, 1.0))), 0.0)
    return 2.0 * (t_on + t_off)


def wstat(
    n_on: Any,
    n_off: Any,
    alpha: Any,
    mu_sig: Any,
    mu_bkg: Any = None,
    extra_terms: bool = True,
) -> Any:
    """WStat per bin (Poisson ON and OFF counts, background profiled unless given).

    Non-finite values (e.g. ``alpha = 0`` bins) are set to 0, as Gammapy does.
    """
    n_on, n_off, alpha, mu_sig = _xp(n_on, n_off, alpha, mu_sig)
    if mu_bkg is None:
        mu_bkg = wstat_mu_bkg(n_on, n_off, alpha, mu_sig)
    with np.errstate(divide="ignore", invalid="ignore"):
        term1 = mu_sig + (1 + alpha) * mu_bkg
        term2 = np.where(n_on == 0, 0.0, -n_on * np.log(mu_sig + alpha * mu_bkg))
        term3 = np.where(n_off == 0, 0.0, -n_off * np.log(mu_bkg))
        stat = 2.0 * (term1 + term2 + term3)
    if extra_terms:
        stat = stat + wstat_gof_terms(n_on, n_off)
    return np.where(np.isfinite(stat), stat, 0.0)


def chi2(data: Any, model: Any, sigma: Any) -> Any:
    """``((data - model) / sigma) ** 2`` per point."""
    data, model, sigma = _xp(data, model, sigma)
    return ((data - model) / sigma) ** 2


def _masked_sum(values: Any, mask: Any) -> float:
    if mask is not None:
        values = np.where(mask, values, 0.0)
    total = values.sum()
    return float(total.compute() if hasattr(total, "compute") else total)


def cash_sum(n_on: Any, mu_on: Any, mask: Any = None) -> float:
    """Sum of :func:`cash` over the bins in ``mask`` (all if None)."""
    return _masked_sum(cash(n_on, mu_on), mask)


def cstat_sum(n_on: Any, mu_on: Any, mask: Any = None) -> float:
    """Sum of :func:`cstat` over ``mask``."""
    return _masked_sum(cstat(n_on, mu_on), mask)


def wstat_sum(n_on: Any, n_off: Any, alpha: Any, mu_sig: Any, mask: Any = None) -> float:
    """Sum of :func:`wstat` over ``mask``."""
    return _masked_sum(wstat(n_on, n_off, alpha, mu_sig), mask)


def chi2_sum(data: Any, model: Any, sigma: Any, mask: Any = None) -> float:
    """Sum of :func:`chi2` over ``mask``."""
    return _masked_sum(chi2(data, model, sigma), mask)


#: Statistic name -> per-bin function.
STATISTICS = {"cash": cash, "cstat": cstat, "wstat": wstat, "chi2": chi2}
