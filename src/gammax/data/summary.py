"""Human-readable summaries of data stores (``gammax info``)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from .. import dims as D

if TYPE_CHECKING:
    from .store import DataStore

__all__ = ["store_summary"]


def _fmt_range(values: np.ndarray, unit: str = "") -> str:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "n/a"
    suffix = f" {unit}" if unit else ""
    return f"{values.min():.4g} .. {values.max():.4g}{suffix}"


def store_summary(store: DataStore) -> str:
    """Observation summary of a store: counts, targets, pointing, livetime, HDU classes."""
    obs = store.obs_table
    lines = [f"Data store: {store.root}", f"Observations: {len(store)}"]
    if len(store):
        ids = store.obs_ids
        lines.append(f"  obs_id range: {ids.min()} .. {ids.max()}")
    for name in ("OBJECT", "TARGET_NAME"):
        if name in obs:
            counts = Counter(str(v) for v in obs[name].values)
            top = ", ".join(f"{k} ({n})" for k, n in counts.most_common(8))
            lines.append(f"  targets ({name}): {top}")
            break
    for name, label in (
        ("RA_PNT", "RA pointing"),
        ("DEC_PNT", "Dec pointing"),
        ("ZEN_PNT", "zenith"),
        ("LIVETIME", "livetime per obs"),
    ):
        if name in obs:
            unit = obs[name].attrs.get("units", "")
            lines.append(f"  {label}: {_fmt_range(obs[name].values, unit)}")
    if "LIVETIME" in obs:
        total = float(np.nansum(obs["LIVETIME"].values)) / 3600.0
        lines.append(f"  total livetime: {total:.2f} h")
    if "EVENT_COUNT" in obs:
        lines.append(f"  events: {int(np.nansum(obs['EVENT_COUNT'].values))}")
    classes = Counter(
        f"{t}:{c}"
        for o, t, c in zip(
            store.hdu_table["OBS_ID"].values,
            store.hdu_table["HDU_TYPE"].values,
            store.hdu_table["HDU_CLASS"].values,
            strict=True,
        )
        if int(o) in set(store.obs_ids.tolist())
    )
    lines.append("HDUs: " + ", ".join(f"{k} ({n})" for k, n in sorted(classes.items())))
    columns = [v for v in obs.data_vars if obs[v].dims == (D.OBS_ID,)]
    lines.append(f"Observation table columns: {', '.join(columns)}")
    return "\n".join(lines)
