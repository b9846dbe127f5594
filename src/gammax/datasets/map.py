"""Map datasets (3D: reconstructed energy x sky pixels): construction, Zarr input, cutouts.

A ``MapDataset`` is an :class:`xarray.Dataset` with

- ``counts``, ``background``, ``mask_safe``, ``mask_fit`` on ``(energy, y, x)``;
- ``exposure`` on ``(energy_true, y, x)`` (``m2 s``);
- the IRF maps on their coarse grid: ``psf`` ``(energy_true, rad, irf_y, irf_x)``
  (``sr-1``, normalised over ``rad``), ``edisp`` ``(energy_true, energy, irf_y,
  irf_x)`` (a kernel: each true-energy row sums to the fraction reconstructed
  inside the energy axis) and ``exposure_irf`` ``(energy_true, irf_y, irf_x)``;
  their geometry is the scalar coordinate ``irf_geom``.

``MapDatasetOnOff`` replaces ``background`` by ``counts_off``, ``acceptance``
and ``acceptance_off``. Both are validated against
:data:`gammax.datasets.SCHEMAS`.

Examples
--------
>>> from gammax.datasets import MapDataset
>>> ds = MapDataset.from_zarr("crab.zarr", "map/stacked")  # doctest: +SKIP
>>> ds.counts.dims  # doctest: +SKIP
('energy', 'y', 'x')
>>> irf = irf_maps(ds)  # psf, edisp, exposure_irf on their own geometry  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, FormatError
from ..geom import GEOM_COORD
from .schema import IRF_GEOM, IRF_X, IRF_Y, KIND_ATTR, SCHEMAS, Schema, validate

__all__ = [
    "DatasetType",
    "MapDataset",
    "MapDatasetOnOff",
    "fit_mask",
    "irf_maps",
    "poisson",
]

_IRF_VARS = ("psf", "edisp", "exposure_irf")


class DatasetType:
    """Base of the thin dataset-type namespaces: a schema and pure functions, no state."""

    kind: ClassVar[str] = ""

    @classmethod
    def schema(cls) -> Schema:
        """The declared schema of this type."""
        return SCHEMAS[cls.kind]

    @classmethod
    def validate(cls, ds: xr.Dataset) -> xr.Dataset:
        """Validate ``ds`` as this type (see :func:`gammax.datasets.validate`)."""
        return validate(ds, cls.kind)

    @classmethod
    def is_instance(cls, ds: Any) -> bool:
        """Whether ``ds`` is declared as this type."""
        return isinstance(ds, xr.Dataset) and ds.attrs.get(KIND_ATTR) == cls.kind


def fit_mask(ds: xr.Dataset) -> xr.DataArray | None:
    """``mask_safe & mask_fit`` (whichever exist), or None if the dataset has neither."""
    masks = [ds[n] for n in ("mask_safe", "mask_fit") if n in ds.data_vars]
    if not masks:
        return None
    out = masks[0].astype(bool)
    for m in masks[1:]:
        out = out & m.astype(bool)
    return out


def _to_irf_dims(da: xr.DataArray) -> xr.DataArray:
    """A map on the coarse grid with sky dims renamed and its ``geom`` coord dropped."""
    out = da.rename({D.Y: IRF_Y, D.X: IRF_X})
    return out.drop_vars([c for c in (GEOM_COORD,) if c in out.coords])


def irf_maps(ds: xr.Dataset) -> xr.Dataset:
    """The IRF maps of a map dataset as gammax maps on their own geometry.

    Returns a Dataset with ``psf``, ``edisp``, ``exposure_irf`` (those present)
    on dims ``y``/``x`` and the ``geom`` coordinate of the coarse grid, so
    ``irf_maps(ds).psf.gx.geom`` works.
    """
    names = [n for n in _IRF_VARS if n in ds.data_vars]
    if not names:
        raise ConfigError(f"dataset {ds.attrs.get('name', '')!r} has no IRF maps ({_IRF_VARS})")
    out = ds[names].drop_vars(
        [
            c
            for c in ds[names].coords
            if c not in (IRF_Y, IRF_X, IRF_GEOM) and c not in ds[names].dims
        ]
    )
    out = out.rename({IRF_Y: D.Y, IRF_X: D.X, IRF_GEOM: GEOM_COORD})
    return out


def _check_same_axis(a: xr.DataArray, b: xr.DataArray, dim: str, what: str) -> None:
    if dim in a.coords and dim in b.coords:
        ea, eb = a.coords[dim].attrs.get("edges"), b.coords[dim].attrs.get("edges")
        if ea is not None and eb is not None and not np.allclose(ea, eb, rtol=1e-9):
            raise ConfigError(f"{what}: the {dim!r} axes differ")


def _as_map(value: Any, name: str, like: xr.DataArray | None) -> xr.DataArray:
    if isinstance(value, xr.DataArray):
        return value.rename(name)
    if like is None:
        raise ConfigError(f"{name!r} must be a gammax map (xarray.DataArray), got {type(value)}")
    return like.copy(data=np.broadcast_to(np.asarray(value), like.shape).copy()).rename(name)


class MapDataset(DatasetType):
    """Namespace of the ``MapDataset`` type: ``create``, ``from_zarr``, ``cutout``, ``fake``."""

    kind = "MapDataset"
    _own = ("background",)

    @classmethod
    def create(
        cls,
        counts: xr.DataArray,
        exposure: xr.DataArray,
        background: xr.DataArray | None = None,
        psf: xr.DataArray | None = None,
        edisp: xr.DataArray | None = None,
        exposure_irf: xr.DataArray | None = None,
        mask_safe: Any = None,
        mask_fit: Any = None,
        name: str = "",
        attrs: dict | None = None,
        **extra: xr.DataArray,
    ) -> xr.Dataset:
        """A validated dataset from gammax maps (numpy or dask).

        Parameters
        ----------
        counts : DataArray
            Counts map ``(energy, y, x)``.
        exposure : DataArray
            Exposure ``(energy_true, y, x)`` in an area-times-time unit.
        background : DataArray, optional
            Background counts ``(energy, y, x)``.
        psf, edisp, exposure_irf : DataArray, optional
            IRF maps on one coarse WCS grid (dims ``y``, ``x``).
        mask_safe, mask_fit : DataArray or bool array, optional
            Masks like ``counts``.
        name : str
            Dataset name (models refer to it, e.g. ``FoVBackgroundModel(name)``).
        attrs : dict, optional
            More JSON-able attributes (livetime, obs ids, ...).

        Examples
        --------
        >>> import numpy as np
        >>> from gammax.geom import MapAxis, WcsGeom
        >>> e = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 2)
        >>> et = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 3, name="energy_true")
        >>> geom = WcsGeom.create(skydir=(0, 0), npix=5, binsz=0.1, axes=[e])
        >>> counts = geom.wrap(np.zeros(geom.shape), name="counts")
        >>> exposure = geom.to_image().to_cube([et]).wrap(np.ones((3, 5, 5)), unit="m2 s")
        >>> ds = MapDataset.create(counts, exposure, name="toy")
        >>> ds.attrs["gammax_dataset"], ds.counts.dims
        ('MapDataset', ('energy', 'y', 'x'))
        """
        maps = {"counts": counts, "exposure": exposure}
        if background is not None:
            maps["background"] = background
        maps.update(extra)
        for key, mask in (("mask_safe", mask_safe), ("mask_fit", mask_fit)):
            if mask is not None:
                maps[key] = _as_map(mask, key, counts).astype(bool)
        data = {k: _as_map(v, k, counts) for k, v in maps.items()}
        irf = {
            k: v
            for k, v in (("psf", psf), ("edisp", edisp), ("exposure_irf", exposure_irf))
            if v is not None
        }
        for key, value in irf.items():
            _check_same_axis(value, exposure, D.ENERGY_TRUE, key)
            data[key] = _to_irf_dims(value.rename(key))
        ds = xr.Dataset(data)
        if irf:
            first = next(iter(irf.values()))
            ds = ds.assign_coords({IRF_GEOM: first.coords[GEOM_COORD].variable})
        ds.attrs.update(dict(attrs or {}))
        ds.attrs.update({KIND_ATTR: cls.kind, "name": str(name)})
        return validate(ds, cls.kind)

    @classmethod
    def from_zarr(
        cls, path: str | os.PathLike, group: str = "map/stacked", name: str | None = None
    ) -> xr.Dataset:
        """Open a dataset of a reduction store lazily (dask arrays; nothing is read).

        Parameters
        ----------
        path : path-like
            Zarr store written by :func:`gammax.reduce.reduce_observations`.
        group : str
            Group holding ``maps/`` (and optionally ``irf/``): ``"map/stacked"`` or
            ``"map/obs/<obs_id>"``.
        name : str, optional
            Dataset name; default the group's last part (``"stacked"``, the obs id).
        """
        maps = _open_group(path, f"{group}/maps")
        try:
            irf = _open_group(path, f"{group}/irf")
        except FileNotFoundError:
            irf = None
        attrs = _group_attrs(path, group)
        kwargs: dict[str, Any] = {n: maps[n] for n in maps.data_vars}
        if irf is not None:
            kwargs.update({n: irf[n] for n in irf.data_vars if n in _IRF_VARS})
        counts, exposure = kwargs.pop("counts", None), kwargs.pop("exposure", None)
        if counts is None or exposure is None:
            raise FormatError(
                f"group {group!r} has no counts/exposure maps (it has {list(maps.data_vars)})",
                file=path,
            )
        name = group.rstrip("/").split("/")[-1] if name is None else name
        attrs.update({"source": str(path), "group": group})
        return cls.create(counts, exposure, name=name, attrs=attrs, **kwargs)

    @classmethod
    def cutout(cls, ds: xr.Dataset, position: Any, width: Any, name: str | None = None):
        """The pixels of ``ds`` within a square of ``width`` (deg) around ``position``.

        IRF maps keep the coarse pixels that cover the cutout (plus one on each
        side). Works lazily on dask-backed datasets.
        """
        geom = ds.counts.gx.geom
        slices = geom.cutout_slices(position, width, mode="trim")
        out = ds.isel(slices)
        if IRF_GEOM in ds.coords:
            irf_geom = irf_maps(ds).gx.geom
            image = out.counts.gx.geom.to_image()
            corners_x = np.array([-0.5, image.npix[0] - 0.5])
            corners_y = np.array([-0.5, image.npix[1] - 0.5])
            xx, yy = np.meshgrid(corners_x, corners_y)
            lon, lat = image.pix_to_world(xx.ravel(), yy.ravel())
            px, py = irf_geom.world_to_pix(lon, lat, image.frame)
            nx, ny = irf_geom.npix
            x0 = max(int(np.floor(np.min(px) + 0.5)) - 1, 0)
            x1 = min(int(np.floor(np.max(px) + 0.5)) + 2, nx)
            y0 = max(int(np.floor(np.min(py) + 0.5)) - 1, 0)
            y1 = min(int(np.floor(np.max(py) + 0.5)) + 2, ny)
            out = out.isel({IRF_X: slice(x0, x1), IRF_Y: slice(y0, y1)})
        if name is not None:
            out = out.assign_attrs(name=str(name))
        return validate(out, ds.attrs[KIND_ATTR])

    @classmethod
    def fake(cls, ds: xr.Dataset, npred: Any, seed: int | None = 0) -> xr.Dataset:
        """A copy with ``counts`` drawn from Poisson(``npred``) (computes ``npred``)."""
        return ds.assign(counts=poisson(ds.counts, npred, seed)).assign_attrs(fake_seed=seed)


class MapDatasetOnOff(MapDataset):
    """Namespace of ``MapDatasetOnOff``: ON counts, OFF counts and acceptances (WStat)."""

    kind = "MapDatasetOnOff"

    @classmethod
    def create(  # type: ignore[override]
        cls,
        counts: xr.DataArray,
        exposure: xr.DataArray,
        counts_off: xr.DataArray,
        acceptance: Any,
        acceptance_off: Any,
        **kwargs: Any,
    ) -> xr.Dataset:
        """A validated ON/OFF map dataset (other arguments as :meth:`MapDataset.create`)."""
        extra = {
            "counts_off": _as_map(counts_off, "counts_off", counts),
            "acceptance": _as_map(acceptance, "acceptance", counts).astype(float),
            "acceptance_off": _as_map(acceptance_off, "acceptance_off", counts).astype(float),
        }
        for key in extra:
            extra[key].attrs.setdefault("units", "")
        return super().create(counts, exposure, **extra, **kwargs)

    @classmethod
    def from_ring(
        cls,
        ds: xr.Dataset,
        r_in: float,
        width: float,
        exclusion: xr.DataArray | None = None,
        name: str = "ring",
    ) -> xr.Dataset:
        """ON/OFF dataset of a map dataset with the ring background method.

        The OFF counts and acceptances come from
        :func:`gammax.reduce.background.ring_background` on the safe pixels of
        ``ds`` (ring of inner radius ``r_in`` and ``width`` in deg, leaving out
        the pixels where ``exclusion`` is False); exposure and IRF maps are
        those of ``ds``. Lazy on dask-backed datasets.

        Examples
        --------
        >>> on_off = MapDatasetOnOff.from_ring(ds, r_in=0.5, width=0.3)  # doctest: +SKIP
        """
        from ..reduce.background import ring_background

        ring = ring_background(
            ds.counts.where(ds.mask_safe, 0),
            ds.background.where(ds.mask_safe, 0),
            r_in=r_in,
            width=width,
            exclusion=exclusion,
            mask_safe=ds.mask_safe,
        )
        irf = irf_maps(ds)
        return cls.create(
            ds.counts,
            ds.exposure,
            ring.counts_off,
            ring.acceptance,
            ring.acceptance_off,
            mask_safe=ring.mask_safe,
            name=name,
            **{k: irf[k] for k in ("psf", "edisp", "exposure_irf") if k in irf},
        )

    @classmethod
    def fake(  # type: ignore[override]
        cls, ds: xr.Dataset, npred_signal: Any, npred_background: Any, seed: int | None = 0
    ) -> xr.Dataset:
        """ON counts ~ Poisson(signal + background), OFF ~ Poisson(background / alpha)."""
        rng = np.random.default_rng(seed)
        sig, bkg = np.asarray(npred_signal, float), np.asarray(npred_background, float)
        alpha = np.asarray(ds.acceptance, float) / np.asarray(ds.acceptance_off, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            off_mu = np.where(alpha > 0, bkg / alpha, 0.0)
        on = ds.counts.copy(data=rng.poisson(sig + bkg).astype(float))
        off = ds.counts_off.copy(data=rng.poisson(off_mu).astype(float))
        return ds.assign(counts=on, counts_off=off).assign_attrs(fake_seed=seed)


def poisson(like: xr.DataArray, npred: Any, seed: int | None) -> xr.DataArray:
    """Poisson draws of ``npred`` (computed) as a float array labelled like ``like``."""
    mu = np.asarray(getattr(npred, "values", npred), dtype=float)
    if mu.shape != like.shape:
        raise ConfigError(f"npred of shape {mu.shape} does not match counts {like.shape}")
    if np.any(mu < 0) or not np.all(np.isfinite(mu)):
        raise ConfigError("npred must be finite and non-negative to draw Poisson counts")
    rng = np.random.default_rng(seed)
    return like.copy(data=rng.poisson(mu).astype(float))


@contextlib.contextmanager
def _quiet_zarr():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        yield


def _open_group(path: str | os.PathLike, group: str) -> xr.Dataset:
    import zarr

    with _quiet_zarr():
        try:
            return xr.open_zarr(str(path), group=group, consolidated=False)
        except (FileNotFoundError, KeyError, zarr.errors.GroupNotFoundError) as err:
            raise FileNotFoundError(f"no group {group!r} in store {path}") from err


def _group_attrs(path: str | os.PathLike, group: str) -> dict:
    import zarr

    with _quiet_zarr():
        root = zarr.open_group(str(path), mode="r", use_consolidated=False)
        attrs = dict(root[group].attrs)
    keep = {}
    for key, value in attrs.items():
        if isinstance(value, str | int | float | bool) or (
            isinstance(value, list) and all(isinstance(v, str | int | float) for v in value)
        ):
            keep[key] = value
    return keep
