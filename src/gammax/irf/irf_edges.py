"""Small helpers on IRF bin edges shared by the IRF modules."""

from __future__ import annotations

import numpy as np

from ..io.irf_table import edges_from_nodes

__all__ = ["upper_edge_nodes"]


def upper_edge_nodes(bounds: np.ndarray, scale: str = "lin") -> tuple[np.ndarray, np.ndarray]:
    """Nodes at the upper bin edges and the bounds around them.

    This is the axis of a cumulative sum along ``bounds`` (Gammapy's
    ``MapAxis.from_nodes(edges[1:])``).
    """
    nodes = np.asarray(bounds, dtype=float)[:, 1]
    edges = edges_from_nodes(nodes, scale)
    return nodes, np.stack([edges[:-1], edges[1:]], axis=-1)
