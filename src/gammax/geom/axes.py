"""Non-spatial map axes: binned or node axes, label axes and time-interval axes.

An axis is a small immutable object. It turns values into pixel coordinates
and bin indices and back, and knows how to put itself on an xarray object: the
coordinate holds the bin centres (geometric centres for ``interp="log"``, as in
Gammapy) and its attributes hold everything else (edges, interpolation scale,
units), so that a plain ``xr.open_zarr`` keeps the axis.

Pixel convention (Gammapy's): bin ``i`` is centred on pixel coordinate ``i``,
its edges are at ``i - 0.5`` and ``i + 0.5``. Between nodes, pixel coordinates
are linear in the axis' interpolation scale (``lin``, ``log`` or ``sqrt``).

Examples
--------
>>> axis = MapAxis.from_energy_bounds(0.1, 100, 3, unit="TeV")
>>> axis.edges
array([  0.1,   1. ,  10. , 100. ])
>>> axis.center
array([ 0.31622777,  3.16227766, 31.6227766 ])
>>> axis.coord_to_idx([0.05, 0.5, 50.0])
array([-1,  0,  2])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as _dims
from ..errors import GeometryError
from ..units import parse_unit, unit_string

__all__ = [
    "LabelAxis",
    "MapAxis",
    "TimeAxis",
    "axis_from_coordinate",
    "axis_from_dict",
]

_SCALES = ("lin", "log", "sqrt")
_ENERGY_NAMES = (_dims.ENERGY, _dims.ENERGY_TRUE)


def _forward(values: np.ndarray, interp: str) -> np.ndarray:
    if interp == "log":
        return np.log(values)
    if interp == "sqrt":
        return np.sqrt(values)
    return values


def _inverse(values: np.ndarray, interp: str) -> np.ndarray:
    if interp == "log":
        return np.exp(values)
    if interp == "sqrt":
        return values**2
    return values


def _interp_extrapolate(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of ``fp(xp)`` at ``x``, extrapolated linearly."""
    x = np.asarray(x, dtype=float)
    if xp.size == 1:
        return np.full_like(x, fp[0])
    idx = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    x0, x1 = xp[idx], xp[idx + 1]
    y0, y1 = fp[idx], fp[idx + 1]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


def _readonly(values: Any, dtype=float) -> np.ndarray:
    out = np.array(values, dtype=dtype)
    out.flags.writeable = False
    return out


def _as_values(values: Any, unit: str, what: str) -> np.ndarray:
    """Numbers in ``unit`` from a quantity or plain numbers (taken to be in ``unit``)."""
    if hasattr(values, "unit") and hasattr(values, "to_value"):
        try:
            return np.asarray(values.to_value(parse_unit(unit)), dtype=float)
        except Exception as err:  # astropy UnitConversionError
            raise GeometryError(
                f"{what}: values in {values.unit} cannot be converted to the axis unit {unit!r}"
            ) from err
    return np.asarray(values, dtype=float)


@dataclass(frozen=True)
class MapAxis:
    """A binned (``node_type="edges"``) or sampled (``node_type="center"``) axis.

    Parameters
    ----------
    name : str
        Dimension name, from :mod:`gammax.dims` for the standard axes.
    nodes : sequence of float
        Bin edges (``node_type="edges"``) or bin centres (``"center"``), strictly
        increasing.
    unit : str
        Astropy unit string.
    interp : {"lin", "log", "sqrt"}
        Scale in which pixel coordinates are linear.
    node_type : {"edges", "center"}
        Meaning of ``nodes``.

    Examples
    --------
    >>> MapAxis.from_edges([0.0, 1.0, 3.0], name="rad", unit="deg").center
    array([0.5, 2. ])
    """

    name: str
    nodes: tuple[float, ...]
    unit: str = ""
    interp: str = "lin"
    node_type: str = "edges"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise GeometryError(f"axis name must be a non-empty string, got {self.name!r}")
        if self.interp not in _SCALES:
            raise GeometryError(
                f"axis {self.name!r}: interp {self.interp!r} is not one of {_SCALES}"
            )
        if self.node_type not in ("edges", "center"):
            raise GeometryError(
                f"axis {self.name!r}: node_type {self.node_type!r} is not 'edges' or 'center'"
            )
        nodes = np.asarray(self.nodes, dtype=float).ravel()
        minimum = 2 if self.node_type == "edges" else 1
        if nodes.size < minimum:
            raise GeometryError(
                f"axis {self.name!r}: got {nodes.size} {self.node_type} values, "
                f"expected at least {minimum}"
            )
        if not np.all(np.isfinite(nodes)):
            raise GeometryError(f"axis {self.name!r}: {self.node_type} must be finite")
        if np.any(np.diff(nodes) <= 0):
            raise GeometryError(
                f"axis {self.name!r}: {self.node_type} must be strictly increasing, "
                f"got {nodes.tolist()}"
            )
        if self.interp == "log" and nodes[0] <= 0:
            raise GeometryError(
                f"axis {self.name!r}: interp='log' needs positive {self.node_type}, "
                f"got minimum {nodes[0]}"
            )
        if self.interp == "sqrt" and nodes[0] < 0:
            raise GeometryError(f"axis {self.name!r}: interp='sqrt' needs non-negative values")
        if self.interp == "sqrt" and self.node_type == "center" and nodes.size > 1:
            root = np.sqrt(nodes[:2])
            if root[0] - 0.5 * (root[1] - root[0]) < 0:
                raise GeometryError(
                    f"axis {self.name!r}: with interp='sqrt' the lower edge extrapolated from "
                    f"nodes {nodes[:2].tolist()} would be negative; give edges instead"
                )
        object.__setattr__(self, "nodes", tuple(float(v) for v in nodes))
        object.__setattr__(self, "unit", unit_string(self.unit))

    # -- constructors -------------------------------------------------------------
    @classmethod
    def from_edges(
        cls, edges: Any, name: str, unit: str | None = None, interp: str = "lin"
    ) -> MapAxis:
        """Axis from bin edges (numbers in ``unit`` or a quantity).

        Examples
        --------
        >>> import astropy.units as u
        >>> MapAxis.from_edges([1, 10, 100] * u.GeV, name="energy", interp="log").unit
        'GeV'
        """
        unit = _unit_of(edges, unit)
        return cls(name, tuple(_as_values(edges, unit, name)), unit, interp, "edges")

    @classmethod
    def from_nodes(
        cls, nodes: Any, name: str, unit: str | None = None, interp: str = "lin"
    ) -> MapAxis:
        """Axis sampled at ``nodes`` (bin centres); edges are half-way in ``interp`` scale."""
        unit = _unit_of(nodes, unit)
        return cls(name, tuple(_as_values(nodes, unit, name)), unit, interp, "center")

    @classmethod
    def from_bounds(
        cls,
        lo: float,
        hi: float,
        nbin: int,
        name: str,
        unit: str | None = None,
        interp: str = "lin",
    ) -> MapAxis:
        """``nbin`` bins between ``lo`` and ``hi``, uniform in ``interp`` scale.

        Examples
        --------
        >>> MapAxis.from_bounds(0, 2, 4, name="rad", unit="deg").edges
        array([0. , 0.5, 1. , 1.5, 2. ])
        """
        unit = _unit_of(hi, unit if unit is not None else _unit_of(lo, None))
        lo_v = float(_as_values(lo, unit, name))
        hi_v = float(_as_values(hi, unit, name))
        if int(nbin) < 1 or not hi_v > lo_v:
            raise GeometryError(
                f"axis {name!r}: need nbin >= 1 and hi > lo, got nbin={nbin}, lo={lo_v}, hi={hi_v}"
            )
        if interp == "log" and lo_v <= 0:
            raise GeometryError(f"axis {name!r}: interp='log' needs lo > 0, got {lo_v}")
        n = int(nbin) + 1
        if interp == "log":  # the same numbers as Gammapy's MapAxis.from_bounds
            edges = np.geomspace(lo_v, hi_v, n)
        elif interp == "sqrt":
            edges = np.linspace(lo_v**0.5, hi_v**0.5, n) ** 2.0
        else:
            edges = np.linspace(lo_v, hi_v, n)
        return cls(name, tuple(edges), unit, interp, "edges")

    @classmethod
    def from_energy_bounds(
        cls,
        energy_min: Any,
        energy_max: Any,
        nbin: int,
        unit: str | None = None,
        per_decade: bool = False,
        name: str = _dims.ENERGY,
    ) -> MapAxis:
        """Log-spaced energy axis between two energies (``nbin`` total or per decade).

        Examples
        --------
        >>> MapAxis.from_energy_bounds("1 TeV", "100 TeV", 2, per_decade=True).nbin
        4
        """
        if name not in _ENERGY_NAMES:
            raise GeometryError(f"an energy axis is named one of {_ENERGY_NAMES}, got {name!r}")
        energy_min, energy_max = _parse_quantity(energy_min), _parse_quantity(energy_max)
        unit = _unit_of(energy_max, unit)
        if not parse_unit(unit).is_equivalent("TeV"):
            raise GeometryError(f"energy axis {name!r}: unit {unit!r} is not an energy unit")
        lo = float(_as_values(energy_min, unit, name))
        hi = float(_as_values(energy_max, unit, name))
        if per_decade:
            nbin = int(np.ceil(np.log10(hi / lo) * nbin))
        return cls.from_bounds(lo, hi, nbin, name=name, unit=unit, interp="log")

    @classmethod
    def from_energy_edges(
        cls, edges: Any, unit: str | None = None, name: str = _dims.ENERGY
    ) -> MapAxis:
        """Energy axis (log interpolation) from explicit edges."""
        if name not in _ENERGY_NAMES:
            raise GeometryError(f"an energy axis is named one of {_ENERGY_NAMES}, got {name!r}")
        return cls.from_edges(edges, name=name, unit=unit, interp="log")

    # -- arrays -------------------------------------------------------------------
    @cached_property
    def _scaled_nodes(self) -> np.ndarray:
        return _forward(np.asarray(self.nodes), self.interp)

    @cached_property
    def _pix_nodes(self) -> np.ndarray:
        offset = -0.5 if self.node_type == "edges" else 0.0
        return np.arange(len(self.nodes), dtype=float) + offset

    @property
    def nbin(self) -> int:
        """Number of bins."""
        return len(self.nodes) - 1 if self.node_type == "edges" else len(self.nodes)

    @cached_property
    def edges(self) -> np.ndarray:
        """Bin edges, ``nbin + 1`` values (extrapolated half a bin for node axes)."""
        if self.node_type == "edges":
            return _readonly(self.nodes)
        return _readonly(self.pix_to_coord(np.arange(self.nbin + 1) - 0.5))

    @cached_property
    def center(self) -> np.ndarray:
        """Bin centres (geometric for ``interp='log'``)."""
        if self.node_type == "center":
            return _readonly(self.nodes)
        return _readonly(self.pix_to_coord(np.arange(self.nbin, dtype=float)))

    @property
    def edges_min(self) -> np.ndarray:
        """Lower bin edges."""
        return self.edges[:-1]

    @property
    def edges_max(self) -> np.ndarray:
        """Upper bin edges."""
        return self.edges[1:]

    @property
    def bin_width(self) -> np.ndarray:
        """Bin widths, in the axis unit."""
        return np.diff(self.edges)

    @property
    def bounds(self) -> np.ndarray:
        """CF bounds, shape ``(nbin, 2)``: lower and upper edge of each bin."""
        return np.stack([self.edges_min, self.edges_max], axis=1)

    # -- transforms ----------------------------------------------------------------
    def coord_to_pix(self, values: Any) -> np.ndarray:
        """Pixel coordinates of axis values (extrapolated outside the axis).

        Examples
        --------
        >>> MapAxis.from_edges([0, 1, 2], name="rad").coord_to_pix([0.0, 0.5, 2.0])
        array([-0.5,  0. ,  1.5])
        """
        values = _as_values(values, self.unit, self.name)
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = _forward(values, self.interp)
        return _interp_extrapolate(scaled, self._scaled_nodes, self._pix_nodes)

    def pix_to_coord(self, pix: Any) -> np.ndarray:
        """Axis values at pixel coordinates (inverse of :meth:`coord_to_pix`)."""
        scaled = _interp_extrapolate(np.asarray(pix, float), self._pix_nodes, self._scaled_nodes)
        return _inverse(scaled, self.interp)

    def coord_to_idx(self, values: Any) -> np.ndarray:
        """Bin index of each value; ``-1`` outside ``[edges[0], edges[-1])`` or non-finite.

        Bins include their lower edge and exclude their upper edge.
        """
        values = _as_values(values, self.unit, self.name)
        edges = self.edges
        inside = (values >= edges[0]) & (values < edges[-1])
        uniform = self._uniform
        if uniform is None:
            idx = np.searchsorted(edges, values, side="right") - 1
            return np.where(inside, idx, -1)
        # Edges uniform in the interp scale: direct formula, then an exact
        # comparison with the neighbouring edges fixes rounding at bin borders.
        start, inv_step = uniform
        with np.errstate(invalid="ignore", divide="ignore"):
            guess = (_forward(values, self.interp) - start) * inv_step
        guess = np.floor(np.fmin(np.fmax(guess, 0.0), self.nbin - 1.0)).astype(np.intp)
        idx = guess - (values < edges[guess]) + (values >= edges[guess + 1])
        return np.where(inside, idx, -1)

    @cached_property
    def _uniform(self) -> tuple[float, float] | None:
        """``(start, 1/step)`` of the edges in interp scale if uniform, else None."""
        scaled = _forward(self.edges, self.interp)
        steps = np.diff(scaled)
        if self.nbin < 4 or not np.allclose(steps, steps[0], rtol=1e-9, atol=0):
            return None
        return float(scaled[0]), float(self.nbin / (scaled[-1] - scaled[0]))

    # -- derived axes --------------------------------------------------------------
    def slice(self, start: int, stop: int) -> MapAxis:
        """Axis of bins ``start`` to ``stop - 1``."""
        start, stop, _ = slice(start, stop).indices(self.nbin)
        if stop <= start:
            raise GeometryError(f"axis {self.name!r}: empty slice [{start}:{stop}]")
        if self.node_type == "edges":
            return MapAxis(self.name, self.nodes[start : stop + 1], self.unit, self.interp)
        return MapAxis(self.name, self.nodes[start:stop], self.unit, self.interp, "center")

    def downsample(self, factor: int) -> MapAxis:
        """Merge every ``factor`` bins (``nbin`` must be divisible by ``factor``)."""
        if self.nbin % factor:
            raise GeometryError(
                f"axis {self.name!r}: {self.nbin} bins are not divisible by factor {factor}"
            )
        pix = np.arange(0, self.nbin + 1, factor) - 0.5
        edges = self.pix_to_coord(pix)
        return MapAxis(self.name, tuple(edges), self.unit, self.interp, "edges")

    def upsample(self, factor: int) -> MapAxis:
        """Split every bin into ``factor`` bins, uniform in the ``interp`` scale."""
        pix = np.arange(self.nbin * factor + 1) / factor - 0.5
        edges = self.pix_to_coord(pix)
        edges[::factor] = self.edges
        return MapAxis(self.name, tuple(edges), self.unit, self.interp, "edges")

    def squash(self) -> MapAxis:
        """One bin spanning the whole axis."""
        return MapAxis(self.name, (self.edges[0], self.edges[-1]), self.unit, self.interp)

    def rename(self, name: str) -> MapAxis:
        """Same axis under another dimension name."""
        return MapAxis(name, self.nodes, self.unit, self.interp, self.node_type)

    # -- xarray and serialisation --------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able description, inverse of :func:`axis_from_dict`."""
        return {
            "axis_type": self.node_type,
            "name": self.name,
            "nodes": list(self.nodes),
            "unit": self.unit,
            "interp": self.interp,
        }

    def coord_attrs(self) -> dict[str, Any]:
        """Attributes of the coordinate variable that carries this axis."""
        attrs: dict[str, Any] = {
            "units": self.unit,
            "axis_type": self.node_type,
            "interp": self.interp,
        }
        if self.node_type == "edges":
            attrs["edges"] = list(self.nodes)
        return attrs

    def to_coordinate(self) -> xr.DataArray:
        """The coordinate (bin centres) with the axis in its attributes."""
        return xr.DataArray(np.array(self.center), dims=(self.name,), attrs=self.coord_attrs())

    def __dask_tokenize__(self):
        return (type(self).__name__, self.name, self.nodes, self.unit, self.interp, self.node_type)

    def is_allclose(self, other: Any, rtol: float = 1e-9) -> bool:
        """Equal up to a relative tolerance on the nodes (e.g. after a FITS round trip)."""
        return (
            isinstance(other, MapAxis)
            and (self.name, self.unit, self.interp, self.node_type)
            == (other.name, other.unit, other.interp, other.node_type)
            and len(self.nodes) == len(other.nodes)
            and bool(np.allclose(self.nodes, other.nodes, rtol=rtol, atol=0))
        )

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class LabelAxis:
    """An axis of named bins (datasets, sources, ...).

    Examples
    --------
    >>> LabelAxis("dataset", ("crab", "pks")).coord_to_idx(["pks", "x"])
    array([ 1, -1])
    """

    name: str
    labels: tuple[str, ...]
    unit: str = field(default="", init=False)

    def __post_init__(self) -> None:
        labels = tuple(str(v) for v in np.asarray(self.labels, dtype=object).ravel())
        if not labels:
            raise GeometryError(f"label axis {self.name!r}: needs at least one label")
        if len(set(labels)) != len(labels):
            raise GeometryError(f"label axis {self.name!r}: labels must be unique, got {labels}")
        object.__setattr__(self, "labels", labels)

    @property
    def nbin(self) -> int:
        """Number of labels."""
        return len(self.labels)

    @cached_property
    def center(self) -> np.ndarray:
        """The labels as a string array."""
        return _readonly(self.labels, dtype=str)

    def coord_to_idx(self, values: Any) -> np.ndarray:
        """Index of each label, ``-1`` for unknown labels."""
        lookup = {label: i for i, label in enumerate(self.labels)}
        values = np.asarray(values, dtype=object)
        return np.array([lookup.get(str(v), -1) for v in values.ravel()], dtype=np.intp).reshape(
            values.shape
        )

    def coord_to_pix(self, values: Any) -> np.ndarray:
        """Same as :meth:`coord_to_idx`, as floats."""
        return self.coord_to_idx(values).astype(float)

    def slice(self, start: int, stop: int) -> LabelAxis:
        """Axis of labels ``start`` to ``stop - 1``."""
        return LabelAxis(self.name, self.labels[start:stop])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description."""
        return {"axis_type": "label", "name": self.name, "labels": list(self.labels)}

    def coord_attrs(self) -> dict[str, Any]:
        """Attributes of the coordinate variable."""
        return {"axis_type": "label"}

    def to_coordinate(self) -> xr.DataArray:
        """The coordinate (labels)."""
        # object dtype: variable-length strings in Zarr (fixed-width unicode has no v3 spec)
        return xr.DataArray(
            np.array(self.labels, dtype=object), dims=(self.name,), attrs=self.coord_attrs()
        )

    def __dask_tokenize__(self):
        return (type(self).__name__, self.name, self.labels)


@dataclass(frozen=True)
class TimeAxis:
    """Time intervals, possibly non-contiguous (e.g. one per good-time interval).

    Times are stored as offsets in ``unit`` from a reference MJD (integer and
    fractional part, as ``MJDREFI``/``MJDREFF``) in time scale ``scale``.

    Parameters
    ----------
    edges_min, edges_max : sequence of float
        Start and stop of each interval, relative to the reference, sorted and
        not overlapping.
    unit : str
        Time unit of the offsets.
    reference_mjd : (int, float)
        Reference time as integer and fractional MJD.
    scale : str
        Astropy time scale of the reference (``"tt"`` in GADF files).
    name : str
        Dimension name (default ``gammax.dims.TIME``).

    Examples
    --------
    >>> from astropy.time import Time
    >>> axis = TimeAxis.from_time_edges(Time([55000.0, 55002.0], format="mjd"),
    ...                                 Time([55001.0, 55003.0], format="mjd"), unit="d")
    >>> axis.coord_to_idx([0.5, 1.5, 2.5])
    array([ 0, -1,  1])
    """

    edges_min: tuple[float, ...]
    edges_max: tuple[float, ...]
    unit: str = "s"
    reference_mjd: tuple[int, float] = (51910, 7.428703703703703e-4)
    scale: str = "tt"
    name: str = _dims.TIME

    def __post_init__(self) -> None:
        lo = np.asarray(self.edges_min, dtype=float).ravel()
        hi = np.asarray(self.edges_max, dtype=float).ravel()
        if lo.size == 0 or lo.shape != hi.shape:
            raise GeometryError(
                f"time axis: got {lo.size} starts and {hi.size} stops, expected equal, >= 1"
            )
        if np.any(hi <= lo) or np.any(lo[1:] < hi[:-1]):
            raise GeometryError("time axis: intervals must be sorted, non-empty, not overlapping")
        object.__setattr__(self, "edges_min", tuple(float(v) for v in lo))
        object.__setattr__(self, "edges_max", tuple(float(v) for v in hi))
        object.__setattr__(self, "unit", unit_string(self.unit))
        mjdi, mjdf = self.reference_mjd
        object.__setattr__(self, "reference_mjd", (int(mjdi), float(mjdf)))

    @classmethod
    def from_time_edges(
        cls, time_min, time_max, reference_time=None, unit: str = "s", name: str = _dims.TIME
    ) -> TimeAxis:
        """Axis from astropy ``Time`` starts and stops (e.g. the GTIs of an observation)."""
        from astropy.time import Time

        time_min, time_max = Time(time_min), Time(time_max)
        ref = Time(time_min[0]) if reference_time is None else Time(reference_time)
        ref = ref.tt
        mjdi = int(np.floor(ref.mjd))
        mjdf = float((ref - Time(mjdi, format="mjd", scale="tt")).to_value("d"))
        ref = Time(mjdi, mjdf, format="mjd", scale="tt")
        lo = (time_min.tt - ref).to_value(unit)
        hi = (time_max.tt - ref).to_value(unit)
        return cls(
            tuple(np.atleast_1d(lo)), tuple(np.atleast_1d(hi)), unit, (mjdi, mjdf), "tt", name
        )

    from_gti = from_time_edges

    @classmethod
    def from_time_bounds(
        cls, time_min, time_max, nbin: int, unit: str = "s", name: str = _dims.TIME
    ) -> TimeAxis:
        """``nbin`` contiguous equal intervals between two times."""
        from astropy.time import Time

        time_min, time_max = Time(time_min), Time(time_max)
        span = (time_max - time_min).to_value(unit)
        edges = np.linspace(0, span, int(nbin) + 1)
        axis = cls.from_time_edges(time_min, time_min, unit=unit, name=name)
        return cls(tuple(edges[:-1]), tuple(edges[1:]), unit, axis.reference_mjd, "tt", name)

    @property
    def nbin(self) -> int:
        """Number of intervals."""
        return len(self.edges_min)

    @property
    def is_contiguous(self) -> bool:
        """Whether each interval starts where the previous stops."""
        return bool(np.all(np.asarray(self.edges_min[1:]) == np.asarray(self.edges_max[:-1])))

    @cached_property
    def center(self) -> np.ndarray:
        """Interval mid-points, relative to the reference, in ``unit``."""
        return _readonly(0.5 * (np.asarray(self.edges_min) + np.asarray(self.edges_max)))

    @property
    def bounds(self) -> np.ndarray:
        """CF bounds, shape ``(nbin, 2)``."""
        return np.stack([self.edges_min, self.edges_max], axis=1)

    @property
    def reference_time(self):
        """Reference time as an astropy ``Time``."""
        from astropy.time import Time

        return Time(self.reference_mjd[0], self.reference_mjd[1], format="mjd", scale=self.scale)

    @property
    def time_min(self):
        """Interval starts as astropy ``Time``."""
        import astropy.units as u

        return self.reference_time + np.asarray(self.edges_min) * u.Unit(self.unit)

    @property
    def time_max(self):
        """Interval stops as astropy ``Time``."""
        import astropy.units as u

        return self.reference_time + np.asarray(self.edges_max) * u.Unit(self.unit)

    def _relative(self, values: Any) -> np.ndarray:
        from astropy.time import Time

        if isinstance(values, Time):
            return np.asarray((values - self.reference_time).to_value(self.unit), dtype=float)
        return _as_values(values, self.unit, self.name)

    def coord_to_idx(self, values: Any) -> np.ndarray:
        """Index of the interval holding each time (``Time`` or offsets), else ``-1``."""
        values = self._relative(values)
        lo, hi = np.asarray(self.edges_min), np.asarray(self.edges_max)
        idx = np.searchsorted(lo, values, side="right") - 1
        safe = np.clip(idx, 0, self.nbin - 1)
        inside = (idx >= 0) & (values < hi[safe])
        return np.where(inside, idx, -1)

    def coord_to_pix(self, values: Any) -> np.ndarray:
        """Pixel coordinate: linear inside each interval, NaN between intervals."""
        values = self._relative(values)
        idx = self.coord_to_idx(values)
        safe = np.clip(idx, 0, self.nbin - 1)
        lo, hi = np.asarray(self.edges_min)[safe], np.asarray(self.edges_max)[safe]
        pix = safe + (values - lo) / (hi - lo) - 0.5
        return np.where(idx >= 0, pix, np.nan)

    def pix_to_coord(self, pix: Any) -> np.ndarray:
        """Offsets (in ``unit``) at pixel coordinates inside the intervals."""
        pix = np.asarray(pix, dtype=float)
        idx = np.clip(np.floor(pix + 0.5).astype(np.intp), 0, self.nbin - 1)
        lo, hi = np.asarray(self.edges_min)[idx], np.asarray(self.edges_max)[idx]
        return lo + (pix - idx + 0.5) * (hi - lo)

    def slice(self, start: int, stop: int) -> TimeAxis:
        """Axis of intervals ``start`` to ``stop - 1``."""
        return TimeAxis(
            self.edges_min[start:stop],
            self.edges_max[start:stop],
            self.unit,
            self.reference_mjd,
            self.scale,
            self.name,
        )

    def select(self, indices: Sequence[int]) -> TimeAxis:
        """Axis of the intervals at ``indices`` (any increasing subset)."""
        lo = [self.edges_min[i] for i in indices]
        hi = [self.edges_max[i] for i in indices]
        return TimeAxis(tuple(lo), tuple(hi), self.unit, self.reference_mjd, self.scale, self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description."""
        return {
            "axis_type": "time",
            "name": self.name,
            "edges_min": list(self.edges_min),
            "edges_max": list(self.edges_max),
            "unit": self.unit,
            "reference_mjd": list(self.reference_mjd),
            "scale": self.scale,
        }

    def coord_attrs(self) -> dict[str, Any]:
        """Attributes of the coordinate variable (mid-points are the values)."""
        return {
            "units": self.unit,
            "axis_type": "time",
            "edges_min": list(self.edges_min),
            "edges_max": list(self.edges_max),
            "reference_mjd": list(self.reference_mjd),
            "time_scale": self.scale,
            "long_name": f"time since MJD {self.reference_mjd[0] + self.reference_mjd[1]!r} "
            f"({self.scale.upper()})",
        }

    def to_coordinate(self) -> xr.DataArray:
        """The coordinate (interval mid-points)."""
        return xr.DataArray(np.array(self.center), dims=(self.name,), attrs=self.coord_attrs())

    def __dask_tokenize__(self):
        return (
            type(self).__name__,
            self.name,
            self.edges_min,
            self.edges_max,
            self.unit,
            self.reference_mjd,
            self.scale,
        )


Axis = MapAxis | LabelAxis | TimeAxis


def axis_from_dict(data: dict[str, Any]) -> Axis:
    """Rebuild an axis from :meth:`MapAxis.to_dict` and friends.

    Examples
    --------
    >>> axis = MapAxis.from_edges([1, 2, 4], name="rad")
    >>> axis_from_dict(axis.to_dict()) == axis
    True
    """
    kind = data.get("axis_type")
    if kind in ("edges", "center"):
        return MapAxis(
            data["name"],
            tuple(data["nodes"]),
            data.get("unit", ""),
            data.get("interp", "lin"),
            kind,
        )
    if kind == "label":
        return LabelAxis(data["name"], tuple(data["labels"]))
    if kind == "time":
        return TimeAxis(
            tuple(data["edges_min"]),
            tuple(data["edges_max"]),
            data["unit"],
            tuple(data["reference_mjd"]),
            data.get("scale", "tt"),
            data["name"],
        )
    raise GeometryError(
        f"unknown axis_type {kind!r}; expected 'edges', 'center', 'label' or 'time'"
    )


def axis_from_coordinate(coord: xr.DataArray) -> Axis:
    """Recover the axis of a coordinate written by :meth:`MapAxis.to_coordinate`.

    When the coordinate is a selection of the axis (after ``isel``/``sel``), the
    matching sub-axis is returned.

    Raises
    ------
    gammax.errors.GeometryError
        If the coordinate carries no axis attributes or does not match them.
    """
    name = str(coord.dims[0]) if coord.dims else str(coord.name)
    attrs = coord.attrs
    kind = attrs.get("axis_type")
    values = np.asarray(coord.values)
    if kind == "label":
        full = LabelAxis(name, tuple(values.tolist()))
        return full
    if kind == "time":
        full = TimeAxis(
            tuple(attrs["edges_min"]),
            tuple(attrs["edges_max"]),
            attrs["units"],
            tuple(attrs["reference_mjd"]),
            attrs.get("time_scale", "tt"),
            name,
        )
    elif kind == "edges":
        full = MapAxis(
            name, tuple(attrs["edges"]), attrs.get("units", ""), attrs.get("interp", "lin"), "edges"
        )
    elif kind == "center":
        return MapAxis(
            name,
            tuple(values.astype(float)),
            attrs.get("units", ""),
            attrs.get("interp", "lin"),
            "center",
        )
    else:
        raise GeometryError(
            f"coordinate {name!r} carries no gammax axis attributes (axis_type); "
            "build maps with gammax.geom so that the axis travels with the array"
        )
    centers = np.asarray(full.center)
    if values.shape == centers.shape and np.allclose(values, centers, rtol=1e-12, atol=0):
        return full
    positions = [np.flatnonzero(np.isclose(centers, v, rtol=1e-12, atol=0)) for v in values]
    if values.size == 0 or any(p.size != 1 for p in positions):
        raise GeometryError(f"coordinate {name!r} values do not match the bins in its attributes")
    index = np.array([p[0] for p in positions])
    if isinstance(full, TimeAxis):
        if np.any(np.diff(index) <= 0):
            raise GeometryError(f"time coordinate {name!r} must stay sorted")
        return full.select(index.tolist())
    if np.any(np.diff(index) != 1):
        raise GeometryError(
            f"coordinate {name!r} selects non-contiguous bins {index.tolist()}; "
            "a binned axis must stay contiguous"
        )
    return full.slice(int(index[0]), int(index[-1]) + 1)


def _parse_quantity(value: Any) -> Any:
    if isinstance(value, str):
        import astropy.units as u

        return u.Quantity(value)
    return value


def _unit_of(values: Any, unit: str | None) -> str:
    if unit is not None:
        return unit_string(unit)
    values = _parse_quantity(values)
    if hasattr(values, "unit"):
        return unit_string(values.unit)
    return ""
