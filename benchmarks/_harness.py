"""Shared harness: run contenders in fresh subprocesses, time them, sample peak memory.

Each contender is a function ``name()`` in the benchmark module that does its
imports and returns the job to time, a callable returning a dict of results. The
parent process runs ``python bench.py --one NAME`` for each contender and
repeat, so every figure comes from a clean interpreter with its own peak RSS.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable


def run_one(setup: Callable[[], Callable[[], dict]]) -> None:
    """Child side: import (untimed) with ``setup``, time the job it returns, print JSON."""
    job = setup()
    t0 = time.perf_counter()
    result = job()
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"seconds": elapsed, "peak_rss_mb": peak_mb, **result}))


def run_all(
    script: str, names: list[str], repeats: int = 3, extra: list[str] | None = None
) -> dict[str, dict]:
    """Parent side: run each contender ``repeats`` times; keep the median time."""
    out = {}
    for name in names:
        runs = []
        for _ in range(repeats):
            proc = subprocess.run(
                [sys.executable, script, "--one", name, *(extra or [])],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        best["all_seconds"] = [round(r["seconds"], 4) for r in runs]
        best["median_seconds"] = statistics.median(r["seconds"] for r in runs)
        out[name] = best
    return out


def run_with_store(
    script: str,
    contenders: list[str],
    prepare: Callable,
    factories: dict,
    prefix: str,
) -> tuple[dict[str, dict], float] | None:
    """``main()`` of a benchmark whose contenders share a prepared store (e.g. a Zarr).

    Command line: ``--one NAME --store DIR`` (child: run one contender),
    ``--store DIR`` (reuse a prepared store), ``--repeats N`` (gammax runs,
    default 3), ``--gammapy-repeats N`` (default 1), ``--only A,B``. The parent
    prepares the store once (untimed), runs every contender in fresh
    interpreters and returns ``(results, load average before the runs)``; the
    child returns None.
    """
    import argparse
    import os
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser()
    parser.add_argument("--one")
    parser.add_argument("--store")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gammapy-repeats", type=int, default=1)
    parser.add_argument("--only", help="comma-separated contenders (default: all)")
    args = parser.parse_args()
    if args.one:
        root = Path(args.store)
        run_one(lambda: factories[args.one](root))
        return None
    root = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix=prefix))
    prepare(root)
    load = os.getloadavg()[0]
    results: dict[str, dict] = {}
    for name in args.only.split(",") if args.only else contenders:
        repeats = args.gammapy_repeats if "gammapy" in name else args.repeats
        results.update(run_all(script, [name], repeats=repeats, extra=["--store", str(root)]))
    print(f"\nload average before the runs: {load:.2f} on {os.cpu_count()} cores")
    return results, load


class MemoryTrace:
    """RSS (MiB) of processes, sampled every ``interval`` s in a thread: ``(t, {name: rss})``.

    ``procs`` maps names to ``psutil.Process``, or is a callable returning such
    a dict at each sample (processes that come and go, e.g. restarted workers).
    """

    def __init__(self, procs, interval: float = 0.5) -> None:
        self.procs = procs
        self.interval = interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        t0 = time.perf_counter()
        while not self._stop.is_set():
            rss = {}
            procs = self.procs() if callable(self.procs) else self.procs
            for key, proc in procs.items():
                try:
                    rss[key] = proc.memory_info().rss / 2**20
                except psutil.Error:
                    continue
            self.samples.append((time.perf_counter() - t0, rss))
            self._stop.wait(self.interval)

    def peaks(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for _, rss in self.samples:
            for key, value in rss.items():
                out[key] = max(out.get(key, 0.0), value)
        return out

    def at_fractions(self, fractions=(0.25, 0.5, 0.75, 1.0)) -> list[list[int]]:
        """Per fraction of the run: the largest RSS of any process in the preceding 5% of it."""
        if not self.samples:
            return []
        total = self.samples[-1][0] or 1.0
        out = []
        for f in fractions:
            window = [
                rss for t, rss in self.samples if (f - 0.05) * total <= t <= f * total + 1e-9
            ] or [self.samples[-1][1]]
            keys = sorted({k for rss in window for k in rss})
            out.append([round(max(rss.get(k, 0.0) for rss in window)) for k in keys])
        return out

    def __enter__(self) -> MemoryTrace:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def local_cluster(n_workers: int, memory_limit: str):
    """The survey benchmarks' ``LocalCluster``: processes of 1 thread, ``memory_limit`` each."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit,
        dashboard_address=":0",
    )
