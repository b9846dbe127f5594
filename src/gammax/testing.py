"""Helpers for testing code built on gammax: laziness checks and test data.

Examples
--------
>>> import dask.array as da
>>> x = da.ones(3)
>>> with raise_if_dask_computes():
...     y = x + 1  # building a graph computes nothing
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dask

__all__ = ["CountingScheduler", "data_path", "raise_if_dask_computes"]


class CountingScheduler:
    """A dask scheduler that counts the computes it runs and fails past a maximum.

    Parameters
    ----------
    max_computes : int
        Number of computes allowed; the next one raises ``RuntimeError``.
    """

    def __init__(self, max_computes: int = 0) -> None:
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        """Run the graph with the synchronous scheduler, counting the call."""
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(
                f"too many dask computations were scheduled: {self.total_computes} "
                f"(at most {self.max_computes} allowed)"
            )
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[CountingScheduler]:
    """Within the block, any dask compute beyond ``max_computes`` raises."""
    scheduler = CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def data_path(*parts: str) -> Path:
    """Path inside the shared real-data folder.

    The folder is ``$GAMMAX_DATA`` when set, else ``../shared/data`` seen from the
    repository (or from the current directory).

    Raises
    ------
    FileNotFoundError
        If the folder does not exist, saying where it was looked for.
    """
    candidates = []
    if os.environ.get("GAMMAX_DATA"):
        candidates.append(Path(os.environ["GAMMAX_DATA"]))
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists():
            candidates.append(parent.parent / "shared" / "data")
            break
    candidates.append(Path.cwd().parent / "shared" / "data")
    for root in candidates:
        if root.is_dir():
            return root.joinpath(*parts)
    raise FileNotFoundError(
        f"gammax test data not found; looked in {[str(c) for c in candidates]}. "
        "Set GAMMAX_DATA to the folder holding hess-dl3-dr1/, cta-1dc/, ..."
    )
