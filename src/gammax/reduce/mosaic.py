"""Stacking into a mosaic, window by window, with bounded memory.

The stacked dataset is written as Zarr arrays chunked in windows of
``config.stack_chunk`` pixels (on the maps grid; the coarse IRF grid gets
windows covering the same sky). For each window, the observations whose
products overlap it are added as a chain: each task takes the window's sum so
far and adds the next ``split_every`` observations (read back from the store)
as soon as they are reduced; the last writes that window's chunks only. A
task therefore holds one window's accumulator and one observation's products
at a time, and a window has one accumulator in flight, whatever the size of
the mosaic or of the archive: worker memory stays flat as the archive grows.
(A tree of partial sums, the first design, kept every finished leaf of a window
in memory until its siblings were done: on a 0.02 deg survey with 20
true-energy bins that was ~20 MB per leaf, and the workers' memory grew with
the run.) Windows no observation touches are never written (they read as zero).
"""

from __future__ import annotations

import math

import dask
import xarray as xr
import zarr

from . import zarr_store as zs
from .config import MapReductionConfig, graph_input
from .observation import (
    ObservationRef,
    irf_geometry,
    observation_geometry,
    observation_irf_geometry,
)
from .stack import Accumulator, Window, accumulate, combine, finalize_part, window_grid

__all__ = ["stacking_graph"]


def _parts(config: MapReductionConfig) -> list[str]:
    return ["maps"] + (["irf"] if {"psf", "edisp"} & set(config.products) else [])


def _grid(config: MapReductionConfig, part: str):
    return config.geom if part == "maps" else irf_geometry(config)


def _chunk(config: MapReductionConfig, part: str) -> int:
    if part == "maps":
        return int(config.stack_chunk)
    ratio = float(config.geom.pixel_scales[0]) / float(config.binsz_irf)
    return max(1, math.ceil(config.stack_chunk * ratio))


def _footprint(ref: ObservationRef, config: MapReductionConfig, part: str):
    geom, offset = (
        observation_geometry(ref, config)
        if part == "maps"
        else observation_irf_geometry(ref, config)
    )
    return tuple(offset), tuple(geom.sky_shape)


def _template(config: MapReductionConfig, part: str, chunk: int) -> xr.Dataset:
    """Full-size stacked part of lazy zeros: only metadata and coordinates get written."""
    import dask.array as da

    grid = _grid(config, part)
    arrays = {
        k: da.zeros(
            (*s, *grid.sky_shape),
            chunks=(*s, chunk, chunk),
            dtype=bool if k == "mask_safe" else float,
        )
        for k, s in _part_shapes(config, part).items()
    }
    return finalize_part(Accumulator(arrays), config, part)


def _part_shapes(config: MapReductionConfig, part: str) -> dict[str, tuple[int, ...]]:
    n_e = config.geom.axis("energy").nbin
    n_true = config.energy_axis_true.nbin
    if part == "maps":
        shapes = {"mask_safe": (n_e,)}
        if "counts" in config.products:
            shapes["counts"] = (n_e,)
        if "background" in config.products:
            shapes["background"] = (n_e,)
        if "exposure" in config.products:
            shapes["exposure"] = (n_true,)
        return shapes
    shapes = {"exposure_irf": (n_true,)}
    if "psf" in config.products:
        shapes["psf"] = (n_true, config.rad_axis.nbin)
    if "edisp" in config.products:
        second = n_e if config.edisp_type == "kernel" else config.migra_axis.nbin
        shapes["edisp"] = (n_true, second)
    return shapes


def _init_stacked(output: str, name: str, config: MapReductionConfig) -> None:
    with zs.store_writes(output, f"group {name + '/stacked'!r}"):
        _create_stacked(output, name, config)


def _create_stacked(output: str, name: str, config: MapReductionConfig) -> None:
    root = zarr.open_group(output, mode="a", use_consolidated=False)
    group = f"{name}/stacked"
    if group in root:
        del root[group]
    root.require_group(group)
    for part in _parts(config):
        chunk = _chunk(config, part)
        template = zs._storage(_template(config, part, chunk))
        encoding = {v: {"chunks": template[v].data.chunksize} for v in template.data_vars}
        with zs._quiet_consolidated():
            template.to_zarr(
                output,
                group=f"{group}/{part}",
                mode="w",
                compute=False,
                consolidated=False,
                zarr_format=3,
                encoding=encoding,
            )


def _accumulate_window(
    output: str,
    name: str,
    config: MapReductionConfig,
    part: str,
    window: Window,
    obs_ids: list[int],
    previous: Accumulator | None,
    *statuses: dict,
) -> Accumulator:
    """``previous`` (the window's sum so far) plus the complete observations among ``obs_ids``."""
    ok = {s["obs_id"] for s in statuses if s.get("status") in ("done", "resumed")}
    acc = Accumulator() if previous is None else previous
    for obs_id in obs_ids:
        if obs_id in ok:
            products = zs.read_products(output, obs_id, name, groups=("maps", part))
            acc = combine(acc, accumulate(products, config, part=part, window=window))
    return acc


def _write_window(
    acc: Accumulator, output: str, name: str, config: MapReductionConfig, part: str, window: Window
) -> bool:
    if not acc.obs_ids:
        return False
    ds = zs._storage(finalize_part(acc, config, part, window))
    where = f"window y {window.y0}:{window.y1}, x {window.x0}:{window.x1} of {name}/stacked/{part}"
    with zs.store_writes(output, where):
        root = zarr.open_group(output, mode="a", use_consolidated=False)
        node = root[f"{name}/stacked/{part}"]
        for var in ds.data_vars:
            values = ds[var].values
            node[var][..., window.y0 : window.y1, window.x0 : window.x1] = values
    return True


def _finish(output: str, name: str, statuses: list[dict], writes: list[bool]) -> dict:
    ok = sorted(int(s["obs_id"]) for s in statuses if s.get("status") in ("done", "resumed"))
    root = zarr.open_group(output, mode="a", use_consolidated=False)
    livetime = sum(float(root[zs.obs_group(name, o)].attrs.get("livetime", 0.0)) for o in ok)
    with zs.store_writes(output, f"the attributes of {name}/stacked"):
        root[f"{name}/stacked"].attrs.update(
            {"livetime": livetime, "n_obs": len(ok), "obs_ids": ok, zs.COMPLETE_FLAG: True}
        )
    return {"n_obs": len(ok), "windows_written": int(sum(writes))}


def stacking_graph(
    output: str,
    name: str,
    config: MapReductionConfig,
    refs: dict[int, ObservationRef],
    statuses: dict,
    split_every: int,
):
    """Delayed task that writes the stacked mosaic (after the observation tasks)."""
    _init_stacked(output, name, config)
    shared = graph_input(config)  # one key for every window task
    writes = []
    for part in _parts(config):
        footprints = {o: _footprint(ref, config, part) for o, ref in refs.items()}
        for window in window_grid(_grid(config, part).sky_shape, _chunk(config, part)):
            ids = [o for o, (off, shape) in footprints.items() if window.overlaps(off, shape)]
            if not ids:
                continue
            acc = None
            for i in range(0, len(ids), split_every):
                group = ids[i : i + split_every]
                acc = dask.delayed(_accumulate_window, pure=False)(
                    output, name, shared, part, window, group, acc, *[statuses[o] for o in group]
                )
            writes.append(
                dask.delayed(_write_window, pure=False)(acc, output, name, shared, part, window)
            )
    return dask.delayed(_finish, pure=False)(output, name, list(statuses.values()), writes)
