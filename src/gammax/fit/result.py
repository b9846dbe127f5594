"""Fit results: best fit, errors, covariance and correlation; profiles, intervals, contours.

Everything a :class:`FitResult` reports is in *value space* (parameter units)
and keyed by parameter key (``"crab.spectral.index"``, or a link label). The
result keeps the likelihood (and, for iminuit, the ``Minuit`` object), so
profiles, confidence intervals and contours re-use the chunks already in
memory (on the workers, for a distributed fit): call :meth:`FitResult.close`
(or use it as a context manager) to release them.

Examples
--------
>>> result = fit([dataset], models)                     # doctest: +SKIP
>>> result.values["crab.spectral.index"], result.errors["crab.spectral.index"]  # doctest: +SKIP
>>> result.confidence("crab.spectral.index", sigma=1)   # minos (iminuit)  # doctest: +SKIP
>>> result.contour("crab.spectral.index", "crab.spectral.amplitude", npoints=10)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError
from .optimize import OptimizeOutput, minimize

__all__ = ["FitResult", "factor_jacobian"]


def factor_jacobian(space: Any, x: np.ndarray) -> np.ndarray:
    """``d value / d factor`` of each free parameter at factors ``x``."""
    out = []
    for f, s, kind in zip(x, space.scales, space.transforms, strict=True):
        t = f * s
        out.append(
            s * {"lin": 1.0, "log": math.exp(t) if kind == "log" else 1.0, "sqrt": 2.0 * t}[kind]
        )
    return np.array(out)


@dataclass
class FitResult:
    """The outcome of :func:`gammax.fit.fit`.

    Attributes
    ----------
    names : tuple of str
        Free parameter keys (the vector order).
    x : ndarray
        Best-fit factors.
    total_stat : float
        ``-2 log L`` at the best fit.
    success : bool
        Whether the optimizer converged.
    message : str
        Optimizer message.
    nfev : int
        Statistic evaluations of the optimisation (and of the covariance).
    backend : str
        ``"minuit"`` or ``"scipy"``.
    covariance_factors : ndarray
        Covariance of the factors (NaN if it could not be estimated).
    likelihood : Likelihood
        The likelihood, chunks still in memory.
    models : Models
        The fitted models (best fit and covariance written back).
    """

    names: tuple[str, ...]
    x: np.ndarray
    total_stat: float
    success: bool
    message: str
    nfev: int
    backend: str
    covariance_factors: np.ndarray
    likelihood: Any
    models: Any
    optimize_output: OptimizeOutput | None = None
    optimize_options: dict | None = None

    # -- value space --------------------------------------------------------------------
    @property
    def space(self):
        """The parameter space of the likelihood."""
        return self.likelihood.space

    @property
    def values(self) -> dict[str, float]:
        """Best-fit value of each free parameter."""
        all_values = self.space.values_from_vector(self.x)
        return {k: all_values[k] for k in self.names}

    @property
    def covariance(self):
        """:class:`~gammax.models.Covariance` of the free parameters (value space)."""
        from ..models import Covariance

        jac = factor_jacobian(self.space, self.x)
        return Covariance(self.names, jac[:, None] * self.covariance_factors * jac[None, :])

    @property
    def errors(self) -> dict[str, float]:
        """1-sigma errors (square roots of the covariance diagonal)."""
        return dict(zip(self.names, self.covariance.errors.tolist(), strict=True))

    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix (free-parameter order)."""
        return self.covariance.correlation

    def _index(self, parameter: str) -> int:
        if parameter not in self.names:
            raise ConfigError(f"{parameter!r} is not a free parameter; they are {self.names}")
        return self.names.index(parameter)

    def _to_factor(self, i: int, value: float) -> float:
        return float(self.space.vector_from_values({self.names[i]: value})[i])

    def _to_value(self, i: int, factor: float) -> float:
        y = self.x.copy()
        y[i] = factor
        return float(self.space.values_from_vector(y)[self.names[i]])

    def _bounds(self):
        return list(zip(self.space.factor_min, self.space.factor_max, strict=True))

    def _steps(self) -> np.ndarray:
        err = np.sqrt(np.clip(np.diag(self.covariance_factors), 0, None))
        return np.where(np.isfinite(err) & (err > 0), err, 1.0)

    def _profile_min(self, fixed: dict[int, float]) -> float:
        opts = dict(self.optimize_options or {})
        out = minimize(
            self.likelihood,
            self.x,
            self.names,
            self.backend,
            self._steps(),
            self._bounds(),
            fixed,
            **opts,
        )
        return out.fval

    # -- scans ----------------------------------------------------------------------------
    def stat_profile(
        self, parameter: str, values: Sequence[float] | None = None, reoptimize: bool = False
    ) -> dict[str, np.ndarray]:
        """``-2 log L`` along ``values`` of one parameter (others fixed, or re-optimised).

        Default ``values``: 11 points over +-3 errors. Returns ``values``,
        ``stat`` and ``delta_stat`` (minus the best-fit statistic).
        """
        i = self._index(parameter)
        if values is None:
            best, err = self.values[parameter], self.errors[parameter]
            values = np.linspace(best - 3 * err, best + 3 * err, 11)
        values = np.asarray(values, dtype=float)
        stats = []
        for v in values:
            f = self._to_factor(i, v)
            if reoptimize:
                stats.append(self._profile_min({i: f}))
            else:
                y = self.x.copy()
                y[i] = f
                stats.append(self.likelihood(y))
        stats = np.array(stats)
        return {"values": values, "stat": stats, "delta_stat": stats - self.total_stat}

    def confidence(self, parameter: str, sigma: float = 1.0) -> dict[str, Any]:
        """Asymmetric confidence interval from the profile likelihood.

        iminuit: MINOS at ``Delta(-2 log L) = sigma**2``; scipy: the same
        crossing found by root finding on the re-optimised profile. Returns
        ``errn``, ``errp`` (value space, positive) and ``success``.
        """
        i = self._index(parameter)
        if self.backend == "minuit" and self.optimize_output is not None:
            from scipy.stats import norm

            m = self.optimize_output.minuit
            name = self.names[i]
            try:
                m.minos(name, cl=2 * norm.cdf(sigma) - 1)
                me = m.merrors[name]
                lo_f, hi_f, ok = self.x[i] + me.lower, self.x[i] + me.upper, bool(me.is_valid)
            except RuntimeError as err:
                return {"errn": math.nan, "errp": math.nan, "success": False, "message": str(err)}
        else:
            lo_f, hi_f, ok = self._scan_crossings(i, sigma**2)
        best = self._to_value(i, self.x[i])
        return {
            "errn": best - self._to_value(i, lo_f),
            "errp": self._to_value(i, hi_f) - best,
            "success": ok,
        }

    def _scan_crossings(self, i: int, delta: float) -> tuple[float, float, bool]:
        from scipy.optimize import brentq

        step = self._steps()[i]
        lo_b, hi_b = self._bounds()[i]

        def g(f):
            return self._profile_min({i: f}) - self.total_stat - delta

        out, ok = [], True
        for sign in (-1.0, 1.0):
            a, b = self.x[i], self.x[i] + sign * step
            tries = 0
            while g(b) < 0 and tries < 8:
                a, b = b, self.x[i] + sign * step * 2 ** (tries + 1)
                tries += 1
            limit = lo_b if sign < 0 else hi_b
            if limit is not None and np.isfinite(limit):
                b = min(max(b, limit), max(b, limit)) if sign > 0 else max(b, limit)
            try:
                out.append(brentq(g, min(a, b), max(a, b), xtol=1e-4 * step))
            except ValueError:
                out.append(math.nan)
                ok = False
        return out[0], out[1], ok

    def contour(
        self, x: str, y: str, npoints: int = 20, sigma: float = 1.0
    ) -> dict[str, np.ndarray]:
        """The ``Delta(-2 log L) = sigma**2`` contour of two parameters (others re-optimised).

        iminuit: MNCONTOUR (Gammapy's convention, ``cl = chi2(2).cdf(sigma**2)``);
        scipy: root finding along ``npoints`` rays. Values in parameter units.
        """
        i, j = self._index(x), self._index(y)
        if self.backend == "minuit" and self.optimize_output is not None:
            from scipy.stats import chi2

            m = self.optimize_output.minuit
            pts = np.asarray(
                m.mncontour(self.names[i], self.names[j], cl=chi2(2).cdf(sigma**2), size=npoints)
            )
            if len(pts) > 1 and np.allclose(pts[0], pts[-1]):
                pts = pts[:-1]  # iminuit closes the contour
            fx, fy = pts[:, 0], pts[:, 1]
        else:
            fx, fy = self._ray_contour(i, j, npoints, sigma**2)
        return {
            x: np.array([self._to_value(i, f) for f in fx]),
            y: np.array([self._to_value(j, f) for f in fy]),
        }

    def _ray_contour(self, i: int, j: int, npoints: int, delta: float):
        from scipy.optimize import brentq

        si, sj = self._steps()[i], self._steps()[j]
        fx, fy = [], []
        for theta in np.linspace(0, 2 * np.pi, npoints, endpoint=False):
            d = np.array([si * np.cos(theta), sj * np.sin(theta)])

            def g(t, d=d):
                fixed = {i: self.x[i] + t * d[0], j: self.x[j] + t * d[1]}
                return self._profile_min(fixed) - self.total_stat - delta

            hi = 1.0
            while g(hi) < 0 and hi < 64:
                hi *= 2
            t = brentq(g, 0.0, hi, xtol=1e-3)
            fx.append(self.x[i] + t * d[0])
            fy.append(self.x[j] + t * d[1])
        return np.array(fx), np.array(fy)

    # -- housekeeping -----------------------------------------------------------------------
    def close(self) -> None:
        """Release the likelihood's chunks."""
        self.likelihood.close()

    def __enter__(self) -> FitResult:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def summary(self) -> str:
        """A few lines for humans."""
        lines = [
            f"backend {self.backend}: {self.message} ({self.nfev} evaluations), "
            f"-2 log L = {self.total_stat:.3f}"
        ]
        errors = self.errors
        for k, v in self.values.items():
            lines.append(f"  {k:40s} {v: .6g} +- {errors[k]:.3g}")
        return "\n".join(lines)
