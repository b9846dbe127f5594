"""Optimizer backends: iminuit (migrad, hesse, minos, mncontour) and scipy.

Both minimise the same pure function of the factor vector (a
:class:`~gammax.fit.Likelihood` or any callable), with the factor bounds of
the :class:`~gammax.models.ParameterSpace`. A parameter can be held fixed
(profiles, confidence intervals) without rebuilding the likelihood.

iminuit is set up as Gammapy sets it up (``tol=0.1``, ``strategy=1``,
``errordef=1``: the statistic is ``-2 log L``; initial steps from parameter
errors, else 1). scipy uses ``minimize`` (default ``L-BFGS-B``) and a
central finite-difference Hessian for the covariance.

Examples
--------
>>> import numpy as np
>>> out = minimize(lambda x: float(((x - 1.5) ** 2).sum()), np.zeros(2), ("a", "b"))
>>> np.round(out.x, 3).tolist()
[1.5, 1.5]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["BACKENDS", "OptimizeOutput", "finite_hessian", "minimize"]

#: Available optimizer backends.
BACKENDS = ("minuit", "scipy")


@dataclass
class OptimizeOutput:
    """What an optimizer returns: best factors, statistic, calls, status."""

    x: np.ndarray
    fval: float
    nfev: int
    success: bool
    message: str
    backend: str
    minuit: Any = None
    extra: dict = field(default_factory=dict)


def _bounds(bounds, n):
    if bounds is None:
        return [(None, None)] * n
    out = []
    for lo, hi in bounds:
        lo = None if lo is None or not np.isfinite(lo) else float(lo)
        hi = None if hi is None or not np.isfinite(hi) else float(hi)
        out.append((lo, hi))
    return out


def minuit_object(
    fcn: Callable,
    x0: np.ndarray,
    names: Sequence[str],
    errors: Sequence[float] | None = None,
    bounds: Sequence[tuple[float, float]] | None = None,
    fixed: dict[int, float] | None = None,
    tol: float = 0.1,
    strategy: int = 1,
    print_level: int = 0,
):
    """An :class:`iminuit.Minuit` on ``fcn(x)`` set up as Gammapy does."""
    from iminuit import Minuit

    x0 = np.array(x0, dtype=float)
    for i, v in (fixed or {}).items():
        x0[i] = v
    m = Minuit(lambda x: fcn(x), x0, name=list(names))
    m.errordef = 1.0  # the statistic is -2 log L
    m.tol = tol
    m.strategy = strategy
    m.print_level = print_level
    if errors is not None:
        m.errors = [e if np.isfinite(e) and e > 0 else 1.0 for e in errors]
    m.limits = _bounds(bounds, len(x0))
    for i in fixed or {}:
        m.fixed[i] = True
    return m


def minimize(
    fcn: Callable,
    x0: Sequence[float],
    names: Sequence[str],
    backend: str = "minuit",
    errors: Sequence[float] | None = None,
    bounds: Sequence[tuple[float, float]] | None = None,
    fixed: dict[int, float] | None = None,
    **options: Any,
) -> OptimizeOutput:
    """Minimise ``fcn`` over factors, some held ``fixed`` (index -> factor).

    Parameters
    ----------
    fcn : callable
        ``fcn(x) -> float``.
    x0 : sequence of float
        Start factors.
    names : sequence of str
        Parameter names (for messages).
    backend : {"minuit", "scipy"}
        Optimizer.
    errors : sequence of float, optional
        Initial step sizes (factor space).
    bounds : sequence of (lo, hi), optional
        Factor bounds (``-inf``/``inf``/None: none).
    fixed : dict, optional
        Parameters held fixed at the given factors.
    **options
        Backend options: iminuit ``tol``, ``strategy``; scipy ``method``,
        ``tol``, ``options``.
    """
    x0 = np.asarray(x0, dtype=float)
    fixed = dict(fixed or {})
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r} is not one of {BACKENDS}")
    if len(fixed) == x0.size:  # nothing to optimise: evaluate
        x = x0.copy()
        for i, v in fixed.items():
            x[i] = v
        return OptimizeOutput(x, float(fcn(x)), 1, True, "all parameters fixed", backend)
    if backend == "minuit":
        migrad = options.pop("migrad_opts", {})
        m = minuit_object(fcn, x0, names, errors, bounds, fixed, **options)
        m.migrad(**migrad)
        ok = bool(m.valid) and bool(np.all(np.isfinite(np.array(m.values))))
        message = "Optimization terminated successfully." if ok else "Optimization failed."
        if ok and not m.accurate:
            message = "Optimization terminated successfully, but uncertainties are unreliable."
        return OptimizeOutput(
            np.array(m.values), float(m.fval), int(m.nfcn), ok, message, backend, m
        )
    if backend == "scipy":
        from scipy.optimize import minimize as sp_minimize

        free = [i for i in range(x0.size) if i not in fixed]
        full = x0.copy()
        for i, v in fixed.items():
            full[i] = v

        def sub(z):
            y = full.copy()
            y[free] = z
            return fcn(y)

        b = _bounds(bounds, x0.size)
        method = options.pop("method", "L-BFGS-B")
        res = sp_minimize(sub, full[free], method=method, bounds=[b[i] for i in free], **options)
        full[free] = res.x
        return OptimizeOutput(
            full,
            float(res.fun),
            int(res.nfev),
            bool(res.success),
            str(res.message),
            backend,
            None,
            {"scipy": res},
        )
    raise ConfigError(f"backend {backend!r} is not one of {BACKENDS}")


def finite_hessian(
    fcn: Callable, x: np.ndarray, steps: Sequence[float], free: Sequence[int] | None = None
) -> np.ndarray:
    """Central finite-difference Hessian of ``fcn`` at ``x`` (on the ``free`` indices).

    ``steps`` should be about the expected 1-sigma errors (the statistic then
    changes by ~1 over a step, well above rounding noise).
    """
    x = np.asarray(x, dtype=float)
    idx = list(range(x.size)) if free is None else list(free)
    n = len(idx)
    h = np.array([steps[i] for i in idx], dtype=float) * 0.5
    f0 = fcn(x)
    hess = np.zeros((n, n))

    def f(shifts):
        y = x.copy()
        for k, s in shifts:
            y[idx[k]] += s * h[k]
        return fcn(y)

    for a in range(n):
        hess[a, a] = (f([(a, 1)]) - 2 * f0 + f([(a, -1)])) / h[a] ** 2
        for b in range(a):
            val = (
                f([(a, 1), (b, 1)])
                - f([(a, 1), (b, -1)])
                - f([(a, -1), (b, 1)])
                + f([(a, -1), (b, -1)])
            ) / (4 * h[a] * h[b])
            hess[a, b] = hess[b, a] = val
    return hess
