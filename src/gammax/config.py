"""Configuration through :mod:`dask.config`, never through module globals.

Defaults live under the ``gammax`` namespace and can be overridden with
``dask.config.set``, a YAML file in a dask config directory, or the environment
(``DASK_GAMMAX__EVENTS__CHUNK_ROWS=500000``).

Examples
--------
>>> import dask
>>> with dask.config.set({"gammax.events.chunk_rows": 1000}):
...     get("events.chunk_rows")
1000
"""

from __future__ import annotations

from typing import Any

import dask.config

__all__ = ["DEFAULTS", "get"]

DEFAULTS: dict[str, Any] = {
    "gammax": {
        "events": {
            # Rows of an EVENTS table per dask chunk; an observation with more
            # rows is split into several chunks.
            "chunk_rows": 1_000_000,
        },
        "io": {
            # Threads used to read FITS headers when a store is opened.
            "header_threads": 8,
        },
    }
}

dask.config.update_defaults(DEFAULTS)


def get(key: str) -> Any:
    """Value of ``gammax.<key>`` in the current dask configuration."""
    return dask.config.get(f"gammax.{key}")
