"""The likelihood: a pure function of the free-parameter vector, summed over chunks.

Datasets are split into *chunks*: one per dataset, and for a large map
dataset one per block of ``energy`` / ``y`` / ``x`` bins (``chunks={"y": 100}``).
Chunks are compiled once (:mod:`gammax.fit.chunk_map`,
:mod:`gammax.fit.chunk_1d`) and **stay where they were built**:

- local (``client=None``): in this process, in ``n_groups`` groups evaluated
  per call by dask's threaded scheduler on a graph whose inputs are the
  in-memory groups (one group: called directly);
- distributed (``client=Client(...)``): one group per worker, *built on that
  worker* by a task that reads the dataset block (lazily opened Zarr datasets
  are read by the worker itself; in-memory datasets travel once, in that task).
  The task's result stays in the worker's memory as a future pinned to it.

Per evaluation only the factor vector ``x`` travels: one small task per group
that depends on the group's future (so it runs where the data are) and
returns the group's per-chunk statistics. The per-chunk values are summed in
a fixed order on the caller's side, so local and distributed results are
identical to the last bit.

Examples
--------
>>> like = Likelihood([ds1, ds2], models)            # doctest: +SKIP
>>> like(models.free_vector())                        # -2 log L  # doctest: +SKIP
>>> with Client(LocalCluster(n_workers=2)) as client:  # doctest: +SKIP
...     like = Likelihood(datasets, models, client=client)
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .. import dims as D
from ..datasets import dataset_kind
from ..errors import ConfigError

__all__ = [
    "ChunkGroup",
    "ChunkSpec",
    "GroupActor",
    "Likelihood",
    "make_specs",
    "single_thread_blas",
]

#: What ``Likelihood`` returns where the statistic is not finite (overflowing fluxes
#: on a wild trial step): far worse than any real value, so MIGRAD and scipy step back,
#: and finite, so they do not stop on a NaN.
NONFINITE_STAT = 1e30

#: Group constructions in this process (diagnostics: proves data are not re-sent).
_BUILT = {"groups": 0, "unpickled": 0}
_LOCK = threading.Lock()


@dataclass
class ChunkSpec:
    """What one chunk is: a dataset (lazy or in memory), its block and its global index."""

    dataset: xr.Dataset
    region: tuple[slice, slice, slice] | None
    index: int

    @property
    def size(self) -> float:
        """Estimated evaluation cost (number of bins)."""
        n = float(self.dataset.counts.size) if "counts" in self.dataset else 10.0
        if self.region is not None:
            n = float(np.prod([s.stop - s.start for s in self.region]))
        return n


_CONTROLLER: list = []


def single_thread_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread (if ``threadpoolctl`` is installed): chunks are the parallelism.

    Multi-threaded OpenBLAS on the small matrix products of a chunk is slower
    by orders of magnitude on a busy machine; dask's workers already run with
    ``OPENBLAS_NUM_THREADS=1``, this does the same for local evaluation.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    with _LOCK:
        if not _CONTROLLER:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _blocks(n: int, size: int | None) -> list[slice]:
    if size is None or size >= n:
        return [slice(0, n)]
    size = int(size)
    if size < 1:
        raise ConfigError(f"chunk size must be positive, got {size}")
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def make_specs(datasets: Sequence[xr.Dataset], chunks: dict | None = None) -> list[ChunkSpec]:
    """One spec per dataset, map datasets split into blocks of ``chunks`` sizes.

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Validated gammax datasets with unique names.
    chunks : dict, optional
        Block sizes of map datasets along ``energy``, ``y``, ``x``.
    """
    names = [str(ds.attrs.get("name", "")) for ds in datasets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"dataset names must be unique in a fit; duplicated: {dup}")
    unknown = set(chunks or {}) - {D.ENERGY, D.Y, D.X}
    if unknown:
        raise ConfigError(f"chunks may split {D.ENERGY!r}, {D.Y!r}, {D.X!r}; got {sorted(unknown)}")
    specs = []
    for ds in datasets:
        kind = dataset_kind(ds)
        if kind.startswith("Map") and chunks:
            ne, ny, nx = ds.counts.shape
            for es in _blocks(ne, chunks.get(D.ENERGY)):
                for ys in _blocks(ny, chunks.get(D.Y)):
                    for xs in _blocks(nx, chunks.get(D.X)):
                        specs.append(ChunkSpec(ds, (es, ys, xs), len(specs)))
        else:
            specs.append(ChunkSpec(ds, None, len(specs)))
    return specs


def build_chunk(
    spec: ChunkSpec,
    models: Any,
    values: dict,
    cache: dict | None = None,
    free: Sequence[str] | None = None,
):
    """Compile one chunk (numpy arrays in this process).

    ``cache`` shares arrays per dataset; ``free`` (the free parameter keys)
    lets map chunks fold the sky models without free parameters into one
    constant array.
    """
    kind = dataset_kind(spec.dataset)
    if kind.startswith("Map"):
        from .chunk_map import build_map_chunk

        return build_map_chunk(spec.dataset, models, values, spec.region, cache, free)
    if kind.startswith("Spectrum"):
        from .chunk_1d import build_spectrum_chunk

        return build_spectrum_chunk(spec.dataset, models, values)
    from .chunk_1d import build_flux_points_chunk

    return build_flux_points_chunk(spec.dataset, models, values)


class ChunkGroup:
    """Chunks that live together (on one worker, or in one local thread's share).

    Parameters
    ----------
    chunks : list
        Compiled chunks.
    indices : list of int
        Their global indices (the summation order).
    space : ParameterSpace
        Maps a factor vector to ``{key: value}``.
    """

    def __init__(self, chunks: list, indices: list[int], space: Any) -> None:
        self.chunks, self.indices, self.space = chunks, list(indices), space
        with _LOCK:
            _BUILT["groups"] += 1

    def __setstate__(self, state):
        self.__dict__.update(state)
        with _LOCK:
            _BUILT["unpickled"] += 1

    def stats(self, x: np.ndarray) -> np.ndarray:
        """Per-chunk ``-2 log L`` at factor vector ``x``."""
        values = self.space.values_from_vector(x)
        # far from the data (e.g. an index of -150 on a trial step) fluxes overflow:
        # the statistic is then non-finite, and Likelihood.__call__ turns that into a
        # penalty the optimizer backs off from
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return np.array([c.stat(values) for c in self.chunks], dtype=float)

    def in_reach(self, x: np.ndarray) -> bool:
        """Whether every chunk's sources stay inside their boxes at ``x``."""
        values = self.space.values_from_vector(x)
        return all(c.in_reach(values) for c in self.chunks)

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays of the chunks (shared arrays counted once)."""
        seen: set[int] = set()

        def size(obj, depth=0) -> int:
            if id(obj) in seen or depth > 6:
                return 0
            seen.add(id(obj))
            if isinstance(obj, np.ndarray):
                return int(obj.nbytes)
            if isinstance(obj, dict):
                return sum(size(v, depth + 1) for v in obj.values())
            if isinstance(obj, list | tuple):
                return sum(size(v, depth + 1) for v in obj)
            if hasattr(obj, "__dataclass_fields__"):
                return sum(size(getattr(obj, f), depth + 1) for f in obj.__dataclass_fields__)
            return 0

        return sum(size(c) for c in self.chunks)


def _build_group(specs: list[ChunkSpec], models: Any, space: Any, values: dict) -> ChunkGroup:
    """Task body: read and compile the chunks of one group with the synchronous scheduler."""
    import dask

    cache: dict = {}
    with dask.config.set(scheduler="sync"):
        chunks = [build_chunk(s, models, values, cache, set(space.free)) for s in specs]
    return ChunkGroup(chunks, [s.index for s in specs], space)


def _group_stats(group: ChunkGroup, x: np.ndarray) -> np.ndarray:
    with single_thread_blas():
        return group.stats(x)


class GroupActor:
    """A chunk group living in a worker as a ``distributed`` actor.

    Built on the worker (:func:`_build_group` in ``__init__``); method calls go
    straight from the client to the worker, without the scheduler, so a call
    costs about a millisecond; only the factor vector travels.
    """

    def __init__(self, specs: list[ChunkSpec], models: Any, space: Any, values: dict) -> None:
        self.group = _build_group(specs, models, space, values)
        self.calls = 0

    def stats(self, x: np.ndarray) -> np.ndarray:
        """Per-chunk statistics at ``x``."""
        self.calls += 1
        return _group_stats(self.group, x)

    def in_reach(self, x: np.ndarray) -> bool:
        """See :meth:`ChunkGroup.in_reach`."""
        return self.group.in_reach(x)

    def info(self) -> dict:
        """Calls served, bytes held, and group constructions / unpicklings in this process."""
        return {"calls": self.calls, "nbytes": self.group.nbytes, **_BUILT}


def _group_in_reach(group: ChunkGroup, x: np.ndarray) -> bool:
    return group.in_reach(x)


def _balance(specs: list[ChunkSpec], n: int) -> list[list[ChunkSpec]]:
    """Assign specs to ``n`` groups, largest first to the lightest group (LPT)."""
    n = max(1, min(n, len(specs)))
    groups: list[list[ChunkSpec]] = [[] for _ in range(n)]
    load = [0.0] * n
    for spec in sorted(specs, key=lambda s: -s.size):
        i = int(np.argmin(load))
        groups[i].append(spec)
        load[i] += spec.size
    for g in groups:
        g.sort(key=lambda s: s.index)
    return [g for g in groups if g]


class Likelihood:
    """``-2 log L`` of datasets and models as a pure function of the factor vector.

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
        Gammax datasets (any types; names unique).
    models : Models
        The models; its :meth:`~gammax.models.Models.parameter_space` at
        construction fixes the free parameters and the frozen values.
    client : distributed.Client, optional
        Evaluate on this cluster (chunks built and kept on its workers).
    chunks : dict, optional
        Block sizes (``energy``, ``y``, ``x``) to split map datasets.
    n_groups : int, optional
        Number of groups (default: the workers of ``client``, else dask's
        ``num_workers`` setting or the CPU count; at most the number of chunks).
    mode : {"actors", "tasks"}
        With a client: groups live in :class:`GroupActor` objects called
        directly (default, ~1 ms per call), or are task results (futures
        pinned to their workers) that a task per group and evaluation depends
        on (visible to the scheduler and its dashboard, ~10 ms per call).

    Attributes
    ----------
    n_evaluations : int
        Calls so far.
    """

    def __init__(
        self,
        datasets: Sequence[xr.Dataset] | xr.Dataset,
        models: Any,
        client: Any = None,
        chunks: dict | None = None,
        n_groups: int | None = None,
        mode: str = "actors",
    ) -> None:
        from ..models import Models

        if mode not in ("actors", "tasks"):
            raise ConfigError(f"mode {mode!r}; expected 'actors' or 'tasks'")
        self.mode = mode

        if isinstance(datasets, xr.Dataset):
            datasets = [datasets]
        self.models = models if isinstance(models, Models) else Models(models)
        self.space = self.models.parameter_space()
        if not self.space.free:
            raise ConfigError("no free parameters: unfreeze at least one parameter to fit")
        self.x0 = self.models.free_vector()
        values = self.space.values_from_vector(self.x0)
        self.specs = make_specs(list(datasets), chunks)
        self.client = client
        self.n_evaluations = 0
        self._closed = False
        if client is not None:
            workers = sorted(client.scheduler_info()["workers"])
            if not workers:
                raise ConfigError("the distributed client has no workers")
            groups = _balance(self.specs, n_groups or len(workers))
            self.workers = [workers[i % len(workers)] for i in range(len(groups))]
            func = GroupActor if mode == "actors" else _build_group
            self._futures = [
                client.submit(
                    func,
                    g,
                    self.models,
                    self.space,
                    values,
                    workers=[w],
                    allow_other_workers=False,
                    pure=False,
                    actor=mode == "actors",
                )
                for g, w in zip(groups, self.workers, strict=True)
            ]
            from distributed import wait

            wait(self._futures)
            for f in self._futures:
                if f.status == "error":
                    f.result()  # raise the build error here
            self._actors = [f.result() for f in self._futures] if mode == "actors" else None
            self._groups = None
        else:
            import dask

            n = n_groups or dask.config.get("num_workers", None) or os.cpu_count() or 1
            groups = _balance(self.specs, n)
            self._groups = [_build_group(g, self.models, self.space, values) for g in groups]
            self._futures = None
            self._actors = None
            self.workers = []
        self._order = np.argsort(
            np.concatenate([[s.index for s in g] for g in groups]), kind="stable"
        )

    # -- evaluation ------------------------------------------------------------------
    def chunk_stats(self, x: Sequence[float]) -> np.ndarray:
        """Per-chunk ``-2 log L`` at ``x``, in chunk order."""
        x = np.asarray(x, dtype=float)
        if self._closed:
            raise ConfigError("this likelihood was closed")
        if self._actors is not None:
            calls = [a.stats(x) for a in self._actors]
            parts = [c.result() for c in calls]
        elif self._futures is not None:
            futs = [
                self.client.submit(
                    _group_stats, f, x, workers=[w], allow_other_workers=False, pure=False
                )
                for f, w in zip(self._futures, self.workers, strict=True)
            ]
            parts = self.client.gather(futs)
        elif len(self._groups) == 1:
            with single_thread_blas():
                parts = [self._groups[0].stats(x)]
        else:
            import dask.threaded

            graph = {("stats", i): (_group_stats, g, x) for i, g in enumerate(self._groups)}
            with single_thread_blas():
                parts = dask.threaded.get(graph, list(graph), num_workers=len(self._groups))
        return np.concatenate(parts)[self._order]

    def __call__(self, x: Sequence[float]) -> float:
        """``-2 log L`` (data terms summed in chunk order, plus priors) at factor vector ``x``."""
        stats = self.chunk_stats(x)
        self.n_evaluations += 1
        total = float(np.sum(stats))
        if not np.isfinite(total):
            return NONFINITE_STAT
        if self.space.priors:
            total += self.space.prior_stat_sum(self.space.values_from_vector(x))
        return total

    def in_reach(self, x: Sequence[float]) -> bool:
        """Whether every source stayed inside the boxes its chunks were built with."""
        x = np.asarray(x, dtype=float)
        if self._actors is not None:
            return all(c.result() for c in [a.in_reach(x) for a in self._actors])
        if self._futures is not None:
            futs = [self.client.submit(_group_in_reach, f, x, pure=False) for f in self._futures]
            return all(self.client.gather(futs))
        return all(g.in_reach(x) for g in self._groups)

    def worker_info(self) -> list[dict]:
        """Per group (actors mode): calls served, bytes held, constructions in its process."""
        if self._actors is None:
            raise ConfigError("worker_info needs a distributed likelihood in actors mode")
        return [c.result() for c in [a.info() for a in self._actors]]

    @property
    def n_chunks(self) -> int:
        """Number of chunks."""
        return len(self.specs)

    @property
    def group_keys(self) -> list[str]:
        """Keys of the group futures on the cluster (empty when local)."""
        return [f.key for f in self._futures] if self._futures else []

    def close(self) -> None:
        """Release the chunks (cancel the futures on the cluster)."""
        if self._futures is not None and not self._closed:
            self._actors = None
            self.client.cancel(self._futures)
        self._groups = None
        self._closed = True

    def __enter__(self) -> Likelihood:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"{len(self.workers)} workers" if self.client is not None else "local"
        return (
            f"Likelihood({len(self.space.free)} free parameters, {self.n_chunks} chunks, {where})"
        )
