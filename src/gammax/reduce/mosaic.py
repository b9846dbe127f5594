"""Stacking into a mosaic, window by window, with bounded memory.

The stacked dataset is written as Zarr arrays chunked in windows of
``config.stack_chunk`` pixels (on the maps grid; the coarse IRF grid gets
windows covering the same sky). For each window, the observations whose
products overlap it are summed as a tree (``split_every`` at a time) and the
result is written into that window's chunks only. A task therefore holds one
window's accumulator and one observation's products at a time, whatever the
size of the mosaic or of the archive; windows no observation touches are never
written (they read as zero).
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
    *statuses: dict,
) -> Accumulator:
    ok = {s["obs_id"] for s in statuses if s.get("status") in ("done", "resumed")}
    acc = Accumulator()
    for obs_id in obs_ids:
        if obs_id in ok:
            products = zs.read_products(output, obs_id, name, groups=("maps", part))
            acc = combine(acc, accumulate(products, config, part=part, window=window))
    return acc


def _combine_all(*accs: Accumulator) -> Accumulator:
    out = Accumulator()
    for acc in accs:
        out = combine(out, acc)
    return out


def _write_window(
    acc: Accumulator, output: str, name: str, config: MapReductionConfig, part: str, window: Window
) -> bool:
    if not acc.obs_ids:
        return False
    ds = zs._storage(finalize_part(acc, config, part, window))
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
    group = root[f"{name}/stacked"]
    group.attrs.update(
        {"livetime": livetime, "n_obs": len(ok), "obs_ids": ok, zs.COMPLETE_FLAG: True}
    )
    return {"n_obs": len(ok), "windows_written": int(sum(writes))}


def _tree(tasks: list, split_every: int):
    while len(tasks) > 1:
        tasks = [
            dask.delayed(_combine_all, pure=False)(*tasks[i : i + split_every])
            for i in range(0, len(tasks), split_every)
        ]
    return tasks[0]


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
            leaves = [
                dask.delayed(_accumulate_window, pure=False)(
                    output,
                    name,
                    shared,
                    part,
                    window,
                    ids[i : i + split_every],
                    *[statuses[o] for o in ids[i : i + split_every]],
                )
                for i in range(0, len(ids), split_every)
            ]
            writes.append(
                dask.delayed(_write_window, pure=False)(
                    _tree(leaves, split_every), output, name, shared, part, window
                )
            )
    return dask.delayed(_finish, pure=False)(output, name, list(statuses.values()), writes)
