"""Reduce a selection of observations into a Zarr store, as one dask graph.

:func:`reduce_observations` builds one task per observation (read, reduce,
write its group, flag it complete) and a tree reduction that stacks the
written observations, then computes the graph on the current dask scheduler
(threads by default) or on a ``distributed.Client``. Memory stays bounded by a
few observations per worker: tasks return small summaries, and the stacking
tree holds one stacked-geometry accumulator per node.

Runs are resumable: observations whose group is complete in the store are not
recomputed, and an interrupted run never leaves a group flagged complete that
is not. With ``errors="skip"`` a bad observation (corrupt file, missing IRF)
is reported in the result and in the store's failure report, and the rest
completes; with ``errors="raise"`` (default) it stops the run with its error.
Nothing already written is lost either way.

Examples
--------
>>> result = reduce_observations(store, config, "crab.zarr")  # doctest: +SKIP
>>> result.summary()  # doctest: +SKIP
>>> stacked = result.open_stacked()  # xr.DataTree: maps/, irf/  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import numpy as np

from ..errors import GammaxError
from . import zarr_store as zs
from .config import MapReductionConfig
from .observation import ObservationRef, observation_refs, reduce_observation
from .spectrum import SpectrumReductionConfig
from .stack import Accumulator, accumulate, combine, finalize

if TYPE_CHECKING:
    import xarray as xr

    from ..data import DataStore

__all__ = ["ReductionResult", "reduce_observations"]


@dataclass
class ReductionResult:
    """What a reduction run did: done, resumed, failed observations and timings."""

    path: Path
    name: str
    done: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    task_seconds: dict[int, float] = field(default_factory=dict)
    n_events: int = 0
    stacked: bool = False

    def summary(self) -> str:
        """A few lines for humans."""
        lines = [
            f"reduction {self.name!r} -> {self.path}",
            f"  observations done: {len(self.done)}, already complete (resumed): "
            f"{len(self.resumed)}, failed: {len(self.failed)}",
            f"  wall time: {self.seconds:.2f} s, events: {self.n_events}",
        ]
        if self.task_seconds:
            t = np.array(list(self.task_seconds.values()))
            lines.append(
                f"  per-observation task: median {np.median(t):.3f} s, max {t.max():.3f} s"
            )
        for obs_id, message in sorted(self.failed.items()):
            lines.append(f"  failed {obs_id}: {message}")
        return "\n".join(lines)

    def open_observation(self, obs_id: int) -> xr.DataTree:
        """Lazily open one observation's products."""
        return zs.open_observation(self.path, obs_id, self.name)

    def open_stacked(self) -> xr.DataTree:
        """Lazily open the stacked products."""
        return zs.open_stacked(self.path, self.name)


def _input_files(ref: ObservationRef) -> list[str]:
    return sorted({str(loc.path) for loc in ref.locations.values()})


def _process_observation(
    ref: ObservationRef,
    config: MapReductionConfig,
    output: str,
    name: str,
    errors: str,
    checksums: bool,
) -> dict[str, Any]:
    """One task: reduce an observation, write its group, flag it complete."""
    t0 = time.perf_counter()
    group = zs.obs_group(name, ref.obs_id)
    try:
        products = reduce_observation(ref, config)
        files = _input_files(ref)
        attrs = dict(products.attrs)
        attrs["input_files"] = files
        if checksums:
            attrs["input_sha256"] = [zs.file_checksum(f) for f in files]
        datasets = products.groups
        zs.write_datasets(output, group, datasets, attrs, obs_id=ref.obs_id)
        zs.mark_complete(output, group)
        n_events = sum(int(ds["counts"].sum()) for ds in datasets.values() if "counts" in ds)
        return {
            "obs_id": ref.obs_id,
            "status": "done",
            "seconds": time.perf_counter() - t0,
            "n_events": n_events,
        }
    except zs.StoreWriteError:
        raise  # the output cannot be written: never skip, stop the run
    except Exception as err:
        if errors == "skip":
            message = str(err) if isinstance(err, GammaxError) else f"{type(err).__name__}: {err}"
            return {
                "obs_id": ref.obs_id,
                "status": "failed",
                "message": message,
                "seconds": time.perf_counter() - t0,
            }
        if isinstance(err, GammaxError):
            raise
        raise GammaxError(
            f"reduction failed ({type(err).__name__}: {err})", obs_id=ref.obs_id
        ) from err


def _accumulate_group(
    output: str, name: str, config: MapReductionConfig, obs_ids: list[int], *statuses: dict
) -> Accumulator:
    """Stack the complete observations among ``obs_ids`` (after their tasks ran)."""
    ok = {s["obs_id"] for s in statuses if s.get("status") in ("done", "resumed")}
    acc = Accumulator()
    for obs_id in obs_ids:
        if obs_id not in ok:
            continue
        acc = combine(acc, accumulate(zs.read_products(output, obs_id, name), config))
    return acc


def _combine_all(*accs: Accumulator) -> Accumulator:
    out = Accumulator()
    for acc in accs:
        out = combine(out, acc)
    return out


def _write_stacked(acc: Accumulator, output: str, name: str, config: MapReductionConfig) -> bool:
    if not acc.obs_ids:
        return False
    products = finalize(acc, config)
    group = f"{name}/stacked"
    zs.write_datasets(output, group, products.groups, dict(products.attrs))
    zs.mark_complete(output, group)
    return True


def _tree_reduce(tasks: list, split_every: int):
    while len(tasks) > 1:
        tasks = [
            dask.delayed(_combine_all)(*tasks[i : i + split_every])
            for i in range(0, len(tasks), split_every)
        ]
    return tasks[0]


@contextlib.contextmanager
def _progress(enabled: bool, client):
    if not enabled or client is not None:
        yield
        return
    from dask.diagnostics import ProgressBar

    with ProgressBar(dt=0.2):
        yield


def reduce_observations(
    store: DataStore,
    config: MapReductionConfig | SpectrumReductionConfig,
    output: str | os.PathLike,
    *,
    obs_ids=None,
    name: str = "map",
    stack: bool = True,
    errors: str = "raise",
    progress: bool = False,
    checksums: bool = True,
    overwrite: bool = False,
    split_every: int = 8,
    client=None,
) -> ReductionResult:
    """Reduce observations of a data store into a Zarr store.

    Parameters
    ----------
    store : DataStore
        Data store or selection.
    config : MapReductionConfig
        Geometry, products, masks.
    output : path-like
        Zarr store to create or resume.
    obs_ids : iterable of int, optional
        Observations (default: all of ``store``).
    name : str
        Dataset group in the store.
    stack : bool
        Also write the stacked dataset (``<name>/stacked``).
    errors : {"raise", "skip"}
        What to do with an observation that cannot be reduced.
    progress : bool
        Show a progress bar in the terminal (dask's ``ProgressBar`` on local
        schedulers, ``distributed.progress`` with a client; the distributed
        dashboard shows the same graph live).
    checksums : bool
        Record the sha256 of the input files in each observation's attrs.
    overwrite : bool
        Replace an existing dataset group reduced with another configuration.
    split_every : int
        Fan-in of the stacking tree.
    client : distributed.Client, optional
        Compute on this client instead of the current dask scheduler.

    Returns
    -------
    ReductionResult
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors={errors!r}; expected 'raise' or 'skip'")
    t0 = time.perf_counter()
    output = str(Path(output))
    zs.init_store(output, name, config.to_dict(), config.fingerprint(), overwrite=overwrite)
    ids = store._resolve_ids(obs_ids)
    complete = zs.completed_observations(output, name)
    todo = [o for o in ids if o not in complete]
    needed = (
        ("events", "gti", "aeff", "edisp")
        if isinstance(config, SpectrumReductionConfig)
        else ("events", "gti")
    )
    refs = observation_refs(store, todo, needed=needed) if todo else []
    statuses = {
        ref.obs_id: dask.delayed(_process_observation, pure=False)(
            ref, config, output, name, errors, checksums, dask_key_name=f"reduce-obs-{ref.obs_id}"
        )
        for ref in refs
    }
    for obs_id in ids:
        if obs_id in complete:
            statuses[obs_id] = {"obs_id": obs_id, "status": "resumed"}
    targets = [statuses[o] for o in ids]
    stacked_task = None
    if getattr(config, "center_on_pointing", False):
        stack = False  # no common geometry
    if stack and ids:
        if isinstance(config, MapReductionConfig):
            from .mosaic import stacking_graph

            all_refs = {r.obs_id: r for r in refs}
            missing = [o for o in ids if o not in all_refs]
            if missing:
                all_refs.update(
                    {r.obs_id: r for r in observation_refs(store, missing, needed=("events",))}
                )
            stacked_task = stacking_graph(
                output, name, config, all_refs, {o: statuses[o] for o in ids}, split_every
            )
        else:
            groups = [ids[i : i + split_every] for i in range(0, len(ids), split_every)]
            partial = [
                dask.delayed(_accumulate_group, pure=False)(
                    output, name, config, group, *[statuses[o] for o in group]
                )
                for group in groups
            ]
            stacked_task = dask.delayed(_write_stacked, pure=False)(
                _tree_reduce(partial, split_every), output, name, config
            )
    with _progress(progress, client):
        if client is not None:
            futures = client.compute([targets, stacked_task])
            if progress:
                from distributed import progress as distributed_progress

                distributed_progress(futures, notebook=False)
            computed = client.gather(futures)
        else:
            computed = dask.compute(targets, stacked_task)
    results, stacked = computed
    result = ReductionResult(path=Path(output), name=name, stacked=bool(stacked))
    failures = {}
    for status in results:
        obs_id = int(status["obs_id"])
        if status["status"] == "done":
            result.done.append(obs_id)
            result.task_seconds[obs_id] = float(status["seconds"])
            result.n_events += int(status.get("n_events", 0))
        elif status["status"] == "resumed":
            result.resumed.append(obs_id)
        else:
            result.failed[obs_id] = status["message"]
            failures[str(obs_id)] = status["message"]
    if failures:
        zs.record_failures(output, name, failures)
    zs.consolidate(output)
    result.seconds = time.perf_counter() - t0
    return result
