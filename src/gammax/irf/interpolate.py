"""Interpolation of binned IRF tables at arbitrary coordinates, lazily.

One mechanism serves every IRF: multilinear interpolation on the bin centres
(nodes), with each axis interpolated in its own scale (``log`` for energies,
``lin`` otherwise; the coordinate attr ``interp_scale``) and the values in the
table's scale (``log`` for backgrounds; the variable attr ``interp_scale``). This
is the interpolation prescribed by the GADF specification and implemented by
Gammapy, so results agree with Gammapy's ``IRF.evaluate``.

Extrapolation is always explicit, through ``extrapolate``:

``"raise"`` (default)
    A coordinate outside an axis' bin edges raises
    :class:`~gammax.errors.ExtrapolationError` (when the values are computed).
``"fill"``
    Outside the bin edges, and wherever the result is not finite, the result is
    ``fill_value`` (default 0). This is Gammapy's behaviour for table IRFs.
``"extrapolate"``
    Linear extrapolation (in the scaled space) from the outermost nodes.
``"clip"``
    Coordinates are clipped to the outermost bin edges first.

Between the outermost node (bin centre) and the outermost bin edge, values are
always extrapolated linearly from the last two nodes: that range is covered by
the table's bins, so this is not an extrapolation beyond the data.

Axes with a single bin are not interpolated along (their value is constant
across the bin), as in Gammapy.

The evaluation is an :func:`xarray.apply_ufunc` over broadcast coordinates: with
dask-backed coordinates or a dask-backed table the result is a lazy dask array,
chunked like the coordinates.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from scipy.interpolate import RegularGridInterpolator

from .. import dims as D
from ..errors import ExtrapolationError
from ..units import to_dataarray

__all__ = ["EXTRAPOLATE_MODES", "axis_edges", "interpolate"]

EXTRAPOLATE_MODES = ("raise", "fill", "extrapolate", "clip")


def axis_edges(irf: xr.Dataset, dim: str) -> np.ndarray:
    """Bin edges of an IRF axis, from its CF bounds variable.

    Contiguous bins give ``n + 1`` edges; the outer range is what counts for
    extrapolation checks.
    """
    bounds_name = irf[dim].attrs.get("bounds", D.bounds_name(dim))
    bounds = np.asarray(irf[bounds_name].values)
    return np.concatenate([bounds[:, 0], bounds[-1:, 1]])


def _log_tiny(dtype: np.dtype) -> float:
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype if dtype.kind == "f" else np.float32).tiny)


def _scale(values: np.ndarray, scale: str, tiny: float) -> np.ndarray:
    if scale == "log":
        return np.log(np.clip(values, tiny, np.inf))
    return values


def _inverse_scale(values: np.ndarray, scale: str, tiny: float) -> np.ndarray:
    if scale == "log":
        with np.errstate(over="ignore"):
            out = np.exp(values)
        return np.where(np.abs(out) - tiny <= tiny, 0.0, out)
    return values


def _scale_coord(x: np.ndarray, scale: str) -> np.ndarray:
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)
    return x


def _interp_kernel(
    *args: np.ndarray,
    nodes: tuple[np.ndarray, ...],
    edges: tuple[np.ndarray, ...],
    scales: tuple[str, ...],
    values_scale: str,
    tiny: float,
    mode: str,
    fill_value: float,
    method: str,
    clip_negative: bool,
    names: tuple[str, ...],
    units: tuple[str, ...],
    fill_groups: tuple[tuple[int, ...], ...],
    plan: tuple[tuple[int, ...], ...],
    context: dict,
) -> np.ndarray:
    *points, table = args
    ndim = len(nodes)
    table = np.asarray(table)
    table = table.reshape(table.shape[-ndim:]) if ndim else table.reshape(())
    # xarray hands the points over broadcastable, not broadcast: keep it that way
    points = [np.asarray(p, dtype=float) for p in points]
    shape = np.broadcast_shapes(*[p.shape for p in points])

    out_axes = []
    for name, unit, p, e in zip(names, units, points, edges, strict=True):
        with np.errstate(invalid="ignore"):
            out_axis = ~(p >= e[0]) | (p > e[-1])
        if mode == "raise" and out_axis.any():
            bad = p[out_axis]
            raise ExtrapolationError(
                f"{int(out_axis.sum())} {name} coordinate(s) outside the IRF axis range "
                f"[{e[0]:.6g}, {e[-1]:.6g}] {unit} (e.g. {bad.flat[0]:.6g}); pass "
                f"extrapolate='fill', 'clip' or 'extrapolate' to allow it",
                **context,
            )
        out_axes.append(out_axis)
    if mode == "clip":
        points = [np.clip(p, e[0], e[-1]) for p, e in zip(points, edges, strict=True)]

    values = _scale(table.astype(np.float64, copy=False), values_scale, tiny)
    scaled_points = [_scale_coord(p, s) for p, s in zip(points, scales, strict=True)]
    scaled_nodes = [_scale_coord(n, s) for n, s in zip(nodes, scales, strict=True)]
    if method == "linear":
        result = _separable_linear(values, scaled_nodes, scaled_points, shape, plan)
    else:
        result = _grid_interpolate(values, scaled_nodes, scaled_points, shape, method)
    result = _inverse_scale(result, values_scale, tiny)
    if clip_negative:
        result = np.clip(result, 0, np.inf)
    if mode == "fill":
        outside = np.zeros(shape, dtype=bool)
        for group in fill_groups:
            outside = outside | functools.reduce(np.logical_and, [out_axes[i] for i in group])
        result = np.where(outside | ~np.isfinite(result), fill_value, result)
    if result.shape != shape:
        result = np.broadcast_to(result, shape).copy()
    return result


def _separable_linear(
    values: np.ndarray,
    nodes: list[np.ndarray],
    points: list[np.ndarray],
    shape: tuple,
    plan: tuple[tuple[int, ...], ...],
) -> np.ndarray:
    """Multilinear interpolation (linear extrapolation) as successive small steps.

    Multilinear interpolation is separable: interpolating along one table axis
    (or a few axes at once) at a time gives the numbers of
    :class:`scipy.interpolate.RegularGridInterpolator` (up to rounding), but a
    step only touches the broadcast shape of the points it has seen. ``plan``
    (from :func:`_interpolation_plan`) says which axes go together (those whose
    points depend on the same dims, e.g. ``fov_lon`` and ``fov_lat`` of every
    sky pixel) and in which order; it is fixed before chunking, so chunked and
    eager evaluations give bit-identical results.
    """
    lead = len(shape)
    pts = [p.reshape((1,) * (lead - p.ndim) + p.shape) for p in points]
    remaining = list(range(len(nodes)))
    current = values.reshape((1,) * lead + values.shape)
    for group in plan:
        positions = [lead + remaining.index(i) for i in group]
        current = np.moveaxis(current, positions, range(lead, lead + len(group)))
        remaining = list(group) + [i for i in remaining if i not in group]
        active = [i for i in group if nodes[i].size > 1]
        sizes = [nodes[i].size for i in group]
        flat = current.reshape(
            (*current.shape[:lead], int(np.prod(sizes)), *current.shape[lead + len(group) :])
        )
        strides = dict(zip(group, np.cumprod([1, *sizes[::-1]])[:-1][::-1], strict=True))
        weights = {i: _axis_weights(nodes[i], pts[i]) for i in active}
        rest = flat.ndim - lead - 1
        out = None
        for corner in np.ndindex(*(2,) * len(active)):
            index = 0
            weight = 1.0
            for i, c in zip(active, corner, strict=True):
                i0, w = weights[i]
                index = index + (i0 + c) * strides[i]
                weight = weight * (w if c else 1 - w)
            index = np.asarray(index)
            index = (
                index.reshape(index.shape + (1,) * (lead - index.ndim))
                if index.ndim
                else index.reshape((1,) * lead)
            )
            index_shape = index.shape + (1,) + (1,) * rest
            taken = np.take_along_axis(flat, index.reshape(index_shape), axis=lead)
            with np.errstate(invalid="ignore"):
                term = taken * np.reshape(weight, np.shape(weight) + (1,) * (1 + rest))
            out = term if out is None else out + term
        current = out[(slice(None),) * lead + (0,)]
        remaining = remaining[len(group) :]
    return current


def _interpolation_plan(
    point_dims: list[tuple[str, ...]], sizes: dict[str, int], node_sizes: list[int]
) -> tuple[tuple[int, ...], ...]:
    """Groups of table axes interpolated together, in order (see :func:`_separable_linear`).

    Axes whose points depend on the same dims form a group; groups go in the
    order that keeps intermediate arrays smallest, judged on the full sizes.
    """
    by_dims: dict[frozenset, list[int]] = {}
    for i, dims in enumerate(point_dims):
        by_dims.setdefault(frozenset(dims), []).append(i)
    pending = [tuple(g) for g in by_dims.values()]
    seen: set[str] = set()
    remaining = set(range(len(point_dims)))
    plan = []
    while pending:

        def cost(group, seen=frozenset(seen), remaining=frozenset(remaining)):
            dims = seen | set().union(*(point_dims[i] for i in group))
            out = int(np.prod([sizes[d] for d in dims])) if dims else 1
            rest = int(np.prod([node_sizes[i] for i in remaining if i not in group]))
            return (out * rest, group)

        group = min(pending, key=cost)
        pending.remove(group)
        plan.append(group)
        seen |= set().union(*(point_dims[i] for i in group))
        remaining -= set(group)
    return tuple(plan)


def _axis_weights(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower node index and weight of the upper node (linear extrapolation at the ends)."""
    if x.size == 1:
        return np.zeros(p.shape, dtype=np.intp), np.zeros(p.shape)
    finite = np.isfinite(p)
    safe = np.where(finite, p, x[0])
    i0 = np.clip(np.searchsorted(x, safe, side="right") - 1, 0, x.size - 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(finite, (safe - x[i0]) / (x[i0 + 1] - x[i0]), np.nan)
    return i0, w


def _grid_interpolate(
    values: np.ndarray,
    nodes: list[np.ndarray],
    points: list[np.ndarray],
    shape: tuple,
    method: str,
) -> np.ndarray:
    """Any other method through scipy's RegularGridInterpolator (points broadcast)."""
    include = [len(n) > 1 for n in nodes]
    if not any(include):
        return np.full(shape, values.reshape(-1)[0] if values.size else np.nan)
    squeeze_axes = tuple(i for i, inc in enumerate(include) if not inc)
    values = values.reshape([s for i, s in enumerate(values.shape) if i not in squeeze_axes])
    grid = [n for n, inc in zip(nodes, include, strict=True) if inc]
    interp = RegularGridInterpolator(
        grid, values, method=method, bounds_error=False, fill_value=None
    )
    flat = np.stack(
        [np.broadcast_to(p, shape).ravel() for p, inc in zip(points, include, strict=True) if inc],
        axis=-1,
    )
    with np.errstate(invalid="ignore"):
        return interp(flat).reshape(shape)


def interpolate(
    irf: xr.Dataset,
    var: str,
    coords: Mapping[str, Any],
    *,
    extrapolate: str = "raise",
    fill_value: float = 0.0,
    method: str = "linear",
    clip_negative: bool = True,
    fill_groups: tuple[tuple[str, ...], ...] | None = None,
) -> xr.DataArray:
    """Evaluate an IRF variable at coordinates, by interpolation on its bins.

    Parameters
    ----------
    irf : xarray.Dataset
        IRF as read by :func:`gammax.io.read_irf` (coordinates with CF bounds).
    var : str
        Data variable to interpolate, e.g. ``"aeff"``.
    coords : mapping of dim name -> DataArray, Quantity, array or number
        Where to evaluate. DataArrays broadcast by dimension name; a bare 1-D
        array or Quantity gets the axis' own dim name (so several of them give an
        outer product); bare numbers and arrays are taken in the axis' unit,
        Quantities are converted. A dim of ``var`` not given (or ``None``) is
        evaluated on the IRF's own bin centres.
    extrapolate : {"raise", "fill", "extrapolate", "clip"}
        What to do outside the bin edges; see the module docstring.
    fill_value : float
        Value used by ``extrapolate="fill"``.
    method : {"linear", "nearest"}
        Interpolation method.
    clip_negative : bool
        Clip results at zero (IRFs are non-negative), as Gammapy does.
    fill_groups : tuple of tuples of dim names, optional
        For ``extrapolate="fill"``: a point is filled when, for some group, it is
        outside the bins of every axis of the group. The default (one group per
        axis) fills when any coordinate is outside. Gammapy's energy dispersion
        uses ``(("energy_true", "migra"), ("offset",))``.

    Returns
    -------
    xarray.DataArray
        Values with the broadcast dims of the coordinates and ``attrs["units"]``
        of the variable; lazy if any input is a dask array.

    Examples
    --------
    >>> import astropy.units as u, xarray as xr
    >>> energy = xr.DataArray([1.0, 10.0], dims="energy_true", attrs={"units": "TeV"})
    >>> interpolate(aeff, "aeff", {"energy_true": energy, "offset": 0.5 * u.deg})  # doctest: +SKIP
    """
    if extrapolate not in EXTRAPOLATE_MODES:
        raise ValueError(f"extrapolate={extrapolate!r}; expected one of {EXTRAPOLATE_MODES}")
    table = irf[var]
    unknown = set(coords) - set(table.dims)
    if unknown:
        raise ValueError(f"{var} has no axis {sorted(unknown)}; its axes are {list(table.dims)}")
    points = []
    for dim in table.dims:
        unit = irf[dim].attrs.get("units", "")
        value = coords.get(dim)
        if value is None:
            value = irf[dim]
        points.append(to_dataarray(value, unit, dim=dim, name=dim))

    core = [f"_{dim}_node" for dim in table.dims]
    values = table.rename(dict(zip(table.dims, core, strict=True))).reset_coords(drop=True)
    values = values.drop_vars(list(values.coords))
    context = {
        "file": irf.attrs.get("source_file"),
        "hdu": irf.attrs.get("source_hdu"),
        "obs_id": irf.attrs.get("obs_id"),
    }
    kwargs = {
        "nodes": tuple(np.asarray(irf[dim].values, dtype=float) for dim in table.dims),
        "edges": tuple(axis_edges(irf, dim) for dim in table.dims),
        "scales": tuple(irf[dim].attrs.get("interp_scale", "lin") for dim in table.dims),
        "values_scale": table.attrs.get("interp_scale", "lin"),
        "tiny": _log_tiny(table.dtype),
        "mode": extrapolate,
        "fill_value": float(fill_value),
        "method": method,
        "clip_negative": clip_negative,
        "names": tuple(table.dims),
        "units": tuple(irf[dim].attrs.get("units", "") for dim in table.dims),
        "plan": _interpolation_plan(
            [tuple(p.dims) for p in points],
            {d: n for p in points for d, n in p.sizes.items()},
            [irf[dim].size for dim in table.dims],
        ),
        "fill_groups": tuple(
            tuple(table.dims.index(d) for d in group)
            for group in (fill_groups or tuple((d,) for d in table.dims))
        ),
        "context": context,
    }
    result = xr.apply_ufunc(
        _interp_kernel,
        *points,
        values,
        input_core_dims=[[]] * len(points) + [core],
        output_core_dims=[[]],
        dask="parallelized",
        output_dtypes=[np.float64],
        kwargs=kwargs,
        keep_attrs=True,  # keeps the coordinates' units; result attrs are set below
    )
    result.attrs = {"units": table.attrs.get("units", "")}
    return result.rename(var)
