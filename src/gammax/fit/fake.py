"""Fake data: Poisson counts drawn from the predicted counts of models.

Examples
--------
>>> faked = fake(dataset, models, seed=1)   # doctest: +SKIP
>>> faked.attrs["fake_seed"]                # doctest: +SKIP
1
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr

from ..datasets import (
    MapDataset,
    MapDatasetOnOff,
    SpectrumDataset,
    SpectrumDatasetOnOff,
    dataset_kind,
)
from ..errors import ConfigError
from .npred import npred, npred_signal

__all__ = ["fake"]


def fake(
    ds: xr.Dataset,
    models: Any,
    seed: int | None = 0,
    values: Mapping[str, float] | None = None,
    npred_background_off: Any = None,
) -> xr.Dataset:
    """A copy of ``ds`` with counts drawn from the models' predicted counts.

    Parameters
    ----------
    ds : xarray.Dataset
        Map or spectrum dataset (on/off too).
    models : Models
        The models (at ``values``, default their current values).
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`.
    npred_background_off : array, optional
        On/off datasets only: the true background in the ON region (default:
        ``alpha * counts_off``); OFF counts are drawn from it divided by alpha.
    """
    kind = dataset_kind(ds)
    if kind in ("MapDataset", "SpectrumDataset"):
        mu = npred(ds, models, values).values
        cls = MapDataset if kind == "MapDataset" else SpectrumDataset
        return cls.fake(ds, mu, seed)
    if kind in ("MapDatasetOnOff", "SpectrumDatasetOnOff"):
        sig = npred_signal(ds, models, values).values
        if npred_background_off is None:
            alpha = (ds.acceptance / ds.acceptance_off).values
            npred_background_off = alpha * ds.counts_off.values
        cls = MapDatasetOnOff if kind == "MapDatasetOnOff" else SpectrumDatasetOnOff
        return cls.fake(ds, sig, npred_background_off, seed)
    raise ConfigError(f"cannot fake a {kind}")
