"""Reduce a selection of observations into a Zarr store, as one dask graph.

:func:`reduce_observations` builds one task per observation (read, reduce,
write its group, flag it complete) and a tree reduction that stacks the
written observations, then computes the graph on the current dask scheduler
(threads by default) or on a ``distributed.Client``. Memory stays bounded by a
few observations per worker: tasks return small summaries, and the stacking
tree holds one stacked-geometry accumulator per node.

Runs are resumable: observations whose group is complete in the store are not
recomputed, and an interrupted run never leaves a group flagged complete that
is not. With ``errors="skip"`` a bad observation (corrupt file, missing HDU,
non-finite IRF values) is reported in the result and in the store's failure
report, and the rest completes; with ``errors="raise"`` (default) it stops the
run with its error. Nothing already written is lost either way.

Faults (tested on a 100-observation simulated survey, ``tests/scale``):

- a worker process that dies: ``distributed`` reruns its tasks elsewhere; a
  rerun observation task whose group was completed before the worker died
  returns the stored summary instead of rewriting it;
- an interrupted client (Ctrl-C, a killed job): rerun to resume; on the
  threaded scheduler, ``reduce_observations`` returns or raises only after
  its running tasks have stopped, so nothing keeps writing behind the caller;
- an unwritable store (read-only, disk full): :class:`~gammax.reduce.zarr_store.StoreWriteError`
  naming the store and the cause, before any work if the store is read-only;
  groups completed before are intact, and a rerun resumes.

Every run records a summary (observations done, resumed, failed, timings) in
the store (``<name>.attrs["run_summary"]`` and ``run_history``), marked
``"running"`` until the run ends.

Examples
--------
>>> result = reduce_observations(store, config, "crab.zarr")  # doctest: +SKIP
>>> result.summary()  # doctest: +SKIP
>>> stacked = result.open_stacked()  # xr.DataTree: maps/, irf/  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import numpy as np

from ..errors import GammaxError
from . import zarr_store as zs
from .config import MapReductionConfig, graph_input
from .observation import ObservationRef, observation_refs, reduce_observation
from .spectrum import SpectrumReductionConfig
from .stack import Accumulator, accumulate, combine, finalize

if TYPE_CHECKING:
    import xarray as xr

    from ..data import DataStore

__all__ = ["ReductionResult", "reduce_observations"]


@dataclass
class ReductionResult:
    """What a reduction run did: done, resumed, failed observations and timings.

    Attributes
    ----------
    done, resumed : list of int
        Observations reduced by this run, and those already complete in the store.
    failed : dict
        Observation id -> message (naming file, HDU, observation), with
        ``errors="skip"``; ``failure_details`` has error type, file and HDU apart.
    recovered : list of int
        Observations whose task was rerun (a worker was lost) and found its
        group already complete; they are also in ``done``.
    seconds, task_seconds, n_events
        Wall time of the run, time of each observation task, events binned.
    status, previous_status : str
        ``"finished"`` (or ``"interrupted"``, ``"failed"``, as stored), and the
        status the store's previous run left (``"running"``: it was killed).

    Examples
    --------
    >>> result = ReductionResult(Path("x.zarr"), "map", done=[1, 2], resumed=[3])
    >>> result.to_dict()["n_done"], result.to_dict()["n_resumed"]
    (2, 1)
    """

    path: Path
    name: str
    done: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    task_seconds: dict[int, float] = field(default_factory=dict)
    n_events: int = 0
    stacked: bool = False
    run_id: str = ""
    started: str = ""
    status: str = "finished"
    previous_status: str | None = None
    failure_details: dict[int, dict] = field(default_factory=dict)
    recovered: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The run summary as plain JSON types (what the store keeps in ``run_summary``)."""
        t = np.array(list(self.task_seconds.values()), dtype=float)
        wall = max(self.seconds, 1e-9)
        return {
            "run_id": self.run_id,
            "started": self.started,
            "status": self.status,
            "n_done": len(self.done),
            "n_resumed": len(self.resumed),
            "n_failed": len(self.failed),
            "n_recovered": len(self.recovered),
            "n_events": int(self.n_events),
            "wall_seconds": round(float(self.seconds), 3),
            "obs_per_second": round(len(self.done) / wall, 4),
            "events_per_second": round(self.n_events / wall, 1),
            "task_seconds_total": round(float(t.sum()), 3) if t.size else 0.0,
            "task_seconds_median": round(float(np.median(t)), 4) if t.size else None,
            "task_seconds_max": round(float(t.max()), 4) if t.size else None,
            "stacked": bool(self.stacked),
            "previous_status": self.previous_status,
            "done": sorted(self.done),
            "resumed": sorted(self.resumed),
            "failed": {str(k): v for k, v in sorted(self.failed.items())},
        }

    def summary(self) -> str:
        """A few lines for humans (printed at the end of a run with ``progress=True``)."""
        d = self.to_dict()
        lines = [
            f"reduction {self.name!r} -> {self.path} ({self.status})",
            f"  observations done: {d['n_done']}, already complete (resumed): "
            f"{d['n_resumed']}, failed: {d['n_failed']}",
            f"  wall time: {self.seconds:.2f} s, events: {self.n_events}, "
            f"{d['obs_per_second']:.3g} obs/s, {d['events_per_second']:.3g} events/s",
        ]
        if self.task_seconds:
            lines.append(
                f"  per-observation task: median {d['task_seconds_median']:.3f} s, "
                f"max {d['task_seconds_max']:.3f} s, total {d['task_seconds_total']:.1f} s"
            )
        if self.recovered:
            lines.append(
                f"  {len(self.recovered)} observation task(s) rerun after a lost worker found "
                "their group already complete (not rewritten)"
            )
        if self.previous_status == "running":
            lines.append("  the previous run of this dataset did not finish (resumed here)")
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
    """One task: reduce an observation, write its group, flag it complete.

    If the group is already complete, the task ran before in this run on a
    worker that died after writing it: return its stored summary, do not
    rewrite it.
    """
    t0 = time.perf_counter()
    group = zs.obs_group(name, ref.obs_id)
    done = zs.group_attrs(output, group)
    if done is not None:
        return {
            "obs_id": ref.obs_id,
            "status": "done",
            "seconds": float(done.get("gammax_task_seconds", 0.0)),
            "n_events": int(done.get("gammax_n_events", 0)),
            "recovered": True,
        }
    try:
        products = reduce_observation(ref, config)
        _check_finite(products, ref)
        datasets = products.groups
        n_events = sum(int(ds["counts"].sum()) for ds in datasets.values() if "counts" in ds)
        files = _input_files(ref)
        attrs = dict(products.attrs)
        attrs["input_files"] = files
        if checksums:
            attrs["input_sha256"] = [zs.file_checksum(f) for f in files]
        attrs["gammax_n_events"] = n_events
        attrs["gammax_task_seconds"] = round(time.perf_counter() - t0, 4)
        zs.write_datasets(output, group, datasets, attrs, obs_id=ref.obs_id)
        zs.mark_complete(output, group, obs_id=ref.obs_id)
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
            return {
                "obs_id": ref.obs_id,
                "status": "failed",
                "message": _message(err),
                "details": _details(err, ref),
                "seconds": time.perf_counter() - t0,
            }
        if isinstance(err, GammaxError):
            raise
        raise GammaxError(
            f"reduction failed ({type(err).__name__}: {err})",
            file=getattr(err, "filename", None),
            obs_id=ref.obs_id,
        ) from err


def _message(err: BaseException) -> str:
    if isinstance(err, GammaxError):
        return str(err)
    text = f"{type(err).__name__}: {err}"
    filename = getattr(err, "filename", None)
    return text if filename is None or str(filename) in text else f"{text} [file '{filename}']"


def _details(err: BaseException, ref: ObservationRef) -> dict[str, Any]:
    """Where an observation failed: error type, file, HDU, observation, message."""
    file = getattr(err, "file", None) or getattr(err, "filename", None)
    return {
        "obs_id": int(ref.obs_id),
        "error": type(err).__name__,
        "file": None if file is None else str(file),
        "hdu": getattr(err, "hdu", None),
        "message": getattr(err, "message", None) or str(err),
        "input_files": _input_files(ref),
    }


#: Which IRF HDU a map product derives from (for naming the culprit of NaN products).
_PRODUCT_SOURCES = {
    "exposure": ("aeff",),
    "background": ("bkg",),
    "exposure_irf": ("aeff",),
    "psf": ("psf", "aeff"),
    "edisp": ("edisp", "aeff"),
}


def _check_finite(products, ref: ObservationRef) -> None:
    """Refuse products with NaN or infinite values (they would poison the mosaic).

    The IRF readers already refuse non-finite IRF values; this catches what
    they cannot see (e.g. values that only become non-finite on evaluation).
    """
    from ..errors import InvalidIRFError

    for group, ds in products.groups.items():
        for var, values in ds.data_vars.items():
            if var not in _PRODUCT_SOURCES or not np.issubdtype(values.dtype, np.floating):
                continue
            bad = ~np.isfinite(values.values)
            if bad.any():
                sources = [ref.locations[t] for t in _PRODUCT_SOURCES[var] if t in ref.locations]
                where = sources[0] if sources else None
                raise InvalidIRFError(
                    f"product {group}/{var} has {int(bad.sum())} non-finite value(s) out of "
                    f"{bad.size}; check the instrument response it derives from",
                    file=None if where is None else where.path,
                    hdu=None if where is None else where.hdu,
                    obs_id=ref.obs_id,
                )


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
        Observations added per stacking task (a chain per mosaic window, see
        :mod:`gammax.reduce.mosaic`; the fan-in of the tree for 1D spectra).
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
    result = ReductionResult(
        path=Path(output),
        name=name,
        run_id=uuid.uuid4().hex[:12],
        started=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        status="running",
    )
    previous = zs.run_summary(output, name)
    result.previous_status = None if previous is None else previous.get("status")
    # the first write of the run: an unwritable store stops it before any work
    zs.record_run(output, name, result.to_dict())
    try:
        results, stacked = _run_graph(
            store,
            config,
            output,
            obs_ids,
            name,
            stack,
            errors,
            checksums,
            split_every,
            client,
            progress,
        )
    except BaseException as err:
        result.status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
        result.seconds = time.perf_counter() - t0
        with contextlib.suppress(Exception):  # the store may be what failed
            zs.record_run(output, name, result.to_dict())
        raise
    result.stacked = bool(stacked)
    failures, details = {}, {}
    for status in results:
        obs_id = int(status["obs_id"])
        if status["status"] == "done":
            result.done.append(obs_id)
            result.task_seconds[obs_id] = float(status["seconds"])
            result.n_events += int(status.get("n_events", 0))
            if status.get("recovered"):
                result.recovered.append(obs_id)
        elif status["status"] == "resumed":
            result.resumed.append(obs_id)
        else:
            result.failed[obs_id] = status["message"]
            result.failure_details[obs_id] = status.get("details", {})
            failures[str(obs_id)] = status["message"]
            details[str(obs_id)] = status.get("details", {})
    zs.record_failures(output, name, failures, details, cleared=result.done)
    result.status = "finished"
    result.seconds = time.perf_counter() - t0
    zs.record_run(output, name, result.to_dict())
    zs.consolidate(output)
    if progress:
        print(result.summary(), flush=True)
    return result


def _run_graph(
    store, config, output, obs_ids, name, stack, errors, checksums, split_every, client, progress
):
    """Build the graph (observation tasks, stacking) and compute it: (statuses, stacked)."""
    ids = store._resolve_ids(obs_ids)
    complete = zs.completed_observations(output, name)
    todo = [o for o in ids if o not in complete]
    needed = (
        ("events", "gti", "aeff", "edisp")
        if isinstance(config, SpectrumReductionConfig)
        else ("events", "gti")
    )
    refs = observation_refs(store, todo, needed=needed) if todo else []
    shared = graph_input(config)  # one key, not a copy per task (worker memory stays flat)
    statuses = {
        ref.obs_id: dask.delayed(_process_observation, pure=False)(
            ref, shared, output, name, errors, checksums, dask_key_name=f"reduce-obs-{ref.obs_id}"
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
            with zs.store_writes(output, "the stacked dataset"):
                stacked_task = stacking_graph(
                    output, name, config, all_refs, {o: statuses[o] for o in ids}, split_every
                )
        else:
            groups = [ids[i : i + split_every] for i in range(0, len(ids), split_every)]
            partial = [
                dask.delayed(_accumulate_group, pure=False)(
                    output, name, shared, group, *[statuses[o] for o in group]
                )
                for group in groups
            ]
            stacked_task = dask.delayed(_write_stacked, pure=False)(
                _tree_reduce(partial, split_every), output, name, shared
            )
    with _progress(progress, client), zs.store_writes(output, "the products"):
        return _compute(targets, stacked_task, client, progress)


def _compute(targets, stacked_task, client, progress: bool):
    """Compute the graph; when this returns or raises, none of its tasks still runs here.

    On dask's threaded scheduler the graph runs in a thread pool of its own
    that is shut down (waiting for running tasks) before returning, also on
    an error or a ``KeyboardInterrupt``: nothing keeps writing to the store
    behind the caller's back. With a client, the futures are cancelled on
    error (tasks already running on workers finish there).
    """
    if client is not None:
        futures = client.compute([targets, stacked_task])
        try:
            if progress:
                from distributed import progress as distributed_progress

                distributed_progress(futures, notebook=False)
            return client.gather(futures)
        except BaseException:
            client.cancel(futures)
            raise
    import dask.threaded
    from dask.base import get_scheduler

    default = get_scheduler(collections=[dask.delayed(targets)]) is dask.threaded.get
    if not default or dask.config.get("pool", None) is not None:
        return dask.compute(targets, stacked_task)
    from concurrent.futures import ThreadPoolExecutor

    n = dask.config.get("num_workers", None) or os.cpu_count() or 1
    pool = ThreadPoolExecutor(int(n), thread_name_prefix="gammax-reduce")
    try:
        return dask.compute(targets, stacked_task, pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
