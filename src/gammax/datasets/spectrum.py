"""Spectrum datasets (1D, reconstructed energy) and flux points.

``SpectrumDataset``: ``counts``, ``background``, ``mask_safe``, ``mask_fit`` on
``energy``; ``exposure`` on ``energy_true`` (``m2 s``); ``edisp`` on
``(energy_true, energy)`` (each row the probability of reconstructing a
photon of that true energy in each energy bin).

``SpectrumDatasetOnOff``: ``counts_off``, ``acceptance`` and
``acceptance_off`` replace ``background`` (WStat profiles the background).

``FluxPointsDataset``: ``dnde`` with errors (``dnde_err`` or
``dnde_errn``/``dnde_errp``), optional upper limits, on an ``energy`` dim of
reference energies with ``energy_min`` / ``energy_max`` variables.

Examples
--------
>>> import numpy as np
>>> from gammax.geom import MapAxis
>>> e = MapAxis.from_energy_bounds("1 TeV", "10 TeV", 4)
>>> et = MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", 8, name="energy_true")
>>> ds = SpectrumDataset.create(np.zeros(4), np.ones(8), e, et, name="toy")
>>> ds.edisp.sum("energy").shape   # diagonal response by default
(8,)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..errors import ConfigError, FormatError
from ..geom import MapAxis
from .map import DatasetType, poisson
from .schema import KIND_ATTR, validate

__all__ = [
    "FluxPointsDataset",
    "SpectrumDataset",
    "SpectrumDatasetOnOff",
    "diagonal_edisp",
    "energy_axis",
]


def energy_axis(ds: xr.Dataset | xr.DataArray, dim: str = D.ENERGY) -> MapAxis:
    """The :class:`~gammax.geom.MapAxis` of an energy dim of a dataset."""
    from ..geom import axis_from_coordinate

    return axis_from_coordinate(ds.coords[dim])


def _axis_from_bounds(ds: xr.Dataset, dim: str) -> MapAxis:
    """The energy axis of a reduction-store spectrum (CF bounds coordinate, log bins)."""
    bounds = ds.coords[D.bounds_name(dim)]
    edges = np.append(bounds.values[:, 0], bounds.values[-1, 1]).astype(float)
    return MapAxis.from_energy_edges(edges, unit=bounds.attrs.get("units", "TeV"), name=dim)


def diagonal_edisp(energy_true: MapAxis, energy: MapAxis) -> np.ndarray:
    """A perfect-resolution kernel: each true bin goes to the bin holding its centre.

    Rows whose centre lies outside the reconstructed axis are zero.
    """
    out = np.zeros((energy_true.nbin, energy.nbin))
    centers = np.asarray(energy_true.center) * _factor(energy_true.unit, energy.unit)
    idx = np.searchsorted(np.asarray(energy.edges), centers, side="right") - 1
    ok = (idx >= 0) & (idx < energy.nbin)
    out[np.nonzero(ok)[0], idx[ok]] = 1.0
    return out


def _factor(unit: str, target: str) -> float:
    import astropy.units as u

    return float(u.Unit(unit).to(u.Unit(target)))


def _var(values: Any, dims: tuple[str, ...], unit: str, shape: tuple[int, ...], name: str):
    data = values.data if isinstance(values, xr.DataArray) else np.asarray(values)
    if tuple(data.shape) != shape:
        raise ConfigError(f"{name!r} has shape {tuple(data.shape)}, expected {shape} for {dims}")
    return xr.Variable(dims, data, attrs={"units": unit})


class SpectrumDataset(DatasetType):
    """Namespace of the ``SpectrumDataset`` type."""

    kind = "SpectrumDataset"

    @classmethod
    def _build(
        cls,
        arrays: dict[str, Any],
        energy: MapAxis,
        energy_true: MapAxis,
        name: str,
        attrs: dict | None,
    ) -> xr.Dataset:
        if energy.name != D.ENERGY or energy_true.name != D.ENERGY_TRUE:
            raise ConfigError(
                f"axes must be named {D.ENERGY!r} and {D.ENERGY_TRUE!r}, got "
                f"{energy.name!r} and {energy_true.name!r}"
            )
        ne, nt = energy.nbin, energy_true.nbin
        layout = {
            "counts": ((D.ENERGY,), ""),
            "background": ((D.ENERGY,), ""),
            "counts_off": ((D.ENERGY,), ""),
            "acceptance": ((D.ENERGY,), ""),
            "acceptance_off": ((D.ENERGY,), ""),
            "mask_safe": ((D.ENERGY,), ""),
            "mask_fit": ((D.ENERGY,), ""),
            "exposure": ((D.ENERGY_TRUE,), "m2 s"),
            "edisp": ((D.ENERGY_TRUE, D.ENERGY), ""),
        }
        sizes = {D.ENERGY: ne, D.ENERGY_TRUE: nt}
        data = {}
        for key, value in arrays.items():
            if value is None:
                continue
            dims, unit = layout[key]
            if key == "exposure" and isinstance(value, xr.DataArray):
                unit = value.attrs.get("units", unit)
            var = _var(value, dims, unit, tuple(sizes[d] for d in dims), key)
            if key.startswith("mask"):
                var = var.astype(bool)
            elif var.dtype.kind in "iub":
                var = var.astype(float)
            data[key] = var
        if "edisp" not in data:
            data["edisp"] = xr.Variable(
                (D.ENERGY_TRUE, D.ENERGY), diagonal_edisp(energy_true, energy), {"units": ""}
            )
        coords = {D.ENERGY: energy.to_coordinate(), D.ENERGY_TRUE: energy_true.to_coordinate()}
        ds = xr.Dataset(data, coords=coords)
        ds.attrs.update(dict(attrs or {}))
        ds.attrs.update({KIND_ATTR: cls.kind, "name": str(name)})
        return validate(ds, cls.kind)

    @classmethod
    def create(
        cls,
        counts: Any,
        exposure: Any,
        energy: MapAxis,
        energy_true: MapAxis,
        edisp: Any = None,
        background: Any = None,
        mask_safe: Any = None,
        mask_fit: Any = None,
        name: str = "",
        attrs: dict | None = None,
    ) -> xr.Dataset:
        """A validated spectrum dataset from arrays and the two energy axes.

        ``exposure`` is in ``m2 s`` unless a DataArray says otherwise; without
        ``edisp`` the response is diagonal (:func:`diagonal_edisp`).
        """
        arrays = {
            "counts": counts,
            "exposure": exposure,
            "edisp": edisp,
            "background": background,
            "mask_safe": mask_safe,
            "mask_fit": mask_fit,
        }
        return cls._build(arrays, energy, energy_true, name, attrs)

    @classmethod
    def from_zarr(
        cls, path: Any, group: str = "spectrum/stacked", name: str | None = None
    ) -> xr.Dataset:
        """Open a 1D dataset of a reduction store (lazy: dask arrays, nothing read).

        Parameters
        ----------
        path : path-like
            Zarr store written by :func:`gammax.reduce.reduce_observations` with a
            :class:`~gammax.reduce.SpectrumReductionConfig`.
        group : str
            Group holding ``spectrum/``: ``"<name>/stacked"`` or
            ``"<name>/obs/<obs_id>"`` (``<name>`` is the ``name`` given to the
            reduction).
        name : str, optional
            Dataset name; default the group's last part (``"stacked"``, the obs id).

        Returns
        -------
        xarray.Dataset
            A ``SpectrumDatasetOnOff`` when the group has OFF counts and this is
            called on :class:`SpectrumDatasetOnOff`; otherwise a ``SpectrumDataset``
            (ON counts only, no background). The group's attrs (obs id, live time,
            ``time_start``/``time_stop`` MJD, safe thresholds, ...) are kept.

        Raises
        ------
        gammax.errors.FormatError
            If the group holds no spectrum, or OFF counts are asked for and missing.

        Examples
        --------
        >>> ds = SpectrumDatasetOnOff.from_zarr("crab.zarr", "spectrum/obs/23523")  # doctest: +SKIP
        >>> float(ds.alpha.mean())  # doctest: +SKIP
        0.2
        """
        from .map import _group_attrs, _open_group

        try:
            spec = _open_group(path, f"{group}/spectrum")
        except FileNotFoundError as err:
            raise FormatError(f"no 1D spectrum in group {group!r}", file=path) from err
        attrs = _group_attrs(path, group)
        attrs.update({"source": str(path), "group": group})
        name = group.rstrip("/").split("/")[-1] if name is None else name
        energy = _axis_from_bounds(spec, D.ENERGY)
        energy_true = _axis_from_bounds(spec, D.ENERGY_TRUE)
        arrays: dict[str, Any] = {
            key: spec[key]
            for key in ("counts", "exposure", "edisp", "mask_safe", "mask_fit")
            if key in spec
        }
        if cls.kind == "SpectrumDatasetOnOff":
            missing = {"counts_off", "acceptance", "acceptance_off"} - set(spec.data_vars)
            if missing:
                raise FormatError(
                    f"group {group!r} has no {sorted(missing)}: reduce with an OFF-region "
                    "background (background='reflected' or 'wobble')",
                    file=path,
                )
            for key in ("counts_off", "acceptance", "acceptance_off"):
                arrays[key] = spec[key]
        return cls._build(arrays, energy, energy_true, name, attrs)

    @classmethod
    def from_ogip(cls, pha_path: Any, name: str | None = None) -> xr.Dataset:
        """Read an OGIP PHA file with its ARF, RMF (and BKG): see :func:`read_ogip`."""
        from .ogip import read_ogip

        return read_ogip(pha_path, name=name)

    @classmethod
    def to_ogip(cls, ds: xr.Dataset, directory: Any, overwrite: bool = False) -> dict[str, Any]:
        """Write OGIP PHA/ARF/RMF(/BKG) files: see :func:`write_ogip`."""
        from .ogip import write_ogip

        return write_ogip(ds, directory, overwrite=overwrite)

    @classmethod
    def fake(cls, ds: xr.Dataset, npred: Any, seed: int | None = 0) -> xr.Dataset:
        """A copy with Poisson(``npred``) counts."""
        return ds.assign(counts=poisson(ds.counts, npred, seed)).assign_attrs(fake_seed=seed)


class SpectrumDatasetOnOff(SpectrumDataset):
    """Namespace of the ``SpectrumDatasetOnOff`` type (WStat)."""

    kind = "SpectrumDatasetOnOff"

    @classmethod
    def create(  # type: ignore[override]
        cls,
        counts: Any,
        counts_off: Any,
        exposure: Any,
        energy: MapAxis,
        energy_true: MapAxis,
        acceptance: Any = 1.0,
        acceptance_off: Any = 1.0,
        edisp: Any = None,
        mask_safe: Any = None,
        mask_fit: Any = None,
        name: str = "",
        attrs: dict | None = None,
    ) -> xr.Dataset:
        """A validated ON/OFF spectrum dataset; ``alpha = acceptance / acceptance_off``."""
        ne = energy.nbin
        arrays = {
            "counts": counts,
            "counts_off": counts_off,
            "acceptance": np.broadcast_to(np.asarray(acceptance, float), (ne,)),
            "acceptance_off": np.broadcast_to(np.asarray(acceptance_off, float), (ne,)),
            "exposure": exposure,
            "edisp": edisp,
            "mask_safe": mask_safe,
            "mask_fit": mask_fit,
        }
        return cls._build(arrays, energy, energy_true, name, attrs)

    @classmethod
    def fake(  # type: ignore[override]
        cls, ds: xr.Dataset, npred_signal: Any, npred_background: Any, seed: int | None = 0
    ) -> xr.Dataset:
        """ON ~ Poisson(signal + background), OFF ~ Poisson(background / alpha)."""
        from .map import MapDatasetOnOff

        return MapDatasetOnOff.fake.__func__(cls, ds, npred_signal, npred_background, seed)


class FluxPointsDataset(DatasetType):
    """Namespace of the ``FluxPointsDataset`` type (chi2 against ``dnde``)."""

    kind = "FluxPointsDataset"

    @classmethod
    def create(
        cls,
        energy_ref: Any,
        dnde: Any,
        dnde_err: Any = None,
        dnde_errn: Any = None,
        dnde_errp: Any = None,
        energy_min: Any = None,
        energy_max: Any = None,
        is_ul: Any = None,
        dnde_ul: Any = None,
        unit: str = "cm-2 s-1 TeV-1",
        energy_unit: str = "TeV",
        name: str = "",
    ) -> xr.Dataset:
        """A validated flux-points dataset from arrays (``dnde`` in ``unit``).

        Examples
        --------
        >>> ds = FluxPointsDataset.create([1.0, 3.0], [1e-11, 1e-12], dnde_err=[1e-12, 1e-13])
        >>> ds.dnde.attrs["units"]
        'cm-2 s-1 TeV-1'
        """
        e_ref = np.atleast_1d(np.asarray(energy_ref, float))
        n = e_ref.size
        if energy_min is None or energy_max is None:
            edges = np.sqrt(e_ref[1:] * e_ref[:-1]) if n > 1 else np.array([])
            lo = np.concatenate([[e_ref[0] ** 2 / edges[0] if n > 1 else e_ref[0] / 2], edges])
            hi = np.concatenate([edges, [e_ref[-1] ** 2 / edges[-1] if n > 1 else 2 * e_ref[0]]])
            energy_min = lo if energy_min is None else energy_min
            energy_max = hi if energy_max is None else energy_max
        data = {
            "dnde": (D.ENERGY, np.asarray(dnde, float), {"units": unit}),
            "energy_min": (D.ENERGY, np.asarray(energy_min, float), {"units": energy_unit}),
            "energy_max": (D.ENERGY, np.asarray(energy_max, float), {"units": energy_unit}),
        }
        for key, value in (
            ("dnde_err", dnde_err),
            ("dnde_errn", dnde_errn),
            ("dnde_errp", dnde_errp),
            ("dnde_ul", dnde_ul),
        ):
            if value is not None:
                data[key] = (D.ENERGY, np.asarray(value, float), {"units": unit})
        if is_ul is not None:
            data["is_ul"] = (D.ENERGY, np.asarray(is_ul, bool), {"units": ""})
        if dnde_err is None and (dnde_errn is None or dnde_errp is None):
            raise ConfigError("flux points need dnde_err, or both dnde_errn and dnde_errp")
        coords = {D.ENERGY: (D.ENERGY, e_ref, {"units": energy_unit})}
        ds = xr.Dataset(data, coords=coords, attrs={KIND_ATTR: cls.kind, "name": str(name)})
        return validate(ds, cls.kind)

    @classmethod
    def from_table(cls, table: Any, name: str = "") -> xr.Dataset:
        """From a GADF SED table (``e_ref``, ``dnde``, ``dnde_err`` ... columns, astropy)."""
        import astropy.units as u

        def col(key, unit):
            if key not in table.colnames:
                return None
            return u.Quantity(table[key]).to_value(unit)

        unit = "cm-2 s-1 TeV-1"
        return cls.create(
            col("e_ref", "TeV"),
            col("dnde", unit),
            col("dnde_err", unit),
            col("dnde_errn", unit),
            col("dnde_errp", unit),
            col("e_min", "TeV"),
            col("e_max", "TeV"),
            None if "is_ul" not in table.colnames else np.asarray(table["is_ul"], bool),
            col("dnde_ul", unit),
            name=name,
        )
