r"""Analytic spatial models: point, Gaussian, generalised Gaussian, disk, shells, constant.

Formulas (on the sphere where Gammapy's are), parameter names, defaults and
tags are Gammapy's. Elongated shapes (``e``, ``phi``) use the effective
radius toward each point, :func:`gammax.models.spatial.compute_sigma_eff`.

Examples
--------
>>> import numpy as np
>>> disk = DiskSpatialModel(lon_0="0 deg", lat_0="0 deg", r_0="1 deg", edge_width=0)
>>> bool(disk(0.5, 0.0).values > 0), float(disk(1.5, 0.0).values)
(True, 0.0)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr
from scipy import integrate, special

from ..errors import ConfigError, GeometryError
from .parameters import Parameter
from .registry import register
from .spatial import SpatialModel, angular_separation, compute_sigma_eff

__all__ = [
    "ConstantFluxSpatialModel",
    "ConstantSpatialModel",
    "DiskSpatialModel",
    "GaussianSpatialModel",
    "GeneralizedGaussianSpatialModel",
    "PointSpatialModel",
    "Shell2SpatialModel",
    "ShellSpatialModel",
]

_EDGE_95 = 2.326174307353347


def _position() -> tuple[Parameter, Parameter]:
    return Parameter("lon_0", "0 deg"), Parameter("lat_0", "0 deg", min=-90, max=90)


@register("spatial")
class PointSpatialModel(SpatialModel):
    """Point source at ``lon_0``, ``lat_0``.

    A point has no surface brightness on coordinates; on a WCS geometry its
    integral spreads the flux over the 4 nearest pixels with bilinear weights
    that keep the centroid (as Gammapy), and :meth:`evaluate_geom` divides
    that by the pixel solid angle.
    """

    tag = ("PointSpatialModel", "point")
    _defaults = _position()

    def evaluation_radius(self, values=None, prefix="") -> float:
        """Zero."""
        return 0.0

    def evaluation_bin_size_min(self, values=None, prefix="") -> float:
        """Zero."""
        return 0.0

    def __call__(self, lon, lat, frame=None, energy=None, values=None, prefix=""):
        """Not defined for a point: use :meth:`integrate_geom`."""
        raise ConfigError(
            "a point source has no surface brightness at coordinates; use integrate_geom "
            "(or evaluate_geom) on a geometry"
        )

    def integrate_geom(self, geom, oversampling_factor=None, values=None, chunks=None, prefix=""):
        """Bilinear 4-pixel weights around the source position (dimensionless)."""
        from ..geom import RegionGeom, WcsGeom
        from ..geom.sky import convert_frame

        if isinstance(geom, RegionGeom):
            return super().integrate_geom(geom, oversampling_factor, values, prefix=prefix)
        if not isinstance(geom, WcsGeom):
            raise GeometryError("point sources integrate on WCS (or region) geometries only")
        lon0, lat0 = self.center_deg(values, prefix)
        lon, lat = convert_frame([lon0], [lat0], self.frame, geom.frame)
        x0, y0 = geom.world_to_pix(lon, lat, geom.frame)
        block = _PointWeights(float(np.ravel(x0)[0]), float(np.ravel(y0)[0]))
        return geom.pixel_field(block, float, chunks, "npred_fraction", "")

    def evaluate_geom(self, geom, values=None, chunks=None, prefix="") -> xr.DataArray:
        """Weights divided by the pixel solid angle (``sr-1``)."""
        weights = self.integrate_geom(geom, values=values, chunks=chunks, prefix=prefix)
        omega = geom.solid_angle(chunks) if chunks is not None else geom.solid_angle()
        return (weights / omega).assign_attrs(units="sr-1").rename("value")


class _PointWeights:
    def __init__(self, x0: float, y0: float) -> None:
        self.x0, self.y0 = x0, y0

    def __call__(self, yy, xx):
        dx = np.abs(xx - self.x0)
        dx = np.where(dx < 1, 1 - dx, 0.0)
        dy = np.abs(yy - self.y0)
        dy = np.where(dy < 1, 1 - dy, 0.0)
        return dx * dy


@register("spatial")
class GaussianSpatialModel(SpatialModel):
    r"""Two-dimensional Gaussian on the sphere, optionally elongated.

    For ``e = 0``: :math:`\frac{1}{4\pi a (1 - e^{-1/a})} \exp(-(1 - \cos\theta)/2a)`
    with :math:`a = 1 - \cos\sigma`, normalised on the sphere. Elongated:
    ``sigma`` is the major semi-axis, ``e`` the eccentricity and ``phi`` the
    position angle of the major axis (east of north).
    """

    tag = ("GaussianSpatialModel", "gauss")
    _defaults = (
        *_position(),
        Parameter("sigma", "1 deg", min=0),
        Parameter("e", 0.0, min=0, max=1, frozen=True),
        Parameter("phi", "0 deg", min=-180, max=180, frozen=True),
    )

    def evaluation_radius(self, values=None, prefix="") -> float:
        """Five sigma."""
        return 5 * self.degree_params(values, prefix)["sigma"]

    def evaluation_bin_size_min(self, values=None, prefix="") -> float:
        """Sigma / 3."""
        return self.degree_params(values, prefix)["sigma"] / 3.0

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, sigma, e, phi):
        """Gaussian (angles in radians)."""
        sep = angular_separation(lon, lat, lon_0, lat_0)
        if e == 0:
            a = 1.0 - np.cos(sigma)
            norm = 1 / (4 * np.pi * a * (1.0 - np.exp(-1.0 / a)))
        else:
            minor_axis, sigma_eff = compute_sigma_eff(lon_0, lat_0, lon, lat, phi, sigma, e)
            a = 1.0 - np.cos(sigma_eff)
            norm = 1 / (2 * np.pi * sigma * minor_axis)
        return norm * np.exp(-0.5 * ((1 - np.cos(sep)) / a))


@register("spatial")
class GeneralizedGaussianSpatialModel(SpatialModel):
    r"""Generalised Gaussian :math:`\propto \exp(-(\theta / r_{eff})^{1/\eta})`.

    ``eta`` -> 0 is a disk, 0.5 a Gaussian, 1 a Laplace profile.
    """

    tag = ("GeneralizedGaussianSpatialModel", "gauss-general")
    _defaults = (
        *_position(),
        Parameter("r_0", "1 deg"),
        Parameter("eta", 0.5, min=0.01, max=1.0),
        Parameter("e", 0.0, min=0.0, max=1.0, frozen=True),
        Parameter("phi", "0 deg", min=-180, max=180, frozen=True),
    )

    def evaluation_radius(self, values=None, prefix="") -> float:
        """``r_0 (1 + 8 eta)``."""
        p = self.degree_params(values, prefix)
        return p["r_0"] * (1 + 8 * p["eta"])

    def evaluation_bin_size_min(self, values=None, prefix="") -> float:
        """``r_0 / (3 + 8 eta) / (1 + e)``."""
        p = self.degree_params(values, prefix)
        return p["r_0"] / (3 + 8 * p["eta"]) / (p["e"] + 1)

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, r_0, eta, e, phi):
        """Generalised Gaussian (angles in radians)."""
        sep = angular_separation(lon, lat, lon_0, lat_0)
        minor_axis, r_eff = compute_sigma_eff(lon_0, lat_0, lon, lat, phi, r_0, e)
        norm = 1 / (2 * np.pi * minor_axis * r_0 * eta * special.gamma(2 * eta))
        return norm * np.exp(-((sep / r_eff) ** (1 / eta)))


@lru_cache(maxsize=1024)
def _disk_norm(r_0: float, e: float) -> float:
    semi_minor = r_0 * math.sqrt(1 - e**2)

    def integrand(x):
        a_ = 1 / math.sin(r_0) ** 2
        b_ = 1 / math.sin(semi_minor) ** 2
        return 1 - math.sqrt(1 - 1 / (b_ + (a_ - b_) * math.cos(x) ** 2))

    return (2 * integrate.quad(integrand, 0, math.pi)[0]) ** -1


@register("spatial")
class DiskSpatialModel(SpatialModel):
    r"""Uniform (elliptical) disk with a smooth edge.

    ``r_0`` is the major semi-axis, ``e``/``phi`` the elongation and
    ``edge_width`` the width (fraction of ``r_0``) over which the edge drops
    from 95% to 5%. Normalised on the sphere (for a sharp edge).
    """

    tag = ("DiskSpatialModel", "disk")
    _defaults = (
        *_position(),
        Parameter("r_0", "1 deg", min=0),
        Parameter("e", 0.0, min=0, max=1, frozen=True),
        Parameter("phi", "0 deg", min=-180, max=180, frozen=True),
        Parameter("edge_width", 0.01, min=0, max=1, frozen=True),
    )

    def evaluation_radius(self, values=None, prefix="") -> float:
        """``1.1 r_0 (1 + edge_width)``."""
        p = self.degree_params(values, prefix)
        return 1.1 * p["r_0"] * (1 + p["edge_width"])

    def evaluation_bin_size_min(self, values=None, prefix="") -> float:
        """``r_0 (1 - edge_width) / 10``."""
        p = self.degree_params(values, prefix)
        return p["r_0"] * (1 - p["edge_width"]) / 10.0

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, r_0, e, phi, edge_width):
        """Disk (angles in radians)."""
        sep = angular_separation(lon, lat, lon_0, lat_0)
        if e == 0:
            sigma_eff = r_0
        else:
            sigma_eff = compute_sigma_eff(lon_0, lat_0, lon, lat, phi, r_0, e)[1]
        norm = _disk_norm(float(r_0), float(e))
        with np.errstate(divide="ignore", invalid="ignore"):
            x = (sep - sigma_eff) / (sigma_eff * edge_width)
        return norm * 0.5 * (1 - special.erf(x * _EDGE_95))


def _shell(sep, r_in, r_out):
    norm = 3 / (2 * np.pi * (r_out**3 - r_in**3))
    with np.errstate(invalid="ignore"):
        value = np.sqrt(r_out**2 - sep**2)
        value = np.where(sep < r_in, value - np.sqrt(r_in**2 - sep**2), value)
        value = np.where(sep > r_out, 0.0, value)
    return norm * value


@register("spatial")
class ShellSpatialModel(SpatialModel):
    """Projected thick spherical shell: inner ``radius`` and ``width``."""

    tag = ("ShellSpatialModel", "shell")
    _defaults = (*_position(), Parameter("radius", "1 deg"), Parameter("width", "0.2 deg"))

    def evaluation_radius(self, values=None, prefix="") -> float:
        """Outer radius."""
        p = self.degree_params(values, prefix)
        return p["radius"] + p["width"]

    def evaluation_bin_size_min(self, values=None, prefix="") -> float:
        """Shell width."""
        return self.degree_params(values, prefix)["width"]

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, radius, width):
        """Shell (angles in radians)."""
        return _shell(angular_separation(lon, lat, lon_0, lat_0), radius, radius + width)


@register("spatial")
class Shell2SpatialModel(SpatialModel):
    """Projected thick shell: outer radius ``r_0`` and relative width ``eta``."""

    tag = ("Shell2SpatialModel", "shell2")
    _defaults = (*_position(), Parameter("r_0", "1 deg"), Parameter("eta", 0.2, min=0.02, max=1))

    def evaluation_radius(self, values=None, prefix="") -> float:
        """Outer radius."""
        return self.degree_params(values, prefix)["r_0"]

    def evaluation_bin_size_min(self, values=None, prefix="") -> float:
        """``eta r_0``."""
        p = self.degree_params(values, prefix)
        return p["eta"] * p["r_0"]

    @staticmethod
    def evaluate(lon, lat, lon_0, lat_0, r_0, eta):
        """Shell (angles in radians)."""
        return _shell(angular_separation(lon, lat, lon_0, lat_0), (1 - eta) * r_0, r_0)


@register("spatial")
class ConstantSpatialModel(SpatialModel):
    """Isotropic surface brightness ``value`` (default 1 sr-1, frozen).

    Gammapy writes no parameters and no frame for it; ``value`` keeps its default.
    """

    tag = ("ConstantSpatialModel", "const")
    _defaults = (Parameter("value", "1 sr-1", frozen=True),)
    _optional_in_file = frozenset({"value"})

    @staticmethod
    def evaluate(lon, lat, value):
        """Constant."""
        return np.full(np.broadcast(lon, lat).shape, value)

    def kernel_params(self, values=None, prefix=""):
        """``value`` in ``sr-1`` (not an angle)."""
        raw = self.resolve(values, prefix)
        return {"value": raw["value"] * _sr_factor(self.parameters["value"].unit)}

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form: no frame, no parameters."""
        return {"type": self.tag[0], "parameters": []}


def _sr_factor(unit: str) -> float:
    import astropy.units as u

    return float(u.Unit(unit).to("sr-1"))


@register("spatial")
class ConstantFluxSpatialModel(SpatialModel):
    """Constant flux per pixel: ``integrate_geom`` is 1 in every pixel (no parameters)."""

    tag = ("ConstantFluxSpatialModel", "const-flux")
    _defaults = ()

    @staticmethod
    def evaluate(lon, lat):
        """1 sr-1."""
        return np.ones(np.broadcast(lon, lat).shape)

    def integrate_geom(self, geom, oversampling_factor=None, values=None, chunks=None, prefix=""):
        """1 in every pixel."""
        omega = geom.solid_angle(chunks) if chunks is not None else geom.solid_angle()
        return (omega * 0 + 1.0).assign_attrs(units="").rename("npred_fraction")

    def evaluate_geom(self, geom, values=None, chunks=None, prefix=""):
        """``1 / solid angle``."""
        omega = geom.solid_angle(chunks) if chunks is not None else geom.solid_angle()
        return (1.0 / omega).assign_attrs(units="sr-1").rename("value")

    def to_dict(self, full_output: bool = False) -> dict[str, Any]:
        """Gammapy's form: no frame."""
        return {"type": self.tag[0], "parameters": []}
