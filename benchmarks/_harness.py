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
